"""The executive summary of a snapshot, in plain sentences generated from its numbers.

Every sentence states numbers that are in the snapshot's tables (or, for the largest gap's top
error type and policy, the gap drill-downs of the dashboard), so a reader can trace each one:
- the period's volume and headline KPIs;
- which vendor missed which target in which workflow, by how much (worst first);
- week-over-week changes of share KPIs that a two-proportion test calls significant (5 %);
- the largest quality gap, with its top error type and top cited policy;
- the calibration sessions' agreement with its interval and Landis-Koch reading.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kpi import gaps
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.periods import ReportPeriod
from kpi.query import KpiQuery
from kpi.stats import two_proportion_test
from kpi.targets import confidence, format_value

MAX_MISSES = 5
MAX_CHANGES = 4
CHANGE_KPIS = ("quality_score", "sla_attainment", "agreement_rate", "qa_coverage")
SUMMARY_COLUMNS = ["topic", "rank", "sentence"]


def _num(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _count(value: Any) -> int:
    n = _num(value)
    return 0 if math.isnan(n) else int(n)


def _pp(kpi: str, amount: float) -> str:
    """An amount in the KPI's unit: percentage points for shares."""
    if KPIS[kpi].unit == "share":
        return f"{abs(amount) * 100:.1f} pp"
    return format_value(kpi, abs(amount))


def headline(period: ReportPeriod, overall: pd.DataFrame, vendors: int) -> str:
    rec = overall.iloc[0].to_dict() if len(overall) else {}
    # No row at all (filters that match nothing, e.g. another vendor's): nothing decided.
    decisions, audits = _count(rec.get("decisions")), _count(rec.get("audits"))
    if not decisions:
        return f"{period.label} ({period.start} – {period.end}): no decided decisions in scope."
    parts = [
        f"{period.label} ({period.start:%d %b} – {period.end:%d %b %Y}): {decisions:,} decisions "
        f"and {audits:,} QA audits across {vendors} vendor{'s' if vendors != 1 else ''}"
    ]
    shown = [
        f"{KPIS[k].label} {format_value(k, _num(rec.get(k)))}"
        for k in ("quality_score", "sla_attainment", "tat_p90")
        if not math.isnan(_num(rec.get(k)))
    ]
    return parts[0] + ("; " + ", ".join(shown) if shown else "") + "."


def target_misses(scorecard: pd.DataFrame) -> list[str]:
    missed = scorecard[scorecard["status"] == "missed"]
    if missed.empty:
        if scorecard.empty or (scorecard["status"] == "no data").all():
            return ["No KPI with a target has data in this period."]
        return ["Every vendor met every target that applies to it in this period."]
    # Misses beyond noise first (the whole 95 % interval on the wrong side), then the
    # largest shortfall in the KPI's own unit.
    sure = [
        not KPIS[k].interval or confidence(k, _num(lo), _num(hi), t) == "misses"
        for k, lo, hi, t in zip(missed["kpi"], missed["low"], missed["high"], missed["target"],
                                strict=True)
    ]  # fmt: skip
    missed = missed.assign(_noise=[not s for s in sure])
    missed = missed.sort_values(["_noise", "margin", "vendor", "workflow", "kpi"])
    out = []
    for rec in missed.head(MAX_MISSES).to_dict("records"):
        kpi = rec["kpi"]
        n = "" if rec["n"] is None or pd.isna(rec["n"]) else f", n = {int(rec['n']):,}"
        noise = ""
        if rec["_noise"]:
            noise = "; its 95 % interval reaches the target"
        out.append(
            f"{rec['vendor']} missed the {KPIS[kpi].label} target in {rec['workflow']}: "
            f"{format_value(kpi, rec['value'])} against {format_value(kpi, rec['target'])} "
            f"({_pp(kpi, rec['margin'])} short{n}{noise})."
        )
    if len(missed) > MAX_MISSES:
        out.append(f"{len(missed) - MAX_MISSES} more target misses are in the scorecard.")
    return out


def _hits(kpi: str, row: dict[str, Any]) -> float:
    """The successes a share KPI counts in `row` (a complement counts the non-errors)."""
    spec = KPIS[kpi]
    x, n = _num(row[str(spec.numerator)]), _num(row[str(spec.denominator)])
    return n - x if spec.kind == "complement" else x


def weekly_changes(trend: pd.DataFrame, period: ReportPeriod) -> list[str]:
    """Significant changes from the week before the period's last week to that week."""
    if trend.empty or "period_start" not in trend:
        return []
    # Weeks with decisions (the trend carries the backlog into weeks without any).
    active = trend[trend["decisions"] > 0] if "decisions" in trend else trend
    weeks = sorted(d for d in active["period_start"].dropna().unique() if d <= period.end)
    if len(weeks) < 2:
        return ["There is no earlier week to compare with."]
    before, last = weeks[-2], weeks[-1]
    found: list[tuple[float, str]] = []
    for vendor, group in trend.groupby("vendor", sort=True):
        rows = {d: r for d, r in zip(group["period_start"], group.to_dict("records"), strict=True)}
        if before not in rows or last not in rows:
            continue
        old, new = rows[before], rows[last]
        for kpi in CHANGE_KPIS:
            spec = KPIS[kpi]
            num, den = str(spec.numerator), str(spec.denominator)
            if num not in old or den not in old:
                continue
            test = two_proportion_test(
                _hits(kpi, old), _num(old[den]), _hits(kpi, new), _num(new[den])
            )
            if not test.significant:
                continue
            a, b = _num(old[kpi]), _num(new[kpi])
            verb = "rose" if b > a else "fell"
            better = (b > a) == (spec.direction == "higher")
            p = "p < 0.001" if test.p_value < 0.001 else f"p = {test.p_value:.3f}"
            found.append(
                (
                    test.p_value,
                    f"{vendor}'s {spec.label} {verb} from {format_value(kpi, a)} to "
                    f"{format_value(kpi, b)} week over week ({'better' if better else 'worse'}; "
                    f"{p}; {int(_num(old[den])):,} then {int(_num(new[den])):,} "
                    f"{'audits' if den == 'audits' else den.replace('_', ' ')}).",
                )
            )
    if not found:
        return [
            f"No week-over-week change (week of {before:%d %b} to week of {last:%d %b}) in "
            "quality, SLA attainment, agreement or QA coverage is statistically significant "
            "(two-proportion test, 5 %)."
        ]
    found.sort(key=lambda item: item[0])
    return [text for _, text in found[:MAX_CHANGES]]


def largest_gap(gw: Engine, base: KpiQuery, found: pd.DataFrame) -> str:
    if found.empty:
        return (
            "No segment's error rate is above its target with 95 % confidence (at least 20 "
            "audits per segment)."
        )
    top = found.iloc[0]
    dims = str(top["dimensions"]).split(",")
    segment = {d: top[d] for d in dims}
    text = (
        f"The largest quality gap is {top['segment']}: error rate "
        f"{top['error_rate']:.1%} (95 % interval from {top['error_rate_low']:.1%}) against a "
        f"{top['target_error_rate']:.1%} target, about {top['excess_errors']:,.0f} errors "
        "beyond target"
    )
    types = gaps.error_types(gw, segment, base)
    if len(types):
        t = types.iloc[0]
        text += f"; its top error type is {t['error_type']} ({t['share']:.0%} of its errors)"
    if "policy" not in segment:
        where: dict[str, tuple[str, ...]] = {str(d): v for d, v in base.where.items()}
        where.update({str(d): (str(v),) for d, v in segment.items()})
        query = KpiQuery.model_validate(
            {**base.model_dump(), "by": ("policy",), "where": where,
             "kpis": ("audits", "quality_score")}
        )  # fmt: skip
        policies = kpi_table(gw, query, counts=True)
        policies = policies[policies["policy"].notna() & (policies["errors"] > 0)]
        if len(policies):
            p = policies.sort_values(["errors", "policy"], ascending=[False, True]).iloc[0]
            text += f" and its top cited policy {p['policy']} ({int(p['errors']):,} errors)"
    return text + "."


def calibration_sentence(overall: pd.DataFrame, sessions: int, contested: int) -> str:
    if overall.empty:
        return "No calibration session was held in this period."
    rec = overall[overall["vendor"] == "all"].iloc[0]
    k, lo, hi = (_num(rec[c]) for c in ("fleiss_kappa", "fleiss_kappa_low", "fleiss_kappa_high"))
    interval = "" if math.isnan(lo) else f" (95 % {lo:.2f} – {hi:.2f})"
    return (
        f"Calibration: {sessions} session{'s' if sessions != 1 else ''}, "
        f"{int(rec['raters'])} raters on {int(rec['items'])} items; Fleiss' kappa {k:.2f}"
        f"{interval}, {rec['fleiss_kappa_reading']} agreement; accuracy against the golden "
        f"answer {rec['accuracy']:.1%}; {contested} contested item{'s' if contested != 1 else ''}."
    )


def summary(
    gw: Engine, base: KpiQuery, period: ReportPeriod, tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """The executive summary as rows of (topic, rank, sentence)."""
    rows: list[tuple[str, int, str]] = []
    vendors = tables["kpis_by_vendor"]["vendor"].nunique()
    rows.append(("headline", 1, headline(period, tables["kpis_overall"], vendors)))
    rows += [("targets", i, s) for i, s in enumerate(target_misses(tables["scorecard"]), 1)]
    rows += [
        ("week_over_week", i, s)
        for i, s in enumerate(weekly_changes(tables["weekly_trend"], period), 1)
    ]
    rows.append(("largest_gap", 1, largest_gap(gw, base, tables["quality_gaps"])))
    by_session = tables["calibration_sessions"]
    sessions = by_session["session_id"].nunique() if "session_id" in by_session else 0
    contested = len(tables["contested_items"])
    sentence = calibration_sentence(tables["calibration"], sessions, contested)
    rows.append(("calibration", 1, sentence))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
