"""The retraining and promotion DAGs' task bodies: request → guards and training set → challenger → verdict →
the model owner's proposal, and promotion/rollback; each a thin call into `watchkeeper.retraining`.

A retraining request reaches the DAG as run configuration (manual trigger or the monitoring DAG's trigger) or as
the extra of the model's retraining-request Asset event; the latest request wins.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from watchkeeper_airflow.context import day_for

log = logging.getLogger(__name__)


def _tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise RuntimeError(
            "MLFLOW_TRACKING_URI is not set: retraining needs the MLflow tracking server and registry"
        )
    return uri


def resolve_request(params: dict[str, Any], events: Any) -> dict[str, Any]:
    """{day, reason, since} from the run's params, else from the newest triggering Asset event's extra."""
    if params.get("day"):
        return {"day": str(params["day"]), "reason": params.get("reason") or "manual request",
                "since": params.get("since")}  # fmt: skip
    extras = [e.extra for evs in (events or {}).values() for e in evs if getattr(e, "extra", None)]
    if not extras:
        raise ValueError("no retraining request: trigger with conf {'day': 'YYYY-MM-DD', 'reason': '...'}")
    latest = max(extras, key=lambda x: x.get("day", ""))
    return {"day": latest["day"], "reason": latest.get("reason", ""), "since": latest.get("since")}


def prepare(config_path: str, request: dict[str, Any], holder: str) -> dict[str, Any]:
    from watchkeeper.retraining.run import prepare as run_prepare

    d = day_for(config_path, request["day"])
    since = date.fromisoformat(request["since"]) if request.get("since") else None
    return run_prepare(d.cfg, d.storage, d.results, _tracking_uri(), d.day, holder, request["reason"], since)


def train(config_path: str, day: str) -> dict[str, Any]:
    from watchkeeper.retraining.run import train as run_train

    d = day_for(config_path, day)
    return run_train(d.cfg, d.results, _tracking_uri(), d.day)


def evaluate(config_path: str, day: str) -> dict[str, Any]:
    from watchkeeper.retraining.run import evaluate as run_evaluate

    d = day_for(config_path, day)
    v = run_evaluate(d.cfg, d.results, _tracking_uri(), d.day)
    return {"verdict": v.verdict, "why": v.why, "challenger_version": v.challenger_version}


def propose(config_path: str, day: str) -> str:
    """Promote if the model opted in and the verdict allows; one message to the model owner either way (the
    proposal, or the promotion's own), once per key through the delivery log."""
    from watchkeeper.delivery import deliver_once
    from watchkeeper.retraining.run import propose as run_propose

    from watchkeeper_airflow.notify import sender

    d = day_for(config_path, day)
    message, outcome = run_propose(d.cfg, d.results, _tracking_uri(), d.day, _links())
    where = deliver_once(d.cfg, d.results, [outcome["message_key"]], "model", day, message, sender(d.cfg))
    return f"{outcome['status']}: {where}"


def report_refusal(config_path: str, outcome: dict[str, Any]) -> str:
    """A refusal is a result: the model owner hears of a quality refusal once, through the delivery log (a re-run
    sends nothing; a Slack failure leaves it pending for the next delivery); waits are only logged."""
    from watchkeeper.delivery import deliver_once
    from watchkeeper.retraining.run import refusal_payload

    from watchkeeper_airflow.notify import sender

    d = day_for(config_path, outcome["day"])
    payload = refusal_payload(d.cfg, outcome)
    if payload is None:
        return outcome["why"]
    key = f"{outcome['day']}/model/retrain-refused"
    where = deliver_once(d.cfg, d.results, [key], "model", outcome["day"], payload, sender(d.cfg))
    return f"{outcome['why']} ({where})"


def release(config_path: str, day: str) -> None:
    from watchkeeper.retraining.run import release as run_release

    d = day_for(config_path, day)
    run_release(d.cfg, d.results, d.day)


def promotion(config_path: str, action: str, version: int | None, by: str, why: str) -> dict[str, Any]:
    """Promote a version (or roll back) for the model of `config_path`; the history event."""
    from watchkeeper.config import load_config
    from watchkeeper.retraining.announce import announce
    from watchkeeper.retraining.promote import promote, rollback

    from watchkeeper_airflow.notify import sender
    from watchkeeper_airflow.storage import storages_for

    cfg = load_config(config_path)
    _, results = storages_for(cfg)
    if action == "rollback":
        event = rollback(cfg, _tracking_uri(), results, by, why)
    elif version is None:
        raise ValueError("promote needs a version")
    else:
        from watchkeeper.retraining.evidence import describe, shadow_evidence

        event = promote(cfg, _tracking_uri(), results, version, by, why)
        log.info("%s: version %s is the champion; shadow days: %s", cfg.name, version,
                 describe(shadow_evidence(cfg, results, version)))  # fmt: skip
    where = announce(cfg, _tracking_uri(), results, event, sender(cfg), _links())
    log.info("%s: the model owner was told (%s)", cfg.name, where)
    return event


def _links() -> dict[str, str]:
    ui = os.environ.get("WATCHKEEPER_MLFLOW_UI_URL")
    return {"MLflow registry": f"{ui.rstrip('/')}/#/models"} if ui else {}
