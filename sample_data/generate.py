"""Seeded generator of realistic vendor review data with known, injected quality gaps.

`generate()` returns canonical frames (the columns of `bpo_kpi.db`), identical for the same
arguments on any day; `write_parquet_chunks()` writes the same kind of data in time-ordered
Parquet chunks for sizes that should not sit in memory at once (tens of millions of rows).

How a row comes about (all vectorized, numpy `default_rng`):

1. Volume per UTC hour of the window: weekday x local-hour activity of each market, with a
   little day-to-day noise; the hour's market mix follows each market's local daytime.
2. A reviewer serving the market (weighted by productivity) takes the item; the reviewer's site
   and vendor follow, the workflow is one of the reviewer's one to three queues, the priority
   follows the workflow's mix.
3. Queue wait is log-normal with a median of 18 % of the priority's SLA, handle time is
   log-normal per workflow; claimed = enqueued + wait, decided = claimed + handle (whole seconds).
4. The right label and policy ("truth", what QA would say) follow the workflow; the reviewer gets
   it wrong with probability 2.5 % x their personal multiplier (under-enforcement, wrong policy,
   wrong action, or over-enforcement).
5. About 5 % of decided rows are audited 1-72 h later; QA's label is the truth.

Injected gaps (listed precisely in the manifest, `SampleData.manifest["gaps"]`): meridian
under-enforcing graphic_violence in es_MX from week 5, weekend queue delays at northwind_berlin,
four outlier reviewers with 5x the error rate, and contested HS2_dehumanization calibration items.

Optionally (`improvement=Improvement(...)`, off by default: the same data as without it), a
known change of one segment's error rate on a known day, as an action would bring
(`kpi.effect` is verified against it): the segment's base error rate is `before` until the
day and `after` from it (each reviewer's personal multiplier still applies). Listed in the
manifest (`improvement`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bpo_kpi import config
from sample_data import catalog as cat
from sample_data.schema import (
    AUDIT_SCHEMA,
    CALIBRATION_SCHEMA,
    DECISION_SCHEMA,
    TIMESTAMP,
    SampleData,
    to_frame,
)
from sample_data.writers import (
    ambiguous_local_times,
    load_vendor_mapping,
    write_canonical,
    write_vendor_exports,
)

DEFAULT_END = date(2026, 11, 22)  # a Sunday; fixed so that output does not depend on today
MANIFEST_VERSION = 1

ERROR_TYPES = ("", *config.ERROR_TYPES)  # code 0 = no error
_NONE = 0
_OVER, _UNDER, _WRONG_POLICY, _WRONG_ACTION = (
    ERROR_TYPES.index(t)
    for t in ("over_enforcement", "under_enforcement", "wrong_policy", "wrong_action")
)
_APPROVE = cat.LABELS.index("approve")
_REMOVE = cat.LABELS.index("remove")
_ACT_CODES = np.array([i for i, a in enumerate(cat.ACTIONING_MASK) if a], dtype=np.int8)
_IS_ACT = np.array(cat.ACTIONING_MASK)
_ID_PREFIXES = [v.prefix + "-" for v in cat.VENDORS]
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Improvement:
    """A known change of a segment's base error rate from day `start` on (decided from local
    midnight in `timezone`). `segment` names values of vendor, site, workflow and/or market
    ({} = every decision); `before` / `after` replace the base error rate (default
    `BASE_ERROR_RATE`) in the segment before and from the day."""

    segment: dict[str, str]
    start: date
    after: float
    before: float = cat.BASE_ERROR_RATE
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        unknown = set(self.segment) - {"vendor", "site", "workflow", "market"}
        if unknown:
            raise ValueError(f"an improvement's segment names vendor, site, workflow, market; "
                             f"not {', '.join(sorted(unknown))}")  # fmt: skip
        if not (0 <= self.before <= 1 and 0 <= self.after <= 1):
            raise ValueError("error rates are shares in [0, 1]")

    def start_s(self) -> int:
        from zoneinfo import ZoneInfo

        local = datetime(self.start.year, self.start.month, self.start.day,
                         tzinfo=ZoneInfo(self.timezone))  # fmt: skip
        return int(local.timestamp())


# --- the world: reviewers, volume curve, chunks ------------------------------------------------


@dataclass
class _World:
    """Everything fixed by the seed alone (not by the number of decisions)."""

    vendors: list[str]
    sites: list[str]
    reviewer_ids: list[str]
    rev_site: np.ndarray
    rev_vendor: np.ndarray
    rev_wf: np.ndarray  # (R, 3) workflow codes, padded
    rev_nwf: np.ndarray
    rev_err: np.ndarray  # personal error multiplier
    market_reviewers: list[np.ndarray]
    market_weights: list[np.ndarray]
    outliers: list[int]


@dataclass
class _Plan:
    """The world plus the window, the hourly volume and the derived constants of one run."""

    seed: int
    decisions: int
    weeks: int
    start: date
    end: date
    world: _World
    bin_counts: np.ndarray  # decisions per UTC hour of the window
    market_given_hour: np.ndarray  # (24, M)
    pending_share: float  # expected share of rows still pending at the snapshot
    gap_week: int
    improvement: Improvement | None = None
    start_s: int = field(init=False)
    snapshot_s: int = field(init=False)
    gap_start_s: int = field(init=False)

    def __post_init__(self) -> None:
        self.start_s = _epoch(self.start)
        self.snapshot_s = _epoch(self.end + timedelta(days=1))
        self.gap_start_s = self.start_s + (self.gap_week - 1) * 7 * 86400


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


_MARKETS = list(cat.MARKETS)
_WF_INDEX = {w: i for i, w in enumerate(cat.WORKFLOWS)}
_POLICY_NAMES = [p for wf in cat.WORKFLOWS for p in cat.POLICIES[wf]]
_POLICY_OFFSET = np.cumsum([0] + [len(cat.POLICIES[wf]) for wf in cat.WORKFLOWS])[:-1]
_N_POLICIES = np.array([len(cat.POLICIES[wf]) for wf in cat.WORKFLOWS])
_MAX_POLICIES = int(_N_POLICIES.max())
_POLICY_P = np.array(
    [
        list(cat.POLICIES[wf].values()) + [0.0] * (_MAX_POLICIES - len(cat.POLICIES[wf]))
        for wf in cat.WORKFLOWS
    ]
)
_TRUTH_P = np.array(
    [[cat.TRUTH_LABELS[wf].get(label, 0.0) for label in cat.LABELS] for wf in cat.WORKFLOWS]
)
_PRIORITY_P = np.array(
    [[cat.PRIORITY_MIX[wf].get(p, 0.0) for p in cat.PRIORITIES] for wf in cat.WORKFLOWS]
)
_SLA_S = np.array([cat.SLA_MINUTES[p] * 60 for p in cat.PRIORITIES], dtype=np.int64)
_HANDLE_MED = np.array([cat.HANDLE_MINUTES[wf] for wf in cat.WORKFLOWS])
_OVER_P = np.array(
    [cat.OVER_ENFORCEMENT_LABELS.get(label, 0.0) for label in cat.LABELS], dtype=float
)
_CRITICAL = np.array([wf in cat.CRITICAL_HARMS for wf in cat.WORKFLOWS])


def _build_world(seed: int) -> _World:
    rng = np.random.default_rng([seed, 0])
    vendors = [v.name for v in cat.VENDORS]
    sites: list[str] = []
    site_vendor: list[int] = []
    ids: list[str] = []
    rev_site: list[int] = []
    rev_wf: list[list[int]] = []
    rev_markets: list[list[int]] = []
    for vi, vendor in enumerate(cat.VENDORS):
        wf_names = list(vendor.workflows)
        wf_p = np.array(list(vendor.workflows.values()))
        wf_p = wf_p / wf_p.sum()
        for site in vendor.sites:
            si = len(sites)
            sites.append(site.name)
            site_vendor.append(vi)
            numbers = np.sort(rng.choice(np.arange(1, 3 * site.reviewers), site.reviewers, False))
            m_names = list(site.markets)
            m_p = np.array(list(site.markets.values()))
            m_p = m_p / m_p.sum()
            for number in numbers:
                ids.append(f"{site.name}-r{int(number):04d}")
                rev_site.append(si)
                k = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
                chosen = rng.choice(len(wf_names), size=k, replace=False, p=wf_p)
                rev_wf.append([_WF_INDEX[wf_names[c]] for c in chosen])
                primary = int(rng.choice(len(m_names), p=m_p))
                markets = [_MARKETS.index(m_names[primary])]
                if len(m_names) > 1 and rng.random() < 0.25:
                    rest = [i for i in range(len(m_names)) if i != primary]
                    rest_p = m_p[rest] / m_p[rest].sum()
                    markets.append(_MARKETS.index(m_names[int(rng.choice(rest, p=rest_p))]))
                rev_markets.append(markets)
    n_rev = len(ids)
    productivity = rng.lognormal(0.0, 0.35, n_rev)
    sigma = cat.REVIEWER_ERROR_SIGMA
    rev_err = rng.lognormal(-(sigma**2) / 2, sigma, n_rev)
    rev_site_a = np.array(rev_site)
    rev_vendor = np.array(site_vendor)[rev_site_a]

    market_reviewers: list[np.ndarray] = []
    market_weights: list[np.ndarray] = []
    rev_volume = np.zeros(n_rev)
    for m, name in enumerate(_MARKETS):
        members, weights = [], []
        for r, markets in enumerate(rev_markets):
            if m in markets:
                share = 1.0 if len(markets) == 1 else (0.7 if markets[0] == m else 0.3)
                members.append(r)
                weights.append(productivity[r] * share)
        if not members:
            raise AssertionError(f"no reviewer serves market {name}")
        w = np.array(weights) / sum(weights)
        market_reviewers.append(np.array(members))
        market_weights.append(w)
        rev_volume[members] += cat.MARKETS[name][0] * w

    # Outliers: busy reviewers (top tenth by volume, so they collect enough audits to stand
    # out) at different sites, none at the vendor with the under-enforcement gap, so that the
    # gaps do not mask each other.
    gap_vendor = vendors.index(cat.GAP_UNDER_ENFORCEMENT.vendor)
    eligible = np.flatnonzero(
        (rev_vendor != gap_vendor) & (rev_volume >= np.quantile(rev_volume, 0.9))
    )
    outliers: list[int] = []
    used_sites: set[int] = set()
    for r in rng.permutation(eligible):
        if rev_site_a[r] not in used_sites:
            outliers.append(int(r))
            used_sites.add(int(rev_site_a[r]))
        if len(outliers) == cat.GAP_OUTLIERS.count:
            break
    outliers.sort()
    rev_err[outliers] = cat.GAP_OUTLIERS.error_multiplier

    wf_table = np.zeros((n_rev, 3), dtype=np.int8)
    for r, wfs in enumerate(rev_wf):
        wf_table[r, : len(wfs)] = wfs
    return _World(
        vendors=vendors,
        sites=sites,
        reviewer_ids=ids,
        rev_site=rev_site_a,
        rev_vendor=rev_vendor,
        rev_wf=wf_table,
        rev_nwf=np.array([len(w) for w in rev_wf]),
        rev_err=rev_err,
        market_reviewers=market_reviewers,
        market_weights=market_weights,
        outliers=outliers,
    )


def _local_activity(offset_hours: float) -> np.ndarray:
    """Activity by UTC hour for a market whose local time is UTC + offset (may be fractional)."""
    act = np.array(cat.HOURLY_ACTIVITY)
    hours = (np.arange(24) + offset_hours) % 24
    lo = np.floor(hours).astype(int)
    frac = hours - lo
    return act[lo] * (1 - frac) + act[(lo + 1) % 24] * frac


def _plan(
    seed: int,
    decisions: int,
    weeks: int,
    end: date | None,
    improvement: Improvement | None = None,
) -> _Plan:
    if decisions < 0:
        raise ValueError("decisions must be >= 0")
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    end = end or DEFAULT_END
    start = end - timedelta(days=7 * weeks - 1)
    world = _build_world(seed)
    shares = np.array([cat.MARKETS[m][0] for m in _MARKETS])
    per_market = np.stack([_local_activity(cat.MARKETS[m][1]) for m in _MARKETS], axis=1)
    per_market = per_market * shares
    hour_weight = per_market.sum(axis=1)
    market_given_hour = per_market / hour_weight[:, None]

    rng = np.random.default_rng([seed, 1])
    days = 7 * weeks
    day_noise = rng.lognormal(0.0, 0.04, days)
    day_trend = 1 + 0.01 * (np.arange(days) // 7)
    weekday = (np.arange(days) + start.weekday()) % 7
    day_weight = np.array(cat.WEEKDAY_ACTIVITY)[weekday] * day_noise * day_trend
    bin_weight = (day_weight[:, None] * hour_weight[None, :]).ravel()
    bin_counts = rng.multinomial(decisions, bin_weight / bin_weight.sum())

    # Pending at the snapshot: only what a queue still holds at that instant, the items whose
    # wait runs past it (recent arrivals, and the few whose wait runs long as on any day): the
    # last day's backlog looks like every other day's end.
    age_h = len(bin_counts) - np.arange(len(bin_counts)) - 0.5
    natural = _natural_pending(bin_counts, age_h)
    from_week = cat.GAP_UNDER_ENFORCEMENT.from_week
    gap_week = from_week if weeks > from_week else max(1, weeks // 2 + 1)
    return _Plan(
        seed=seed,
        decisions=decisions,
        weeks=weeks,
        start=start,
        end=end,
        world=world,
        bin_counts=bin_counts,
        market_given_hour=market_given_hour,
        pending_share=natural / decisions if decisions else 0.0,
        gap_week=gap_week,
        improvement=improvement,
    )


def _natural_pending(bin_counts: np.ndarray, age_h: np.ndarray) -> float:
    """Expected rows whose log-normal queue wait runs past the snapshot (handle time ignored)."""
    wf_share = np.full(len(cat.WORKFLOWS), 1 / len(cat.WORKFLOWS))
    pr_share = wf_share @ _PRIORITY_P
    tail = np.zeros_like(age_h)
    for p, share in enumerate(pr_share):
        median_h = _SLA_S[p] / 3600 * cat.WAIT_SLA_SHARE
        z = np.log(age_h / median_h) / cat.WAIT_SIGMA
        tail += share * 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2))
    return float((bin_counts * tail).sum())


def _chunk_bins(bin_counts: np.ndarray, chunk_rows: int) -> list[tuple[int, int]]:
    """Contiguous hour ranges holding about `chunk_rows` decisions each (whole hours)."""
    if chunk_rows <= 0:
        raise ValueError("chunk_rows must be positive")
    total = int(bin_counts.sum())
    if total <= chunk_rows:
        return [(0, len(bin_counts))]
    cum = np.cumsum(bin_counts)
    cuts = np.searchsorted(cum, np.arange(chunk_rows, total, chunk_rows), side="left") + 1
    edges = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(bin_counts))), len(bin_counts)]
    return list(zip(edges[:-1], edges[1:], strict=True))


# --- vectorized helpers --------------------------------------------------------------------


def _choice_by_group(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One category per row, drawn from the row's group's distribution (`probs[group]`)."""
    cdf = np.cumsum(probs, axis=1)
    cdf = cdf / cdf[:, -1:]
    u = rng.random(len(group))
    out = np.zeros(len(group), dtype=np.int8)
    for k in range(probs.shape[1] - 1):
        out += u >= cdf[group, k]
    return out


def _ids(
    prefixes: Sequence[str], codes: np.ndarray | None, numbers: np.ndarray, digits: int
) -> pa.Array:
    """Fixed-width ids `<prefix><zero-padded number>` built straight into an Arrow buffer."""
    width = len(prefixes[0])
    if any(len(p) != width for p in prefixes):
        raise ValueError("id prefixes must have equal length")
    n = len(numbers)
    total = width + digits
    if n * total >= 2**31:
        raise ValueError("too many ids for one Arrow string array; use smaller chunks")
    buf = np.empty((n, total), dtype=np.uint8)
    table = np.frombuffer("".join(prefixes).encode("ascii"), dtype=np.uint8).reshape(-1, width)
    buf[:, :width] = table[codes] if codes is not None else table[0]
    rest = numbers.astype(np.int64, copy=True)
    for k in range(total - 1, width - 1, -1):
        buf[:, k] = rest % 10 + 48
        rest //= 10
    offsets = np.arange(0, (n + 1) * total, total, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)])


def _take(names: Sequence[str], codes: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Strings from a small dictionary by code; rows where `valid` is False are null."""
    idx = pa.array(codes.astype(np.int32), mask=None if valid is None else ~valid)
    return pa.array(list(names), type=pa.string()).take(idx)


def _ts(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    micros = pa.array(seconds.astype(np.int64) * 1_000_000, mask=None if valid is None else ~valid)
    return micros.cast(TIMESTAMP)


def _other_policy(local: np.ndarray, wf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A policy of the same workflow other than `local`."""
    n_pol = _N_POLICIES[wf]
    step = 1 + np.floor(u * (n_pol - 1)).astype(np.int64)
    return ((local + step) % n_pol).astype(np.int8)


def _mistake(
    rng: np.random.Generator, truth: np.ndarray, pol: np.ndarray, wf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What a reviewer answers when they get (truth label, truth policy) wrong.

    Actioned content: under-enforced (approve), wrong policy, or another actioning label.
    Content that should stay up: over-enforced with one of the actioning labels and a policy.
    Returns (label, local policy index); the policy is meaningless for non-actioning labels.
    """
    n = len(truth)
    kind_u, alt_u, pol_u = rng.random(n), rng.random(n), rng.random(n)
    label = truth.copy()
    policy = pol.copy()
    actioned = _IS_ACT[truth]
    under_p, wrong_pol_p, _ = cat.ACTIONED_ERROR_MIX
    under = actioned & (kind_u < under_p)
    wrong_pol = actioned & (kind_u >= under_p) & (kind_u < under_p + wrong_pol_p)
    wrong_act = actioned & (kind_u >= under_p + wrong_pol_p)
    label[under] = _APPROVE
    policy[wrong_pol] = _other_policy(pol[wrong_pol], wf[wrong_pol], alt_u[wrong_pol])
    pos = np.searchsorted(_ACT_CODES, truth[wrong_act])
    label[wrong_act] = _ACT_CODES[(pos + 1 + (alt_u[wrong_act] * 2).astype(int)) % 3]
    over = ~actioned
    over_cdf = np.cumsum(_OVER_P) / _OVER_P.sum()
    label[over] = np.searchsorted(over_cdf, alt_u[over], side="right").astype(np.int8)
    policy[over] = np.minimum(
        (pol_u[over] * _N_POLICIES[wf[over]]).astype(np.int8), _N_POLICIES[wf[over]] - 1
    )
    return label, policy


def _error_type(
    decision: np.ndarray, policy: np.ndarray, qa: np.ndarray, qa_policy: np.ndarray
) -> np.ndarray:
    """Derived error type codes (docs/ARCHITECTURE.md §2; 0 = no error) for label codes and
    local policies."""
    d_act, q_act = _IS_ACT[decision], _IS_ACT[qa]
    out = np.zeros(len(decision), dtype=np.int8)
    out[d_act & ~q_act] = _OVER
    out[~d_act & q_act] = _UNDER
    both = d_act & q_act
    out[both & (policy != qa_policy)] = _WRONG_POLICY
    out[both & (policy == qa_policy) & (decision != qa)] = _WRONG_ACTION
    return out


# --- decisions and audits ------------------------------------------------------------------


@dataclass
class _Chunk:
    decisions: pa.Table
    audits: pa.Table


def _decision_chunk(
    plan: _Plan, k: int, bins: tuple[int, int], first_id: int, first_audit: int, orphans: bool
) -> _Chunk:
    """Decisions enqueued in hours [bins) of the window, with their audits, in time order."""
    world = plan.world
    rng = np.random.default_rng([plan.seed, 2, k])
    b0, b1 = bins
    counts = plan.bin_counts[b0:b1]
    n = int(counts.sum())
    hours = np.repeat(np.arange(b0, b1, dtype=np.int64), counts)
    enq = np.sort(plan.start_s + hours * 3600 + rng.integers(0, 3600, n))

    # Who: market by UTC hour, reviewer by market, then site/vendor/workflow/priority.
    market = _choice_by_group(rng, (enq // 3600) % 24, plan.market_given_hour)
    reviewer = np.empty(n, dtype=np.int32)
    for m in range(len(_MARKETS)):
        idx = np.flatnonzero(market == m)
        reviewer[idx] = rng.choice(
            world.market_reviewers[m], size=idx.size, p=world.market_weights[m]
        )
    site = world.rev_site[reviewer]
    vendor = world.rev_vendor[reviewer]
    slot = (rng.random(n) * world.rev_nwf[reviewer]).astype(np.int64)
    wf = world.rev_wf[reviewer, slot]
    priority = _choice_by_group(rng, wf, _PRIORITY_P)

    # When: queue wait and handle time; weekend delays at one site.
    handle = np.maximum(5, np.rint(60 * _HANDLE_MED[wf] * rng.lognormal(0, cat.HANDLE_SIGMA, n)))
    wait_min = _SLA_S[priority] / 60 * cat.WAIT_SLA_SHARE * rng.lognormal(0, cat.WAIT_SIGMA, n)
    weekday = (enq // 86400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    gap_site = world.sites.index(cat.GAP_WEEKEND_TAT.site)
    slow = (site == gap_site) & np.isin(weekday, cat.GAP_WEEKEND_TAT.weekdays)
    wait_min[slow] *= cat.GAP_WEEKEND_TAT.wait_multiplier
    claimed = enq + np.maximum(1, np.rint(wait_min * 60)).astype(np.int64)
    decided = claimed + handle.astype(np.int64)
    due = enq + _SLA_S[priority]
    stamped = rng.random(n) < cat.DUE_AT_STAMPED

    # Pending at the snapshot: the items whose queue wait and handling run past it, as at any
    # day's end (no backlog is added on the last day). The draw that once picked an extra
    # backlog stays, so the draws after it (labels, errors, ids) are as they were.
    natural = decided > plan.snapshot_s
    rng.random(n)
    is_decided = ~natural
    has_claim = (natural & (claimed <= plan.snapshot_s)) | (
        is_decided & (rng.random(n) >= cat.MISSING_CLAIM_RATE)
    )

    # What: the right answer, the reviewer's answer, and the under-enforcement gap.
    truth = _choice_by_group(rng, wf, _TRUTH_P)
    truth_pol = _choice_by_group(rng, wf, _POLICY_P)
    base_rate: float | np.ndarray = cat.BASE_ERROR_RATE
    if plan.improvement is not None:
        base_rate = _improved_rate(plan, vendor, site, wf, market, decided)
    erred = rng.random(n) < base_rate * world.rev_err[reviewer]
    wrong_label, wrong_pol = _mistake(rng, truth, truth_pol, wf)
    label = np.where(erred, wrong_label, truth)
    pol = np.where(erred, wrong_pol, truth_pol)
    gap = cat.GAP_UNDER_ENFORCEMENT
    in_gap = (
        (vendor == world.vendors.index(gap.vendor))
        & (wf == _WF_INDEX[gap.workflow])
        & (market == _MARKETS.index(gap.market))
        & (decided >= plan.gap_start_s)
        & (truth == cat.LABELS.index(gap.label))
    )
    label = np.where(in_gap & (rng.random(n) < gap.approve_rate), _APPROVE, label)

    # Ids: task ids in time order with the vendor's prefix; content ids, a few seen before.
    decision_no = first_id + np.arange(n, dtype=np.int64)
    item_no = rng.integers(10**10, 10**11, n)
    seen = rng.random(n) < cat.REREVIEW_RATE
    earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
    item_no[seen] = item_no[earlier[seen]]

    policy_global = _POLICY_OFFSET[wf] + pol
    decisions = pa.table(
        {
            "decision_id": _ids(_ID_PREFIXES, vendor, decision_no, 10),
            "item_id": _ids(["itm-"], None, item_no, 11),
            "vendor": _take(world.vendors, vendor),
            "site": _take(world.sites, site),
            "workflow": _take(cat.WORKFLOWS, wf),
            "market": _take(_MARKETS, market),
            "priority": _take(cat.PRIORITIES, priority),
            "reviewer_id": _take(world.reviewer_ids, reviewer),
            "decision": _take(cat.LABELS, label, is_decided),
            "policy": _take(_POLICY_NAMES, policy_global, is_decided & _IS_ACT[label]),
            "enqueued_at": _ts(enq),
            "claimed_at": _ts(claimed, has_claim),
            "decided_at": _ts(decided, is_decided),
            "due_at": _ts(due, stamped),
        },
        schema=DECISION_SCHEMA,
    )

    # Audits: ~5 % of decided rows, 1-72 h later, none after the snapshot.
    audited_at = decided + rng.integers(3600, 72 * 3600 + 1, n)
    pick = is_decided & (rng.random(n) < cat.AUDIT_RATE) & (audited_at <= plan.snapshot_s)
    a = np.flatnonzero(pick)
    audit = {
        "decision_no": decision_no[a],
        "vendor": vendor[a],
        "wf": wf[a],
        "audited_at": audited_at[a],
        "qa": truth[a],
        "qa_pol": truth_pol[a],
        "label": label[a],
        "pol": pol[a],
    }
    if orphans:
        _add_orphans(plan, rng, audit, first_id + n)
    return _Chunk(decisions, _audit_table(rng, audit, first_audit, plan.snapshot_s))


def _improved_rate(
    plan: _Plan,
    vendor: np.ndarray,
    site: np.ndarray,
    wf: np.ndarray,
    market: np.ndarray,
    decided: np.ndarray,
) -> np.ndarray:
    """Each row's base error rate under `plan.improvement`."""
    imp = plan.improvement
    assert imp is not None
    world = plan.world
    codes = {
        "vendor": (vendor, world.vendors),
        "site": (site, world.sites),
        "workflow": (wf, list(cat.WORKFLOWS)),
        "market": (market, _MARKETS),
    }
    inside = np.ones(len(vendor), dtype=bool)
    for dim, value in imp.segment.items():
        column, names = codes[dim]
        if value not in names:
            raise ValueError(f"improvement: unknown {dim} {value!r}")
        inside &= column == names.index(value)
    rate = np.where(decided >= imp.start_s(), imp.after, imp.before)
    return np.where(inside, rate, cat.BASE_ERROR_RATE)


def _add_orphans(
    plan: _Plan, rng: np.random.Generator, audit: dict[str, np.ndarray], next_id: int
) -> None:
    """Audits of decisions the vendor has not delivered yet (task ids past the last one)."""
    n = cat.ORPHAN_AUDITS
    wf = rng.integers(0, len(cat.WORKFLOWS), n).astype(np.int8)
    qa = _choice_by_group(rng, wf, _TRUTH_P)
    qa_pol = _choice_by_group(rng, wf, _POLICY_P)
    orphan: dict[str, np.ndarray] = {
        "decision_no": next_id + 1000 + np.sort(rng.choice(10_000, n, replace=False)),
        "vendor": rng.integers(0, len(cat.VENDORS), n),
        "wf": wf,
        "audited_at": plan.snapshot_s - rng.integers(3600, 48 * 3600, n),
        "qa": qa,
        "qa_pol": qa_pol,
        "label": np.full(n, -1, dtype=np.int8),  # unknown: the decision is not there
        "pol": qa_pol,
    }
    for key, values in orphan.items():
        audit[key] = np.concatenate([audit[key], values.astype(audit[key].dtype)])


def _audit_table(
    rng: np.random.Generator, audit: dict[str, np.ndarray], first_audit: int, snapshot_s: int
) -> pa.Table:
    """Audit rows in audited_at order: QA's answer, derived errors, disputes, notes."""
    order = np.argsort(audit["audited_at"], kind="stable")
    audit = {key: values[order] for key, values in audit.items()}
    n = len(order)
    wf, qa, qa_pol = audit["wf"], audit["qa"], audit["qa_pol"]
    known = audit["label"] >= 0
    etype = np.where(known, _error_type(np.maximum(audit["label"], 0), audit["pol"], qa, qa_pol), 0)
    is_err = etype > 0

    u_dispute, u_outcome = rng.random(n), rng.random(n)
    outcomes = list(cat.DISPUTE_OUTCOMES)
    outcome_cdf = np.cumsum(list(cat.DISPUTE_OUTCOMES.values()))
    dispute = np.where(
        is_err & (u_dispute < cat.DISPUTE_RATE),
        1 + np.searchsorted(outcome_cdf, u_outcome * outcome_cdf[-1], side="right"),
        0,
    )
    explicit_type = is_err & (rng.random(n) < cat.EXPLICIT_ERROR_TYPE_RATE)
    explicit_sev = is_err & (rng.random(n) < cat.EXPLICIT_SEVERITY_RATE)
    severity = np.where(
        etype == _UNDER, np.where(_CRITICAL[wf], 0, 1), np.where(etype == _WRONG_POLICY, 2, 1)
    )
    auditor = wf.astype(np.int64) * cat.AUDITORS_PER_WORKFLOW + rng.integers(
        0, cat.AUDITORS_PER_WORKFLOW, n
    )
    auditors = [f"qa-{i + 1:03d}" for i in range(len(cat.WORKFLOWS) * cat.AUDITORS_PER_WORKFLOW)]
    # Orphans (unknown decision) get no note: QA cannot have compared anything.
    note_type = np.where(known, etype, -1)
    comments = _comments(rng, note_type, wf, audit["label"], audit["pol"], qa, qa_pol)
    qa_global = _POLICY_OFFSET[wf] + qa_pol
    disputed_at, resolved_at = _dispute_times(rng, audit["audited_at"], dispute, snapshot_s)
    return pa.table(
        {
            "audit_id": _ids(["AUD-"], None, first_audit + np.arange(n, dtype=np.int64), 10),
            "decision_id": _ids(_ID_PREFIXES, audit["vendor"], audit["decision_no"], 10),
            "auditor_id": _take(auditors, auditor),
            "audited_at": _ts(audit["audited_at"]),
            "qa_decision": _take(cat.LABELS, qa),
            "qa_policy": _take(_POLICY_NAMES, qa_global, _IS_ACT[qa]),
            "error_type": _take(ERROR_TYPES, etype, explicit_type),
            "severity": _take(("critical", "major", "minor"), severity, explicit_sev),
            "dispute_status": _take(("none", *outcomes), dispute),
            "disputed_at": _ts(disputed_at, disputed_at >= 0),
            "dispute_resolved_at": _ts(resolved_at, resolved_at >= 0),
            "comment": pa.array(comments, type=pa.string()),
        },
        schema=AUDIT_SCHEMA,
    )


def _dispute_times(
    rng: np.random.Generator, audited_at: np.ndarray, dispute: np.ndarray, snapshot_s: int
) -> tuple[np.ndarray, np.ndarray]:
    """When each dispute was raised (2-72 h after the audit) and, for upheld and overturned ones,
    resolved (log-normal, median `DISPUTE_RESOLVE_MEDIAN_DAYS`); -1 = none. Drawn from a
    generator spawned off `rng`, so every other column keeps the values it had before these
    columns existed. Times never pass the snapshot."""
    child = rng.spawn(1)[0]
    n = len(audited_at)
    raised = audited_at + child.integers(2 * 3600, 72 * 3600, n)
    took = np.exp(child.normal(np.log(cat.DISPUTE_RESOLVE_MEDIAN_DAYS * 86_400), 0.8, n))
    raised = np.minimum(raised, snapshot_s - 60)
    resolved = np.minimum(raised + took.astype(np.int64), snapshot_s - 30)
    disputed_at = np.where(dispute > 0, raised, -1)
    resolved_at = np.where(dispute > 1, resolved, -1)  # 1 = pending
    return disputed_at, resolved_at


def _short(policy: str) -> str:
    return policy.split("_", 1)[0]


def _comments(
    rng: np.random.Generator,
    etype: np.ndarray,
    wf: np.ndarray,
    label: np.ndarray,
    pol: np.ndarray,
    qa: np.ndarray,
    qa_pol: np.ndarray,
) -> list[str | None]:
    """Auditor notes: one for every error, an occasional one for a correct call."""
    n = len(etype)
    pick_u, second_u, note_u = rng.random(n), rng.random(n), rng.random(n)
    out: list[str | None] = [None] * n
    correct = np.flatnonzero((etype == _NONE) & (note_u < cat.NON_ERROR_COMMENT_RATE))
    notes = cat.CORRECT_NOTES
    for i, j in zip(correct, (pick_u[correct] * len(notes)).astype(int), strict=True):
        out[i] = notes[j]
    for i in np.flatnonzero(etype > _NONE):  # -1: unknown decision, no note
        w = cat.WORKFLOWS[wf[i]]
        policies = list(cat.POLICIES[w])
        templates = {
            _UNDER: cat.UNDER_NOTES[w],
            _OVER: cat.OVER_NOTES,
            _WRONG_POLICY: cat.WRONG_POLICY_NOTES,
            _WRONG_ACTION: cat.WRONG_ACTION_NOTES,
        }[int(etype[i])]
        text = templates[int(pick_u[i] * len(templates))].format(
            qa=_short(policies[qa_pol[i]]),
            vp=_short(policies[pol[i]]),
            ql=cat.LABELS[qa[i]],
            vl=cat.LABELS[label[i]],
        )
        if second_u[i] < cat.MULTILINE_COMMENT_RATE:
            text += "\n" + cat.SECOND_LINES[int(second_u[i] * 1000) % len(cat.SECOND_LINES)]
        out[i] = text
    return out


# --- calibration ---------------------------------------------------------------------------


def _calibration(plan: _Plan) -> pa.Table:
    """Weekly sessions per workflow: vendor raters and one golden internal expert per item."""
    world = plan.world
    rng = np.random.default_rng([plan.seed, 3])
    contested = cat.GAP_CONTESTED
    contested_wf = _WF_INDEX[contested.workflow]
    contested_pol = list(cat.POLICIES[contested.workflow]).index(contested.policy)
    # Calibration favours hard cases: actioned content is over-represented.
    cal_p = _TRUTH_P * np.where(_IS_ACT, 1.0, 0.5)
    slots = np.arange(3) < world.rev_nwf[:, None]
    works = [((world.rev_wf == w) & slots).any(axis=1) for w in range(len(cat.WORKFLOWS))]
    columns: dict[str, list[Any]] = {c: [] for c in CALIBRATION_SCHEMA.names}
    for week in range(plan.weeks):
        week_start = plan.start + timedelta(days=7 * week)
        iso = week_start.isocalendar()
        for w, wf_name in enumerate(cat.WORKFLOWS):
            session_date = week_start + timedelta(days=cat.CALIBRATION_WEEKDAY[wf_name])
            session_id = f"cal-{iso.year}-W{iso.week:02d}-{wf_name}"
            lo, hi = cat.CALIBRATION_ITEMS
            items = int(rng.integers(lo, hi + 1))
            wf = np.full(items, w, dtype=np.int8)
            golden = _choice_by_group(rng, wf, cal_p)
            golden_pol = _choice_by_group(rng, wf, _POLICY_P)
            raters: list[int] = []
            for v, vendor in enumerate(cat.VENDORS):
                if wf_name not in vendor.workflows:
                    continue
                pool = np.flatnonzero((world.rev_vendor == v) & works[w])
                lo_r, hi_r = cat.CALIBRATION_RATERS
                size = min(int(rng.integers(lo_r, hi_r + 1)), len(pool))
                raters.extend(sorted(int(r) for r in rng.choice(pool, size, replace=False)))
            n_r = len(raters)
            rater_vendor = world.rev_vendor[raters]
            accuracy = np.array([cat.VENDORS[v].calibration_accuracy for v in rater_vendor])
            grid_wf = np.repeat(wf, n_r)
            grid_golden = np.repeat(golden, n_r)
            grid_pol = np.repeat(golden_pol, n_r)
            wrong_label, wrong_pol = _mistake(rng, grid_golden, grid_pol, grid_wf)
            agree = rng.random(items * n_r) < np.tile(accuracy, items)
            label = np.where(agree, grid_golden, wrong_label)
            pol = np.where(agree, grid_pol, wrong_pol)

            # Contested items: the golden answer cites the contested policy, and raters split
            # between it and one popular alternative answer for the item.
            is_contested = (w == contested_wf) & _IS_ACT[golden] & (golden_pol == contested_pol)
            alt_label = _contested_alternative(rng, golden)
            u = rng.random(items * n_r)
            grid_contested = np.repeat(is_contested, n_r)
            g_share = contested.golden_share
            a_share = contested.alternative_share
            take_golden = grid_contested & (u < g_share)
            take_alt = grid_contested & (u >= g_share) & (u < g_share + a_share)
            take_other = grid_contested & ~take_golden & ~take_alt
            label = np.where(take_golden, grid_golden, label)
            pol = np.where(take_golden, grid_pol, pol)
            label = np.where(take_other, wrong_label, label)
            pol = np.where(take_other, wrong_pol, pol)
            label = np.where(take_alt, np.repeat(alt_label, n_r), label)
            pol = np.where(take_alt, np.repeat(golden_pol, n_r), pol)

            policies = list(cat.POLICIES[wf_name])
            expert = cat.INTERNAL_EXPERTS[(week + w) % len(cat.INTERNAL_EXPERTS)]
            for i in range(items):
                item_id = f"{session_id}-i{i + 1:02d}"
                rows = [
                    (
                        world.reviewer_ids[r],
                        world.vendors[rater_vendor[j]],
                        label[i * n_r + j],
                        pol[i * n_r + j],
                        False,
                    )
                    for j, r in enumerate(raters)
                ]
                rows.append((expert, "internal", golden[i], golden_pol[i], True))
                for rater_id, vendor_name, lab, p, is_golden in rows:
                    columns["session_id"].append(session_id)
                    columns["session_date"].append(session_date)
                    columns["workflow"].append(wf_name)
                    columns["item_id"].append(item_id)
                    columns["rater_id"].append(rater_id)
                    columns["vendor"].append(vendor_name)
                    columns["label"].append(cat.LABELS[lab])
                    columns["policy"].append(policies[p] if _IS_ACT[lab] else None)
                    columns["is_golden"].append(is_golden)
    return pa.table(columns, schema=CALIBRATION_SCHEMA)


def _contested_alternative(rng: np.random.Generator, golden: np.ndarray) -> np.ndarray:
    """The popular wrong answer of each item, always another label than the golden one:
    approve (65 %) or another actioning label under the same policy (35 %)."""
    n = len(golden)
    u, v = rng.random(n), rng.random(n)
    label = np.full(n, _APPROVE, dtype=np.int8)
    other_action = (u >= 0.65) & _IS_ACT[golden]
    pos = np.searchsorted(_ACT_CODES, golden[other_action])
    label[other_action] = _ACT_CODES[(pos + 1 + (v[other_action] * 2).astype(int)) % 3]
    return label


# --- manifest ------------------------------------------------------------------------------


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _manifest(plan: _Plan) -> dict[str, Any]:
    world = plan.world
    base = cat.BASE_ERROR_RATE
    overturned = cat.DISPUTE_RATE * cat.DISPUTE_OUTCOMES["overturned"]
    under_mix = cat.ACTIONED_ERROR_MIX[0]
    gap = cat.GAP_UNDER_ENFORCEMENT
    gv = _TRUTH_P[_WF_INDEX[gap.workflow]]
    p_remove = float(gv[_REMOVE])
    p_act = float(gv[_IS_ACT].sum())
    rate = gap.approve_rate
    under_base = base * under_mix
    approve_after = rate + (1 - rate) * under_base
    under_after = (p_remove * approve_after + (p_act - p_remove) * under_base) / p_act
    error_after = base + p_remove * rate * (1 - base)
    weekend = cat.GAP_WEEKEND_TAT
    mult = weekend.wait_multiplier
    sla_normal = _phi(math.log(1 / cat.WAIT_SLA_SHARE) / cat.WAIT_SIGMA)
    sla_weekend = _phi(math.log(1 / (cat.WAIT_SLA_SHARE * mult)) / cat.WAIT_SIGMA)
    week_starts = [plan.start + timedelta(days=7 * w) for w in range(plan.weeks)]
    gap_start = week_starts[plan.gap_week - 1]
    outlier_ids = [world.reviewer_ids[r] for r in world.outliers]
    contested = cat.GAP_CONTESTED
    return {
        "generator": "sample_data.generate",
        "manifest_version": MANIFEST_VERSION,
        "seed": plan.seed,
        "decisions_requested": plan.decisions,
        "window": {
            "start": _iso(plan.start_s),
            "end": plan.end.isoformat(),
            "snapshot_at": _iso(plan.snapshot_s),
            "weeks": [
                {
                    "week": i + 1,
                    "start": d.isoformat(),
                    "iso_week": f"{d.isocalendar().year}-W{d.isocalendar().week:02d}",
                }
                for i, d in enumerate(week_starts)
            ],
            "note": "pending rows are those not decided at snapshot_at; no timestamp is later",
        },
        "config": {
            "labels": list(cat.LABELS),
            "actioning_labels": list(cat.ACTIONING),
            "sla_minutes": dict(cat.SLA_MINUTES),
        },
        "entities": {
            "vendors": {
                v.name: {
                    "decision_id_prefix": f"{v.prefix}-",
                    "sites": [s.name for s in v.sites],
                    "workflows": list(v.workflows),
                    "reviewers": int((world.rev_vendor == i).sum()),
                }
                for i, v in enumerate(cat.VENDORS)
            },
            "workflows": list(cat.WORKFLOWS),
            "critical_harms": list(cat.CRITICAL_HARMS),
            "markets": _MARKETS,
            "priorities": list(cat.PRIORITIES),
            "policies": {wf: list(p) for wf, p in cat.POLICIES.items()},
            "reviewers": len(world.reviewer_ids),
            "auditors": len(cat.WORKFLOWS) * cat.AUDITORS_PER_WORKFLOW,
            "internal_experts": list(cat.INTERNAL_EXPERTS),
        },
        "baseline": {
            "error_rate": base,
            "quality_score_approx": round(1 - base * (1 - overturned), 4),
            "sla_attainment_approx": round(sla_normal, 4),
            "audit_rate": cat.AUDIT_RATE,
            "due_at_stamped_share": cat.DUE_AT_STAMPED,
            "pending_share_approx": round(plan.pending_share, 4),
            "missing_claimed_at_share": cat.MISSING_CLAIM_RATE,
            "dispute_rate_of_errors": cat.DISPUTE_RATE,
            "dispute_outcomes": dict(cat.DISPUTE_OUTCOMES),
            "orphan_audits": cat.ORPHAN_AUDITS,
            "orphan_note": "orphan audits cite decision ids past the last generated one",
        },
        "gaps": [
            {
                "id": "meridian_gv_es_mx_under_enforcement",
                "kind": "under_enforcement",
                "description": (
                    f"{gap.vendor} reviewers approve ~{rate:.0%} of {gap.workflow} content "
                    f"in {gap.market} that QA says should be removed, from week "
                    f"{plan.gap_week} on"
                ),
                "dimensions": {
                    "vendor": gap.vendor,
                    "workflow": gap.workflow,
                    "market": gap.market,
                },
                "period_start": gap_start.isoformat(),
                "period_start_week": plan.gap_week,
                "period_start_iso_week": f"{gap_start.isocalendar().year}-W"
                f"{gap_start.isocalendar().week:02d}",
                "period_basis": "decided_at (UTC) >= period_start",
                "kpis": ["under_enforcement_rate", "quality_score", "agreement_rate"],
                "expected": {
                    "approve_share_of_qa_remove": {
                        "before": round(under_base, 4),
                        "after": round(approve_after, 4),
                    },
                    "under_enforcement_rate": {
                        "before": round(under_base, 4),
                        "after": round(under_after, 4),
                    },
                    "error_rate": {"before": base, "after": round(error_after, 4)},
                },
            },
            {
                "id": "northwind_berlin_weekend_tat",
                "kind": "tat_breach",
                "description": (
                    f"queue wait x{mult:g} for items enqueued on Saturdays and Sundays (UTC) at "
                    f"{weekend.site}; SLA attainment there drops well below 95 %"
                ),
                "dimensions": {"vendor": weekend.vendor, "site": weekend.site},
                "condition": {
                    "column": "enqueued_at",
                    "timezone": "UTC",
                    "weekdays": [_WEEKDAYS[d] for d in weekend.weekdays],
                },
                "period_start": plan.start.isoformat(),
                "period_basis": "whole window",
                "kpis": ["sla_attainment", "tat_p90", "tat_mean"],
                "expected": {
                    "wait_multiplier": mult,
                    "sla_attainment": {
                        "weekday": round(sla_normal, 4),
                        "weekend": round(sla_weekend, 4),
                    },
                },
            },
            {
                "id": "outlier_reviewers",
                "kind": "reviewer_outlier",
                "description": (
                    f"{len(outlier_ids)} reviewers err {cat.GAP_OUTLIERS.error_multiplier:g}x "
                    "as often as a typical reviewer, on every queue they work"
                ),
                "dimensions": {"reviewer_id": outlier_ids},
                "sites": {
                    world.reviewer_ids[r]: world.sites[world.rev_site[r]] for r in world.outliers
                },
                "period_start": plan.start.isoformat(),
                "period_basis": "whole window",
                "kpis": ["quality_score", "agreement_rate"],
                "expected": {
                    "error_rate_multiplier": cat.GAP_OUTLIERS.error_multiplier,
                    "error_rate": round(base * cat.GAP_OUTLIERS.error_multiplier, 4),
                    "peer_error_rate": base,
                },
            },
            {
                "id": "hs2_contested_calibration",
                "kind": "contested_calibration",
                "description": (
                    f"calibration items of {contested.workflow} whose golden answer cites "
                    f"{contested.policy}: raters split between the golden answer "
                    f"(~{contested.golden_share:.0%}) and one popular alternative "
                    f"(~{contested.alternative_share:.0%}), so the majority often differs"
                ),
                "dimensions": {
                    "workflow": contested.workflow,
                    "policy": contested.policy,
                },
                "period_start": plan.start.isoformat(),
                "period_basis": "every session",
                "kpis": ["contested", "majority_label", "agreement_share", "accuracy"],
                "expected": {
                    "golden_share": contested.golden_share,
                    "alternative_share": contested.alternative_share,
                    "majority_differs_from_golden_share_min": 0.6,
                    "other_items_majority_differs_share_max": 0.05,
                },
            },
        ],
    }


# --- public API ----------------------------------------------------------------------------


def generate(
    seed: int = 42,
    decisions: int = 200_000,
    weeks: int = 10,
    end: date | None = None,
    improvement: Improvement | None = None,
) -> SampleData:
    """Generate `decisions` canonical decisions with their audits and calibration sessions.

    The window is `weeks` whole weeks ending on `end` (default 2026-11-22, a Sunday); the
    snapshot is the midnight after `end`. Same arguments -> identical frames.

    `improvement`: a known change of a segment's error rate (`Improvement`; none by default).

    >>> data = generate(seed=1, decisions=1_000, weeks=2)
    >>> len(data.decisions), sorted(data.manifest["gaps"][0]["dimensions"])
    (1000, ['market', 'vendor', 'workflow'])
    """
    plan = _plan(seed, decisions, weeks, end, improvement)
    chunk = _decision_chunk(plan, 0, (0, len(plan.bin_counts)), 0, 0, orphans=True)
    manifest = _manifest(plan)
    if improvement is not None:
        manifest["improvement"] = {
            "segment": dict(improvement.segment),
            "start": improvement.start.isoformat(),
            "timezone": improvement.timezone,
            "base_error_rate_before": improvement.before,
            "base_error_rate_after": improvement.after,
        }
    data = SampleData(
        decisions=to_frame(chunk.decisions),
        qa_audits=to_frame(chunk.audits),
        calibration_ratings=to_frame(_calibration(plan)),
        manifest=manifest,
    )
    manifest["rows"] = _row_counts(
        len(data.decisions),
        int(data.decisions["decided_at"].isna().sum()),
        len(data.qa_audits),
        len(data.calibration_ratings),
    )
    return data


def _row_counts(decisions: int, pending: int, audits: int, ratings: int) -> dict[str, int]:
    return {
        "decisions": decisions,
        "pending": pending,
        "qa_audits": audits,
        "orphan_audits": cat.ORPHAN_AUDITS,
        "calibration_ratings": ratings,
    }


def write_parquet_chunks(
    out_dir: str | Path,
    seed: int = 42,
    decisions: int = 200_000,
    weeks: int = 10,
    end: date | None = None,
    chunk_rows: int = 5_000_000,
    progress: Any = None,
) -> dict[str, Any]:
    """Generate and write canonical Parquet files chunk by chunk; return the manifest.

    Writes `decisions-00000.parquet`, ... and `qa_audits-00000.parquet`, ... (each chunk a
    contiguous stretch of the window, so the files are in time order), one
    `calibration_ratings.parquet` and `manifest.json`. Memory stays around one chunk's worth.
    With `chunk_rows >= decisions` the single chunk equals `generate()`'s frames.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(seed, decisions, weeks, end)
    ranges = _chunk_bins(plan.bin_counts, chunk_rows)
    files: dict[str, list[str]] = {"decisions": [], "qa_audits": [], "calibration_ratings": []}
    first_id = first_audit = pending = 0
    for k, bins in enumerate(ranges):
        chunk = _decision_chunk(plan, k, bins, first_id, first_audit, orphans=k == len(ranges) - 1)
        for kind, table in (("decisions", chunk.decisions), ("qa_audits", chunk.audits)):
            name = f"{kind}-{k:05d}.parquet"
            pq.write_table(table, out / name)
            files[kind].append(name)
        first_id += chunk.decisions.num_rows
        first_audit += chunk.audits.num_rows
        pending += chunk.decisions.column("decided_at").null_count
        if progress is not None:
            progress(f"chunk {k + 1}/{len(ranges)}: {first_id:,} decisions")
    calibration = _calibration(plan)
    pq.write_table(calibration, out / "calibration_ratings.parquet")
    files["calibration_ratings"].append("calibration_ratings.parquet")
    manifest = _manifest(plan)
    manifest["rows"] = _row_counts(first_id, pending, first_audit, calibration.num_rows)
    manifest["files"] = files
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# --- the small committed vendor samples ----------------------------------------------------

SAMPLE_ID_OFFSET = 9_000_000_000  # sample task/audit ids start at 9..., past any generated run
SAMPLE_README = """\
# Raw vendor samples

Small raw exports in the vendors' own formats, generated by

    python -m sample_data.generate --vendor-samples sample_data/raw

(seed {seed}, picked from {source:,} generated decisions). Their mappings are
`sample_data/vendors/northwind.toml` and `sample_data/vendors/apex_bpo.toml`.

- `northwind/`: semicolon CSV, UTF-8 with BOM, CRLF, German headers, naive Europe/Berlin
  timestamps `%d.%m.%Y %H:%M:%S`; some audit comments hold `;` and a line break in quotes.
- `apex_bpo/`: JSON Lines, camelCase keys, epoch-second timestamps, `null` when absent.

Task and audit ids are shifted by {offset:,} (`NWD-9000001234`), so the samples never collide
with rows of a generated data set: ingesting both adds the samples' rows. Each audits file audits
decisions of its decisions file, plus the vendor's orphan audits (decision ids in no file).
Deliberate edge cases: pending rows (no decision, no decided time), decided rows without a claim
time, rows without a queue-stamped due time, errors, disputes and multi-line comments. Rows with
a local time in the repeated DST hour (25.10.2026 02:00-03:00 Europe/Berlin), which a naive local
timestamp cannot pin down, are left out here; full exports contain them.

The samples end on 2026-11-22, the generator's default last day. `bpo-kpi demo` ingests copies
moved by whole days to its own last day (`sample_data.writers.shift_raw_samples`: times move as
instants; a row that would then fall in a repeated DST hour is left out, with its audits).
"""


def _shift_ids(ids: pd.Series) -> pd.Series:
    """`NWD-0000001234` -> `NWD-9000001234` (prefix kept, number + SAMPLE_ID_OFFSET)."""
    number = ids.str[4:].astype("int64") + SAMPLE_ID_OFFSET
    return ids.str[:4] + number.astype("str").str.zfill(10)


def _object_isin(values: pd.Series, others: pd.Series) -> np.ndarray:
    # pandas 3's Arrow-backed `str` isin loops in Python over `others`; object dtype hashes.
    return values.astype(object).isin(others.astype(object)).to_numpy()


def write_vendor_samples(
    out_dir: str | Path,
    seed: int = 42,
    source_decisions: int = 200_000,
    decisions_per_vendor: int = 200,
    audits_per_vendor: int = 90,
) -> list[Path]:
    """Write the small committed raw vendor samples (a few hundred rows per file); return paths.

    Audits favour the interesting rows (multi-line comments, orphans, disputes, errors); the
    decisions are the audited ones plus pending, unclaimed and random decided rows.
    """
    data = generate(seed=seed, decisions=source_decisions)
    rng = np.random.default_rng([seed, 99])
    all_ids = data.decisions["decision_id"]
    audits, decisions = [], []
    for vendor in ("northwind", "apex_bpo"):
        tz = load_vendor_mapping(vendor).get("timezone", "UTC")
        prefix = data.manifest["entities"]["vendors"][vendor]["decision_id_prefix"]
        mine = data.decisions[data.decisions["vendor"] == vendor]
        mine = mine[~ambiguous_local_times(mine, tz)]
        a = data.qa_audits[data.qa_audits["decision_id"].str.startswith(prefix)]
        a = a[~ambiguous_local_times(a, tz)]
        a = a.join(mine.set_index("decision_id")[["decision", "policy"]], on="decision_id")
        orphan = ~_object_isin(a["decision_id"], all_ids)
        a = a[a["decision"].notna().to_numpy() | orphan]
        error = (a["decision"] != a["qa_decision"]) | (
            a["qa_policy"].notna() & (a["policy"] != a["qa_policy"])
        )
        ranked = [
            a[a["comment"].str.contains("\n", regex=False, na=False)].head(4),
            a[a["decision"].isna()],  # orphans
            a[a["dispute_status"] != "none"].head(8),
            a[error].head(25),
        ]
        chosen = pd.concat(ranked).drop_duplicates("audit_id")
        rest = a[~_object_isin(a["audit_id"], chosen["audit_id"])]
        fill = min(max(audits_per_vendor - len(chosen), 0), len(rest))
        extra = rest.iloc[np.sort(rng.choice(len(rest), fill, replace=False))]
        chosen = pd.concat([chosen, extra]).sort_values(["audited_at", "audit_id"])
        audits.append(chosen[list(data.qa_audits.columns)])

        picked = mine[_object_isin(mine["decision_id"], chosen["decision_id"])]
        special = pd.concat(
            [
                mine[mine["decided_at"].isna()].tail(6),
                mine[mine["claimed_at"].isna() & mine["decided_at"].notna()].head(3),
            ]
        )
        taken = pd.concat([picked, special])["decision_id"]
        pool = mine[~_object_isin(mine["decision_id"], taken)]
        fill = min(max(decisions_per_vendor - len(picked) - len(special), 0), len(pool))
        extra = pool.iloc[np.sort(rng.choice(len(pool), fill, replace=False))]
        rows = pd.concat([picked, special, extra]).drop_duplicates("decision_id")
        decisions.append(rows.sort_values(["enqueued_at", "decision_id"]))

    sample_decisions = pd.concat(decisions, ignore_index=True)
    sample_audits = pd.concat(audits, ignore_index=True)
    sample_decisions["decision_id"] = _shift_ids(sample_decisions["decision_id"])
    sample_audits["decision_id"] = _shift_ids(sample_audits["decision_id"])
    sample_audits["audit_id"] = _shift_ids(sample_audits["audit_id"])
    sample = SampleData(
        decisions=sample_decisions,
        qa_audits=sample_audits,
        calibration_ratings=data.calibration_ratings.iloc[:0],
        manifest=data.manifest,
    )
    out = Path(out_dir)
    result = write_vendor_exports(sample, out, copy_mappings=False)
    readme = out / "README.md"
    text = SAMPLE_README.format(seed=seed, source=source_decisions, offset=SAMPLE_ID_OFFSET)
    readme.write_text(text, encoding="utf-8")
    return [Path(f) for info in result.values() for f in info["files"]] + [readme]


# --- command line --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sample_data.generate --out DIR [--decisions N --seed S --format parquet|csv]`
    or `python -m sample_data.generate --vendor-samples DIR`."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.generate",
        description="Generate seeded sample data with known, injected quality gaps.",
    )
    parser.add_argument("--out", type=Path, help="write canonical files to this directory")
    parser.add_argument("--decisions", type=int, default=200_000, help="number of decisions")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--weeks", type=int, default=10, help="weeks of data")
    parser.add_argument(
        "--end", type=date.fromisoformat, default=None, help="last day (default 2026-11-22)"
    )
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=5_000_000,
        help="parquet: above this many decisions, write time-ordered chunks",
    )
    parser.add_argument(
        "--vendor-exports",
        action="store_true",
        help="also write northwind / apex_bpo raw exports to OUT/vendor_exports",
    )
    parser.add_argument(
        "--vendor-samples",
        type=Path,
        help="write the small committed vendor samples (e.g. sample_data/raw) and exit",
    )
    args = parser.parse_args(argv)
    if args.vendor_samples is None and args.out is None:
        parser.error("give --out DIR or --vendor-samples DIR")
    t0 = time.perf_counter()
    if args.vendor_samples is not None:
        written = write_vendor_samples(args.vendor_samples, seed=args.seed)
        for path in written:
            print(path)
        return 0
    if args.format == "parquet" and args.decisions > args.chunk_rows and not args.vendor_exports:
        manifest = write_parquet_chunks(
            args.out,
            args.seed,
            args.decisions,
            args.weeks,
            args.end,
            args.chunk_rows,
            progress=lambda msg: print(msg, file=sys.stderr),
        )
        rows = manifest["rows"]
    else:
        data = generate(args.seed, args.decisions, args.weeks, args.end)
        write_canonical(data, args.out, fmt=args.format)
        if args.vendor_exports:
            write_vendor_exports(data, args.out / "vendor_exports")
        rows = data.manifest["rows"]
    print(
        f"wrote {rows['decisions']:,} decisions, {rows['qa_audits']:,} audits, "
        f"{rows['calibration_ratings']:,} calibration ratings to {args.out} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
