"""Quality gaps (kpi.gaps) on the seeded sample data and on a tiny hand-made database.

Sample data: `generate(seed=42, decisions=200_000)` written as canonical Parquet and ingested;
every number asserted about the injected gaps is recomputed here with pandas from the generated
frames (docs/ARCHITECTURE.md §2 error types, `is_error` = error type and dispute not overturned).

Tiny database: a few hundred rows written by hand (as code) whose gap list is known exactly,
checked against the hand answer and against an independent oracle of docs/ARCHITECTURE.md §3
(segments of dimension combinations, Wilson lower bound > target error rate, excess errors =
decisions x (error_rate - target), and the `explained_by` rule).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, fisher_exact

from bpo_kpi.config import Config, Targets, WorkflowTargets
from bpo_kpi.db import AUDIT_COLUMNS, DECISION_COLUMNS, connect
from ingest import ingest_files
from kpi.gaps import (
    EXPLAINED_SHARE,
    audited_decisions,
    error_types,
    quality_gaps,
    reviewer_error_type_outliers,
    reviewer_outliers,
    segment_label,
)
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from sample_data import SampleData, generate, load_canonical

CONFIG = Config()
ACTIONING = set(CONFIG.actioning_labels)
Z95 = 1.959963984540054
DEC_COLS = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD_COLS = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]


def wilson(errors: float, n: float) -> tuple[float, float]:
    """Closed-form Wilson 95% score interval (independent of statsmodels)."""
    if n == 0:
        return math.nan, math.nan
    p = errors / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --- sample data -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleData, Path]:
    """The default sample world ingested into a fresh database."""
    root = tmp_path_factory.mktemp("gaps_sample")
    data = generate(seed=42, decisions=200_000)
    db = root / "sample.duckdb"
    load_canonical(data, root / "files", db, config=CONFIG)
    return data, db


@pytest.fixture(scope="module")
def gw(sample: tuple[SampleData, Path]) -> Iterator[Gateway]:
    gateway = Gateway(sample[1], config=CONFIG)
    yield gateway
    gateway.close()


@pytest.fixture(scope="module")
def audited(sample: tuple[SampleData, Path]) -> pd.DataFrame:
    """Non-orphan audits of decided decisions with their decision's attributes and `is_error`."""
    data = sample[0]
    j = data.qa_audits.merge(data.decisions, on="decision_id", how="inner")
    j = j[j["decided_at"].notna()].copy()
    d_act = j["decision"].isin(ACTIONING)
    q_act = j["qa_decision"].isin(ACTIONING)
    both = d_act & q_act
    derived = np.select(
        [
            d_act & ~q_act,
            ~d_act & q_act,
            both & j["qa_policy"].notna() & (j["policy"] != j["qa_policy"]),
            both & (j["decision"] != j["qa_decision"]),
        ],
        ["over_enforcement", "under_enforcement", "wrong_policy", "wrong_action"],
        "",
    )
    explicit = j["error_type"].astype(object).where(j["error_type"].notna(), None)
    j["etype"] = [
        e if e is not None else (d or None) for e, d in zip(explicit, derived, strict=True)
    ]
    j["etype"] = j["etype"].replace({"none": None})
    j["is_error"] = j["etype"].notna() & (j["dispute_status"] != "overturned")
    return j


def _gap_manifest(data: SampleData, kind: str) -> dict[str, Any]:
    return next(g for g in data.manifest["gaps"] if g["kind"] == kind)


def _in_segment(frame: pd.DataFrame, segment: dict[str, str]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for k, v in segment.items():
        mask &= frame[k] == v
    return mask


def test_injected_gap_ranks_first_with_exact_numbers(sample, gw, audited):
    data, _ = sample
    gap = _gap_manifest(data, "under_enforcement")
    segment = gap["dimensions"]
    gaps = quality_gaps(gw)
    top = gaps.iloc[0]
    assert top["segment"] == segment_label(segment)
    assert top["segment"] == "vendor=meridian, workflow=graphic_violence, market=es_MX"
    assert top["dimensions"] == "vendor,workflow,market"

    decided = data.decisions[data.decisions["decided_at"].notna()]
    want_decisions = int(_in_segment(decided, segment).sum())
    seg_audits = audited[_in_segment(audited, segment)]
    want_audits, want_errors = len(seg_audits), int(seg_audits["is_error"].sum())
    assert (top["decisions"], top["audits"], top["errors"]) == (
        want_decisions,
        want_audits,
        want_errors,
    )
    assert (want_decisions, want_audits, want_errors) == (6321, 308, 47)  # seed 42, pinned

    target = 1 - CONFIG.targets.resolve("graphic_violence", "meridian").quality
    assert top["target_error_rate"] == pytest.approx(target) == pytest.approx(0.05)
    rate = want_errors / want_audits
    assert top["error_rate"] == pytest.approx(rate)
    low, high = wilson(want_errors, want_audits)
    assert top["error_rate_low"] == pytest.approx(low, abs=1e-9)
    assert top["error_rate_high"] == pytest.approx(high, abs=1e-9)
    assert top["error_rate_low"] > top["target_error_rate"]
    assert top["excess_errors"] == pytest.approx(want_decisions * (rate - target))
    assert top["quality_score"] == pytest.approx(1 - rate)
    assert pd.isna(top["explained_by"])
    # Ranked by excess errors, and every listed gap is above target with confidence.
    assert gaps["excess_errors"].is_monotonic_decreasing
    assert (gaps["error_rate_low"] > gaps["target_error_rate"]).all()
    assert gaps["explained_by"].isna().all()
    # The parent segment with the same population is explained by the injected one.
    everything = quality_gaps(gw, include_explained=True)
    parent = everything[everything["segment"] == "workflow=graphic_violence, market=es_MX"]
    assert parent["explained_by"].tolist() == [top["segment"]]


def test_gap_disappears_before_its_period_start(sample, gw, audited):
    data, _ = sample
    gap = _gap_manifest(data, "under_enforcement")
    start = dt.date.fromisoformat(gap["period_start"])
    before = KpiQuery(end=start - dt.timedelta(days=1))
    everything = quality_gaps(gw, before, include_explained=True)
    assert not (everything["segment"] == segment_label(gap["dimensions"])).any()
    # ... while the segment still has audits then, with no confident excess over target.
    seg = audited[_in_segment(audited, gap["dimensions"])]
    early = seg[seg["decided_at"] < pd.Timestamp(start, tz="UTC")]
    assert len(early) == 119  # seed 42, pinned
    assert wilson(early["is_error"].sum(), len(early))[0] < 0.05
    # The same restriction from the period start on keeps it first.
    after = quality_gaps(gw, KpiQuery(start=start))
    assert after.iloc[0]["segment"] == segment_label(gap["dimensions"])
    late = seg[seg["decided_at"] >= pd.Timestamp(start, tz="UTC")]
    assert after.iloc[0]["errors"] == late["is_error"].sum()
    assert after.iloc[0]["audits"] == len(late)
    assert wilson(late["is_error"].sum(), len(late))[0] > 0.05


def _outliers_by_vendor(data: SampleData) -> dict[str, set[str]]:
    outliers = _gap_manifest(data, "reviewer_outlier")["dimensions"]["reviewer_id"]
    vendor_of = (
        data.decisions.drop_duplicates("reviewer_id").set_index("reviewer_id")["vendor"].to_dict()
    )
    by_vendor: dict[str, set[str]] = {}
    for r in outliers:
        by_vendor.setdefault(vendor_of[r], set()).add(r)
    return by_vendor


VENDORS = ("apex_bpo", "meridian", "northwind", "tessera")


def test_outlier_vendors(sample, gw):
    by_vendor = _outliers_by_vendor(sample[0])
    assert sum(len(v) for v in by_vendor.values()) == 4
    assert "meridian" not in by_vendor  # kept apart from the under-enforcement gap
    # The injected outliers stand out. (Each one's realized audits are a random sample, so some
    # fall short of significance by chance: seed 42 shows two of the four, other last days of
    # the same world from none to three.)
    found = sum(
        len(expected & set(reviewer_outliers(gw, {"vendor": v}).query("outlier")["reviewer_id"]))
        for v, expected in by_vendor.items()
    )
    assert found >= 2


@pytest.mark.parametrize("vendor", VENDORS)
def test_outlier_reviewers_are_flagged_in_their_vendor(sample, gw, audited, vendor):
    """Every injected outlier is flagged; a vendor without one shows at most two false alarms."""
    expected = _outliers_by_vendor(sample[0]).get(vendor, set())
    table = reviewer_outliers(gw, {"vendor": vendor})
    # Counts are the vendor's audits per reviewer; peers are everyone else of the vendor.
    mine = audited[audited["vendor"] == vendor]
    counts = mine.groupby("reviewer_id")["is_error"].agg(["size", "sum"])
    got = table.set_index("reviewer_id")
    assert got["audits"].to_dict() == counts["size"].to_dict()
    assert got["errors"].to_dict() == counts["sum"].to_dict()
    for r in expected:
        peers = counts.drop(index=r)
        want_peer = peers["sum"].sum() / peers["size"].sum()
        assert got.at[r, "peer_error_rate"] == pytest.approx(want_peer)
    # Flagged reviewers come first.
    assert table["outlier"].tolist() == sorted(table["outlier"], reverse=True)
    flagged = set(table.loc[table["outlier"], "reviewer_id"])
    assert len(flagged - expected) <= 2, flagged - expected
    # An injected outlier whose own counts are significant even under Bonferroni (stricter
    # than the Benjamini-Hochberg the library uses) must be flagged; independent scipy test.
    eligible = counts[counts["size"] >= 10]
    for r in expected:
        peer = float(got.at[r, "peer_error_rate"])
        p = binomtest(int(got.at[r, "errors"]), int(got.at[r, "audits"]), peer,
                      alternative="greater").pvalue  # fmt: skip
        if p < 0.05 / len(eligible):
            assert r in flagged, (r, p)
            assert got.at[r, "q_value"] < 0.05


def test_small_samples_are_never_flagged(sample, gw):
    data, _ = sample
    segment = _gap_manifest(data, "under_enforcement")["dimensions"]
    table = reviewer_outliers(gw, segment)
    small = table["audits"] < 10
    assert small.sum() >= 10  # the segment has many reviewers with few audits
    assert (table.loc[small, "sample"] == "too few audits").all()
    assert not table.loc[small, "outlier"].any()
    assert table.loc[small, "p_value"].isna().all()
    assert (table.loc[~small, "sample"] == "ok").all()
    # Raising the bar to above everyone's audit count flags nobody, even the injected outliers.
    outliers = _gap_manifest(data, "reviewer_outlier")["dimensions"]["reviewer_id"]
    vendor = data.decisions.loc[data.decisions["reviewer_id"] == outliers[0], "vendor"].iat[0]
    table = reviewer_outliers(gw, {"vendor": vendor}, min_audits=10**6)
    assert len(table) > 20
    assert not table["outlier"].any()
    assert (table["sample"] == "too few audits").all()


def test_reviewers_by_error_type(sample, gw, audited):
    """Per-error-type reviewer tables: counts of that error type only (pandas oracle), Fisher's
    exact test against the peers' counts, Benjamini-Hochberg by hand, and the per-type errors
    add up to each reviewer's errors."""
    data, _ = sample
    gap = _gap_manifest(data, "under_enforcement")["dimensions"]
    segment = {"vendor": gap["vendor"], "workflow": gap["workflow"]}
    mine = audited[_in_segment(audited, segment)]
    types = sorted(mine.loc[mine["is_error"], "etype"].unique())
    assert len(types) >= 3
    every = reviewer_outliers(gw, segment).set_index("reviewer_id")["errors"]
    summed = pd.Series(0, index=every.index)
    for error_type in types:
        ranked = reviewer_error_type_outliers(gw, segment, error_type)
        # A total order (outliers, errors, audits, then id), so the page lists it the same way
        # every time, whatever order the aggregate returned its rows in.
        key = list(zip(~ranked["outlier"], -ranked["errors"], -ranked["audits"],
                       ranked["reviewer_id"], strict=True))  # fmt: skip
        assert key == sorted(key)
        table = ranked.set_index("reviewer_id")
        hit = mine["is_error"] & (mine["etype"] == error_type)
        counts = mine.assign(hit=hit).groupby("reviewer_id")["hit"].agg(["size", "sum"])
        assert table["audits"].to_dict() == counts["size"].to_dict()
        assert table["errors"].to_dict() == counts["sum"].to_dict()
        eligible = table[table["audits"] >= 10]
        assert len(eligible) >= 5
        total_e, total_n = int(counts["sum"].sum()), int(counts["size"].sum())
        for reviewer, row in eligible.iterrows():
            e, n = int(row["errors"]), int(row["audits"])
            peers = [total_e - e, total_n - n - (total_e - e)]
            want = fisher_exact([[e, n - e], peers], alternative="greater").pvalue
            assert row["p_value"] == pytest.approx(want), reviewer
        p = eligible["p_value"].sort_values()
        raw = p.to_numpy() * len(p) / np.arange(1, len(p) + 1)
        q = pd.Series(np.minimum.accumulate(raw[::-1])[::-1].clip(max=1.0), index=p.index)
        assert eligible["q_value"].to_dict() == pytest.approx(q.to_dict())
        assert set(table.index[table["outlier"]]) == set(q.index[q < 0.05])
        assert not table.loc[table["audits"] < 10, "outlier"].any()
        summed = summed.add(table["errors"], fill_value=0)
    assert summed.astype(int).to_dict() == every.to_dict()


def test_error_type_pareto_of_the_gap(sample, gw, audited):
    data, _ = sample
    segment = _gap_manifest(data, "under_enforcement")["dimensions"]
    pareto = error_types(gw, segment)
    seg = audited[_in_segment(audited, segment) & audited["is_error"]]
    want = seg["etype"].value_counts()
    assert pareto["error_type"].iat[0] == "under_enforcement"
    assert dict(zip(pareto["error_type"], pareto["errors"], strict=True)) == want.to_dict()
    assert pareto["errors"].sum() == 47
    assert pareto["errors"].is_monotonic_decreasing
    assert pareto["share"].sum() == pytest.approx(1.0)
    assert pareto["cumulative_share"].iat[-1] == pytest.approx(1.0)
    assert pareto["share"].iat[0] == pytest.approx(want["under_enforcement"] / len(seg))
    assert pareto["share"].iat[0] > 0.5
    # Under-enforcement in graphic violence (a critical-harms workflow) is critical.
    under = pareto.set_index("error_type").loc["under_enforcement"]
    assert under["critical"] == under["errors"]


def test_audited_decisions_of_the_gap(sample, gw, audited):
    data, _ = sample
    segment = _gap_manifest(data, "under_enforcement")["dimensions"]
    seg = audited[_in_segment(audited, segment) & audited["is_error"]]
    rows = audited_decisions(gw, segment)
    assert set(rows["audit_id"]) == set(seg["audit_id"])
    assert len(rows) == len(seg) == 47
    for k, v in segment.items():
        assert (rows[k] == v).all()
    assert rows["error_type"].notna().all()
    assert (rows["dispute_status"] != "overturned").all()
    assert rows["comment"].notna().all() and (rows["comment"].str.len() > 0).all()
    assert rows["decided_at"].is_monotonic_decreasing
    five = audited_decisions(gw, segment, limit=5)
    newest = seg.sort_values(["decided_at", "audit_id"], ascending=[False, True]).head(5)
    assert five["audit_id"].tolist() == newest["audit_id"].tolist()
    under = audited_decisions(gw, segment, error_type="under_enforcement")
    assert len(under) == int((seg["etype"] == "under_enforcement").sum())
    everything = audited_decisions(gw, segment, errors_only=False, limit=10_000)
    assert len(everything) == int(_in_segment(audited, segment).sum()) == 308


# --- tiny hand-made database ---------------------------------------------------------------------

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)

# (vendor, site, workflow, market, decided, pending, audits, errors) per group.
GROUPS = {
    "G1": ("v1", "s1", "w1", "m1", 200, 10, 100, 30),
    "G2": ("v1", "s1", "w2", "m1", 100, 0, 100, 0),
    "G3": ("v2", "s2", "w1", "m1", 100, 0, 100, 5),
    "G4": ("v2", "s2", "w2", "m2", 100, 0, 50, 10),
}
TINY_REVIEWER = "s2-tiny"  # in G4: 3 audits, all errors


def tiny_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decisions and audits of GROUPS; audits carry the intended `is_error` (the hand answer)."""
    decisions, audits = [], []
    k = 0
    for name, (vendor, site, wf, market, decided, pending, n_audits, n_errors) in GROUPS.items():
        for i in range(decided + pending):
            enq = T0 + dt.timedelta(minutes=7 * k)
            k += 1
            is_decided = i < decided
            audited_row = is_decided and i < n_audits
            error = audited_row and i < n_errors
            # errors alternate: under-enforcement (approve, QA removes) and over-enforcement
            decision = None
            policy = None
            qa, qa_policy = "approve", None
            if is_decided:
                decision = "approve"
                if error and i % 2 == 0:
                    qa, qa_policy = "remove", "P1"
                elif error:
                    decision, policy = "remove", "P1"
            if name == "G4" and audited_row and i < 3:
                reviewer = TINY_REVIEWER
            else:
                reviewer = f"{site}-r{i % 4}"
            decision_id = f"{name}-{i:04d}"
            decisions.append(
                {
                    "decision_id": decision_id,
                    "item_id": f"item-{k}",
                    "vendor": vendor,
                    "site": site,
                    "workflow": wf,
                    "market": market,
                    "priority": "p1",
                    "reviewer_id": reviewer,
                    "decision": decision,
                    "policy": policy,
                    "enqueued_at": enq,
                    "claimed_at": enq + dt.timedelta(minutes=5) if is_decided else None,
                    "decided_at": enq + dt.timedelta(minutes=30) if is_decided else None,
                    "due_at": None,
                }
            )
            if audited_row:
                dispute = "none"
                if name == "G1" and i == n_errors + 1:
                    # an over-enforcement whose dispute was overturned: not an error
                    decisions[-1].update(decision="remove", policy="P1")
                    dispute = "overturned"
                audits.append(
                    {
                        "audit_id": f"A-{decision_id}",
                        "decision_id": decision_id,
                        "auditor_id": "qa-1",
                        "audited_at": enq + dt.timedelta(hours=3),
                        "qa_decision": qa,
                        "qa_policy": qa_policy,
                        "error_type": None,
                        "severity": None,
                        "dispute_status": dispute,
                        "comment": "see policy" if error else None,
                        "is_error": error,
                    }
                )
    audits.append(  # an orphan audit: its decision never arrived
        {
            "audit_id": "A-ghost",
            "decision_id": "ghost-1",
            "auditor_id": "qa-1",
            "audited_at": T0,
            "qa_decision": "remove",
            "qa_policy": "P1",
            "error_type": "under_enforcement",
            "severity": None,
            "dispute_status": "none",
            "comment": "decision missing",
            "is_error": False,
        }
    )
    return pd.DataFrame(decisions), pd.DataFrame(audits)


def _write_csv(frame: pd.DataFrame, columns: list[str], path: Path) -> Path:
    out = frame[[c for c in columns if c in frame.columns]].copy()  # optional ones may be absent
    for c in out.columns:
        if c.endswith("_at"):
            out[c] = [None if v is None or pd.isna(v) else v.isoformat() for v in out[c]]
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    root = tmp_path_factory.mktemp("gaps_tiny")
    decisions, audits = tiny_rows()
    db = root / "tiny.duckdb"
    con = connect(db)
    try:
        ingest_files(
            con, "decisions", [_write_csv(decisions, DEC_COLS, root / "d.csv")], config=CONFIG
        )
        ingest_files(con, "audits", [_write_csv(audits, AUD_COLS, root / "a.csv")], config=CONFIG)
    finally:
        con.close()
    return decisions, audits, db


def oracle_gaps(
    decisions: pd.DataFrame,
    audits: pd.DataFrame,
    dims: tuple[str, ...],
    target_error_rate: float,
    max_depth: int = 3,
    min_audits: int = 20,
) -> pd.DataFrame:
    """docs/ARCHITECTURE.md §3 quality gaps from the hand-made rows, written without kpi.gaps."""
    decided = decisions[decisions["decided_at"].notna()]
    joined = audits.merge(decided, on="decision_id", how="inner")
    rows = []
    for depth in range(1, max_depth + 1):
        for combo in itertools.combinations(dims, depth):
            for values, part in joined.groupby(list(combo)):
                segment = dict(zip(combo, values, strict=True))
                n, errors = len(part), int(part["is_error"].sum())
                if n < min_audits:
                    continue
                low, _ = wilson(errors, n)
                if not low > target_error_rate:
                    continue
                n_dec = int((decided[list(combo)] == pd.Series(segment)).all(axis=1).sum())
                rate = errors / n
                rows.append(
                    {
                        "segment": segment_label(segment),
                        "seg": segment,
                        "decisions": n_dec,
                        "audits": n,
                        "errors": errors,
                        "error_rate_low": low,
                        "excess_errors": n_dec * (rate - target_error_rate),
                    }
                )
    out = pd.DataFrame(rows)
    candidates = []
    for r in rows:
        narrower = [
            o
            for o in rows
            if len(o["seg"]) > len(r["seg"])
            and o["seg"].items() >= r["seg"].items()
            and o["excess_errors"] >= EXPLAINED_SHARE * r["excess_errors"]
        ]
        best = max((o["excess_errors"] for o in narrower), default=None)
        candidates.append({o["segment"] for o in narrower if o["excess_errors"] == best})
    out["explained_candidates"] = candidates
    return out


def test_tiny_database_hand_answer(tiny):
    _, _, db = tiny
    with Gateway(db, config=CONFIG) as gw:
        dims = ("vendor", "workflow", "market")
        gaps = quality_gaps(gw, dimensions=dims)
        assert gaps["segment"].tolist() == [
            "vendor=v1, workflow=w1, market=m1",
            "vendor=v2, workflow=w2, market=m2",
        ]
        # G1: 200 decided (10 pending not counted), 100 audits, 30 errors (+1 overturned).
        g1, g4 = gaps.iloc[0], gaps.iloc[1]
        assert (g1["decisions"], g1["audits"], g1["errors"]) == (200, 100, 30)
        assert g1["excess_errors"] == pytest.approx(200 * (0.30 - 0.05)) == pytest.approx(50)
        assert (g4["decisions"], g4["audits"], g4["errors"]) == (100, 50, 10)
        assert g4["excess_errors"] == pytest.approx(100 * (0.20 - 0.05))
        everything = quality_gaps(gw, dimensions=dims, include_explained=True)
        explained = {
            seg: None if by is None or pd.isna(by) else by
            for seg, by in zip(everything["segment"], everything["explained_by"], strict=True)
        }
        root1, root4 = "vendor=v1, workflow=w1, market=m1", "vendor=v2, workflow=w2, market=m2"
        # segment -> acceptable explanations (a narrower gap with >= 80% of its excess and the
        # largest such excess; equal excesses tie).
        want = {
            root1: {None},
            root4: {None},
            "vendor=v1, workflow=w1": {root1},
            "vendor=v1, market=m1": {root1},
            "workflow=w1, market=m1": {root1},
            "market=m1": {root1},
            "workflow=w1": {"vendor=v1, workflow=w1", root1},
            "vendor=v1": {"vendor=v1, workflow=w1", root1},
            "vendor=v2, workflow=w2": {root4},
            "vendor=v2, market=m2": {root4},
            "workflow=w2, market=m2": {root4},
            "vendor=v2": {"vendor=v2, workflow=w2", "vendor=v2, market=m2", root4},
            "market=m2": {"vendor=v2, market=m2", "workflow=w2, market=m2", root4},
        }
        assert set(explained) == set(want)
        for seg, by in explained.items():
            assert by in want[seg], (seg, by)
        # workflow=w2 (10/150, Wilson low 0.037) and v2/w1 (5/100: exactly at target) are no gaps.
        assert "workflow=w2" not in explained
        assert "vendor=v2, workflow=w1" not in explained
        excess = dict(zip(everything["segment"], everything["excess_errors"], strict=True))
        assert excess["vendor=v1"] == pytest.approx(300 * (30 / 200 - 0.05))
        assert excess["workflow=w1"] == pytest.approx(300 * (35 / 200 - 0.05))
        assert excess["market=m1"] == pytest.approx(400 * (35 / 300 - 0.05))


@pytest.mark.parametrize(
    "dims", [("vendor", "workflow", "market"), ("vendor", "site", "workflow", "market")]
)
def test_tiny_database_matches_oracle(tiny, dims):
    decisions, audits, db = tiny
    want = oracle_gaps(decisions, audits, dims, 0.05)
    with Gateway(db, config=CONFIG) as gw:
        got = quality_gaps(gw, dimensions=dims, include_explained=True)
    assert sorted(got["segment"]) == sorted(want["segment"])
    want = want.set_index("segment").loc[got["segment"]]
    for col in ("decisions", "audits", "errors"):
        assert got[col].tolist() == want[col].tolist(), col
    np.testing.assert_allclose(got["error_rate_low"], want["error_rate_low"], atol=1e-9)
    np.testing.assert_allclose(got["excess_errors"], want["excess_errors"], atol=1e-9)
    for label, cands in zip(got["explained_by"], want["explained_candidates"], strict=True):
        if cands:
            assert label in cands
        else:
            assert label is None or pd.isna(label)


def test_tiny_reviewer_outliers_need_enough_audits(tiny):
    _, _, db = tiny
    segment = {"vendor": "v2", "workflow": "w2"}
    with Gateway(db, config=CONFIG) as gw:
        table = reviewer_outliers(gw, segment).set_index("reviewer_id")
        row = table.loc[TINY_REVIEWER]
        assert (row["audits"], row["errors"]) == (3, 3)
        assert row["sample"] == "too few audits" and not row["outlier"]
        assert not table["outlier"].any()
        # Without the minimum the same reviewer would stand out: the gate is what holds it.
        loose = reviewer_outliers(gw, segment, min_audits=3).set_index("reviewer_id")
        assert loose.at[TINY_REVIEWER, "outlier"]
        assert loose.at[TINY_REVIEWER, "peer_error_rate"] == pytest.approx(7 / 47)


def test_tiny_error_types_and_audited_decisions(tiny):
    _, audits, db = tiny
    segment = {"vendor": "v1", "workflow": "w1", "market": "m1"}
    with Gateway(db, config=CONFIG) as gw:
        pareto = error_types(gw, segment)
        assert dict(zip(pareto["error_type"], pareto["errors"], strict=True)) == {
            "over_enforcement": 15,
            "under_enforcement": 15,
        }
        rows = audited_decisions(gw, segment, limit=7)
        assert len(rows) == 7
        assert rows["decided_at"].is_monotonic_decreasing
        all_rows = audited_decisions(gw, segment)
        assert len(all_rows) == 30  # the overturned error and the orphan are not errors here
        assert (all_rows["comment"] == "see policy").all()
        assert "A-ghost" not in set(all_rows["audit_id"])
        assert rows["audit_id"].tolist() == all_rows["audit_id"].head(7).tolist()


def test_target_follows_a_workflow_fixed_by_the_base_query(tiny):
    """A workflow target applies to gaps searched within that workflow (base filter)."""
    _, _, db = tiny
    config = Config(targets=Targets(workflows={"w1": WorkflowTargets(quality=0.90)}))
    with Gateway(db, config=config) as gw:
        base = KpiQuery(where={"workflow": ("w1",)})
        gaps = quality_gaps(gw, base, dimensions=("vendor", "market"))
        row = gaps.set_index("segment").loc["vendor=v1, market=m1"]
        assert row["target_error_rate"] == pytest.approx(0.10)
        assert row["excess_errors"] == pytest.approx(200 * (0.30 - 0.10))
        # Searched with the workflow as a dimension instead, the same target applies.
        free = quality_gaps(gw, dimensions=("vendor", "workflow", "market"))
        row = free.set_index("segment").loc["vendor=v1, workflow=w1, market=m1"]
        assert row["target_error_rate"] == pytest.approx(0.10)


def test_tiny_drill_downs_follow_the_base_query_and_empty_results(tiny):
    _, _, db = tiny
    segment = {"vendor": "v1", "workflow": "w1", "market": "m1"}
    within = KpiQuery(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 31))
    before = KpiQuery(end=dt.date(2026, 3, 1))
    with Gateway(db, config=CONFIG) as gw:
        assert error_types(gw, segment, within)["errors"].sum() == 30
        assert error_types(gw, segment, before).empty
        assert len(audited_decisions(gw, segment, within)) == 30
        assert audited_decisions(gw, segment, before).empty
        mine = audited_decisions(gw, segment, reviewer_id="s1-r0")
        assert len(mine) > 0 and (mine["reviewer_id"] == "s1-r0").all()
        table = reviewer_outliers(gw, {"vendor": "nobody"})
        assert table.empty and {"outlier", "sample", "q_value"} <= set(table.columns)
        none = quality_gaps(gw, min_audits=10**6)
        assert none.empty and {"segment", "excess_errors", "explained_by"} <= set(none.columns)
        assert quality_gaps(gw, before).empty
