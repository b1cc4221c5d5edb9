"""What a day raised: each alerting check mapped to one policy signal, kept as a small per-day document.

`signal_of` is the one table from checks to signals; `day_signals` projects a stored `DayResult` onto what the
policy needs (signals, subjects, values, bounds, links), so replaying incidents over many days reads small
documents and never re-computes a stage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.result import Check, DayResult, Severity, Signal, Status

_DRIFT_ROLES: dict[str, Signal] = {
    "feature": Signal.FEATURE_DRIFT,
    "multivariate": Signal.MULTIVARIATE_DRIFT,
    "score": Signal.PREDICTION_DRIFT,
    "prediction": Signal.PREDICTION_DRIFT,
    "label": Signal.LABEL_DRIFT,
}


def _load(c: Check) -> Signal:
    return Signal.DATA_MISSING if c.name == "not_arrived" else Signal.LOAD_FAILED


def _quality(c: Check) -> Signal:
    return Signal.QUALITY_CRITICAL if c.severity == Severity.CRITICAL else Signal.QUALITY_WARNING


def _drift(c: Check) -> Signal | None:
    if c.owner == "data":  # a schema-like change (e.g. a category never seen before) is the data owner's news
        return _quality(c)
    return _DRIFT_ROLES.get(str(c.details.get("role", "feature")))


def _performance(c: Check) -> Signal | None:
    if c.owner == "data" or c.name in ("label_conflicts", "label_join"):  # label records: the data owner's
        return Signal.LABEL_CONFLICTS
    if c.name.startswith("estimated_") or c.details.get("estimated"):
        return Signal.ESTIMATED_PERFORMANCE
    if c.name in ("labels", "label_duplicates"):
        return None
    return Signal.REALIZED_PERFORMANCE


SIGNAL_OF_STAGE: dict[str, Callable[[Check], Signal | None]] = {
    "load": _load,
    "quality": _quality,
    "drift": _drift,
    "performance": _performance,
}
"""Stage → the function naming the signal of one of its checks (None: the check raises no signal)."""


def signal_of(check: Check) -> Signal | None:
    """The signal an alerting check raises (None for ok, skipped and info checks)."""
    if check.status != Status.ALERT or check.severity == Severity.INFO:
        return None
    return SIGNAL_OF_STAGE[check.stage](check)


def base_subject(check: Check) -> str:
    """The column or metric a check is about, without the `@prediction-day` suffix or segment."""
    return check.subject.split("@", 1)[0]


class Raised(BaseModel):
    """One alerting check as the policy and the messages see it: no raw rows, only the check's own facts."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    signal: Signal
    ref: str
    """`id:subject` of the check."""
    name: str
    subject: str
    """Column or metric (prediction-day suffix removed)."""
    segment: str | None = None
    severity: Severity
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    reason: str = ""
    prediction_day: str | None = None


class DaySignals(BaseModel):
    """The policy's view of one stored day: every raised signal, plus what messages link to."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    day: date
    raised: list[Raised] = Field(default_factory=list)
    top_drifted_features: list[str] = Field(default_factory=list)
    quality_blocked: bool = False
    """A critical data-quality failure (or unreadable data) today: retraining is held back."""
    headline: str = ""
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None


def day_signals(result: DayResult) -> DaySignals:
    """Project a day's result onto its raised signals (pure)."""
    raised = []
    for c in result.checks:
        signal = signal_of(c)
        if signal is None:
            continue
        raised.append(
            Raised(signal=signal, ref=f"{c.id}:{c.subject}", name=c.name, subject=base_subject(c),
                   segment=c.segment, severity=c.severity, value=c.value, lower=c.lower, upper=c.upper,
                   reason=c.reason or "", prediction_day=c.details.get("prediction_day"))
        )  # fmt: skip
    blocked = any(
        c.stage in ("load", "quality") and c.status == Status.ALERT and c.severity == Severity.CRITICAL
        for c in result.checks
    )
    return DaySignals(
        day=result.day,
        raised=raised,
        top_drifted_features=result.top_drifted_features,
        quality_blocked=blocked,
        headline=result.headline,
        mlflow_run_id=result.mlflow_run_id,
        mlflow_experiment_id=result.mlflow_experiment_id,
    )
