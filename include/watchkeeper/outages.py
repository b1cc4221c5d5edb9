"""An MLflow outage told to the operator once: one message when the first day's projection stays pending, one
closing line when a later run or `watchkeeper replay` logs a day again (naming the days still pending, if any).

The outage is one document per model, `<results_prefix>/<model>/outages/mlflow.json`, opened and closed by
conditional writes (`lease_object`), so days finishing at once (a backfill) open it once. Its messages are queued
as pending entries of the delivery log (`delivery.queue`), keyed `mlflow_outage/<first day>/<opened|recovered>/
operator`: whatever delivers next (the DAG's `send_messages`, `run-day --outbox`, `watchkeeper replay`) sends
each once to the operator.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from watchkeeper import lease_object
from watchkeeper.alerts import fit_slack_limits, mention_of
from watchkeeper.delivery import queue
from watchkeeper.history import model_key
from watchkeeper.text import escape_mrkdwn

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day


def outage_key(d: Day) -> str:
    return model_key(d.cfg, "outages/mlflow.json")


def _open(doc: dict) -> bool:
    return doc.get("status") == "open"


def mlflow_failed(d: Day, error: str) -> None:
    """The day's MLflow projection stayed pending: open the outage (and queue its message) unless one is open."""
    key, day = outage_key(d), d.day.isoformat()
    token = lease_object.new_token()
    doc = {"status": "open", "first_day": day, "days": [day], "error": error, "token": token}
    holder = lease_object.take(d.results, key, doc, _open)
    if holder is not None:  # already open: only the list of pending days grows (no new message)
        if day not in holder.get("days", []):
            d.results.write_json(key, holder | {"days": sorted({*holder.get("days", []), day})}, whole=True)
        return
    text = (
        f"MLflow could not be reached while logging {d.cfg.name} {day} ({error}). The day's result is stored; "
        f"its MLflow run is pending and so will be the next days' until MLflow answers again. You are told "
        f"once for this outage, and again when it is over."
    )
    queue(
        d.cfg, d.results, f"mlflow_outage/{day}/opened/operator", "operator", day, _message(d, "opened", text)
    )


def mlflow_logged(d: Day) -> None:
    """A day was logged to MLflow again: close an open outage with one line naming the days still pending."""
    from watchkeeper import pipeline
    from watchkeeper.projections import pending

    key = outage_key(d)
    doc, _ = lease_object.read(d.results, key)
    if doc is None or not _open(doc):
        return
    still_pending = [
        x
        for x in doc.get("days", [])
        if "mlflow" in pending(pipeline.Day(d.cfg, date.fromisoformat(x), d.storage, d.results))
    ]
    closed = doc | {"status": "closed", "closed_day": d.day.isoformat(), "token": lease_object.new_token()}
    if lease_object.take(d.results, key, closed, lambda now: not _open(now)) is not None:
        return  # another day closed it first
    first, day = doc["first_day"], d.day.isoformat()
    text = f"MLflow answers again: {d.cfg.name} {day} was logged."
    if still_pending:
        text += (
            f" {len(still_pending)} day(s) are still pending ({', '.join(still_pending)}): run "
            f"`watchkeeper replay --config {d.cfg.source} --start {still_pending[0]} --end {still_pending[-1]}`."
        )
    else:
        text += " No day of this outage is pending any more."
    queue(
        d.cfg,
        d.results,
        f"mlflow_outage/{first}/recovered/operator",
        "operator",
        day,
        _message(d, "over", text),
    )


def _message(d: Day, state: str, text: str) -> dict:
    owner = d.cfg.owners.of("operator")
    mention = mention_of(owner)
    body = escape_mrkdwn(text)
    header = f"{d.cfg.name} · MLflow outage {state}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention} {body}".strip()}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {escape_mrkdwn(owner.name)}"}]},
    ]
    icon = ":warning:" if state == "opened" else ":white_check_mark:"
    return fit_slack_limits({"text": f"{mention} {icon} {body}".strip(), "blocks": blocks})
