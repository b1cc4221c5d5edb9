"""Gated promotion: the model owner's proposal message, promotion and rollback by moving registry aliases.

Promotion moves `champion` to a version and keeps the one it replaces as `previous_champion`; rollback moves
`champion` back to `previous_champion`. Each move is tagged on the versions (who, when, why) and appended to the
model's history. Automatic promotion (opt-in per model) still needs the verdict "better".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from watchkeeper.config import ModelConfig
from watchkeeper.retraining import registry
from watchkeeper.retraining.evaluate import Verdict
from watchkeeper.retraining.evidence import describe, shadow_evidence
from watchkeeper.storage import Storage
from watchkeeper.text import escape_mrkdwn as mrkdwn


def _tag(c, name: str, version: str, prefix: str, by: str, why: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in (("by", by), ("at", at), ("why", why[:4000])):
        c.set_model_version_tag(name, version, f"watchkeeper.{prefix}_{key}", value)


def promote(
    cfg: ModelConfig, tracking_uri: str, results: Storage, version: str | int, by: str, why: str
) -> dict[str, Any]:
    """Make `version` the champion; the current champion becomes `previous_champion`. Returns the history event."""
    c = registry.client(tracking_uri)
    name = registry.model_section(cfg).registered_name
    version = str(version)
    try:
        c.get_model_version(name, version)
    except Exception as exc:
        raise registry.RegistryError(f"{name} has no version {version}") from exc
    current = registry.by_alias(c, name, registry.CHAMPION)
    if current is not None and current == version:
        raise registry.RegistryError(f"{name} version {version} is already the champion")
    evidence = shadow_evidence(cfg, results, version)
    if evidence["required"] and not evidence["enough"]:
        raise registry.RegistryError(f"{name} version {version} not promoted: {describe(evidence)}")
    if current is not None:
        c.set_registered_model_alias(name, registry.PREVIOUS, current)
    c.set_registered_model_alias(name, registry.CHAMPION, version)
    challenger = registry.by_alias(c, name, registry.CHALLENGER)
    if challenger is not None and challenger == version:
        c.delete_registered_model_alias(name, registry.CHALLENGER)  # shadow scoring stops with the proposal
    _tag(c, name, version, "promoted", by, why)
    c.set_model_version_tag(name, version, "watchkeeper.promoted_shadow_days", describe(evidence))
    shadow = {k: evidence[k] for k in ("metric", "required", "labelled_days", "supporting_days")}
    event = {"event": "promoted", "version": version, "from_version": current if current else None,
             "by": by, "why": why, "shadow_days": shadow}  # fmt: skip
    return registry.record(results, cfg, event)


def rollback(cfg: ModelConfig, tracking_uri: str, results: Storage, by: str, why: str) -> dict[str, Any]:
    """Move `champion` back to `previous_champion` (the replaced version becomes `previous_champion` in turn)."""
    c = registry.client(tracking_uri)
    name = registry.model_section(cfg).registered_name
    previous = registry.by_alias(c, name, registry.PREVIOUS)
    if previous is None:
        raise registry.RegistryError(f"{name} has no previous_champion to roll back to")
    current = registry.by_alias(c, name, registry.CHAMPION)
    c.set_registered_model_alias(name, registry.CHAMPION, previous)
    if current is not None:
        c.set_registered_model_alias(name, registry.PREVIOUS, current)
        _tag(c, name, current, "rolled_back", by, why)
    event = {"event": "rolled_back", "version": previous,
             "from_version": current if current else None, "by": by, "why": why}  # fmt: skip
    return registry.record(results, cfg, event)


def act_on(cfg: ModelConfig, tracking_uri: str, results: Storage, verdict: Verdict) -> dict[str, Any] | None:
    """Promote automatically when the model opted in and the verdict is "better"; else nothing (a person decides)."""
    if not (cfg.model.auto_promote and verdict.verdict == "better"):
        return None
    if cfg.model.evaluation.shadow_days:
        return None  # the daily shadow scoring promotes once enough labelled shadow days support it
    c = registry.client(tracking_uri)
    if registry.by_alias(c, cfg.model.registered_name, registry.CHAMPION) == verdict.challenger_version:
        done = [e for e in registry.history(results, cfg)
                if e["event"] == "promoted" and str(e["version"]) == verdict.challenger_version]  # fmt: skip
        if done:  # a re-run of the step: the promotion happened, report it again rather than fail
            return done[-1]
    return promote(
        cfg, tracking_uri, results, verdict.challenger_version, "watchkeeper auto-promotion", verdict.why
    )


def promote_on_evidence(
    cfg: ModelConfig, tracking_uri: str, results: Storage, version: str
) -> dict[str, Any] | None:
    """Auto-promotion that waited for shadow days: promote `version` once its verdict is "better" and enough
    labelled shadow days support it (models with `auto_promote` and `evaluation.shadow_days`); else None."""
    if cfg.model is None or not (cfg.model.auto_promote and cfg.model.evaluation.shadow_days):
        return None
    c = registry.client(tracking_uri)
    name = registry.model_section(cfg).registered_name
    if c.get_model_version(name, version).tags.get("watchkeeper.verdict") != "better":
        return None
    evidence = shadow_evidence(cfg, results, version)
    if not evidence["enough"]:
        return None
    return promote(cfg, tracking_uri, results, version, "watchkeeper auto-promotion", describe(evidence))


def proposal_key(cfg: ModelConfig, verdict: Verdict) -> str:
    """The proposal's key in the model's delivery log (the sender prefixes the model: `<model>/<day>/model/retrain`)."""
    return f"{verdict.request_day}/model/retrain"


def proposal_message(
    cfg: ModelConfig, verdict: Verdict, promoted: dict | None, links: dict[str, str] | None = None
) -> dict:
    """One Slack payload for the model owner: the verdict, the numbers, and how to promote (pure function)."""
    owner = cfg.owners.model
    mention = f"{owner.mention} " if owner.mention else ""
    v = verdict
    config = cfg.source or f"{cfg.name}.yaml"
    if promoted:
        ask = f"Promoted automatically: version {v.challenger_version} is now the champion. Undo: `watchkeeper rollback --config {config}`."
    elif v.verdict == "better":
        ask = (f"Proposed, not promoted. To promote: trigger the `watchkeeper_promote` DAG with "
               f"model={cfg.name}, version={v.challenger_version}, or run `watchkeeper promote --config {config} "
               f"--version {v.challenger_version}`.")  # fmt: skip
        if n := cfg.model.evaluation.shadow_days:
            ask += (f" Promotion waits for {n} labelled shadow day(s) with the challenger no worse than the "
                    f"champion{' (then it is automatic)' if cfg.model.auto_promote else ''}.")  # fmt: skip
    else:
        ask = f"Not proposed: the champion (version {v.champion_version}) stays. The challenger keeps its alias for shadow scoring."
    title = {"better": "challenger beats champion", "not_better": "challenger not better"}[v.verdict]
    text = f"{mention}:arrows_counterclockwise: {cfg.name}: {title}. {v.summary()}. {ask}"
    fields = [
        f"*{v.primary_metric}* champion v{v.champion_version}\n{_n(v.champion)}",
        f"*{v.primary_metric}* challenger v{v.challenger_version}\n{_n(v.challenger)}",
        f"*gain* ({v.confidence:.0%} interval)\n{_n(v.difference, '+')} [{_n(v.ci[0], '+')}, {_n(v.ci[1], '+')}]",
        f"*holdout*\n{v.holdout_rows} rows, {', '.join(v.holdout_days)}",
    ]
    if s := v.shadow:  # the same gain on the challenger's labelled shadow rows, beside the holdout's
        fields.append(f"*shadow gain* ({s.rows} rows, {len(s.days)} day(s))\n"
                      f"{_n(s.difference, '+')} [{_n(s.ci[0], '+')}, {_n(s.ci[1], '+')}]")  # fmt: skip
    fields += [
        f"*{g}* (guardrail)\n{_n(x['champion'])} → {_n(x['challenger'])}" for g, x in v.guardrails.items()
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{cfg.name} · retraining · {title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention}*{mrkdwn(v.summary())}*\n{ask}"[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": t[:2000]} for t in fields[:10]]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {owner.name} · request of {v.request_day} · trained on {v.train_rows} rows"}]},
    ]  # fmt: skip
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": k}, "url": u}
        for k, u in (links or {}).items()
        if u
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:5]})
    return {"text": text[:3000], "blocks": blocks}


def refusal_message(cfg: ModelConfig, day: str, kind: str, reason: str) -> dict:
    """The model owner hears why a requested retraining did not run (quality refusal only; waits are silent)."""
    text = f":no_entry: {cfg.name} {day}: retraining refused ({kind}): {reason}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{cfg.name} · retraining refused"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(reason)[:3000]}},
    ]
    return {"text": text[:3000], "blocks": blocks}


def _n(value: float | None, sign: str = "") -> str:
    return "–" if value is None else f"{value:{sign}.4f}"
