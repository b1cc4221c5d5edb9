"""The failure callback of every Watchkeeper task: one alert to the right owner when a task has failed for good.

A failed `load_day` means the day's data is missing or unreadable, so it goes to the data owner; others to the model owner.
"""

from __future__ import annotations

import logging

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

DATA_TASKS = frozenset({"resolve_day", "wait_for_data", "load_day"})


class WatchkeeperFailureNotifier(BaseNotifier):
    """Routes a task failure to the model's data or model owner (Slack connection or outbox)."""

    template_fields = ()

    def __init__(self, config_path: str):
        super().__init__()
        self.config_path = config_path

    def notify(self, context) -> None:
        from watchkeeper.alerts import failure_message
        from watchkeeper.config import load_config

        from watchkeeper_airflow.notify import deliver

        cfg = load_config(self.config_path)
        ti = context["ti"]
        role = "data" if ti.task_id in DATA_TASKS else "model"
        day = (context.get("params") or {}).get("day") or _interval_day(context)
        links = {"Airflow log": getattr(ti, "log_url", None) or ""}
        error = str(context.get("exception") or "")
        if ti.task_id == "wait_for_data":
            expected = cfg.paths.predictions.replace("{ds}", day).replace("{ds_nodash}", day.replace("-", ""))
            minutes = cfg.airflow.data_deadline_minutes
            error = f"the day's data did not arrive within {minutes:g} minutes: {cfg.storage.uri}/{expected}"
        if ti.task_id in ("wait_for_data", "load_day") and day != "unknown day":
            _record(self.config_path, day, ti.task_id, error)
        payload = failure_message(cfg, role, ti.task_id, day, error, links)
        deliver(getattr(cfg.owners, role), f"{cfg.name}/{day}/{role}/failure/{ti.task_id}", payload)


def _record(config_path: str, day: str, task_id: str, error: str) -> None:
    """The day's result and MLflow run for a day without usable data; the alert goes out even if this fails."""
    from watchkeeper_airflow.context import record_data_failure

    try:
        record_data_failure(
            config_path, day, "not_arrived" if task_id == "wait_for_data" else "failed", error
        )
    except Exception:
        log.exception("could not record the failed day %s", day)


def _interval_day(context) -> str:
    start = context.get("data_interval_start")
    return start.date().isoformat() if start else "unknown day"
