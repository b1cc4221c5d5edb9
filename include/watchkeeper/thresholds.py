"""Threshold rules: how a check's alert bounds are derived, parsed from YAML by their `type:` field.

`std` and `quantile` learn bounds from the statistic computed on reference chunks; `constant` takes them as given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["upper", "lower", "both"]
"""Which side of the bounds is bad: `upper` for distances, `lower` for higher-is-better metrics."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)
    two_sided: bool = False
    """Alert on both sides even where only one side is naturally bad (e.g. errors that suddenly drop)."""


class StdThreshold(_Rule):
    type: Literal["std"] = "std"
    k: float = 3.0
    """Bounds at k standard deviations: mean ± k·std, or the same tail probability of a fitted gamma (see below)."""
    distribution: Literal["auto", "normal", "gamma"] = "auto"
    """`auto`: gamma for non-negative statistics (drift distances are right-skewed), normal otherwise."""
    min_margin: float = 0.0
    """Bounds are at least this far from the reference mean (guards against near-zero spread)."""


class QuantileThreshold(_Rule):
    type: Literal["quantile"] = "quantile"
    lower_q: float = Field(0.0, ge=0, le=1)
    """Lower bound = this quantile of the reference chunks' values."""
    upper_q: float = Field(1.0, ge=0, le=1)
    """Upper bound = this quantile of the reference chunks' values."""


class ConstantThreshold(_Rule):
    type: Literal["constant"] = "constant"
    lower: float | None = None
    """Alert below this value (None: no lower bound)."""
    upper: float | None = None
    """Alert above this value (None: no upper bound)."""


ThresholdSpec = Annotated[StdThreshold | QuantileThreshold | ConstantThreshold, Field(discriminator="type")]


@dataclass(frozen=True)
class Bounds:
    """Alert bounds for one check and the sentence saying how they were derived."""

    lower: float | None
    upper: float | None
    rule: str

    def breached(self, value: float) -> bool:
        return (self.lower is not None and value < self.lower) or (
            self.upper is not None and value > self.upper
        )


def derive_bounds(
    spec: StdThreshold | QuantileThreshold | ConstantThreshold,
    chunk_values: list[float] | np.ndarray,
    direction: Direction,
    min_chunks: int = 5,
    nonnegative: bool = False,
    family: int = 1,
) -> Bounds:
    """Bounds for one statistic from its values on reference chunks, kept only on the bad side(s).

    With `std`, a non-negative statistic gets the quantiles of a gamma fitted by moments at the tail probability
    of ±k standard deviations of a normal: mean + 3·std under-covers skewed distances several-fold. With a
    `family` of n checks judged together, that tail probability is split evenly over them (Bonferroni), so it
    bounds the chance that any of them breaches on a healthy day: for k=3 and 25 checks, 3.87σ each.
    """
    if isinstance(spec, ConstantThreshold):
        return Bounds(spec.lower, spec.upper, f"constant [{spec.lower}, {spec.upper}]")
    values = tuple(float(v) for v in chunk_values if v is not None and math.isfinite(v))
    return _derived(spec, values, direction, min_chunks, nonnegative, family)


@lru_cache(maxsize=4096)
def split_tail(k: float, family: int) -> tuple[float, float]:
    """(tail probability of ±k σ split over `family` checks, the normal quantile at it); scipy's distributions
    cost ~0.1 ms a call, and a label window re-judges the same metrics for every re-scored day."""
    from scipy import stats  # here, not at import: the DAG file parses the config and must stay light

    tail = float(stats.norm.sf(k)) / max(family, 1)
    return tail, float(stats.norm.isf(tail))


@lru_cache(maxsize=512)
def _derived(
    spec: StdThreshold | QuantileThreshold,
    chunk_values: tuple[float, ...],
    direction: Direction,
    min_chunks: int,
    nonnegative: bool,
    family: int,
) -> Bounds:
    """`derive_bounds` of finite values, kept per process: every re-scored day of a label window asks again for
    the same metrics' bounds from the same reference values."""
    from scipy import stats

    values = np.asarray(chunk_values, dtype=float)
    if values.size < min_chunks:
        return Bounds(None, None, f"no bound: {values.size} reference chunk(s) < {min_chunks} needed")
    if isinstance(spec, StdThreshold):
        mean, std = float(values.mean()), float(values.std(ddof=1))
        gamma = spec.distribution == "gamma" or (spec.distribution == "auto" and nonnegative)
        tail, k = split_tail(spec.k, family)
        split = f" split over {family} checks ({k:.2f}σ each)" if family > 1 else ""
        if gamma and mean > 0 and std > 0 and values.min() >= 0:
            shape, scale = (mean / std) ** 2, std**2 / mean
            lower = float(stats.gamma.ppf(tail, shape, scale=scale))
            upper = max(float(stats.gamma.isf(tail, shape, scale=scale)), mean + spec.min_margin)
            rule = f"reference chunks gamma fit (mean {mean:.4g}, std {std:.4g}) at the {spec.k:g}σ tail{split} (n={values.size})"
        else:
            margin = max(k * std, spec.min_margin)
            lower, upper = mean - margin, mean + margin
            rule = f"reference chunks mean {mean:.4g} ± {k:.3g}·std {std:.4g}{split} (n={values.size})"
    else:
        lower, upper = float(np.quantile(values, spec.lower_q)), float(np.quantile(values, spec.upper_q))
        rule = f"reference chunks quantiles q{spec.lower_q:g}..q{spec.upper_q:g} (n={values.size})"
    side = "both" if spec.two_sided else direction
    return Bounds(
        lower if side in ("lower", "both") else None,
        upper if side in ("upper", "both") else None,
        rule,
    )
