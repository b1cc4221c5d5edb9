"""Alert messages: a pure Block Kit builder for each notify action (the local outbox lives in `outbox.py`).

Messages hold check names, values and bounds only, never raw production rows. The outbox is JSON lines keyed by
(model, day, owner, kind), so re-running a day replaces its message instead of adding another.
"""

from __future__ import annotations

from watchkeeper.config import ModelConfig
from watchkeeper.outbox import outbox_path, read_outbox, write_outbox  # noqa: F401 (re-exported)
from watchkeeper.result import Action, DayResult, Status, num
from watchkeeper.text import escape_mrkdwn as esc

_EMOJI = {"data": ":rotating_light:", "model": ":warning:"}


def dedupe_key(result: DayResult, action: Action) -> str:
    return f"{result.model}/{result.day.isoformat()}/{action.owner}/{action.kind}"


def build_message(
    cfg: ModelConfig, result: DayResult, action: Action, links: dict[str, str] | None = None
) -> dict:
    """Slack payload (`text` fallback + Block Kit `blocks`) for one notify action; pure function."""
    owner = getattr(cfg.owners, action.owner)
    what = "data quality" if action.owner == "data" else "model health"
    header = f"{result.model} · {result.day.isoformat()} · {what}"[:150]
    wanted = set(action.checks)
    checks = [c for c in result.checks if f"{c.id}:{c.subject}" in wanted and c.status == Status.ALERT]
    fields = []
    for c in checks[:10]:
        bound = f"[{num(c.lower)}, {num(c.upper)}]"
        fields.append(
            {
                "type": "mrkdwn",
                "text": f"*{esc(c.name)}* · `{esc(c.subject)}`\n{num(c.value)} vs {bound} ({c.severity})",
            }
        )
    mention = f"{owner.mention} " if owner.mention else ""
    # Everything but the configured mention is escaped: column names and values must not ping or plant links.
    text = f"{mention}{_EMOJI[action.owner]} {esc(result.headline)}. {esc(action.reason)}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{mention}*{esc(result.headline)}*\n{esc(action.reason)}"},
        },
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    more = len(checks) - len(fields)
    context = f"owner: {esc(owner.name)} · {len(checks)} alerting check(s)" + (
        f" ({more} more in the result)" if more else ""
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
        for label, url in (links or {}).items()
        if url
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:5]})
    return {"text": text, "blocks": blocks}


def failure_message(
    cfg: ModelConfig, owner_role: str, task_id: str, day: str, error: str, links: dict[str, str]
) -> dict:
    """Slack payload for a task that failed (after its retries): what broke, for which model and day."""
    owner = getattr(cfg.owners, owner_role)
    mention = f"{owner.mention} " if owner.mention else ""
    first_line = (error.strip().splitlines() or ["(no message)"])[0][:500]
    first_line, task_id = esc(first_line), esc(task_id)
    text = f"{mention}:x: {cfg.name} {esc(day)}: task {task_id} failed: {first_line}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{cfg.name} · {day} · run failed"[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{mention}*{task_id}* failed\n```{first_line}```"},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {esc(owner.name)}"}]},
    ]
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": k}, "url": v} for k, v in links.items() if v
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:5]})
    return {"text": text, "blocks": blocks}
