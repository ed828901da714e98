"""Seeded canonical test data for the KPI tests, ingested once per session through `ingest`.

`kpi_data` (session scope) holds the *final* canonical rows the database should contain (the
oracle in test_kpis.py computes every KPI from them) and the path of a database built from them
the hard way: audits before their decisions, pending items decided by a later file, corrected
labels, per-vendor files with a rejected row each, calibration sessions with internal golden
answers. Timestamps in the rows are aware UTC datetimes; `due_at` is the queue's (None when the
queue stamped none: the SLA then comes from configuration).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bpo_kpi.config import Config, Role, Targets, TargetValues, WorkflowTargets
from bpo_kpi.db import AUDIT_COLUMNS, CALIBRATION_COLUMNS, DECISION_COLUMNS, connect, ensure_schema
from ingest import ingest_files

UTC = dt.UTC
TZ = "America/New_York"
NY = ZoneInfo(TZ)
DEC_COLS = [c for c, _, _ in DECISION_COLUMNS]
AUD_COLS = [c for c, _, _ in AUDIT_COLUMNS]
CAL_COLS = [c for c, _, _ in CALIBRATION_COLUMNS]

VENDORS = {
    "meridian": ["manila", "cebu"],
    "pacifica": ["bogota", "lima"],
    "rheinwerk": ["berlin", "essen"],
}
WORKFLOWS = ["hate_speech", "graphic_violence", "critical_harms"]
POLICIES = {wf: [f"{wf[:2]}_{i}" for i in range(1, 4)] for wf in WORKFLOWS}
MARKETS = ["en", "es", "de", "pt"]
LABELS = ["approve", "remove", "limit", "escalate", "age_gate"]
LABEL_P = [0.45, 0.3, 0.1, 0.08, 0.07]
ACTIONING = {"remove", "limit", "age_gate"}
SOLO = "rheinwerk-essen-solo"  # one label only, QA always agrees: kappa undefined
IDLE = "meridian-cebu-idle"  # pending items only: backlog without decisions

CONFIG = Config(
    reporting_timezone=TZ,
    roles={
        "admin": Role(),
        "meridian_lead": Role(vendors=["meridian"]),
        "privacy": Role(see_reviewers=False),
    },
    targets=Targets(
        workflows={
            "graphic_violence": WorkflowTargets(
                sla_minutes={"p1": 120},
                vendors={"meridian": TargetValues(sla_minutes={"p2": 600})},
            )
        }
    ),
)
CONFIG_TOML = """
reporting_timezone = "America/New_York"
[roles.admin]
[roles.meridian_lead]
vendors = ["meridian"]
[roles.privacy]
see_reviewers = false
[targets.workflows.graphic_violence]
sla_minutes = { p1 = 120 }
[targets.workflows.graphic_violence.vendors.meridian]
sla_minutes = { p2 = 600 }
"""

AS_OF = dt.datetime(2026, 3, 25, 15, 30, tzinfo=UTC)  # a Wednesday, 11:30 in New York


def local(*args: int) -> dt.datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


# Decision times right at local period boundaries (midnights, Sunday/Monday, month, DST), and at
# UTC midnights (19:00/20:00 local: a UTC-vs-local mix-up would move them a day).
BOUNDARIES = [
    local(2026, 3, 1, 23, 59, 59),
    local(2026, 3, 2),
    local(2026, 2, 28, 23, 59, 59),
    local(2026, 3, 1),
    local(2026, 3, 7, 23, 59, 59),
    local(2026, 3, 8),
    local(2026, 3, 8, 3),
    local(2026, 3, 8, 23, 59, 59),
    local(2026, 3, 9),
    local(2026, 3, 15, 23, 59, 59),
    local(2026, 3, 16),
    local(2026, 3, 24),
    dt.datetime(2026, 3, 3, tzinfo=UTC),
    dt.datetime(2026, 3, 10, tzinfo=UTC),
    dt.datetime(2026, 3, 16, 4, 30, tzinfo=UTC),
]
# Local midnights used as enqueue / due instants of pending items (backlog at a period end E
# counts enqueued_at < E and due_at < E, strictly).
EDGE_MIDNIGHTS = [local(2026, 3, 5), local(2026, 3, 16), local(2026, 3, 17), local(2026, 3, 23)]


def derived_error(
    decision: str | None,
    policy: str | None,
    qa_decision: str,
    qa_policy: str | None,
    explicit: str | None,
) -> str | None:
    """Generation-side error type (to put disputes on error-typed audits only)."""
    if explicit is not None:
        return None if explicit == "none" else explicit
    if decision is None:
        return None
    va, qa = decision in ACTIONING, qa_decision in ACTIONING
    if va and not qa:
        return "over_enforcement"
    if qa and not va:
        return "under_enforcement"
    if va and qa_policy is not None and qa_policy != policy:
        return "wrong_policy"
    if va and decision != qa_decision:
        return "wrong_action"
    return None


def _pick(rng: np.random.Generator, values: Sequence[Any], p: Sequence[float] | None = None) -> Any:
    return values[int(rng.choice(len(values), p=p))]


def _ts(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


def generate(seed: int = 20260323, n: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Final canonical decisions and audits (see module docstring)."""
    rng = np.random.default_rng(seed)
    t0 = int(local(2026, 2, 23).timestamp())
    t1 = int((AS_OF - dt.timedelta(hours=1)).timestamp())
    reviewers = {
        (v, s): [f"{v}-{s}-r{k}" for k in range(4)] for v, sites in VENDORS.items() for s in sites
    }
    rows: list[dict[str, Any]] = []
    for i in range(n):
        vendor = _pick(rng, list(VENDORS))
        site = _pick(rng, VENDORS[vendor])
        wf = _pick(rng, WORKFLOWS)
        enq = int(rng.integers(t0, t1))
        tat = int(min(np.exp(rng.normal(4.3, 1.3)) * 60, 5 * 86400)) + 1
        decided: int | None = enq + tat
        if rng.random() < 0.07 or decided >= int(AS_OF.timestamp()):
            decided = None
        label = _pick(rng, LABELS, LABEL_P) if decided is not None else None
        policy = None
        if label in ACTIONING and rng.random() < 0.95:
            policy = _pick(rng, POLICIES[wf])
        claimed = None
        if rng.random() < 0.8:
            claimed = enq + int(rng.random() * (tat if decided is not None else 600))
        due = None
        if rng.random() < 0.4:
            due = enq + 60 * int(_pick(rng, [15, 60, 240, 720, 1440, 2880])) + int(rng.integers(60))
        rows.append(
            {
                "decision_id": f"d{i:05d}",
                "item_id": f"item-{i // 2:05d}",  # items reviewed in two workflows/vendors
                "vendor": vendor,
                "site": site if rng.random() > 0.03 else None,
                "workflow": wf,
                "market": _pick(rng, MARKETS) if rng.random() > 0.05 else None,
                "priority": _pick(rng, ["p0", "p1", "p2", "p3"]) if rng.random() > 0.03 else None,
                "reviewer_id": _pick(rng, reviewers[(vendor, site)]),
                "decision": label,
                "policy": policy,
                "enqueued_at": _ts(enq),
                "claimed_at": None if claimed is None else _ts(claimed),
                "decided_at": None if decided is None else _ts(decided),
                "due_at": None if due is None else _ts(due),
            }
        )
    # Decisions right at period boundaries (twice each, different random attributes).
    for j, when in enumerate(BOUNDARIES * 2):
        row = rows[10 * j + 3]
        enq_at = when - dt.timedelta(minutes=int(rng.integers(1, 600)))
        row.update(enqueued_at=enq_at, decided_at=when, claimed_at=enq_at + dt.timedelta(minutes=1))
        row["decision"] = row["decision"] or "approve"
        row["due_at"] = when if j % 3 == 0 else None  # decided exactly at due: SLA met
    # Pending items enqueued / due exactly at local midnights.
    for j, when in enumerate(EDGE_MIDNIGHTS):
        a, b = rows[10 * j + 7], rows[10 * j + 8]
        a.update(enqueued_at=when, decided_at=None, decision=None, policy=None, claimed_at=None)
        a["due_at"] = None
        b.update(decided_at=None, decision=None, policy=None, claimed_at=None, due_at=when)
        b["enqueued_at"] = when - dt.timedelta(hours=5)
    # A reviewer with a single label that QA always confirms, and one with only pending items.
    for k in range(6):
        enq_at = local(2026, 3, 3 + 2 * k, 10)
        rows.append(
            {
                **rows[0],
                "decision_id": f"solo-{k}",
                "vendor": "rheinwerk",
                "site": "essen",
                "reviewer_id": SOLO,
                "decision": "approve",
                "policy": None,
                "enqueued_at": enq_at,
                "claimed_at": None,
                "decided_at": enq_at + dt.timedelta(minutes=30 + k),
                "due_at": None,
            }
        )
    for k in range(4):
        enq_at = local(2026, 3, 2 + 5 * k, 9)
        rows.append(
            {
                **rows[1],
                "decision_id": f"idle-{k}",
                "vendor": "meridian",
                "site": "cebu",
                "reviewer_id": IDLE,
                "decision": None,
                "policy": None,
                "enqueued_at": enq_at,
                "claimed_at": None,
                "decided_at": None,
                "due_at": enq_at + dt.timedelta(hours=1) if k % 2 else None,
            }
        )
    decisions = pd.DataFrame(rows, columns=DEC_COLS)

    audits: list[dict[str, Any]] = []
    for row in rows:
        decided = row["decided_at"]
        if row["reviewer_id"] == SOLO:
            n_aud = 1
        elif decided is None:
            n_aud = int(rng.random() < 0.02)  # QA looked at an item the vendor has not closed
        else:
            n_aud = int(rng.random() < 0.3) * (1 + int(rng.random() < 0.1))
        for _ in range(n_aud):
            audits.append(_audit(rng, len(audits), row))
    for k in range(8):  # orphans: the decision never arrives
        ghost = {**rows[k], "decision_id": f"ghost-{k}"}
        audits.append(_audit(rng, len(audits), ghost))
    return decisions, pd.DataFrame(audits, columns=AUD_COLS)


def _audit(rng: np.random.Generator, k: int, row: dict[str, Any]) -> dict[str, Any]:
    label, policy, wf = row["decision"], row["policy"], row["workflow"]
    if row["reviewer_id"] == SOLO:
        qa = "approve"
    elif label is not None and rng.random() < 0.8:
        qa = label
    else:
        qa = _pick(rng, [x for x in LABELS if x != label])
    qa_policy = None
    if qa in ACTIONING and rng.random() < 0.9:
        same = label in ACTIONING and policy is not None and rng.random() < 0.8
        qa_policy = policy if same else _pick(rng, POLICIES[wf])
    explicit = None
    if row["reviewer_id"] != SOLO and rng.random() < 0.05:
        explicit = _pick(
            rng, ["over_enforcement", "under_enforcement", "wrong_policy", "wrong_action", "none"]
        )
    et = derived_error(label, policy, qa, qa_policy, explicit)
    dispute = None
    if et is not None:
        dispute = _pick(
            rng, [None, "none", "pending", "upheld", "overturned"], [0.55, 0.1, 0.1, 0.1, 0.15]
        )
    base = row["decided_at"] or row["enqueued_at"]
    audited_at = base + dt.timedelta(minutes=int(rng.integers(30, 4000)))
    # Dispute times from the audit's number, not from `rng` (the other columns keep their
    # values): some disputes without a time, some "resolved" before they were raised.
    disputed_at = resolved_at = None
    if dispute in ("pending", "upheld", "overturned") and k % 11:
        disputed_at = audited_at + dt.timedelta(hours=2 + (k * 37) % 70)
        if dispute != "pending":
            took = dt.timedelta(minutes=(k * 7919) % (10 * 1440))
            resolved_at = disputed_at - took if k % 13 == 0 else disputed_at + took
    return {
        "audit_id": f"a{k:05d}",
        "decision_id": row["decision_id"],
        "auditor_id": f"qa-{int(rng.integers(1, 7))}",
        "audited_at": audited_at,
        "qa_decision": qa,
        "qa_policy": qa_policy,
        "error_type": explicit,
        "severity": _pick(rng, ["critical", "major", "minor"]) if rng.random() < 0.1 else None,
        "dispute_status": dispute,
        "disputed_at": disputed_at,
        "dispute_resolved_at": resolved_at,
        "comment": _pick(rng, [None, "ok", "missed slur", 'reviewer\'s call, "borderline"']),
    }


def generate_calibration() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for s, (day, wf) in enumerate(
        [(dt.date(2026, 3, 2), "hate_speech"), (dt.date(2026, 3, 9), "graphic_violence")]
    ):
        for item in range(5):
            raters = [("internal", "expert-1", True), ("internal", "expert-2", False)]
            raters += [
                (v, f"{v}-{s}-cal{r}", False) for v in ("meridian", "pacifica") for r in range(3)
            ]
            for vendor, rater, golden in raters:
                rows.append(
                    {
                        "session_id": f"cal-{s}",
                        "session_date": day,
                        "workflow": wf,
                        "item_id": f"cal-item-{s}-{item}",
                        "rater_id": rater,
                        "vendor": vendor,
                        "label": _pick(rng, LABELS[:3]),
                        "policy": None,
                        "is_golden": golden,
                    }
                )
    return pd.DataFrame(rows, columns=CAL_COLS)


# --- writing and ingesting files ---------------------------------------------------------------

_OFFSETS = [dt.timedelta(0), dt.timedelta(hours=-5), dt.timedelta(hours=5, minutes=30)]


def write_decisions_csv(path: Path, frame: pd.DataFrame, extra: Sequence[dict] = ()) -> Path:
    """Canonical CSV; timestamps as ISO 8601 with assorted offsets (same instants)."""
    out = frame.copy().astype(object)
    for i, col in enumerate(["enqueued_at", "claimed_at", "decided_at", "due_at"]):
        tz = dt.timezone(_OFFSETS[i % len(_OFFSETS)])
        out[col] = [None if pd.isna(v) else v.astimezone(tz).isoformat() for v in frame[col]]
    if extra:
        out = pd.concat([out, pd.DataFrame(list(extra), columns=DEC_COLS)], ignore_index=True)
    out.to_csv(path, index=False)
    return path


def write_audits_parquet(path: Path, frame: pd.DataFrame) -> Path:
    fields = [
        pa.field(c, pa.timestamp("us", tz="UTC") if t == "TIMESTAMPTZ" else pa.string())
        for c, t, _ in AUDIT_COLUMNS
    ]
    data = {c: [None if pd.isna(v) else v for v in frame[c]] for c in AUD_COLS}
    pq.write_table(pa.table(data, schema=pa.schema(fields)), path)
    return path


def write_calibration_csv(path: Path, frame: pd.DataFrame) -> Path:
    out = frame.copy()
    out["is_golden"] = out["is_golden"].map({True: "true", False: "false"})
    out.to_csv(path, index=False)
    return path


IngestStep = tuple[str, Path, str | None]  # (kind, file, --vendor)


def ingest_steps(con: duckdb.DuckDBPyConnection, steps: Sequence[IngestStep]) -> None:
    for kind, path, vendor in steps:
        ingest_files(con, kind, [path], config=CONFIG, vendor=vendor)  # type: ignore[arg-type]


def memory_db(steps: Sequence[IngestStep]) -> duckdb.DuckDBPyConnection:
    """An in-memory database (UTC session) loaded by `steps`."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    ingest_steps(con, steps)
    return con


@dataclass
class KpiData:
    decisions: pd.DataFrame  # final canonical rows
    audits: pd.DataFrame
    # decision_id, decision, policy: the vendor label and policy the decision's audits are
    # scored against (the first decided version; see ingest.load)
    scored: pd.DataFrame
    calibration: pd.DataFrame
    db: Path
    config_file: Path
    config: Config = CONFIG
    as_of: dt.datetime = AS_OF
    # helpers shared with the test modules (conftest is not importable under importlib mode)
    write_decisions_csv: Callable[..., Path] = write_decisions_csv
    write_audits_parquet: Callable[..., Path] = write_audits_parquet
    memory_db: Callable[..., duckdb.DuckDBPyConnection] = memory_db

    def scored_audits(self) -> pd.DataFrame:
        """Audits joined to their decisions, with the label and policy they are scored
        against."""
        joined = self.audits.merge(self.decisions, on="decision_id")
        pinned = self.scored.set_index("decision_id")
        joined["decision"] = joined["decision_id"].map(pinned["decision"])
        joined["policy"] = joined["decision_id"].map(pinned["policy"])
        return joined


@pytest.fixture(scope="session")
def kpi_data() -> Iterator[KpiData]:
    # Our own directory: pytest's numbered tmp dirs are pruned by concurrent pytest sessions.
    root = Path(tempfile.mkdtemp(prefix="bpo_kpi_test_"))
    try:
        yield _build(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _build(root: Path) -> KpiData:
    decisions, audits = generate()
    calibration = generate_calibration()
    rng = np.random.default_rng(11)

    # v1: every decision; some decided ones still pending, some with a label corrected later.
    decided = decisions.index[
        decisions["decided_at"].notna() & decisions["decision_id"].str.startswith("d")
    ]
    late = rng.choice(decided, 150, replace=False)
    rest = np.setdiff1d(decided, late)
    fixed = rng.choice(rest, 60, replace=False)
    v1 = decisions.copy()
    v1.loc[late, ["decision", "policy", "decided_at", "claimed_at"]] = None
    v1.loc[fixed, "decision"] = [
        "approve" if x in ACTIONING else "remove" for x in v1.loc[fixed, "decision"]
    ]
    v1.loc[fixed, "policy"] = [
        POLICIES[wf][0] if x in ACTIONING else None
        for wf, x in zip(v1.loc[fixed, "workflow"], v1.loc[fixed, "decision"], strict=True)
    ]
    changed = decisions.loc[np.concatenate([late, fixed])]

    split = rng.random(len(audits)) < 0.5
    first = audits[split | audits["decision_id"].str.startswith("ghost")]
    second = audits.drop(first.index)
    steps: list[IngestStep] = [
        ("audits", write_audits_parquet(root / "audits_1.parquet", first), None),
        ("decisions", write_decisions_csv(root / "decisions_v1.csv", v1), None),
        ("audits", write_audits_parquet(root / "audits_2.parquet", second), None),
    ]
    for vendor in VENDORS:  # per-vendor corrections, each with one row rejected
        bad = {
            **dict.fromkeys(DEC_COLS),
            "decision_id": f"bad-{vendor}",
            "item_id": "x",
            "vendor": vendor,
            "workflow": "hate_speech",
            "reviewer_id": "r",
            "decision": "nuke",
            "enqueued_at": "2026-03-02T10:00:00Z",
            "decided_at": "2026-03-02T11:00:00Z",
        }
        path = write_decisions_csv(
            root / f"decisions_v2_{vendor}.csv", changed[changed["vendor"] == vendor], [bad]
        )
        steps.append(("decisions", path, vendor))
    for vendor in ("internal", "meridian", "pacifica"):
        part = calibration[calibration["vendor"] == vendor]
        steps.append(
            ("calibration", write_calibration_csv(root / f"cal_{vendor}.csv", part), vendor)
        )

    db = root / "kpi.duckdb"
    con = connect(db)
    try:
        ingest_steps(con, steps)
    finally:
        con.close()
    config_file = root / "config.toml"
    config_file.write_text(CONFIG_TOML, encoding="utf-8")
    assert Config.model_validate(tomllib.loads(CONFIG_TOML)) == CONFIG
    # Audits are scored against the first decided version: v1's label where v1 decided the
    # item (the later corrections are edits after audit), else the final one.
    first = v1.loc[v1["decision"].notna(), ["decision_id", "decision", "policy"]]
    later = decisions.loc[
        ~decisions["decision_id"].isin(first["decision_id"]), ["decision_id", "decision", "policy"]
    ]
    scored = pd.concat([first, later], ignore_index=True)
    return KpiData(decisions, audits, scored, calibration, db, config_file)
