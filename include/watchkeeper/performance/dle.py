"""Label-free performance estimation for regressors: direct loss estimation (DLE).

Two scikit-learn HistGradientBoostingRegressors learn, on the reference, each row's absolute and squared error from
its features and the model's prediction; a day's estimated MAE is the mean predicted absolute error and its estimated
RMSE the root of the mean predicted squared error. Like CBPE it cannot see concept drift with unchanged inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

ESTIMATED = ("mae", "rmse")


class LossEstimator:
    """Fitted on the reference; `estimate(frame)` gives the estimated MAE and RMSE of a batch."""

    def __init__(self, numeric: list[str], categorical: list[str], prediction: str, seed: int = 0):
        self.numeric, self.categorical, self.prediction, self.seed = numeric, categorical, prediction, seed
        self.categories: dict[str, list[str]] = {}

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
        error = pd.to_numeric(reference[self.prediction], errors="coerce").to_numpy(dtype=float) - target
        ok = np.isfinite(error)
        mask = [c in self.categorical for c in x.columns]
        self.abs_model = HistGradientBoostingRegressor(
            max_iter=150, categorical_features=mask, random_state=self.seed
        )
        self.sq_model = HistGradientBoostingRegressor(
            max_iter=150, categorical_features=mask, random_state=self.seed
        )
        self.abs_model.fit(x[ok], np.abs(error[ok]))
        self.sq_model.fit(x[ok], error[ok] ** 2)
        return self

    def row_losses(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        x = self._x(frame)
        return np.clip(self.abs_model.predict(x), 0, None), np.clip(self.sq_model.predict(x), 0, None)

    def estimate(self, frame: pd.DataFrame) -> dict[str, float]:
        absolute, squared = self.row_losses(frame)
        return {"mae": float(absolute.mean()), "rmse": float(np.sqrt(squared.mean()))}
