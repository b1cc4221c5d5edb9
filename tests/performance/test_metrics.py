"""Performance metrics agree with scikit-learn; the registry names its valid entries."""

import numpy as np
import pytest
from sklearn import metrics as skm
from watchkeeper.performance.metrics import DEFAULTS, REGISTRY, compute, get_metric

rng = np.random.default_rng(3)
Y = rng.integers(0, 2, 500)
S = np.clip(Y * 0.3 + rng.random(500) * 0.7, 0, 1)
P = (S >= 0.5).astype(int)
YR = rng.normal(10, 2, 300)
PR = YR + rng.normal(0.5, 1, 300)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("roc_auc", skm.roc_auc_score(Y, S)),
        ("pr_auc", skm.average_precision_score(Y, S)),
        ("f1", skm.f1_score(Y, P)),
        ("precision", skm.precision_score(Y, P)),
        ("recall", skm.recall_score(Y, P)),
        ("specificity", skm.recall_score(Y, P, pos_label=0)),
        ("accuracy", skm.accuracy_score(Y, P)),
        ("log_loss", skm.log_loss(Y, S)),
        ("brier", skm.brier_score_loss(Y, S)),
        ("predicted_positive_rate", P.mean()),
        ("actual_positive_rate", Y.mean()),
    ],
)
def test_classification_metrics_match_sklearn(name, expected):
    assert compute(get_metric(name, "binary_classification"), Y, P, S) == pytest.approx(expected)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("mae", skm.mean_absolute_error(YR, PR)),
        ("rmse", np.sqrt(skm.mean_squared_error(YR, PR))),
        ("r2", skm.r2_score(YR, PR)),
        ("mape", skm.mean_absolute_percentage_error(YR, PR)),
        ("bias", float(np.mean(PR - YR))),
        ("rmsle", skm.root_mean_squared_log_error(YR, PR)),
        ("msle", skm.mean_squared_log_error(YR, PR)),
        ("mse", skm.mean_squared_error(YR, PR)),
    ],
)
def test_regression_metrics_match_sklearn(name, expected):
    assert compute(get_metric(name, "regression"), YR, PR, None) == pytest.approx(expected)


def test_directions():
    assert get_metric("roc_auc", "binary_classification").direction == "lower"
    for error in ("mae", "mse", "rmse", "msle", "rmsle", "mape"):
        assert get_metric(error, "regression").direction == "both"  # falling errors are change too
    assert get_metric("r2", "regression").direction == "lower"
    assert get_metric("bias", "regression").direction == "both"


def test_breach_wording_says_better_than_the_reference_can_explain():
    mae = get_metric("mae", "regression")
    assert mae.breach_wording(0.1, lower=0.5).startswith("better than the reference can explain")
    assert mae.breach_wording(0.9, lower=0.5) == "worse than the reference allows"
    auc = get_metric("roc_auc", "binary_classification")
    assert auc.breach_wording(0.6, lower=0.7) == "worse than the reference allows"
    assert get_metric("bias", "regression").breach_wording(-1.0, lower=0.0) == "outside the reference range"


def test_undefined_metric_is_none_not_a_crash():
    assert (
        compute(get_metric("roc_auc", "binary_classification"), np.ones(10, int), np.ones(10, int), S[:10])
        is None
    )


def test_defaults_are_registered_and_unknown_names_list_valid_ones():
    for task, names in DEFAULTS.items():
        assert all((n, task) in REGISTRY for n in names)
    with pytest.raises(KeyError, match="valid: .*roc_auc"):
        get_metric("auc", "binary_classification")


def test_ece_is_zero_when_calibrated_and_large_when_not():
    rng2 = np.random.default_rng(5)
    s = rng2.random(50_000)
    y = (rng2.random(50_000) < s).astype(int)
    ece = get_metric("ece", "binary_classification")
    assert compute(ece, y, (s >= 0.5).astype(int), s) < 0.01
    assert compute(ece, y, (s >= 0.5).astype(int), s**4) > 0.15


@pytest.mark.parametrize("name", ["f1", "precision", "recall", "specificity", "accuracy"])
@pytest.mark.parametrize(
    "y,p",
    [([0, 0, 1, 1], [0, 0, 0, 0]), ([0, 0, 0, 0], [0, 0, 0, 0]), ([1, 1, 1], [1, 1, 1]), ([1, 0], [0, 1])],
)
def test_counting_metrics_match_sklearn_on_degenerate_days(name, y, p):
    """0/0 is undefined (None), never 0; everything else as scikit-learn's scorers."""
    y, p = np.array(y), np.array(p)
    scorer = {
        "f1": skm.f1_score,
        "precision": skm.precision_score,
        "recall": skm.recall_score,
        "specificity": lambda a, b, **k: skm.recall_score(1 - a, 1 - b, **k),
        "accuracy": lambda a, b, **k: skm.accuracy_score(a, b),
    }[name]
    expected = float(scorer(y, p, zero_division=np.nan))
    got = compute(get_metric(name, "binary_classification"), y, p, None)
    assert got is None if np.isnan(expected) else got == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_with_tied_scores_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 5000)
    s = np.round(
        np.clip(y * 0.2 + rng.random(5000), 0, 1), 2
    )  # two decimals: many ties, within and across classes
    got = compute(get_metric("roc_auc", "binary_classification"), y, (s > 0.5).astype(int), s)
    assert got == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals,labelled_rows", [(2, 1800), (6, 4000), (6, 300)])
def test_roc_auc_from_the_days_score_ranks_is_the_sorted_roc_auc_exactly(seed, decimals, labelled_rows):
    """A prediction day's scores ranked once (ties share a rank); any labelled subset's ROC AUC from those ranks is
    bit for bit the one sorted from its scores, and scikit-learn's: with many ties or few, most rows labelled
    (counted over every rank) or few (sorted)."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(5000), decimals)
    rank = np.unique(scores, return_inverse=True)[1]
    labelled = rng.choice(5000, labelled_rows, replace=False)
    y = (rng.random(labelled_rows) < scores[labelled]).astype(float)
    metric = get_metric("roc_auc", "binary_classification")
    from_ranks = compute(metric, y, None, scores[labelled], score_rank=rank[labelled])
    assert from_ranks == compute(metric, y, None, scores[labelled])
    assert from_ranks == pytest.approx(skm.roc_auc_score(y, scores[labelled]), abs=1e-12)
    one_class = np.ones(labelled_rows)
    assert compute(metric, one_class, None, scores[labelled], score_rank=rank[labelled]) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_metrics_of_the_confusion_counts_give_the_same_from_counts_counted_once(seed):
    """F1, precision, recall, specificity and accuracy of one set of rows are counted from one confusion (the
    performance stage counts it once per prediction day): the same values as from the arrays, None where 0/0
    either way; the counts are scikit-learn's confusion matrix."""
    from watchkeeper.performance.metrics import confusion

    rng = np.random.default_rng(seed)
    y = (rng.random(3000) < 0.3).astype(float)
    p = (rng.random(3000) < 0.4).astype(int)
    counted = [m for m in REGISTRY.values() if m.from_confusion is not None]
    assert {m.name for m in counted} == {"f1", "precision", "recall", "specificity", "accuracy"}
    for yy, pp in (
        (y, p),
        (np.zeros(50), np.zeros(50, dtype=int)),
        (np.ones(7), np.ones(7, dtype=int)),
        ([], []),
    ):
        counts = confusion(yy, pp)
        if len(yy):
            tn, fp, fn, tp = skm.confusion_matrix(yy, pp, labels=[0, 1]).ravel()
            assert counts == (tp, fp, fn, tn)
        for m in counted:
            assert compute(m, yy, pp, None, counts=counts) == compute(m, yy, pp, None)
    assert compute(get_metric("precision", "binary_classification"), y[:50] * 0, p[:50] * 0, None,
                   counts=confusion(y[:50] * 0, p[:50] * 0)) is None  # fmt: skip
