"""The per-model-day result: every check with a stable id, and the actions decided from them.

`run-day` prints it as JSON; MLflow, alerts and stored results are renderings of this one object.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Stage = Literal["load", "quality", "drift", "performance"]


class Status(StrEnum):
    OK = "ok"
    ALERT = "alert"
    SKIPPED = "skipped"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


def num(value: float | None) -> str:
    """A bound or value as people read it in reasons and alerts (4 significant digits, – when absent)."""
    return "–" if value is None else f"{value:.4g}"


class Check(BaseModel):
    """One measured (or deliberately not measured) check of the day."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """Stable identifier `<stage>.<name>` (e.g. `drift.ks`, `quality.expect_column_values_to_not_be_null`)."""
    stage: Stage
    """Pipeline stage that produced the check."""
    name: str
    """Method, metric or expectation name."""
    subject: str
    """What was checked: a column, a metric, `table`, or `metric@YYYY-MM-DD` for a past prediction day."""
    segment: str | None = None
    """The slice of the day this check measured, as `column=value` (None: the whole day)."""
    value: float | None = None
    """Measured value (None when skipped or not numeric)."""
    lower: float | None = None
    """Alert when the value is below this bound (None: no lower bound)."""
    upper: float | None = None
    """Alert when the value is above this bound (None: no upper bound)."""
    threshold_rule: str = ""
    """How the bounds were derived, in words."""
    status: Status
    """ok, alert, or skipped (with `reason`)."""
    reason: str | None = None
    """Why the check was skipped or what the alert means, in one sentence."""
    severity: Severity = Severity.WARNING
    """critical / warning / info; decides routing and whether downstream verdicts can be trusted."""
    owner: Literal["data", "model"]
    """Which owner hears about an alert of this check."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Small extra facts (observed values, unexpected percent, coverage); never raw rows."""

    def judge(self, value: float, alert_reason: str) -> bool:
        """Record a measured value; alert (with the reason) when it is outside the bounds. Returns whether it is."""
        self.value = value
        breached = (self.lower is not None and value < self.lower) or (
            self.upper is not None and value > self.upper
        )
        self.status = Status.ALERT if breached else Status.OK
        if breached:
            self.reason = alert_reason
        return breached


class Action(BaseModel):
    """Something the day's result asks for: notify an owner, retrain, or nothing."""

    kind: Literal["notify", "retrain"]
    owner: Literal["data", "model"]
    reason: str
    """One sentence a person can act on."""
    checks: list[str] = Field(default_factory=list)
    """`id:subject` of the checks behind the action."""


class StageSummary(BaseModel):
    """A stage's outcome at a glance."""

    stage: Stage
    status: Literal["ok", "alert", "could_not_measure", "skipped"]
    alerts: int = 0
    warnings: int = 0
    note: str = ""


class DayResult(BaseModel):
    """Everything Watchkeeper concluded about one model on one day."""

    schema_version: int = SCHEMA_VERSION
    model: str
    task: str
    day: date
    rows: int
    """Prediction records of the day."""
    status: Literal["ok", "alert"]
    """`alert` when any check alerted (warnings included); see `stages` for which."""
    stages: list[StageSummary]
    checks: list[Check]
    actions: list[Action]
    headline: str
    """One sentence summary for people."""
    top_drifted_features: list[str] = Field(default_factory=list)
    """Drifted features, most important first."""
    artifacts: dict[str, str] = Field(default_factory=dict)
    """Storage URLs of the stored results of the day."""
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
