"""The KPI catalog: every KPI declared once (name, label, unit, direction, definition, target key).

Dashboard, CLI, exports and notebooks all read this catalog. A KPI is of one *kind* (`Kind`),
and code dispatches on the kind, never on a KPI's name:
- `measure`: a measure the engine aggregates (counts, quantiles, means), named in `MEASURES`;
- `ratio`: `numerator / denominator` of two measures, computed after aggregation (empty when
  the denominator is 0), optionally with a Wilson interval;
- `complement`: `1 - numerator / denominator` (the quality score: 1 - errors / audits);
- `mean`: a mean per unit, `numerator / denominator` where the numerator sums a per-unit value
  in [0, 1] (the weighted quality score: the points of the audits / audits), optionally with a
  Wilson interval at the effective n from the sum of squares (`squares`;
  `kpi.stats.mean_interval_arrays`);
- `agreement`: Cohen's kappa of two labellings, `(po - pe) / (1 - pe)`, where the observed
  agreement `po` is `numerator / denominator` and the chance agreement `pe` comes from the
  labels' marginal counts (the engine's `kappa_sql` query), optionally with a 95% interval
  from the large-sample standard error (`kpi.stats.kappa_interval_arrays`); its n is the
  denominator.
KPI definitions know nothing of the engine: `kpi.sql.measures` turns measures into SQL.
Dimensions are declared here too (`DIMENSION_CATALOG`); every dimension list elsewhere is
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["decisions", "audits", "backlog"]
Direction = Literal["higher", "lower", "neutral"]
Kind = Literal["measure", "ratio", "complement", "agreement", "mean"]


@dataclass(frozen=True)
class Measure:
    """An aggregate over one fact source. `expr` uses the neutral column vocabulary of
    `kpi.sql.measures`."""

    name: str
    source: Source
    # fsum: the sum of a real-valued expression (kept as a float; sum is of whole numbers)
    agg: Literal["count", "sum", "fsum", "mean", "quantile", "count_distinct"]
    expr: str = "1"  # count: a boolean condition; sum/fsum/mean/quantile: a numeric expression
    quantile: float | None = None


@dataclass(frozen=True)
class KPI:
    name: str
    label: str
    unit: Literal["count", "minutes", "share", "kappa"]
    direction: Direction
    kind: Kind
    definition: str
    measure: str | None = None  # a measure shown as is (kind `measure`)
    numerator: str | None = None  # ratio KPIs
    denominator: str | None = None  # also a measure KPI's n, when it has one (a count)
    squares: str | None = None  # a mean KPI's sum of squared per-unit values (its interval)
    interval: bool = False  # 95% interval as `<name>_low` / `<name>_high` (`interval_method`)
    target: str | None = None  # key in the configuration's targets

    @property
    def interval_method(self) -> str | None:
        """How the interval is made, in words (None without one)."""
        return INTERVAL_METHODS[self.kind] if self.interval else None

    def __post_init__(self) -> None:
        if (self.kind == "measure") != bool(self.measure):
            raise ValueError(f"{self.name}: a KPI names a measure if and only if of kind measure")
        if self.kind != "measure" and not (self.numerator and self.denominator):
            raise ValueError(f"{self.name}: a {self.kind} KPI names its numerator and denominator")
        if self.kind == "mean" and self.interval and not self.squares:
            raise ValueError(f"{self.name}: a mean KPI's interval needs its sum of squares")


INTERVAL_METHODS: dict[Kind, str] = {
    "measure": "none",
    "ratio": "Wilson 95%",
    "complement": "Wilson 95%",
    "agreement": "95%, kappa ± 1.96 large-sample standard errors, Fleiss, Cohen & Everitt 1969",
    "mean": "Wilson 95% at the effective n = n·m(1−m)/s² of the per-audit scores",
}

# Neutral column vocabulary (see kpi.sql.measures): tat_minutes, handle_minutes, is_decided, ...
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in [
        Measure("decisions", "decisions", "count"),
        Measure("sla_known", "decisions", "count", "due_at IS NOT NULL"),
        Measure("sla_met", "decisions", "count", "due_at IS NOT NULL AND decided_at <= due_at"),
        Measure("tat_mean", "decisions", "mean", "tat_minutes"),
        Measure("tat_p50", "decisions", "quantile", "tat_minutes", 0.50),
        Measure("tat_p90", "decisions", "quantile", "tat_minutes", 0.90),
        Measure("tat_p95", "decisions", "quantile", "tat_minutes", 0.95),
        Measure("tat_p99", "decisions", "quantile", "tat_minutes", 0.99),
        Measure("handle_minutes_mean", "decisions", "mean", "handle_minutes"),
        Measure("handle_minutes_p90", "decisions", "quantile", "handle_minutes", 0.90),
        Measure("audits", "audits", "count"),
        Measure("audited_decisions", "audits", "count_distinct", "decision_id"),
        Measure("errors", "audits", "count", "is_error"),
        Measure("critical_errors", "audits", "count", "is_error AND severity = 'critical'"),
        # issue 17 items 1-2: severity-weighted quality, precision and recall of enforcement
        Measure("quality_points", "audits", "fsum", "audit_score"),
        Measure("quality_points_sq", "audits", "fsum", "audit_score * audit_score"),
        Measure("truth_actioning_audits", "audits", "count", "truth_actioning"),
        Measure(
            "enforcement_true_positives", "audits", "count", "vendor_actioning AND truth_actioning"
        ),
        Measure("agreements", "audits", "count", "decision = qa_decision"),
        Measure("actioning_audits", "audits", "count", "vendor_actioning"),
        Measure("qa_actioning_audits", "audits", "count", "qa_actioning"),
        Measure(
            "over_enforcement_errors",
            "audits",
            "count",
            "is_error AND error_category = 'over_enforcement' AND vendor_actioning",
        ),
        Measure(
            "under_enforcement_errors",
            "audits",
            "count",
            "is_error AND error_category = 'under_enforcement' AND qa_actioning",
        ),
        Measure("error_typed", "audits", "count", "error_counts"),
        Measure(
            "disputed",
            "audits",
            "count",
            "error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')",
        ),
        Measure(
            "dispute_resolved", "audits", "count", "dispute_status IN ('upheld', 'overturned')"
        ),
        Measure("overturned", "audits", "count", "dispute_status = 'overturned'"),
        # Disputes (issue 17 item 3): pending ones, and how long resolved ones took.
        Measure("disputes_pending", "audits", "count", "dispute_status = 'pending'"),
        Measure("dispute_timed", "audits", "count", "resolve_minutes IS NOT NULL"),
        Measure("dispute_resolve_p50", "audits", "quantile", "resolve_minutes", 0.50),
        Measure("backlog", "backlog", "sum", "backlog"),
        Measure("backlog_over_sla", "backlog", "sum", "backlog_over_sla"),
    ]
}

KPIS: dict[str, KPI] = {
    k.name: k
    for k in [
        KPI("decisions", "Decisions", "count", "neutral", "measure",
            "Decided decisions in the period (by decided_at).", measure="decisions"),
        KPI("tat_p50", "TAT p50", "minutes", "lower", "measure",
            "Median of decided_at - enqueued_at, minutes (linear interpolation).",
            measure="tat_p50"),
        KPI("tat_p90", "TAT p90", "minutes", "lower", "measure",
            "90th percentile of decided_at - enqueued_at, minutes.", measure="tat_p90"),
        KPI("tat_p95", "TAT p95", "minutes", "lower", "measure",
            "95th percentile of decided_at - enqueued_at, minutes.", measure="tat_p95"),
        KPI("tat_p99", "TAT p99", "minutes", "lower", "measure",
            "99th percentile of decided_at - enqueued_at, minutes.", measure="tat_p99"),
        KPI("tat_mean", "TAT mean", "minutes", "lower", "measure",
            "Mean of decided_at - enqueued_at, minutes.", measure="tat_mean"),
        KPI("sla_attainment", "SLA attainment", "share", "higher", "ratio",
            "Decided decisions with decided_at <= due_at / decided decisions with a due_at "
            "(due_at from the queue, else enqueued_at + configured SLA).",
            numerator="sla_met", denominator="sla_known", interval=True,
            target="sla_attainment"),
        KPI("handle_minutes_mean", "Handle time mean", "minutes", "lower", "measure",
            "Mean of decided_at - claimed_at where claimed_at is present, minutes.",
            measure="handle_minutes_mean"),
        KPI("handle_minutes_p90", "Handle time p90", "minutes", "lower", "measure",
            "90th percentile of decided_at - claimed_at, minutes.", measure="handle_minutes_p90"),
        KPI("backlog", "Backlog", "count", "lower", "measure",
            "Decisions enqueued but not decided at the period's end (or now, for the current "
            "period).", measure="backlog"),
        KPI("backlog_over_sla", "Backlog past SLA", "count", "lower", "measure",
            "Backlog items already past their due_at at the period's end.",
            measure="backlog_over_sla"),
        KPI("audits", "QA audits", "count", "neutral", "measure",
            "QA audits of the period's decisions (audits belong to their decision's period).",
            measure="audits"),
        KPI("qa_coverage", "QA coverage", "share", "higher", "ratio",
            "Audited decisions / decided decisions.", numerator="audited_decisions",
            denominator="decisions", target="qa_coverage"),
        KPI("quality_score", "Quality score", "share", "higher", "complement",
            "1 - errors / audits; an error is an audit with an error type that counts against "
            "quality (configuration: error_types) whose dispute was not overturned. Wilson 95% "
            "interval.", numerator="errors", denominator="audits",
            interval=True, target="quality"),
        KPI("critical_error_rate", "Critical error rate", "share", "lower", "ratio",
            "Critical errors / audits (severity: QA's, else the configuration's severity rules; "
            "overturned disputes are no errors).", numerator="critical_errors",
            denominator="audits", interval=True, target="critical_error_rate"),
        KPI("weighted_quality_score", "Weighted quality score", "share", "higher", "mean",
            "Mean score per audit: 1 without an error, else 1 - the weight of its severity "
            "(configuration: quality_weights; a critical error scores 0 while "
            "critical_fails_audit); overturned disputes are no errors.",
            numerator="quality_points", denominator="audits", squares="quality_points_sq",
            interval=True),
        KPI("enforcement_precision", "Enforcement precision", "share", "higher", "ratio",
            "Audits where the vendor's label and the truth both action / audits where the "
            "vendor's label actions. Truth: QA's label, or the vendor's own where a dispute "
            "overturned QA; actioning: configuration's actioning_labels.",
            numerator="enforcement_true_positives", denominator="actioning_audits",
            interval=True),
        KPI("enforcement_recall", "Enforcement recall", "share", "higher", "ratio",
            "Audits where the vendor's label and the truth both action / audits where the "
            "truth actions (truth as for precision).",
            numerator="enforcement_true_positives", denominator="truth_actioning_audits",
            interval=True),
        KPI("agreement_rate", "Agreement rate", "share", "higher", "ratio",
            "Audits where decision == qa_decision / audits.", numerator="agreements",
            denominator="audits", interval=True),
        KPI("cohen_kappa", "Cohen's kappa (vendor vs QA)", "kappa", "higher", "agreement",
            "Cohen's kappa between decision and qa_decision over the group's audits (its n: "
            "audits).", numerator="agreements", denominator="audits", interval=True,
            target="kappa"),
        KPI("over_enforcement_rate", "Over-enforcement rate", "share", "lower", "ratio",
            "Errors of category over_enforcement on actioning decisions / audits of actioning "
            "decisions (a QA-given over-enforcement type on a non-actioning decision is outside "
            "this rate).",
            numerator="over_enforcement_errors", denominator="actioning_audits", interval=True),
        KPI("under_enforcement_rate", "Under-enforcement rate", "share", "lower", "ratio",
            "Errors of category under_enforcement where QA's label is actioning / audits whose "
            "qa_decision is actioning.",
            numerator="under_enforcement_errors", denominator="qa_actioning_audits",
            interval=True),
        KPI("dispute_rate", "Dispute rate", "share", "neutral", "ratio",
            "Audits with an error (a type that counts against quality) and a dispute (pending, "
            "upheld, overturned) / audits with such an error type (before disputes). Its n: "
            "those error audits.",
            numerator="disputed", denominator="error_typed", interval=True),
        KPI("overturn_rate", "Overturn rate", "share", "lower", "ratio",
            "Overturned disputes / resolved disputes (upheld + overturned). Its n: resolved "
            "disputes.",
            numerator="overturned", denominator="dispute_resolved", interval=True),
        KPI("quality_score_before_disputes", "Quality score before disputes", "share", "neutral",
            "complement",
            "1 - audits with an error type that counts against quality / audits: the score as "
            "QA first said, before any dispute was overturned (quality_score is the score after "
            "overturns).",
            numerator="error_typed", denominator="audits", interval=True),
        KPI("disputes_pending", "Disputes pending", "count", "lower", "measure",
            "Audits of the period's decisions whose dispute is still pending (as loaded now).",
            measure="disputes_pending"),
        KPI("dispute_resolution_p50", "Dispute resolution p50", "minutes", "lower", "measure",
            "Median of dispute_resolved_at - disputed_at over upheld and overturned disputes "
            "with both times (the later not before the earlier), minutes. Its n: those "
            "disputes.",
            measure="dispute_resolve_p50", denominator="dispute_timed"),
    ]
}  # fmt: skip


@dataclass(frozen=True)
class Dimension:
    """A way to cut the facts: a column of decisions that every fact source carries (an
    audit's dimensions are its decision's: the reviewer's cited policy, not QA's).

    - `scoped`: a role may restrict its values (`[roles.*]` vendors / workflows / markets);
    - `filter`: offered as a filter on every page, with the values the viewer may see;
    - `gaps`: searched for quality gaps by default (`default`), only when asked (`asked`), or
      never.
    """

    name: str
    label: str
    scoped: bool = False
    filter: bool = False
    gaps: Literal["default", "asked", "never"] = "never"


DIMENSION_CATALOG: dict[str, Dimension] = {
    d.name: d
    for d in [
        Dimension("vendor", "Vendor", scoped=True, filter=True, gaps="default"),
        Dimension("site", "Site", filter=True, gaps="default"),
        Dimension("workflow", "Workflow", scoped=True, filter=True, gaps="default"),
        Dimension("market", "Market", scoped=True, filter=True, gaps="default"),
        Dimension("priority", "Priority"),
        # Not searched for gaps by default: a policy segment holds only decisions that cited
        # it, so approvals (no policy) and with them every under-enforcement error fall outside
        # all policy segments, and a policy's error rate is not comparable with the all-audits
        # quality target. Use it explicitly, or the error-type and audited-decision drill-downs.
        Dimension("policy", "Policy", gaps="asked"),
        Dimension("reviewer_id", "Reviewer"),
    ]
}

# KPIs that are a share of audits or decisions: what an action's effect is measured on (and
# the CLI's `actions effect --kpi` choices).
RATE_KPIS: tuple[str, ...] = tuple(
    k.name for k in KPIS.values() if k.kind in ("ratio", "complement") and k.unit == "share"
)
DIMENSIONS = tuple(DIMENSION_CATALOG)  # their names, in catalog order
SCOPED_DIMENSIONS = tuple(d.name for d in DIMENSION_CATALOG.values() if d.scoped)
FILTER_DIMENSIONS = tuple(d.name for d in DIMENSION_CATALOG.values() if d.filter)
GAP_DIMENSIONS = tuple(d.name for d in DIMENSION_CATALOG.values() if d.gaps != "never")
DEFAULT_GAP_DIMENSIONS = tuple(d.name for d in DIMENSION_CATALOG.values() if d.gaps == "default")
PERIODS = ("day", "week", "month", "quarter")  # local calendar periods (kpi.sql.period_expr)


def kpi_names() -> list[str]:
    return list(KPIS)


def output_columns(kpis: list[str] | None = None) -> list[str]:
    """KPI output columns in catalog order, with `_low` / `_high` after interval KPIs."""
    cols: list[str] = []
    for name in kpis or kpi_names():
        cols.append(name)
        if KPIS[name].interval:
            cols += [f"{name}_low", f"{name}_high"]
    return cols


def measures_for(kpis: list[str]) -> list[str]:
    """Measures needed to compute `kpis` (an agreement KPI also needs its own label-count
    query: `needs_agreement`)."""
    needed: list[str] = []
    for name in kpis:
        kpi = KPIS[name]
        for m in (kpi.measure, kpi.numerator, kpi.denominator, kpi.squares):
            if m and m not in needed:
                needed.append(m)
    return needed


def needs_agreement(kpis: list[str]) -> bool:
    """Whether any of `kpis` is an agreement KPI (Cohen's kappa's chance-agreement query)."""
    return any(KPIS[k].kind == "agreement" for k in kpis)
