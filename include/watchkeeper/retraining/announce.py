"""Telling the model owner that the champion moved: one Block Kit message per promotion or rollback.

Automatic promotions (after the evaluation, or by the daily shadow step) and manual moves (`watchkeeper promote` /
`rollback`, the `watchkeeper_promote` DAG) each get one message: which version is the champion now and which it
replaced, who or what moved it and why, the verdict's evidence (holdout interval, shadow days) and how to undo it.
Its key `champion/<transition>/v<version>/<n>` (n: how many times this version had this transition, from the
model's history) is stable, so the delivery log (`watchkeeper.delivery`) sends it once however often a step re-runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchkeeper.alerts import fit_slack_limits, mention_of
from watchkeeper.config import ModelConfig
from watchkeeper.delivery import Sender, deliver_once, queue
from watchkeeper.retraining import registry
from watchkeeper.storage import Storage
from watchkeeper.text import escape_mrkdwn as mrkdwn

if TYPE_CHECKING:
    from watchkeeper.retraining.evaluate import Verdict

TITLE = {"promoted": "promoted", "rolled_back": "rolled back"}


def message_key(cfg: ModelConfig, results: Storage, event: dict[str, Any]) -> str:
    """The stable key of a champion move: transition, version and its occurrence in the model's history."""
    same = [
        e
        for e in registry.history(results, cfg)
        if e["event"] == event["event"] and str(e["version"]) == str(event["version"])
    ]
    return f"champion/{event['event']}/v{event['version']}/{max(len(same), 1)}"


def champion_message(
    cfg: ModelConfig,
    event: dict[str, Any],
    verdict: Verdict | None = None,
    shadow_days: str | None = None,
    links: dict[str, str] | None = None,
) -> dict:
    """One Slack payload for the model owner about a promotion or rollback (pure function): the new champion, the
    one it replaced, who/why, the evidence (`verdict`, the `shadow_days` line) and how to undo it."""
    owner = cfg.owners.model
    mention = mention_of(owner)
    config = cfg.source or f"{cfg.name}.yaml"
    kind, version, before = event["event"], str(event["version"]), event.get("from_version")
    automatic = str(event.get("by", "")).startswith("watchkeeper")
    how = "automatically" if automatic else f"by {event.get('by', 'someone')}"
    head = f"Version {version} is the champion of {cfg.name}, {TITLE[kind]} {how}"
    head += f" (replacing version {before})." if before else "."
    if kind == "promoted":
        undo = (f"To roll back to version {before}: `watchkeeper rollback --config {config}` or trigger the "
                f"`watchkeeper_promote` DAG with model={cfg.name}, action=rollback.") if before else ""  # fmt: skip
    else:
        undo = (f"To promote version {before} again: `watchkeeper promote --config {config} --version {before}` "
                f"or the `watchkeeper_promote` DAG with model={cfg.name}, version={before}.") if before else ""  # fmt: skip
    fields = [f"*champion now*\nversion {version}", f"*previous champion*\n{f'version {before}' if before else '–'}",
              f"*by*\n{mrkdwn(str(event.get('by', '–')))}"]  # fmt: skip
    evidence = []
    if verdict is not None and verdict.challenger_version == version:
        v = verdict
        fields += [
            f"*{v.primary_metric}* holdout\nv{v.champion_version} {_n(v.champion)} → v{v.challenger_version} {_n(v.challenger)}",
            f"*holdout gain* ({v.confidence:.0%} interval)\n{_n(v.difference, '+')} [{_n(v.ci[0], '+')}, {_n(v.ci[1], '+')}]",
        ]  # fmt: skip
        if v.shadow is not None:
            s = v.shadow
            fields.append(f"*shadow gain* ({s.rows} rows, {len(s.days)} day(s))\n"
                          f"{_n(s.difference, '+')} [{_n(s.ci[0], '+')}, {_n(s.ci[1], '+')}]")  # fmt: skip
        evidence.append(f"Verdict ({v.verdict}, request of {v.request_day}): {v.summary()}")
    if shadow_days:
        evidence.append(f"Shadow days: {shadow_days}")
    why = str(event.get("why", ""))
    if why and not any(why in e for e in evidence):
        evidence.insert(0, f"Why: {why}")
    body = "\n".join(f"• {mrkdwn(e)}" for e in evidence)
    header = f"{cfg.name} · {TITLE[kind]} · champion v{version}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention} *{mrkdwn(head)}*\n{body}\n{undo}".strip()}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in fields]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {mrkdwn(owner.name)} · at {event.get('at', '–')}"}]},
    ]  # fmt: skip
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": k}, "url": u}
               for k, u in (links or {}).items() if u]  # fmt: skip
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    icon = ":arrow_up:" if kind == "promoted" else ":leftwards_arrow_with_hook:"
    text = f"{mention} {icon} {mrkdwn(head)} {undo}".strip()
    return fit_slack_limits({"text": text, "blocks": blocks})


def announcement(
    cfg: ModelConfig, tracking_uri: str, results: Storage, event: dict[str, Any], links: dict | None = None
) -> tuple[str, dict]:
    """(message key, payload) of a champion move, with the promoted version's verdict and shadow days."""
    from watchkeeper.retraining.evidence import describe, shadow_evidence
    from watchkeeper.retraining.shadow_rows import stored_verdict

    version = str(event["version"])
    verdict = stored_verdict(cfg, registry.client(tracking_uri), results, version)
    days = describe(shadow_evidence(cfg, results, version)) if event["event"] == "promoted" else None
    return message_key(cfg, results, event), champion_message(cfg, event, verdict, days, links)


def announce(
    cfg: ModelConfig,
    tracking_uri: str,
    results: Storage,
    event: dict[str, Any],
    send: Sender | None = None,
    links: dict | None = None,
    day: str | None = None,
) -> str:
    """Tell the model owner of a champion move once: sent now through `send`, or without one kept as pending in
    the delivery log for the next delivery (the monitoring DAG's `send_messages`, `run-day --outbox`, replay)."""
    key, payload = announcement(cfg, tracking_uri, results, event, links)
    day = day or str(event.get("at", ""))[:10]  # the delivery log's day: the monitored day when there is one
    if send is None:
        queue(cfg, results, key, "model", day, payload)
        return f"queued as {key}"
    return deliver_once(cfg, results, [key], "model", day, payload, send)


def _n(value: float | None, sign: str = "") -> str:
    return "–" if value is None else f"{value:{sign}.4f}"
