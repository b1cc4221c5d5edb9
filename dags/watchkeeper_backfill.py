"""One backfill DAG per model YAML (`watchkeeper_backfill_<model>`): a stretch of past days in one task.

Triggered by hand or by `watchkeeper backfill --one-run` with `{"start": ..., "end": ...}`. It runs the same engine
functions as the daily DAG, day by day in one process, so a year of history costs minutes instead of a dozen task
processes per day (`airflow backfill create` on the monitoring DAG still works, one DAG run per day).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task
from watchkeeper.config import ConfigError, ModelConfig, load_config

MODELS_DIR = Path(
    os.environ.get("WATCHKEEPER_MODELS_DIR", Path(__file__).resolve().parents[1] / "include" / "models")
)


def backfill_dag(cfg: ModelConfig, path: str):
    @dag(
        dag_id=f"watchkeeper_backfill_{cfg.name}",
        description=f"Monitor a stretch of past days of {cfg.name} in one task",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,  # days depend on the days before them (incidents, late labels): one stretch at a time
        params={
            "start": Param(type="string", format="date", description="First day to monitor"),
            "end": Param(type="string", format="date", description="Last day to monitor"),
            "send_messages": Param(
                True, type="boolean", description="Deliver the stretch's incident messages"
            ),
        },
        default_args={
            "retries": cfg.airflow.retries,
            "retry_delay": timedelta(minutes=cfg.airflow.retry_delay_minutes),
            **({"queue": cfg.airflow.queue} if cfg.airflow.queue else {}),
        },
        tags=["watchkeeper", "backfill", cfg.name],
        doc_md=__doc__,
    )
    def backfill():
        @task
        def monitor_days() -> dict:
            from watchkeeper_airflow.catch_up import monitor_range

            p = get_current_context()["params"]
            return monitor_range(path, p["start"], p["end"], bool(p["send_messages"]))

        monitor_days()

    return backfill()


_names: set[str] = set()
for _path in sorted(MODELS_DIR.glob("*.y*ml")):
    try:
        _cfg = load_config(_path)
    except ConfigError:
        continue  # the monitoring DAG file reports a broken YAML (watchkeeper_<file>)
    if _cfg.name not in _names:  # a second YAML of the same model is reported there too
        _names.add(_cfg.name)
        backfill_dag(_cfg, str(_path))
