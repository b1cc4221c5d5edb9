"""A stretch of days monitored in one Airflow task: the backfill DAG's body (`dags/watchkeeper_backfill.py`).

`airflow backfill create` runs the monitoring DAG once per day: a dozen task processes a day, about 20 s of
scheduling and start-up before any work. A year of history is then hours. Here one task runs the same engine
functions for every day in order (`backfill.run_local`: imports and the reference profile paid once), then sends
the stretch's incident messages through the same delivery log as the daily runs, so nothing already sent is sent
again. No retraining is requested for past days.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import date

log = logging.getLogger(__name__)


def monitor_range(config_path: str, start: str, end: str, send: bool = True) -> dict:
    """Monitor every day from `start` to `end` in order; with `send`, deliver the stretch's messages afterwards.

    A day whose data cannot be read is recorded (its result and MLflow run say why) and the stretch goes on; the
    summary counts it. Results replace earlier ones, keyed by (model, day): a re-run duplicates nothing.
    """
    from watchkeeper import backfill
    from watchkeeper.config import load_config

    from watchkeeper_airflow.storage import storages_for

    cfg = load_config(config_path)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise ValueError(f"end {end} is before start {start}")
    data, results = storages_for(cfg)
    cpu = time.process_time()

    def progress(outcome: backfill.DayOutcome) -> None:
        log.info("%s %s: %s %s", cfg.name, outcome.day, outcome.status, outcome.message)

    outcomes = backfill.run_local(
        cfg, first, last, data, results, os.environ.get("MLFLOW_TRACKING_URI"), progress
    )
    sent = send_range(cfg, results, [o.day for o in outcomes]) if send else []
    failed = [o.day.isoformat() for o in outcomes if o.status == "failed"]
    summary = {
        "model": cfg.name,
        "days": len(outcomes),
        "alert_days": sum(o.status == "alert" for o in outcomes),
        "failed_days": failed,
        "messages": sum(s != "already sent" for s in sent),  # delivered now (or kept pending), not skipped
        "cpu_s": round(time.process_time() - cpu, 1),  # this task's CPU (its threads included)
    }
    log.info("%s %s..%s: %s", cfg.name, start, end, summary)
    return summary


def send_range(cfg, results, days: list[date]) -> list[str]:
    """Each day's messages from one replay of the stored history (not one replay per day), in day order."""
    from watchkeeper.delivery import send_day
    from watchkeeper.history import replay_stored

    from watchkeeper_airflow.notify import sender

    done = replay_stored(cfg, results)
    send = sender(cfg)
    sent: list[str] = []
    for i, day in enumerate(days):  # pending messages retried once, at the start: the log is read once
        sent += send_day(cfg, results, done, day, send, retry=i == 0)
    return sent
