"""From the day's checks to stage verdicts, the one-line headline, and whether downstream stages can be trusted.

What to do about the day (decisions naming the policy rule, incidents, actions) is the policy's: `policy` maps
checks to signals, `incidents` replays them under the model's rules, `history.apply_policy` stores the outcome.
"""

from __future__ import annotations

from watchkeeper.result import Check, NotMeasured, Severity, StageSummary, Status

STAGES = ("load", "quality", "drift", "performance")
# Not measured by design or not yet: no labels so far, or a check that does not apply. Not "could not measure".
_EXPECTED_WAITS = (None, NotMeasured.NO_LABELS, NotMeasured.NOT_CONFIGURED)


_RECORD_CHECKS = frozenset(
    {"performance.label_join", "performance.label_duplicates", "performance.label_conflicts"}
)


def critical_quality_failure(checks: list[Check]) -> str | None:
    """The reason drift/performance cannot be trusted today, or None."""
    bad = [
        c
        for c in checks
        if c.stage in ("load", "quality") and c.status == Status.ALERT and c.severity == Severity.CRITICAL
    ]
    if not bad:
        return None
    return "critical data-quality failure (" + "; ".join(c.reason or c.id for c in bad[:3]) + ")"


def summarize(checks: list[Check]) -> list[StageSummary]:
    out = []
    for stage in STAGES:
        mine = [c for c in checks if c.stage == stage]
        if not mine:
            continue
        alerts = [c for c in mine if c.status == Status.ALERT and c.severity != Severity.WARNING]
        warnings = [c for c in mine if c.status == Status.ALERT and c.severity == Severity.WARNING]
        blocked = [c for c in mine if c.status == Status.SKIPPED and c.not_measured not in _EXPECTED_WAITS]
        # Label-record checks (join, duplicates, conflicts) run whenever labels arrive: they measure no metric.
        measured = [c for c in mine if c.status != Status.SKIPPED and c.id not in _RECORD_CHECKS]
        if alerts or warnings:
            status = "alert"
        elif blocked and not measured:
            status = "could_not_measure"
        elif not measured:
            status = "skipped"
        else:
            status = "ok"
        note = blocked[0].reason if status == "could_not_measure" else ""
        if status == "ok" and blocked:
            note = f"{len(blocked)} check(s) could not be measured: {blocked[0].reason}"
        if status == "skipped":
            note = mine[0].reason or ""
        out.append(
            StageSummary(
                stage=stage, status=status, alerts=len(alerts), warnings=len(warnings), note=note or ""
            )
        )
    return out


def headline(
    model: str,
    day: str,
    stages: list[StageSummary],
    top_features: list[str],
    rows: int,
    checks: list[Check] = (),
) -> str:
    """One line for the run name, the note and the message: each stage that alerted and what breached in it."""
    bad = [s for s in stages if s.status in ("alert", "could_not_measure")]
    if not bad:
        return f"{model} {day}: all checks ok on {rows} predictions"
    parts = []
    for s in bad:
        if s.status == "could_not_measure":
            parts.append(f"{s.stage} could not be measured")
        elif s.stage == "drift" and top_features:
            parts.append("drift in " + ", ".join(top_features))
        else:
            parts.append(_stage_breaches(s, checks))
    return f"{model} {day}: " + "; ".join(parts)


def _stage_breaches(s: StageSummary, checks: list[Check], shown: int = 3) -> str:
    """`performance: 5 alert(s), 2 warning(s) (precision, f1, recall, …)`: the counts, then what breached, critical first (a
    quality or drift check by its column, any other by its metric)."""
    counts = ", ".join(f"{n} {what}(s)" for n, what in ((s.alerts, "alert"), (s.warnings, "warning")) if n)
    breached = sorted(
        (c for c in checks if c.stage == s.stage and c.status == Status.ALERT),
        key=lambda c: c.severity != Severity.CRITICAL,
    )
    names = list(
        dict.fromkeys(c.subject if s.stage in ("quality", "drift", "load") else c.name for c in breached)
    )
    if not names:
        return f"{s.stage}: {s.alerts} alert(s), {s.warnings} warning(s)"
    more = ", …" if len(names) > shown else ""
    return f"{s.stage}: {counts} ({', '.join(names[:shown])}{more})"
