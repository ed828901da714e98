"""Tests for kpi.agreement against published worked examples and peer implementations."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from kpi.agreement import (
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
)

NAN = math.nan


def long_ratings(rows: Sequence[Sequence[object]], raters: Sequence[str] | None = None):
    """Long ratings from a wide table: one row per item, one column per rater, NaN = missing."""
    raters = raters or [f"r{j}" for j in range(len(rows[0]))]
    records = [
        (item, raters[j], label)
        for item, row in enumerate(rows)
        for j, label in enumerate(row)
        if not (isinstance(label, float) and math.isnan(label))
    ]
    return pd.DataFrame(records, columns=["item", "rater", "label"])


def from_counts(table: Sequence[Sequence[int]], categories: Sequence[object]) -> pd.DataFrame:
    """Long ratings from an item × category count table (raters are anonymous per item)."""
    records = []
    for item, counts in enumerate(table):
        labels = [c for c, k in zip(categories, counts, strict=True) for _ in range(k)]
        records += [(item, f"r{j}", label) for j, label in enumerate(labels)]
    return pd.DataFrame(records, columns=["item", "rater", "label"])


def wide(r: pd.DataFrame) -> pd.DataFrame:
    return r.pivot(index="item", columns="rater", values="label")


def simulated(
    n_items: int, n_raters: int, seed: int, accuracy: float = 0.7, q: int = 4, missing: float = 0.0
) -> pd.DataFrame:
    """Raters who give the item's true label with probability ``accuracy``, else a random one."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n_items)
    records = []
    for item in range(n_items):
        for rater in range(n_raters):
            if rng.random() < missing:
                continue
            label = truth[item] if rng.random() < accuracy else rng.integers(0, q)
            records.append((item, f"r{rater}", int(label)))
    return pd.DataFrame(records, columns=["item", "rater", "label"])


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, missing values. Rows are units, columns observers A-D.
KRIPPENDORFF_2011 = [
    [1, 1, NAN, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [NAN, 5, 5, 5],
    [NAN, NAN, 1, 1],
    [NAN, NAN, 3, NAN],
]


# --------------------------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------------------------


def wikipedia_cohen() -> pd.DataFrame:
    """Wikipedia "Cohen's kappa", simple example: 50 grant applications read by A and B."""
    pairs = [("Yes", "Yes")] * 20 + [("Yes", "No")] * 5 + [("No", "Yes")] * 10 + [("No", "No")] * 15
    return long_ratings(pairs, raters=["A", "B"])


def test_cohen_kappa_wikipedia_example() -> None:
    r = wikipedia_cohen()
    # p_o = 35/50 = 0.7; p_e = 0.5·0.6 + 0.5·0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4
    assert cohen_kappa(r) == pytest.approx(0.4, abs=1e-12)
    assert percent_agreement(r) == pytest.approx(0.7, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cohen_kappa_matches_sklearn(weights: str | None, seed: int) -> None:
    r = simulated(120, 2, seed, accuracy=0.5, q=5, missing=0.1)
    pairs = wide(r).dropna()
    expected = cohen_kappa_score(pairs["r0"], pairs["r1"], weights=weights)
    assert cohen_kappa(r, weights=weights) == pytest.approx(expected, abs=1e-12)


def test_cohen_kappa_weights_follow_the_given_category_order() -> None:
    order = ["none", "low", "medium", "high", "critical"]
    rng = np.random.default_rng(7)
    a = rng.choice(order, 80)
    b = np.where(rng.random(80) < 0.6, a, rng.choice(order, 80))
    r = long_ratings(list(zip(a, b, strict=True)), raters=["vendor", "qa"])
    for weights in ("linear", "quadratic"):
        expected = cohen_kappa_score(a, b, weights=weights, labels=order)
        assert cohen_kappa(r, weights, categories=order) == pytest.approx(expected, abs=1e-12)


def test_cohen_kappa_ignores_items_only_one_rater_rated() -> None:
    r = wikipedia_cohen()
    extra = pd.DataFrame(
        {"item": [100, 101, 102], "rater": ["A", "A", "B"], "label": ["Yes", "No", "No"]}
    )
    assert cohen_kappa(pd.concat([r, extra])) == pytest.approx(0.4, abs=1e-12)


def test_cohen_kappa_needs_exactly_two_raters() -> None:
    r = simulated(10, 3, seed=0)
    with pytest.raises(ValueError, match="two raters"):
        cohen_kappa(r)


def test_kappa_paradox_and_ac1_by_hand() -> None:
    # Two raters, 10 items: 7 both "ok", 1 both "bad", 1 ok/bad, 1 bad/ok.
    pairs = [("ok", "ok")] * 7 + [("bad", "bad")] + [("ok", "bad"), ("bad", "ok")]
    r = long_ratings(pairs)
    # p_o = 0.8. Cohen: p_e = 0.8² + 0.2² = 0.68, kappa = 0.12 / 0.32 = 0.375.
    assert cohen_kappa(r) == pytest.approx(0.375, abs=1e-12)
    # AC1: pi_ok = 16/20 = 0.8, p_e = (0.8·0.2 + 0.2·0.8) / (2 - 1) = 0.32,
    # AC1 = (0.8 - 0.32) / (1 - 0.32) = 0.48 / 0.68.
    assert gwet_ac1(r) == pytest.approx(0.48 / 0.68, abs=1e-12)
    # Fleiss / Scott: same p_e as Cohen here (equal marginals), so 0.375 as well.
    assert fleiss_kappa(r) == pytest.approx(0.375, abs=1e-12)


# --------------------------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------------------------

# Wikipedia "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_wikipedia_example() -> None:
    r = from_counts(WIKIPEDIA_FLEISS, categories=[1, 2, 3, 4, 5])
    assert round(fleiss_kappa(r), 3) == 0.210
    assert percent_agreement(r) == pytest.approx(0.378, abs=5e-4)  # P̄ in the article
    assert fleiss_kappa(r) == pytest.approx(sm_fleiss_kappa(np.array(WIKIPEDIA_FLEISS)), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_matches_statsmodels_with_equal_raters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_raters = int(rng.integers(2, 8))
    table = rng.multinomial(n_raters, rng.dirichlet(np.ones(4)), size=40)
    r = from_counts(table.tolist(), categories=["a", "b", "c", "d"])
    assert fleiss_kappa(r) == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)


def test_fleiss_kappa_with_unequal_raters_by_hand() -> None:
    # item 0: a, a -> P = 1; item 1: a, b, b -> P = 2/6; item 2: one rating, dropped.
    r = pd.DataFrame(
        {
            "item": [0, 0, 1, 1, 1, 2],
            "rater": ["x", "y", "x", "y", "z", "x"],
            "label": ["a", "a", "a", "b", "b", "b"],
        }
    )
    observed = (1 + 1 / 3) / 2
    expected = (3 / 5) ** 2 + (2 / 5) ** 2
    assert fleiss_kappa(r) == pytest.approx((observed - expected) / (1 - expected), abs=1e-12)


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_example(level: str, published: float) -> None:
    r = long_ratings(KRIPPENDORFF_2011)
    alpha = krippendorff_alpha(r, level=level)
    assert round(alpha, 3) == published
    reference = krippendorff.alpha(
        reliability_data=np.array(KRIPPENDORFF_2011, dtype=float).T, level_of_measurement=level
    )
    assert alpha == pytest.approx(reference, abs=1e-12)


def test_krippendorff_wikipedia_example() -> None:
    # Wikipedia "Krippendorff's alpha", computational example: 3 coders, 15 units.
    coders = [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
    r = long_ratings(np.array(coders).T.tolist())
    assert round(krippendorff_alpha(r, "nominal"), 3) == 0.691
    assert round(krippendorff_alpha(r, "interval"), 3) == 0.811


def test_krippendorff_ordinal_uses_the_category_order() -> None:
    words = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    rows = [[words.get(v, NAN) for v in row] for row in KRIPPENDORFF_2011]
    r = long_ratings(rows)
    order = list(words.values())
    assert round(krippendorff_alpha(r, "ordinal", categories=order), 3) == 0.815
    # Alphabetical order is a different ordinal scale and gives a different alpha.
    assert krippendorff_alpha(r, "ordinal") != pytest.approx(0.815, abs=1e-3)
    assert krippendorff_alpha(r, "nominal") == pytest.approx(0.743, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(4))
def test_krippendorff_matches_the_krippendorff_package(level: str, seed: int) -> None:
    r = simulated(60, 5, seed, accuracy=0.6, q=5, missing=0.3)
    r["label"] += 1  # ratio needs positive values
    matrix = wide(r).reindex(columns=[f"r{j}" for j in range(5)]).to_numpy(dtype=float).T
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    assert krippendorff_alpha(r, level=level) == pytest.approx(expected, abs=1e-10)


# --------------------------------------------------------------------------------------------
# Gwet's AC1
# --------------------------------------------------------------------------------------------

# Datasets from Gwet (2014), with the values irrCAC's own test suite asserts
# (pa, pe, AC1 rounded to 3 decimals).
GWET_5_OBSERVERS = [
    [1, 1, 2, NAN, 2],
    [1, 1, 0, 1, NAN],
    [2, 3, 3, 3, NAN],
    [NAN, 0, 0, NAN, 0],
    [0, 0, 0, NAN, 0],
    [0, 0, 0, NAN, 0],
    [1, 0, 2, NAN, 1],
    [1, NAN, 2, 0, NAN],
    [2, 2, 2, NAN, 2],
    [2, 1, 1, 1, NAN],
    [NAN, 1, 0, 0, NAN],
    [0, 0, 0, 0, NAN],
    [1, 2, 2, 2, NAN],
    [3, 3, 2, 2, 3],
    [1, 1, 1, NAN, 1],
]


@pytest.mark.parametrize(
    ("rows", "pa", "ac1"),
    [(KRIPPENDORFF_2011, 0.818, 0.775), (GWET_5_OBSERVERS, 0.616, 0.497)],
)
def test_gwet_ac1_published_values(rows: list, pa: float, ac1: float) -> None:
    r = long_ratings(rows)
    assert round(gwet_ac1(r), 3) == ac1
    assert round(percent_agreement(r), 3) == pa  # AC1's pa is the percent agreement


def _oracle_ac1(r: pd.DataFrame, categories: Sequence[object]) -> float:
    """Gwet (2014) AC1 for several raters with missing ratings, written out loop by loop.

    pa averages, over items with >= 2 ratings, sum_k r_ik (r_ik - 1) / (r_i (r_i - 1));
    pi_k averages r_ik / r_i over all rated items; pe = sum_k pi_k (1 - pi_k) / (q - 1).
    """
    items = {}
    for item, label in zip(r["item"], r["label"], strict=True):
        items.setdefault(item, []).append(label)
    q = len(categories)
    pa_terms, pi = [], dict.fromkeys(categories, 0.0)
    for labels in items.values():
        n_i = len(labels)
        counts = {k: labels.count(k) for k in categories}
        for k in categories:
            pi[k] += counts[k] / n_i / len(items)
        if n_i >= 2:
            pa_terms.append(sum(c * (c - 1) for c in counts.values()) / (n_i * (n_i - 1)))
    pa = sum(pa_terms) / len(pa_terms)
    pe = sum(p * (1 - p) for p in pi.values()) / (q - 1)
    return (pa - pe) / (1 - pe)


@pytest.mark.parametrize("seed", range(5))
def test_gwet_ac1_matches_oracle_with_missing_ratings(seed: int) -> None:
    r = simulated(50, 4, seed, accuracy=0.6, q=4, missing=0.35)
    categories = sorted(r["label"].unique())
    assert gwet_ac1(r) == pytest.approx(_oracle_ac1(r, categories), abs=1e-12)


def test_gwet_ac1_oracle_reproduces_published_value_and_unused_categories() -> None:
    r = long_ratings(KRIPPENDORFF_2011)
    assert round(_oracle_ac1(r, [1, 2, 3, 4, 5]), 3) == 0.775  # the oracle itself is right
    assert gwet_ac1(r) == pytest.approx(_oracle_ac1(r, [1, 2, 3, 4, 5]), abs=1e-12)
    # An offered but unused category changes q and therefore AC1.
    with_unused = gwet_ac1(r, categories=[1, 2, 3, 4, 5, 6])
    assert with_unused == pytest.approx(_oracle_ac1(r, [1, 2, 3, 4, 5, 6]), abs=1e-12)
    assert with_unused != pytest.approx(gwet_ac1(r))


# --------------------------------------------------------------------------------------------
# Degenerate and invalid input
# --------------------------------------------------------------------------------------------

ALL_STATISTICS: list[Callable[[pd.DataFrame], float]] = [
    percent_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    functools.partial(krippendorff_alpha, level="ordinal"),
    functools.partial(krippendorff_alpha, level="interval"),
    gwet_ac1,
]

DEGENERATE = {
    "empty": pd.DataFrame(columns=["item", "rater", "label"]),
    "empty_without_columns": pd.DataFrame(),
    "one_rating": pd.DataFrame({"item": [1], "rater": ["a"], "label": [1]}),
    "one_rater": pd.DataFrame({"item": [1, 2, 3], "rater": ["a"] * 3, "label": [1, 2, 1]}),
    "all_single_ratings": pd.DataFrame({"item": [1, 2], "rater": ["a", "b"], "label": [1, 2]}),
    "all_labels_missing": pd.DataFrame({"item": [1, 1], "rater": ["a", "b"], "label": [NAN, NAN]}),
}
SINGLE_CATEGORY = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b"] * 2, "label": [3] * 4})


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_ratings_give_nan_without_warnings(name: str) -> None:
    r = DEGENERATE[name]
    for statistic in [*ALL_STATISTICS, cohen_kappa]:
        assert math.isnan(statistic(r)), (name, statistic)
    assert all(math.isnan(v) for v in bootstrap_ci(r, fleiss_kappa, n_boot=20))


@pytest.mark.filterwarnings("error")
def test_single_category_gives_nan_except_percent_agreement() -> None:
    assert percent_agreement(SINGLE_CATEGORY) == 1.0
    for statistic in [*ALL_STATISTICS[1:], cohen_kappa]:
        assert math.isnan(statistic(SINGLE_CATEGORY)), statistic
    for weights in ("linear", "quadratic"):
        assert math.isnan(cohen_kappa(SINGLE_CATEGORY, weights=weights))
    # AC1 is defined once a second category is on offer: pe = 0, AC1 = pa = 1.
    assert gwet_ac1(SINGLE_CATEGORY, categories=[3, 4]) == 1.0
    assert all(math.isnan(v) for v in bootstrap_ci(SINGLE_CATEGORY, gwet_ac1, n_boot=20))


def test_missing_labels_count_as_absent_ratings() -> None:
    r = long_ratings(KRIPPENDORFF_2011)
    with_gaps = pd.concat(
        [r, pd.DataFrame({"item": [0, 11], "rater": ["r2", "r0"], "label": [NAN, NAN]})]
    )
    for statistic in ALL_STATISTICS:
        assert statistic(with_gaps) == pytest.approx(statistic(r), abs=1e-12)


def test_invalid_ratings_raise() -> None:
    r = long_ratings(KRIPPENDORFF_2011)
    with pytest.raises(ValueError, match="columns"):
        fleiss_kappa(r.rename(columns={"label": "decision"}))
    with pytest.raises(ValueError, match="only once"):
        fleiss_kappa(pd.concat([r, r.head(1)]))
    with pytest.raises(ValueError, match="not among"):
        gwet_ac1(r, categories=[1, 2, 3])
    with pytest.raises(ValueError, match="repeat"):
        gwet_ac1(r, categories=[1, 2, 3, 4, 5, 5])
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(r, level="cardinal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha(wikipedia_cohen(), level="interval")
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(wikipedia_cohen(), weights="cubic")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

LABEL_SETS = [["spam", "ham"], ["allow", "remove", "escalate"], [0, 1, 2, 3]]


@st.composite
def rating_frames(draw: st.DrawFn, max_raters: int = 4) -> pd.DataFrame:
    labels = draw(st.sampled_from(LABEL_SETS))
    cells = draw(
        st.dictionaries(
            st.tuples(st.integers(0, 9), st.integers(0, max_raters - 1)),
            st.sampled_from(labels),
            max_size=40,
        )
    )
    records = [(item, f"r{rater}", label) for (item, rater), label in cells.items()]
    return pd.DataFrame(records, columns=["item", "rater", "label"])


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


PROPERTY_STATISTICS = [
    percent_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    functools.partial(krippendorff_alpha, level="ordinal"),
    gwet_ac1,
]


@pytest.mark.filterwarnings("error")
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(r=rating_frames(), data=st.data())
def test_statistics_do_not_depend_on_row_order(r: pd.DataFrame, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(r))))
    shuffled = r.iloc[list(order)]
    for statistic in PROPERTY_STATISTICS:
        assert _same(statistic(r), statistic(shuffled)), statistic
    two = r[r["rater"].isin(["r0", "r1"])]
    two_shuffled = shuffled[shuffled["rater"].isin(["r0", "r1"])]
    for weights in (None, "linear", "quadratic"):
        assert _same(cohen_kappa(two, weights), cohen_kappa(two_shuffled, weights))


@pytest.mark.filterwarnings("error")
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(r=rating_frames())
def test_statistics_stay_in_range(r: pd.DataFrame) -> None:
    share = percent_agreement(r)
    assert math.isnan(share) or 0.0 <= share <= 1.0
    two = r[r["rater"].isin(["r0", "r1"])]
    values = [statistic(r) for statistic in PROPERTY_STATISTICS[1:]]
    values += [cohen_kappa(two, weights) for weights in (None, "linear", "quadratic")]
    for value in values:
        assert math.isnan(value) or value <= 1.0 + 1e-12


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(r=rating_frames())
def test_nominal_statistics_do_not_depend_on_label_names(r: pd.DataFrame) -> None:
    renamed = r.assign(label=r["label"].map(lambda v: f"label-{v}"))
    for statistic in (percent_agreement, fleiss_kappa, krippendorff_alpha, gwet_ac1):
        assert _same(statistic(r), statistic(renamed)), statistic


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibration() -> pd.DataFrame:
    """200 items × 5 raters, some ratings missing, as in a calibration session."""
    return simulated(200, 5, seed=42, accuracy=0.7, q=4, missing=0.1)


@pytest.mark.parametrize("statistic", ALL_STATISTICS)
def test_bootstrap_interval_contains_the_estimate(calibration, statistic) -> None:
    lower, upper = bootstrap_ci(calibration, statistic, n_boot=300, seed=1)
    assert lower < statistic(calibration) < upper
    assert upper - lower < 0.25


def test_bootstrap_cohen_interval_contains_the_estimate(calibration) -> None:
    two = calibration[calibration["rater"].isin(["r0", "r1"])]
    for weights in (None, "quadratic"):
        statistic = functools.partial(cohen_kappa, weights=weights)
        lower, upper = bootstrap_ci(two, statistic, n_boot=300)
        assert lower < statistic(two) < upper


def test_bootstrap_is_reproducible(calibration) -> None:
    first = bootstrap_ci(calibration, gwet_ac1, n_boot=200, seed=3)
    assert bootstrap_ci(calibration, gwet_ac1, n_boot=200, seed=3) == first
    assert bootstrap_ci(calibration, gwet_ac1, n_boot=200, seed=4) != first


@pytest.mark.parametrize(
    "statistic",
    [
        *ALL_STATISTICS,
        functools.partial(gwet_ac1, categories=[0, 1, 2, 3, 4]),
        functools.partial(cohen_kappa, weights="linear"),
    ],
)
def test_bootstrap_fast_path_equals_resampling_frames(calibration, statistic) -> None:
    r = calibration
    if getattr(statistic, "func", None) is cohen_kappa:
        r = r[r["rater"].isin(["r0", "r1"])]
    fast = bootstrap_ci(r, statistic, n_boot=40, seed=9)
    generic = bootstrap_ci(r, lambda frame: statistic(frame), n_boot=40, seed=9)
    assert fast == pytest.approx(generic, abs=1e-12)


def test_bootstrap_counts_a_redrawn_item_as_a_new_item(calibration) -> None:
    n_items = calibration["item"].nunique()
    count_items = lambda frame: float(frame["item"].nunique())  # noqa: E731
    assert bootstrap_ci(calibration, count_items, n_boot=20) == (n_items, n_items)


def test_bootstrap_ignores_nan_replicates() -> None:
    # Two perfectly agreed items with different labels: a replicate that draws the same item
    # twice has a single category (kappa NaN); every other replicate has kappa 1.
    r = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b"] * 2, "label": list("xxyy")})
    assert bootstrap_ci(r, fleiss_kappa, n_boot=200) == (1.0, 1.0)


def test_bootstrap_rejects_invalid_arguments(calibration) -> None:
    with pytest.raises(ValueError):
        bootstrap_ci(calibration, fleiss_kappa, n_boot=0)
    with pytest.raises(ValueError):
        bootstrap_ci(calibration, fleiss_kappa, confidence=1.0)


@pytest.mark.parametrize(
    "statistic",
    [
        percent_agreement,
        fleiss_kappa,
        gwet_ac1,
        functools.partial(gwet_ac1, categories=[0, 1, 2, 3, 4]),
        krippendorff_alpha,
        functools.partial(krippendorff_alpha, level="ordinal"),
        functools.partial(krippendorff_alpha, level="interval"),
        functools.partial(krippendorff_alpha, level="ratio"),
    ],
)
@pytest.mark.parametrize("missing", [0.0, 0.6])
def test_batched_replicates_equal_one_at_a_time(statistic, missing) -> None:
    """The bootstrap evaluates all replicates at once on (replicates, items, categories)
    counts: each equals the statistic on that replicate's items alone, NaN where it is NaN
    (many items with one rating at 60 % missing)."""
    from kpi.agreement import _prepare

    for seed in range(4):
        r = simulated(12, 3, seed=seed, accuracy=0.9, q=3, missing=missing)
        prepared = _prepare(r, statistic)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, prepared.n_items, size=(300, prepared.n_items))
        batched = prepared.replicates(draws)
        single = np.array([prepared(rows) for rows in draws])
        np.testing.assert_allclose(batched, single, rtol=1e-12, atol=1e-12, equal_nan=True)
        if missing:  # the masks are exercised: items rated once are left out of the pairs
            assert (r.groupby("item").size() < 2).any()


def test_bootstrap_in_chunks_gives_the_same_interval(calibration, monkeypatch) -> None:
    """Replicates drawn and evaluated a chunk at a time (bounded memory) give the interval of
    one batch: the draws are one stream whatever the chunk size."""
    import kpi.agreement as agreement

    whole = bootstrap_ci(calibration, fleiss_kappa, n_boot=300, seed=5)
    monkeypatch.setattr(agreement, "_BATCH_CELLS", 7 * 200 * 4)  # 7 replicates a chunk
    assert bootstrap_ci(calibration, fleiss_kappa, n_boot=300, seed=5) == whole
    # And the interval a replicate-by-replicate loop over resampled frames gives (the
    # definition), with the same seed.
    rng = np.random.default_rng(5)
    by_item = [g for _, g in calibration.groupby("item", sort=True)]
    reps = [fleiss_kappa(_resample(by_item, rng.integers(0, 200, size=200))) for _ in range(40)]
    want = tuple(np.quantile(reps, [0.025, 0.975]))
    assert bootstrap_ci(calibration, fleiss_kappa, n_boot=40, seed=5) == pytest.approx(want)


def _resample(by_item: list[pd.DataFrame], drawn: np.ndarray) -> pd.DataFrame:
    """The ratings of the drawn items (by position in item order), each draw a new item."""
    parts = [by_item[i] for i in drawn]
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(item=np.repeat(np.arange(len(drawn)), [len(p) for p in parts]))
