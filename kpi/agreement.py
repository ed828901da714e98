"""Inter-rater agreement on long-format ratings: percent agreement, Cohen's and Fleiss' kappa,
Krippendorff's alpha, Gwet's AC1, and item-bootstrap intervals for any of them.

Ratings are a DataFrame with columns ``item``, ``rater`` and ``label``: one row per rater per
item, a missing rating is simply an absent row (a row whose label is NA counts as absent too).
Labels may be strings or numbers. Every statistic is a float of at most 1 (percent agreement in
[0, 1]) and is NaN where it is undefined (no item with two ratings, expected agreement of 1, a
single category); degenerate data never raises. Malformed data does: missing columns, a rater
rating the same item twice, a label outside the given ``categories``.

Internally the ratings are reduced once to an item × category count matrix (Cohen's kappa: to
the pair of labels per item), and each statistic is computed from that, so the bootstrap only
resamples rows of a small array.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd

__all__ = [
    "bootstrap_ci",
    "estimate_with_ci",
    "cohen_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "percent_agreement",
]

RATING_COLUMNS = ("item", "rater", "label")
KappaWeights = Literal["linear", "quadratic"]
AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio"]

# A chance-agreement term this close to 1 leaves nothing to correct for: the statistic is NaN.
_DEGENERATE = 1e-12
# Counts the bootstrap evaluates in one batch (replicates x items x categories).
_BATCH_CELLS = 4_000_000


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _clean(r: pd.DataFrame) -> pd.DataFrame:
    """The three rating columns with absent (NA) labels dropped, after validating the frame."""
    missing = [c for c in RATING_COLUMNS if c not in r.columns]
    if missing:
        if len(r) == 0:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in RATING_COLUMNS})
        raise ValueError(f"ratings need columns {RATING_COLUMNS}; missing {missing}")
    ratings = r.loc[r["label"].notna(), list(RATING_COLUMNS)]
    if ratings["item"].isna().any() or ratings["rater"].isna().any():
        raise ValueError("item and rater must not be missing in a rating")
    if ratings.duplicated(["item", "rater"]).any():
        raise ValueError("a rater may rate an item only once; found duplicate (item, rater) rows")
    return ratings


def _sorted_labels(labels: Sequence[Hashable]) -> list[Hashable]:
    try:
        return sorted(labels)  # type: ignore[type-var]
    except TypeError:  # mixed types such as "spam" and 3: a stable, documented order instead
        return sorted(labels, key=lambda v: (type(v).__name__, str(v)))


def _categories(labels: pd.Series, categories: Sequence[Hashable] | None) -> list[Hashable]:
    """The given categories after validation, or the sorted set of observed labels."""
    observed = pd.unique(labels.to_numpy(dtype=object)).tolist()
    if categories is None:
        return _sorted_labels(observed)
    chosen = list(categories)
    index = pd.Index(chosen, dtype=object)
    if not index.is_unique:
        raise ValueError("categories must not repeat a value")
    unknown = [v for v in observed if v not in index]
    if unknown:
        raise ValueError(f"labels not among the given categories: {unknown[:5]}")
    return chosen


def _label_codes(labels: pd.Series, categories: Sequence[Hashable]) -> np.ndarray:
    return pd.Index(list(categories), dtype=object).get_indexer(labels.to_numpy(dtype=object))


def _count_matrix(ratings: pd.DataFrame, categories: Sequence[Hashable]) -> np.ndarray:
    """Item × category counts; rows follow the items' first appearance in ``ratings``."""
    item_codes, items = pd.factorize(ratings["item"])
    counts = np.zeros((len(items), len(categories)))
    np.add.at(counts, (item_codes, _label_codes(ratings["label"], categories)), 1.0)
    return counts


# --------------------------------------------------------------------------------------------
# Statistics on count matrices (rows = items, columns = categories)
# --------------------------------------------------------------------------------------------


def _pairwise_agreement(counts: np.ndarray) -> np.ndarray:
    """Per item with n_i ≥ 2 ratings: share of agreeing rater pairs, Σ n_ij(n_ij-1)/(n_i(n_i-1))."""
    n_i = counts.sum(axis=1)
    return (counts * (counts - 1.0)).sum(axis=1) / (n_i * (n_i - 1.0))


def _percent_agreement_counts(counts: np.ndarray) -> float:
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return math.nan
    return float(_pairwise_agreement(counts).mean())


def _fleiss_counts(counts: np.ndarray) -> float:
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return math.nan
    observed = _pairwise_agreement(counts).mean()
    shares = counts.sum(axis=0) / counts.sum()
    expected = float(np.dot(shares, shares))
    if expected >= 1.0 - _DEGENERATE:
        return math.nan
    return float((observed - expected) / (1.0 - expected))


def _gwet_ac1_counts(counts: np.ndarray, n_categories: int | None) -> float:
    """AC1 with ``n_categories`` (q) fixed, or q = categories observed in ``counts`` when None."""
    n_i = counts.sum(axis=1)
    counts, n_i = counts[n_i >= 1], n_i[n_i >= 1]
    q = int((counts.sum(axis=0) > 0).sum()) if n_categories is None else n_categories
    paired = n_i >= 2
    if q < 2 or not paired.any():
        return math.nan
    observed = _pairwise_agreement(counts[paired]).mean()
    pi = (counts / n_i[:, None]).mean(axis=0)
    expected = float((pi * (1.0 - pi)).sum() / (q - 1))
    return float((observed - expected) / (1.0 - expected))


def _alpha_distance(
    level: AlphaLevel, values: np.ndarray | None, marginals: np.ndarray
) -> np.ndarray:
    """Squared distance δ²(c, k) between categories for Krippendorff's alpha."""
    q = len(marginals)
    if level == "nominal":
        return 1.0 - np.eye(q)
    if level == "ordinal":
        # δ²(c, k) = (Σ_{g=c..k} n_g - (n_c + n_k)/2)², categories in the given order.
        idx = np.arange(q)
        lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
        cum = np.cumsum(marginals)
        between = cum[hi] - cum[lo] + marginals[lo] / 2.0 - marginals[hi] / 2.0
        return between**2
    assert values is not None
    diff = np.subtract.outer(values, values)
    if level == "interval":
        return diff**2
    total = np.add.outer(values, values)
    ratio = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0)
    return ratio**2


def _krippendorff_counts(counts: np.ndarray, level: AlphaLevel, values: np.ndarray | None) -> float:
    n_u = counts.sum(axis=1)
    pairable = n_u >= 2
    if not pairable.any():
        return math.nan
    counts, n_u = counts[pairable], n_u[pairable]
    # Coincidence matrix o_ck = Σ_u (n_uc n_uk - [c = k] n_uc) / (n_u - 1).
    weighted = counts / (n_u - 1.0)[:, None]
    coincidences = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    marginals = coincidences.sum(axis=0)
    total = marginals.sum()
    delta = _alpha_distance(level, values, marginals)
    disagreement_expected = float(np.outer(marginals, marginals).ravel() @ delta.ravel())
    if disagreement_expected <= 0.0:  # a single value among the pairable ratings
        return math.nan
    disagreement_observed = float(coincidences.ravel() @ delta.ravel())
    return 1.0 - (total - 1.0) * disagreement_observed / disagreement_expected


# The same statistics on a batch of count matrices, shape (replicates, items, categories): the
# bootstrap evaluates all its replicates at once. Items a statistic leaves out (fewer than two
# ratings) are masked instead of dropped; results equal the one-matrix functions to rounding.


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    kept = mask.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(kept > 0, np.where(mask, values, 0.0).sum(axis=1) / kept, np.nan)


def _pairwise_batch(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate and item: the share of agreeing pairs, and whether it has two ratings."""
    n_i = counts.sum(axis=2)
    paired = n_i >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (counts * (counts - 1.0)).sum(axis=2) / (n_i * (n_i - 1.0))
    return share, paired


def _percent_agreement_batch(counts: np.ndarray) -> np.ndarray:
    share, paired = _pairwise_batch(counts)
    return _masked_mean(share, paired)


def _fleiss_batch(counts: np.ndarray) -> np.ndarray:
    share, paired = _pairwise_batch(counts)
    observed = _masked_mean(share, paired)
    used = np.where(paired[:, :, None], counts, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = used / used.sum(axis=1, keepdims=True)
        expected = (shares * shares).sum(axis=1)
        value = (observed - expected) / (1.0 - expected)
    return np.where(expected >= 1.0 - _DEGENERATE, np.nan, value)


def _gwet_ac1_batch(counts: np.ndarray, n_categories: int | None) -> np.ndarray:
    n_i = counts.sum(axis=2)
    rated = n_i >= 1
    share, paired = _pairwise_batch(counts)
    if n_categories is None:
        seen = np.where(rated[:, :, None], counts, 0.0).sum(axis=1) > 0
        q = seen.sum(axis=1).astype(float)
    else:
        q = np.full(len(counts), float(n_categories))
    observed = _masked_mean(share, paired)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_item = np.where(rated[:, :, None], counts / n_i[:, :, None], 0.0)
        pi = per_item.sum(axis=1) / rated.sum(axis=1)[:, None]
        expected = (pi * (1.0 - pi)).sum(axis=1) / (q - 1.0)
        value = (observed - expected) / (1.0 - expected)
    return np.where((q < 2) | ~paired.any(axis=1), np.nan, value)


def _krippendorff_batch(
    counts: np.ndarray, level: AlphaLevel, values: np.ndarray | None
) -> np.ndarray:
    n_u = counts.sum(axis=2)
    pairable = n_u >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = np.where(pairable[:, :, None], counts / (n_u - 1.0)[:, :, None], 0.0)
    coincidences = np.einsum("bnc,bnk->bck", weighted, counts)
    q = counts.shape[2]
    diagonal = np.arange(q)
    coincidences[:, diagonal, diagonal] -= weighted.sum(axis=1)
    marginals = coincidences.sum(axis=1)
    total = marginals.sum(axis=1)
    if level == "ordinal":  # distances from each replicate's marginals
        lo, hi = np.minimum.outer(diagonal, diagonal), np.maximum.outer(diagonal, diagonal)
        cum = np.cumsum(marginals, axis=1)
        delta = (cum[:, hi] - cum[:, lo] + marginals[:, lo] / 2.0 - marginals[:, hi] / 2.0) ** 2
    else:
        delta = np.broadcast_to(_alpha_distance(level, values, marginals[0]), (len(counts), q, q))
    expected = np.einsum("bc,bk,bck->b", marginals, marginals, delta)
    observed = np.einsum("bck,bck->b", coincidences, delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1.0 - (total - 1.0) * observed / expected
    return np.where(pairable.any(axis=1) & (expected > 0.0), value, np.nan)


def _cohen_from_codes(
    first: np.ndarray,
    second: np.ndarray,
    n_categories: int,
    weights: KappaWeights | None,
    present_only: bool,
) -> float:
    """Kappa from per-item label codes of two raters (-1 = not rated by that rater)."""
    both = (first >= 0) & (second >= 0)
    if not both.any():
        return math.nan
    cells = np.bincount(first[both] * n_categories + second[both], minlength=n_categories**2)
    confusion = cells.reshape(n_categories, n_categories).astype(float)
    if present_only:  # default categories: the labels actually given on the paired items
        present = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0
        confusion = confusion[np.ix_(present, present)]
    q = len(confusion)
    idx = np.arange(q)
    if weights is None:
        disagreement = 1.0 - np.eye(q)
    elif weights == "linear":
        disagreement = np.abs(np.subtract.outer(idx, idx)).astype(float)
    else:
        disagreement = np.subtract.outer(idx, idx).astype(float) ** 2
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    chance = float((disagreement * expected).sum())
    if chance <= 0.0:  # both raters used one and the same category
        return math.nan
    return 1.0 - float((disagreement * confusion).sum()) / chance


# --------------------------------------------------------------------------------------------
# Prepared statistics: reduce once, evaluate on the full data or on resampled item rows
# --------------------------------------------------------------------------------------------


class _Prepared(Protocol):
    @property
    def n_items(self) -> int: ...

    def __call__(self, rows: np.ndarray | None = None) -> float: ...


@dataclass(frozen=True)
class _OnCounts:
    """A statistic of the item × category count matrix."""

    counts: np.ndarray
    statistic: Callable[[np.ndarray], float]
    # The statistic on (replicates, items, categories) counts at once (`bootstrap_ci`).
    batch: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def n_items(self) -> int:
        return len(self.counts)

    def __call__(self, rows: np.ndarray | None = None) -> float:
        return self.statistic(self.counts if rows is None else self.counts[rows])

    def replicates(self, rows: np.ndarray) -> np.ndarray:
        """The statistic on each row of `rows` (replicates x items), at once when it can."""
        if self.batch is None:
            return np.array([self(r) for r in rows])
        return self.batch(self.counts[rows].astype(float))


@dataclass(frozen=True)
class _OnPairs:
    """Cohen's kappa on the two raters' label codes per item."""

    first: np.ndarray
    second: np.ndarray
    n_categories: int
    weights: KappaWeights | None
    present_only: bool

    @property
    def n_items(self) -> int:
        return len(self.first)

    def __call__(self, rows: np.ndarray | None = None) -> float:
        first = self.first if rows is None else self.first[rows]
        second = self.second if rows is None else self.second[rows]
        return _cohen_from_codes(first, second, self.n_categories, self.weights, self.present_only)


@dataclass(frozen=True)
class _OnFrames:
    """Any callable on a ratings frame; resampled items get fresh ids so duplicates count."""

    ratings: pd.DataFrame
    statistic: Callable[[pd.DataFrame], float]

    @functools.cached_property
    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        item_codes, _ = pd.factorize(self.ratings["item"])
        order = np.argsort(item_codes, kind="stable")
        lengths = np.bincount(item_codes, minlength=self.n_items)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        return order, starts, lengths

    @property
    def n_items(self) -> int:
        return int(self.ratings["item"].nunique())

    def __call__(self, rows: np.ndarray | None = None) -> float:
        if rows is None:
            return float(self.statistic(self.ratings))
        order, starts, lengths = self._layout
        taken = lengths[rows]
        # Positions of every rating of every drawn item, drawn items laid end to end.
        offsets = np.repeat(starts[rows] - np.cumsum(taken) + taken, taken)
        positions = order[offsets + np.arange(taken.sum())]
        sample = pd.DataFrame(
            {
                "item": np.repeat(np.arange(len(rows)), taken),
                "rater": self.ratings["rater"].to_numpy()[positions],
                "label": self.ratings["label"].to_numpy(dtype=object)[positions],
            }
        )
        return float(self.statistic(sample))


def _prepare_counts(
    r: pd.DataFrame,
    statistic: Callable[[np.ndarray], float],
    categories: Sequence[Hashable] | None = None,
    batch: Callable[[np.ndarray], np.ndarray] | None = None,
) -> _OnCounts:
    ratings = _clean(r)
    matrix = _count_matrix(ratings, _categories(ratings["label"], categories))
    return _OnCounts(matrix, statistic, batch)


def _prepare_percent_agreement(r: pd.DataFrame) -> _OnCounts:
    return _prepare_counts(r, _percent_agreement_counts, batch=_percent_agreement_batch)


def _prepare_fleiss(r: pd.DataFrame) -> _OnCounts:
    return _prepare_counts(r, _fleiss_counts, batch=_fleiss_batch)


def _prepare_gwet_ac1(r: pd.DataFrame, categories: Sequence[Hashable] | None = None) -> _OnCounts:
    n_categories = None if categories is None else len(categories)
    statistic = functools.partial(_gwet_ac1_counts, n_categories=n_categories)
    batch = functools.partial(_gwet_ac1_batch, n_categories=n_categories)
    return _prepare_counts(r, statistic, categories, batch)


def _prepare_krippendorff(
    r: pd.DataFrame,
    level: AlphaLevel = "nominal",
    categories: Sequence[Hashable] | None = None,
) -> _OnCounts:
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be nominal, ordinal, interval or ratio, got {level!r}")
    ratings = _clean(r)
    chosen = _categories(ratings["label"], categories)
    values = None
    if level in ("interval", "ratio"):
        try:
            values = np.asarray(chosen, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{level} alpha needs numeric labels") from exc
        if level == "ratio" and np.any(values < 0):
            raise ValueError("ratio alpha needs non-negative labels")
    statistic = functools.partial(_krippendorff_counts, level=level, values=values)
    batch = functools.partial(_krippendorff_batch, level=level, values=values)
    return _OnCounts(_count_matrix(ratings, chosen), statistic, batch)


def _prepare_cohen(
    r: pd.DataFrame,
    weights: KappaWeights | None = None,
    categories: Sequence[Hashable] | None = None,
) -> _OnPairs:
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    ratings = _clean(r)
    raters = pd.unique(ratings["rater"])
    if len(raters) > 2:
        raise ValueError(f"Cohen's kappa needs exactly two raters, got {len(raters)}")
    chosen = _categories(ratings["label"], categories)
    item_codes, items = pd.factorize(ratings["item"])
    label_codes = _label_codes(ratings["label"], chosen)
    codes = np.full((2, len(items)), -1, dtype=np.int64)
    for slot, rater in enumerate(raters):
        mine = (ratings["rater"] == rater).to_numpy()
        codes[slot, item_codes[mine]] = label_codes[mine]
    return _OnPairs(codes[0], codes[1], len(chosen), weights, present_only=categories is None)


# --------------------------------------------------------------------------------------------
# Public statistics
# --------------------------------------------------------------------------------------------


def percent_agreement(r: pd.DataFrame) -> float:
    """Share of agreeing rater pairs, averaged over items with at least two ratings.

    Per item: Σ_j n_ij(n_ij - 1) / (n_i(n_i - 1)), where n_ij raters gave item i label j.

    >>> r = pd.DataFrame({"item": [1, 1, 1], "rater": ["a", "b", "c"], "label": [0, 0, 1]})
    >>> round(percent_agreement(r), 4)
    0.3333
    """
    return _prepare_percent_agreement(r)()


def cohen_kappa(
    r: pd.DataFrame,
    weights: KappaWeights | None = None,
    categories: Sequence[Hashable] | None = None,
) -> float:
    """Cohen's kappa between exactly two raters, over the items both of them rated.

    κ = 1 - Σ w·O / Σ w·E with O the confusion counts, E the counts expected from the two
    raters' marginals, and disagreement weights w = [i ≠ j] (unweighted), |i - j| (linear) or
    (i - j)² (quadratic) over positions in ``categories``. ``categories`` defaults to the sorted
    labels given on the items both raters rated (as in scikit-learn). More than two raters
    raise ``ValueError``; fewer than two give NaN.
    """
    return _prepare_cohen(r, weights, categories)()


def fleiss_kappa(r: pd.DataFrame) -> float:
    """Fleiss' kappa, generalised to items with different numbers of ratings.

    Over items with n_i ≥ 2 ratings: P̄ = mean of P_i = (Σ_j n_ij² - n_i) / (n_i(n_i - 1)),
    p_j = share of those items' ratings in category j, P̄e = Σ_j p_j²,
    κ = (P̄ - P̄e) / (1 - P̄e). With the same number of raters on every item this is
    Fleiss (1971) exactly. NaN when P̄e = 1 (a single category) or no item has two ratings.
    """
    return _prepare_fleiss(r)()


def krippendorff_alpha(
    r: pd.DataFrame,
    level: AlphaLevel = "nominal",
    categories: Sequence[Hashable] | None = None,
) -> float:
    """Krippendorff's alpha from the coincidence matrix (Krippendorff 2011).

    α = 1 - (n - 1)·Σ o_ck δ²_ck / Σ n_c n_k δ²_ck over units with at least two ratings,
    with o the coincidence matrix, n_c its marginals and δ² the ``level``'s distance. Ordinal
    distances follow the order of ``categories`` (default: sorted labels); interval and ratio
    need numeric labels. NaN when there is no pairable unit or no expected disagreement.
    """
    return _prepare_krippendorff(r, level, categories)()


def gwet_ac1(r: pd.DataFrame, categories: Sequence[Hashable] | None = None) -> float:
    """Gwet's AC1 for any number of raters with missing ratings (Gwet 2014).

    pa = mean over items with r_i ≥ 2 ratings of Σ_k r_ik(r_ik - 1) / (r_i(r_i - 1));
    π_k = mean over all rated items of r_ik / r_i; pe = Σ_k π_k(1 - π_k) / (q - 1);
    AC1 = (pa - pe) / (1 - pe). q is the number of ``categories`` (default: labels observed).
    NaN when q < 2 (e.g. everyone gave the same single label) or no item has two ratings.
    """
    return _prepare_gwet_ac1(r, categories)()


_PREPARERS: dict[Callable[..., float], Callable[..., _Prepared]] = {
    percent_agreement: _prepare_percent_agreement,
    cohen_kappa: _prepare_cohen,
    fleiss_kappa: _prepare_fleiss,
    krippendorff_alpha: _prepare_krippendorff,
    gwet_ac1: _prepare_gwet_ac1,
}


def _prepare(r: pd.DataFrame, statistic: Callable[[pd.DataFrame], float]) -> _Prepared:
    """Fast path for this module's statistics (also as ``functools.partial``), else generic."""
    func, args, kwargs = statistic, (), {}
    if isinstance(statistic, functools.partial):
        func, args, kwargs = statistic.func, statistic.args, statistic.keywords
    preparer = _PREPARERS.get(func)
    if preparer is not None:
        return preparer(r, *args, **kwargs)
    return _OnFrames(_clean(r), statistic)


def bootstrap_ci(
    r: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` resampling items with replacement.

    Each replicate draws as many items as there are, keeping all of a drawn item's ratings;
    an item drawn twice counts as two items. NaN replicates are ignored; if all are NaN (or
    there are no items) the interval is ``(nan, nan)``. ``statistic`` is any function of a
    ratings frame; this module's statistics (plain or via ``functools.partial``, e.g.
    ``partial(krippendorff_alpha, level="ordinal")``) run on a precomputed count matrix.
    Reproducible: the same ``seed`` gives the same interval.
    """
    return estimate_with_ci(r, statistic, n_boot, confidence, seed)[1:]


def estimate_with_ci(
    r: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``statistic(r)`` and its ``bootstrap_ci``, from one reduction of the ratings."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    prepared = _prepare(r, statistic)
    # This module's statistics are their prepared form on the whole data; any other function
    # is called on the ratings as given.
    value = float(statistic(r)) if isinstance(prepared, _OnFrames) else prepared()
    n_items = prepared.n_items
    if n_items == 0:
        return value, math.nan, math.nan
    rng = np.random.default_rng(seed)
    # Replicates' items drawn a chunk at a time: the same stream as one call per replicate
    # (numpy draws int64 values element by element), so a seed gives the intervals it gave
    # before; a chunk holds at most ~4M counts, whatever the number of items. Count
    # statistics evaluate a chunk at once (~20x faster than one replicate at a time).
    width = prepared.counts.shape[1] if isinstance(prepared, _OnCounts) else 1
    step = max(1, _BATCH_CELLS // (n_items * max(1, width)))
    parts = []
    for start in range(0, n_boot, step):
        draws = rng.integers(0, n_items, size=(min(step, n_boot - start), n_items))
        if isinstance(prepared, _OnCounts):
            parts.append(prepared.replicates(draws))
        else:
            parts.append(np.array([prepared(rows) for rows in draws]))
    replicates = np.concatenate(parts)
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) == 0:
        return value, math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(replicates, [tail, 1.0 - tail])
    return value, float(lower), float(upper)
