"""The drift stage: score every monitored column of a day against the reference with its configured methods.

Bounds come from the cached reference profile; a column missing, too few rows or a critical data-quality failure
makes the check 'skipped' with the reason, never a silent 'no drift'.
"""

from __future__ import annotations

import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.drift.methods import get_method
from watchkeeper.reference import Monitored, drift_methods, values
from watchkeeper.result import Check, Severity, Status, num


def drift_checks(
    cfg: ModelConfig, day: pd.DataFrame, ref: pd.DataFrame, profile: dict, blocked: str | None = None
) -> list[Check]:
    """One check per (column, method); `blocked` is the reason when a critical quality failure forbids measuring."""
    checks = []
    for col in profile["columns"]:
        m = Monitored(col["column"], col["kind"], col["role"])
        cur = values(day[m.column], m.kind) if m.column in day else None
        ref_v = None
        for name in drift_methods(cfg, m):
            bounds = profile["drift"].get(f"{m.column}|{name}", {})
            check = Check(
                id=f"drift.{name}",
                stage="drift",
                name=name,
                subject=m.column,
                lower=bounds.get("lower"),
                upper=bounds.get("upper"),
                threshold_rule=bounds.get("rule", ""),
                status=Status.SKIPPED,
                severity=Severity.WARNING if m.role == "feature" else Severity.CRITICAL,
                owner="model",
                details={"kind": m.kind, "role": m.role},
            )
            if m.column in profile.get("importance", {}):
                check.details["importance"] = profile["importance"][m.column]
            if blocked:
                check.reason = f"could not measure: {blocked}"
            elif cur is None:
                check.reason = f"could not measure: column {m.column!r} is missing from the day's data"
            elif cur.size < cfg.drift.min_rows:
                check.reason = (
                    f"insufficient data: {cur.size} usable rows < drift.min_rows {cfg.drift.min_rows}"
                )
            else:
                if ref_v is None:
                    ref_v = values(ref[m.column], m.kind)
                method = get_method(name, m.kind)
                value = method.score(method.fit(ref_v), cur)
                check.details["rows"] = int(cur.size)
                check.judge(value, f"{m.column} drifted: {name} {value:.4g} > {num(check.upper)}")
            checks.append(check)
    if profile.get("multivariate"):
        checks.append(_multivariate_check(cfg, day, profile["multivariate"], blocked))
    return checks


def _multivariate_check(cfg: ModelConfig, day: pd.DataFrame, mv: dict, blocked: str | None) -> Check:
    from watchkeeper.drift import multivariate

    check = Check(
        id="drift.pca_reconstruction_error",
        stage="drift",
        name="pca_reconstruction_error",
        subject="multivariate",
        lower=mv.get("lower"),
        upper=mv.get("upper"),
        threshold_rule=mv.get("rule", ""),
        status=Status.SKIPPED,
        severity=Severity.WARNING,
        owner="model",
        details={
            "kind": "multivariate",
            "role": "multivariate",
            "components": len(mv["state"]["components"]),
        },
    )
    missing = [c for c in mv["state"]["numeric"] + mv["state"]["categorical"] if c not in day]
    if blocked:
        check.reason = f"could not measure: {blocked}"
    elif missing:
        check.reason = f"could not measure: columns {missing} are missing from the day's data"
    elif len(day) < cfg.drift.min_rows:
        check.reason = f"insufficient data: {len(day)} rows < drift.min_rows {cfg.drift.min_rows}"
    else:
        value, shares = multivariate.score(mv["state"], day)
        check.details["contributors"] = {k: round(v, 3) for k, v in list(shares.items())[:3]}
        top = ", ".join(check.details["contributors"])
        check.judge(
            value,
            f"the joint distribution of the inputs changed (reconstruction error {value:.4g} > {num(check.upper)}; most from {top})",
        )
    return check


def top_drifted(checks: list[Check], n: int, importance: dict[str, float] | None = None) -> list[str]:
    """Drifted features, most important first: how far past its bound each is, weighted by its importance.

    Importance is floored at half an equal share, so a feature the model barely uses still shows when it moves a lot.
    """
    worst: dict[str, float] = {}
    for c in checks:
        if c.stage == "drift" and c.status == Status.ALERT and c.details.get("role") == "feature" and c.upper:
            worst[c.subject] = max(worst.get(c.subject, 0.0), (c.value or 0.0) / c.upper)
    if importance:
        floor = 0.5 / max(len(importance), 1)
        worst = {k: v * max(importance.get(k, 0.0), floor) for k, v in worst.items()}
    return [k for k, _ in sorted(worst.items(), key=lambda kv: -kv[1])][:n]


def apply_persistence(checks: list[Check], breaches: int, history: list[list[Check]]) -> None:
    """Keep an alert only when its check (id, subject) breached on `breaches` of today plus the `history` days.

    A breach below that count stays visible: status ok, `details.breached` and the count in the reason.
    """
    if breaches <= 1:
        return
    past = [
        {(c.id, c.subject) for c in day if c.status == Status.ALERT or c.details.get("breached")}
        for day in history
    ]
    for c in checks:
        if c.status != Status.ALERT:
            continue
        count = 1 + sum((c.id, c.subject) in day for day in past)
        c.details["breached"] = True
        c.details["breaches"] = f"{count} of {len(history) + 1} days"
        if count < breaches:
            c.status = Status.OK
            c.reason = f"{c.reason}; not alerting: {count} of the last {len(history) + 1} days breached, alerts at {breaches}"
