"""Direct loss estimation: every regression metric a loss can express, aggregated as scikit-learn computes it."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from watchkeeper.performance.dle import ESTIMATED, LOSSES, LossEstimator, aggregate
from watchkeeper.performance.metrics import REGISTRY

rng = np.random.default_rng(7)


def _world(n: int, noise_of_x: float = 1.0) -> pd.DataFrame:
    x = rng.uniform(0, 4, n)
    y = 10 + 2 * x + rng.normal(0, 0.2 + noise_of_x * x, n)  # errors grow with x: DLE must learn that
    return pd.DataFrame({"x": x, "pred": 10 + 2 * x, "y": np.clip(y, 0.01, None)})


@pytest.mark.parametrize(
    "name,sk",
    [
        ("mae", skm.mean_absolute_error),
        ("mse", skm.mean_squared_error),
        ("rmse", skm.root_mean_squared_error),
        ("msle", skm.mean_squared_log_error),
        ("rmsle", skm.root_mean_squared_log_error),
        ("mape", skm.mean_absolute_percentage_error),
    ],
)
def test_true_losses_aggregate_to_sklearns_metric(name, sk):
    frame = _world(500)
    y, p = frame["y"].to_numpy(), frame["pred"].to_numpy()
    losses = {loss: fn(y, p) for loss, fn in LOSSES.items()}
    assert aggregate(name, losses) == pytest.approx(sk(y, p), rel=1e-12)


def test_every_registered_loss_metric_is_estimated():
    regression = {n for n, t in REGISTRY if t == "regression"}
    assert set(ESTIMATED) == regression - {"r2", "bias"}


def test_estimates_follow_a_shift_to_noisier_rows():
    ref = _world(4000)
    est = LossEstimator(["x"], [], "pred", metrics=tuple(ESTIMATED)).fit(ref, ref["y"].to_numpy())
    calm, noisy = _world(4000), _world(4000)
    calm, noisy = calm[calm["x"] < 1], noisy[noisy["x"] > 3]
    for frame in (calm, noisy):
        y, p = frame["y"].to_numpy(), frame["pred"].to_numpy()
        estimated = est.estimate(frame)
        assert estimated["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=0.1)
        assert estimated["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=0.1)
        assert estimated["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p), rel=0.15)
        assert estimated["msle"] == pytest.approx(skm.mean_squared_log_error(y, p), rel=0.35)
    assert est.estimate(noisy)["mse"] > 5 * est.estimate(calm)["mse"]


def test_squared_log_error_is_not_estimated_when_targets_are_negative():
    ref = _world(300)
    ref["y"] -= 100
    est = LossEstimator(["x"], [], "pred", metrics=("mae", "msle")).fit(ref, ref["y"].to_numpy())
    assert est.estimate(ref)["msle"] is None and est.estimate(ref)["mae"] is not None
