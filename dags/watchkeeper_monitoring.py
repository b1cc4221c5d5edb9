"""One monitoring DAG per model YAML: load → quality → drift ∥ performance → log → messages, and retrain or nothing.

Each task is a few lines calling the `watchkeeper` engine; only the day, storage keys and small JSON pass through
XCom. A YAML that fails validation yields a `watchkeeper_<file>` DAG whose only task reports the error.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task, teardown
from watchkeeper.config import ConfigError, ModelConfig, load_config
from watchkeeper_airflow.assets import request_asset
from watchkeeper_airflow.callbacks import ConfigErrorNotifier, WatchkeeperFailureNotifier
from watchkeeper_airflow.timetable import MonitoredDayTimetable

MODELS_DIR = Path(
    os.environ.get("WATCHKEEPER_MODELS_DIR", Path(__file__).resolve().parents[1] / "include" / "models")
)
log = logging.getLogger(__name__)


def monitoring_dag(cfg: ModelConfig, path: str):
    on_failure = WatchkeeperFailureNotifier(config_path=path)
    try:  # validated here, not when the DagBag validates the file: a bad cron must break only this DAG
        timetable = MonitoredDayTimetable(cfg.airflow.schedule, timezone=cfg.airflow.timezone)
        timetable.validate()
    except Exception as exc:
        raise ConfigError(
            f"{path}: airflow.schedule {cfg.airflow.schedule!r} / airflow.timezone {cfg.airflow.timezone!r}: {exc}"
        ) from None

    @dag(
        dag_id=f"watchkeeper_{cfg.name}",
        description=cfg.description or f"Daily monitoring of {cfg.name}",
        schedule=timetable,
        start_date=datetime.combine(cfg.start_date, time(), tzinfo=UTC),
        catchup=False,
        max_active_runs=cfg.airflow.max_active_runs,
        params={"day": Param(None, type=["null", "string"], format="date", description="Day to monitor")},
        default_args={
            "retries": cfg.airflow.retries,
            "retry_delay": timedelta(minutes=cfg.airflow.retry_delay_minutes),
            "on_failure_callback": on_failure,
            **({"queue": cfg.airflow.queue} if cfg.airflow.queue else {}),
        },
        tags=["watchkeeper", cfg.name, cfg.task],
        doc_md=__doc__,
        deadline=run_deadline(cfg, path),
    )
    def monitor():
        @task
        def resolve_day() -> str:
            from watchkeeper_airflow.context import claim_day
            from watchkeeper_airflow.days import monitored_day

            ctx = get_current_context()
            run = ctx["dag_run"]
            day = monitored_day(
                ctx["params"].get("day"), ctx.get("data_interval_start"), run.run_after, cfg.airflow.timezone
            )
            return claim_day(path, day.isoformat())  # the day's lease, held by this run until release_day

        @task.sensor(
            mode="reschedule",
            poke_interval=cfg.airflow.data_poke_minutes * 60,
            timeout=cfg.airflow.data_deadline_minutes * 60,
        )
        def wait_for_data(day: str) -> bool:
            from watchkeeper_airflow.context import data_arrived

            return data_arrived(path, day)

        @task
        def load_day(day: str) -> dict:
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "load_day")

        @task
        def check_quality(day: str, loaded: dict) -> str:
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "check_quality")

        @task
        def prepare_profile(day: str) -> str:
            """The reference profile, built once per reference version before drift and performance read it."""
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "prepare_profile")

        @task
        def update_labels(day: str, loaded: dict) -> str:
            """Today's label file joined once to its prediction days; drift and performance read the result."""
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "update_labels")

        @task
        def measure_drift(day: str, quality_key: str, profile_key: str) -> str:
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "measure_drift")

        @task
        def measure_performance(day: str, quality_key: str, profile_key: str) -> str:
            from watchkeeper_airflow.context import run_stage

            return run_stage(path, day, "measure_performance")

        @task
        def log_results(day: str, drift_key: str, performance_key: str) -> dict:
            from watchkeeper_airflow.context import finish_day

            return finish_day(path, day)

        @task.branch
        def choose_actions(summary: dict) -> list[str]:
            log.info(
                "%s: %s; actions: %s", summary["status"], summary["headline"], summary["actions"] or "none"
            )
            wanted = {"retrain:model": "request_retraining", "evaluate:model": "request_retraining"}
            return sorted({wanted[a] for a in summary["actions"] if a in wanted}) or ["all_clear"]

        @task
        def send_messages(day: str, summary: dict) -> str:
            """The day's incident messages (opened, reminded, recovered) and pending ones; each key sent once."""
            from watchkeeper_airflow.actions import send_messages

            sent = send_messages(path, day)
            log.info("messages of %s %s: %s", cfg.name, day, sent)
            return sent

        @task(outlets=[request_asset(cfg.name)])
        def request_retraining(day: str) -> str:
            from watchkeeper_airflow.actions import request_retraining

            url = request_retraining(path, day)
            # The Asset event carries the request to watchkeeper_retrain_<model> (see dags/watchkeeper_retraining.py).
            get_current_context()["outlet_events"][request_asset(cfg.name)].extra = {
                "model": cfg.name, "day": day, "reason": "monitoring requested a retraining", "request": url}  # fmt: skip
            log.info("retraining of %s requested for %s: %s", cfg.name, day, url)
            return url

        @task
        def all_clear(summary: dict) -> str:
            return summary["headline"]

        @teardown
        def release_day() -> str:
            """Gives back the day's lease when the run ends, whatever happened (a failed run frees the day too)."""
            from watchkeeper_airflow.context import release_day

            return release_day(path, get_current_context()["ti"].xcom_pull(task_ids="resolve_day"))

        day = resolve_day()
        loaded = load_day(day)
        wait_for_data(day) >> loaded
        quality = check_quality(day, loaded)
        profile = prepare_profile(day)
        drift, performance = measure_drift(day, quality, profile), measure_performance(day, quality, profile)
        update_labels(day, loaded) >> [drift, performance]
        summary = log_results(day, drift, performance)
        ends = [send_messages(day, summary), request_retraining(day), all_clear(summary)]
        choose_actions(summary) >> ends[1:]
        ends >> release_day()

    return monitor()


def run_deadline(cfg: ModelConfig, path: str):
    """The operator's alert when a day's run is still unfinished `policy.run_deadline_hours` after being queued."""
    if cfg.policy.run_deadline_hours is None:
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=cfg.policy.run_deadline_hours),
        callback=SyncCallback("watchkeeper_airflow.callbacks.run_late", kwargs={"config_path": path}),
    )


def config_error_dag(path: Path, error: str, taken: frozenset[str] = frozenset()):
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)

    @dag(
        dag_id=f"watchkeeper_{stem}" + ("_config_error" if stem in taken else ""),
        schedule="@daily",  # runs (and fails) daily so the operator is told; once per distinct error
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        catchup=False,
        tags=["watchkeeper", "config-error"],
        doc_md=f"```\n{error}\n```",
    )
    def broken_config():
        @task(on_failure_callback=ConfigErrorNotifier(config_path=str(path), error=error))
        def config_error() -> None:
            raise ConfigError(error)

        config_error()

    return broken_config()


_seen: dict[str, Path] = {}
for _path in sorted(MODELS_DIR.glob("*.y*ml")):
    # Any error in one YAML (encoding, syntax, schema, or building its DAG) breaks only that model's DAG.
    try:
        _cfg = load_config(_path)
        if _cfg.name in _seen:
            raise ConfigError(f"{_path}: model name {_cfg.name!r} is already used by {_seen[_cfg.name]}")
        monitoring_dag(_cfg, str(_path))
        _seen[_cfg.name] = _path
    except Exception as _exc:
        _error = str(_exc) if isinstance(_exc, ConfigError) else f"{_path}: {type(_exc).__name__}: {_exc}"
        log.error("%s", _error)
        config_error_dag(_path, _error, frozenset(_seen))
