"""Shadow scoring: while the registry holds a `challenger`, each monitored day is also scored by it, unseen by anyone.

The day's challenger predictions are stored under `days/<day>/shadow/predictions.parquet`; as labels arrive for a
shadowed prediction day, both models' realized metrics on the same labelled rows go into the day's `shadow` record
(`DayResult.shadow`, `shadow.json`) and into its MLflow run as `shadow.<metric>.champion|challenger`.
"""

from __future__ import annotations

import io
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from watchkeeper.performance.labels import known_labels
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.reference import labels_of, performance_metrics, predictions_of
from watchkeeper.result import DayResult, Shadow
from watchkeeper.retraining import registry
from watchkeeper.retraining.train import input_columns

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

PREDICTIONS = "shadow/predictions.parquet"
_PRED, _SCORE = "__shadow_prediction", "__shadow_score"


def shadow_day(d: Day, tracking_uri: str, realized: dict[str, dict]) -> Shadow | None:
    """Score the staged day with the challenger and compare realized metrics of shadowed days; None without one."""
    cfg = d.cfg
    c = registry.client(tracking_uri)
    version = registry.by_alias(c, cfg.model.registered_name, registry.CHALLENGER)
    if version is None or not d.results.exists(d.staged_key):
        return None
    from watchkeeper.pipeline import staged_frame

    model = registry.load(cfg, tracking_uri, version)
    columns = input_columns(cfg, model)
    cols = cfg.columns
    frame = staged_frame(d, [cols.id, *columns, cols.prediction, *([cols.score] if cols.score else [])])
    pred, score = _outputs(cfg, model, frame[columns])
    out = pd.DataFrame({cols.id: frame[cols.id].astype(str), _PRED: pred, "version": version})
    if score is not None:
        out[_SCORE] = score
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    d.results.write_bytes(d.key(PREDICTIONS), buf.getvalue())
    champ_pred, champ_score = predictions_of(cfg, frame)
    champ, chall = (
        (champ_score, score) if score is not None and champ_score is not None else (champ_pred, pred)
    )
    shadow = Shadow(
        version=version,
        rows=len(frame),
        champion_mean=_mean(champ),
        challenger_mean=_mean(chall),
        mean_abs_difference=_mean(np.abs(np.asarray(chall, float) - np.asarray(champ, float))),
        realized=_realized(d, version, sorted(realized)),
    )
    d.results.write_json(d.key("shadow.json"), shadow.model_dump(mode="json"))
    return shadow


def _outputs(cfg, model, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if cfg.task == "binary_classification":
        return np.asarray(model.predict(x)).astype(int), model.predict_proba(x)[:, 1]
    return np.asarray(model.predict(x), dtype=float), None


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return float(np.nanmean(values)) if values.size else None


def _realized(d: Day, version: str, days: list[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Champion and challenger metrics on the labelled rows of each shadowed prediction day labelled today."""
    cfg, cols = d.cfg, d.cfg.columns
    shadowed = [p for p in days if d.results.exists(cfg.results_key(p, PREDICTIONS))]
    if not shadowed:
        return {}
    _, known, _ = known_labels(cfg, d.storage, d.day)
    known = known.assign(**{cols.id: known[cols.id].astype(str)})
    out = {}
    for p in shadowed:
        mine = pd.read_parquet(io.BytesIO(d.results.read_bytes(cfg.results_key(p, PREDICTIONS))))
        if mine.empty or _PRED not in mine or str(mine["version"].iloc[0]) != version:
            continue
        from watchkeeper.loading import day_key, read_table

        champ = read_table(d.storage, day_key(cfg, date.fromisoformat(p)), cfg.paths.csv,
                           [c for c in (cols.id, cols.prediction, cols.score) if c]).to_pandas()  # fmt: skip
        champ[cols.id] = champ[cols.id].astype(str)
        joined = champ.merge(mine, on=cols.id).merge(known, on=cols.id)
        if joined.empty:
            continue
        y = labels_of(cfg, joined)
        a = predictions_of(cfg, joined)
        b = (joined[_PRED].to_numpy(), joined[_SCORE].to_numpy() if _SCORE in joined else None)
        out[p] = {"labelled": {"rows": float(len(joined))}}
        for role, (pred, score) in (("champion", a), ("challenger", b)):
            out[p][role] = {
                m: compute(get_metric(m, cfg.task), y, pred, score) for m in performance_metrics(cfg)
            }
    return out


def log_shadow(result: DayResult, tracking_uri: str) -> None:
    """The day's shadow metrics into its MLflow run, stamped with the day like the rest of its history."""
    if result.shadow is None or not result.mlflow_run_id:
        return
    from datetime import UTC, datetime

    from mlflow.entities import Metric

    day = result.day
    ts = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    s = result.shadow
    values = {"shadow.champion_mean": s.champion_mean, "shadow.challenger_mean": s.challenger_mean,
              "shadow.mean_abs_difference": s.mean_abs_difference}  # fmt: skip
    for p, roles in s.realized.items():
        for role in ("champion", "challenger"):
            for m, v in roles.get(role, {}).items():
                values[f"shadow.{m}.{role}.{p}"] = v
    metrics = [Metric(k, float(v), ts, day.toordinal()) for k, v in values.items() if v is not None]
    c = registry.client(tracking_uri)
    c.log_batch(result.mlflow_run_id, metrics=metrics, tags=[])
    c.set_tag(result.mlflow_run_id, "watchkeeper.shadow_version", s.version)
