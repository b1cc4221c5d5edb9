"""The DAG's last tasks: send the day's incident messages, and record a retraining request for the model.

Both read what the day's `finish` stored (result, signals, incidents), so a re-run acts on the day's latest result;
the delivery log makes a re-run send nothing already sent, and a retraining request replaces the day's earlier one.
"""

from __future__ import annotations

from watchkeeper.result import DayResult

from watchkeeper_airflow.context import leased_day
from watchkeeper_airflow.notify import sender


def _result(config_path: str, day: str):
    d = leased_day(config_path, day)
    return d, DayResult.model_validate(d.results.read_json(d.key("result.json")))


def send_messages(config_path: str, day: str) -> str:
    """Deliver the day's messages (opened, reminded, recovered incidents; digests) and any pending ones."""
    from watchkeeper.delivery import send_day
    from watchkeeper.history import replay_stored

    d = leased_day(config_path, day)
    done = replay_stored(d.cfg, d.results)
    sent = send_day(d.cfg, d.results, done, d.day, sender(d.cfg))
    return ", ".join(sent) or "nothing to send"


def request_retraining(config_path: str, day: str) -> str:
    """Record the request (model, day, reasons) where the retraining DAG picks it up."""
    d, result = _result(config_path, day)
    actions = [a.model_dump() for a in result.actions if a.kind in ("retrain", "evaluate")]
    key = f"{d.cfg.storage.results_prefix}/{d.cfg.name}/retraining/requests/{day}.json"
    d.results.write_json(
        key, {"model": result.model, "day": day, "actions": actions, "mlflow_run_id": result.mlflow_run_id}
    )
    return d.results.url(key)
