"""Shadow scoring: while the registry holds a `challenger`, each monitored day is also scored by it, unseen by anyone.

The day's challenger predictions are stored under `days/<day>/shadow/predictions.parquet`; as labels arrive for a
shadowed prediction day, both models' realized metrics on the same labelled rows go into the day's `shadow` record
(`DayResult.shadow`, `shadow.json`) and into its MLflow run as `shadow.<metric>.champion|challenger`; the rows
themselves (label and both outputs) are kept for the verdict's shadow evidence (`shadow_rows`).
"""

from __future__ import annotations

import io
import logging
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from watchkeeper.performance.labels import known_labels
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.reference import labels_of, performance_metrics, predictions_of
from watchkeeper.result import DayResult, Shadow
from watchkeeper.retraining import registry
from watchkeeper.retraining.shadow_estimates import estimated_metrics
from watchkeeper.retraining.shadow_rows import LABELLED, store_labelled
from watchkeeper.retraining.train import input_columns

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

log = logging.getLogger(__name__)
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
    features = [f.name for f in cols.features]
    wanted = [cols.id, *columns, *features, cols.prediction, *([cols.score] if cols.score else [])]
    frame = staged_frame(d, list(dict.fromkeys(wanted)))
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
    request_day = c.get_model_version(cfg.model.registered_name, version).tags.get("watchkeeper.request_day")
    try:
        shadow.estimated, shadow.estimated_from = estimated_metrics(
            cfg, d.storage, d.results, version, request_day, lambda f: _outputs(cfg, model, f[columns]), frame
        )
    except Exception as exc:  # an estimator that cannot be fitted leaves the realized comparison standing
        log.warning("%s %s: challenger estimates skipped: %s", cfg.name, d.day, exc)
    d.results.write_json(d.key("shadow.json"), shadow.model_dump(mode="json"))
    from watchkeeper.retraining.announce import announce
    from watchkeeper.retraining.promote import promote_on_evidence
    from watchkeeper.retraining.shadow_rows import reassess

    if shadow.realized:  # new labelled shadow rows: the verdict's shadow interval is brought up to date
        try:
            reassess(cfg, c, d.results, version)
        except Exception as exc:  # evidence for a person; the promotion gate below does not depend on it
            log.warning("%s %s: shadow evidence of version %s not updated: %s", cfg.name, d.day, version, exc)
    if event := promote_on_evidence(cfg, tracking_uri, d.results, version):
        log.warning("%s %s: version %s promoted automatically: %s", cfg.name, d.day, version, event["why"])
        # Queued in the delivery log: the day's message delivery (send_messages, --outbox) sends it once.
        announce(cfg, tracking_uri, d.results, event, day=d.day.isoformat())
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
        store_labelled(d.results, d.key(f"{LABELLED}/{p}.parquet"), version, y, a, b)
        out[p] = {"labelled": {"rows": float(len(joined))}}
        for role, (pred, score) in (("champion", a), ("challenger", b)):
            out[p][role] = {m: compute(get_metric(m, cfg.task), y, pred, score) for m in shadow_metrics(cfg)}
    return out


def shadow_metrics(cfg) -> list[str]:
    """The monitored metrics, plus the verdict's primary metric (what shadow days are evidence for)."""
    from watchkeeper.retraining.evaluate import primary_and_guardrails

    return list(dict.fromkeys([*performance_metrics(cfg), primary_and_guardrails(cfg)[0]]))


def shadow_points(s: Shadow) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(the day's shadow metrics, realized shadow metrics per prediction day), as MLflow keys."""
    day = {"shadow.champion_mean": s.champion_mean, "shadow.challenger_mean": s.challenger_mean,
           "shadow.mean_abs_difference": s.mean_abs_difference}  # fmt: skip
    day.update({f"shadow.estimated_{m}.challenger": v for m, v in s.estimated.items()})
    past = {
        p: {
            f"shadow.{m}.{role}": v
            for role in ("champion", "challenger")
            for m, v in roles.get(role, {}).items()
        }
        for p, roles in s.realized.items()
    }
    return (
        {k: float(v) for k, v in day.items() if v is not None},
        {p: {k: float(v) for k, v in vs.items() if v is not None} for p, vs in past.items()},
    )


def log_shadow(result: DayResult, tracking_uri: str, start: date) -> None:
    """The day's shadow metrics into its MLflow run, the realized ones into their prediction day's run, each at its
    day index as step and stamped with the monitored day, like the rest of the model's history (`tracking`)."""
    if result.shadow is None or not result.mlflow_run_id:
        return
    from watchkeeper.tracking import _log_past_day, _ms, _points, _send, day_index, timeline_run

    c = registry.client(tracking_uri)
    ts, step = _ms(result.day), day_index(result.day, start)
    today, past = shadow_points(result.shadow)
    points = _points(today, ts, step)
    _send(c, result.mlflow_run_id, points, {"watchkeeper.shadow_version": result.shadow.version})
    for p, values in past.items():
        pday = date.fromisoformat(p)
        pts = _points(values, ts, day_index(pday, start))
        points += pts
        _log_past_day(c, result.mlflow_experiment_id, result.model, pday, pts)
    if result.mlflow_experiment_id:
        timeline = timeline_run(c, result.mlflow_experiment_id, result.model, start)
        _send(c, timeline, points)
        c.set_terminated(timeline, "FINISHED")
