"""Failure callbacks: a task that failed for good, and a YAML that fails validation, each told once.

A failed `wait_for_data` / `load_day` means the day's data is missing or unreadable: the day is recorded like any
other (a critical `load.*` check), so the policy opens a `data_missing` incident and its message goes to the data
owner. Any other task's failure is a pipeline failure for the operator. Each message has a stable key in the
delivery log, so a failure is told once; a cleared and re-failed task (a new try) is a new failure.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

DATA_TASKS = frozenset({"wait_for_data", "load_day"})


class WatchkeeperFailureNotifier(BaseNotifier):
    """Routes a task failure: data tasks → the data owner (through the day's incidents), others → the operator."""

    template_fields = ()

    def __init__(self, config_path: str):
        super().__init__()
        self.config_path = config_path

    def notify(self, context) -> None:
        from watchkeeper.alerts import failure_message
        from watchkeeper.config import load_config

        cfg = load_config(self.config_path)
        ti = context["ti"]
        day = (context.get("params") or {}).get("day") or _interval_day(context, cfg.airflow.timezone)
        error = str(context.get("exception") or "")
        if ti.task_id == "wait_for_data":
            expected = cfg.paths.predictions.replace("{ds}", day).replace("{ds_nodash}", day.replace("-", ""))
            minutes = cfg.airflow.data_deadline_minutes
            error = f"the day's data did not arrive within {minutes:g} minutes: {cfg.storage.uri}/{expected}"
        if (
            ti.task_id in DATA_TASKS
            and day != "unknown day"
            and _record(self.config_path, day, ti.task_id, error)
        ):
            return
        links = {"Airflow log": getattr(ti, "log_url", None) or ""}
        payload = failure_message(cfg, "operator", ti.task_id, day, error, links)
        key = f"pipeline_failure/{day}/{ti.task_id}/try{getattr(ti, 'try_number', 1)}/operator"
        _send_once(self.config_path, key, day, payload)


def _record(config_path: str, day: str, task_id: str, error: str) -> bool:
    """Record the day without usable data and send its messages; False when that failed (the operator hears)."""
    from watchkeeper_airflow.actions import send_messages
    from watchkeeper_airflow.context import record_data_failure

    try:
        record_data_failure(
            config_path, day, "not_arrived" if task_id == "wait_for_data" else "failed", error
        )
        log.info("data failure of %s: %s", day, send_messages(config_path, day))
    except Exception:
        log.exception("could not record the failed day %s", day)
        return False
    return True


def _send_once(config_path: str, key: str, day: str, payload: dict) -> None:
    """Through the delivery log when the results storage answers; straight to the destination when it does not."""
    from watchkeeper.config import load_config
    from watchkeeper.delivery import deliver_once

    from watchkeeper_airflow.notify import deliver, sender

    cfg = load_config(config_path)
    try:
        from watchkeeper_airflow.storage import storages_for

        _, results = storages_for(cfg)
        log.info(
            "operator alert %s: %s",
            key,
            deliver_once(cfg, results, [key], "operator", day, payload, sender(cfg)),
        )
    except Exception:
        log.exception("delivery log unavailable; sending %s without it", key)
        deliver(cfg.owners.of("operator"), f"{cfg.name}/{key}", payload)


def run_late(config_path: str, context: dict | None = None, **_: object) -> None:
    """The `DeadlineAlert` callback: a day's run missed `policy.run_deadline_hours`; the operator hears once per run."""
    from watchkeeper.alerts import failure_message
    from watchkeeper.config import load_config

    cfg = load_config(config_path)
    run = (context or {}).get("dag_run") or {}
    day = (run.get("conf") or {}).get("day") or _interval_day(run, cfg.airflow.timezone)
    hours = cfg.policy.run_deadline_hours
    error = f"the run {run.get('dag_run_id', '?')} has not finished {hours:g} hour(s) after it was queued"
    payload = failure_message(cfg, "operator", "run past its deadline", day, error, {})
    _send_once(config_path, f"run_late/{day}/{run.get('dag_run_id', 'unknown')}/operator", day, payload)


class ConfigErrorNotifier(BaseNotifier):
    """A model YAML that fails validation: one message to the operator per distinct error.

    The YAML is broken, so the destination is read leniently from its `owners.operator` (or `owners.model`)
    `slack_conn_id` when that part still parses, else from env `WATCHKEEPER_OPERATOR_CONN_ID`; the outbox without one.
    What was told is recorded in a delivery log in storage, so it holds across workers: the model's own (its
    `storage` section, when that still validates), else the one at env `WATCHKEEPER_OPERATOR_LOG_URI`; only
    without either does a file beside the outbox remember it (this worker only).
    """

    template_fields = ()

    def __init__(self, config_path: str, error: str):
        super().__init__()
        self.config_path = config_path
        self.error = error

    def notify(self, context) -> None:
        import os
        from pathlib import Path

        from watchkeeper.config import Owner
        from watchkeeper.text import clip, escape_mrkdwn

        from watchkeeper_airflow.notify import deliver

        digest = hashlib.sha256(self.error.encode()).hexdigest()[:12]
        key = f"config_error/{Path(self.config_path).stem}/{digest}/operator"
        conn_id = _lenient_operator_conn(self.config_path) or os.environ.get("WATCHKEEPER_OPERATOR_CONN_ID")
        owner = Owner(name="operator", slack_conn_id=conn_id)
        name = escape_mrkdwn(Path(self.config_path).name)
        text = f":x: model configuration {name} is invalid; its DAG does nothing until it is fixed"
        body = clip(escape_mrkdwn(self.error), 2900)
        payload = {"text": text, "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{Path(self.config_path).name} · critical · invalid YAML"[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{text}\n```{body}```"}},
        ]}  # fmt: skip
        where = _config_error_log(self.config_path)
        if where is not None:
            from watchkeeper.delivery import deliver_once_at

            storage, log_prefix = where
            day = _interval_day(context or {})
            try:
                told = deliver_once_at(
                    storage,
                    log_prefix,
                    [key],
                    "operator",
                    day,
                    payload,
                    lambda _r, k, p: deliver(owner, k, p),
                )
            except Exception:  # noqa: BLE001 - the log's storage failed before sending: the local marker decides
                log.exception("delivery log %s unavailable for %s", storage.url(log_prefix), key)
            else:
                log.info("config error %s: %s (log %s)", key, told, storage.url(log_prefix))
                return
        marker = Path(os.environ.get("WATCHKEEPER_OUTBOX", ".watchkeeper/outbox.jsonl")).with_name(
            "config-errors.txt"
        )
        if marker.exists() and key in marker.read_text().split():
            log.info("config error %s already told", key)
            return
        deliver(owner, key, payload)
        marker.parent.mkdir(parents=True, exist_ok=True)
        with marker.open("a") as f:
            f.write(key + "\n")


def _config_error_log(path: str):
    """(results storage, delivery-log prefix) for a broken YAML, or None when no storage can be found.

    The YAML's `storage` section is validated on its own, so a mistake elsewhere keeps the model's own log.
    """
    import os
    import re
    from pathlib import Path

    import yaml
    from watchkeeper.config import StorageConfig
    from watchkeeper.storage import Storage

    from watchkeeper_airflow.storage import credentials_for

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = yaml.safe_load(f) or {}
        storage = StorageConfig.model_validate(raw["storage"])
        name = raw.get("name")
        name = name if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-]+", name) else Path(path).stem
        uri = storage.results_uri or storage.uri
        creds = credentials_for(storage.conn_id) if uri.startswith("s3://") else None
        return Storage.from_uri(uri, creds), f"{storage.results_prefix}/{name}/deliveries"
    except Exception:  # noqa: BLE001 - the YAML is known to be broken; its storage section may be too
        log.info("no readable storage section in %s; using WATCHKEEPER_OPERATOR_LOG_URI", path)
    uri = os.environ.get("WATCHKEEPER_OPERATOR_LOG_URI")
    if not uri:
        log.warning(
            "WATCHKEEPER_OPERATOR_LOG_URI is unset: broken-YAML alerts are de-duplicated on this worker only"
        )
        return None
    try:
        creds = credentials_for("watchkeeper_s3") if uri.startswith("s3://") else None
        return Storage.from_uri(uri, creds), "deliveries"
    except Exception:  # noqa: BLE001 - told without the log rather than not at all
        log.exception("the operator log %s cannot be opened", uri)
        return None


def _lenient_operator_conn(path: str) -> str | None:
    import yaml

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            owners = (yaml.safe_load(f) or {}).get("owners") or {}
        who = owners.get("operator") or owners.get("model") or {}
        return who.get("slack_conn_id") if isinstance(who, dict) else None
    except Exception:  # noqa: BLE001 - the YAML is known to be broken; any part may be unreadable
        return None


def _interval_day(context, timezone: str = "UTC") -> str:
    from watchkeeper_airflow.days import monitored_day

    start = context.get("data_interval_start")
    if isinstance(start, str):  # a deadline callback's context is serialized: timestamps arrive as ISO text
        start = datetime.fromisoformat(start)
    return monitored_day(None, start, None, timezone).isoformat() if start else "unknown day"
