"""The per-model-day result: every check with a stable id, and the actions decided from them.

`run-day` prints it as JSON; MLflow, alerts and stored results are renderings of this one object.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2

Stage = Literal["load", "quality", "drift", "performance"]
Role = Literal["data", "model", "operator"]
"""Who hears about something: the data owner, the model owner, or the operator who runs Watchkeeper."""


class Status(StrEnum):
    OK = "ok"
    ALERT = "alert"
    SKIPPED = "skipped"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class NotMeasured(StrEnum):
    """Why a check could not be measured (a skipped check's typed reason; `reason` says it in words)."""

    UPSTREAM_QUALITY = "upstream_quality"
    """A critical data-quality failure today makes the measurement untrustworthy."""
    NO_DATA = "no_data"
    """The day's data did not arrive or could not be read."""
    TOO_FEW_ROWS = "too_few_rows"
    """Fewer rows (or rows of a segment) than the configured minimum."""
    TOO_FEW_LABELS = "too_few_labels"
    """Fewer labelled rows than `performance.min_labels`, or label coverage below `min_coverage`."""
    NO_LABELS = "no_labels"
    """No labels arrived for the prediction day (yet)."""
    MISSING_COLUMN = "missing_column"
    """A configured column is absent from the day's data."""
    NO_REFERENCE_BOUND = "no_reference_bound"
    """The reference gave no bound for this check (too few chunks, constant column, ...)."""
    UNDEFINED = "undefined"
    """The metric is undefined on today's data (e.g. recall with no positive label: 0/0)."""
    NOT_CONFIGURED = "not_configured"
    """The check is switched off or does not apply to this model."""
    ERROR = "error"
    """The measurement raised an error; `reason` names it (never raw values)."""


class Signal(StrEnum):
    """What a policy rule listens to; each check of a day maps to at most one signal (`decisions.signal_of`)."""

    DATA_MISSING = "data_missing"
    LOAD_FAILED = "load_failed"
    QUALITY_CRITICAL = "quality_critical"
    QUALITY_WARNING = "quality_warning"
    FEATURE_DRIFT = "feature_drift"
    MULTIVARIATE_DRIFT = "multivariate_drift"
    PREDICTION_DRIFT = "prediction_drift"
    LABEL_DRIFT = "label_drift"
    ESTIMATED_PERFORMANCE = "estimated_performance"
    REALIZED_PERFORMANCE = "realized_performance"
    LABEL_CONFLICTS = "label_conflicts"
    PIPELINE_FAILURE = "pipeline_failure"
    RUN_LATE = "run_late"


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
    not_measured: NotMeasured | None = None
    """Why a skipped check could not be measured (None when measured, or skipped by design)."""
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
    """Something the day's result asks for: notify an owner, retrain, or evaluate the challenger."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["notify", "retrain", "evaluate"]
    owner: Role
    reason: str
    """One sentence a person can act on."""
    checks: list[str] = Field(default_factory=list)
    """`id:subject` of the checks behind the action."""
    rule: str = ""
    """Name of the policy rule that asked for it (see `decisions`)."""
    severity: Severity = Severity.WARNING
    """Severity of the rule that fired."""


class Decision(BaseModel):
    """One policy rule evaluated on the day: whether it fired, and why (stored even when it did not)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    rule: str
    """Rule name from the model's `policy.rules` (or a default rule's name)."""
    signal: Signal
    subject: str = "*"
    """Column, metric or `table` the signal was raised on (`*`: the signal as a whole)."""
    fired: bool
    """True when the rule's condition (persistence included) held and its actions were taken."""
    why: str
    """In words: what was seen, over how many days, and what the rule asks for (or why it held back)."""
    actions: list[str] = Field(default_factory=list)
    """`kind:owner` of each action taken (empty when not fired or suppressed)."""
    checks: list[str] = Field(default_factory=list)
    """`id:subject` of the checks that raised the signal today."""
    suppressed: str | None = None
    """Why a fired rule sent nothing new (cooldown, daily cap, incident already open, quality blocked retrain)."""


class Estimate(BaseModel):
    """An estimated metric of today's predictions (before labels), with its sampling-error band."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    metric: str
    value: float | None
    band_lower: float | None = None
    band_upper: float | None = None
    lower: float | None = None
    """Alert bound below (None: none)."""
    upper: float | None = None
    """Alert bound above (None: none)."""
    method: str = ""
    """`cbpe` or `dle`."""
    segment: str | None = None


class Realized(BaseModel):
    """Realized metrics of one earlier (or today's) prediction day, measured today from the labels known so far."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    prediction_day: date
    as_of: date
    """The day these labels were counted (today)."""
    labelled: int
    predictions: int
    coverage: float
    """Share of that day's predictions with a label."""
    provisional: bool
    """Coverage below `performance.min_coverage`: the values may still move."""
    metrics: dict[str, float | None] = Field(default_factory=dict)
    estimated: dict[str, float | None] = Field(default_factory=dict)
    """What was estimated for that day before its labels arrived."""
    estimated_band: dict[str, list[float]] = Field(default_factory=dict)
    estimation_error: dict[str, float] = Field(default_factory=dict)
    within_band: dict[str, bool] = Field(default_factory=dict)
    segments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    confusion: dict[str, int] | None = None


class IncidentRef(BaseModel):
    """An incident this day opened, updated, reminded of or closed (the incident document lives in storage)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    signal: Signal
    subject: str
    owner: Role
    transition: Literal["opened", "updated", "reminded", "recovered"]
    opened: date


class Distribution(BaseModel):
    """A drifted column's distribution today beside the reference's, binned: what the report draws (never raw rows)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    column: str
    kind: Literal["numeric", "categorical"]
    edges: list[float] = Field(default_factory=list)
    """Numeric: bin edges (one more than the shares); the outer bins also hold the tails."""
    labels: list[str] = Field(default_factory=list)
    """Categorical: the categories shown, most frequent first; `(other)` pools the rest."""
    reference: list[float]
    """Share of the reference rows in each bin or category."""
    today: list[float]
    """Share of the day's rows in each bin or category."""
    reference_rows: int
    today_rows: int


class Shadow(BaseModel):
    """The registry's `challenger` scored on the day beside the champion (shadow scoring; nobody acts on it)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    version: str
    """Registered version of the challenger."""
    rows: int
    champion_mean: float | None = None
    """Mean score (classifier) or prediction (regressor) of the champion on the day."""
    challenger_mean: float | None = None
    mean_abs_difference: float | None = None
    """Mean absolute difference between the two models' scores or predictions, row by row."""
    realized: dict[str, dict[str, dict[str, float | None]]] = Field(default_factory=dict)
    """Per shadowed prediction day labelled today: `champion` and `challenger` metrics on the same labelled rows."""
    estimated: dict[str, float | None] = Field(default_factory=dict)
    """The challenger's label-free estimates of the day (CBPE/DLE as the champion's, fitted on `estimated_from`)."""
    estimated_from: str = ""
    """Labelled rows the challenger's estimator was fitted on: its retraining holdout, else the reference."""


class StageSummary(BaseModel):
    """A stage's outcome at a glance."""

    stage: Stage
    status: Literal["ok", "alert", "could_not_measure", "skipped"]
    alerts: int = 0
    warnings: int = 0
    note: str = ""


class DayResult(BaseModel):
    """Everything Watchkeeper concluded about one model on one day."""

    model_config = ConfigDict(use_attribute_docstrings=True)

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
    decisions: list[Decision] = Field(default_factory=list)
    """Every policy rule evaluated today, fired or not, with its reason."""
    estimates: list[Estimate] = Field(default_factory=list)
    """Estimated performance of today's predictions (whole day and segments)."""
    realized: list[Realized] = Field(default_factory=list)
    """Realized performance of each prediction day whose labels arrived today."""
    incidents: list[IncidentRef] = Field(default_factory=list)
    """Incident transitions caused by this day."""
    headline: str
    """One sentence summary for people."""
    top_drifted_features: list[str] = Field(default_factory=list)
    """Drifted features, most important first."""
    distributions: list[Distribution] = Field(default_factory=list)
    """Binned distributions of the top drifted features, today and in the reference (for the report's plots)."""
    artifacts: dict[str, str] = Field(default_factory=dict)
    """Storage URLs of the stored results of the day."""
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
    config_digest: str = ""
    """Hash of the model configuration the day was judged with."""
    shadow: Shadow | None = None
    """The challenger's shadow scores and realized metrics beside the champion's (None: no challenger)."""

    @property
    def alerts(self) -> list[Check]:
        return [c for c in self.checks if c.status == Status.ALERT]

    @property
    def severity(self) -> Severity | None:
        """The day's worst alert severity (None: no alert)."""
        worst = {c.severity for c in self.alerts}
        for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
            if s in worst:
                return s
        return None
