"""Bulk validation: one SELECT casting raw text to canonical types, giving each bad row a reason.

Checks run in DuckDB over the whole file at once (docs/ARCHITECTURE.md §4: ~1M rows/s, where
per-row pydantic runs at ~150k rows/s). The query text is built only from this module's own
column names and the *shape* of the mapping (how many synonyms); every value — time zone,
formats, labels, synonyms, constants — is a bound parameter. Naive local times in a zone
with daylight saving are checked against its changes (`ingest/localtime.py`): an ambiguous one
is kept with a warning, a non-existent one rejects the row or empties an optional field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bpo_kpi.config import DISPUTE_STATUSES, Config
from bpo_kpi.db import AUDIT_COLUMNS, CALIBRATION_COLUMNS, DECISION_COLUMNS
from ingest.localtime import AMBIGUOUS, NONEXISTENT, day_bitmap, dst_windows
from ingest.mapping import Kind, VendorMapping
from ingest.readers import IngestError, RawFile

COLUMNS = {
    "decisions": DECISION_COLUMNS,
    "audits": AUDIT_COLUMNS,
    "calibration": CALIBRATION_COLUMNS,
}
KEYS: dict[Kind, list[str]] = {
    "decisions": ["decision_id"],
    "audits": ["audit_id"],
    "calibration": ["session_id", "item_id", "rater_id"],
}
TABLES: dict[Kind, str] = {
    "decisions": "decisions",
    "audits": "qa_audits",
    "calibration": "calibration_ratings",
}
LABEL_COLUMNS = {"decision", "qa_decision", "label"}
SEVERITIES = ("critical", "major", "minor")


@dataclass
class Query:
    """SQL text plus its named parameters, built up piece by piece."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"


def _text(expr: str, raw_type: str = "VARCHAR") -> str:
    """Trimmed text (leading and trailing spaces, as DuckDB's `trim`), empty -> NULL.

    `trim` copies every string; testing the ends first and trimming only the values that need
    it cost half as much (10 columns of 1M rows: 0.03 s instead of 0.3 s).
    """
    text = expr if raw_type == "VARCHAR" else f"CAST({expr} AS VARCHAR)"
    return (
        f"nullif(CASE WHEN starts_with({text}, ' ') OR ends_with({text}, ' ') "
        f"THEN trim({text}) ELSE {text} END, '')"
    )


# Text ending in a zone after a time of day: Z, an offset (+02, +0200, +02:00) or a name (UTC,
# Europe/Berlin). A date alone ("2026-03-08") has none: its "-08" is the day, not an offset.
_HAS_ZONE = "':[0-9]{2}(\\.[0-9]+)?\\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z][A-Za-z0-9_/+-]*)$'"


def _timestamp(
    q: Query, raw: str, raw_type: str, mapping: VendorMapping, tz: str, text: str
) -> str:
    """Timestamp from a raw column (`raw`, typed) or its trimmed text (`text`)."""
    if raw_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return raw
    if raw_type.startswith("TIMESTAMP"):
        return f"timezone({q.bind(tz)}, {raw})"
    if raw_type in ("BIGINT", "INTEGER", "DOUBLE", "HUGEINT", "UBIGINT") and (
        mapping.timestamp_format in ("epoch_s", "epoch_ms")
    ):
        scale = 1000.0 if mapping.timestamp_format == "epoch_ms" else 1.0
        return f"try(to_timestamp({raw} / {scale}))"  # out of range -> NULL -> rejected
    fmt = mapping.timestamp_format
    if fmt in ("epoch_s", "epoch_ms"):
        scale = 1000.0 if fmt == "epoch_ms" else 1.0
        return f"try(to_timestamp(TRY_CAST({text} AS DOUBLE) / {scale}))"
    if fmt:
        parsed = f"try_strptime({text}, {q.bind(fmt)})"
        if "%z" in fmt or "%Z" in fmt:
            return f"CAST({parsed} AS TIMESTAMPTZ)"
        return f"timezone({q.bind(tz)}, {parsed})"
    if tz == "UTC":
        return f"TRY_CAST({text} AS TIMESTAMPTZ)"
    # ISO 8601: an explicit offset wins; naive values are local to the vendor's time zone.
    return (
        f"CASE WHEN regexp_matches({text}, {_HAS_ZONE}) "
        f"THEN TRY_CAST({text} AS TIMESTAMPTZ) "
        f"ELSE timezone({q.bind(tz)}, TRY_CAST({text} AS TIMESTAMP)) END"
    )


def _naive_local(
    q: Query, raw: str, raw_type: str, mapping: VendorMapping, text: str
) -> tuple[str, str] | None:
    """How a timestamp column is read when its values are naive local times: ("typed", the
    raw TIMESTAMP column), ("format", the strptime value) or ("iso", the cast of text without
    a zone); None when its values are instants (typed with a zone, epochs, an offset format).
    Mirrors `_timestamp`'s branches for a time zone other than UTC."""
    if raw_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return None
    if raw_type.startswith("TIMESTAMP"):
        return "typed", raw
    fmt = mapping.timestamp_format
    if fmt in ("epoch_s", "epoch_ms"):
        return None
    if fmt:
        if "%z" in fmt or "%Z" in fmt:
            return None
        return "format", f"try_strptime({text}, {q.bind(fmt)})"
    return "iso", f"TRY_CAST({text} AS TIMESTAMP)"


@dataclass
class _LocalTimes:
    """Naive local times in a zone with daylight saving (docs: ingest/localtime.py): the
    projections that compute, per column, the naive value (`l_<name>`, with `h_<name>` = "the
    text has a zone" for ISO text) and its DST window kind (`z_<name>`: AMBIGUOUS,
    NONEXISTENT or NULL). Each level is one `SELECT *, ...` between the texts and the typed
    values; the window test runs only on the few days with a DST change."""

    first_day: str  # bound parameter: day 0 of the bitmap of window days
    day_bits: str  # bound parameter: the bitmap ('0'/'1' text, see localtime.day_bitmap)
    last_bit: int
    windows: str  # bound parameter: [{s, e, k, cause, rule}]
    levels: list[dict[str, str]] = field(default_factory=lambda: [{}, {}, {}])
    local: dict[str, str] = field(default_factory=dict)  # column -> its naive value
    ambiguous: dict[str, str] = field(default_factory=dict)  # column -> its warning (SQL)

    def window(self, local: str) -> str:
        """The window (a struct) a naive value `local` falls in, or NULL."""
        return f"list_filter({self.windows}, lambda dst: {local} >= dst.s AND {local} < dst.e)[1]"

    def add(self, name: str, how: str, expr: str, text: str, tz_param: str) -> str:
        """Register column `name` read as `how` (see `_naive_local`); return its typed value."""
        local = f"l_{name}"
        if how == "typed":
            local = expr
            value = f"timezone({tz_param}, {expr})"
        elif how == "format":
            self.levels[1][local] = expr
            value = f"timezone({tz_param}, {local})"
        else:
            has_zone = f"h_{name}"
            self.levels[0][has_zone] = f"regexp_matches({text}, {_HAS_ZONE})"
            self.levels[1][local] = f"CASE WHEN NOT {has_zone} THEN {expr} END"
            value = (
                f"CASE WHEN {has_zone} THEN TRY_CAST({text} AS TIMESTAMPTZ) "
                f"ELSE timezone({tz_param}, {local}) END"
            )
        self.levels[2][f"z_{name}"] = (
            f"CASE WHEN get_bit(CAST({self.day_bits} AS BIT), CAST(least(greatest("
            f"CAST({local} AS DATE) - {self.first_day}, 0), {self.last_bit}) AS INTEGER)) = 1 "
            f"THEN {self.window(local)}.k END"
        )
        self.local[name] = local
        return value

    def wrap(self, body: str) -> str:
        for level in self.levels:
            if level:
                cols = ", ".join(f"{expr} AS {name}" for name, expr in level.items())
                body = f"SELECT *, {cols} FROM ({body})"
        return body


def _dst_checks(
    name: str,
    local: _LocalTimes,
    text: str,
    tz_param: str,
    optional: bool,
    reasons: list[tuple[str, str]],
    fixes: list[_Fix],
) -> None:
    """An ambiguous local time is kept (read as its second occurrence) with a warning; a
    non-existent one rejects the row, or is emptied with a warning in an optional column."""
    window = local.window(local.local[name])
    flag = f"z_{name}"
    local.ambiguous[name] = (
        f"printf('{name} %s is an ambiguous local time in %s (%s): %s', {text}, {tz_param}, "
        f"{window}.cause, {window}.rule)"
    )
    fixes.append(_Fix(name, f"{flag} = {AMBIGUOUS}", name, text, local.ambiguous[name]))
    missing = (
        f"printf('{name} %s does not exist in %s (%s)%s', {text}, {tz_param}, {window}.cause, "
        + ("'; emptied'" if optional else
           "'; check the export''s time zone (the vendor mapping''s timezone, or "
           "input_timezone in the configuration)'")
        + ")"
    )  # fmt: skip
    if optional:
        fixes.append(_Fix(name, f"{flag} = {NONEXISTENT}", "NULL", text, missing))
    else:
        reasons.append((f"{flag} = {NONEXISTENT}", missing))


def _expected_timestamp(mapping: VendorMapping) -> str:
    fmt = mapping.timestamp_format
    if fmt == "epoch_s":
        return "seconds since 1970-01-01 UTC"
    if fmt == "epoch_ms":
        return "milliseconds since 1970-01-01 UTC"
    if fmt:
        return f"format {fmt}"
    return "ISO 8601, e.g. 2026-10-05T14:03:00+02:00"


def _synonyms(q: Query, text: str, synonyms: dict[str, str]) -> str:
    if not synonyms:
        return text
    whens = " ".join(f"WHEN {q.bind(k)} THEN {q.bind(v)}" for k, v in synonyms.items())
    return f"(CASE {text} {whens} ELSE {text} END)"


@dataclass
class StageSpec:
    """The staging SELECT for one file: typed canonical columns, `_reason` (why the row is
    rejected, or NULL), `_warn` (flaws of a kept row: a JSON list of {column_name, value,
    reason}, or NULL) and `_raw_json`."""

    sql: str
    params: dict[str, Any]
    ignored_columns: list[str]
    # SELECT of (_line, _raw_json) over `_raw`, for rows rejected after staging (duplicates).
    raw_sql: str = ""
    raw_params: dict[str, Any] = field(default_factory=dict)
    # SELECT of the canonical columns of the rows with no reason and no warning (see
    # build_stage): what a clean file loads.
    clean_sql: str = ""
    clean_params: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Fix:
    """A flaw in a field the KPIs can do without: the row is kept, `column` becomes `value`
    where `cond` holds, and a warning with `message` (SQL text) is stored."""

    column: str
    cond: str
    value: str
    text: str  # the value as read (SQL text expression)
    message: str
    gated: bool = True  # False: `cond` is covered by a cheaper test of the level's gate


# What each kind's KPIs cannot do without: a row missing one of these (or with an unusable
# value) is rejected. Everything else is optional: a flaw there empties or clamps the field.
REQUIRED_NOTE = "keys, vendor, workflow, reviewer, the times that place a fact in a period"


def build_stage(
    kind: Kind,
    raw: RawFile,
    mapping: VendorMapping,
    config: Config,
    vendor: str | None,
    *,
    now: dt.datetime | None = None,
    strip_nul: bool = False,
    spaceless: bool = False,
) -> StageSpec:
    """Map raw columns to canonical ones; raise IngestError if a required column is missing.

    `now` is the ingest's time (the plausible range's end); `strip_nul` removes NUL bytes from
    text values, with a warning (set when the file holds any). `spaceless`: the file holds no
    space at all (`readers.holds_space`), so `clean_sql` need not test values for one.
    """
    q = Query()
    columns = COLUMNS[kind]
    kind_map = mapping.for_kind(kind)
    constants = mapping.constants(kind)
    settings = config.ingest
    now = now or dt.datetime.now(dt.UTC)
    if vendor and kind in ("decisions", "calibration"):
        constants.setdefault("vendor", vendor)
    tz = input_timezone(mapping, config)

    # Which raw column feeds each canonical column.
    source: dict[str, str | None] = {}
    used: set[str] = set()
    missing: list[str] = []
    for name, _typ, required in columns:
        vendor_name = kind_map.columns.get(name, name)
        ref = raw.column_ref(vendor_name)
        source[name] = ref
        if ref is not None:
            used.add(vendor_name)
        elif name not in constants and required:
            missing.append(name if name == vendor_name else f"{name} (mapped from {vendor_name!r})")
    if missing:
        found = ", ".join(raw.columns) or "(none)"
        hint = f"add them to the file or map them in the vendor mapping's [{kind}.columns] section"
        raise IngestError(
            f"{raw.path}: missing required column(s) {', '.join(missing)}; "
            f"found columns: {found}; {hint}"
        )
    ignored = [c for c in raw.columns if c not in used]

    typed: dict[str, str] = {}
    texts: dict[str, str] = {}
    nulls: dict[str, str] = {}  # cheap "value absent" test per column
    text_exprs: dict[str, str] = {}
    clean_texts: dict[str, str] = {}  # the same for a clean row (see `clean_sql`)
    padded: list[str] = []  # "this value is not clean text" tests, on the raw values
    # (condition, message): the message is only built for rows whose condition holds.
    reasons: list[tuple[str, str]] = []
    fixes: list[_Fix] = []  # on the typed values, before the order rules
    earliest = dt.datetime.combine(settings.earliest_timestamp, dt.time(), tzinfo=dt.UTC)
    latest = now + dt.timedelta(days=settings.max_future_days)
    shown_range = q.bind(f"{earliest:%Y-%m-%d} to {latest:%Y-%m-%d}")
    range_hint = "ingest.earliest_timestamp / ingest.max_future_days"
    # Range checks are gated by one least/greatest test per kind of column (required and
    # optional alike): a row with no implausible time pays two comparisons, not two per
    # column; the per-column tests only pick the message.
    in_range: dict[str, list[str]] = {}  # "lo, hi" parameters -> the columns they bound
    bounds: dict[str, tuple[str, str]] = {}  # column type -> its lo/hi parameters, bound once
    ungated: set[str] = set()  # reason conditions covered by the range gate
    # Naive local times in a zone with daylight saving: the wall-clock times its changes
    # repeat or skip within the plausible range (none for UTC or a zone without DST).
    windows = dst_windows(tz, earliest.year, latest.year) if tz != "UTC" else ()
    local: _LocalTimes | None = None
    tz_param = ""
    if windows:
        first_day, bits = day_bitmap(windows)
        local = _LocalTimes(
            first_day=q.bind(first_day),
            day_bits=q.bind(bits),
            last_bit=len(bits) - 1,
            windows=q.bind(
                [{"s": w.start, "e": w.end, "k": w.kind, "cause": w.cause, "rule": w.rule}
                 for w in windows]
            ),
        )  # fmt: skip
        tz_param = q.bind(tz)
    raw_types = _types_for(columns, raw, source)
    for (name, typ, required), raw_type in zip(columns, raw_types, strict=True):
        ref = source[name]
        optional = not required and name not in ("decided_at", "decision")
        if ref is None:
            text = q.bind(constants[name]) if name in constants else "CAST(NULL AS VARCHAR)"
            raw_expr = clean_text = text
            raw_type = "VARCHAR"
        else:
            raw_expr = ref
            text = _text(ref, raw_type)
            if strip_nul and raw_type == "VARCHAR":
                text = _text(f"replace({ref}, chr(0), '')")
                fixes.append(
                    _Fix(name, f"contains({ref}, chr(0))", name, f"replace({ref}, chr(0), '\\0')",
                         f"'{name} holds NUL bytes (removed); check the export''s encoding'")
                )  # fmt: skip
            clean_text = text
            if raw_type == "VARCHAR" and not strip_nul:
                # A clean row's value has no space at either end: its text is the value itself
                # (`clean_sql`; the test is pushed into the scan). DuckDB's CSV reader gives
                # NULL for an empty field, quoted or not: a '' there only sends the file the
                # staged way; other formats may hold '' for empty.
                if raw.fmt == "csv":
                    clean_text = ref
                    ends = "" if spaceless else f" OR prefix({ref}, ' ') OR suffix({ref}, ' ')"
                    padded.append(f"({ref} = ''{ends})")
                else:
                    clean_text = f"nullif({ref}, '')"
                    padded.append(f"(prefix({ref}, ' ') OR suffix({ref}, ' '))")
            if name in constants:  # a constant fills gaps but never overrides the file
                const = q.bind(constants[name])
                text = f"coalesce({text}, {const})"
                clean_text = f"coalesce({clean_text}, {const})"
        typed_source = ref is not None and raw_type != "VARCHAR" and name not in constants
        if typed_source and typ == "TIMESTAMPTZ":
            # A typed time needs no text but in a message: cast there, for the few rows that
            # need one (casting every timestamp to text cost ~0.1 s per 1M values).
            text = f"CAST({ref} AS VARCHAR)"
        else:
            # Each column's text is computed once, in an inner projection, referred to by name.
            text_exprs[name] = text
            clean_texts[name] = clean_text
            text = f"t_{name}"
        texts[name] = text
        nulls[name] = f"{ref} IS NULL" if typed_source else f"{text} IS NULL"
        if ref is None and name not in constants:  # not in the file: empty, nothing to check
            typed[name] = f"CAST(NULL AS {typ})"
            continue
        if typ in ("TIMESTAMPTZ", "DATE"):
            if typ == "TIMESTAMPTZ":
                naive = _naive_local(q, raw_expr, raw_type, mapping, text) if local else None
                if local is not None and naive is not None:
                    value = local.add(name, *naive, text, tz_param)
                    _dst_checks(name, local, text, tz_param, optional, reasons, fixes)
                else:
                    value = _timestamp(q, raw_expr, raw_type, mapping, tz, text)
                expected = _expected_timestamp(mapping)
                lo, hi = bounds.setdefault(typ, (q.bind(earliest), q.bind(latest)))
            else:
                fmt = mapping.date_format
                value = (
                    f"CAST(try_strptime({text}, {q.bind(fmt)}) AS DATE)"
                    if fmt
                    else f"TRY_CAST({text} AS DATE)"
                )
                expected = fmt or "YYYY-MM-DD"
                lo, hi = bounds.setdefault(typ, (q.bind(earliest.date()), q.bind(latest.date())))
            unparsed = f"NOT ({nulls[name]}) AND {name} IS NULL"
            can_fail = not (typed_source and value == raw_expr)  # a typed timestamp cannot
            kind_word = "a timestamp" if typ == "TIMESTAMPTZ" else "a date"
            not_parsed = f"'{name} %s is not {kind_word} (expected %s)'"
            implausible = f"({name} < {lo} OR {name} > {hi})"
            in_range.setdefault(f"{lo}, {hi}", []).append(name)
            out_of_range = (
                f"printf('{name} %s is outside the plausible range %s ({range_hint})', "
                f"{text}, {shown_range})"
            )
            if optional:
                if can_fail:
                    fixes.append(
                        _Fix(name, unparsed, "NULL", text,
                             f"printf({not_parsed[:-1]}; emptied', {text}, "
                             f"{q.bind(expected)})")
                    )  # fmt: skip
                fixes.append(
                    _Fix(name, implausible, "NULL", text, f"{out_of_range} || '; emptied'",
                         gated=False)
                )  # fmt: skip
            else:
                if can_fail:
                    reasons.append((unparsed, f"printf({not_parsed}, {text}, {q.bind(expected)})"))
                reasons.append(
                    (implausible, f"{out_of_range} || '; fix the export''s clock or date format'")
                )
                ungated.add(implausible)
        elif typ == "BOOLEAN":
            low = f"lower({text})"
            trues = q.bind([v.lower() for v in mapping.true_values])
            falses = q.bind([v.lower() for v in mapping.false_values])
            value = (
                f"CASE WHEN {text} IS NULL THEN false WHEN list_contains({trues}, {low}) THEN true "
                f"WHEN list_contains({falses}, {low}) THEN false END"
            )
            fixes.append(
                _Fix(name, f"{text} IS NOT NULL AND {name} IS NULL", "false", text,
                     f"printf('{name} %s is not true/false; read as false', {text})")
            )  # fmt: skip
        else:
            value = text
            if name in LABEL_COLUMNS:
                value = _synonyms(q, text, mapping.labels)
                labels = q.bind(config.labels)
                reasons.append(
                    (
                        f"{name} IS NOT NULL AND NOT list_contains({labels}, {name})",
                        f"printf('{name} %s is not a known label (known: %s); add a synonym "
                        f"to the vendor mapping [labels] or the label to the configuration', "
                        f"{text}, array_to_string({labels}, ', '))",
                    )
                )
            elif name in mapping.values:
                value = _synonyms(q, text, mapping.values[name])
            if name == "severity":
                allowed = q.bind(list(SEVERITIES))
                value = f"lower({value})"
                fixes.append(
                    _Fix(name, f"{name} IS NOT NULL AND NOT list_contains({allowed}, {name})",
                         "NULL", text,
                         f"printf('severity %s is not one of {', '.join(SEVERITIES)}; emptied "
                         f"(the configured severity rules apply)', {text})")
                )  # fmt: skip
            elif name == "dispute_status":
                allowed = q.bind(list(DISPUTE_STATUSES))
                value = f"coalesce(lower({value}), 'none')"
                fixes.append(
                    _Fix(name, f"NOT list_contains({allowed}, {name})", "'none'", text,
                         f"printf('dispute_status %s is not one of "
                         f"{', '.join(DISPUTE_STATUSES)}; read as none', {text})")
                )  # fmt: skip
            elif name == "error_type":
                known = q.bind([*config.error_types, "none"])
                value = f"lower({value})"
                # Kept as it is (an error of category `other`): nothing the auditor found is lost.
                fixes.append(
                    _Fix(name, f"{name} IS NOT NULL AND NOT list_contains({known}, {name})",
                         name, text,
                         "printf('error_type %s is not a configured error type; kept as an "
                         "error of category other: add it to [error_types] in the "
                         "configuration or a synonym to the vendor mapping''s "
                         f"[values.error_type]', {text})")
                )  # fmt: skip
        typed[name] = value
        if required and typ != "BOOLEAN":
            reasons.append((nulls[name], f"'{name} is empty (required)'"))

    if vendor and kind in ("decisions", "calibration"):
        reasons.append(
            (
                f"{texts['vendor']} <> {q.bind(vendor)}",
                f"printf('vendor %s differs from --vendor %s', {texts['vendor']}, "
                f"{q.bind(vendor)})",
            )
        )
    tol = tol_text = ""
    if kind == "decisions":  # DuckDB refuses parameters the text does not use
        tolerance_us = int(round(settings.clock_tolerance_seconds * 1_000_000))
        tol = f"to_microseconds(CAST({q.bind(tolerance_us)} AS BIGINT))"
        tol_text = q.bind(f"{settings.clock_tolerance_seconds:g} s")
    reasons.extend(_rules(kind, texts, nulls, tol, tol_text))
    if kind == "decisions" and local is not None:
        # A decision rejected for being decided before it was enqueued, across a fall-back:
        # the reason also names the ambiguous time(s) and how they were read.
        order = reasons_before_order(reasons)
        for name in ("decided_at", "enqueued_at"):
            if name in local.ambiguous:
                cond = f"{order} AND z_{name} = {AMBIGUOUS}"
                reasons.append((cond, local.ambiguous[name]))
                ungated.add(cond)  # implies the order rule's test, which the order gate covers
    order_levels, order_gate = _order_fixes(kind, texts, tol, tol_text)
    # The range and order tests are shared by the rejection test and the fixes' gate (the
    # same text: DuckDB computes such a common expression once per row).
    shared = []
    for pair, names in in_range.items():
        lo, hi = pair.split(", ")
        cols = ", ".join(names)
        shared.append(
            f"({names[0]} < {lo} OR {names[0]} > {hi})" if len(names) == 1 else
            f"(least({cols}) < {lo} OR greatest({cols}) > {hi})"
        )  # fmt: skip
    if order_levels:
        shared.append(order_gate)
        ungated.add(reasons_before_order(reasons))

    select_cols = ",\n    ".join(f"{typed[n]} AS {n}" for n, _, _ in columns)
    tests: list[str] = []
    if reasons:
        # One cheap boolean test per row; the texts are built only for rows that fail it.
        tests = [c for c, _ in reasons if c not in ungated] + shared
        any_bad = " OR ".join(f"coalesce({c}, false)" for c in tests)
        parts = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in reasons)
        reason = f"CASE WHEN {any_bad} THEN concat_ws('; ', {parts}) END"
    else:
        reason = "NULL"
    raw_keys = q.bind(raw.columns)
    raw_pairs = ", ".join(f"{raw_keys}[{i + 1}], c{i + 1}" for i in range(len(raw.columns)))
    outer = [name for name, _, _ in columns]
    if kind == "decisions":
        # due_at from the queue when given, else enqueued_at + the configured SLA.
        sla = sla_minutes_sql(q.bind, config)
        due = f"enqueued_at + to_microseconds(CAST(({sla}) * 60000000 AS BIGINT))"
        outer[outer.index("due_at")] = f"coalesce(due_at, {due}) AS due_at"
        outer.append(
            f"CASE WHEN due_at IS NOT NULL THEN 'queue' WHEN ({sla}) IS NOT NULL THEN 'config' "
            "END AS due_at_source"
        )
    # One pass. Levels, innermost first: texts; typed values; the rejection reason and the
    # fixes of single fields (checks on the typed values by name, so each cast is computed
    # once); then the order rules between times, one level per rule that reads a fixed value.
    texts_sql = "".join(f", {expr} AS t_{name}" for name, expr in text_exprs.items())
    line_sql = raw.line_sql(q.bind)
    texts_level = f"SELECT *, {line_sql} AS _line{texts_sql} FROM {raw.source_sql}"
    if local is not None:
        texts_level = local.wrap(texts_level)
    body = (
        f"SELECT *, nullif({reason}, '') AS _reason FROM (SELECT *, {select_cols}\n"
        f"FROM ({texts_level}))"
    )
    # One projection applies every fix, behind one gate: clean rows (nearly all) pay for the
    # gate's cheap tests alone. The order rules see the single-field fixes' results (a
    # claimed_at emptied as implausible is compared with nothing): later rules read earlier
    # rules' values, composed into one expression per column.
    gate_tests = [f.cond for f in fixes if f.gated] + shared
    clean_level = "".join(f", {expr} AS t_{name}" for name, expr in clean_texts.items())
    clean_level = f"SELECT *, {line_sql} AS _line{clean_level} FROM {raw.source_sql}"
    if local is not None:
        clean_level = local.wrap(clean_level)
    body = _apply_fixes(body, [fixes, *order_levels], gate_tests)
    sql = (
        f"SELECT _line, {', '.join(outer)}, _reason, _warn,\n"
        f"    CASE WHEN _reason IS NOT NULL THEN json_object({raw_pairs}) END AS _raw_json\n"
        f"FROM ({body})"
    )
    # The rows nothing can be said about: no rejection test and no fix's gate holds, so the
    # staging query would give them no reason, no warning and their values as typed. A clean
    # load (`ingest.load._load_direct`) takes these rows without building any reason or
    # warning; a file with any other row is staged with `sql`.
    flawed = " OR ".join([*padded, *dict.fromkeys([*tests, *gate_tests])]) or "false"
    clean_sql = (
        f"SELECT _line, {', '.join(outer)}\nFROM (SELECT *, {select_cols}\nFROM ({clean_level}))\n"
        f"WHERE ({flawed}) IS NOT TRUE"
    )
    rq = Query()
    keys = rq.bind(raw.columns)
    pairs = ", ".join(f"{keys}[{i + 1}], c{i + 1}" for i in range(len(raw.columns)))
    raw_sql = (
        f"SELECT {raw.line_sql(rq.bind)} AS _line, json_object({pairs}) AS _raw_json "
        f"FROM {raw.source_sql}"
    )
    q.params.update(raw.source_params)
    rq.params.update(raw.source_params)
    # DuckDB refuses parameters the text does not use (a check left out for an absent column).
    params = {k: v for k, v in q.params.items() if re.search(rf"\${k}\b", sql)}
    clean_params = {k: v for k, v in q.params.items() if re.search(rf"\${k}\b", clean_sql)}
    return StageSpec(
        sql=sql, params=params, ignored_columns=ignored, raw_sql=raw_sql, raw_params=rq.params,
        clean_sql=clean_sql, clean_params=clean_params,
    )  # fmt: skip


_LITERAL = re.compile(r"('(?:[^']|'')*')")


def _substitute(sql: str, current: dict[str, str]) -> str:
    """`sql` with each column of `current` (outside string literals) replaced by its
    expression."""
    if not current:
        return sql
    names = re.compile(r"(?<![\w.$])(" + "|".join(map(re.escape, current)) + r")(?!\w)")
    parts = _LITERAL.split(sql)
    return "".join(
        part if i % 2 else names.sub(lambda m: f"({current[m.group(1)]})", part)
        for i, part in enumerate(parts)
    )


def _apply_fixes(body: str, levels: list[list[_Fix]], gate_tests: list[str]) -> str:
    """Wrap `body` in one projection that applies the fixes of every level, in order (a
    level's conditions and values read the columns as the levels before left them), and
    makes `_warn`: the list of their warnings, or NULL.

    Only rows that pass the gate — an OR of cheap tests that hold for every row some fix
    applies to — evaluate the fixes: clean rows pay for the gate alone.
    """
    fixes = [f for level in levels for f in level]
    if not fixes:
        return f"SELECT *, {_NO_WARNINGS} AS _warn FROM ({body})"
    current: dict[str, str] = {}
    entries: list[str] = []
    for level in levels:
        cases: dict[str, list[str]] = {}
        for f in level:
            cond = f"coalesce({_substitute(f.cond, current)}, false)"
            entries.append(
                f"CASE WHEN {cond} THEN {{'column_name': '{f.column}', "
                f"'value': CAST({f.text} AS VARCHAR), 'reason': {f.message}}} END"
            )
            if f.value != f.column:
                cases.setdefault(f.column, []).append(
                    f"WHEN {cond} THEN {_substitute(f.value, current)}"
                )
        updated = {
            col: f"CASE {' '.join(w)} ELSE {current.get(col, col)} END" for col, w in cases.items()
        }
        current.update(updated)
    gate = " OR ".join(f"coalesce({t}, false)" for t in gate_tests) or "false"
    replaced = [
        f"CASE WHEN _gate THEN {expr} ELSE {col} END AS {col}" for col, expr in current.items()
    ]
    # JSON text, not a list of structs: the CASE over a list type cost the clean rows of a
    # 1M-row file ~0.05 s even where no row took its THEN branch.
    warn = (
        f"CASE WHEN _gate THEN to_json(nullif(list_filter([{', '.join(entries)}], "
        f"lambda w: w IS NOT NULL), [])) END AS _warn"
    )
    star = f"* REPLACE ({', '.join(replaced)})" if replaced else "*"
    return f"SELECT {star}, {warn} FROM (SELECT *, ({gate}) AS _gate FROM ({body}))"


_NO_WARNINGS = "CAST(NULL AS JSON)"
# `_warn` as rows: unnest(from_json(_warn, WARNING_TYPE)).
WARNING_TYPE = '[{"column_name": "VARCHAR", "value": "VARCHAR", "reason": "VARCHAR"}]'


def input_timezone(mapping: VendorMapping, config: Config) -> str:
    """Time zone of naive timestamps: a real mapping's (from a file, or set in code), else the
    configuration's `input_timezone`."""
    explicit = mapping.source is not None or "timezone" in mapping.model_fields_set
    return mapping.timezone if explicit else config.input_timezone


def timestamp_sources(kind: Kind, raw: RawFile, mapping: VendorMapping) -> list[int]:
    """Raw columns (0-based) that feed a timestamp column of `kind`, with no constant."""
    kind_map = mapping.for_kind(kind)
    constants = mapping.constants(kind)
    found = []
    for name, typ, _ in COLUMNS[kind]:
        ref = raw.column_ref(kind_map.columns.get(name, name))
        if typ == "TIMESTAMPTZ" and ref is not None and name not in constants:
            found.append(int(ref[1:]) - 1)
    return found


def sla_minutes_sql(bind: Callable[[Any], str], config: Config) -> str:
    """SLA minutes for a row's (workflow, vendor, priority), as `Targets.resolve` gives them:
    a vendor override in a workflow, else the workflow's, else the default; NULL when the
    priority has no SLA. Values are bound; the CASE has one branch per configured entry."""
    whens: list[str] = []
    targets = config.targets
    for wf_name, wf in targets.workflows.items():
        for vendor_name, override in wf.vendors.items():
            for priority, minutes in override.sla_minutes.items():
                whens.append(
                    f"WHEN workflow = {bind(wf_name)} AND vendor = {bind(vendor_name)} AND "
                    f"priority = {bind(priority)} THEN {bind(float(minutes))}"
                )
    for wf_name, wf in targets.workflows.items():
        for priority, minutes in wf.sla_minutes.items():
            whens.append(
                f"WHEN workflow = {bind(wf_name)} AND priority = {bind(priority)} "
                f"THEN {bind(float(minutes))}"
            )
    for priority, minutes in targets.default.sla_minutes.items():
        whens.append(f"WHEN priority = {bind(priority)} THEN {bind(float(minutes))}")
    if not whens:
        return "CAST(NULL AS DOUBLE)"
    return f"CASE {' '.join(whens)} END"


def _types_for(
    columns: list[tuple[str, str, bool]], raw: RawFile, source: dict[str, str | None]
) -> list[str]:
    out = []
    for name, _t, _r in columns:
        ref = source[name]
        out.append(raw.types[int(ref[1:]) - 1] if ref is not None else "VARCHAR")
    return out


def _rules(
    kind: Kind, texts: dict[str, str], nulls: dict[str, str], tol: str, tol_text: str
) -> list[tuple[str, str]]:
    """Rejections across columns (on the typed values, by column name): a decided_at before
    enqueued_at by more than the clock tolerance, and decisions without their times."""
    if kind != "decisions":
        return []
    return [
        (
            f"decided_at < enqueued_at - {tol}",
            f"printf('decided_at %s is before enqueued_at %s by more than the %s clock "
            f"tolerance (ingest.clock_tolerance_seconds)', {texts['decided_at']}, "
            f"{texts['enqueued_at']}, {tol_text})",
        ),
        (
            f"decided_at IS NOT NULL AND {nulls['decision']}",
            "'decision is empty but decided_at is set (a decided item needs its label)'",
        ),
        (
            f"decided_at IS NULL AND {nulls['decided_at']} AND NOT ({nulls['decision']})",
            "'decided_at is empty but decision is set (a decision needs its time)'",
        ),
    ]


def reasons_before_order(reasons: list[tuple[str, str]]) -> str:
    """The rejection of a decided_at far before enqueued_at (covered by the order gate)."""
    return next(c for c, _ in reasons if c.startswith("decided_at < enqueued_at - "))


def _order_fixes(
    kind: Kind, texts: dict[str, str], tol: str, tol_text: str
) -> tuple[list[list[_Fix]], str]:
    """Times out of order in a kept row, one level per rule that reads an earlier rule's result.

    Within the clock tolerance the later time is clamped to the earlier one (a vendor tool that
    writes whole seconds next to a queue that writes microseconds); further out, the optional
    time is emptied. decided_at itself is only clamped: further out the row is rejected.
    """
    if kind != "decisions":
        return [], "false"

    def order(later: str, earlier: str, clamp_to: str, optional: bool) -> list[_Fix]:
        clamp = _Fix(
            later,
            f"{later} < {earlier} AND {later} >= {earlier} - {tol}",
            clamp_to,
            texts[later],
            f"printf('{later} %s is before {earlier} %s, within the %s clock tolerance: set to "
            f"{earlier}', {texts[later]}, {texts[earlier]}, {tol_text})",
        )
        if not optional:
            return [clamp]
        empty = _Fix(
            later,
            f"{later} < {earlier} - {tol}",
            "NULL",
            texts[later],
            f"printf('{later} %s is before {earlier} %s by more than the %s clock tolerance; "
            f"emptied', {texts[later]}, {texts[earlier]}, {tol_text})",
        )
        return [clamp, empty]

    def after(earlier: str, later: str) -> list[_Fix]:
        """claimed_at after decided_at: the optional claimed_at gives way."""
        return [
            _Fix(
                earlier,
                f"{earlier} > {later} AND {earlier} <= {later} + {tol}",
                later,
                texts[earlier],
                f"printf('{earlier} %s is after {later} %s, within the %s clock tolerance: set "
                f"to {later}', {texts[earlier]}, {texts[later]}, {tol_text})",
            ),
            _Fix(
                earlier,
                f"{earlier} > {later} + {tol}",
                "NULL",
                texts[earlier],
                f"printf('{earlier} %s is after {later} %s by more than the %s clock tolerance; "
                f"emptied', {texts[earlier]}, {texts[later]}, {tol_text})",
            ),
        ]

    # Every rule needs two times out of order before any fix: that one test gates them all.
    gate = "(least(decided_at, claimed_at, due_at) < enqueued_at OR claimed_at > decided_at)"
    levels = [
        order("decided_at", "enqueued_at", "enqueued_at", optional=False)
        + order("due_at", "enqueued_at", "enqueued_at", optional=True),
        order("claimed_at", "enqueued_at", "enqueued_at", optional=True),
        after("claimed_at", "decided_at"),
    ]
    return levels, gate


def check_required_mapping(kind: Kind, mapping: VendorMapping) -> None:
    """Mapping entries must name canonical columns."""
    known = {c for c, _, _ in COLUMNS[kind]}
    bad = sorted(set(mapping.for_kind(kind).columns) - known)
    if bad:
        raise IngestError(
            f"{mapping.source}: [{kind}.columns] maps unknown canonical column(s) "
            f"{', '.join(bad)}; canonical columns are {', '.join(sorted(known))}"
        )
