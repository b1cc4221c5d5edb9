"""Delivering alerts: Block Kit to the owner's Slack incoming-webhook connection, else to the local outbox.

One connection per destination (webhooks ignore `channel`). The provider's `SlackWebhookHook` wraps slack_sdk's
`WebhookClient`, configured here to retry a 429 after the `Retry-After` it names, a 5xx with backoff, and a
dropped connection; what still fails is kept as pending in the delivery log (`watchkeeper.delivery`).
"""

from __future__ import annotations

import logging

from watchkeeper.alerts import write_outbox
from watchkeeper.config import ModelConfig, Owner
from watchkeeper.delivery import Sender

log = logging.getLogger(__name__)

RETRIES = 3
"""Attempts after the first, per kind of failure (429, 5xx, connection error)."""


def retry_handlers() -> list:
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    backoff = BackoffRetryIntervalCalculator(backoff_factor=1.0)
    return [
        RateLimitErrorRetryHandler(max_retry_count=RETRIES),  # sleeps the Retry-After header's seconds
        ServerErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
        ConnectionErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
    ]


def slack_connection_exists(conn_id: str | None) -> bool:
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
    """Send one payload to the owner's webhook connection (or the outbox without one); return where it went.

    Raises when Slack still refuses after the retries, so the caller can keep the message as pending.
    """
    if slack_connection_exists(owner.slack_conn_id):
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
        from watchkeeper.redact import redacting_logger

        # The webhook URL is the secret: slack_sdk logs it on retries, so its logger keeps only scheme and host.
        hook = SlackWebhookHook(
            slack_webhook_conn_id=owner.slack_conn_id,
            logger=redacting_logger("watchkeeper.slack"),
            retry_handlers=retry_handlers(),
        )
        hook.send(text=payload["text"], blocks=payload["blocks"])
        return f"slack:{owner.slack_conn_id}"
    path = write_outbox(key, owner.name, payload)
    return f"outbox:{path}"


def sender(cfg: ModelConfig) -> Sender:
    """The delivery log's sender for a model: each owner role to its own destination."""

    def send(role: str, key: str, payload: dict) -> str:
        return deliver(cfg.owners.of(role), f"{cfg.name}/{key}", payload)

    return send
