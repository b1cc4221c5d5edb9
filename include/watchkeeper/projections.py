"""The day's stored `result.json` is the one source of truth; MLflow and alert deliveries are projections of it.

`store_result` writes the result atomically before anything else. Each projection's state (done, or pending with
the error) is kept beside it in `projections.json`, so an outage costs a warning to the operator, never the day:
a later run or `watchkeeper replay` (see `replay.py`) completes what is pending.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from watchkeeper.result import DayResult

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

log = logging.getLogger(__name__)

RESULT = "result.json"
STATE = "projections.json"
_USERINFO = re.compile(r"(//)[^/@\s]+@")


def store_result(d: Day, result: DayResult) -> str:
    """Write the day's result atomically (readers see the previous complete one or this one); its key."""
    key = d.key(RESULT)
    d.results.write_json_atomic(key, result.model_dump(mode="json"))
    return key


def state(d: Day) -> dict[str, dict[str, Any]]:
    """Each projection's last state, e.g. `{"mlflow": {"status": "pending", "error": "..."}}` ({} when none)."""
    key = d.key(STATE)
    return d.results.read_json_if_any(key) or {}


def mark(d: Day, name: str, status: str, **facts: Any) -> None:
    """Record one projection's state (`done` or `pending`, with small facts such as the error)."""
    doc = state(d)
    doc[name] = {"status": status, **facts}
    d.results.write_json_atomic(d.key(STATE), doc)


def pending(d: Day) -> dict[str, dict[str, Any]]:
    """The projections of the day still to be completed."""
    return {k: v for k, v in state(d).items() if v.get("status") == "pending"}


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of an error, with credentials in URLs removed."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return _USERINFO.sub(r"\1***@", f"{type(exc).__name__}: {first}")[:300]


def project_mlflow(d: Day, result: DayResult, tracking_uri: str, close_outage: bool = True) -> bool:
    """Log the stored result to MLflow; on any failure keep it pending (with a warning) instead of raising.

    On success the stored result is rewritten (atomically) with the MLflow run it now has. The operator hears of
    an outage once (`outages`): the first failure opens it, the next success closes it (`close_outage=False`
    leaves that to the caller, e.g. replay, which closes it after its whole range).
    """
    from watchkeeper import outages
    from watchkeeper.tracking import log_day

    before = (result.mlflow_experiment_id, result.mlflow_run_id)
    try:
        log_day(result, tracking_uri, d)
    except Exception as exc:  # an outage of any kind must not lose the day: it is replayed later
        result.mlflow_experiment_id, result.mlflow_run_id = before
        error = describe(exc)
        log.warning(
            "%s %s: MLflow logging failed; the result is stored and the MLflow run is pending "
            "(watchkeeper replay completes it): %s",
            d.cfg.name,
            d.day,
            error,
        )
        mark(d, "mlflow", "pending", error=error)
        outages.mlflow_failed(d, error)
        return False
    store_result(d, result)
    mark(d, "mlflow", "done", run_id=result.mlflow_run_id, experiment_id=result.mlflow_experiment_id)
    if close_outage:
        outages.mlflow_logged(d)
    return True
