"""The paired bootstrap of the primary metric's gain: signed so positive is better, cross-checked with sklearn."""

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, roc_auc_score
from watchkeeper.retraining.evaluate import paired_bootstrap


def test_a_better_classifier_gains_beyond_chance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.clip(y * 0.6 + rng.normal(0.2, 0.25, 2000), 0, 1)
    weak = np.clip(y * 0.2 + rng.normal(0.4, 0.25, 2000), 0, 1)
    diff, ci = paired_bootstrap(
        "roc_auc", "binary_classification", y, (weak > 0.5, weak), (good > 0.5, good), 200, 0.95
    )
    assert diff == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, weak))
    assert 0 < ci[0] < diff < ci[1]


def test_the_same_model_gains_nothing():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = rng.random(500)
    diff, ci = paired_bootstrap("roc_auc", "binary_classification", y, (s > 0.5, s), (s > 0.5, s), 100, 0.95)
    assert diff == 0 and ci == [0.0, 0.0]


def test_lower_is_better_metrics_are_signed_so_that_a_gain_is_positive():
    rng = np.random.default_rng(2)
    y = rng.normal(30, 8, 1000)
    close, far = y + rng.normal(0, 2, 1000), y + rng.normal(0, 6, 1000)
    diff, ci = paired_bootstrap("mae", "regression", y, (far, None), (close, None), 200, 0.9)
    assert diff == pytest.approx(mean_absolute_error(y, far) - mean_absolute_error(y, close))
    assert ci[0] > 0
    worse, ci = paired_bootstrap("mae", "regression", y, (close, None), (far, None), 200, 0.9)
    assert worse == pytest.approx(-diff) and ci[1] < 0


def test_noise_of_a_small_holdout_gives_an_interval_including_zero():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150)
    a, b = rng.random(150), rng.random(150)
    _, ci = paired_bootstrap("roc_auc", "binary_classification", y, (a > 0.5, a), (b > 0.5, b), 300, 0.95)
    assert ci[0] < 0 < ci[1]
