"""A retraining request from start to proposal, step by step: prepare → train → evaluate → propose → release.

The retraining DAG calls each step from its own task, handing over only storage keys; `retrain` runs them all in
one process (CLI, tests, benchmark). Refusals (quality, cooldown, busy, not enough labels) are results stored in
`<results>/<prefix>/<model>/retraining/<day>/outcome.json`, not failures.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from watchkeeper.config import ModelConfig
from watchkeeper.retraining import guards, registry
from watchkeeper.retraining.announce import announcement
from watchkeeper.retraining.evaluate import Verdict, compare
from watchkeeper.retraining.promote import act_on, proposal_key, proposal_message, refusal_message
from watchkeeper.retraining.train import input_columns, train_challenger
from watchkeeper.retraining.training_set import Refused, build, change_point, store, stored
from watchkeeper.storage import Storage


def prefix(cfg: ModelConfig, day: date | str) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/retraining/{day}"


def _outcome(cfg: ModelConfig, results: Storage, day: date, doc: dict[str, Any]) -> dict[str, Any]:
    doc = {"model": cfg.name, "day": day.isoformat(), **doc}
    results.write_json(f"{prefix(cfg, day)}/outcome.json", doc)
    return doc


def prepare(
    cfg: ModelConfig,
    storage: Storage,
    results: Storage,
    tracking_uri: str,
    day: date,
    holder: str,
    reason: str = "",
    since: date | None = None,
) -> dict[str, Any]:
    """Check the guards and build the training set; `{"status": "ready"}` or a refusal with its kind and reason."""
    registry.model_section(cfg)
    since = since or change_point(cfg, results, day)
    base = {"reason": reason, "since": since.isoformat() if since else None, "holder": holder}
    try:
        from watchkeeper.retraining.training_set import quality_failure

        failed = quality_failure(cfg, results, day)
        if failed:
            raise Refused(
                "quality", f"{cfg.name} {day}: retraining refused: the day's data failed quality: {failed}"
            )
        guards.check_cooldown(cfg, results, day)
        guards.acquire(cfg, results, holder, day)
        try:
            champion = registry.load(cfg, tracking_uri, registry.CHAMPION)
            ts = build(cfg, storage, results, day, since, input_columns(cfg, champion))
        except Refused:
            guards.release(cfg, results, holder)
            raise
    except Refused as exc:
        return _outcome(cfg, results, day, {**base, "status": "refused", "kind": exc.kind, "why": str(exc)})
    store(ts, results, prefix(cfg, day))
    return _outcome(cfg, results, day, {**base, "status": "ready", "facts": ts.facts})


def train(cfg: ModelConfig, results: Storage, tracking_uri: str, day: date) -> dict[str, Any]:
    ts = stored(results, prefix(cfg, day))
    trained = train_challenger(cfg, tracking_uri, ts)
    guards.mark_trained(cfg, results, day, trained["version"])
    registry.record(results, cfg, {"event": "challenger", "version": trained["version"], "by": "watchkeeper retraining",
                                   "why": f"retraining requested on {day}", "run_id": trained["run_id"]})  # fmt: skip
    results.write_json(f"{prefix(cfg, day)}/trained.json", trained)
    return trained


def evaluate(cfg: ModelConfig, results: Storage, tracking_uri: str, day: date) -> Verdict:
    p = prefix(cfg, day)
    verdict = compare(cfg, tracking_uri, stored(results, p), results.read_json(f"{p}/trained.json"), results)
    results.write_json(f"{p}/verdict.json", verdict.model_dump(mode="json"))
    registry.record(results, cfg, {"event": "evaluated", "version": verdict.challenger_version, "by": "watchkeeper",
                                   "why": verdict.summary(), "verdict": verdict.verdict,
                                   "run_id": verdict.comparison_run_id})  # fmt: skip
    return verdict


def propose(
    cfg: ModelConfig, results: Storage, tracking_uri: str, day: date, links: dict[str, str] | None = None
) -> tuple[dict, dict[str, Any]]:
    """Promote when the model opted in and the verdict allows; return (the owner's message, outcome). The outcome's
    `message_key` is the message's key in the delivery log: the proposal's, or the automatic promotion's (then the
    message is the promotion's own, `announce`)."""
    verdict = Verdict.model_validate(results.read_json(f"{prefix(cfg, day)}/verdict.json"))
    promoted = act_on(cfg, tracking_uri, results, verdict)
    outcome = {"status": "promoted" if promoted else ("proposed" if verdict.verdict == "better" else "not_better"),
               "verdict": verdict.model_dump(mode="json")}  # fmt: skip
    if promoted:
        key, message = announcement(cfg, tracking_uri, results, promoted, links)
    else:
        key, message = proposal_key(cfg, verdict), proposal_message(cfg, verdict, None, links)
    outcome["message_key"] = key
    doc = results.read_json(f"{prefix(cfg, day)}/outcome.json")
    _outcome(cfg, results, day, {**doc, **outcome})
    return message, outcome


def release(cfg: ModelConfig, results: Storage, day: date) -> None:
    doc = results.read_json_if_any(f"{prefix(cfg, day)}/outcome.json")
    if doc is not None and (holder := doc.get("holder")):
        guards.release(cfg, results, holder)


def refusal_payload(cfg: ModelConfig, outcome: dict[str, Any]) -> dict | None:
    """A message for the model owner when the data refused the retraining; None for waits (labels, cooldown)."""
    if outcome.get("kind") != "quality":
        return None
    return refusal_message(cfg, outcome["day"], outcome["kind"], outcome["why"])


def retrain(
    cfg: ModelConfig,
    storage: Storage,
    results: Storage,
    tracking_uri: str,
    day: date,
    reason: str = "",
    since: date | None = None,
    holder: str | None = None,
) -> tuple[dict[str, Any], dict | None]:
    """Every step in this process; (outcome, the model owner's message or None)."""
    holder = holder or f"local-{cfg.name}-{day}"
    outcome = prepare(cfg, storage, results, tracking_uri, day, holder, reason, since)
    if outcome["status"] != "ready":
        return outcome, refusal_payload(cfg, outcome)
    try:
        train(cfg, results, tracking_uri, day)
        evaluate(cfg, results, tracking_uri, day)
        message, outcome = propose(cfg, results, tracking_uri, day)
    finally:
        release(cfg, results, day)
    return results.read_json(f"{prefix(cfg, day)}/outcome.json"), message
