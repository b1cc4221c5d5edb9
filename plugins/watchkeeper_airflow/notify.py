"""Delivering alerts: Block Kit to the owner's Slack webhook connection, else to the local outbox.

Each delivery leaves a marker in the results storage keyed by (model, day, owner, kind) and the message's hash, so
re-running a day does not send the same alert twice; a changed message is sent again.
"""

from __future__ import annotations

import hashlib
import json
import logging

from watchkeeper.alerts import build_message, dedupe_key, write_outbox
from watchkeeper.config import ModelConfig, Owner
from watchkeeper.result import Action, DayResult
from watchkeeper.storage import Storage

log = logging.getLogger(__name__)


def _slack_connection_exists(conn_id: str | None) -> bool:
    if not conn_id:
        return False
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def deliver(owner: Owner, key: str, payload: dict) -> str:
    """Send one payload; return where it went."""
    if _slack_connection_exists(owner.slack_conn_id):
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
        from watchkeeper.redact import redacting_logger

        # The webhook URL is the secret: slack_sdk logs it on retries, so its logger keeps only scheme and host.
        hook = SlackWebhookHook(
            slack_webhook_conn_id=owner.slack_conn_id, logger=redacting_logger("watchkeeper.slack")
        )
        hook.send(text=payload["text"], blocks=payload["blocks"])
        return f"slack:{owner.slack_conn_id}"
    path = write_outbox(key, owner.name, payload)
    return f"outbox:{path}"


def notify(
    cfg: ModelConfig, result: DayResult, action: Action, results: Storage, links: dict[str, str]
) -> str:
    payload = build_message(cfg, result, action, links)
    key = dedupe_key(result, action)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    marker = cfg.results_key(result.day, f"notified/{action.owner}-{action.kind}.json")
    if results.exists(marker) and results.read_json(marker).get("digest") == digest:
        log.info("alert %s already delivered; not sending it again", key)
        return "already delivered"
    where = deliver(getattr(cfg.owners, action.owner), key, payload)
    results.write_json(marker, {"digest": digest, "where": where, "key": key})
    return where
