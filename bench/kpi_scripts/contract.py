"""What the three contender scripts share: the command line `bench/kpi_bench.py` calls each
with, and the ratio KPIs each derives from the same counts (name, numerator, denominator, with
a Wilson interval, as a complement). Standard library only, so importing it costs a contender
nothing; each script keeps its own loading and computing."""

from __future__ import annotations

import argparse
import datetime as dt

RATES = (
    ("sla_attainment", "sla_met", "sla_known", True, False),
    ("qa_coverage", "audited_decisions", "decisions", False, False),
    ("quality_score", "errors", "audits", True, True),
    ("critical_error_rate", "critical_errors", "audits", True, False),
    ("agreement_rate", "agreements", "audits", True, False),
    ("over_enforcement_rate", "over_enforcement_errors", "actioning_audits", True, False),
    ("under_enforcement_rate", "under_enforcement_errors", "qa_actioning_audits", True, False),
    ("dispute_rate", "disputed", "error_typed", False, False),
    ("overturn_rate", "overturned", "dispute_resolved", False, False),
)


def arguments(description: str) -> tuple[argparse.Namespace, dt.datetime]:
    """DB OUT [--tz] [--as-of] [--actioning]: the parsed arguments and the as-of instant."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("db")
    parser.add_argument("out")
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--as-of", type=dt.datetime.fromisoformat, default=None)
    parser.add_argument("--actioning", default="remove,limit,age_gate")
    args = parser.parse_args()
    return args, args.as_of or dt.datetime.now(dt.UTC)
