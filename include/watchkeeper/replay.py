"""`watchkeeper replay`: complete the projections of stored day results (MLflow runs, pending deliveries).

For each day in the range with a stored `result.json`, the MLflow projection is redone when it is pending, was
never made, or `force` is set; then every registered delivery hook gets the day (alerts that could not be sent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from watchkeeper.config import ModelConfig
from watchkeeper.pipeline import Day
from watchkeeper.projections import RESULT, project_mlflow, state
from watchkeeper.result import DayResult
from watchkeeper.storage import Storage

DeliveryHook = Callable[[Day, DayResult], list[str]]
"""Re-runs a day's pending deliveries; returns what it sent (one line each)."""
DELIVERY_HOOKS: list[DeliveryHook] = []
"""Filled by the alert delivery code; replay calls each hook once per stored day."""


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
    out = []
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
            mlflow = "logged" if project_mlflow(d, result, tracking_uri) else "pending"
        sent = [line for hook in (DELIVERY_HOOKS if hooks is None else hooks) for line in hook(d, result)]
        out.append(Replayed(d.day, mlflow, sent))
    return out
