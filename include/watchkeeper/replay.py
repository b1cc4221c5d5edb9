"""`watchkeeper replay`: complete the projections of stored day results (MLflow runs, pending deliveries).

For each day in the range with a stored `result.json`, the MLflow projection is redone when it is pending, was
never made, or `force` is set; an MLflow outage is closed once after the range (`outages`). Then every delivery
hook gets each day: `delivery_hook` sends the day's pending and never-sent messages, each once (the delivery log
prevents duplicates); the CLI registers it with the model's destinations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from watchkeeper.config import ModelConfig
from watchkeeper.delivery import Sender, resend_day
from watchkeeper.history import replay_stored
from watchkeeper.incidents import Replay
from watchkeeper.outages import mlflow_logged
from watchkeeper.pipeline import Day
from watchkeeper.projections import RESULT, project_mlflow, state
from watchkeeper.result import DayResult
from watchkeeper.storage import Storage

DeliveryHook = Callable[[Day, DayResult], list[str]]
"""Re-runs a day's pending deliveries; returns what it sent (one line each)."""
DELIVERY_HOOKS: list[DeliveryHook] = []
"""Hooks replay calls once per stored day when none are passed (the CLI passes `delivery_hook`)."""


def delivery_hook(send: Sender) -> DeliveryHook:
    """The day's messages (pending, or due and never sent) through `send`; incidents are replayed once per model."""
    done: dict[str, Replay] = {}

    def hook(d: Day, result: DayResult) -> list[str]:
        if d.cfg.name not in done:
            done[d.cfg.name] = replay_stored(d.cfg, d.results)
        return resend_day(d.cfg, d.results, done[d.cfg.name], d.day, send)

    return hook


@dataclass
class Replayed:
    """What replay did for one day."""

    day: date
    mlflow: str
    """`logged`, `pending` (failed again, with the error in projections.json), `up to date` or `not configured`."""
    delivered: list[str] = field(default_factory=list)


def replay(
    cfg: ModelConfig,
    data: Storage,
    results: Storage,
    start: date,
    end: date,
    tracking_uri: str | None,
    force: bool = False,
    hooks: list[DeliveryHook] | None = None,
) -> list[Replayed]:
    """Re-project every stored day from `start` to `end` (inclusive); days without a stored result are skipped."""
    out, stored, logged = [], [], None
    day = start
    while day <= end:
        d = Day(cfg, day, data, results)
        day += timedelta(days=1)
        if not results.exists(d.key(RESULT)):
            continue
        result = DayResult.model_validate(results.read_json(d.key(RESULT)))
        done = state(d).get("mlflow", {}).get("status") == "done"
        if not tracking_uri:
            mlflow = "not configured"
        elif done and not force:
            mlflow = "up to date"
        else:
            mlflow = "logged" if project_mlflow(d, result, tracking_uri, close_outage=False) else "pending"
            logged = d if mlflow == "logged" else logged
        out.append(Replayed(d.day, mlflow))
        stored.append((d, result))
    if logged is not None:
        mlflow_logged(logged)  # one closing line for the whole range, naming any day still pending
    for (d, result), replayed in zip(stored, out, strict=True):
        replayed.delivered = [
            line for hook in (DELIVERY_HOOKS if hooks is None else hooks) for line in hook(d, result)
        ]
    return out
