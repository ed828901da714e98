"""Tests for kpi.stats against published values, hand computations and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from kpi.stats import (
    audit_sample_size,
    exact_excess_test,
    mean_interval_arrays,
    p_chart,
    p_chart_columns,
    two_proportion_test,
    wilson_interval,
    wilson_interval_arrays,
)

# --------------------------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------------------------

# Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (score, no correction).
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "n", "lower", "upper"), NEWCOMBE_1998)
def test_wilson_matches_newcombe_1998(successes: int, n: int, lower: float, upper: float) -> None:
    lo, hi = wilson_interval(successes, n)
    assert lo == pytest.approx(lower, abs=1e-4)
    assert hi == pytest.approx(upper, abs=1e-4)


def test_wilson_uses_the_exact_normal_quantile() -> None:
    successes, n = 81, 263
    z = norm.ppf(0.975)  # 1.959963985..., not 1.96
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert wilson_interval(successes, n) == pytest.approx((centre - half, centre + half), abs=1e-12)


@pytest.mark.parametrize("confidence", [0.80, 0.90, 0.95, 0.99])
def test_wilson_matches_statsmodels_at_other_confidence_levels(confidence: float) -> None:
    successes = np.array([0, 1, 7, 50, 99, 100, 3])
    n = np.array([100, 100, 100, 100, 100, 100, 5])
    lo, hi = wilson_interval_arrays(successes, n, confidence)
    ref_lo, ref_hi = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(lo, np.clip(ref_lo, 0, 1), atol=1e-12)
    np.testing.assert_allclose(hi, np.clip(ref_hi, 0, 1), atol=1e-12)
    for i in range(len(n)):
        assert wilson_interval(successes[i], n[i], confidence) == pytest.approx(
            (lo[i], hi[i]), abs=1e-12
        )


@given(
    n=st.integers(min_value=1, max_value=10**9),
    share=st.floats(min_value=0, max_value=1),
    confidence=st.floats(min_value=0.5, max_value=0.9999),
)
def test_wilson_equals_statsmodels_without_importing_it(
    n: int, share: float, confidence: float
) -> None:
    """kpi.stats evaluates statsmodels' Wilson formula itself (start-up: statsmodels and SciPy
    take ~1 s to import); the normal quantile is the standard library's. Same values to the
    last bits, over counts up to 1e9 and any confidence."""
    successes = round(share * n)
    lo, hi = wilson_interval(successes, n, confidence)
    ref_lo, ref_hi = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert lo == pytest.approx(float(np.clip(ref_lo, 0, 1)), rel=1e-13, abs=1e-15)
    assert hi == pytest.approx(float(np.clip(ref_hi, 0, 1)), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.999999])
def test_the_normal_quantile_equals_scipys(confidence: float) -> None:
    from kpi.stats import _two_sided_z

    assert _two_sided_z(confidence) == pytest.approx(norm.ppf(0.5 + confidence / 2), rel=1e-15)


@pytest.mark.filterwarnings("error")
def test_wilson_with_no_trials_is_nan_without_warnings() -> None:
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)
    lo_a, hi_a = wilson_interval_arrays(np.array([0, 3, 0]), np.array([0, 10, 0]))
    assert np.isnan(lo_a[[0, 2]]).all() and np.isnan(hi_a[[0, 2]]).all()
    assert lo_a[1] == pytest.approx(wilson_interval(3, 10)[0])


def test_wilson_arrays_broadcast_and_keep_all_nan_input_nan() -> None:
    lo, hi = wilson_interval_arrays(np.array([[1, 2], [3, 4]]), 10)
    assert lo.shape == hi.shape == (2, 2)
    lo_e, hi_e = wilson_interval_arrays(np.array([], dtype=float), np.array([], dtype=float))
    assert lo_e.size == hi_e.size == 0


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(5, 3, 0.95), (-1, 3, 0.95), (1, -3, 0.95), (1, 3, 1.0), (1, 3, 0.0)],
)
def test_wilson_rejects_invalid_arguments(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, confidence)


@given(
    n=st.integers(min_value=1, max_value=10_000),
    share=st.floats(min_value=0, max_value=1),
    confidence=st.floats(min_value=0.5, max_value=0.999),
)
def test_wilson_interval_is_inside_unit_range_and_contains_the_share(
    n: int, share: float, confidence: float
) -> None:
    successes = round(share * n)
    lo, hi = wilson_interval(successes, n, confidence)
    assert 0.0 <= lo <= successes / n + 1e-12
    assert successes / n - 1e-12 <= hi <= 1.0


# --------------------------------------------------------------------------------------------
# Two-proportion test
# --------------------------------------------------------------------------------------------


def test_two_proportion_test_by_hand() -> None:
    # 10 errors in 100 audits last week, 25 in 100 this week.
    result = two_proportion_test(10, 100, 25, 100)
    pooled = 35 / 200
    z = (0.25 - 0.10) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert z == pytest.approx(2.7914526, abs=1e-6)
    assert result.p1 == 0.10 and result.p2 == 0.25
    assert result.diff == pytest.approx(0.15)
    assert result.z == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(2 * norm.sf(z), rel=1e-12)
    assert result.p_value == pytest.approx(0.005247, abs=1e-6)
    assert result.significant


def test_two_proportion_test_matches_statsmodels() -> None:
    for x1, n1, x2, n2 in [(45, 500, 30, 480), (3, 40, 9, 35), (120, 1000, 118, 1000)]:
        result = two_proportion_test(x1, n1, x2, n2)
        ref_z, ref_p = proportions_ztest([x1, x2], [n1, n2])
        assert result.z == pytest.approx(-ref_z, rel=1e-10)  # statsmodels tests p1 - p2
        assert result.p_value == pytest.approx(ref_p, rel=1e-10)
        assert result.significant == (ref_p < 0.05)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(10, 100, 25, 100), (500, 1000, 505, 1000), (1, 10**6, 900, 10**6), (0, 5000, 2000, 5000)],
)
def test_two_proportion_p_value_equals_scipys_normal_tail(
    x1: int, n1: int, x2: int, n2: int
) -> None:
    """The p-value is erfc(|z| / sqrt 2) (no SciPy import): SciPy's 2 * norm.sf(|z|), to
    relative precision even far in the tail (z of 30 and 40 here, p ~ 1e-200)."""
    result = two_proportion_test(x1, n1, x2, n2)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(result.z)), rel=1e-13)


def test_two_proportion_test_alpha_controls_significance() -> None:
    assert two_proportion_test(10, 100, 25, 100, alpha=0.05).significant
    assert not two_proportion_test(10, 100, 25, 100, alpha=0.001).significant


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(0, 0, 3, 10), (3, 10, 0, 0), (0, 0, 0, 0), (0, 50, 0, 60), (50, 50, 60, 60)],
)
def test_two_proportion_test_undefined_cases(x1: int, n1: int, x2: int, n2: int) -> None:
    result = two_proportion_test(x1, n1, x2, n2)
    assert math.isnan(result.z) and math.isnan(result.p_value)
    assert result.significant is False
    if n1 == 0:
        assert math.isnan(result.p1) and math.isnan(result.diff)


def test_two_proportion_test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        two_proportion_test(11, 10, 1, 10)
    with pytest.raises(ValueError):
        two_proportion_test(1, 10, 1, 10, alpha=1.5)


# --------------------------------------------------------------------------------------------
# p-chart
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_p_chart_by_hand() -> None:
    # p̄ = (2 + 10 + 30 + 18 + 30 + 0) / (100 + 100 + 100 + 100 + 200 + 0) = 90 / 600 = 0.15
    # limits at n=100: 0.15 ± 3·sqrt(0.15·0.85/100) = 0.15 ± 0.1071214
    # limits at n=200: 0.15 ± 3·sqrt(0.15·0.85/200) = 0.15 ± 0.0757463
    chart = p_chart([2, 10, 30, 18, 30, 0], [100, 100, 100, 100, 200, 0])
    assert list(chart.columns) == ["p", "n", "center", "lcl", "ucl", "out_of_control", "direction"]
    np.testing.assert_allclose(chart["p"], [0.02, 0.10, 0.30, 0.18, 0.15, np.nan])
    assert (chart["center"] == 0.15).all()
    np.testing.assert_allclose(
        chart["lcl"], [0.0428786, 0.0428786, 0.0428786, 0.0428786, 0.0742537, np.nan], atol=1e-7
    )
    np.testing.assert_allclose(
        chart["ucl"], [0.2571214, 0.2571214, 0.2571214, 0.2571214, 0.2257463, np.nan], atol=1e-7
    )
    assert chart["out_of_control"].tolist() == [True, False, True, False, False, False]
    assert chart["direction"].tolist() == ["below", None, "above", None, None, None]
    assert chart["out_of_control"].dtype == bool


def test_p_chart_clips_limits_to_the_unit_range() -> None:
    low = p_chart([0, 1], [10, 10])  # p̄ = 0.05, 3σ at n=10 is 0.2068
    assert (low["lcl"] == 0.0).all()
    assert not low["out_of_control"].any()  # p = 0 sits on a clipped LCL: in control
    high = p_chart([10, 9], [10, 10])  # p̄ = 0.95
    assert (high["ucl"] == 1.0).all()


def test_p_chart_keeps_the_series_index() -> None:
    weeks = pd.Index(["2025-W01", "2025-W02", "2025-W03"], name="week")
    chart = p_chart(pd.Series([5, 6, 40], index=weeks), [100, 100, 100])
    assert chart.index.equals(weeks)
    assert chart.loc["2025-W03", "direction"] == "above"


@pytest.mark.filterwarnings("error")
def test_p_chart_with_no_trials_at_all() -> None:
    chart = p_chart([0, 0], [0, 0])
    assert chart[["p", "center", "lcl", "ucl"]].isna().all().all()
    assert not chart["out_of_control"].any()
    assert p_chart([], []).empty


def test_p_chart_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        p_chart([1, 2], [10])
    with pytest.raises(ValueError):
        p_chart([11], [10])
    with pytest.raises(ValueError):
        p_chart([1], [10], sigma=0)


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50)).map(lambda t: (min(t), max(t))),
        min_size=1,
        max_size=20,
    ),
    st.randoms(use_true_random=False),
)
def test_p_chart_rows_do_not_depend_on_order(rows: list[tuple[int, int]], rnd) -> None:
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a = p_chart(*zip(*rows, strict=True))
    b = p_chart(*zip(*shuffled, strict=True))
    key = ["p", "n", "lcl", "ucl", "out_of_control"]
    a_sorted = a[key].sort_values(["n", "p"]).reset_index(drop=True)
    b_sorted = b[key].sort_values(["n", "p"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a_sorted, b_sorted, atol=1e-12)
    assert a["center"].iloc[0] == pytest.approx(b["center"].iloc[0], nan_ok=True)


def test_p_chart_columns_are_the_frame_without_pandas() -> None:
    columns = p_chart_columns([2, 10, 30, 0], [100, 100, 100, 0])
    frame = p_chart([2, 10, 30, 0], [100, 100, 100, 0])
    assert list(columns) == list(frame.columns)
    for name in ("p", "n", "center", "lcl", "ucl", "out_of_control"):
        np.testing.assert_array_equal(columns[name], frame[name].to_numpy(), err_msg=name)
    # p̄ = 42 / 300 = 0.14: limits 0.14 ∓ 3·sqrt(0.14·0.86/100) = 0.036 / 0.244.
    assert list(columns["direction"]) == list(frame["direction"]) == ["below", None, "above", None]


# --------------------------------------------------------------------------------------------
# Exact one-sided binomial test (quality and SLA alerts)
# --------------------------------------------------------------------------------------------


def test_exact_excess_test_closed_forms() -> None:
    """With one error, P(X >= 1) = 1 - (1 - p0)^n and the Clopper-Pearson lower bound solves
    1 - (1 - p)^n = alpha; with none, the p-value is 1 and the bound 0; no audits: NaN."""
    p, low = exact_excess_test([1, 1, 0, 0], [10, 200, 50, 0], [0.05, 0.01, 0.05, 0.05], 0.05)
    assert p[0] == pytest.approx(1 - 0.95**10, rel=1e-14)
    assert p[1] == pytest.approx(1 - 0.99**200, rel=1e-14)
    assert low[0] == pytest.approx(1 - 0.95 ** (1 / 10), rel=1e-12)  # 0.005116
    assert low[1] == pytest.approx(1 - 0.95 ** (1 / 200), rel=1e-12)
    assert (p[2], low[2]) == (1.0, 0.0)
    assert np.isnan(p[3]) and np.isnan(low[3])


def test_exact_excess_test_equals_scipy_stats_to_the_bit() -> None:
    """The incomplete beta function and its inverse give what `scipy.stats.binom.sf` and
    `beta.ppf` give (the same Boost functions), on random counts and the edges."""
    from scipy.stats import beta, binom

    rng = np.random.default_rng(16)
    n = np.concatenate([rng.integers(1, 5_000, 20_000), [1, 1, 7, 7, 30, 30]]).astype(float)
    x = np.concatenate([np.floor(rng.random(20_000) * (n[:20_000] + 1)), [0, 1, 0, 7, 30, 29]])
    p0 = np.concatenate([rng.random(20_000) * 0.3, [0.0, 1.0, 0.5, 0.0, 1.0, 0.02]])
    for alpha in (0.005, 0.01, 0.05):
        p, low = exact_excess_test(x, n, p0, alpha)
        assert np.array_equal(p, binom.sf(x - 1, n, p0))
        some = x > 0
        assert np.array_equal(low[some], beta.ppf(alpha, x[some], n[some] - x[some] + 1))
        assert (low[~some] == 0).all()


# --------------------------------------------------------------------------------------------
# Audit sample size
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("margin", "rate", "confidence", "population", "expected"),
    [
        (0.05, 0.5, 0.95, None, 385),  # the classic survey-table value
        (0.05, 0.5, 0.95, 1000, 278),  # n0 = 384.15, 384.15 / (1 + 383.15 / 1000) = 277.7
        (0.03, 0.5, 0.95, None, 1068),
        (0.05, 0.5, 0.99, None, 664),
        (0.05, 0.5, 0.90, None, 271),
        (0.02, 0.05, 0.95, None, 457),  # 1.959964² · 0.05 · 0.95 / 0.02² = 456.2
        (0.05, 0.5, 0.95, 10, 10),
    ],
)
def test_audit_sample_size(
    margin: float, rate: float, confidence: float, population: int | None, expected: int
) -> None:
    assert audit_sample_size(margin, rate, confidence, population) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"margin": 0},
        {"margin": 1},
        {"margin": -0.1},
        {"margin": 0.05, "expected_rate": 0},
        {"margin": 0.05, "expected_rate": 1.2},
        {"margin": 0.05, "confidence": 1},
        {"margin": 0.05, "population": 0},
        {"margin": 0.05, "population": 10.5},
    ],
)
def test_audit_sample_size_rejects_invalid_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        audit_sample_size(**kwargs)


@given(
    margin=st.floats(min_value=0.005, max_value=0.5),
    rate=st.floats(min_value=0.01, max_value=0.99),
)
def test_audit_sample_size_achieves_the_margin(margin: float, rate: float) -> None:
    n = audit_sample_size(margin, rate)
    z = norm.ppf(0.975)
    assert z * math.sqrt(rate * (1 - rate) / n) <= margin * (1 + 1e-9)
    if n > 1:
        assert z * math.sqrt(rate * (1 - rate) / (n - 1)) > margin * (1 - 1e-9)


# --------------------------------------------------------------------------------------------
# Mean of per-audit scores (weighted quality score)
# --------------------------------------------------------------------------------------------


def test_mean_interval_is_wilson_at_the_effective_n_on_random_audit_scores() -> None:
    """200 groups of audit scores (1, 0.75, 0.5, 0 as severity points give), from the sums the
    engine returns: the mean, and statsmodels' Wilson interval at n_eff = n m(1 - m) / s**2
    with s**2 numpy's sample variance of the scores themselves."""
    rng = np.random.default_rng(17)
    totals, squares, ns, want = [], [], [], []
    for _ in range(200):
        n = int(rng.integers(2, 400))
        x = rng.choice([1.0, 0.75, 0.5, 0.0], size=n, p=[0.9, 0.04, 0.04, 0.02])
        if np.ptp(x) == 0:
            x[0] = 0.5  # the alike case is tested below
        totals.append(x.sum())
        squares.append((x**2).sum())
        ns.append(n)
        m = x.mean()
        n_eff = n / min(1.0, x.var(ddof=1) / (m * (1 - m)))
        low, high = proportion_confint(m * n_eff, n_eff, alpha=0.05, method="wilson")
        want.append((m, low, high))
    mean, low, high = mean_interval_arrays(totals, squares, ns)
    np.testing.assert_allclose(mean, [w[0] for w in want], rtol=1e-12)
    np.testing.assert_allclose(low, [w[1] for w in want], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(high, [w[2] for w in want], rtol=1e-9, atol=1e-12)


def test_mean_interval_by_hand() -> None:
    """Scores 1, 1, 1, 0.5: m = 0.875, s**2 = 0.0625, m(1 - m) = 0.109375, design effect 4/7,
    n_eff = 7: Wilson's interval of 6.125 of 7 (z = 1.959964)."""
    mean, low, high = mean_interval_arrays([3.5], [3.25], [4])
    z, p, n = 1.959963985, 0.875, 7.0
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert mean[0] == 0.875
    assert low[0] == pytest.approx(centre - half, abs=1e-8)
    assert high[0] == pytest.approx(centre + half, abs=1e-8)


def test_mean_interval_of_zero_one_scores_is_wilson() -> None:
    """Scores of 0 or 1 only (every error fails its audit): the quality score's own Wilson
    interval, since s**2 = m(1 - m) n / (n - 1) >= m(1 - m) caps the effect at 1."""
    mean, low, high = mean_interval_arrays([37.0], [37.0], [40])
    w_low, w_high = proportion_confint(37, 40, alpha=0.05, method="wilson")
    assert (low[0], high[0]) == pytest.approx((w_low, w_high), abs=1e-12)


def test_mean_interval_where_every_audit_scores_alike_is_wilson() -> None:
    """40 clean audits: not a zero-width interval but Wilson's for 40 of 40 (and for 30 of 40
    points when all 40 lose a quarter); one audit: Wilson's for 1 of 1; none: nothing."""
    mean, low, high = mean_interval_arrays([40.0, 30.0, 1.0, 0.0], [40.0, 22.5, 1.0, 0.0],
                                           [40, 40, 1, 0])  # fmt: skip
    w_low, w_high = proportion_confint([40, 30, 1], [40, 40, 1], alpha=0.05, method="wilson")
    np.testing.assert_allclose(low[:3], w_low, rtol=1e-12)
    np.testing.assert_allclose(high[:3], np.minimum(w_high, 1.0), rtol=1e-12)
    assert low[0] < 0.92 and high[0] == 1.0 and mean[2] == 1.0
    assert math.isnan(mean[3]) and math.isnan(low[3]) and math.isnan(high[3])


def test_mean_interval_covers_about_95_percent_where_student_t_does_not() -> None:
    """The README's argument for the effective-n Wilson interval, re-measured: 4,000 groups of
    100 audit scores (1 / 0.75 / 0.5 / 0 at 95 / 2 / 2 / 1 %, true mean 0.975)."""
    from scipy import stats as sps

    rng = np.random.default_rng(2026)
    values, p = np.array([1.0, 0.75, 0.5, 0.0]), np.array([0.95, 0.02, 0.02, 0.01])
    mu = float(values @ p)
    x = rng.choice(values, size=(4000, 100), p=p)
    _, low, high = mean_interval_arrays(x.sum(1), (x**2).sum(1), np.full(4000, 100))
    ours = float(np.mean((low <= mu) & (mu <= high)))
    sem = x.std(axis=1, ddof=1) / 10
    t_low, t_high = sps.t.interval(0.95, 99, loc=x.mean(1), scale=np.where(sem > 0, sem, np.nan))
    student = float(np.mean((t_low <= mu) & (mu <= t_high)))
    assert 0.92 <= ours <= 0.97
    assert student < 0.90 < ours
