"""Drift methods, each a `fit(reference summary) -> state` and a `score(state, current summary) -> float`, in one registry.

Methods never see raw rows: a numeric column is summarized once as its sorted finite values, a categorical one as its
category counts (`summarize`). A day is summarized in one pass (one sort per numeric column, one `bincount` over
dictionary codes per categorical one), the reference once per reference version, and every method scores from
those summaries; so KS and Wasserstein stay exact (no binning) while a day costs one sort per column. Plain numpy: scipy's
`ks_2samp` and `wasserstein_distance` would re-sort the reference for every day and sample. Higher values
always mean more drift. Missing and non-finite values are left out (missingness is the data-quality stage's business).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon

Kind = str  # "numeric" | "categorical"
Counts = dict[str, int]
"""A categorical summary: rows per category (categories as strings)."""
Summary = np.ndarray | Counts
"""A numeric summary is the sorted finite values; a categorical one is `Counts`."""
_EPS = 1e-4


@dataclass(frozen=True)
class DriftMethod:
    """A registered drift method: name, the column kind it accepts, and its fit/score pair on summaries."""

    name: str
    kind: Kind
    description: str
    fit: Callable[[Summary], Any]
    score: Callable[[Any, Summary], float]

    def compare(self, reference: np.ndarray, current: np.ndarray) -> float:
        """The statistic between two raw value arrays (summarized here; the stage passes cached summaries)."""
        return self.score(self.fit(summarize(reference, self.kind)), summarize(current, self.kind))


REGISTRY: dict[tuple[str, Kind], DriftMethod] = {}


def register(name: str, kind: Kind, description: str):
    """Class decorator: a class with static `fit` and `score` becomes a registered method."""

    def wrap(cls: type) -> type:
        REGISTRY[(name, kind)] = DriftMethod(name, kind, description, cls.fit, cls.score)
        return cls

    return wrap


def get_method(name: str, kind: Kind) -> DriftMethod:
    try:
        return REGISTRY[(name, kind)]
    except KeyError:
        valid = sorted(n for n, k in REGISTRY if k == kind)
        raise KeyError(
            f"unknown drift method {name!r} for {kind} columns; valid: {', '.join(valid)}"
        ) from None


# --- summaries ------------------------------------------------------------------------------------------------


def category_labels(values: np.ndarray) -> np.ndarray:
    """Categories as strings; integral floats (an int column that had nulls) read as ints, so 1.0 and 1 agree."""
    if values.dtype.kind == "f" and values.size and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
    return values.astype(str)


def counts_of(labels: np.ndarray) -> Counts:
    cats, counts = np.unique(labels, return_counts=True)
    return dict(zip(cats.tolist(), counts.tolist(), strict=True))


def summarize(values: np.ndarray, kind: Kind) -> Summary:
    """Sorted finite values (numeric) or category counts (categorical) of raw, already non-missing values."""
    if kind == "numeric":
        values = np.asarray(values, dtype=float)
        return np.sort(values[np.isfinite(values)])
    values = np.asarray(values)
    if (
        values.dtype.kind in "biuf"
    ):  # count the numbers, then name them: no string per row (a label day has 1M)
        cats, counts = np.unique(values, return_counts=True)
        out: Counts = {}
        for label, n in zip(category_labels(cats).tolist(), counts.tolist(), strict=True):
            out[label] = out.get(label, 0) + n
        return dict(sorted(out.items()))
    return counts_of(category_labels(values))


# --- shared fitted states -------------------------------------------------------------------------------------


_LAST = threading.local()
"""Per thread, the last (reference, current, comparison): KS and Wasserstein of one column score the same pair."""


def release() -> None:
    """Drop this thread's cached comparison (call when a column is done, so its arrays do not outlive it)."""
    _LAST.__dict__.clear()


def _ecdf_compare(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(sup |F_ref − F_cur|, ∫|F_ref − F_cur| dx) of two sorted finite samples: the KS statistic and the Wasserstein-1
    distance, exact, with work and memory proportional to the reference's distinct values, not to the day's rows.

    Between consecutive distinct reference values u_j ≤ x < u_j+1, F_ref is a constant a_j while F_cur climbs through
    the day's values inside; two binary searches of the u_j in the sorted day give F_cur at both ends of each gap
    (KS is the largest end gap), and the day's first value above a_j, `cur[⌊a_j·m⌋]`, splits each gap where F_cur
    crosses a_j, so ∫|a_j − F_cur| is two integrals of a step function: widths times integer count differences,
    plus `count·end − sum` of the values in each part (summed locally by `np.add.reduceat`, not by a global
    cumulative sum whose rounding would grow with the day's size). Same results as scipy's `ks_2samp` and
    `wasserstein_distance` (tests), which merge and re-sort both samples on every call.
    """
    cached = getattr(_LAST, "pair", None)
    if cached and cached[0] is ref and cached[1] is cur:  # identity: both stay referenced here
        return cached[2]
    result = _ecdf_distances(ref, cur) if ref.size <= cur.size else _ecdf_distances(cur, ref)
    _LAST.pair = (ref, cur, result)
    return result


def _ecdf_distances(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """`_ecdf_compare`'s work, walking the distinct values of `ref`: both distances are symmetric, so the caller
    passes the smaller sample first (the reference on a large day, the day in the profile's chunk comparisons)."""
    n, m = ref.size, cur.size
    ends = np.flatnonzero(np.append(ref[1:] != ref[:-1], True))  # last index of each run of equal values
    u, below = ref[ends], ends + 1  # distinct reference values and how many reference values are <= each
    lo = np.searchsorted(cur, u, "left")
    # `hi` differs from `lo` only where the day holds the reference value itself: searched there alone.
    hi = lo.copy()
    tied = cur[np.minimum(lo, m - 1)] == u if m else np.zeros(u.size, dtype=bool)
    if tied.any():
        hi[tied] = np.searchsorted(cur, u[tied], "right")
    ks = max(
        lo[0] / m,
        float(np.max(np.abs(below / n - hi / m))),
        float(np.max(np.abs(below[:-1] / n - lo[1:] / m), initial=0.0)),
    )
    # Gaps [u_j, u_j+1): the day's values inside have indices hi_j .. lo_j+1 − 1; F_cur <= a_j below index t_j.
    u0, u1, i0, i1, b = u[:-1], u[1:], hi[:-1], lo[1:], below[:-1]
    t = b * m // n
    split = np.clip(t, i0, i1)
    x = np.where(t < i0, u0, np.where(t >= i1, u1, cur[np.minimum(t, m - 1)]))
    bounds = np.empty(3 * u0.size + 4, dtype=np.int64)
    bounds[:2] = 0, lo[0]
    bounds[2:-2] = np.stack([i0, split, i1], axis=1).ravel()
    bounds[-2:] = hi[-1], m
    sums = np.add.reduceat(np.append(cur, 0.0), bounds)
    sums[:-1][bounds[:-1] == bounds[1:]] = 0.0  # reduceat gives the element itself for an empty range
    s_below, s_above = sums[2:-2:3], sums[3:-2:3]
    area = (x - u0) * ((b * m - i0 * n) / (n * m)) - ((split - i0) * x - s_below) / m  # F_cur <= a_j part
    area += (u1 - x) * ((split * n - b * m) / (n * m)) + ((i1 - split) * u1 - s_above) / m  # F_cur > a_j part
    left = (lo[0] * u[0] - sums[0]) / m  # below the smallest reference value, F_ref = 0
    right = (sums[-2] - (m - hi[-1]) * u[-1]) / m  # above the largest, F_ref = 1
    return ks, float(left + np.sum(area) + right)


def _quantile_edges(ref_sorted: np.ndarray, bins: int = 10) -> np.ndarray:
    edges = np.unique(np.quantile(ref_sorted, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def _binned(edges: np.ndarray, values_sorted: np.ndarray) -> np.ndarray:
    """Shares per bin [edge_i, edge_i+1), as `np.histogram` counts them, from sorted values without a pass."""
    below = np.searchsorted(values_sorted, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], below, [values_sorted.size]])).astype(float)
    return counts / max(counts.sum(), 1.0)


def _shares(counts: Counts) -> dict[str, float]:
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items() if n} if total else {}


def _aligned(ref_p: dict[str, float], cur: Counts) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current category proportions on the union of categories (unseen ones included)."""
    cur_p = _shares(cur)
    cats = sorted(set(ref_p) | set(cur_p))
    return np.array([ref_p.get(c, 0.0) for c in cats]), np.array([cur_p.get(c, 0.0) for c in cats])


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.clip(p, _EPS, None), np.clip(q, _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _hellinger(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))


# --- numeric --------------------------------------------------------------------------------------------------


@register("ks", "numeric", "Kolmogorov–Smirnov statistic: largest gap between the two empirical CDFs")
class KS:
    @staticmethod
    def fit(ref_sorted: np.ndarray) -> np.ndarray:
        return ref_sorted

    @staticmethod
    def score(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
        return _ecdf_compare(ref_sorted, cur_sorted)[0]


@register("wasserstein", "numeric", "Wasserstein-1 distance divided by the reference standard deviation")
class Wasserstein:
    @staticmethod
    def fit(ref_sorted: np.ndarray) -> tuple[np.ndarray, float]:
        return ref_sorted, float(np.std(ref_sorted)) or 1.0

    @staticmethod
    def score(state: tuple[np.ndarray, float], cur_sorted: np.ndarray) -> float:
        ref_sorted, scale = state
        return _ecdf_compare(ref_sorted, cur_sorted)[1] / scale


@register("psi", "numeric", "Population stability index over 10 reference-quantile bins")
class NumericPSI:
    @staticmethod
    def fit(ref_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        edges = _quantile_edges(ref_sorted)
        return edges, _binned(edges, ref_sorted)

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur_sorted: np.ndarray) -> float:
        edges, ref_p = state
        return _psi(ref_p, _binned(edges, cur_sorted))


@register("jensen_shannon", "numeric", "Jensen–Shannon distance (base 2) over 10 reference-quantile bins")
class NumericJS:
    fit = NumericPSI.fit

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur_sorted: np.ndarray) -> float:
        edges, ref_p = state
        return float(jensenshannon(ref_p, _binned(edges, cur_sorted), base=2))


@register("hellinger", "numeric", "Hellinger distance over 10 reference-quantile bins")
class NumericHellinger:
    fit = NumericPSI.fit

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur_sorted: np.ndarray) -> float:
        edges, ref_p = state
        return _hellinger(ref_p, _binned(edges, cur_sorted))


# --- categorical ----------------------------------------------------------------------------------------------


@register("jensen_shannon", "categorical", "Jensen–Shannon distance (base 2) between category frequencies")
class CategoricalJS:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        return float(jensenshannon(*_aligned(ref_p, cur), base=2))


@register("l_infinity", "categorical", "Largest absolute change of any category's share")
class LInfinity:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        p, q = _aligned(ref_p, cur)
        return float(np.max(np.abs(p - q)))


@register("psi", "categorical", "Population stability index between category frequencies")
class CategoricalPSI:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        return _psi(*_aligned(ref_p, cur))


@register("hellinger", "categorical", "Hellinger distance between category frequencies")
class CategoricalHellinger:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        return _hellinger(*_aligned(ref_p, cur))


@register("chi2", "categorical", "Chi-square statistic of the current counts against reference shares")
class ChiSquare:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        p, q = _aligned(ref_p, cur)
        n = sum(cur.values())
        expected = np.clip(p, _EPS, None) * n
        return float(np.sum((q * n - expected) ** 2 / expected))


@register("new_categories", "categorical", "Share of the day's rows in categories the reference never had")
class NewCategories:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        total = sum(cur.values())
        return sum(n for c, n in cur.items() if c not in ref_p) / total if total else 0.0


@register("vanished_categories", "categorical", "Reference share of the categories absent from the day")
class VanishedCategories:
    fit = staticmethod(_shares)

    @staticmethod
    def score(ref_p: dict[str, float], cur: Counts) -> float:
        return float(sum(p for c, p in ref_p.items() if not cur.get(c)))


# --- summary statistics ---------------------------------------------------------------------------------------


def _summary_stat(name: str, stat: Callable[[np.ndarray], float]) -> None:
    """Register a summary statistic as a drift method: |today's statistic − the reference's| in reference standard
    deviations. Its bounds are learned like any method's, from reference chunks and day-size samples, so they are
    the statistic's sampling error at a day's size (as NannyML's summary-statistics calculators)."""

    class Stat:
        @staticmethod
        def fit(ref_sorted: np.ndarray) -> tuple[float, float]:
            return stat(ref_sorted), float(np.std(ref_sorted)) or 1.0

        @staticmethod
        def score(state: tuple[float, float], cur_sorted: np.ndarray) -> float:
            value, scale = state
            return abs(stat(cur_sorted) - value) / scale if cur_sorted.size else 0.0

    register(name, "numeric", f"Change of the column's {name}, in reference standard deviations")(Stat)


_summary_stat("mean", lambda v: float(v.mean()) if v.size else 0.0)
_summary_stat("std", lambda v: float(v.std()) if v.size else 0.0)
_summary_stat("median", lambda v: float(v[(v.size - 1) // 2] + v[v.size // 2]) / 2 if v.size else 0.0)
