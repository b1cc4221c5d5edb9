"""Drift methods: exact zero on identical data, agreement with scipy and the published formulas, on raw values."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from watchkeeper.drift.methods import REGISTRY, get_method

rng = np.random.default_rng(0)
NUM = rng.normal(0, 1, 3000)
CAT = rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1])


def score(name, kind, ref, cur):
    return get_method(name, kind).compare(ref, cur)


# `std` measures spread, not location: it is tested on a change of scale below.
DISTRIBUTION_METHODS = sorted(
    k
    for k in REGISTRY
    if k[0] not in ("new_categories", "vanished_categories", "std") and k[1] != "multivariate"
)


# Multivariate methods (the domain classifier) compare whole tables: tests/drift/test_domain.py covers them.
@pytest.mark.parametrize("name,kind", sorted(k for k in REGISTRY if k[1] != "multivariate"))
def test_identical_data_scores_zero(name, kind):
    data = NUM if kind == "numeric" else CAT
    assert score(name, kind, data, data.copy()) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name,kind", DISTRIBUTION_METHODS)
def test_a_shift_scores_higher_than_noise(name, kind):
    if kind == "numeric":
        ref, same, shifted = NUM, rng.normal(0, 1, 2000), rng.normal(0.5, 1, 2000)
    else:
        ref = CAT
        same = rng.choice(["a", "b", "c", "d"], 2000, p=[0.4, 0.3, 0.2, 0.1])
        shifted = rng.choice(["a", "b", "c", "d"], 2000, p=[0.2, 0.3, 0.2, 0.3])
    assert score(name, kind, ref, shifted) > 3 * score(name, kind, ref, same)


def test_ks_matches_scipy():
    cur = rng.normal(0.2, 1.1, 1500)
    assert score("ks", "numeric", NUM, cur) == pytest.approx(stats.ks_2samp(NUM, cur).statistic, abs=1e-12)


def test_wasserstein_is_scipys_divided_by_reference_std():
    cur = rng.normal(0.3, 1, 1000)
    expected = stats.wasserstein_distance(NUM, cur) / np.std(NUM)
    assert score("wasserstein", "numeric", NUM, cur) == pytest.approx(expected)


def test_categorical_js_matches_scipy_and_counts_unseen_categories():
    cur = np.array(["a"] * 50 + ["e"] * 50)
    p = np.array([np.mean(c == CAT) for c in "abcde"])
    q = np.array([0.5, 0, 0, 0, 0.5])
    assert score("jensen_shannon", "categorical", CAT, cur) == pytest.approx(jensenshannon(p, q, base=2))


def test_chi2_matches_scipy_chisquare():
    cur = rng.choice(["a", "b", "c", "d"], 800, p=[0.3, 0.3, 0.2, 0.2])
    ref_p = np.array([np.mean(c == CAT) for c in "abcd"])
    observed = np.array([np.sum(cur == c) for c in "abcd"])
    expected = stats.chisquare(observed, ref_p * cur.size).statistic
    assert score("chi2", "categorical", CAT, cur) == pytest.approx(expected)


def test_psi_and_l_infinity_follow_their_formulas():
    cur = np.array(["a"] * 20 + ["b"] * 80)
    p = np.array([np.mean(c == CAT) for c in "abcd"])
    q = np.array([0.2, 0.8, 0.0, 0.0])
    assert score("l_infinity", "categorical", CAT, cur) == pytest.approx(np.max(np.abs(p - q)))
    pc, qc = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    assert score("psi", "categorical", CAT, cur) == pytest.approx(np.sum((qc - pc) * np.log(qc / pc)))


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid: .*ks.*wasserstein"):
        get_method("kolmogorov", "numeric")


def test_ks_and_wasserstein_are_exact_with_ties_and_unequal_sizes():
    ref = rng.integers(0, 20, 5000).astype(float)  # heavy ties: where a merged-ECDF shortcut would go wrong
    cur = rng.integers(2, 25, 777).astype(float)
    assert score("ks", "numeric", ref, cur) == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert score("wasserstein", "numeric", ref, cur) == pytest.approx(expected, rel=1e-12)


def _samples(case: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, m = gen.integers(1, 400, 2)
    shapes = [
        lambda k: gen.normal(0, 1, k),  # continuous, overlapping
        lambda k: gen.integers(0, 6, k).astype(float),  # ties inside and across the samples
        lambda k: np.round(gen.lognormal(0, 1, k), 1),  # skewed with some ties
    ]
    ref, cur = shapes[case % 3](n), shapes[case % 3](m)
    cur = cur + [0.0, 0.7, -50.0, 50.0][case % 4]  # overlapping, shifted, wholly below, wholly above
    return ref, cur


@pytest.mark.parametrize("case", range(48))
def test_ks_and_wasserstein_equal_scipys_on_random_samples(case):
    ref, cur = _samples(case, np.random.default_rng(case))
    assert score("ks", "numeric", ref, cur) == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    expected = stats.wasserstein_distance(ref, cur) / (np.std(ref) or 1.0)
    assert score("wasserstein", "numeric", ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_binned_methods_use_numpy_histogram_counts():
    cur = rng.normal(0.4, 1.3, 2500)
    edges = np.unique(np.quantile(NUM, np.linspace(0, 1, 11)))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(NUM, edges)[0] / NUM.size
    q = np.histogram(cur, edges)[0] / cur.size
    pc, qc = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    assert score("psi", "numeric", NUM, cur) == pytest.approx(np.sum((qc - pc) * np.log(qc / pc)), rel=1e-12)
    assert score("jensen_shannon", "numeric", NUM, cur) == pytest.approx(
        jensenshannon(p, q, base=2), rel=1e-12
    )
    hellinger = np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))
    assert score("hellinger", "numeric", NUM, cur) == pytest.approx(hellinger, rel=1e-12)


def test_new_and_vanished_categories_are_shares():
    cur = np.array(["a"] * 60 + ["e"] * 30 + ["f"] * 10)  # b, c, d vanished; e, f new
    assert score("new_categories", "categorical", CAT, cur) == pytest.approx(0.4)
    assert score("vanished_categories", "categorical", CAT, cur) == pytest.approx(np.mean(CAT != "a"))


def test_integral_floats_and_ints_are_the_same_categories():
    ints = np.array([0, 1, 1, 0, 1])
    assert score("l_infinity", "categorical", ints, ints.astype(float)) == 0.0


def test_summary_statistics_measure_the_change_in_reference_standard_deviations():
    from watchkeeper.drift.methods import get_method

    rng = np.random.default_rng(1)
    ref = rng.normal(10, 2, 5001)
    cur = rng.normal(11, 3, 4000)
    scale = np.std(ref)
    assert get_method("mean", "numeric").compare(ref, cur) == pytest.approx(
        abs(cur.mean() - ref.mean()) / scale
    )
    assert get_method("std", "numeric").compare(ref, cur) == pytest.approx(abs(cur.std() - ref.std()) / scale)
    assert get_method("median", "numeric").compare(ref, cur) == pytest.approx(
        abs(np.median(cur) - np.median(ref)) / scale
    )
    assert get_method("mean", "numeric").compare(ref, ref) == 0.0


@pytest.mark.parametrize(
    "values",
    [[1, 0, 1, 1], [1.0, 0.0, 1.0], [0.5, 1.0, 0.5], [True, False, True], ["b", "a", "b"], [3, 1, 3, 2, 1]],
)
def test_category_counts_of_numbers_name_them_as_strings_do(values):
    """Counting numbers before naming them gives the counts (and order) of naming every row first."""
    from watchkeeper.drift.methods import category_labels, counts_of, summarize

    values = np.array(values)
    assert list(summarize(values, "categorical").items()) == list(counts_of(category_labels(values)).items())
