"""Cohen's kappa's standard error and 95% interval (`kpi.stats.kappa_interval_arrays`, behind
`cohen_kappa_low` / `cohen_kappa_high`) against references: scikit-learn's `cohen_kappa_score`
for the value, statsmodels' `cohens_kappa` (Fleiss, Cohen & Everitt 1969, from the table) for
the standard error and interval, on Fleiss, Levin & Paik's worked example and random tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa

from kpi.stats import kappa_interval_arrays

# Fleiss, Levin & Paik, Statistical Methods for Rates and Proportions (3rd ed., §18.1): two
# raters' diagnoses (psychotic, neurotic, organic) of 100 subjects; po = 0.89, pe = 0.66,
# kappa = 0.23 / 0.34 = 0.676.
FLP_TABLE = np.array([[75, 1, 4], [5, 4, 1], [0, 0, 10]])


def sums(table: np.ndarray) -> tuple[float, float, float, float, float]:
    """The five inputs of `kappa_interval_arrays` from a vendor (rows) x QA (columns) table,
    by their definitions (loops, not the SQL)."""
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    k = len(table)
    agreements = sum(table[i, i] for i in range(k))
    pe_num = sum(rows[i] * cols[i] for i in range(k))
    s1 = sum(table[i, i] * (rows[i] + cols[i]) for i in range(k))
    s2 = sum(table[i, j] * (cols[i] + rows[j]) ** 2 for i in range(k) for j in range(k))
    return float(table.sum()), float(agreements), float(pe_num), float(s1), float(s2)


def ours(table: np.ndarray) -> tuple[float, float, float, float]:
    kappa, se, low, high = kappa_interval_arrays(*([v] for v in sums(table)))
    return float(kappa[0]), float(se[0]), float(low[0]), float(high[0])


def pairs(table: np.ndarray) -> tuple[list[int], list[int]]:
    first, second = [], []
    for (i, j), n in np.ndenumerate(table):
        first += [i] * int(n)
        second += [j] * int(n)
    return first, second


def test_fleiss_levin_paik_example():
    kappa, se, low, high = ours(FLP_TABLE)
    assert kappa == pytest.approx(0.23 / 0.34, abs=1e-12)
    assert kappa == pytest.approx(cohen_kappa_score(*pairs(FLP_TABLE)), abs=1e-12)
    ref = cohens_kappa(FLP_TABLE)
    assert se == pytest.approx(ref.std_kappa, rel=1e-12)
    assert (low, high) == pytest.approx((ref.kappa_low, ref.kappa_upp), rel=1e-12)
    assert round(se, 4) == 0.0877 and (round(low, 3), round(high, 3)) == (0.505, 0.848)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.lists(st.integers(0, 40), min_size=k * k, max_size=k * k).map(
            lambda cells: np.array(cells).reshape(k, k)
        )
    )
)
def test_random_tables_match_statsmodels_and_sklearn(table):
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = table.sum()
    pe = (rows * cols).sum() / n**2 if n else 1.0
    kappa, se, low, high = ours(table)
    if n == 0 or pe >= 1 - 1e-12:  # undefined: no audits, or one label on both sides
        assert all(math.isnan(v) for v in (kappa, se, low, high))
        return
    assert kappa == pytest.approx(cohen_kappa_score(*pairs(table)), abs=1e-9)
    ref = cohens_kappa(table)
    assert kappa == pytest.approx(ref.kappa, abs=1e-9)
    assert se == pytest.approx(math.sqrt(max(ref.var_kappa, 0.0)), rel=1e-7, abs=1e-9)
    assert low == pytest.approx(max(-1.0, ref.kappa_low), rel=1e-7, abs=1e-9)
    assert high == pytest.approx(min(1.0, ref.kappa_upp), rel=1e-7, abs=1e-9)
    assert -1 <= low <= kappa <= high <= 1


def test_undefined_and_degenerate_groups():
    kappa, se, low, high = kappa_interval_arrays([0, 6, 4], [0, 6, 4], [0, 36, 8], [0, 72, 16],
                                                 [0, 864, 128])  # fmt: skip
    # No audits, and one label on both sides (pe = 1): undefined.
    assert np.isnan(kappa[:2]).all() and np.isnan(se[:2]).all() and np.isnan(low[:2]).all()
    # Perfect agreement on 4 audits (2 x 2 each): kappa 1 with a zero-width interval, which
    # is why the dashboard shows no kappa below a minimum number of audits.
    assert ours(np.array([[2, 0], [0, 2]])) == (1.0, 0.0, 1.0, 1.0)
    assert (kappa[2], se[2], low[2], high[2]) == (1.0, 0.0, 1.0, 1.0)
