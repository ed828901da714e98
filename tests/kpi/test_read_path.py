"""The read path's shape: query text only in `kpi.sql`, KPI kinds and dimensions declared in the
catalog, and target comparisons that follow each KPI's direction."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from kpi import targets
from kpi.catalog import (
    DEFAULT_GAP_DIMENSIONS,
    DIMENSION_CATALOG,
    DIMENSIONS,
    FILTER_DIMENSIONS,
    GAP_DIMENSIONS,
    KPIS,
    SCOPED_DIMENSIONS,
)
from kpi.query import Scope

ROOT = Path(__file__).resolve().parents[2]
# Where query text may be written: the builders, the scope policy's renderer, and the engines'
# own plumbing (catalog introspection, Parquet registration).
SQL_HOMES = {"kpi/sql", "kpi/scope.py", "kpi/gateway.py", "kpi/engines.py"}
READ_SIDE = ["kpi", "app_pages", "app.py"]


def _sql_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if "SELECT " in text or ("FROM " in text and " WHERE " in text):
                found.append((node.lineno, text.strip()[:60]))
    return found


def test_query_text_lives_only_in_the_builders() -> None:
    offenders = []
    for top in READ_SIDE:
        base = ROOT / top
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            rel = path.relative_to(ROOT).as_posix()
            if any(rel == home or rel.startswith(home + "/") for home in SQL_HOMES):
                continue
            offenders += [f"{rel}:{line}: {text}" for line, text in _sql_literals(path)]
    assert offenders == []


def test_the_check_finds_query_text(tmp_path: Path) -> None:
    sample = tmp_path / "page.py"
    sample.write_text('rows = "SELECT vendor FROM decisions"\nwords = "select a vendor"\n')
    assert _sql_literals(sample) == [(1, "SELECT vendor FROM decisions")]


def test_every_kpi_declares_its_kind() -> None:
    kinds = {name: kpi.kind for name, kpi in KPIS.items()}
    assert kinds["quality_score"] == "complement"
    assert kinds["cohen_kappa"] == "agreement"
    assert kinds["sla_attainment"] == "ratio"
    assert kinds["tat_p90"] == "measure"
    for kpi in KPIS.values():
        assert (kpi.kind == "measure") == (kpi.measure is not None), kpi.name
        if kpi.kind != "measure":
            assert kpi.numerator and kpi.denominator, kpi.name


def test_dimensions_are_declared_once() -> None:
    assert tuple(DIMENSION_CATALOG) == DIMENSIONS
    assert SCOPED_DIMENSIONS == ("vendor", "workflow", "market")
    assert set(Scope(vendors=("a",), workflows=("w",), markets=("m",)).restrictions()) == set(
        SCOPED_DIMENSIONS
    )
    assert FILTER_DIMENSIONS == ("vendor", "site", "workflow", "market")
    assert DEFAULT_GAP_DIMENSIONS == ("vendor", "site", "workflow", "market")
    assert GAP_DIMENSIONS == ("vendor", "site", "workflow", "market", "policy")


@pytest.mark.parametrize(
    ("kpi", "value", "target", "margin"),
    [
        ("quality_score", 0.93, 0.95, -0.02),  # higher is better: 2 pp short
        ("quality_score", 0.97, 0.95, 0.02),
        ("critical_error_rate", 0.01, 0.03, 0.02),  # lower is better: 2 pp to spare
        ("critical_error_rate", 0.05, 0.03, -0.02),
    ],
)
def test_margin_follows_the_direction(kpi: str, value: float, target: float, margin: float) -> None:
    assert targets.margin(kpi, value, target) == pytest.approx(margin)


def test_margin_without_a_value_or_direction_is_empty() -> None:
    assert math.isnan(targets.margin("quality_score", float("nan"), 0.95))
    assert math.isnan(targets.margin("quality_score", 0.9, None))
    assert math.isnan(targets.margin("decisions", 10, 5))  # neutral: no good side


@pytest.mark.parametrize(
    ("kpi", "low", "high", "words"),
    [
        ("sla_attainment", 0.80, 0.88, "below target with 95% confidence"),
        ("sla_attainment", 0.90, 0.96, "at or above target with 95% confidence"),
        ("sla_attainment", 0.85, 0.95, "within noise of target"),
        ("critical_error_rate", 0.92, 0.95, "above target with 95% confidence"),
        ("critical_error_rate", 0.80, 0.90, "at or below target with 95% confidence"),
        ("critical_error_rate", 0.85, 0.95, "within noise of target"),
    ],
)
def test_confidence_follows_the_direction(kpi: str, low: float, high: float, words: str) -> None:
    assert targets.confidence_words(kpi, low, high, 0.90) == words


def test_confidence_needs_an_interval() -> None:
    assert targets.confidence_words("sla_attainment", float("nan"), 0.9, 0.9) == ""
