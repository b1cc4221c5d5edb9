"""The per-model YAML configuration: a typed pydantic schema, parsed once, with errors naming file and field.

`load_config(path)` is the only entry point; every stage takes the resulting `ModelConfig`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watchkeeper.redact import has_userinfo
from watchkeeper.result import Signal
from watchkeeper.thresholds import StdThreshold, ThresholdSpec


class ConfigError(Exception):
    """A model configuration is invalid; the message names the file and each bad field."""


_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


def relative_key(v: str, what: str = "a key relative to the storage location") -> str:
    """`v` when it stays inside the storage root: no absolute path, `..` segment, URL scheme, `~`, backslash,
    percent-encoding or control character; else a ValueError saying so (pydantic names the field)."""
    text = v.strip()
    parts = text.replace("\\", "/").split("/")
    problems = [
        (not text, "is empty"),
        (text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text) is not None, "is an absolute path"),
        (".." in parts, "contains a '..' segment"),
        ("://" in text or re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", text) is not None, "is a URL"),
        ("\\" in text, "contains a backslash"),
        (_ENCODED.search(text) is not None, "contains percent-encoding"),
        (any(ord(c) < 32 for c in text), "contains control characters"),
    ]
    bad = [why for failed, why in problems if failed]
    if bad:
        raise ValueError(f"must be {what}; it {' and '.join(bad)}")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class StorageConfig(_Model):
    uri: str
    """Where the model's data lives: `s3://bucket/prefix` or a local directory. No credentials here."""
    conn_id: str = "watchkeeper_s3"
    """Airflow connection (type aws, endpoint in extra `endpoint_url`) used by the DAG; the CLI reads AWS_* env vars."""
    results_uri: str | None = None
    """Where Watchkeeper writes its results (S3 URI or directory); default: the data location `uri`."""
    results_prefix: str = "watchkeeper"
    """Prefix (relative to the results location) under which results are written, keyed by model and day."""

    @field_validator("results_prefix")
    @classmethod
    def _inside_root(cls, v: str) -> str:
        return relative_key(v, "a prefix relative to the results location")

    @field_validator("uri", "results_uri")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        if v and has_userinfo(v):  # any scheme case: `S3://KEY:SECRET@...` too
            raise ValueError(
                "credentials must not be embedded in the URI; use an Airflow connection or env vars"
            )
        return v


class CsvOptions(_Model):
    delimiter: str = ","
    """Field delimiter of CSV inputs."""
    encoding: str = "utf-8"
    """Text encoding of CSV inputs."""


class PathsConfig(_Model):
    reference: str
    """Reference data (with labels), relative to the storage URI."""
    predictions: str
    """The day's prediction records; `{ds}` is replaced by the day (YYYY-MM-DD), `{ds_nodash}` by YYYYMMDD."""
    labels: str | None = None
    """Label records that arrive on a day (for predictions of that day or earlier), templated like `predictions`."""
    csv: CsvOptions = CsvOptions()
    """Options for `.csv` inputs (Parquet is detected by extension and needs none)."""

    @field_validator("reference", "predictions", "labels")
    @classmethod
    def _inside_root(cls, v: str | None) -> str | None:
        return v if v is None else relative_key(v, "a path relative to storage.uri")

    @field_validator("predictions", "labels")
    @classmethod
    def _templated(cls, v: str | None) -> str | None:
        if v is not None and "{ds" not in v:
            raise ValueError("must contain {ds} or {ds_nodash} so each day has its own file")
        return v

    def for_day(self, template: str, day: date) -> str:
        return template.format(ds=day.isoformat(), ds_nodash=day.strftime("%Y%m%d"))


class Feature(_Model):
    name: str
    """Column name."""
    kind: Literal["numeric", "categorical"] | None = None
    """Inferred from the reference data's type when omitted."""


class ColumnsConfig(_Model):
    id: str
    """Prediction id: unique per prediction, joins labels to predictions."""
    timestamp: str | None = None
    """Event timestamp column; used to chunk the reference by day and to check events fall in the day."""
    features: list[Feature]
    """Model inputs to monitor; a plain name is accepted for a feature with an inferred kind."""
    score: str | None = None
    """Predicted score/probability of the positive class (classification) or None."""
    prediction: str
    """Predicted class (classification) or predicted value (regression)."""
    target: str
    """Ground-truth column, in the reference and in label records."""
    positive_label: int | str = 1
    """Value of `target`/`prediction` that is the positive class (binary classification)."""
    show_values: list[str] = []
    """Columns whose raw values may appear in reasons, results, stored GX results, reports and Slack (e.g. a
    low-cardinality `region`); every other column is described by counts and shares only. Segment columns are shown
    too (their values name the segments)."""
    pii: list[str] = []
    """Columns holding personal data: dropped when the day, the reference and label files are read, so they are
    never validated, profiled, stored, logged or named anywhere. Cannot be a feature, role or segment column."""
    label_values: dict[str, int | float | str] | None = None
    """How label values (read as text) map to target values, e.g. `{"yes": 1, "no": 0}`; a label value not listed is
    rejected and counted (check `performance.label_values`). Default: a classifier's labels must take the values of
    the reference's target, a regressor's must be numbers."""

    @field_validator("features", mode="before")
    @classmethod
    def _names_to_features(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"name": f} if isinstance(f, str) else f for f in v]
        return v

    @model_validator(mode="after")
    def _distinct(self) -> ColumnsConfig:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features listed twice: {dupes}")
        roles = {self.id, self.prediction, self.target, self.score, self.timestamp} - {None}
        clash = sorted(roles & set(names))
        if clash:
            raise ValueError(
                f"columns {clash} are both a feature and a role (id/score/prediction/target/timestamp)"
            )
        personal = set(self.pii) & (roles | set(names) | set(self.show_values))
        if personal:
            raise ValueError(
                f"pii columns {sorted(personal)} are also a feature, a role or in show_values: pii columns are dropped"
            )
        return self


class Owner(_Model):
    name: str
    """Team or person, shown in alerts."""
    slack_conn_id: str | None = None
    """Airflow Slack incoming-webhook connection for this owner; alerts go to the local outbox when unset/absent."""
    mention: str | None = None
    """Optional Slack mention (e.g. `<!subteam^ID>`) put in the alert text."""
    runbook: str | None = None
    """URL of this owner's runbook, linked from every message they receive (a rule's `runbook` wins)."""


class OwnersConfig(_Model):
    data: Owner
    """Receives data-quality alerts (missing/late/broken data)."""
    model: Owner
    """Receives model alerts (drift, performance) and retraining notices."""
    operator: Owner | None = None
    """Runs Watchkeeper: hears of failed tasks, late runs and broken YAML (default: the model owner's destination)."""

    def of(self, role: str) -> Owner:
        """The owner playing a role; the operator falls back to the model owner when not configured."""
        return getattr(self, role) or self.model


class QualityConfig(_Model):
    suite: str = "default"
    """Great Expectations suite file `expectations/<model>/<suite>.json`; generated from reference when absent."""
    expectations_dir: str = "expectations"
    """Directory holding `<model>/<suite>.json`, relative: found upward from the model YAML's directory (else the
    working directory); absolute paths, `~`, `..` segments and URLs are rejected."""
    severity: dict[str, Literal["critical", "warning"]] = {}
    """Override the severity per expectation type or Watchkeeper check (`finite_values`, `timestamps_in_day`,
    `duplicate_rows`), e.g. `expect_column_values_to_be_between: critical`."""
    timestamps_in_day_mostly: float = Field(0.99, ge=0, le=1)
    """Share of a day's event timestamps that must fall inside the monitored day (generated suites)."""
    critical_share: float | None = Field(0.5, gt=0, le=1)
    """A range or value-set expectation (warning by default) becomes critical when at least this share of the
    day's rows fails it: most of a column outside the reference's range or set is a unit, encoding or column
    mix-up, not a tail (drift and performance are then not measured on the day). `null` keeps them warnings."""
    min_day_share: float = Field(0.5, ge=0, le=1)
    """A day with fewer rows than this share of the smallest whole reference day (by `columns.timestamp`) alerts
    the data owner (`drift.volume`, critical); of the median of the last 7 monitored days instead when at least 3
    are known and their median is smaller. 0 turns the check off. Without a timestamp column no day size is
    learned and only the suite's row-count expectation applies."""

    @field_validator("suite")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", v) or ".." in v:
            raise ValueError("must be a plain file name (letters, digits, _ . -), not a path")
        return v

    @field_validator("expectations_dir")
    @classmethod
    def _no_escape(cls, v: str) -> str:
        # A directory of the project the YAML belongs to: a suite cannot be read from elsewhere on the machine.
        return relative_key(v, "a directory relative to the model YAML (found upward from it)")


class FeatureDrift(_Model):
    methods: list[str] | None = None
    """Methods for this feature (default: the kind's defaults)."""
    threshold: ThresholdSpec | None = None
    """Threshold rule for this feature (default: `drift.threshold`)."""


class Persistence(_Model):
    breaches: int = Field(1, ge=1)
    """Alert only when the check breached its bound on at least this many of the last `days` days (today included)."""
    days: int = Field(1, ge=1)
    """The window, in monitored days."""

    @model_validator(mode="after")
    def _fits(self) -> Persistence:
        if self.breaches > self.days:
            raise ValueError(f"breaches ({self.breaches}) cannot exceed days ({self.days})")
        return self


class DriftConfig(_Model):
    numeric_methods: list[str] = ["ks", "wasserstein"]
    """Default methods for numeric columns (see `watchkeeper methods`)."""
    categorical_methods: list[str] = ["jensen_shannon", "l_infinity"]
    """Default methods for categorical columns."""
    threshold: ThresholdSpec = Field(default_factory=StdThreshold)
    """How alert bounds are set: `std` (reference chunks mean + k·std), `quantile` or `constant`."""
    features: dict[str, FeatureDrift] = {}
    """Per-feature overrides of methods and threshold."""
    multivariate: bool = True
    """Also measure multivariate drift: PCA data-reconstruction error over all features."""
    pca_variance: float = Field(0.65, gt=0, lt=1)
    """Share of the reference's variance the PCA keeps."""
    domain_classifier: bool = False
    """Also measure multivariate drift by a domain classifier: the ROC AUC of a classifier telling the day's rows
    from the reference's, with bounds from reference-vs-reference runs (a few seconds per day and per profile)."""
    min_rows: int = 100
    """Fewer rows than this in a day → 'insufficient data' instead of a drift verdict."""
    top_features: int = 3
    """How many drifted features the summary names, ranked by magnitude relative to their bound."""
    family_wise: bool = True
    """The `std` threshold's tail probability (0.135 % for k=3) bounds the chance that *any* drift check of a healthy
    day alerts, split evenly over the day's checks (Bonferroni; label checks and realized metrics form their own
    families). False: it is each check's own chance, more sensitive but with about one false alert per
    1 / (0.00135 × checks) healthy days."""
    persistence: Persistence = Persistence()
    """N-of-M rule against flapping (default 1 of 1: a breach alerts on its first day)."""
    threads: int = Field(0, ge=0)
    """Threads scoring the day's columns at once (0: the CPUs available to the task, at most 4)."""
    importance_model_uri: str | None = None
    """MLflow model (e.g. `models:/name@champion`) whose importances rank drifted features (default: a surrogate)."""
    evidence_days: int = Field(0, ge=0)
    """Days over which a CUSUM accumulates each drift statistic's excess over its reference level, so a small,
    persistent shift alerts (`drift.cusum`) within days; 0 (default, until its false alerts are fixed) is off."""
    unseen_lookback_days: int = Field(30, ge=0)
    """A value the reference never had alerts the data owner (`drift.unseen_categories`) on the first day it appears:
    when none of this many previous days' stored results had it."""


class PerformanceConfig(_Model):
    metrics: list[str] | None = None
    """Metrics to compute; default depends on the task (see `watchkeeper methods`)."""
    threshold: ThresholdSpec = Field(default_factory=StdThreshold)
    """Bounds from reference chunks; a metric alerts on the side where it is worse (both sides if `two_sided`)."""
    label_window_days: int = Field(30, ge=0)
    """Labels arriving on a day are joined to predictions of up to this many days before."""
    min_labels: int = 100
    """Fewer labelled rows than this → metric skipped as 'insufficient labels'."""
    min_coverage: float = Field(0.5, ge=0, le=1)
    """Below this share of a day's predictions labelled, its metrics are marked provisional."""
    decision_threshold: float = 0.5
    """Score at or above which a prediction counts as positive, when a metric needs classes from scores."""


class SegmentsConfig(_Model):
    columns: list[str] = []
    """Columns whose values slice each day (e.g. region, product); drift and performance are reported per value."""
    min_rows: int = Field(200, ge=1)
    """A segment with fewer rows (labelled rows for realized metrics) is reported as insufficient data."""
    max_values: int = Field(20, ge=1)
    """At most this many values per column become segments (the most frequent in the reference)."""


class ReferenceConfig(_Model):
    chunk_rows: int | None = None
    """Rows per reference chunk when the reference has no timestamp column (default: reference rows / 10)."""
    min_chunks: int = 5
    """Fewer reference chunks than this → no learned bound (the check says so); constant thresholds still apply."""
    bootstrap_samples: int = Field(50, ge=0)
    """Random day-size subsamples of the reference used to measure pure sampling noise (0 disables)."""
    seed: int = 0
    """Seed for those subsamples, so a profile is reproducible."""


class Rule(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    """Rule name, stored in every decision it makes and in incident ids (lowercase letters, digits, `_`)."""
    signals: list[Signal] = Field(min_length=1)
    """Signals the rule listens to (see `docs/configuration.md`); one incident per rule and subject."""
    min_severity: Literal["critical", "warning"] = "warning"
    """Only alerting checks at least this severe raise the rule's signals (info checks never do)."""
    notify: list[Literal["data", "model", "operator"]] = []
    """Owners messaged when an incident opens, is reminded of and recovers (empty: daily summary only)."""
    retrain: bool = False
    """Request retraining when the rule's incident opens (never on a day with a critical data-quality failure)."""
    evaluate: bool = False
    """Start a challenger evaluation when the rule's incident opens."""
    severity: Literal["critical", "warning", "info"] = "warning"
    """Severity of the rule's messages and actions."""
    persistence: Persistence | None = None
    """Open an incident only when a signal was raised on `breaches` of the last `days` days (default: the policy's)."""
    per_subject: bool = False
    """One incident per column/metric instead of one for the rule as a whole."""
    cooldown_days: int | None = Field(None, ge=0)
    """Override of `policy.cooldown_days` for this rule."""
    remind_after_days: int | None = Field(None, ge=0)
    """Override of `policy.remind_after_days` for this rule."""
    recover_after_days: int | None = Field(None, ge=1)
    """Override of `policy.recover_after_days` for this rule."""
    runbook: str | None = None
    """URL of the runbook for this rule's incidents (default: the owner's `runbook`)."""


class PolicyConfig(_Model):
    rules: list[Rule] | None = None
    """Signals → actions. Unset: the default rules (docs/configuration.md), shaped by the three keys below."""
    retrain_on: list[Literal["drift", "performance"]] = ["performance"]
    """Default rules only: critical alerts of these stages request retraining and a challenger evaluation."""
    notify_on: list[Literal["quality", "drift", "performance"]] = ["quality", "drift", "performance"]
    """Default rules only: alerts of these stages notify their owner."""
    notify_warnings: bool = False
    """Default rules only: also notify the data owner of data-quality warnings (else daily summary only)."""
    persistence: Persistence = Persistence()
    """Default N-of-M rule before an incident opens (1 of 1: on the first day a signal is raised)."""
    cooldown_days: int = Field(3, ge=0)
    """A rule and subject breaching again within this many days of recovering reopens the incident silently."""
    remind_after_days: int = Field(7, ge=0)
    """Remind the owner every this many days an incident stays open (0: never)."""
    recover_after_days: int = Field(2, ge=1)
    """Days in a row without the signal after which an incident recovers (one recovery message)."""
    max_messages_per_owner_per_day: int = Field(3, ge=1)
    """More messages than this for one owner on one day are folded into one digest message."""
    run_deadline_hours: float | None = Field(None, gt=0)
    """A day's DAG run still unfinished this many hours after it was queued: the operator is told once (Airflow
    `DeadlineAlert`, experimental in Airflow 3; unset: no deadline)."""
    mlflow_ui_url: str | None = None
    """MLflow UI base URL for links to the day's run (default: env `WATCHKEEPER_MLFLOW_UI_URL`)."""
    report_url: str | None = None
    """Base URL serving the results location, for links to `<model>/days/<day>/report.html` (default: env
    `WATCHKEEPER_REPORT_URL`; no link when unset)."""

    def effective_rules(self) -> list[Rule]:
        """The configured rules, or the defaults derived from `notify_on`, `retrain_on` and `notify_warnings`."""
        if self.rules is not None:
            return list(self.rules)
        return default_rules(self)

    @model_validator(mode="after")
    def _distinct_rules(self) -> PolicyConfig:
        names = [r.name for r in self.rules or []]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique: {dupes}")
        return self


def default_rules(policy: PolicyConfig) -> list[Rule]:
    """The rules a first-time user gets: each signal to the owner who can act on it, retraining on performance."""
    S = Signal
    on = set(policy.notify_on)
    drift_retrain = "drift" in policy.retrain_on
    perf_retrain = "performance" in policy.retrain_on
    rules = [
        Rule(name="data_missing", signals=[S.DATA_MISSING, S.LOAD_FAILED], notify=["data"], severity="critical",
             recover_after_days=1),
        Rule(name="data_quality", signals=[S.QUALITY_CRITICAL], notify=["data"] if "quality" in on else [],
             severity="critical", recover_after_days=1),
        Rule(name="quality_warnings", signals=[S.QUALITY_WARNING],
             notify=["data"] if policy.notify_warnings and "quality" in on else []),
        Rule(name="label_records", signals=[S.LABEL_CONFLICTS], notify=["data"] if "quality" in on else []),
        Rule(name="drift", signals=[S.FEATURE_DRIFT, S.MULTIVARIATE_DRIFT, S.PREDICTION_DRIFT, S.LABEL_DRIFT],
             notify=["model"] if "drift" in on else []),
        Rule(name="estimated_performance", signals=[S.ESTIMATED_PERFORMANCE],
             notify=["model"] if "performance" in on else []),
        Rule(name="realized_performance", signals=[S.REALIZED_PERFORMANCE],
             notify=["model"] if "performance" in on else [], severity="critical"),
        Rule(name="pipeline", signals=[S.PIPELINE_FAILURE, S.RUN_LATE], notify=["operator"], severity="critical"),
    ]  # fmt: skip
    retrain_signals = [S.REALIZED_PERFORMANCE] * perf_retrain + [
        S.FEATURE_DRIFT, S.PREDICTION_DRIFT, S.MULTIVARIATE_DRIFT] * drift_retrain  # fmt: skip
    if retrain_signals:
        rules.append(Rule(name="retrain", signals=retrain_signals, min_severity="critical", retrain=True,
                          evaluate=True, severity="critical"))  # fmt: skip
    return rules


class AirflowConfig(_Model):
    schedule: str = "@daily"
    """Cron preset or expression; each run monitors the data interval it closes (e.g. the previous day)."""
    timezone: str = "UTC"
    """Timezone in which days start."""
    retries: int = Field(1, ge=0)
    """Task retries before the failure alert goes out."""
    retry_delay_minutes: float = Field(5, ge=0)
    """Wait between task retries."""
    max_active_runs: int = Field(4, ge=1)
    """Days processed at once during a backfill."""
    data_deadline_minutes: float = Field(360, ge=0)
    """How long a run waits for the day's prediction file before a 'data did not arrive' alert to the data owner."""
    data_poke_minutes: float = Field(10, gt=0)
    """How often a waiting run looks for the day's file (the worker slot is released in between)."""
    queue: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """Celery queue of this model's monitoring and retraining tasks, served by workers started with
    `airflow celery worker --queues <queue>` (unset: Airflow's default queue, `[operators] default_queue`)."""


class RetrainingConfig(_Model):
    """Guards and data of a retraining (`watchkeeper_retrain_<model>`)."""

    window_days: int = Field(28, ge=1)
    """Prediction days (ending on the request day) whose labelled rows may become training and holdout data."""
    from_change: bool = True
    """Start the window at the earliest prediction day whose realized performance alerted in the request (the
    change point), so rows of the old input→label relation do not dilute the challenger; never before the window."""
    holdout_days: int = Field(2, ge=1)
    """The most recent labelled prediction days, held out of training: champion and challenger are judged on them."""
    min_labelled_rows: int = Field(2000, ge=1)
    """Fewer labelled training rows than this (or fewer than `min_holdout_rows` held out): the run ends with a
    "not enough labels" result, not a failure, and starts no cooldown."""
    min_holdout_rows: int = Field(500, ge=1)
    """Fewest labelled holdout rows that can support a verdict."""
    cooldown_days: int = Field(3, ge=0)
    """Days after a retraining that produced a challenger during which further requests are declined."""
    include_reference: bool = False
    """Add the reference data (with its labels) to the training rows."""
    lease_minutes: float = Field(120, gt=0)
    """A retraining holds the model's lease this long at most; a newer request waits out a live lease."""


class EvaluationConfig(_Model):
    """How champion and challenger are compared on the holdout."""

    primary_metric: str | None = None
    """Metric that must improve (a registered metric, see `watchkeeper methods`); default `roc_auc` for
    classifiers, `mae` for regressors."""
    min_margin: float = Field(0.0, ge=0)
    """The challenger must beat the champion's primary metric by at least this much (absolute)."""
    guardrails: list[str] | None = None
    """Metrics that must not get worse than the champion's by more than `guardrail_tolerance`; default: the
    task's other default metrics that MLflow's evaluator reports."""
    guardrail_tolerance: float = Field(0.01, ge=0)
    """Absolute worsening a guardrail metric may show before the verdict is "regresses"."""
    bootstrap_samples: int = Field(1000, ge=100)
    """Paired bootstrap resamples of the holdout for the primary metric's difference."""
    confidence: float = Field(0.95, gt=0.5, lt=1)
    """Level of the bootstrap interval; the gain counts as larger than chance when the interval excludes 0."""
    shadow_days: int = Field(0, ge=0)
    """Labelled shadow days a promotion needs: on each of the most recent `shadow_days` prediction days scored in
    shadow and labelled, the challenger's realized primary metric must be no worse than the champion's. 0: the
    holdout verdict alone suffices (shadow days are still counted and reported with every promotion)."""


class RegistryModelConfig(_Model):
    """The model in the MLflow Model Registry: alias `champion` is production, `challenger` a proposed version."""

    registered_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
    """Registered model name in the MLflow Model Registry."""
    train_fn: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """`package.module:function(features: DataFrame, target: ndarray, champion) -> fitted model` for models that
    are not a refittable scikit-learn pipeline; default: refit `sklearn.base.clone` of the champion."""
    auto_promote: bool = False
    """Promote a challenger without a person when its verdict is "better" (off: the model owner approves)."""
    retraining: RetrainingConfig = RetrainingConfig()
    """Retraining data and guards."""
    evaluation: EvaluationConfig = EvaluationConfig()
    """Champion/challenger comparison."""


class ModelConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
    """Model name: letters, digits, `_` and `-`; names the DAG, MLflow experiment and stored results."""
    task: Literal["binary_classification", "regression"]
    """What the model predicts."""
    description: str = ""
    """Shown in the DAG docs and alerts."""
    start_date: date = date(2024, 1, 1)
    """First day the DAG may schedule."""
    storage: StorageConfig
    paths: PathsConfig
    columns: ColumnsConfig
    owners: OwnersConfig
    quality: QualityConfig = QualityConfig()
    drift: DriftConfig = DriftConfig()
    performance: PerformanceConfig = PerformanceConfig()
    segments: SegmentsConfig = SegmentsConfig()
    reference: ReferenceConfig = ReferenceConfig()
    policy: PolicyConfig = PolicyConfig()
    airflow: AirflowConfig = AirflowConfig()
    model: RegistryModelConfig | None = None
    """The registered model and its retraining (none: Watchkeeper monitors but never retrains)."""
    source: Annotated[str, Field(exclude=True)] = ""
    """Path of the YAML file this came from (set by `load_config`)."""

    @model_validator(mode="after")
    def _pii_not_segmented(self) -> ModelConfig:
        if set(self.columns.pii) & set(self.segments.columns):
            raise ValueError("a pii column cannot be a segment column (segments name their values)")
        return self

    @model_validator(mode="after")
    def _task_columns(self) -> ModelConfig:
        if self.task == "regression" and self.columns.score is not None:
            raise ValueError("columns.score is for classifiers; a regressor's output is columns.prediction")
        return self

    def digest(self) -> str:
        """Stable hash of the settings that shape results (used to key cached reference profiles)."""
        return hashlib.sha256(self.model_dump_json(exclude={"source"}).encode()).hexdigest()[:12]

    def results_key(self, day: date | str, name: str = "") -> str:
        """Key of a stored result for (model, day); never derived from the clock."""
        day_s = day if isinstance(day, str) else day.isoformat()
        base = f"{self.storage.results_prefix}/{self.name}/days/{day_s}"
        return f"{base}/{name}" if name else base


def _format_errors(path: str, exc: ValidationError) -> str:
    lines = [f"{path}: invalid model configuration ({exc.error_count()} error(s))"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - {field}: {err['msg']}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<memory>") -> ModelConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        cfg = ModelConfig.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    if source != "<memory>":
        # Relative local locations are relative to the YAML file, not to whichever directory runs the task.
        base = Path(source).resolve().parent
        storage = cfg.storage.model_copy(
            update={
                "uri": _anchor(cfg.storage.uri, base),
                "results_uri": _anchor(cfg.storage.results_uri, base),
            }
        )
        cfg = cfg.model_copy(update={"storage": storage})
    return cfg


def _anchor(uri: str | None, base: Path) -> str | None:
    if uri is None or "://" in uri or Path(uri).is_absolute():
        return uri
    return str((base / uri).resolve())


def load_config(path: str | Path) -> ModelConfig:
    """Read and validate one model YAML; raise ConfigError naming the file and the bad fields."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: could not be read: {exc.strerror or exc}") from None
    return parse_config(data, source=path)
