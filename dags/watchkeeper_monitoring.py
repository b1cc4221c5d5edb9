"""One monitoring DAG per model YAML: load → quality → drift ∥ performance → log → branch → notify / retrain / nothing.

Each task is a few lines calling the `watchkeeper` engine; only the day, storage keys and small JSON pass through
XCom. A YAML that fails validation yields a `watchkeeper_<file>` DAG whose only task reports the error.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from watchkeeper.config import ConfigError, ModelConfig, load_config
from watchkeeper_airflow.callbacks import WatchkeeperFailureNotifier

MODELS_DIR = Path(
    os.environ.get("WATCHKEEPER_MODELS_DIR", Path(__file__).resolve().parents[1] / "include" / "models")
)
log = logging.getLogger(__name__)


def monitoring_dag(cfg: ModelConfig, path: str):
    on_failure = WatchkeeperFailureNotifier(config_path=path)

    @dag(
        dag_id=f"watchkeeper_{cfg.name}",
        description=cfg.description or f"Daily monitoring of {cfg.name}",
        schedule=CronDataIntervalTimetable(cfg.airflow.schedule, timezone=cfg.airflow.timezone),
        start_date=datetime.combine(cfg.start_date, time(), tzinfo=UTC),
        catchup=False,
        max_active_runs=cfg.airflow.max_active_runs,
        params={"day": Param(None, type=["null", "string"], format="date", description="Day to monitor")},
        default_args={
            "retries": cfg.airflow.retries,
            "retry_delay": timedelta(minutes=cfg.airflow.retry_delay_minutes),
            "on_failure_callback": on_failure,
        },
        tags=["watchkeeper", cfg.name, cfg.task],
        doc_md=__doc__,
    )
    def monitor():
        @task
        def resolve_day() -> str:
            from watchkeeper_airflow.days import monitored_day

            ctx = get_current_context()
            run = ctx["dag_run"]
            return monitored_day(
                ctx["params"].get("day"), ctx.get("data_interval_start"), run.run_after
            ).isoformat()

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
            targets = {"notify:data": "notify_data_owner", "notify:model": "notify_model_owner",
                       "retrain:model": "request_retraining"}  # fmt: skip
            return [targets[a] for a in summary["actions"] if a in targets] or ["all_clear"]

        @task
        def notify_data_owner(day: str) -> str:
            from watchkeeper_airflow.actions import notify_owner

            return notify_owner(path, day, "data")

        @task
        def notify_model_owner(day: str) -> str:
            from watchkeeper_airflow.actions import notify_owner

            return notify_owner(path, day, "model")

        @task
        def request_retraining(day: str) -> str:
            from watchkeeper_airflow.actions import request_retraining

            return request_retraining(path, day)

        @task
        def all_clear(summary: dict) -> str:
            return summary["headline"]

        day = resolve_day()
        loaded = load_day(day)
        wait_for_data(day) >> loaded
        quality = check_quality(day, loaded)
        profile = prepare_profile(day)
        drift, performance = measure_drift(day, quality, profile), measure_performance(day, quality, profile)
        update_labels(day, loaded) >> [drift, performance]
        summary = log_results(day, drift, performance)
        choose_actions(summary) >> [notify_data_owner(day), notify_model_owner(day), request_retraining(day), all_clear(summary)]  # fmt: skip

    return monitor()


def config_error_dag(path: Path, error: str):
    @dag(
        dag_id=f"watchkeeper_{path.stem}",
        schedule=None,
        tags=["watchkeeper", "config-error"],
        doc_md=f"```\n{error}\n```",
    )
    def broken_config():
        @task
        def config_error() -> None:
            raise ConfigError(error)

        config_error()

    return broken_config()


for _path in sorted(MODELS_DIR.glob("*.y*ml")):
    try:
        monitoring_dag(load_config(_path), str(_path))
    except ConfigError as _exc:
        log.error("%s", _exc)
        config_error_dag(_path, str(_exc))
