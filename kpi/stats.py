"""Proportion statistics for KPI comparisons: Wilson intervals, cluster-robust intervals of a share,
two-proportion tests, p-charts and audit sample sizes.

Every function here is pure (numbers and arrays in, numbers and frames out) and knows nothing of
the engine that produced the counts. Rates are shares in [0, 1]; counts are numbers of decisions
or audits. An empty denominator gives NaN, never 0 and never an exception.

Start-up: SciPy and statsmodels take 0.6-1 s to import (SciPy parses its docstrings), and the
KPI table needs neither: its normal quantile is the standard library's `NormalDist.inv_cdf`
(Wichura's AS241, accurate to double precision, as SciPy's `ndtri`), its Wilson interval the
closed formula statsmodels' `proportion_confint(method="wilson")` evaluates, term for term
(tests/kpi/test_stats.py checks both against SciPy and statsmodels). The functions that need
SciPy or statsmodels themselves (the cluster-robust interval, the exact binomial test: only
`scipy.special`, ~0.2 s) import them when called, so `import kpi.compute` (the `bpo-kpi kpis`
path) imports neither (tests/kpi/test_start_up.py checks it in a fresh process).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TwoProportionResult",
    "audit_sample_size",
    "clustered_share_interval",
    "kappa_interval_arrays",
    "mean_interval_arrays",
    "p_chart",
    "p_chart_columns",
    "two_proportion_test",
    "wilson_interval",
    "wilson_interval_arrays",
]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _two_sided_z(confidence: float) -> float:
    """Exact standard-normal quantile for a two-sided interval (1.959964 for 95 %); equal to
    SciPy's ``norm.ppf`` to within a few units in the last place."""
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval_arrays(
    successes: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise Wilson score interval for ``successes / n``, as shares in [0, 1].

    Uses the exact normal quantile for ``confidence``. Entries with ``n == 0`` (or a NaN input)
    are NaN in both bounds. Raises ``ValueError`` if any count is negative or
    ``successes > n``.

    >>> lo, hi = wilson_interval_arrays(np.array([81, 0]), np.array([263, 0]))
    >>> [round(float(v), 4) for v in lo[:1]], bool(np.isnan(hi[1]))
    ([0.2553], True)
    """
    _check_confidence(confidence)
    x, total = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    with np.errstate(invalid="ignore"):
        if np.any(x < 0) or np.any(total < 0):
            raise ValueError("successes and n must be non-negative")
        if np.any(x > total):
            raise ValueError("successes must not exceed n")
    defined = np.isfinite(x) & np.isfinite(total) & (total > 0)
    lower = np.full(x.shape, np.nan)
    upper = np.full(x.shape, np.nan)
    if defined.any():
        # statsmodels' proportion_confint(method="wilson"), term for term (without importing
        # it: see the module docstring); the tests compare the two.
        count, nobs = x[defined], total[defined]
        q = count / nobs
        crit = _two_sided_z(confidence)
        crit2 = crit**2
        denom = 1 + crit2 / nobs
        center = (q + crit2 / (2 * nobs)) / denom
        dist = crit * np.sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * nobs**2))
        dist /= denom
        # Rounding can put a bound a hair off 0 or 1 when successes is 0 or n; statsmodels
        # sets those bounds exactly, and so does this.
        lower[defined] = np.where(count == 0, 0.0, np.clip(center - dist, 0.0, 1.0))
        upper[defined] = np.where(count == nobs, 1.0, np.clip(center + dist, 0.0, 1.0))
    return lower, upper


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for the share ``successes / n``; ``(nan, nan)`` when ``n == 0``.

    >>> tuple(round(v, 4) for v in wilson_interval(81, 263))
    (0.2553, 0.3662)
    """
    lower, upper = wilson_interval_arrays(np.array([successes]), np.array([n]), confidence)
    return float(lower[0]), float(upper[0])


def clustered_share_interval(
    outcome: ArrayLike, clusters: Sequence[Iterable[Hashable]], confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for the share of 1s in a 0/1 ``outcome`` whose observations are clustered.

    ``clusters`` holds one or two arrays of cluster labels (any hashable values), one label per
    observation, e.g. ``[item, rater]`` for ratings that share items and raters. The share is
    the mean of ``outcome``: the intercept of an OLS regression on a constant. Its variance is
    statsmodels' cluster-robust sandwich (CRV1, with the small-sample factor G / (G - 1)):
    one-way for one clustering, two-way for two (Cameron, Gelbach & Miller 2011:
    V = V_1 + V_2 - V_12, V_12 clustered by the pairs of labels). The interval is
    ``share ± t · se`` with t the Student quantile on G - 1 degrees of freedom, G the smaller
    number of clusters (statsmodels' choice for cluster-robust inference), clipped to [0, 1].

    It is then widened to contain the Wilson interval of the same counts: under crossed random
    effects (clusters with non-negative variance components) clustering can only add variance
    to a binomial share, so a narrower estimate is noise -- e.g. zero when every outcome is 1.
    A clustering with a single cluster carries no information and is dropped (one rater: only
    the items vary); a two-way variance that comes out non-positive, possible in tiny samples,
    is replaced by the larger one-way variance. No observation gives ``(nan, nan)``.

    Two raters on five items, one always right and one always wrong: as ten independent
    ratings the share 0.5 would be known to ±0.26; as the work of two raters it says next to
    nothing about raters in general.

    >>> y, item, rater = [1, 0] * 5, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], ["a", "b"] * 5
    >>> [round(v, 4) for v in wilson_interval(5, 10)], clustered_share_interval(y, [item, rater])
    ([0.2366, 0.7634], (0.0, 1.0))
    """
    import pandas as pd  # factorize: labels of any hashable kind

    _check_confidence(confidence)
    y = np.asarray(outcome, dtype=float).ravel()
    if not 1 <= len(clusters) <= 2:
        raise ValueError(f"clusters must hold one or two label arrays, got {len(clusters)}")
    codes = []
    for labels in clusters:
        if isinstance(labels, np.ndarray | pd.Series | pd.Index):
            code, uniques = pd.factorize(np.asarray(labels).ravel())
        else:  # a list: each element one label, tuples included
            code, uniques = pd.factorize(pd.Series(list(labels), dtype=object))
        if len(code) != len(y):
            raise ValueError(f"clusters need one label per outcome ({len(code)} != {len(y)})")
        if (code < 0).any():
            raise ValueError("cluster labels must not be missing")
        if len(uniques) > 1:
            codes.append(code)
    if np.any((y != 0.0) & (y != 1.0)):
        raise ValueError("outcome must be 0 or 1")
    if len(y) == 0:
        return math.nan, math.nan
    low, high = wilson_interval(float(y.sum()), float(len(y)), confidence)
    if not codes:  # a single cluster in every clustering: nothing but the binomial share
        return low, high
    from scipy.stats import t as student_t  # slow imports, only here (module docstring)
    from statsmodels.regression.linear_model import OLS
    from statsmodels.stats.sandwich_covariance import cov_cluster, cov_cluster_2groups

    fit = OLS(y, np.ones((len(y), 1))).fit()
    if len(codes) == 1:
        variance = float(cov_cluster(fit, codes[0])[0, 0])
    else:
        both, first, second = cov_cluster_2groups(fit, np.column_stack(codes))
        variance = float(both[0, 0])
        if not variance > 0.0:
            variance = max(float(first[0, 0]), float(second[0, 0]))
    groups = min(int(code.max()) + 1 for code in codes)
    half = float(student_t.ppf(1.0 - (1.0 - confidence) / 2.0, groups - 1)) * math.sqrt(variance)
    share = float(y.mean())
    return min(low, max(0.0, share - half)), max(high, min(1.0, share + half))


_ZERO_VARIANCE = 1e-12


def kappa_interval_arrays(
    n: ArrayLike,
    agreements: ArrayLike,
    pe_num: ArrayLike,
    s1_num: ArrayLike,
    s2_num: ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Element-wise Cohen's kappa, its large-sample standard error and a normal interval,
    from sums over the two raters' confusion counts (no table needed).

    With n_ij the items labelled i by the first rater and j by the second, R_k and C_k the
    first and second rater's counts of label k:

    - ``agreements`` = sum_k n_kk;  ``pe_num`` = sum_k R_k C_k (chance agreement n**2 * pe);
    - ``s1_num`` = sum_k n_kk (R_k + C_k);  ``s2_num`` = sum_ij n_ij (C_i + R_j)**2.

    The variance is Fleiss, Cohen & Everitt (1969), the non-null large-sample variance (as
    statsmodels' ``cohens_kappa`` computes it from the table), rewritten on these sums:

        var = [po - 2(1 - k) S1 + (1 - k)**2 S2 - (k - pe (1 - k))**2] / (n (1 - pe)**2)

    with po = agreements / n, S1 = s1_num / n**2, S2 = s2_num / n**3. The interval is
    kappa +- z * se, clipped to [-1, 1]. Returns (kappa, se, low, high); NaN where kappa is
    undefined (n == 0, or pe == 1: both raters used one and the same label). Perfect agreement
    gives se 0, whatever n: a small sample's interval is no guide, so show a minimum n.

    Fleiss, Levin & Paik's diagnoses of 100 subjects by two raters (table [[75, 1, 4],
    [5, 4, 1], [0, 0, 10]]: po = 0.89, pe = 0.66):

    >>> k, se, lo, hi = kappa_interval_arrays([100], [89], [6600], [12310], [2004000])
    >>> [round(float(v[0]), 4) for v in (k, se, lo, hi)]
    [0.6765, 0.0877, 0.5046, 0.8484]
    """
    _check_confidence(confidence)
    total, agree, pe_n, s1, s2 = (
        np.asarray(v, dtype=float)
        for v in np.broadcast_arrays(n, agreements, pe_num, s1_num, s2_num)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        po = agree / total
        pe = pe_n / total**2
        kappa = (po - pe) / (1 - pe)
        rest = 1 - kappa
        var = (
            po - 2 * rest * s1 / total**2 + rest**2 * s2 / total**3 - (kappa - pe * rest) ** 2
        ) / (total * (1 - pe) ** 2)
    defined = np.isfinite(kappa) & (total > 0) & (pe < 1)
    kappa = np.where(defined, kappa, np.nan)
    # Where the variance is 0 (perfect agreement; one rater using a single label) the terms
    # cancel to rounding noise of either sign: below _ZERO_VARIANCE (a standard error under
    # 1e-6, which would take ~1e12 audits) it is 0.
    se = np.where(defined, np.sqrt(np.where(var < _ZERO_VARIANCE, 0.0, var)), np.nan)
    z = _two_sided_z(confidence)
    low = np.clip(kappa - z * se, -1.0, 1.0)
    high = np.clip(kappa + z * se, -1.0, 1.0)
    return kappa, se, low, high


def mean_interval_arrays(
    total: ArrayLike, squares: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Element-wise mean of per-unit values in [0, 1] and its interval, from the group's sum
    of values (``total``), sum of squared values (``squares``) and ``n``.

    The interval is Wilson's at the *effective* number of units: a value in [0, 1] with mean
    m has at most the variance m(1 - m) of a 0/1 value; with s**2 the sample variance, the
    mean is as precise as a share of n_eff = n m(1 - m) / s**2 0/1 units (Kish's design
    effect s**2 / (m(1 - m)), at most 1), so the interval is ``wilson(m n_eff, n_eff)``. It
    stays in [0, 1], is Wilson's itself for 0/1 values, and where every unit scores the same
    (s = 0: e.g. no audit has an error) it takes n_eff = n instead of a zero width. In
    simulation (audit scores 1 / 0.75 / 0.5 / 0 at 95/2/2/1 % and 85/6/6/3 %, 20,000 groups
    of 30, 100, 400) it covered 92-96 % where Student's t interval covered as little as 86 %
    (README, "Weighted quality score"). Returns (mean, low, high): NaN where n == 0.

    >>> m, lo, hi = mean_interval_arrays([3.5], [3.25], [4])  # values 1, 1, 1, 0.5
    >>> [round(float(v[0]), 4) for v in (m, lo, hi)]
    [0.875, 0.5046, 0.9796]
    """
    _check_confidence(confidence)
    s1, s2, count = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(total, squares, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, s1 / count, np.nan)
        # sample variance; rounding can take the sum of squared deviations a hair below 0
        var = np.maximum(s2 - s1 * mean, 0.0) / (count - 1)
        bound = mean * (1 - mean)  # the variance of a 0/1 value with this mean
        effect = np.where((count > 1) & (bound > 0) & (var >= _ZERO_VARIANCE), var / bound, 1.0)
        n_eff = count / np.clip(effect, None, 1.0)
    n_eff = np.where(count > 0, n_eff, 0.0)
    low, high = wilson_interval_arrays(
        np.clip(np.nan_to_num(mean) * n_eff, 0.0, n_eff), n_eff, confidence
    )
    return mean, low, high


@dataclass(frozen=True)
class TwoProportionResult:
    """Outcome of a pooled two-sided z test of ``p2`` against ``p1``.

    ``diff`` is ``p2 - p1`` (the later period minus the earlier one) and ``z`` has the same sign.
    ``z`` and ``p_value`` are NaN, and ``significant`` is False, when the test is undefined.
    """

    p1: float
    p2: float
    diff: float
    z: float
    p_value: float
    significant: bool
    alpha: float = 0.05


def two_proportion_test(
    x1: float, n1: float, x2: float, n2: float, alpha: float = 0.05
) -> TwoProportionResult:
    """Pooled two-sided z test for a change from ``x1 / n1`` (earlier) to ``x2 / n2`` (later).

    ``z = (p2 - p1) / sqrt(p̄(1 - p̄)(1/n1 + 1/n2))`` with ``p̄ = (x1 + x2) / (n1 + n2)``;
    ``p_value = 2·Φ(-|z|)``; ``significant`` means ``p_value < alpha``. Undefined (a zero
    ``n``, or ``p̄`` of 0 or 1 so there is no variance) gives NaN ``z`` and ``p_value``.

    >>> round(two_proportion_test(10, 100, 25, 100).p_value, 4)
    0.0052
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    for name, x, n in (("1", x1, n1), ("2", x2, n2)):
        if x < 0 or n < 0:
            raise ValueError(f"x{name} and n{name} must be non-negative")
        if x > n:
            raise ValueError(f"x{name} must not exceed n{name}")
    p1 = x1 / n1 if n1 > 0 else math.nan
    p2 = x2 / n2 if n2 > 0 else math.nan
    diff = p2 - p1
    z = p_value = math.nan
    if n1 > 0 and n2 > 0:
        pooled = (x1 + x2) / (n1 + n2)
        variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
        if variance > 0.0:
            z = diff / math.sqrt(variance)
            # 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2): no cancellation in the tail (SciPy's
            # norm.sf is the same erfc).
            p_value = math.erfc(abs(z) / math.sqrt(2.0))
    significant = bool(p_value < alpha)  # False for NaN
    return TwoProportionResult(
        p1=p1, p2=p2, diff=diff, z=z, p_value=p_value, significant=significant, alpha=alpha
    )


def exact_excess_test(
    errors: ArrayLike, n: ArrayLike, p0: ArrayLike, alpha: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact binomial test that the true rate exceeds `p0`, elementwise: the p-value
    P(X >= errors | n, p0) and the Clopper-Pearson lower bound of the rate at confidence
    1 - alpha (0 for no errors). `low > p0` exactly when `p_value < alpha` (up to floating
    point): under p0 the test fires with probability at most alpha, whatever n.

    >>> p, low = exact_excess_test([15], [100], [0.05], 0.01)
    >>> round(float(p[0]), 6), round(float(low[0]), 4)
    (0.000136, 0.0774)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    # The regularized incomplete beta function and its inverse: P(X >= x | n, p) = I_p(x,
    # n - x + 1) for x >= 1, and the Clopper-Pearson bound is the Beta(x, n - x + 1) quantile
    # (what `scipy.stats.binom.sf` and `beta.ppf` evaluate: the same Boost functions, equal to
    # the last bit, tests/kpi/test_stats.py). `scipy.special` imports in ~0.2 s where
    # `scipy.stats` takes ~0.6 s; only here (module docstring).
    from scipy.special import betainc, betaincinv

    x = np.asarray(errors, dtype=float)
    total = np.asarray(n, dtype=float)
    rate = np.asarray(p0, dtype=float)
    some = x > 0
    a, b = np.where(some, x, 1.0), np.where(some, total - x + 1, 1.0)  # defined where unused
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(some, betainc(a, b, rate), np.where(np.isnan(rate), np.nan, 1.0))
        low = np.where(some, betaincinv(a, b, alpha), 0.0)
    return np.where(total > 0, p_value, np.nan), np.where(total > 0, low, np.nan)


def p_chart(defects: ArrayLike, n: ArrayLike, sigma: float = 3.0) -> pd.DataFrame:
    """Shewhart p-chart: one row per period with its defect share and control limits.

    Columns: ``p`` (defects / n), ``n``, ``center`` (p̄ = Σ defects / Σ n over all periods),
    ``lcl`` / ``ucl`` (p̄ ∓ sigma·sqrt(p̄(1 - p̄)/n_i), clipped to [0, 1]), ``out_of_control``
    (p strictly outside the limits) and ``direction`` (``"above"``, ``"below"`` or None).
    Periods with ``n == 0`` have NaN ``p`` and limits and are never out of control. The index
    is taken from ``defects`` when it is a pandas Series. `p_chart_columns` is the same
    without pandas.
    """
    import pandas as pd

    index = defects.index if isinstance(defects, pd.Series) else None
    chart = p_chart_columns(defects, n, sigma)
    # An explicit object dtype keeps None (pandas 3 would infer a string column with NaN).
    chart["direction"] = pd.Series(chart["direction"], dtype=object, index=index)
    return pd.DataFrame(chart, index=index)


def p_chart_columns(defects: ArrayLike, n: ArrayLike, sigma: float = 3.0) -> dict[str, np.ndarray]:
    """`p_chart` as named numpy columns (``direction``: an object array with None)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    x = np.asarray(defects, dtype=float).ravel()
    total = np.asarray(n, dtype=float).ravel()
    if x.shape != total.shape:
        raise ValueError(f"defects and n must have the same length ({x.size} != {total.size})")
    if np.any(x < 0) or np.any(total < 0):
        raise ValueError("defects and n must be non-negative")
    if np.any(x > total):
        raise ValueError("defects must not exceed n")

    has_n = total > 0
    grand_n = total.sum()
    center = x.sum() / grand_n if grand_n > 0 else math.nan
    p = np.full(x.shape, np.nan)
    lcl = np.full(x.shape, np.nan)
    ucl = np.full(x.shape, np.nan)
    p[has_n] = x[has_n] / total[has_n]
    if grand_n > 0:
        half_width = sigma * np.sqrt(center * (1.0 - center) / total[has_n])
        lcl[has_n] = np.clip(center - half_width, 0.0, 1.0)
        ucl[has_n] = np.clip(center + half_width, 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        above = p > ucl  # NaN compares False
        below = p < lcl
    direction = np.full(x.shape, None, dtype=object)
    direction[above] = "above"
    direction[below] = "below"
    return {
        "p": p,
        "n": total,
        "center": np.full(x.shape, center),
        "lcl": lcl,
        "ucl": ucl,
        "out_of_control": above | below,
        "direction": direction,
    }


def audit_sample_size(
    margin: float,
    expected_rate: float = 0.5,
    confidence: float = 0.95,
    population: int | None = None,
) -> int:
    """Number of audits needed for a normal-approximation CI half-width of at most ``margin``.

    ``n0 = z² · p(1 - p) / margin²`` with z the exact two-sided normal quantile; with a finite
    ``population`` N, ``n = n0 / (1 + (n0 - 1) / N)``. The result is rounded up. ``margin`` and
    ``expected_rate`` are shares, e.g. 0.05 for ±5 percentage points.

    >>> audit_sample_size(0.05), audit_sample_size(0.05, population=1000)
    (385, 278)
    """
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    if not 0.0 < expected_rate < 1.0:
        raise ValueError(f"expected_rate must be in (0, 1), got {expected_rate!r}")
    _check_confidence(confidence)
    if population is not None and (population < 1 or int(population) != population):
        raise ValueError(f"population must be a positive integer, got {population!r}")

    z = _two_sided_z(confidence)
    needed = z**2 * expected_rate * (1.0 - expected_rate) / margin**2
    if population is not None:
        needed = needed / (1.0 + (needed - 1.0) / population)
    # The tolerance keeps float noise (e.g. 96.00000000000001) from adding a whole audit.
    return max(1, math.ceil(needed - 1e-9))
