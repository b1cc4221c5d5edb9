"""One retraining DAG per model YAML with a `model:` section: guards → training set → challenger → verdict → proposal.

Started by the model's retraining-request Asset (updated by the monitoring DAG's `request_retraining` task) or by
hand with params `day` and `reason`. Refusals (quality, cooldown, busy, not enough labels) end the run as results.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task
from watchkeeper.config import ConfigError, ModelConfig, load_config
from watchkeeper_airflow.assets import request_asset
from watchkeeper_airflow.callbacks import WatchkeeperFailureNotifier

MODELS_DIR = Path(
    os.environ.get("WATCHKEEPER_MODELS_DIR", Path(__file__).resolve().parents[1] / "include" / "models")
)
log = logging.getLogger(__name__)


def retraining_dag(cfg: ModelConfig, path: str):
    @dag(
        dag_id=f"watchkeeper_retrain_{cfg.name}",
        description=f"Retrain {cfg.name} on request and judge the challenger against the champion",
        schedule=[request_asset(cfg.name)],
        start_date=datetime.combine(cfg.start_date, time(), tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        params={
            "day": Param(None, type=["null", "string"], format="date", description="Request day"),
            "reason": Param("manual request", type="string", description="Why a retraining is asked for"),
            "since": Param(
                None, type=["null", "string"], format="date", description="Change point (optional)"
            ),
        },
        default_args={
            "retries": 0,
            "retry_delay": timedelta(minutes=5),
            "on_failure_callback": WatchkeeperFailureNotifier(config_path=path),
            **({"queue": cfg.airflow.queue} if cfg.airflow.queue else {}),
        },  # fmt: skip
        tags=["watchkeeper", "retraining", cfg.name],
        doc_md=__doc__,
    )
    def retrain():
        @task
        def prepare() -> dict:
            from watchkeeper_airflow.retraining import prepare, resolve_request

            ctx = get_current_context()
            request = resolve_request(ctx["params"], ctx.get("triggering_asset_events"))
            return prepare(path, request, holder=ctx["run_id"])

        @task.branch
        def ready(outcome: dict) -> str:
            return "train_challenger" if outcome["status"] == "ready" else "refused"

        @task
        def refused(outcome: dict) -> str:
            from watchkeeper_airflow.retraining import report_refusal

            return report_refusal(path, outcome)

        @task
        def train_challenger(outcome: dict) -> dict:
            from watchkeeper_airflow.retraining import train

            return train(path, outcome["day"])

        @task
        def evaluate_challenger(outcome: dict, trained: dict) -> dict:
            from watchkeeper_airflow.retraining import evaluate

            return evaluate(path, outcome["day"])

        @task
        def propose_promotion(outcome: dict, verdict: dict) -> str:
            from watchkeeper_airflow.retraining import propose

            return propose(path, outcome["day"])

        @task(trigger_rule="all_done")
        def release_lease(outcome: dict) -> None:
            from watchkeeper_airflow.retraining import release

            release(path, outcome["day"])

        outcome = prepare()
        trained = train_challenger(outcome)
        proposed = propose_promotion(outcome, evaluate_challenger(outcome, trained))
        ready(outcome) >> [trained, refused(outcome)]
        proposed >> release_lease(outcome)

    return retrain()


for _path in sorted(MODELS_DIR.glob("*.y*ml")):
    try:
        _cfg = load_config(_path)
    except ConfigError:
        continue  # the monitoring DAG file reports a broken YAML
    if _cfg.model is not None:
        retraining_dag(_cfg, str(_path))
