"""The delivery log: which message (by stable key) went where, so re-runs send nothing twice and failures retry.

One small document per message key under `<results_prefix>/<model>/deliveries/`: status `sent` (with its
destination) or `pending` (with the payload and why it failed, e.g. Slack answered 5xx after its retries); a
pending message is sent once by the next delivery of that model. Sending itself is injected (`Sender`): the
Airflow plugin posts through the Slack provider, the CLI writes the outbox.

Beside the log, `<log>.pending/` holds an empty marker per pending entry, so a delivery that retries pending
messages lists that (usually empty) folder instead of reading every message the model ever sent. A log written
before the index is indexed once, by the first retry that finds no `.index` there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from watchkeeper.alerts import incident_message
from watchkeeper.config import ModelConfig
from watchkeeper.history import model_key, signals_key
from watchkeeper.incidents import Outgoing, Replay
from watchkeeper.policy import DaySignals
from watchkeeper.storage import Storage

log = logging.getLogger(__name__)

Sender = Callable[[str, str, dict], str]
"""(owner role, message key, payload) → where it went (e.g. `slack:<conn_id>`, `outbox:<path>`); raises on failure."""


def log_key(cfg: ModelConfig, key: str) -> str:
    return log_key_at(model_key(cfg, "deliveries"), key)


def log_key_at(prefix: str, key: str) -> str:
    """Where a message key's entry lives in the delivery log under `prefix`."""
    return f"{prefix}/{key.replace('/', '__')}.json"


def record(cfg: ModelConfig, results: Storage, key: str) -> dict | None:
    """The delivery log entry of a message key (None: never attempted)."""
    return record_at(results, model_key(cfg, "deliveries"), key)


def record_at(results: Storage, prefix: str, key: str) -> dict | None:
    return results.read_json_if_any(log_key_at(prefix, key))


def read_log(cfg: ModelConfig, results: Storage) -> list[dict]:
    return [results.read_json(k) for k in results.list(model_key(cfg, "deliveries"))]


def _index(prefix: str) -> str:
    return f"{prefix}.pending"


def _write_entry(results: Storage, prefix: str, entry: dict) -> None:
    """The entry, then its pending marker (written after it, removed after it: a reader that sees a marker finds
    the entry it marks). The entry replaces the earlier one whole and synced: a process killed meanwhile leaves
    the earlier entry (pending: retried), never a torn one that no later delivery could read."""
    results.write_json_atomic(log_key_at(prefix, entry["key"]), entry)
    marker = log_key_at(_index(prefix), entry["key"])
    if entry["status"] == "pending":
        results.write_bytes(marker, b"")
    else:
        results.delete(marker)


def pending_entries(cfg: ModelConfig, results: Storage) -> list[dict]:
    """The model's pending delivery-log entries, read through the pending index (built once for an older log)."""
    prefix = model_key(cfg, "deliveries")
    index = _index(prefix)
    done = f"{index}/.index"
    markers = results.list(index)
    if done not in markers:
        for entry in read_log(cfg, results):
            if entry.get("status") == "pending":
                results.write_bytes(log_key_at(index, entry["key"]), b"")
        results.write_bytes(done, b"")
        markers = results.list(index)
    out = []
    for marker in markers:
        if marker == done:
            continue
        entry = results.read_json_if_any(f"{prefix}/{marker.rsplit('/', 1)[-1]}")
        if entry is not None and entry.get("status") == "pending":
            out.append(entry)
        else:  # sent since (a sent entry never becomes pending again)
            results.delete(marker)
    return out


def _failure(exc: Exception) -> str:
    # The exception text of a webhook client can hold the webhook URL (a secret): keep the type and status only.
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return type(exc).__name__ + (f" (HTTP {status})" if status else "")


def deliver_once(
    cfg: ModelConfig, results: Storage, keys: list[str], owner: str, day: str, payload: dict, send: Sender
) -> str:
    """Send one payload covering `keys` unless all were sent already; log the outcome per key."""
    return deliver_once_at(results, model_key(cfg, "deliveries"), keys, owner, day, payload, send)


def deliver_once_at(
    results: Storage, prefix: str, keys: list[str], owner: str, day: str, payload: dict, send: Sender
) -> str:
    """`deliver_once` with the delivery log under `prefix` (e.g. of a model whose YAML is broken)."""
    if all((record_at(results, prefix, k) or {}).get("status") == "sent" for k in keys):
        return "already sent"
    message = keys[0] if len(keys) == 1 else f"digest:{keys[0]}"
    try:
        where, status, error = send(owner, keys[0], payload), "sent", None
    except Exception as exc:  # noqa: BLE001 - any failure keeps the message pending for the next delivery
        where, status, error = "", "pending", _failure(exc)
        log.warning("message %s to the %s owner not delivered (%s); kept as pending", message, owner, error)
    for k in keys:
        entry = {
            "key": k,
            "message": message,
            "owner": owner,
            "day": day,
            "status": status,
            "destination": where,
        }
        if status == "pending":
            entry |= {"error": error, "payload": payload, "keys": keys}
        _write_entry(results, prefix, entry)
    return where or f"pending ({error})"


def queue(cfg: ModelConfig, results: Storage, key: str, owner: str, day: str, payload: dict) -> None:
    """Keep a message as pending (not attempted yet) unless its key was sent: the next delivery sends it once."""
    if (record(cfg, results, key) or {}).get("status") == "sent":
        return
    entry = {"key": key, "message": key, "owner": owner, "day": day, "status": "pending", "destination": ""}
    entry |= {"error": "not sent yet", "payload": payload, "keys": [key]}
    _write_entry(results, model_key(cfg, "deliveries"), entry)


def resend_day(cfg: ModelConfig, results: Storage, done: Replay, day: date, send: Sender) -> list[str]:
    """`watchkeeper replay`'s delivery: the day's pending messages and its incident messages never sent, each
    once (`key: where` per message sent or still pending; messages already sent are skipped)."""
    out = []
    for entry in pending_entries(cfg, results):
        keys = entry.get("keys", [entry["key"]])
        if entry.get("day") == day.isoformat() and keys[0] == entry["key"]:
            where = deliver_once(cfg, results, keys, entry["owner"], entry["day"], entry["payload"], send)
            out.append(f"{entry['message']}: {where}")
    outcome = done.days.get(day)
    if outcome is not None and outcome.messages:
        ds = DaySignals.model_validate(results.read_json(signals_key(cfg, day)))
        for msg in outcome.messages:
            where = send_message(cfg, results, msg, ds, done, send)
            if where != "already sent":
                out.append(f"{msg.keys[0]}: {where}")
    return out


def retry_pending(cfg: ModelConfig, results: Storage, send: Sender) -> list[str]:
    """Send every pending message once more (the first pending key of a digest carries it)."""
    out = []
    for entry in pending_entries(cfg, results):
        if entry.get("keys", [entry["key"]])[0] == entry["key"]:
            out.append(
                deliver_once(
                    cfg, results, entry["keys"], entry["owner"], entry["day"], entry["payload"], send
                )
            )
    return out


def send_day(
    cfg: ModelConfig, results: Storage, done: Replay, day: date, send: Sender, retry: bool = True
) -> list[str]:
    """Deliver the day's messages of a replay (and, with `retry`, any pending ones); return where each went.

    Retrying lists the pending index and reads its entries: a caller sending a stretch retries once, not daily."""
    out = retry_pending(cfg, results, send) if retry else []
    outcome = done.days.get(day)
    if outcome is None or not outcome.messages:
        return out
    ds = DaySignals.model_validate(results.read_json(signals_key(cfg, day)))
    for msg in outcome.messages:
        out.append(send_message(cfg, results, msg, ds, done, send))
    return out


def send_message(
    cfg: ModelConfig, results: Storage, msg: Outgoing, ds: DaySignals, done: Replay, send: Sender
) -> str:
    payload = incident_message(cfg, msg, ds, done.incidents)
    return deliver_once(cfg, results, msg.keys, msg.owner, ds.day.isoformat(), payload, send)
