"""Scoring a run of the demo world: which incidents were caught, on which day, by whom, and the false alerts.

Reads the stored day results (`result.json`) and the world's `incidents.json`; used by the demo and the tests.
"""

from __future__ import annotations

from datetime import date

from watchkeeper.result import DayResult

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


def _hit(inc: dict, r: DayResult) -> bool:
    start, end = date.fromisoformat(inc["start"]), date.fromisoformat(inc["end"])
    kind = inc["type"]
    if kind == "data_quality":
        return any(c.subject in inc["columns"] and c.severity == "critical" for c in _alerts(r, "quality"))
    if kind == "covariate_drift":
        return bool(set(r.top_drifted_features) & set(inc["columns"]))
    if (
        kind == "concept_drift"
    ):  # realized metrics of a prediction day inside the incident, whenever labels came
        metrics = [c for c in _alerts(r, "performance") if c.name not in LABEL_CHECKS]
        days = [date.fromisoformat(c.details.get("prediction_day", r.day.isoformat())) for c in metrics]
        return any(start <= d <= end for d in days)
    if kind == "label_conflicts":
        return start <= r.day <= end and any(c.name == "label_conflicts" for c in _alerts(r, "performance"))
    return False


def _estimated(inc: dict, r: DayResult) -> bool:
    """Label-free estimation alerted on a day of the incident, about that day's own predictions."""
    start, end = date.fromisoformat(inc["start"]), date.fromisoformat(inc["end"])
    estimated = [c for c in _alerts(r, "performance") if c.details.get("estimated")]
    return start <= r.day <= end and bool(estimated)


def score(results: dict[str, DayResult], manifest: dict) -> dict:
    """Per incident: first day caught, days caught, routing; per stage: alert days among healthy days."""
    out = {"incidents": [], "healthy_days": len(manifest["healthy_days"]), "false_alert_days": {}}
    for inc in manifest["incidents"]:
        if inc["type"] not in STAGE_OF:
            continue
        caught = sorted(d for d, r in results.items() if _hit(inc, r))
        owners = sorted({a.owner for d in caught for a in results[d].actions if a.kind == "notify"})
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
