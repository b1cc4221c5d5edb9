"""Scoring a run of the demo world: which incidents were caught, on which day, by whom, and the false alerts.

Reads the stored day results (`result.json`), the world's `incidents.json` and, when given, the delivery log; used by
the demo and the tests. "Notified" follows the checks that caught a scripted incident into the policy decisions
they fed, the incidents those decisions belong to, and the owners told of those incidents.
"""

from __future__ import annotations

from datetime import date

from watchkeeper.incidents import slug
from watchkeeper.result import Check, DayResult

STAGE_OF = {
    "data_quality": "quality",
    "covariate_drift": "drift",
    "concept_drift": "performance",
    "label_conflicts": "performance",
}
LABEL_CHECKS = ("label_join", "label_conflicts", "label_duplicates")
"""Checks about the label records themselves (data owner), not about the model's performance."""


def _alerts(r: DayResult, stage: str) -> list:
    return [c for c in r.checks if c.stage == stage and c.status == "alert" and c.severity != "info"]


def _caught_by(inc: dict, r: DayResult) -> list[Check]:
    """The day's alerting checks that caught the scripted incident (empty: not caught that day)."""
    start, end = date.fromisoformat(inc["start"]), date.fromisoformat(inc["end"])
    kind = inc["type"]
    if kind == "data_quality":
        return [c for c in _alerts(r, "quality") if c.subject in inc["columns"] and c.severity == "critical"]
    if kind == "covariate_drift":
        if not set(r.top_drifted_features) & set(inc["columns"]):
            return []
        return [c for c in _alerts(r, "drift") if c.subject in inc["columns"]]
    if (
        kind == "concept_drift"
    ):  # realized metrics of a prediction day inside the incident, whenever labels came
        metrics = [c for c in _alerts(r, "performance") if c.name not in LABEL_CHECKS]
        return [
            c
            for c in metrics
            if start <= date.fromisoformat(c.details.get("prediction_day", r.day.isoformat())) <= end
        ]
    if kind == "label_conflicts" and start <= r.day <= end:
        return [c for c in _alerts(r, "performance") if c.name == "label_conflicts"]
    return []


def _unit(incident_id: str) -> str:
    """`<rule>.<subject slug>` of an incident id `<rule>.<subject slug>.<opened day>`."""
    return incident_id.rsplit(".", 1)[0]


def _notified(
    caught: dict[str, list[Check]], results: dict[str, DayResult], log: list[dict] | None
) -> list[str]:
    """Owners told of the incidents the catching checks fed: from the delivery log when given (sent messages of
    those incidents), else from the fired decisions of the days each incident announced a transition."""
    ids: set[str] = set()
    for day, checks in caught.items():
        refs = {f"{c.id}:{c.subject}" for c in checks}
        fed = {
            f"{d.rule}.{slug(d.subject)}" for d in results[day].decisions if d.fired and refs & set(d.checks)
        }
        ids |= {i.id for i in results[day].incidents if _unit(i.id) in fed}
    if log is not None:
        return sorted(
            {e["owner"] for e in log if e.get("status") == "sent" and e["key"].split("/")[0] in ids}
        )
    owners: set[str] = set()
    for r in results.values():
        told = {_unit(i.id) for i in r.incidents if i.id in ids and i.transition != "updated"}
        for d in r.decisions:
            if f"{d.rule}.{slug(d.subject)}" in told:
                owners |= {a.split(":", 1)[1] for a in d.actions if a.startswith("notify:")}
    return sorted(owners)


def _hit(inc: dict, r: DayResult) -> bool:
    return bool(_caught_by(inc, r))


def _estimated(inc: dict, r: DayResult) -> bool:
    """Label-free estimation alerted on a day of the incident, about that day's own predictions."""
    start, end = date.fromisoformat(inc["start"]), date.fromisoformat(inc["end"])
    estimated = [c for c in _alerts(r, "performance") if c.details.get("estimated")]
    return start <= r.day <= end and bool(estimated)


def score(results: dict[str, DayResult], manifest: dict, log: list[dict] | None = None) -> dict:
    """Per incident: first day caught, days caught, who was notified; per stage: alert days among healthy days.

    `log` is the model's delivery log (`delivery.read_log`): with it, "notified" counts only messages really sent."""
    out = {"incidents": [], "healthy_days": len(manifest["healthy_days"]), "false_alert_days": {}}
    for inc in manifest["incidents"]:
        if inc["type"] not in STAGE_OF:
            continue
        by_day = {d: checks for d, r in results.items() if (checks := _caught_by(inc, r))}
        caught = sorted(by_day)
        owners = _notified(by_day, results, log)
        first = caught[0] if caught else None
        ranked_first = None
        estimated = sorted(d for d, r in results.items() if _estimated(inc, r))
        if inc["type"] == "covariate_drift" and first:
            ranked_first = results[first].top_drifted_features[:1] == inc["columns"][:1]
        out["incidents"].append(
            {"id": inc["id"], "type": inc["type"], "start": inc["start"], "end": inc["end"], "first_caught": first,
             "days_caught": caught, "notified": owners, "expected_owner": inc["owner"], "ranked_first": ranked_first,
             "estimated_first": estimated[0] if estimated else None, "days_estimated": estimated}
        )  # fmt: skip
    healthy = {d for d in manifest["healthy_days"] if d in results}
    for stage in ("quality", "drift", "performance"):
        # A performance or label-drift alert is about the prediction day whose labels it scored, whenever raised.
        out["false_alert_days"][stage] = sorted(
            {
                _about(c, d)
                for d, r in results.items()
                for c in _alerts(r, stage)
                if c.name not in LABEL_CHECKS
            }
            & healthy
        )
    out["scored_days"] = len(results)
    return out


def _about(check, day: str) -> str:
    return check.details.get("prediction_day", day) if check.stage in ("performance", "drift") else day


def render(report: dict) -> str:
    lines = [
        "incident                 type             window                   first caught  notified   ranked first  "
        "estimated (no labels)"
    ]
    for i in report["incidents"]:
        window = f"{i['start']}..{i['end']}"
        rf = "" if i["ranked_first"] is None else str(i["ranked_first"])
        lines.append(
            f"{i['id']:24s} {i['type']:16s} {window:24s} {i['first_caught'] or 'MISSED':13s} {','.join(i['notified']) or '-':10s} {rf:13s} "
            f"{i.get('estimated_first') or '-'}"
        )
    fa = report["false_alert_days"]
    lines.append(
        f"false alerts on {report['healthy_days']} healthy days: quality {len(fa['quality'])}, drift {len(fa['drift'])}, "
        f"performance {len(fa['performance'])}"
    )
    return "\n".join(lines)
