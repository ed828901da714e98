"""Nothing leaks to a vendor partner (issue 14): whatever a restricted role asks for, through
every public kpi/ analysis the dashboard, the CLI and the exports call, no result contains
another vendor's rows, names or ids, the `internal` vendor (golden answers appear only as the
reference), a person or comment the role may not see, or a directory of the server.

The database is built through the real ingest, with distinctive markers in everything a
partner must not see: other vendors' ids (`OTHER-REV-...`, `OTHER-DEC-...`, ...), comments
(`SECRET-COMMENT-...`), the internal vendor's own reviewers, raters and decisions
(`INTERNAL-...`), and files in directories that name themselves (`SECRET-PATH-DIR`,
`NW-SERVER-DIR`). Hypothesis draws filters, groupings, periods, dates, drill paths, gap
segments, calibration sessions and "URL parameter" values that name other vendors, reviewers,
sessions and runs; every cell of every returned frame is scanned as text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bpo_kpi.config import Config, Role
from bpo_kpi.db import AUDIT_COLUMNS, CALIBRATION_COLUMNS, DECISION_COLUMNS, connect
from ingest import IngestError, ingest_files
from kpi import calibration, compare, disputes, gaps, health, monitor, snapshot, tat
from kpi.catalog import DIMENSIONS, GAP_DIMENSIONS, KPIS
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.periods import custom_period, week_period
from kpi.query import KpiQuery
from kpi.scope import PSEUDONYM_KEY_ENV

UTC = dt.UTC
AS_OF = dt.datetime(2026, 3, 25, 15, 30, tzinfo=UTC)
FIRST = dt.date(2026, 2, 25)
LAST = dt.date(2026, 3, 24)
PARTNER = "northwind"
OTHER = "othervendor"
ROLES = {
    "admin": Role(),
    "partner": Role(vendors=[PARTNER]),
    "partner_private": Role(vendors=[PARTNER], see_reviewers=False),
    "privacy": Role(see_reviewers=False),
}
CONFIG = Config(roles=ROLES)
DEC = [c for c, _, _ in DECISION_COLUMNS]
AUD = [c for c, _, _ in AUDIT_COLUMNS]
CAL = [c for c, _, _ in CALIBRATION_COLUMNS]
LABELS = ["approve", "remove", "limit", "escalate", "age_gate"]
ACTIONING = {"remove", "limit", "age_gate"}
ERROR_TYPES = ["over_enforcement", "under_enforcement", "wrong_policy", "wrong_action"]

# Per vendor: id prefix, sites, markets, workflows, policies, the folder of its files, its
# comments' prefix, its QA auditors, decisions, and days its feed has been silent.
VENDORS: dict[str, dict[str, Any]] = {
    PARTNER: dict(
        prefix="NW", sites=["nw_berlin", "nw_lisbon"], markets=["de_DE", "pt_PT"],
        workflows=["hate_speech", "graphic_violence"], policies=["HS1", "HS2", "GV1"],
        folder="NW-SERVER-DIR", comment="NW-COMMENT", auditors=["qa-1", "qa-2", "qa-3"], n=1400,
    ),
    OTHER: dict(
        prefix="OTHER", sites=["OTHER-SITE-a", "OTHER-SITE-b"], markets=["de_DE", "OTHER-MKT"],
        workflows=["hate_speech", "graphic_violence", "other_only_wf"],
        policies=["HS1", "OTHER-POL"], folder="SECRET-PATH-DIR", comment="SECRET-COMMENT",
        auditors=["OTHER-QA-1", "OTHER-QA-2"], n=1400,
    ),
    "internal": dict(
        prefix="INTERNAL", sites=["INTERNAL-SITE"], markets=["INTERNAL-MKT"],
        workflows=["hate_speech"], policies=["HS1"], folder="INTERNAL-DIR",
        comment="INTERNAL-COMMENT", auditors=["INTERNAL-QA"], n=300, stale_days=4,
    ),
}  # fmt: skip

# What each role must never see. Every restricted role: no directory of the server. A vendor
# role: nothing of another vendor (the internal one included). No access to people: no
# reviewer or rater id, comment or raw row content of anyone.
_SERVER = r"NW-SERVER-DIR|SECRET-PATH-DIR|INTERNAL-DIR|bpo_scope_prop_"
_OTHERS = r"OTHER|othervendor|other_only|SECRET|INTERNAL|\binternal\b"
_PEOPLE = r"-REV-|RATER-|EXPERT-|COMMENT-|RAWONLY"
FORBIDDEN = {
    "partner": re.compile("|".join([_SERVER, _OTHERS])),
    "partner_private": re.compile("|".join([_SERVER, _OTHERS, _PEOPLE])),
    "privacy": re.compile("|".join([_SERVER, _PEOPLE])),
}
RESTRICTED = list(FORBIDDEN)
KEY = "property-test-pseudonym-key-0123456789"


# --- the database --------------------------------------------------------------------------


def _ts(value: dt.datetime | None) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


def _decisions(vendor: str, rng: np.random.Generator) -> pd.DataFrame:
    spec = VENDORS[vendor]
    p = spec["prefix"]
    start = dt.datetime.combine(FIRST, dt.time(), tzinfo=UTC).timestamp()
    # (the internal vendor's feed stopped: a stale-data alert the partner must not get)
    end = (AS_OF - dt.timedelta(days=spec.get("stale_days", 0), hours=2)).timestamp()
    rows = []
    for i in range(spec["n"]):
        enq = dt.datetime.fromtimestamp(float(rng.uniform(start, end)), UTC)
        decided: dt.datetime | None = enq + dt.timedelta(minutes=float(rng.lognormal(4, 1.2)))
        if rng.random() < 0.06 or decided > AS_OF:
            decided = None
        label = str(rng.choice(LABELS)) if decided else ""
        wf = str(rng.choice(spec["workflows"]))
        rows.append(
            {
                "decision_id": f"{p}-DEC-{i:05d}",
                "item_id": f"{p}-ITEM-{i:05d}",
                "vendor": vendor,
                "site": str(rng.choice(spec["sites"])),
                "workflow": wf,
                "market": str(rng.choice(spec["markets"])),
                "priority": str(rng.choice(["p0", "p1", "p2"])),
                "reviewer_id": f"{p}-REV-{int(rng.integers(1, 9)):02d}",
                "decision": label,
                "policy": str(rng.choice(spec["policies"])) if label in ACTIONING else "",
                "enqueued_at": _ts(enq),
                "claimed_at": _ts(enq + dt.timedelta(minutes=1)),
                "decided_at": _ts(decided),
                "due_at": _ts(enq + dt.timedelta(hours=int(rng.choice([1, 4, 24])))),
                "updated_at": "",
            }
        )
    return pd.DataFrame(rows, columns=DEC)


def _audits(vendor: str, decisions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    spec = VENDORS[vendor]
    rows = []
    decided = decisions[decisions["decided_at"] != ""]
    for k, rec in enumerate(decided.sample(frac=0.3, random_state=1).to_dict("records")):
        wrong = rng.random() < 0.15
        qa = (
            str(rng.choice([x for x in LABELS if x != rec["decision"]]))
            if wrong
            else rec["decision"]
        )
        audited = dt.datetime.fromisoformat(rec["decided_at"]) + dt.timedelta(hours=5)
        rows.append(
            {
                "audit_id": f"{spec['prefix']}-AUD-{k:05d}",
                "decision_id": rec["decision_id"],
                "auditor_id": str(rng.choice(spec["auditors"])),
                "audited_at": _ts(min(audited, AS_OF - dt.timedelta(minutes=5))),
                "qa_decision": qa,
                "qa_policy": rec["policy"] if qa == rec["decision"] else "",
                "error_type": str(rng.choice(ERROR_TYPES)) if wrong and rng.random() < 0.2 else "",
                "severity": "critical" if wrong and rng.random() < 0.3 else "",
                "dispute_status": "pending" if wrong and rng.random() < 0.2 else "",
                "comment": f"{spec['comment']}-{k}" if rng.random() < 0.5 else "",
                "updated_at": "",
            }
        )
    # An orphan: QA audited a decision that never arrived.
    rows.append(
        {
            **rows[0],
            "audit_id": f"{spec['prefix']}-AUD-orphan",
            "decision_id": f"{spec['prefix']}-DEC-ghost",
            "comment": f"{spec['comment']}-orphan",
        }
    )
    return pd.DataFrame(rows, columns=AUD)


def _calibration() -> dict[str, pd.DataFrame]:
    """Per file's vendor: a shared session (both vendors' raters, the internal golden expert
    and an internal non-golden rater; one item only the other vendor rated), one rated by
    northwind only and one by the other vendor only."""
    rng = np.random.default_rng(5)
    rows = []
    sessions = [
        ("CAL-SHARED-1", dt.date(2026, 3, 10), "hate_speech", [PARTNER, OTHER]),
        ("CAL-NW-2", dt.date(2026, 3, 17), "graphic_violence", [PARTNER]),
        ("OTHER-SESSION-3", dt.date(2026, 3, 17), "hate_speech", [OTHER]),
    ]
    for session, day, wf, vendors in sessions:
        items = [(f"CAL-ITEM-{session[-1]}-{i}", vendors) for i in range(6)]
        if len(vendors) > 1:
            items.append((f"OTHER-ITEM-CAL-{session[-1]}", [OTHER]))
        for item, raters in items:
            golden = str(rng.choice(LABELS[:3]))
            people = [
                ("internal", "INTERNAL-EXPERT-1", True),
                ("internal", "INTERNAL-RATER-2", False),
            ]
            for v in raters:
                p = VENDORS[v]["prefix"]
                people += [(v, f"{p}-RATER-{r}", False) for r in range(3)]
            for vendor, rater, is_golden in people:
                agree = is_golden or rng.random() < 0.7
                rows.append(
                    {
                        "session_id": session, "session_date": day.isoformat(), "workflow": wf,
                        "item_id": item, "rater_id": rater, "vendor": vendor,
                        "label": golden if agree else str(rng.choice(LABELS[:3])),
                        "policy": "HS1", "is_golden": "true" if is_golden else "false",
                        "updated_at": "",
                    }
                )  # fmt: skip
    frame = pd.DataFrame(rows, columns=CAL)
    return {v: frame[frame["vendor"] == v] for v in VENDORS}


def _csv(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _build(root: Path) -> Path:
    rng = np.random.default_rng(14)
    db = root / "scope.duckdb"
    con = connect(db)
    cal = _calibration()
    try:
        for vendor, spec in VENDORS.items():
            folder = root / spec["folder"]
            dec = _decisions(vendor, rng)
            aud = _audits(vendor, dec, rng)
            p = spec["prefix"]
            first = dec.copy()
            edited = first["decision_id"].isin(aud["decision_id"]) & (first["decision"] != "")
            edited_ids = list(first.loc[edited, "decision_id"][:5])
            # A rejected row (its raw content names the vendor's people) and a warning.
            bad = {**dec.iloc[0].to_dict(), "decision_id": f"{p}-DEC-bad", "decision": "nuke",
                   "reviewer_id": f"{p}-REV-RAWONLY"}  # fmt: skip
            warn = {**dec.iloc[1].to_dict(), "decision_id": f"{p}-DEC-warn",
                    "claimed_at": "0001-01-01T00:00:00Z"}  # fmt: skip
            loaded = pd.concat([first, pd.DataFrame([bad, warn])], ignore_index=True)
            files = _csv(folder, f"{vendor}_decisions.csv", loaded)
            ingest_files(con, "decisions", [files], config=CONFIG, vendor=vendor)
            ingest_files(con, "audits", [_csv(folder, f"{vendor}_qa.csv", aud)], config=CONFIG)
            # Decisions changed after QA audited them (edits after audit).
            later = dec[dec["decision_id"].isin(edited_ids)].copy()
            later["decision"] = [
                "approve" if d != "approve" else "remove" for d in later["decision"]
            ]
            later["policy"] = ["" if d == "approve" else "HS2" for d in later["decision"]]
            fix = _csv(folder, f"{vendor}_corrections.csv", later)
            ingest_files(con, "decisions", [fix], config=CONFIG, vendor=vendor)
            # A file that fails whole: its error names the file's path.
            broken = _csv(folder, f"{vendor}_broken.csv", dec.drop(columns="enqueued_at").head(3))
            with pytest.raises(IngestError):
                ingest_files(con, "decisions", [broken], config=CONFIG, vendor=vendor)
            part = cal[vendor]
            ingest_files(con, "calibration", [_csv(folder, f"{vendor}_cal.csv", part)],
                         config=CONFIG, vendor=vendor)  # fmt: skip
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def gateways() -> Iterator[dict[str, Gateway]]:
    root = Path(tempfile.mkdtemp(prefix="bpo_scope_prop_"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PSEUDONYM_KEY_ENV, KEY)
        try:
            db = _build(root)
            gws = {role: Gateway(db, config=CONFIG, role=role) for role in ROLES}
            try:
                yield gws
            finally:
                for gw in gws.values():
                    gw.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --- scanning results --------------------------------------------------------------------------


def texts(value: Any) -> Iterator[str]:
    """Every text a result holds: column names, index and cells of frames, the fields of
    dataclasses (a review, a summary, a snapshot), nested lists, tuples and dicts."""
    if isinstance(value, pd.DataFrame):
        yield from (str(c) for c in value.columns)
        for column in value.columns:
            for cell in value[column].tolist():
                yield from texts(cell)
        yield from texts(list(value.index))
    elif isinstance(value, pd.Series):
        yield str(value.name)
        yield from texts(value.tolist())
        yield from texts(list(value.index))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from texts(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from texts(v)
    elif isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        for v in value:
            yield from texts(v)
    else:
        yield str(value)


def assert_no_leak(role: str, name: str, result: Any) -> None:
    pattern = FORBIDDEN[role]
    found = sorted({t for t in texts(result) if pattern.search(t)})
    assert not found, f"{name} shows {role} what it may not see: {found[:10]}"


# --- what a caller can ask for -----------------------------------------------------------------

# Values a filter or a URL parameter can name: the role's own, other vendors', the internal
# vendor's, and made-up ones.
POOL: dict[str, list[str]] = {
    "vendor": [PARTNER, OTHER, "internal", "nobody"],
    "site": ["nw_berlin", "OTHER-SITE-a", "INTERNAL-SITE"],
    "workflow": ["hate_speech", "graphic_violence", "other_only_wf"],
    "market": ["de_DE", "pt_PT", "OTHER-MKT", "INTERNAL-MKT"],
    "priority": ["p0", "p1", "p2", "p9"],
    "policy": ["HS1", "HS2", "GV1", "OTHER-POL"],
    "reviewer_id": ["NW-REV-01", "NW-REV-02", "OTHER-REV-01", "INTERNAL-REV-01", "r-00000000"],
}
SESSIONS = ["CAL-SHARED-1", "CAL-NW-2", "OTHER-SESSION-3", "nope"]
dates = st.one_of(st.none(), st.dates(FIRST - dt.timedelta(days=10), LAST + dt.timedelta(days=3)))


@st.composite
def queries(draw: st.DrawFn, by_max: int = 2) -> KpiQuery:
    by = draw(st.lists(st.sampled_from(DIMENSIONS), max_size=by_max, unique=True))
    where_dims = draw(st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True))
    where = {
        d: tuple(draw(st.lists(st.sampled_from(POOL[d]), min_size=1, max_size=3, unique=True)))
        for d in where_dims
    }
    start, end = draw(dates), draw(dates)
    if start and end and start > end:
        start, end = end, start
    kpis = draw(st.one_of(st.none(), st.lists(st.sampled_from(list(KPIS)), min_size=1,
                                              max_size=4, unique=True)))  # fmt: skip
    return KpiQuery(
        by=tuple(by),
        period=draw(st.sampled_from([None, "day", "week", "month"])),
        start=start,
        end=end,
        where=where,
        kpis=tuple(kpis) if kpis else None,
    )


@st.composite
def segments(draw: st.DrawFn) -> dict[str, str]:
    dims = draw(st.lists(st.sampled_from(GAP_DIMENSIONS), min_size=1, max_size=3, unique=True))
    return {d: draw(st.sampled_from(POOL[d])) for d in dims}


roles = pytest.mark.parametrize("role", RESTRICTED)
bounded = settings(
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing run stays short
    suppress_health_check=[HealthCheck.too_slow],
)


# --- fixed checks: the filter lists and the views as a partner sees them ----------------------


def test_the_database_holds_what_a_partner_must_not_see(gateways):
    """The markers are there for the unrestricted role: the scans below can find them."""
    admin = gateways["admin"]
    seen = " ".join(
        texts(
            [
                database_summary(admin, AS_OF),
                health.ingest_runs(admin),
                health.rejected_rows(admin),
                gaps.audited_decisions(admin, {"vendor": OTHER}, errors_only=False),
                calibration.ratings(admin),
            ]
        )
    )
    for marker in ["othervendor", "internal", "OTHER-REV-", "SECRET-COMMENT-", "SECRET-PATH-DIR",
                   "NW-SERVER-DIR", "INTERNAL-EXPERT-1", "INTERNAL-REV-", "RAWONLY"]:  # fmt: skip
        assert marker in seen, marker


@pytest.mark.parametrize("role", ["partner", "partner_private"])
def test_a_partner_filters_on_its_own_vendor_only(gateways, role):
    gw = gateways[role]
    summary = database_summary(gw, AS_OF)
    assert summary.values["vendor"] == (PARTNER,)
    assert "OTHER-MKT" not in summary.values["market"]
    assert "other_only_wf" not in summary.values["workflow"]
    assert summary.counts["calibration_ratings"] == 2 * 6 * 3  # its raters' ratings only
    assert set(health.freshness(gw, AS_OF)["vendor"]) == {PARTNER}
    alerts = monitor.alerts(gw, KpiQuery(start=LAST - dt.timedelta(days=27), end=LAST), LAST,
                            as_of=AS_OF)  # fmt: skip
    assert set(alerts["vendor"].dropna()) <= {PARTNER} and "stale_data" not in set(alerts["kind"])
    runs = health.ingest_runs(gw)
    assert set(runs["vendor"]) == {PARTNER}
    assert all("/" not in f for f in runs["file"])
    failed = runs[runs["status"] == "failed"]
    assert len(failed) == 1 and failed["error"].iat[0].startswith("northwind_broken.csv: ")
    assert_no_leak(role, "the views", [gw.frame(f"SELECT * FROM {t}") for t in (
        "decisions", "audit_facts", "qa_audits", "calibration_ratings", "ingest_runs",
        "rejected_rows", "ingest_warnings", "edits_after_audit", "decisions_history",
        "qa_audits_history", "calibration_ratings_history")])  # fmt: skip


@pytest.mark.parametrize("role", ["partner", "partner_private"])
def test_golden_answers_stay_the_reference_of_a_partners_raters(gateways, role):
    """Accuracy against the golden answer is the admin's number for the partner's raters."""
    gw, admin = gateways[role], gateways["admin"]
    sessions = ["CAL-SHARED-1", "CAL-NW-2"]
    mine = calibration.review(gw, sessions, n_boot=20)
    theirs = calibration.review(admin, sessions, (PARTNER,), n_boot=20)
    assert not mine.empty
    pd.testing.assert_series_equal(
        mine.by_session["accuracy"], theirs.by_session["accuracy"], check_names=False
    )
    assert mine.items["golden_label"].notna().all()
    assert set(mine.items["item_id"]) == {f"CAL-ITEM-{s}-{i}" for s in "12" for i in range(6)}
    assert calibration.review(gw, ["OTHER-SESSION-3"], n_boot=20).empty


def test_unrestricted_roles_keep_full_paths(gateways):
    runs = health.ingest_runs(gateways["admin"])
    assert all(Path(f).is_absolute() for f in runs["file"])


# --- properties ---------------------------------------------------------------------------------


@roles
@bounded
@given(query=queries(), counts=st.booleans(), time_keys=st.sampled_from([(), ("hour",)]))
def test_kpi_tables_and_comparisons(gateways, role, query, counts, time_keys):
    gw = gateways[role]
    assert_no_leak(role, "kpi_table", kpi_table(gw, query, AS_OF, counts=counts))
    if time_keys:  # the hour x weekday heatmap (events only: the backlog is a state)
        events = query.model_copy(update={"kpis": ("decisions", "tat_p90", "quality_score")})
        heat = kpi_table(gw, events, AS_OF, counts=counts, time_keys=time_keys)
        assert_no_leak(role, "kpi_table by time of week", heat)
    comparison = compare.vendor_comparison(gw, query, AS_OF)
    assert_no_leak(role, "vendor_comparison", comparison)
    assert_no_leak(role, "target_summary", compare.target_summary(comparison))
    assert_no_leak(role, "qa_coverage_adequacy", health.qa_coverage_adequacy(gw, query))
    trend = query.model_copy(
        update={"by": (), "period": query.period or "day", "kpis": ("audits", "quality_score")}
    )
    assert_no_leak(role, "quality_control", monitor.quality_control(gw, trend, AS_OF))
    assert_no_leak(role, "dispute_table", disputes.dispute_table(gw, query, AS_OF))
    assert_no_leak(role, "pending_disputes", disputes.pending_disputes(gw, query, AS_OF, 0.5))


@roles
@bounded
@given(
    query=queries(),
    segment=segments(),
    error_type=st.one_of(st.none(), st.sampled_from([*ERROR_TYPES, "other"])),
    reviewer=st.one_of(st.none(), st.sampled_from(POOL["reviewer_id"])),
    errors_only=st.booleans(),
    depth=st.integers(1, 2),
    min_audits=st.sampled_from([1, 5, 20]),
)
def test_gaps_and_drill_paths(
    gateways, role, query, segment, error_type, reviewer, errors_only, depth, min_audits
):
    """The Quality page's path: gaps, then a segment's error types, reviewers (overall and for
    one error type) and audited decisions, with segment and reviewer from the URL."""
    gw = gateways[role]
    base = query.model_copy(update={"by": (), "period": None})
    found = gaps.quality_gaps(gw, base, max_depth=depth, min_audits=min_audits,
                              include_explained=True)  # fmt: skip
    assert_no_leak(role, "quality_gaps", found)
    assert_no_leak(role, "error_types", gaps.error_types(gw, segment, base))
    reviewers = gaps.reviewer_outliers(gw, segment, base, min_audits=min_audits)
    assert_no_leak(role, "reviewer_outliers", reviewers)
    if error_type:
        outliers = gaps.reviewer_error_type_outliers(gw, segment, error_type, base)
        assert_no_leak(role, "reviewer_error_type_outliers", outliers)
    rows = gaps.audited_decisions(gw, segment, base, errors_only, error_type, reviewer)
    assert_no_leak(role, "audited_decisions", rows)
    if len(found):  # a drill-down from a gap row, as a click on it starts one
        row = found.iloc[0]
        seg = {d: row[d] for d in str(row["dimensions"]).split(",")}
        assert_no_leak(role, "audited_decisions", gaps.audited_decisions(gw, seg, base, False))


@roles
@bounded
@given(query=queries(by_max=1), day=st.dates(FIRST, LAST))
def test_turnaround(gateways, role, query, day):
    gw = gateways[role]
    assert_no_leak(role, "tat_histogram", tat.tat_histogram(gw, query))
    week = query.model_copy(update={"kpis": ("decisions", "sla_attainment", "tat_p90")})
    assert_no_leak(role, "time_of_week", tat.time_of_week(gw, week, AS_OF))
    assert_no_leak(role, "due_time_sources", tat.due_time_sources(gw, query))
    assert_no_leak(role, "backlog_ageing", tat.backlog_ageing(gw, query, AS_OF))


@roles
@bounded
@given(query=queries(by_max=0), day=st.dates(FIRST, LAST))
def test_monitor_and_alerts(gateways, role, query, day):
    gw = gateways[role]
    base = query.model_copy(update={"by": (), "period": None, "kpis": None})
    daily = monitor.daily(gw, base, day, as_of=AS_OF)
    assert_no_leak(role, "daily", daily)
    tiles = monitor.vendor_snapshot(gw, base, day, AS_OF)
    assert_no_leak(role, "vendor_snapshot", tiles)
    alerts = monitor.alerts(gw, base, day, as_of=AS_OF)
    assert_no_leak(role, "alerts", alerts)
    assert_no_leak(role, "readable_alerts", monitor.readable_alerts(alerts))
    assert_no_leak(role, "quality_findings", monitor.quality_findings(gw, base, day, AS_OF))
    start = base.start if base.start and base.start <= day else None
    assert_no_leak(role, "alert_window", monitor.alert_window(gw, day, start))


@roles
@bounded
@given(
    run=st.one_of(st.none(), st.integers(1, 20)),
    status=st.sampled_from([None, "ok", "ok_with_rejects", "failed"]),
    limit=st.sampled_from([1, 5, 200]),
)
def test_data_health(gateways, role, run, status, limit):
    """Runs, rejects and warnings of every run id (other vendors' runs named in the URL)."""
    gw = gateways[role]
    assert_no_leak(role, "database_summary", database_summary(gw, AS_OF))
    assert_no_leak(role, "ingest_runs", health.ingest_runs(gw, limit, status))
    assert_no_leak(role, "unfinished_runs", health.unfinished_runs(gw))
    assert_no_leak(role, "rejected_rows", health.rejected_rows(gw, run, limit))
    assert_no_leak(role, "rejection_reasons", health.rejection_reasons(gw))
    assert_no_leak(role, "ingest_warnings", health.ingest_warnings(gw, run, limit))
    assert_no_leak(role, "warning_summary", health.warning_summary(gw))
    assert_no_leak(role, "edits_after_audit", health.edits_after_audit(gw, limit))
    assert_no_leak(role, "vendor_integrity", health.vendor_integrity(gw))
    assert_no_leak(role, "orphan_audits", health.orphan_audits(gw, limit))
    assert_no_leak(role, "freshness", health.freshness(gw, AS_OF))
    assert_no_leak(role, "implausible_values", health.implausible_values(gw))
    assert_no_leak(role, "audits_complete_through", monitor.audits_complete_through(gw, AS_OF))


@roles
@bounded
@given(
    picked=st.lists(st.sampled_from(SESSIONS), max_size=3, unique=True),
    trend=st.lists(st.sampled_from(SESSIONS), max_size=2, unique=True),
    vendors=st.lists(st.sampled_from(POOL["vendor"]), max_size=2, unique=True),
    vendor=st.one_of(st.none(), st.sampled_from(POOL["vendor"])),
    workflow=st.one_of(st.none(), st.sampled_from(POOL["workflow"])),
    start=dates,
    end=dates,
)
def test_calibration(gateways, role, picked, trend, vendors, vendor, workflow, start, end):
    """The Calibration page and `bpo-kpi calibration`: sessions named in the URL (another
    vendor's too), vendor pickers naming other vendors."""
    gw = gateways[role]
    choices = calibration.session_choices(gw, start, end, (workflow,) if workflow else (),
                                          tuple(vendors))  # fmt: skip
    assert_no_leak(role, "session_choices", choices)
    assert_no_leak(role, "sessions", calibration.sessions(gw, workflow))
    review = calibration.review(gw, picked, vendors, trend, n_boot=10)
    # (`sessions` and `vendors` repeat what was asked: the tables are what was found)
    assert_no_leak(role, "review", dataclasses.replace(review, sessions=(), vendors=()))
    frame = calibration.ratings(gw, picked or None, workflow, vendor, start, end)
    assert_no_leak(role, "ratings", frame)
    if (~frame["is_golden"]).any():
        assert_no_leak(role, "summary", calibration.summary(frame, n_boot=10))
        assert_no_leak(role, "items", calibration.items(frame, 0.6))
        assert_no_leak(role, "rater_accuracy", calibration.rater_accuracy(frame))
        assert_no_leak(role, "confusion", calibration.confusion(frame))


@roles
@settings(bounded, max_examples=3)
@given(
    day=st.dates(FIRST + dt.timedelta(days=7), LAST),
    where=st.dictionaries(
        st.sampled_from(["vendor", "workflow", "market"]),
        st.sampled_from([(PARTNER,), (OTHER,), ("internal",), ("de_DE",), ("hate_speech",)]),
        max_size=1,
    ),  # fmt: skip
    weekly=st.booleans(),
)
def test_export_snapshot(gateways, role, day, where, weekly):
    """What leaves the tool (every export format writes these tables and this manifest)."""
    gw = gateways[role]
    period = week_period(day) if weekly else custom_period(day - dt.timedelta(days=6), day)
    where = {d: v for d, v in where.items() if d in ("vendor", "workflow", "market")}
    built = snapshot.build(gw, period, where, trend_weeks=2)
    del built.manifest["scope"]["filters"]  # the filters asked for, repeated
    assert_no_leak(role, "snapshot", built)
