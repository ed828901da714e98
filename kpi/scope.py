"""The one scope policy: what a viewer may see of each table, declared once, rendered as SQL
that every engine runs (DuckDB as it is, Spark after `kpi.engines.to_spark_sql`).

An engine opens the stored tables under source names of its own (`SOURCE`), registers the
policy's helper tables (`ScopePolicy.helper_rows`: the allowed values of each restricted
dimension, and the pseudonym key), and creates a view with each table's name from
`ScopePolicy.select`:

- **rows**: a table carrying a restricted dimension keeps the allowed values only; a table
  that carries none but hangs off one (an audit's QA row, a run's rejected rows) keeps the rows
  whose owner is visible (`TablePolicy.within`);
- **golden answers** (`TablePolicy.reference`): a vendor-restricted role sees no other vendor,
  the platform's own `internal` one included (its decisions, its ingest runs, its raters). The
  one exception is the reference its raters are judged against: a golden calibration rating
  (`is_golden`, whoever stored it) is kept when one of the role's vendors' raters rated the
  same session item, and it shows only what makes it a reference (session, date, workflow,
  item, label, policy, `is_golden`): its vendor, rater, run and times read as empty. So
  accuracy against the golden answer works for the role's raters while `internal` appears as
  a vendor nowhere (filters, KPI tables, freshness, alerts, ingest runs, counts);
- **columns**: for roles that may not see people, reviewer and rater ids become keyed
  pseudonyms (`'r-' || left(md5(key || id), 8)`, the key read from a helper table so it never
  appears in query text) and free text a person wrote or that holds a row's raw content
  (comments, rejected rows, warning values) is hidden;
- **file paths** (`TablePolicy.paths`): for every restricted role (a vendor, workflow or
  market scope, or no reviewer access) an ingested file reads as its name without the
  server's directories, and in a run's error text every word's directories are left out
  (`/data/in/x.csv: bad` -> `x.csv: bad`; a slash in other words goes too: `a/b` -> `b`);
  unrestricted roles see full paths;
- **plausible times** (`PLAUSIBILITY`): a row whose required time lies outside the plausible
  range is left out, an optional one reads as empty, as today's ingest would load them (see
  `kpi.gateway` for when this is checked).

Only this module writes scope conditions; column lists come from the engine (each table's
stored columns), so the views are plain `SELECT col, ..., expr AS col FROM src WHERE ...`,
portable to both dialects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bpo_kpi.config import Config
from bpo_kpi.keys import KEY_ENV, pseudonym_key
from kpi.query import Scope

if TYPE_CHECKING:
    import pandas as pd

Mask = Literal["pseudonym", "hidden"]
PathMask = Literal["name", "text"]
Treatment = Literal["drop", "empty", "orphan"]


@dataclass(frozen=True)
class Reference:
    """Rows a vendor-restricted role sees although none of its vendors owns them, because its
    own rows are judged against them (golden answers). A row is a reference when `flag` is
    true; it is kept when a row of an allowed vendor (not itself a reference) has the same
    `key` values, in `among` (an earlier, already scoped view; None: the table itself), and
    shows only the `shown` columns (every other reads as empty: its vendor never shows)."""

    flag: str
    key: tuple[str, ...]
    shown: tuple[str, ...]
    among: str | None = None


@dataclass(frozen=True)
class TablePolicy:
    """How one table is scoped."""

    dims: Mapping[str, str] = field(default_factory=dict)  # restricted dimension -> column
    within: str | None = None  # with any restriction: a condition tying it to a scoped table
    masks: Mapping[str, Mask] = field(default_factory=dict)  # for roles that may not see people
    plausibility: tuple[tuple[str, Treatment], ...] = ()
    reference: Reference | None = None  # with a vendor restriction
    # For every restricted role: `name` (a file path: its name only) or `text` (free text that
    # may name files: each word's directories left out).
    paths: Mapping[str, PathMask] = field(default_factory=dict)


_DECISION_DIMS = {"vendor": "vendor", "workflow": "workflow", "market": "market"}
_CAL_DIMS = {"vendor": "vendor", "workflow": "workflow"}
_AUDIT_WITHIN = "audit_id IN (SELECT audit_id FROM audit_facts)"
_RUN_WITHIN = "run_id IN (SELECT run_id FROM ingest_runs)"
# Golden answers: the reference of calibration accuracy (kpi.calibration), per session item.
_GOLDEN_SHOWN = ("session_id", "session_date", "workflow", "item_id", "label", "policy",
                 "is_golden")  # fmt: skip
_GOLDEN = Reference("is_golden", ("session_id", "item_id"), _GOLDEN_SHOWN)
_FILE: dict[str, PathMask] = {"file": "name"}
# Regular expressions (RE2 and Java alike; SQL literals) of a path's directories: the whole
# prefix up to the last separator, and each word's (a word ends at a space, quote or paren).
_DIRECTORIES = r"^.*[/\\]"
_WORD_DIRECTORIES = r"""[^ ''"`(]*[/\\]"""

# Every table a reader may query, in the order views are made (a `within` names an earlier one).
POLICY: dict[str, TablePolicy] = {
    "decisions": TablePolicy(
        _DECISION_DIMS,
        masks={"reviewer_id": "pseudonym"},
        plausibility=(
            ("enqueued_at", "drop"),
            ("decided_at", "drop"),
            ("claimed_at", "empty"),
            ("due_at", "empty"),
            ("updated_at", "empty"),
        ),
    ),  # fmt: skip
    "audit_facts": TablePolicy(
        _DECISION_DIMS,
        masks={"reviewer_id": "pseudonym", "comment": "hidden"},
        plausibility=(
            ("audited_at", "drop"),
            ("enqueued_at", "orphan"),
            ("decided_at", "orphan"),
            ("due_at", "empty"),
            ("disputed_at", "empty"),
            ("dispute_resolved_at", "empty"),
        ),
    ),  # fmt: skip
    "qa_audits": TablePolicy(
        within=_AUDIT_WITHIN,
        masks={"comment": "hidden"},
        plausibility=(
            ("audited_at", "drop"),
            ("disputed_at", "empty"),
            ("dispute_resolved_at", "empty"),
            ("updated_at", "empty"),
        ),
    ),
    "calibration_ratings": TablePolicy(
        _CAL_DIMS,
        masks={"rater_id": "pseudonym"},
        plausibility=(("session_date", "drop"), ("updated_at", "empty")),
        reference=_GOLDEN,
    ),
    "decisions_history": TablePolicy(_DECISION_DIMS, masks={"reviewer_id": "pseudonym"}),
    "qa_audits_history": TablePolicy(within=_AUDIT_WITHIN, masks={"comment": "hidden"}),
    "calibration_ratings_history": TablePolicy(
        _CAL_DIMS,
        masks={"rater_id": "pseudonym"},
        reference=Reference(_GOLDEN.flag, _GOLDEN.key, _GOLDEN.shown, among="calibration_ratings"),
    ),
    "edits_after_audit": TablePolicy(_DECISION_DIMS),
    "ingest_runs": TablePolicy(
        {"vendor": "vendor"}, paths={"file": "name", "mapping": "name", "error": "text"}
    ),
    "rejected_rows": TablePolicy(within=_RUN_WITHIN, masks={"raw": "hidden"}, paths=_FILE),
    "ingest_warnings": TablePolicy(within=_RUN_WITHIN, masks={"value": "hidden"}, paths=_FILE),
}

TREATMENTS = {
    "drop": "row left out",
    "empty": "read as empty",
    "orphan": "audit counted as an orphan (its decision is left out)",
}
# qa_audits holds the same audits (and audited_at) as audit_facts: reported once.
REPORTED_TABLES = ("decisions", "audit_facts", "calibration_ratings")
IMPLAUSIBLE_COLUMNS = ["table", "column", "rows", "earliest", "latest", "treatment"]
PSEUDONYM_KEY_ENV = KEY_ENV


def implausible_frame(found: list[dict[str, Any]]) -> pd.DataFrame:
    """An engine's `implausible` table from the rows `ScopePolicy.found` returned."""
    import pandas as pd  # not at import: an engine that finds nothing needs no pandas

    return pd.DataFrame(found, columns=IMPLAUSIBLE_COLUMNS)


def SOURCE(table: str) -> str:  # noqa: N802  (a naming rule, used like a constant)
    """The name an engine gives a stored table before the policy's view takes its name."""
    return f"_src_{table}"


def STORED(table: str) -> str:  # noqa: N802
    """The scoped rows as stored, before implausible times are handled."""
    return f"_stored_{table}"


def plausible_range(
    config: Config, as_of: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The instants a stored time can plausibly hold, as ingest checks them (UTC): from
    `ingest.earliest_timestamp` 00:00 to `ingest.max_future_days` after `as_of` (default now)."""
    now = as_of or dt.datetime.now(dt.UTC)
    settings = config.ingest
    earliest = dt.datetime.combine(settings.earliest_timestamp, dt.time(), tzinfo=dt.UTC)
    return earliest, now + dt.timedelta(days=settings.max_future_days)


def _literal(value: dt.datetime, date: bool) -> str:
    # Views cannot take bound parameters: the bounds are literals, formatted here from
    # datetimes this module computed (never from input text).
    utc = value.astimezone(dt.UTC)
    if date:
        return f"DATE '{utc:%Y-%m-%d}'"
    return f"CAST('{utc:%Y-%m-%dT%H:%M:%S}Z' AS TIMESTAMPTZ)"


class ScopePolicy:
    """The policy for one viewer: `Scope` (from the role), the pseudonym key, and the
    plausible range of stored times."""

    def __init__(self, config: Config, scope: Scope, key: str | None = None) -> None:
        self.scope = scope
        self.restrictions = scope.restrictions()
        # A restricted role does not start without a key (`bpo_kpi.keys`: env, file, created).
        self.key = key if key is not None else pseudonym_key(config, self.restricted)
        self.plausible = plausible_range(config)

    # --- helper tables -------------------------------------------------------------------------

    def helper_rows(self) -> dict[str, tuple[str, list[str]]]:
        """Helper tables an engine registers before the views: name -> (column, values)."""
        out: dict[str, tuple[str, list[str]]] = {"_pseudonym_key": ("k", [self.key])}
        for dim, values in self.restrictions.items():
            out[f"_scope_{dim}"] = ("v", list(values))
        return out

    @property
    def restricted(self) -> bool:
        """Whether the role's scope is restricted (a vendor, workflow or market scope, or no
        reviewer access, as `Role.restricted`): it needs a pseudonym key and sees file names
        without their directories."""
        return bool(self.restrictions) or not self.scope.see_reviewers

    # --- views ---------------------------------------------------------------------------------

    def _reference(self, policy: TablePolicy, columns: Sequence[str]) -> Reference | None:
        """The table's reference rows, for a vendor-restricted role (None otherwise, or when
        the table lacks their columns)."""
        ref = policy.reference
        if ref is None or "vendor" not in self.restrictions or "vendor" not in policy.dims:
            return None
        return ref if {ref.flag, *ref.key} <= set(columns) else None

    def select(self, table: str, columns: Sequence[str], source: str | None = None) -> str:
        """The scoped SELECT of `table` over `source` (default `SOURCE(table)`), whose columns
        are `columns` (in order)."""
        policy = POLICY[table]
        source = source or SOURCE(table)
        ref = self._reference(policy, columns)
        conds = []
        for dim, column in policy.dims.items():
            if dim not in self.restrictions:
                continue
            allowed = f"{column} IN (SELECT v FROM _scope_{dim})"
            if ref is not None and dim == "vendor":
                # An allowed vendor's own row, or a reference one of those rows is judged by.
                flag = f"coalesce({ref.flag}, false)"
                key = ", ".join(ref.key)
                vouching = f"SELECT {key} FROM {ref.among or source} WHERE NOT {flag} AND {allowed}"
                allowed = f"((NOT {flag} AND {allowed}) OR ({flag} AND ({key}) IN ({vouching})))"
            conds.append(allowed)
        if policy.within and self.restrictions:
            conds.append(policy.within)
        exprs = []
        for column in columns:
            mask = None if self.scope.see_reviewers else policy.masks.get(column)
            path = policy.paths.get(column) if self.restricted else None
            if mask == "pseudonym":
                expr = f"'r-' || left(md5((SELECT k FROM _pseudonym_key) || {column}), 8)"
            elif mask == "hidden":
                expr = "CAST(NULL AS VARCHAR)"
            elif path == "name":
                expr = f"regexp_replace({column}, '{_DIRECTORIES}', '')"
            elif path == "text":
                expr = f"regexp_replace({column}, '{_WORD_DIRECTORIES}', '', 'g')"
            else:
                expr = column
            if ref is not None and column not in ref.shown:
                expr = f"CASE WHEN coalesce({ref.flag}, false) THEN NULL ELSE {expr} END"
            exprs.append(expr if expr == column else f"{expr} AS {column}")
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT {', '.join(exprs)} FROM {source}{where}"

    # --- plausible times ---------------------------------------------------------------------

    def checks(self, table: str, types: Mapping[str, str]) -> list[tuple[str, Treatment]]:
        """The plausibility checks of `table` whose column it has."""
        return [(c, t) for c, t in POLICY[table].plausibility if c in types]

    def _outside(self, column: str, types: Mapping[str, str]) -> str:
        lo, hi = self.plausible
        date = types[column].upper() == "DATE"
        return f"({column} < {_literal(lo, date)} OR {column} > {_literal(hi, date)})"

    def probe(self, table: str, types: Mapping[str, str]) -> str | None:
        """One min/max scan of `STORED(table)`: a flag per checked column, true when it holds
        a value outside the plausible range (None: nothing to check)."""
        checks = self.checks(table, types)
        if not checks:
            return None
        lo, hi = self.plausible
        flags = ", ".join(
            f"(min({c}) < {_literal(lo, types[c].upper() == 'DATE')} OR "
            f"max({c}) > {_literal(hi, types[c].upper() == 'DATE')}) AS {c}"
            for c, _ in checks
        )
        return f"SELECT {flags} FROM {STORED(table)}"

    def stats(self, table: str, types: Mapping[str, str], bad: Sequence[str]) -> str:
        """Rows, earliest and latest implausible value of each `bad` column (as text)."""
        parts = []
        for c in bad:
            outside = self._outside(c, types)
            parts.append(
                f"count(*) FILTER (WHERE {outside}), "
                f"CAST(min({c}) FILTER (WHERE {outside}) AS VARCHAR), "
                f"CAST(max({c}) FILTER (WHERE {outside}) AS VARCHAR)"
            )
        return f"SELECT {', '.join(parts)} FROM {STORED(table)}"

    def plausible_select(
        self, table: str, columns: Sequence[str], types: Mapping[str, str], bad: Sequence[str]
    ) -> str:
        """`STORED(table)` read as today's ingest would load it, given the columns found to
        hold implausible values (`bad`)."""
        treat = dict(self.checks(table, types))
        found = [(c, treat[c]) for c in bad]
        orphaned = " OR ".join(self._outside(c, types) for c, t in found if t == "orphan")
        exprs = []
        for column in columns:
            how = treat.get(column) if column in bad else None
            if how == "empty":
                exprs.append(f"CASE WHEN NOT {self._outside(column, types)} THEN {column} END "
                             f"AS {column}")  # fmt: skip
            elif how == "orphan":
                exprs.append(f"CASE WHEN coalesce({orphaned}, false) THEN NULL ELSE {column} "
                             f"END AS {column}")  # fmt: skip
            elif column == "is_orphan" and orphaned:
                exprs.append(f"is_orphan OR coalesce({orphaned}, false) AS is_orphan")
            else:
                exprs.append(column)
        drops = [f"({c} IS NULL OR NOT {self._outside(c, types)})" for c, t in found if t == "drop"]
        where = f" WHERE {' AND '.join(drops)}" if drops else ""
        return f"SELECT {', '.join(exprs)} FROM {STORED(table)}{where}"

    def found(
        self, table: str, types: Mapping[str, str], bad: Sequence[str], stats: Sequence[object]
    ) -> list[dict[str, object]]:
        """Rows of `Gateway.implausible` from a `stats` result (reported tables only)."""
        if table not in REPORTED_TABLES:
            return []
        treat = dict(self.checks(table, types))
        return [
            {"table": table, "column": c, "rows": int(stats[3 * i]),  # type: ignore[call-overload]
             "earliest": stats[3 * i + 1], "latest": stats[3 * i + 2],
             "treatment": TREATMENTS[treat[c]]}
            for i, c in enumerate(bad)
        ]  # fmt: skip
