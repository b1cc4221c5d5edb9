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


def airflow_run() -> str | None:
    """`<dag_id>/<run_id>` of the task being run, the owner of the day's lease (None outside a task)."""
    try:
        from airflow.sdk import get_current_context

        ctx = get_current_context()
        return f"{ctx['ti'].dag_id}/{ctx['run_id']}"
    except Exception:  # no task context (a callback, a test calling the engine directly)
        return None


def leased_day(config_path: str, day: str) -> Day:
    """The day, with its lease taken or renewed for this Airflow run (see `watchkeeper.lease.hold_for_run`).

    Another run of the same model-day holding it fails the task at once (no retries) with "already running":
    nothing of the day is touched.
    """
    from watchkeeper.lease import AlreadyRunning, hold_for_run

    d = day_for(config_path, day)
    run = airflow_run()
    if run is not None:
        try:
            hold_for_run(d, run)
        except AlreadyRunning as exc:
            from airflow.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None
    return d


def claim_day(config_path: str, day: str) -> str:
    """The run's first task takes the day's lease, so a second run of the day stops before doing anything."""
    leased_day(config_path, day)
    return day


def release_day(config_path: str, day: str | None) -> str:
    """The run's teardown: give back the day's lease if this run holds it (`day` None: the run never had one)."""
    from watchkeeper.lease import release_for_run

    run = airflow_run()
    released = run is not None and day is not None and release_for_run(day_for(config_path, day), run)
    return f"lease of {day} released" if released else f"lease of {day} not held by this run"


def run_stage(config_path: str, day: str, stage: str):
    """Call one engine stage (`load_day`, `check_quality`, `prepare_profile`, `measure_drift`,
    `measure_performance`) for the day. Every stage but the profile (which has its own build lease and belongs to
    no day) renews the day's lease."""
    from watchkeeper import pipeline

    d = day_for(config_path, day) if stage == "prepare_profile" else leased_day(config_path, day)
    return getattr(pipeline, stage)(d)


def finish_day(config_path: str, day: str) -> dict:
    """Store and log the day's result; return the small summary the branch decides on."""
    from watchkeeper.pipeline import finish
    from watchkeeper.projections import pending
    from watchkeeper.run_note import run_note

    d = leased_day(config_path, day)
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
    """Whether the day's prediction file exists yet (the sensor's poke; it keeps the run's lease while waiting)."""
    from watchkeeper.loading import day_key

    d = leased_day(config_path, day)
    return d.storage.exists(day_key(d.cfg, d.day))
