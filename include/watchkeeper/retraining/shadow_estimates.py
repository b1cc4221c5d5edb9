"""Label-free estimates of the challenger's performance on a shadow day, with the champion's estimators (CBPE, DLE).

The champion's estimators are fitted on the reference, which the champion was built for. The challenger was trained
after the input→label relation changed, so its estimators are fitted on labelled rows it never saw: the holdout of
the retraining that produced it (`retraining/<request day>/holdout.parquet`), else the reference. CBPE calibrates the
challenger's scores on those rows; DLE learns the challenger's row losses from the features and its predictions.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.performance.dle import ESTIMATED, LossEstimator
from watchkeeper.performance.estimation import ESTIMATORS, estimates, fit_calibration
from watchkeeper.reference import labels_of, load_reference, monitored_columns, performance_metrics
from watchkeeper.storage import Storage

_FITTED: dict[tuple, tuple[Any, str]] = {}
"""(model, version, calibration rows' key) → fitted estimator and where it was fitted: one fit per process."""


def calibration_rows(
    cfg: ModelConfig, storage: Storage, results: Storage, request_day: str | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Labelled rows the challenger never saw, their 0/1 or numeric target, and a phrase naming them."""
    from watchkeeper.retraining.run import prefix

    if request_day:
        data = results.read_bytes_if_any(f"{prefix(cfg, request_day)}/holdout.parquet")
        if data is not None:
            rows = pd.read_parquet(io.BytesIO(data))
            # The training set stored its target already converted (`labels_of`).
            return rows, rows[cfg.columns.target].to_numpy(), f"the holdout of the request of {request_day}"
    ref = load_reference(cfg, storage)
    return ref, labels_of(cfg, ref), "the reference"


def estimated_metrics(
    cfg: ModelConfig,
    storage: Storage,
    results: Storage,
    version: str,
    request_day: str | None,
    outputs,
    day: pd.DataFrame,
) -> tuple[dict[str, float | None], str]:
    """The challenger's estimated metrics on `day` (its features, with `outputs(frame) -> (prediction, score)` the
    challenger's), and where its estimator was fitted. Metrics the task's estimator cannot give are left out."""
    key = (cfg.name, version, request_day, cfg.digest())
    if key not in _FITTED:
        rows, y, source = calibration_rows(cfg, storage, results, request_day)
        _FITTED[key] = (_fit(cfg, rows, y, outputs), source)
    fitted, source = _FITTED[key]
    pred, score = outputs(day)
    names = [
        m for m in performance_metrics(cfg) if m in (ESTIMATORS if cfg.task != "regression" else ESTIMATED)
    ]
    if cfg.task != "regression":
        if fitted is None or score is None or not len(day):
            return {}, source
        return estimates(names, fitted, pred, score), source
    if fitted is None or not len(day):
        return {}, source
    frame = day.assign(**{cfg.columns.prediction: pred})
    return {n: v for n, v in fitted.estimate(frame).items() if n in names}, source


def _fit(cfg: ModelConfig, rows: pd.DataFrame, y: np.ndarray, outputs) -> Any:
    pred, score = outputs(rows)
    if cfg.task != "regression":
        return fit_calibration(np.asarray(score, float), y) if score is not None else None
    frame = rows.assign(**{cfg.columns.prediction: pred})
    features = [m for m in monitored_columns(cfg, frame) if m.role == "feature"]
    wanted = tuple(m for m in performance_metrics(cfg) if m in ESTIMATED)
    estimator = LossEstimator(
        [m.column for m in features if m.kind == "numeric"],
        [m.column for m in features if m.kind == "categorical"],
        cfg.columns.prediction,
        cfg.reference.seed,
        wanted,
    )
    return estimator.fit(frame, np.asarray(y, float))
