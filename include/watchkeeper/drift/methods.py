"""Drift methods, each a `fit(reference) -> state` and a `score(state, current) -> float`, in one registry.

Higher values always mean more drift. Inputs are 1-D numpy arrays with missing and non-finite values removed
(missingness is the data-quality stage's business); categorical inputs are arrays of strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

Kind = str  # "numeric" | "categorical"
_EPS = 1e-4


@dataclass(frozen=True)
class DriftMethod:
    """A registered drift method: name, the column kind it accepts, and its fit/score pair."""

    name: str
    kind: Kind
    description: str
    fit: Callable[[np.ndarray], Any]
    score: Callable[[Any, np.ndarray], float]


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


# --- shared fitted states -------------------------------------------------------------------------------------


def _quantile_edges(ref: np.ndarray, bins: int = 10) -> np.ndarray:
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def _binned(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    counts = np.histogram(values, bins=edges)[0].astype(float)
    return counts / max(counts.sum(), 1.0)


def _categories(ref: np.ndarray) -> dict[str, float]:
    cats, counts = np.unique(ref, return_counts=True)
    return dict(zip(cats.tolist(), (counts / counts.sum()).tolist(), strict=True))


def _aligned(ref_p: dict[str, float], cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current category proportions on the union of categories (unseen ones included)."""
    cur_p = _categories(cur) if cur.size else {}
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
    def fit(ref: np.ndarray) -> np.ndarray:
        return np.sort(ref)

    @staticmethod
    def score(ref_sorted: np.ndarray, cur: np.ndarray) -> float:
        cur = np.sort(cur)
        grid = np.concatenate([ref_sorted, cur])
        cdf_ref = np.searchsorted(ref_sorted, grid, side="right") / ref_sorted.size
        cdf_cur = np.searchsorted(cur, grid, side="right") / cur.size
        return float(np.max(np.abs(cdf_ref - cdf_cur)))


@register("wasserstein", "numeric", "Wasserstein-1 distance divided by the reference standard deviation")
class Wasserstein:
    @staticmethod
    def fit(ref: np.ndarray) -> tuple[np.ndarray, float]:
        return ref, float(np.std(ref)) or 1.0

    @staticmethod
    def score(state: tuple[np.ndarray, float], cur: np.ndarray) -> float:
        ref, scale = state
        return float(stats.wasserstein_distance(ref, cur) / scale)


@register("psi", "numeric", "Population stability index over 10 reference-quantile bins")
class NumericPSI:
    @staticmethod
    def fit(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        edges = _quantile_edges(ref)
        return edges, _binned(edges, ref)

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur: np.ndarray) -> float:
        edges, ref_p = state
        return _psi(ref_p, _binned(edges, cur))


@register("jensen_shannon", "numeric", "Jensen–Shannon distance (base 2) over 10 reference-quantile bins")
class NumericJS:
    fit = NumericPSI.fit

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur: np.ndarray) -> float:
        edges, ref_p = state
        return float(jensenshannon(ref_p, _binned(edges, cur), base=2))


@register("hellinger", "numeric", "Hellinger distance over 10 reference-quantile bins")
class NumericHellinger:
    fit = NumericPSI.fit

    @staticmethod
    def score(state: tuple[np.ndarray, np.ndarray], cur: np.ndarray) -> float:
        edges, ref_p = state
        return _hellinger(ref_p, _binned(edges, cur))


# --- categorical ----------------------------------------------------------------------------------------------


@register("jensen_shannon", "categorical", "Jensen–Shannon distance (base 2) between category frequencies")
class CategoricalJS:
    fit = staticmethod(_categories)

    @staticmethod
    def score(ref_p: dict[str, float], cur: np.ndarray) -> float:
        return float(jensenshannon(*_aligned(ref_p, cur), base=2))


@register("l_infinity", "categorical", "Largest absolute change of any category's share")
class LInfinity:
    fit = staticmethod(_categories)

    @staticmethod
    def score(ref_p: dict[str, float], cur: np.ndarray) -> float:
        p, q = _aligned(ref_p, cur)
        return float(np.max(np.abs(p - q)))


@register("psi", "categorical", "Population stability index between category frequencies")
class CategoricalPSI:
    fit = staticmethod(_categories)

    @staticmethod
    def score(ref_p: dict[str, float], cur: np.ndarray) -> float:
        return _psi(*_aligned(ref_p, cur))


@register("hellinger", "categorical", "Hellinger distance between category frequencies")
class CategoricalHellinger:
    fit = staticmethod(_categories)

    @staticmethod
    def score(ref_p: dict[str, float], cur: np.ndarray) -> float:
        return _hellinger(*_aligned(ref_p, cur))


@register("chi2", "categorical", "Chi-square statistic of the current counts against reference shares")
class ChiSquare:
    fit = staticmethod(_categories)

    @staticmethod
    def score(ref_p: dict[str, float], cur: np.ndarray) -> float:
        p, q = _aligned(ref_p, cur)
        expected = np.clip(p, _EPS, None) * cur.size
        return float(np.sum((q * cur.size - expected) ** 2 / expected))
