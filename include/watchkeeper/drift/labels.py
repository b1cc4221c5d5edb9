"""Label drift: the target distribution of each prediction day's labels against the reference's target.

Labels arrive late and in part. Each prediction day (within `performance.label_window_days`) that received labels
today is compared with all of its labels known so far, found by the day's labels step
(`performance.joined`), as the performance stage finds them; subject `target@YYYY-MM-DD` (plain `target` for today's own predictions).
Bounds are size-aware (`reference.label_bounds`): the fewer labels, the wider the sampling noise allowed.
"""

from __future__ import annotations

from datetime import date

from watchkeeper.config import ModelConfig
from watchkeeper.drift.methods import get_method, summarize
from watchkeeper.performance.joined import TARGET, arrival_of, known
from watchkeeper.reference import Monitored, drift_methods, label_bounds, state_key
from watchkeeper.result import Check, NotMeasured, Severity, Status, num
from watchkeeper.storage import Storage


def label_checks(
    cfg: ModelConfig,
    storage: Storage,
    day: date,
    profile: dict,
    states: dict,
    blocked: str | None = None,
    results: Storage | None = None,
) -> list[Check]:
    """Target drift checks for every prediction day that got labels today (none when no labels arrived)."""
    entry = profile.get("labels") or {}
    if not entry or not cfg.paths.labels:
        return []
    target = cfg.columns.target
    results = results or storage
    arrival = arrival_of(cfg, storage, results, day)
    if not arrival.facts["label_rows_today"]:
        return []
    m = Monitored(target, entry["kind"], "label")
    checks = []
    for pday in arrival.prediction_days:
        settled = known(cfg, results, pday, day)
        labels = settled.column(TARGET).drop_null().to_numpy(zero_copy_only=False) if settled.num_rows else []
        cur = summarize(labels, m.kind)
        rows = cur.size if m.kind == "numeric" else sum(cur.values())
        suffix = "" if pday == day else f"@{pday.isoformat()}"
        for name in drift_methods(cfg, m):
            stored = entry["drift"].get(state_key(target, name), {})
            check = Check(
                id=f"drift.{name}",
                stage="drift",
                name=name,
                subject=f"{target}{suffix}",
                status=Status.SKIPPED,
                severity=Severity.WARNING,
                owner="model",
                details={"kind": m.kind, "role": "label", "prediction_day": pday.isoformat(), "rows": rows},
            )
            if blocked:  # today's drift verdict is 'could not measure'; label drift waits for a clean day
                check.reason = f"could not measure: {blocked}"
                check.not_measured = NotMeasured.UPSTREAM_QUALITY
            elif rows < cfg.performance.min_labels:
                check.reason = (
                    f"insufficient labels: {rows} < performance.min_labels {cfg.performance.min_labels}"
                )
                check.not_measured = NotMeasured.TOO_FEW_LABELS
            else:
                bounds = label_bounds(cfg, name, stored, states["label#summary"], m.kind, rows)
                check.lower, check.upper, check.threshold_rule = (
                    bounds["lower"],
                    bounds["upper"],
                    bounds["rule"],
                )
                value = get_method(name, m.kind).score(states[f"label#{state_key(target, name)}"], cur)
                check.judge(
                    value,
                    f"the target of {pday} predictions drifted: {name} {value:.4g} > {num(check.upper)}",
                )
            checks.append(check)
    return checks
