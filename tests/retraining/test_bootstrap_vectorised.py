"""The vectorised bootstrap draws the same resamples as recomputing each metric per resample, so equal intervals."""

import numpy as np
import pytest
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.retraining.bootstrap import WEIGHTED, paired_bootstrap, resamples


def _looped(name, task, y, a, b, samples, confidence):
    m = get_metric(name, task)
    sign = 1.0 if m.higher_is_better else -1.0
    diffs = []
    for (i,) in resamples(len(y), samples, 0):
        va = compute(m, y[i], a[0][i], None if a[1] is None else a[1][i])
        vb = compute(m, y[i], b[0][i], None if b[1] is None else b[1][i])
        if va is not None and vb is not None:
            diffs.append(sign * (vb - va))
    tail = (1 - confidence) / 2 * 100
    return list(np.percentile(diffs, [tail, 100 - tail]))


def _classifier_outputs(rng, n):
    y = rng.integers(0, 2, n)
    # Rounded scores: many ties, as a tree model gives.
    a = np.round(np.clip(y * 0.3 + rng.normal(0.35, 0.25, n), 0.001, 0.999), 2)
    b = np.round(np.clip(y * 0.5 + rng.normal(0.25, 0.25, n), 0.001, 0.999), 2)
    return y, (a > 0.5).astype(int), a, (b > 0.5).astype(int), b


@pytest.mark.parametrize("name", ["roc_auc", "precision", "recall", "f1", "accuracy", "log_loss"])
def test_classifier_metrics_match_the_per_resample_computation(name):
    y, pa, a, pb, b = _classifier_outputs(np.random.default_rng(5), 400)
    task = "binary_classification"
    assert name in WEIGHTED
    point, ci = paired_bootstrap(name, task, y, (pa, a), (pb, b), 100, 0.9)
    m = get_metric(name, task)
    sign = 1 if m.higher_is_better else -1
    assert point == pytest.approx(sign * (compute(m, y, pb, b) - compute(m, y, pa, a)))
    assert ci == pytest.approx(_looped(name, task, y, (pa, a), (pb, b), 100, 0.9), abs=1e-9)


@pytest.mark.parametrize("name", ["mae", "mse", "rmse", "r2"])
def test_regression_metrics_match_the_per_resample_computation(name):
    rng = np.random.default_rng(6)
    y = rng.normal(30, 8, 300)
    a, b = y + rng.normal(0, 5, 300), y + rng.normal(1, 3, 300)
    ci = paired_bootstrap(name, "regression", y, (a, None), (b, None), 120, 0.95)[1]
    assert ci == pytest.approx(_looped(name, "regression", y, (a, None), (b, None), 120, 0.95), abs=1e-9)


def test_metrics_without_a_weighted_form_fall_back_to_the_loop():
    y, pa, a, pb, b = _classifier_outputs(np.random.default_rng(7), 200)
    assert "pr_auc" not in WEIGHTED
    task = "binary_classification"
    ci = paired_bootstrap("pr_auc", task, y, (pa, a), (pb, b), 50, 0.9)[1]
    assert ci == pytest.approx(_looped("pr_auc", task, y, (pa, a), (pb, b), 50, 0.9))


def test_a_large_holdout_is_resampled_in_batches_fast():
    import time

    y, pa, a, pb, b = _classifier_outputs(np.random.default_rng(8), 20_000)
    t = time.process_time()
    _, ci = paired_bootstrap("roc_auc", "binary_classification", y, (pa, a), (pb, b), 1000, 0.95)
    assert ci[0] > 0 and time.process_time() - t < 30
