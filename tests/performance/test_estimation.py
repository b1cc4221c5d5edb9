"""CBPE estimates agree with realized metrics on calibrated data, and say None where a metric is undefined."""

import numpy as np
import pytest
from sklearn import metrics as skm
from watchkeeper.performance.estimation import ESTIMATORS, calibrate, estimate, fit_calibration

rng = np.random.default_rng(11)
S = rng.random(40_000)
Y = (rng.random(40_000) < S).astype(int)  # scores are calibrated probabilities by construction
CAL = fit_calibration(S[:20_000], Y[:20_000])
S2, Y2 = S[20_000:], Y[20_000:]
P2 = (S2 >= 0.5).astype(int)


@pytest.mark.parametrize(
    "name,realized",
    [
        ("roc_auc", skm.roc_auc_score(Y2, S2)),
        ("accuracy", skm.accuracy_score(Y2, P2)),
        ("precision", skm.precision_score(Y2, P2)),
        ("recall", skm.recall_score(Y2, P2)),
        ("specificity", skm.recall_score(Y2, P2, pos_label=0)),
        ("f1", skm.f1_score(Y2, P2)),
        ("pr_auc", skm.average_precision_score(Y2, S2)),
    ],
)
def test_estimates_track_realized_metrics_within_sampling_error(name, realized):
    assert estimate(name, CAL, P2, S2) == pytest.approx(realized, abs=0.015)


def test_calibration_fixes_a_miscalibrated_model():
    squashed = S2**3  # same ranking, badly calibrated scores
    cal = fit_calibration(S[:20_000] ** 3, Y[:20_000])
    assert np.mean(np.abs(calibrate(cal, squashed) - S2)) < 0.03
    assert estimate("accuracy", cal, P2, squashed) == pytest.approx(skm.accuracy_score(Y2, P2), abs=0.015)


def test_undefined_estimates_are_none():
    assert estimate("precision", CAL, np.zeros(100, int), S2[:100]) is None  # no positive predictions
    assert (
        estimate("roc_auc", {"x": [0, 1], "y": [1, 1]}, P2[:100], S2[:100]) is None
    )  # no expected negatives
    assert estimate("roc_auc", CAL, P2[:3], np.full(3, np.nan)) is None
    assert set(ESTIMATORS) == {"roc_auc", "accuracy", "precision", "recall", "specificity", "f1", "pr_auc"}


def test_expected_average_precision_is_sklearns_when_probabilities_are_the_labels():
    """With certain labels (p = y) the expectation is the realized value, ties in the scores included."""
    score = np.round(S2[:2000], 2)  # many ties
    y = Y2[:2000]
    expected = ESTIMATORS["pr_auc"](y.astype(float), P2[:2000], score)
    assert expected == pytest.approx(skm.average_precision_score(y, score), abs=1e-12)


def test_expected_roc_auc_is_sklearns_when_probabilities_are_the_labels_ties_included():
    """Tied scores are one threshold: with certain labels (p = y) the expectation is scikit-learn's ROC AUC, and
    the rows' order (inside a tie too) does not change it."""
    score = np.round(S2[:2000], 2)  # many ties
    y = Y2[:2000].astype(float)
    expected = ESTIMATORS["roc_auc"](y, P2[:2000], score)
    assert expected == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    shuffled = np.random.default_rng(5).permutation(2000)
    assert ESTIMATORS["roc_auc"](y[shuffled], P2[:2000][shuffled], score[shuffled]) == pytest.approx(
        expected, abs=1e-12
    )


def test_estimates_of_several_metrics_calibrate_once_and_match_each_metric_alone():
    """A day's estimates come from one calibration of its scores; each value is exactly what the metric's
    estimator gives on the finite-scored rows (NaN scores left out), and a day with no finite score has none."""
    from watchkeeper.performance.estimation import estimates

    rng = np.random.default_rng(3)
    score = rng.random(5000)
    y = (rng.random(5000) < score).astype(int)
    cal = fit_calibration(score, y)
    score[::50] = np.nan
    pred = (np.nan_to_num(score) > 0.5).astype(int)
    ok = np.isfinite(score)
    names = sorted(ESTIMATORS)
    got = estimates(names, cal, pred, score)
    alone = {n: ESTIMATORS[n](calibrate(cal, score[ok]), pred[ok].astype(float), score[ok]) for n in names}
    assert got == {n: float(v) for n, v in alone.items()}
    assert got == {n: estimate(n, cal, pred, score) for n in names}
    assert estimates(names, cal, pred, np.full(5000, np.nan)) == dict.fromkeys(names)
