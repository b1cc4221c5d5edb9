"""Alert messages: a pure Block Kit builder for each incident message (the local outbox lives in `outbox.py`).

Messages hold check names, values and bounds only, never raw production rows; every data or configuration value is
escaped for mrkdwn and each payload is fitted to Slack's limits. The outbox is JSON lines keyed by the message key,
so re-running a day replaces its message instead of adding another.
"""

from __future__ import annotations

import json
import os
import re

from watchkeeper.config import ModelConfig, Owner
from watchkeeper.incidents import SEVERITY_RANK, Incident, Outgoing, Part
from watchkeeper.outbox import outbox_path, read_outbox, write_outbox  # noqa: F401 (re-exported)
from watchkeeper.policy import DaySignals, Raised
from watchkeeper.result import num
from watchkeeper.text import clip, escape_mrkdwn

_TITLE = {"opened": "opened", "reminded": "still open", "recovered": "recovered"}
_EMOJI = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_MENTION = re.compile(r"^<(!subteam\^|@|!here|!channel)[A-Za-z0-9^|_-]*>$")
SLACK_LIMITS = {"blocks": 50, "fields": 10, "text": 3000, "header": 150, "elements": 5}
"""Slack's published Block Kit limits: blocks per message, fields per section, characters per text and header,
and the buttons we allow in one actions block."""
SEE_REPORT = "_… more in the day's report and result; see the report._"


def mention_of(owner: Owner) -> str:
    """The owner's configured mention when it is a real Slack mention; anything else is shown inert."""
    if not owner.mention:
        return ""
    m = owner.mention.strip()
    return m if _MENTION.match(m) else escape_mrkdwn(m)


def links_for(cfg: ModelConfig, day: DaySignals, runbook: str | None = None) -> dict[str, str]:
    """Buttons of a message: the day's MLflow run, its report, and the runbook (only those configured)."""
    links = {}
    mlflow_ui = cfg.policy.mlflow_ui_url or os.environ.get("WATCHKEEPER_MLFLOW_UI_URL")
    if mlflow_ui and day.mlflow_run_id and day.mlflow_experiment_id:
        links["MLflow run"] = (
            f"{mlflow_ui.rstrip('/')}/#/experiments/{day.mlflow_experiment_id}/runs/{day.mlflow_run_id}"
        )
    report = cfg.policy.report_url or os.environ.get("WATCHKEEPER_REPORT_URL")
    if report:
        links["Report"] = f"{report.rstrip('/')}/{cfg.results_key(day.day, 'report.html')}"
    if runbook:
        links["Runbook"] = runbook
    return links


def _bound(r: Raised) -> str:
    if r.lower is not None and r.upper is not None:
        return f"outside [{num(r.lower)}, {num(r.upper)}]"
    if r.upper is not None:
        return f"> {num(r.upper)}"
    if r.lower is not None:
        return f"< {num(r.lower)}"
    return "failed"


def _field(r: Raised) -> dict:
    where = f" · {r.segment}" if r.segment else ""
    about = f" (predictions of {r.prediction_day})" if r.prediction_day else ""
    text = f"*{escape_mrkdwn(r.name)}* · `{escape_mrkdwn(r.subject)}`{escape_mrkdwn(where)}\n"
    text += f"{num(r.value)} {_bound(r)}{escape_mrkdwn(about)}"
    return {"type": "mrkdwn", "text": text}


def _part_blocks(cfg: ModelConfig, part: Part, day: DaySignals, incidents: dict[str, Incident]) -> list[dict]:
    inc = part.incident_state
    owner = cfg.owners.of(part.owner)
    emoji = ":white_check_mark:" if part.transition == "recovered" else _EMOJI[part.severity]
    head = f"{emoji} *{escape_mrkdwn(inc.rule)}* {_TITLE[part.transition]}"
    subject = "" if inc.subject == "*" else f" on `{escape_mrkdwn(inc.subject)}`"
    signals = ", ".join(s.value for s in inc.signals)
    if part.transition == "recovered":
        line = f"{head}{subject}: it lasted {inc.opened} → {inc.last_seen} ({inc.length} day(s), seen on {len(inc.days)})"
        if inc.prediction_days:
            line += f"; affected predictions of {inc.prediction_days[0]} → {inc.prediction_days[-1]}"
        return [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention_of(owner)} {line}".strip()}}
        ]
    since = f"since {inc.opened}" + (f" ({inc.length} days)" if inc.length > 1 else "")
    text = f"{mention_of(owner)} {head}{subject}: {escape_mrkdwn(signals)} {since}".strip()
    refs = set(inc.checks.get(day.day.isoformat(), []))
    raised = [r for r in day.raised if r.ref in refs]
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if raised:
        first = raised[0].reason
        if first:
            blocks[0]["text"]["text"] += f"\n{escape_mrkdwn(first)}"
        fields = [_field(r) for r in raised[: SLACK_LIMITS["fields"]]]
        blocks.append({"type": "section", "fields": fields})
        more = len(raised) - len(fields)
        facts = []
        if more:
            facts.append(f"{more} more check(s) in the result")
        drifted = [f for f in day.top_drifted_features if any(r.subject == f for r in raised)]
        if drifted:
            facts.append("top drifted: " + ", ".join(f"`{escape_mrkdwn(f)}`" for f in drifted))
        failed = sorted({f"{r.name}({r.subject})" for r in raised if r.signal.value.startswith("quality")})
        if failed:
            facts.append("failed expectations: " + escape_mrkdwn(", ".join(failed[:8])))
        if facts:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]})
    return blocks


def incident_message(
    cfg: ModelConfig, message: Outgoing, day: DaySignals, incidents: dict[str, Incident] | None = None
) -> dict:
    """Slack payload (`text` fallback + Block Kit) for one outgoing message of the policy; pure function.

    Every value from data or configuration is escaped; the payload is fitted to Slack's limits.
    """
    incidents = incidents or {}
    parts = message.parts
    worst = min((p.severity for p in parts), key=lambda s: SEVERITY_RANK[s])
    if len(parts) == 1:
        p = parts[0]
        what = f"{_TITLE[p.transition]}: {p.incident_state.rule}"
        if p.incident_state.subject != "*":
            what += f" {p.incident_state.subject}"
    else:
        what = f"{len(parts)} incident updates"
    header = f"{cfg.name} · {day.day.isoformat()} · {worst} · {what}"
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    for p in parts:
        blocks += _part_blocks(cfg, p, day, incidents)
    owner = cfg.owners.of(message.owner)
    context = f"owner: {escape_mrkdwn(owner.name)} · incident {escape_mrkdwn(parts[0].incident)}"
    if message.still_open:
        context += " · still open: " + escape_mrkdwn(", ".join(message.still_open))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    runbook = next((_runbook(cfg, p) for p in parts if _runbook(cfg, p)), None)
    links = links_for(cfg, day, runbook)
    if links:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": k}, "url": v} for k, v in links.items()]})  # fmt: skip
    healed = all(p.transition == "recovered" for p in parts)
    emoji = ":white_check_mark:" if healed else _EMOJI[worst]
    text = f"{mention_of(owner)} {emoji} {escape_mrkdwn(header)}".strip()
    first = next((_first_reason(p, day) for p in parts if _first_reason(p, day)), "")
    if first:
        text += f": {escape_mrkdwn(first)}"
    return fit_slack_limits({"text": text, "blocks": blocks})


def _first_reason(p: Part, day: DaySignals) -> str:
    refs = set(p.incident_state.checks.get(day.day.isoformat(), [])) if p.transition != "recovered" else set()
    return next((r.reason for r in day.raised if r.ref in refs and r.reason), "")


def _runbook(cfg: ModelConfig, p: Part) -> str | None:
    rule = next((r for r in cfg.policy.effective_rules() if r.name == p.rule), None)
    return (rule.runbook if rule else None) or cfg.owners.of(p.owner).runbook


def fit_slack_limits(payload: dict) -> dict:
    """The payload cut to Slack's limits (header, text and field lengths, fields per section, blocks), with a
    "see the report" line where anything was cut, instead of a rejected message."""
    cut = False
    blocks = []
    for block in payload.get("blocks", []):
        block = json.loads(json.dumps(block))
        if block["type"] == "header":
            t = block["text"]["text"]
            block["text"]["text"] = clip(t, SLACK_LIMITS["header"])
        for holder in [block.get("text")] + block.get("fields", []) + block.get("elements", []):
            long = isinstance(holder, dict) and len(str(holder.get("text", ""))) > SLACK_LIMITS["text"]
            if long and block["type"] != "header":
                holder["text"], cut = clip(holder["text"], SLACK_LIMITS["text"]), True
        if len(block.get("fields", [])) > SLACK_LIMITS["fields"]:
            block["fields"], cut = block["fields"][: SLACK_LIMITS["fields"]], True
        if block["type"] == "actions" and len(block["elements"]) > SLACK_LIMITS["elements"]:
            block["elements"] = block["elements"][: SLACK_LIMITS["elements"]]
        blocks.append(block)
    if len(blocks) > SLACK_LIMITS["blocks"]:
        keep = [b for b in blocks if b["type"] == "actions"][-1:]
        blocks, cut = blocks[: SLACK_LIMITS["blocks"] - 1 - len(keep)] + keep, True
    if cut:
        note = {"type": "context", "elements": [{"type": "mrkdwn", "text": SEE_REPORT}]}
        at = len(blocks) - (1 if blocks and blocks[-1]["type"] == "actions" else 0)
        blocks.insert(at, note)
    return {"text": clip(payload.get("text", ""), SLACK_LIMITS["text"]), "blocks": blocks}


def sample_message(cfg: ModelConfig, role: str) -> dict:
    """A test message for one owner's destination (`watchkeeper test-alert`)."""
    owner = cfg.owners.of(role)
    text = f"Watchkeeper test alert for {escape_mrkdwn(cfg.name)}: {role} owner {escape_mrkdwn(owner.name)}"
    return fit_slack_limits({"text": text, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": f"{cfg.name} · test alert · {role}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention_of(owner)} {text}. "
                                     "Incidents for this owner will arrive here.".strip()}},
    ]})  # fmt: skip


def failure_message(
    cfg: ModelConfig, owner_role: str, task_id: str, day: str, error: str, links: dict[str, str]
) -> dict:
    """Slack payload for a task that failed (after its retries), a late run or a broken YAML: what broke, for
    which model and day (the error's first line only, escaped)."""
    owner = cfg.owners.of(owner_role)
    mention = mention_of(owner)
    first_line = escape_mrkdwn((error.strip().splitlines() or ["(no message)"])[0][:500])
    task = escape_mrkdwn(task_id)
    text = f"{mention} :x: {escape_mrkdwn(cfg.name)} {day}: task {task} failed: {first_line}".strip()
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{cfg.name} · {day} · critical · run failed"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mention} *{task}* failed\n```{first_line}```".strip()}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {escape_mrkdwn(owner.name)}"}]},
    ]  # fmt: skip
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": k}, "url": v} for k, v in links.items() if v
    ]
    if owner.runbook:
        buttons.append(
            {"type": "button", "text": {"type": "plain_text", "text": "Runbook"}, "url": owner.runbook}
        )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return fit_slack_limits({"text": text, "blocks": blocks})
