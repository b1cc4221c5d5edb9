"""Shadow days as evidence for a promotion: labelled days on which the challenger did no worse than the champion.

Each monitored day's `shadow.json` carries, per prediction day labelled that day, both models' realized metrics on
the same rows; the latest record of each prediction day counts. A promotion needs `model.evaluation.shadow_days`
such days: the most recent ones must each show the challenger's primary metric no worse than the champion's.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.config import ModelConfig
from watchkeeper.performance.metrics import get_metric
from watchkeeper.storage import Storage


def shadow_evidence(cfg: ModelConfig, results: Storage, version: str | int) -> dict[str, Any]:
    """What the shadow days of `version` say: per labelled prediction day both values and whether it supports the
    challenger, the counts, and whether the configured number of days is met (`enough`)."""
    from watchkeeper.retraining.evaluate import primary_and_guardrails

    metric = primary_and_guardrails(cfg)[0]
    higher = get_metric(metric, cfg.task).higher_is_better
    required = cfg.model.evaluation.shadow_days if cfg.model else 0
    latest: dict[str, dict] = {}
    prefix = f"{cfg.storage.results_prefix}/{cfg.name}/days/"
    for key in results.list(
        prefix
    ):  # sorted by day: a later labelling of a prediction day replaces an earlier
        if key.endswith("/shadow.json"):
            doc = results.read_json(key)
            if str(doc.get("version")) == str(version):
                latest.update(doc.get("realized", {}))
    days = {}
    for pday, roles in sorted(latest.items()):
        a, b = roles.get("champion", {}).get(metric), roles.get("challenger", {}).get(metric)
        if a is not None and b is not None:
            days[pday] = {"champion": a, "challenger": b, "supports": b >= a if higher else b <= a}
    recent = list(days.values())[-required:] if required else []
    supporting = sum(d["supports"] for d in days.values())
    enough = len(recent) == required and all(d["supports"] for d in recent)
    return {"version": str(version), "metric": metric, "required": required, "labelled_days": len(days),
            "supporting_days": supporting, "enough": enough, "days": days}  # fmt: skip


def describe(e: dict[str, Any]) -> str:
    """One line for a person: how many shadow days supported the version, against how many are required."""
    head = (
        f"{e['supporting_days']} of {e['labelled_days']} labelled shadow day(s) had version {e['version']}'s "
        f"{e['metric']} no worse than the champion's"
    )
    if not e["required"]:
        return f"{head} (none required: model.evaluation.shadow_days is 0)"
    if e["enough"]:
        return f"{head}; the last {e['required']} required all did"
    return f"{head}; {e['required']} required, the most recent all no worse: not met"
