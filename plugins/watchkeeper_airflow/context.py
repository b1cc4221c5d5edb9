"""What a task needs to call the engine: the model config and its (data, results) storages for a day.

Tasks pass only the config path and the day between each other; everything else is rebuilt here.
"""

from __future__ import annotations

import os
from datetime import date

from watchkeeper.config import load_config
from watchkeeper.pipeline import Day

from watchkeeper_airflow.storage import storages_for


def day_for(config_path: str, day: str) -> Day:
    cfg = load_config(config_path)
    data, results = storages_for(cfg)
    return Day(cfg, date.fromisoformat(day), data, results)


def run_stage(config_path: str, day: str, stage: str):
    """Call one engine stage (`load_day`, `check_quality`, `prepare_profile`, `measure_drift`,
    `measure_performance`) for the day."""
    from watchkeeper import pipeline

    return getattr(pipeline, stage)(day_for(config_path, day))


def finish_day(config_path: str, day: str) -> dict:
    """Store and log the day's result; return the small summary the branch decides on."""
    from watchkeeper.pipeline import finish
    from watchkeeper.projections import pending
    from watchkeeper.run_note import run_note

    d = day_for(config_path, day)
    result = finish(d, os.environ.get("MLFLOW_TRACKING_URI"))
    return {
        "pending_projections": sorted(pending(d)),  # e.g. ["mlflow"]: stored, logged by `watchkeeper replay`
        "status": result.status,
        "headline": result.headline,
        "run_id": result.mlflow_run_id,
        "actions": [f"{a.kind}:{a.owner}" for a in result.actions],
        "note": run_note(d.cfg, result),  # the DAG run's note (plugins/watchkeeper_airflow/run_notes.py)
    }


def record_data_failure(config_path: str, day: str, kind: str, message: str) -> None:
    """Store and log a day whose data did not arrive or could not be read, so its MLflow run and result say why."""
    from watchkeeper.pipeline import finish, load_checks, record_load_failure

    d = day_for(config_path, day)
    if not load_checks(d, "load"):  # `load_day` records input errors itself; anything else is recorded here
        record_load_failure(d, kind, message)
    finish(d, os.environ.get("MLFLOW_TRACKING_URI"))


def data_arrived(config_path: str, day: str) -> bool:
    """Whether the day's prediction file exists yet (the sensor's poke)."""
    from watchkeeper.loading import day_key

    d = day_for(config_path, day)
    return d.storage.exists(day_key(d.cfg, d.day))
