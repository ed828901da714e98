"""Did an action work? Its segment's KPI before and after it, and against peer segments that had
no action over the same days (difference in differences).

**Windows.** For an action dated D and `days` N: before = [D - N, D - 1], after = [D, D + N - 1],
local days of the reporting time zone by the KPI's own time basis, the KPI table's: a decision
belongs to the day of `decided_at`, an audit to its decision's day. Only complete days count:
for an audit-based KPI the days whose QA audits are complete (`kpi.monitor.
audits_complete_through`, the Overview's audit lag: `QA_LAG_DAYS` after the day, and never
past the newest audit), for a decision-based one the days that are over and not past the
newest decision. A window running past them is cut to them and the effect is `complete=False`
(provisional) until the after window's last day is complete; `note` says so.

**The numbers.** A rate KPI (a `ratio` or `complement` share of the catalog: quality score,
agreement, SLA attainment, critical error rate, over/under-enforcement...) is a share of
audits (or decisions). `before` / `after` are the segment's KPI over each window (pooled: all
its audits); `difference` = after - before, in the KPI's units (0.05 = 5 pp). *Peers* are the
segments at the same level with the action's value of one dimension replaced (the *peer
dimension*: the first of `PEER_ORDER` the segment names, so {vendor, workflow} compares with
the other vendors in that workflow, {workflow, policy} with the workflow's other policies,
a reviewer with the other reviewers of the rest of the segment), keeping those with data in
both windows and no action of their own touching them (`kpi.actions.touching`) dated within
the windows. `did` = difference - (peer_after - peer_before), the peers pooled: a change that
happened everywhere is not credited to the action.

**Intervals and tests.** Audits are not independent draws: they cluster by day (a day's
content, a QA auditor's mood) and by reviewer (each reviewer's own error rate, their shifts),
so a binomial interval over thousands of audits is too narrow. Both estimates are one weighted
least-squares fit (statsmodels WLS) on the (segment, reviewer, day) cells' KPI values, weighted
by their audits: `value ~ after` for the difference, `value ~ treated * after` for the DiD
(saturated, so the coefficients are exactly the pooled differences above), with a
cluster-robust (sandwich) covariance clustered two ways, by day and by reviewer (by day only
when the segment is one reviewer), and Student t with (clusters - 1) degrees of freedom.
The standard error is never below the Agresti-Caffo binomial one (each window's share with one
success and one failure added), so a window without a single error does not get a zero-width
interval. The method's coverage is checked by simulation in tests/kpi/test_effect.py (and
the README's "Actions and their effect").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from kpi.actions import REVIEWER, Action, ActionError, load, segment_text, touching, visible
from kpi.catalog import DIMENSION_CATALOG, KPIS, RATE_KPIS
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.gateway import Gateway
from kpi.monitor import QA_LAG_DAYS, audit_based, audits_complete_through
from kpi.query import KpiQuery
from kpi.scope import plausible_range
from kpi.sql import summary as summary_sql

DEFAULT_DAYS = 28
MAX_DAYS = 365
CONFIDENCE = 0.95
# Which dimension of a segment its peers replace: the first of these the segment names (the
# unit an action is done to: a reviewer, a site, a vendor's team, a policy, a market's queue).
PEER_ORDER = ("reviewer_id", "site", "vendor", "policy", "market", "workflow")


def rate_kpis() -> tuple[str, ...]:
    """The KPIs an effect can be measured on: shares of audits or decisions."""
    return RATE_KPIS


def check_kpi(kpi: str) -> str:
    if kpi not in rate_kpis():
        raise ValueError(
            f"the effect of an action is measured on a rate KPI (a share of audits or "
            f"decisions), not {kpi!r}; use one of {', '.join(rate_kpis())}"
        )
    return kpi


@dataclass(frozen=True)
class Effect:
    """An action's effect on one KPI (see the module docstring). Values in the KPI's units."""

    action_id: int
    kpi: str
    days: int
    before_start: dt.date
    before_end: dt.date
    after_start: dt.date
    after_end: dt.date
    before: float | None
    after: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    p_value: float | None
    peers: list[dict[str, str]]  # the peer segments used
    peer_before: float | None
    peer_after: float | None
    did: float | None
    did_low: float | None
    did_high: float | None
    did_p_value: float | None
    complete: bool  # False while the after window is not over or its audits may still arrive
    note: str  # one plain sentence: what the numbers mean, or why something is None
    # Added: what the numbers rest on.
    segment: dict[str, str] = field(default_factory=dict)
    peer_dimension: str | None = None
    complete_through: dt.date | None = None  # the last complete day (windows are cut to it)
    n_before: int = 0  # audits (or decisions) of the segment in each window
    n_after: int = 0
    peer_n_before: int = 0
    peer_n_after: int = 0
    confidence: float = CONFIDENCE

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO text, floats as plain numbers, None as null."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class Estimate:
    """One estimated difference with its interval, test and what it rests on."""

    value: float | None
    low: float | None
    high: float | None
    p_value: float | None
    se: float | None = None
    df: int | None = None


_NONE = Estimate(None, None, None, None)


def windows(date: dt.date, days: int) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """(before_start, before_end, after_start, after_end) of an action dated `date`."""
    one = dt.timedelta(days=1)
    span = dt.timedelta(days=days)
    return date - span, date - one, date, date + span - one


def peer_dimension(segment: dict[str, str]) -> str:
    """The dimension whose value peers replace (`PEER_ORDER`)."""
    return next(d for d in PEER_ORDER if d in segment)


def complete_through(engine: Engine, kpi: str, as_of: dt.date | None = None) -> dt.date:
    """The last local day whose data for `kpi` is complete, judged at the end of day `as_of`
    (default: now): audits complete for audit-based KPIs (the audit lag), else the day over
    and not after the newest decision."""
    tz = ZoneInfo(engine.config.reporting_timezone)
    if as_of is None:
        instant = dt.datetime.now(dt.UTC)
    else:
        midnight = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        instant = midnight.astimezone(dt.UTC)
    if audit_based(kpi):
        return audits_complete_through(engine, instant, QA_LAG_DAYS)
    over = instant.astimezone(tz).date() - dt.timedelta(days=1)
    lo, hi = plausible_range(engine.config, instant)
    newest = engine.frame(*summary_sql.decision_time_range(lo, hi))["last"].iat[0]
    if newest is None or pd.isna(newest):
        return over
    newest_ts = pd.Timestamp(newest)
    newest_ts = newest_ts.tz_localize("UTC") if newest_ts.tzinfo is None else newest_ts
    return min(over, newest_ts.tz_convert(str(tz)).date())


def cells(
    engine: Engine,
    kpi: str,
    vary: str,
    fixed: dict[str, str],
    start: dt.date,
    end: dt.date,
    by_reviewer: bool = True,
) -> pd.DataFrame:
    """The KPI's counts per value of `vary` (within the `fixed` values of the other
    dimensions), reviewer (with `by_reviewer`) and day, from `start` to `end`: columns
    `value`, `reviewer`, `day`, `hits` (audits or decisions counted in the share: for a
    complement KPI those without the numerator's event) and `n` (the denominator). One KPI
    table query (`kpi.compute.kpi_table`: the same definitions and scope as every page)."""
    k = KPIS[kpi]
    assert k.numerator and k.denominator
    by = (vary,) if vary == REVIEWER or not by_reviewer else (vary, REVIEWER)
    query = KpiQuery.model_validate(
        {
            "by": by,
            "period": "day",
            "start": start,
            "end": end,
            "where": {d: (v,) for d, v in fixed.items()},
            "kpis": (kpi,),
        }
    )
    frame = kpi_table(engine, query, counts=True)
    num = frame[k.numerator].astype("int64")
    den = frame[k.denominator].astype("int64")
    out = pd.DataFrame(
        {
            "value": frame[vary].astype(object),
            "reviewer": frame[REVIEWER].astype(object) if REVIEWER in frame else None,
            "day": pd.to_datetime(frame["period_start"]).dt.date,
            "hits": (den - num) if k.kind == "complement" else num,
            "n": den,
        }
    )
    return out[(out["n"] > 0) & out["value"].notna()].reset_index(drop=True)


def _share(part: pd.DataFrame) -> float | None:
    n = int(part["n"].sum())
    return float(part["hits"].sum() / n) if n else None


def _floor_variance(groups: Sequence[pd.DataFrame]) -> float:
    """Agresti-Caffo: the sum of each group's binomial variance with one success and one
    failure added: the floor of a (double) difference's variance, so that a window without a
    single error (or without a single success) does not get a zero-width interval."""
    total = 0.0
    for g in groups:
        x, n = float(g["hits"].sum()), float(g["n"].sum())
        p = (x + 1) / (n + 2)
        total += p * (1 - p) / (n + 2)
    return total


def estimate(
    data: pd.DataFrame, did: bool, two_way: bool = True, confidence: float = CONFIDENCE
) -> Estimate:
    """The (double) difference of pooled shares in `data` (columns `treated` (for `did`),
    `after`, `day`, `reviewer`, `hits`, `n`), with its interval and p-value: a WLS fit on the
    cells' shares, weighted by their counts, with a cluster-robust covariance by day and, with
    `two_way` and at least two reviewers, by reviewer (see the module docstring)."""
    # SciPy and statsmodels only here: `bpo-kpi actions list` and the pages that only list
    # actions start without them (kpi.stats' docstring on start-up).
    from scipy.stats import t as student_t
    from statsmodels.regression.linear_model import WLS

    data = data[data["n"] > 0]
    after = data["after"].to_numpy(dtype=float)
    if did:
        treated = data["treated"].to_numpy(dtype=float)
        columns = [np.ones(len(data)), treated, after, treated * after]
        keys = [(t, a) for t in (True, False) for a in (False, True)]
        parts = [data[(data["treated"] == t) & (data["after"] == a)] for t, a in keys]
    else:
        columns = [np.ones(len(data)), after]
        parts = [data[data["after"] == a] for a in (False, True)]
    if any(p.empty for p in parts):
        return _NONE
    x = np.column_stack(columns)
    y = (data["hits"] / data["n"]).to_numpy(dtype=float)
    w = data["n"].to_numpy(dtype=float)
    model = WLS(y, x, weights=w)
    value = float(model.fit().params[-1])
    day_codes = pd.factorize(data["day"])[0]
    groups: np.ndarray = day_codes
    n_groups = [len(np.unique(day_codes))]
    if two_way and "reviewer" in data and data["reviewer"].notna().all():
        reviewer_codes = pd.factorize(data["reviewer"])[0]
        if len(np.unique(reviewer_codes)) >= 2:
            groups = np.column_stack([day_codes, reviewer_codes])
            n_groups.append(len(np.unique(reviewer_codes)))
    if min(n_groups) < 2:
        return Estimate(value, None, None, None)
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    se_cluster = float(np.sqrt(max(float(fit.cov_params()[-1, -1]), 0.0)))
    se = max(se_cluster, math.sqrt(_floor_variance(parts)))
    df = min(n_groups) - 1
    quantile = float(student_t.ppf(0.5 + confidence / 2, df))
    p_value = float(2 * student_t.sf(abs(value) / se, df)) if se > 0 else None
    return Estimate(value, value - quantile * se, value + quantile * se, p_value, se, df)


def _pp(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _ci(e: Estimate) -> str:
    if e.low is None or e.high is None:
        return "no interval: too few days"
    p = (
        ""
        if e.p_value is None
        else f", p = {e.p_value:.3f}"
        if e.p_value >= 0.001
        else ", p < 0.001"
    )
    return f"{CONFIDENCE:.0%} CI {_pp(e.low)} to {_pp(e.high)}{p}"


def action_effect(
    engine: Engine,
    action: Action,
    kpi: str = "quality_score",
    days: int = DEFAULT_DAYS,
    as_of: dt.date | None = None,
    actions: Sequence[Action] | None = None,
) -> Effect:
    """The effect of `action` on `kpi` over `days` days each side, judged at the end of day
    `as_of` (default: now). `actions`: the other recorded actions, whose segments rule peers
    out; default: those in the state file beside the engine's database (`engine.path`) that
    the engine's role may see, none for an engine without a database file."""
    check_kpi(kpi)
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    if not visible(action.segment, engine):
        raise ActionError(f"there is no action {action.id} (see `bpo-kpi actions list`)")
    if actions is None:
        actions = load(engine, engine.path) if isinstance(engine, Gateway) else []
    b0, b1, a0, a1 = windows(action.date, days)
    through = complete_through(engine, kpi, as_of)
    complete = a1 <= through
    end = min(a1, through)
    vary = peer_dimension(action.segment)
    fixed = {d: v for d, v in action.segment.items() if d != vary}
    mine = action.segment[vary]
    frame = (
        cells(engine, kpi, vary, fixed, b0, end, by_reviewer=vary != REVIEWER)
        if end >= b0
        else pd.DataFrame(columns=["value", "reviewer", "day", "hits", "n"])
    )
    frame["after"] = [d >= a0 for d in frame["day"]]
    frame["treated"] = frame["value"] == mine
    own = frame[frame["treated"]]
    before_rows, after_rows = own[~own["after"]], own[own["after"]]

    # Peers: data in both windows, and no action of their own touching them in the windows.
    others = [a for a in actions if a.id != action.id and b0 <= a.date <= a1]
    peers: list[dict[str, str]] = []
    for value in sorted(set(frame.loc[~frame["treated"], "value"])):
        rows = frame[frame["value"] == value]
        if not (rows["after"].any() and (~rows["after"]).any()):
            continue
        segment = {**action.segment, vary: str(value)}
        if touching(others, {d: [v] for d, v in segment.items()}):
            continue
        peers.append(segment)
    peer_values = {p[vary] for p in peers}
    peer_rows = frame[frame["value"].isin(peer_values)]
    two_way = vary != REVIEWER
    diff = estimate(own, did=False, two_way=two_way)
    did = estimate(pd.concat([own, peer_rows]), did=True, two_way=two_way) if peers else _NONE
    shared = touching(others, {d: [v] for d, v in action.segment.items()})
    result = Effect(
        action_id=action.id,
        kpi=kpi,
        days=days,
        before_start=b0,
        before_end=b1,
        after_start=a0,
        after_end=a1,
        before=_share(before_rows),
        after=_share(after_rows),
        difference=diff.value,
        difference_low=diff.low,
        difference_high=diff.high,
        p_value=diff.p_value,
        peers=peers,
        peer_before=_share(peer_rows[~peer_rows["after"]]) if peers else None,
        peer_after=_share(peer_rows[peer_rows["after"]]) if peers else None,
        did=did.value,
        did_low=did.low,
        did_high=did.high,
        did_p_value=did.p_value,
        complete=complete,
        note="",
        segment=dict(action.segment),
        peer_dimension=vary,
        complete_through=through,
        n_before=int(before_rows["n"].sum()),
        n_after=int(after_rows["n"].sum()),
        peer_n_before=int(peer_rows.loc[~peer_rows["after"], "n"].sum()),
        peer_n_after=int(peer_rows.loc[peer_rows["after"], "n"].sum()),
    )
    return replace(result, note=_note(result, engine, fixed, end, [a.id for a in shared]))


def _note(e: Effect, engine: Engine, fixed: dict[str, str], end: dt.date, shared: list[int]) -> str:
    """One sentence: what the numbers say, what they rest on, or why one is missing."""
    label = KPIS[e.kpi].label
    basis = "audits" if audit_based(e.kpi) else "decisions"
    vary = e.peer_dimension or ""
    vary_label = DIMENSION_CATALOG[vary].label.lower() if vary in DIMENSION_CATALOG else vary
    where = f" in {segment_text(fixed)}" if fixed else ""
    lag = (
        f"QA audits are complete through {e.complete_through}"
        if audit_based(e.kpi)
        else f"data are complete through {e.complete_through}"
    )
    if end < e.after_start:
        return (
            f"No effect yet: the after window starts {e.after_start} and {lag}, so there is "
            "nothing after the action to compare."
        )
    if e.before is None or e.after is None:
        window = "before" if e.before is None else "after"
        return (
            f"No effect: the segment has no {basis} in the {window} window "
            f"({e.before_start if window == 'before' else e.after_start} to "
            f"{e.before_end if window == 'before' else end}) that this role can see."
        )
    parts = []
    if not e.complete:
        used = (end - e.after_start).days + 1
        parts.append(
            f"Provisional ({lag}, so the after window is cut to {e.after_start} to {end}, "
            f"{used} of {e.days} days): "
        )
    assert e.difference is not None
    moved = "rose" if e.difference > 0 else "fell" if e.difference < 0 else "did not change"
    diff_ci = Estimate(e.difference, e.difference_low, e.difference_high, e.p_value)
    parts.append(
        f"{label} {moved} from {_pct(e.before)} ({e.n_before:,} {basis} before) to "
        f"{_pct(e.after)} ({e.n_after:,} after), {_pp(e.difference)} ({_ci(diff_ci)})"
    )
    if e.did is not None and e.peer_before is not None and e.peer_after is not None:
        did_ci = Estimate(e.did, e.did_low, e.did_high, e.did_p_value)
        parts.append(
            f"; {len(e.peers)} peer {vary_label}{'s' if len(e.peers) != 1 else ''}{where} "
            f"without an action moved {_pp(e.peer_after - e.peer_before)}, so the difference "
            f"in differences is {_pp(e.did)} ({_ci(did_ci)})"
        )
    else:
        restricted = ", or none this role may see" if engine.scope.restrictions() else ""
        parts.append(
            f"; no difference in differences: no other {vary_label}{where} has {basis} in both "
            f"windows without an action of its own{restricted}"
        )
    if shared:
        ids = ", ".join(f"#{i}" for i in shared)
        parts.append(f" (action {ids} also touches this segment within the windows)")
    return "".join(parts) + "."
