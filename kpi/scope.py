"""The one scope policy: what a viewer may see of each table, declared once, rendered as SQL
that every engine runs (DuckDB as it is, Spark after `kpi.engines.to_spark_sql`).

An engine opens the stored tables under source names of its own (`SOURCE`), registers the
policy's helper tables (`ScopePolicy.helper_rows`: the allowed values of each restricted
dimension — the `internal` vendor always among them, golden answers being the platform's own —
and the pseudonym key), and creates a view with each table's name from `ScopePolicy.select`:

- **rows**: a table carrying a restricted dimension keeps the allowed values only; a table
  that carries none but hangs off one (an audit's QA row, a run's rejected rows) keeps the rows
  whose owner is visible (`TablePolicy.within`);
- **columns**: for roles that may not see people, reviewer and rater ids become keyed
  pseudonyms (`'r-' || left(md5(key || id), 8)`, the key read from a helper table so it never
  appears in query text) and free text a person wrote or that holds a row's raw content
  (comments, rejected rows, warning values) is hidden;
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
from typing import Literal

from bpo_kpi.config import Config
from kpi.query import Scope

Mask = Literal["pseudonym", "hidden"]
Treatment = Literal["drop", "empty", "orphan"]


@dataclass(frozen=True)
class TablePolicy:
    """How one table is scoped."""

    dims: Mapping[str, str] = field(default_factory=dict)  # restricted dimension -> column
    within: str | None = None  # with any restriction: a condition tying it to a scoped table
    masks: Mapping[str, Mask] = field(default_factory=dict)  # for roles that may not see people
    plausibility: tuple[tuple[str, Treatment], ...] = ()


_DECISION_DIMS = {"vendor": "vendor", "workflow": "workflow", "market": "market"}
_CAL_DIMS = {"vendor": "vendor", "workflow": "workflow"}
_AUDIT_WITHIN = "audit_id IN (SELECT audit_id FROM audit_facts)"
_RUN_WITHIN = "run_id IN (SELECT run_id FROM ingest_runs)"

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
        ),
    ),  # fmt: skip
    "qa_audits": TablePolicy(
        within=_AUDIT_WITHIN,
        masks={"comment": "hidden"},
        plausibility=(("audited_at", "drop"), ("updated_at", "empty")),
    ),
    "calibration_ratings": TablePolicy(
        _CAL_DIMS,
        masks={"rater_id": "pseudonym"},
        plausibility=(("session_date", "drop"), ("updated_at", "empty")),
    ),
    "decisions_history": TablePolicy(_DECISION_DIMS, masks={"reviewer_id": "pseudonym"}),
    "qa_audits_history": TablePolicy(within=_AUDIT_WITHIN, masks={"comment": "hidden"}),
    "calibration_ratings_history": TablePolicy(_CAL_DIMS, masks={"rater_id": "pseudonym"}),
    "edits_after_audit": TablePolicy(_DECISION_DIMS),
    "ingest_runs": TablePolicy({"vendor": "vendor"}),
    "rejected_rows": TablePolicy(within=_RUN_WITHIN, masks={"raw": "hidden"}),
    "ingest_warnings": TablePolicy(within=_RUN_WITHIN, masks={"value": "hidden"}),
}

TREATMENTS = {
    "drop": "row left out",
    "empty": "read as empty",
    "orphan": "audit counted as an orphan (its decision is left out)",
}
# qa_audits holds the same audits (and audited_at) as audit_facts: reported once.
REPORTED_TABLES = ("decisions", "audit_facts", "calibration_ratings")
IMPLAUSIBLE_COLUMNS = ["table", "column", "rows", "earliest", "latest", "treatment"]
PSEUDONYM_KEY_ENV = "BPO_KPI_PSEUDONYM_KEY"


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
        import os

        self.scope = scope
        self.key = key if key is not None else (
            os.environ.get(PSEUDONYM_KEY_ENV) or config.pseudonym_key
        )  # fmt: skip
        self.restrictions = scope.restrictions()
        self.plausible = plausible_range(config)

    # --- helper tables -------------------------------------------------------------------------

    def helper_rows(self) -> dict[str, tuple[str, list[str]]]:
        """Helper tables an engine registers before the views: name -> (column, values)."""
        out: dict[str, tuple[str, list[str]]] = {"_pseudonym_key": ("k", [self.key])}
        for dim, values in self.restrictions.items():
            allowed = list(values)
            if dim == "vendor":
                allowed.append("internal")  # golden answers are the platform's own
            out[f"_scope_{dim}"] = ("v", allowed)
        return out

    # --- views ---------------------------------------------------------------------------------

    def select(self, table: str, columns: Sequence[str], source: str | None = None) -> str:
        """The scoped SELECT of `table` over `source` (default `SOURCE(table)`), whose columns
        are `columns` (in order)."""
        policy = POLICY[table]
        conds = [
            f"{column} IN (SELECT v FROM _scope_{dim})"
            for dim, column in policy.dims.items()
            if dim in self.restrictions
        ]
        if policy.within and self.restrictions:
            conds.append(policy.within)
        exprs = []
        for column in columns:
            mask = None if self.scope.see_reviewers else policy.masks.get(column)
            if mask == "pseudonym":
                exprs.append(
                    f"'r-' || left(md5((SELECT k FROM _pseudonym_key) || {column}), 8) AS {column}"
                )
            elif mask == "hidden":
                exprs.append(f"CAST(NULL AS VARCHAR) AS {column}")
            else:
                exprs.append(column)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT {', '.join(exprs)} FROM {source or SOURCE(table)}{where}"

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
