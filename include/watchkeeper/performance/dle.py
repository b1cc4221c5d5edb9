"""Label-free performance estimation for regressors: direct loss estimation (DLE).

One scikit-learn HistGradientBoostingRegressor per row loss (absolute, squared, squared-log, absolute-percentage
error) learns, on the reference, each row's loss from its features and the model's prediction. A day's estimated
metric is the mean predicted loss (MAE, MSE, MSLE, MAPE) or its root (RMSE, RMSLE); `ESTIMATED` maps every
regression metric a loss can express to its loss and aggregation. Only the losses the configured metrics need are
fitted. Like CBPE it cannot see concept drift with unchanged inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

_EPS = np.finfo(np.float64).eps  # scikit-learn's MAPE floor on |y|

LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "absolute": lambda y, p: np.abs(p - y),
    "squared": lambda y, p: (p - y) ** 2,
    "squared_log": lambda y, p: (np.log1p(p) - np.log1p(y)) ** 2,
    "absolute_percentage": lambda y, p: np.abs(p - y) / np.maximum(np.abs(y), _EPS),
}
"""Per-row losses from targets and predictions (undefined rows come out non-finite and are left out)."""

ESTIMATED: dict[str, tuple[str, bool]] = {
    "mae": ("absolute", False),
    "mse": ("squared", False),
    "rmse": ("squared", True),
    "msle": ("squared_log", False),
    "rmsle": ("squared_log", True),
    "mape": ("absolute_percentage", False),
}
"""Estimated metric → (the row loss it averages, whether the root of the mean is taken)."""


def aggregate(
    name: str, losses: dict[str, np.ndarray], rows: np.ndarray | slice = slice(None)
) -> float | None:
    """A metric from per-row predicted losses over `rows`; None when its loss was not fitted or rows are empty."""
    loss, root = ESTIMATED[name]
    values = losses.get(loss)
    if values is None or values[rows].size == 0:
        return None
    mean = float(values[rows].mean())
    return float(np.sqrt(mean)) if root else mean


class LossEstimator:
    """Fitted on the reference; `estimate(frame)` gives the estimated metrics of a batch."""

    def __init__(
        self,
        numeric: list[str],
        categorical: list[str],
        prediction: str,
        seed: int = 0,
        metrics: tuple[str, ...] = ("mae", "rmse"),
    ):
        self.numeric, self.categorical, self.prediction, self.seed = numeric, categorical, prediction, seed
        self.metrics = tuple(m for m in metrics if m in ESTIMATED)
        self.categories: dict[str, list[str]] = {}
        self.models: dict[str, HistGradientBoostingRegressor] = {}

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = {
            c: pd.to_numeric(frame[c], errors="coerce").astype(float)
            for c in [*self.numeric, self.prediction]
        }
        for c in self.categorical:
            codes = {v: i for i, v in enumerate(self.categories[c])}
            out[c] = frame[c].astype(str).map(codes).astype(float)
        return pd.DataFrame(out)

    def fit(self, reference: pd.DataFrame, target: np.ndarray) -> LossEstimator:
        self.categories = {c: sorted(reference[c].dropna().astype(str).unique()) for c in self.categorical}
        x = self._x(reference)
        pred = pd.to_numeric(reference[self.prediction], errors="coerce").to_numpy(dtype=float)
        mask = [c in self.categorical for c in x.columns]
        with np.errstate(all="ignore"):
            for loss in dict.fromkeys(ESTIMATED[m][0] for m in self.metrics):
                values = LOSSES[loss](target, pred)
                ok = np.isfinite(values)
                if ok.sum() < 2:
                    continue  # e.g. squared-log error on negative targets: the metric stays unestimated
                model = HistGradientBoostingRegressor(
                    max_iter=150, categorical_features=mask, random_state=self.seed
                )
                self.models[loss] = model.fit(x[ok], values[ok])
        return self

    def row_losses(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each row's predicted loss, per fitted loss."""
        x = self._x(frame)
        return {loss: np.clip(model.predict(x), 0, None) for loss, model in self.models.items()}

    def estimate(self, frame: pd.DataFrame) -> dict[str, float | None]:
        losses = self.row_losses(frame)
        return {name: aggregate(name, losses) for name in self.metrics}
