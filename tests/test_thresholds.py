"""Threshold rules: bounds learned from reference chunk values."""

import numpy as np
import pytest
from scipy import stats
from watchkeeper.thresholds import ConstantThreshold, QuantileThreshold, StdThreshold, derive_bounds


def test_std_rule_keeps_only_the_bad_side():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    std = float(np.std(values, ddof=1))
    upper = derive_bounds(StdThreshold(k=2), values, "upper")
    assert upper.lower is None and upper.upper == pytest.approx(3 + 2 * std)
    lower = derive_bounds(StdThreshold(k=2), values, "lower")
    assert lower.upper is None and lower.lower == pytest.approx(3 - 2 * std)
    both = derive_bounds(StdThreshold(k=2, two_sided=True), values, "upper")
    assert both.lower == pytest.approx(3 - 2 * std) and both.upper == pytest.approx(3 + 2 * std)
    assert "mean 3" in upper.rule


def test_min_margin_guards_against_zero_spread():
    b = derive_bounds(StdThreshold(k=3, min_margin=0.1), [0.5] * 6, "upper")
    assert b.upper == pytest.approx(0.6)


def test_quantile_and_constant_rules():
    values = list(range(101))
    b = derive_bounds(QuantileThreshold(lower_q=0.05, upper_q=0.95), values, "both")
    assert (b.lower, b.upper) == (pytest.approx(5.0), pytest.approx(95.0))
    c = derive_bounds(ConstantThreshold(upper=0.2), [], "upper")
    assert (c.lower, c.upper) == (None, 0.2) and c.breached(0.21) and not c.breached(0.2)


def test_too_few_chunks_gives_no_bound_and_says_so():
    b = derive_bounds(StdThreshold(), [0.1, 0.2], "upper", min_chunks=5)
    assert b.upper is None and "2 reference chunk(s) < 5" in b.rule


def test_a_family_of_checks_splits_the_tail_probability_evenly():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    std = float(np.std(values, ddof=1))
    one = derive_bounds(StdThreshold(k=3), values, "upper", family=1)
    many = derive_bounds(StdThreshold(k=3), values, "upper", family=25)
    k = stats.norm.isf(stats.norm.sf(3) / 25)  # 3.87: the 0.135 % tail shared by 25 checks
    assert one.upper == pytest.approx(3 + 3 * std) and many.upper == pytest.approx(3 + k * std)
    assert "split over 25 checks (3.87σ each)" in many.rule and "split" not in one.rule
    distances = np.random.default_rng(0).gamma(4.0, 0.01, 60)
    g1, g25 = (derive_bounds(StdThreshold(), distances, "upper", nonnegative=True, family=f) for f in (1, 25))
    mean, std = distances.mean(), distances.std(ddof=1)
    expected = stats.gamma.isf(stats.norm.sf(3) / 25, (mean / std) ** 2, scale=std**2 / mean)
    assert g25.upper == pytest.approx(expected) and g25.upper > g1.upper
