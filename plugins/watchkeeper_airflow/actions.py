"""The branch targets of the monitoring DAG: notify an owner, or record a retraining request for the model.

Both read the day's stored `result.json`, so a re-run acts on the day's latest result and replaces what it wrote.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from watchkeeper.result import DayResult

from watchkeeper_airflow.context import day_for
from watchkeeper_airflow.notify import notify


def _links(result: DayResult) -> dict[str, str]:
    links = {}
    mlflow_ui = os.environ.get("WATCHKEEPER_MLFLOW_UI_URL")
    if mlflow_ui and result.mlflow_run_id and result.mlflow_experiment_id:
        links["MLflow run"] = (
            f"{mlflow_ui.rstrip('/')}/#/experiments/{result.mlflow_experiment_id}/runs/{result.mlflow_run_id}"
        )
    airflow_ui = os.environ.get("AIRFLOW__API__BASE_URL")
    if airflow_ui:
        links["Airflow DAG"] = f"{airflow_ui.rstrip('/')}/dags/{quote('watchkeeper_' + result.model)}"
    return links


def _result(config_path: str, day: str):
    d = day_for(config_path, day)
    return d, DayResult.model_validate(d.results.read_json(d.key("result.json")))


def notify_owner(config_path: str, day: str, role: str) -> str:
    d, result = _result(config_path, day)
    sent = [
        notify(d.cfg, result, a, d.results, _links(result))
        for a in result.actions
        if a.kind == "notify" and a.owner == role
    ]
    return ", ".join(sent) or "nothing to send"


def request_retraining(config_path: str, day: str) -> str:
    """Record the request (model, day, reasons) where the retraining DAG of the actions issue picks it up."""
    d, result = _result(config_path, day)
    actions = [a.model_dump() for a in result.actions if a.kind == "retrain"]
    key = f"{d.cfg.storage.results_prefix}/{d.cfg.name}/retraining/requests/{day}.json"
    d.results.write_json(
        key, {"model": result.model, "day": day, "actions": actions, "mlflow_run_id": result.mlflow_run_id}
    )
    return d.results.url(key)
