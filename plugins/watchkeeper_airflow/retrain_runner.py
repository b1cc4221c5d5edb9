"""Run monitoring day by day in one process and, after a day that asked for a retraining, the model's retraining DAG
with that request (what the scheduler does on the retraining-request Asset event); the demo and e2e tests use it.

Usage: python -m watchkeeper_airflow.retrain_runner MODEL[,MODEL...] FIRST..LAST
       python -m watchkeeper_airflow.retrain_runner --retrain MODEL DAY           (a manual retraining request)
       python -m watchkeeper_airflow.retrain_runner --promote MODEL VERSION BY   (the watchkeeper_promote DAG)
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta

from watchkeeper_airflow.runner import day_run, parse_days


def _dag(bag, dag_id: str):
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise SystemExit(f"no DAG {dag_id!r}; import errors: {bag.import_errors or 'none'}")
    return dag


def _requested(config_path: str, day: date) -> bool:
    """Whether the day's monitoring run stored a retraining request (`actions.request_retraining`)."""
    from watchkeeper_airflow.context import day_for

    d = day_for(config_path, day.isoformat())
    return d.results.exists(f"{d.cfg.storage.results_prefix}/{d.cfg.name}/retraining/requests/{day}.json")


def _config_path(model: str) -> str:
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "include" / "models"
    models_dir = Path(os.environ.get("WATCHKEEPER_MODELS_DIR", default))
    return str(next(models_dir.glob(f"{model}.y*ml")))


def run(models: list[str], days: list[date]) -> list[str]:
    """Every day of each model in order; returns the failures ("dag_id day")."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    failed = []
    for model in models:
        monitor, retrain = _dag(bag, f"watchkeeper_{model}"), bag.dags.get(f"watchkeeper_retrain_{model}")
        for day in days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            logical = start + timedelta(days=1)
            state = str(monitor.test(**day_run(start)).state)
            print(f"{monitor.dag_id} {day}: {state}", flush=True)
            if state != "success":
                failed.append(f"{monitor.dag_id} {day}")
            if retrain is not None and _requested(_config_path(model), day):
                conf = {"day": day.isoformat(), "reason": "monitoring requested a retraining"}
                state = str(retrain.test(logical_date=logical, run_conf=conf).state)
                print(f"{retrain.dag_id} {day}: {state}", flush=True)
                if state != "success":
                    failed.append(f"{retrain.dag_id} {day}")
    return failed


def retrain(model: str, day: date, reason: str = "manual request") -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = _dag(DagBag(), f"watchkeeper_retrain_{model}")
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    state = str(dag.test(logical_date=logical, run_conf={"day": day.isoformat(), "reason": reason}).state)
    print(f"{dag.dag_id} {day}: {state}", flush=True)
    return state


def promote(model: str, version: int, by: str) -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = _dag(DagBag(), "watchkeeper_promote")
    conf = {"model": model, "action": "promote", "version": version, "requested_by": by,
            "reason": "approved in the demo (--approve)"}  # fmt: skip
    state = str(dag.test(logical_date=None, run_conf=conf).state)
    print(f"watchkeeper_promote {model} v{version}: {state}", flush=True)
    return state


def main(argv: list[str]) -> int:
    # On a loaded machine parsing the DAG folder can pass Airflow's 30 s default; one process parses it once.
    os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "300")
    if argv[0] == "--retrain":
        return 0 if retrain(argv[1], date.fromisoformat(argv[2])) == "success" else 1
    if argv[0] == "--promote":
        return 0 if promote(argv[1], int(argv[2]), argv[3]) == "success" else 1
    models, *specs = argv
    failed = run(models.split(","), parse_days(specs))
    if failed:
        print(f"{len(failed)} run(s) did not succeed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
