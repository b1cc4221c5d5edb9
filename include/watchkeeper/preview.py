"""Preview a policy on past days: replay the stored daily results under the current and a candidate policy.

No stage is re-computed and nothing is sent: `history.replay_stored` gives each policy's messages and incidents,
`summarize` counts them per owner and rule (with the days), `render` prints both and their difference, and
`compare_with_log` checks the current policy's replay against what the delivery log says was actually sent.
`without_incidents` counts what the same routing would send without persistence and incidents: one message per
owner per alerting day (how alerts went out before the policy), the baseline the policy is measured against.
`alert_days` lists, per owner and rule, the days its signals were raised; with a candidate model YAML the
candidate's days come from `rejudge` (stored checks re-judged under its thresholds).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import yaml

from watchkeeper.config import ConfigError, PolicyConfig
from watchkeeper.incidents import Replay, matches
from watchkeeper.policy import DaySignals


def load_policy(path: str | Path) -> PolicyConfig:
    """A candidate policy from a YAML holding either a `policy:` section (e.g. a whole model YAML) or the policy."""
    from pydantic import ValidationError

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if isinstance(data, dict) and "policy" in data:
        data = data["policy"] or {}
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid policy: {fields}") from None


def summarize(done: Replay, start: date | None = None, end: date | None = None) -> dict:
    """Messages per owner, per (owner, rule) with their days, and incidents opened in [start, end]."""
    inside = [m for m in done.messages if (start is None or m.day >= start) and (end is None or m.day <= end)]
    per_rule: dict[str, list[str]] = defaultdict(list)
    per_owner: dict[str, int] = defaultdict(int)
    for m in inside:
        per_owner[m.owner] += 1
        for rule in sorted({p.rule for p in m.parts}):
            per_rule[f"{m.owner} {rule}"].append(m.day.isoformat())
    incidents = [
        {"id": i.id, "rule": i.rule, "signal": i.signal.value, "subject": i.subject, "owners": i.owners,
         "opened": i.opened.isoformat(), "closed": i.closed.isoformat() if i.closed else None, "days": i.length}
        for i in sorted(done.incidents.values(), key=lambda i: (i.opened, i.id))
        if (start is None or i.opened >= start) and (end is None or i.opened <= end)
    ]  # fmt: skip
    return {
        "messages": len(inside),
        "per_owner": dict(sorted(per_owner.items())),
        "per_owner_rule": {k: sorted(set(v)) for k, v in sorted(per_rule.items())},
        "incidents": incidents,
        "keys": sorted(k for m in inside for k in m.keys),
    }


def without_incidents(
    policy: PolicyConfig, days: list[DaySignals], start: date | None = None, end: date | None = None
) -> dict:
    """One message per owner per day on which any of the owner's rules saw its signal: no persistence, no
    incidents, no recovery messages, no daily cap (the per-day alerting the policy replaced)."""
    per_owner: dict[str, int] = defaultdict(int)
    for ds in days:
        if (start is not None and ds.day < start) or (end is not None and ds.day > end):
            continue
        owners = {
            o
            for rule in policy.effective_rules()
            for o in rule.notify
            if any(matches(rule, r) for r in ds.raised)
        }
        for owner in owners:
            per_owner[owner] += 1
    return {"messages": sum(per_owner.values()), "per_owner": dict(sorted(per_owner.items()))}


def alert_days(
    policy: PolicyConfig, days: list[DaySignals], start: date | None = None, end: date | None = None
) -> dict[str, list[str]]:
    """Per `owner rule` (`- rule` for a rule that notifies nobody): the days one of its signals was raised."""
    out: dict[str, list[str]] = defaultdict(list)
    for ds in days:
        if (start is not None and ds.day < start) or (end is not None and ds.day > end):
            continue
        for rule in policy.effective_rules():
            if any(matches(rule, r) for r in ds.raised):
                for owner in rule.notify or ["-"]:
                    out[f"{owner} {rule.name}"].append(ds.day.isoformat())
    return dict(sorted(out.items()))


def render_summary(s: dict) -> list[str]:
    lines = []
    if "alert_days" in s:
        lines.append("  alert days (a rule's signal raised):")
        for who, days in s["alert_days"].items():
            lines.append(f"    {who:34s} {len(days):3d} day(s): {', '.join(days)}")
    lines.append(f"  messages: {s['messages']}  per owner: {s['per_owner'] or '{}'}")
    for who, days in s["per_owner_rule"].items():
        lines.append(f"    {who:34s} {len(days):3d} day(s): {', '.join(days)}")
    lines.append(f"  incidents opened: {len(s['incidents'])}")
    for i in s["incidents"]:
        closed = i["closed"] or "open"
        lines.append(
            f"    {i['id']:48s} {i['opened']} → {closed:10s} {i['days']:3d} day(s)  to {','.join(i['owners']) or '-'}"
        )
    return lines


def render(current: dict, candidate: dict | None = None) -> str:
    """The current policy's replay, and with a candidate its replay and the difference, as text."""
    lines = ["current policy:", *render_summary(current)]
    if candidate is None:
        return "\n".join(lines)
    lines += ["candidate policy:", *render_summary(candidate), "difference (candidate - current):"]
    for who in sorted(set(current.get("alert_days", {})) | set(candidate.get("alert_days", {}))):
        a, b = (
            set(current.get("alert_days", {}).get(who, [])),
            set(candidate.get("alert_days", {}).get(who, [])),
        )
        if a != b:
            lines.append(
                f"  alert days {who}: {len(b) - len(a):+d} (only current {sorted(a - b) or '-'}; "
                f"only candidate {sorted(b - a) or '-'})"
            )
    lines.append(f"  messages: {candidate['messages'] - current['messages']:+d}")
    for who in sorted(set(current["per_owner_rule"]) | set(candidate["per_owner_rule"])):
        a, b = set(current["per_owner_rule"].get(who, [])), set(candidate["per_owner_rule"].get(who, []))
        if a != b:
            lines.append(
                f"  {who}: only current {sorted(a - b) or '-'}; only candidate {sorted(b - a) or '-'}"
            )
    ca = {(i["rule"], i["subject"], i["opened"]) for i in current["incidents"]}
    cb = {(i["rule"], i["subject"], i["opened"]) for i in candidate["incidents"]}
    for rule, subject, opened in sorted(ca - cb):
        lines.append(f"  incident no longer opened: {rule} {subject} {opened}")
    for rule, subject, opened in sorted(cb - ca):
        lines.append(f"  incident newly opened: {rule} {subject} {opened}")
    return "\n".join(lines)


def compare_with_log(
    summary: dict, log: list[dict], start: date | None = None, end: date | None = None
) -> dict:
    """Message keys the replay sends but the log lacks, and logged keys the replay does not send (in the window)."""
    logged = {
        e["key"]
        for e in log
        if "day" in e
        and "/" in e["key"]
        and not e["key"].startswith(("pipeline_failure/", "config_error/"))
        and (start is None or e["day"] >= start.isoformat())
        and (end is None or e["day"] <= end.isoformat())
    }
    replayed = set(summary["keys"])
    return {"missing_from_log": sorted(replayed - logged), "not_replayed": sorted(logged - replayed)}
