"""KPI values against their configured targets, direction-aware, for tiles, tables and exports.

A KPI's target key (catalog) names a field of the configuration's targets, resolved for the
row's workflow and vendor (vendor > workflow > default). A value *meets* its target when it is
on the right side of it for the KPI's direction (quality >= target; an error rate <= target).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from bpo_kpi.config import Config
from kpi.catalog import KPIS, MEASURES

Status = Literal["met", "missed", "too few", "no target", "no data"]


def target_for(
    config: Config, kpi: str, workflow: str | None = None, vendor: str | None = None
) -> float | None:
    """The target of `kpi` for (workflow, vendor), or None when the KPI has none."""
    key = KPIS[kpi].target
    if key is None:
        return None
    return float(getattr(config.targets.resolve(workflow, vendor), key))


def status(kpi: str, value: float | None, target: float | None) -> Status:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "no data"
    if target is None:
        return "no target"
    direction = KPIS[kpi].direction
    if direction == "higher":
        return "met" if value >= target else "missed"
    if direction == "lower":
        return "met" if value <= target else "missed"
    return "no target"


def margin(kpi: str, value: float | None, target: float | None) -> float:
    """How far `value` is on the good side of `target` for the KPI's direction, in its unit
    (positive: better than target; for a share, 0.02 = 2 pp); NaN without a value, a target or
    a direction."""
    if value is None or target is None or np.isnan(value) or np.isnan(target):
        return float("nan")
    direction = KPIS[kpi].direction
    if direction == "higher":
        return float(value - target)
    if direction == "lower":
        return float(target - value)
    return float("nan")


def confidence(kpi: str, low: float | None, high: float | None, target: float | None) -> str:
    """Where a 95% interval lies against the target, for the KPI's direction: `meets` (the
    whole interval on the good side), `misses` (the whole interval on the bad side), `noise`
    (it straddles the target) or `` (no interval, no target or no direction)."""
    if low is None or high is None or target is None or np.isnan(low) or np.isnan(high):
        return ""
    direction = KPIS[kpi].direction
    if direction == "higher":
        return "misses" if high < target else "meets" if low >= target else "noise"
    if direction == "lower":
        return "misses" if low > target else "meets" if high <= target else "noise"
    return ""


def confidence_words(kpi: str, low: float | None, high: float | None, target: float | None) -> str:
    """`confidence` in words: e.g. "below target with 95% confidence" for a higher-is-better
    KPI whose whole interval is below its target."""
    verdict = confidence(kpi, low, high, target)
    bad, good = ("below", "above") if KPIS[kpi].direction == "higher" else ("above", "below")
    return {
        "misses": f"{bad} target with 95% confidence",
        "meets": f"at or {good} target with 95% confidence",
        "noise": "within noise of target",
    }.get(verdict, "")


# A status in words, for tables, exports and the CLI (the dashboard colours these words).
STATUS_WORDS: dict[str, str] = {
    "met": "✔ meets target",
    "missed": "✘ misses target",
    "too few": "too few to judge",
    "no data": "no data",
    "no target": "",
}


def format_value(kpi: str, value: float | None) -> str:
    """A KPI value for people: shares as percentages, minutes as min/h, counts with separators."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    unit = KPIS[kpi].unit
    if unit == "share":
        return f"{value:.1%}"
    if unit == "minutes":
        return f"{value:,.0f} min" if value < 120 else f"{value / 60:,.1f} h"
    if unit == "count":
        return f"{int(value):,}"
    return f"{value:.2f}"


def basis_word(kpi: str) -> str:
    """What a KPI's n counts: "audits" or "decisions" (its denominator's source)."""
    den = KPIS[kpi].denominator
    return "audits" if den and MEASURES[den].source == "audits" else "decisions"


def min_shown(config: Config, kpi: str) -> int:
    """The n below which a KPI's value is not shown at all: `monitor.min_kappa_audits` audits
    for a kappa (on a handful of audits it reads 1.00 with a zero-width interval), else 0."""
    return config.monitor.min_kappa_audits if KPIS[kpi].unit == "kappa" else 0


def interval_text(
    kpi: str,
    value: float | None,
    low: float | None,
    high: float | None,
    n: float | None,
    min_n: int = 0,
) -> str:
    """A value with its 95% interval and its n, e.g. `κ 0.71 (0.62–0.80, n=340)` for a kappa;
    `too few audits (n=4)` below `min_n`, `–` without a value."""
    count = 0 if n is None or np.isnan(n) else int(n)
    if count < min_n:
        return f"too few {basis_word(kpi)} (n={count:,})"
    if value is None or np.isnan(value):
        return "–"
    symbol = "κ " if KPIS[kpi].unit == "kappa" else ""
    text = f"{symbol}{format_value(kpi, value)}"
    bounds = (low, high)
    if not any(b is None or np.isnan(b) for b in bounds):
        text += f" ({format_value(kpi, low)}–{format_value(kpi, high)}, n={count:,})"
    else:
        text += f" (n={count:,})"
    return text
