"""Champion against challenger on the same holdout: MLflow's evaluator, its threshold validation, and a bootstrap.

Both models are scored with `mlflow.models.evaluate` inside one comparison run (metrics prefixed `champion_` and
`challenger_`); `mlflow.validate_evaluation_results` applies the thresholds (the primary metric must gain
`min_margin`, guardrails must not worsen beyond their tolerance); a paired bootstrap of the primary metric's
difference says whether the gain is larger than chance. The verdict is "better" only when all three agree.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from watchkeeper.config import ModelConfig
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.reference import labels_of
from watchkeeper.retraining import registry
from watchkeeper.retraining.bootstrap import paired_bootstrap
from watchkeeper.retraining.shadow_rows import ShadowComparison, compare_on_shadow_rows, log_comparison
from watchkeeper.retraining.train import input_columns
from watchkeeper.retraining.training_set import TrainingSet
from watchkeeper.storage import Storage

MLFLOW_NAMES = {
    ("roc_auc", "binary_classification"): "roc_auc",
    ("pr_auc", "binary_classification"): "precision_recall_auc",
    ("log_loss", "binary_classification"): "log_loss",
    ("f1", "binary_classification"): "f1_score",
    ("precision", "binary_classification"): "precision_score",
    ("recall", "binary_classification"): "recall_score",
    ("accuracy", "binary_classification"): "accuracy_score",
    ("mae", "regression"): "mean_absolute_error",
    ("mse", "regression"): "mean_squared_error",
    ("rmse", "regression"): "root_mean_squared_error",
    ("r2", "regression"): "r2_score",
    ("mape", "regression"): "mean_absolute_percentage_error",
}
"""Watchkeeper metric → the key MLflow's default evaluator reports it under (metrics it can validate)."""
DEFAULTS = {"binary_classification": ("roc_auc", ["log_loss"]), "regression": ("mae", ["rmse"])}
MODEL_TYPE = {"binary_classification": "classifier", "regression": "regressor"}


class Verdict(BaseModel):
    """The outcome of one champion/challenger comparison, stored as `verdict.json` and sent to the model owner."""

    model: str
    request_day: str
    champion_version: str
    challenger_version: str
    primary_metric: str
    higher_is_better: bool
    champion: float | None
    challenger: float | None
    difference: float | None
    """Challenger minus champion, signed so that positive means the challenger is better."""
    ci: list[float]
    """Bootstrap interval of `difference` at `confidence`."""
    confidence: float
    beyond_chance: bool
    """The interval lies above 0: the gain is larger than the holdout's sampling noise."""
    thresholds_passed: bool
    threshold_failures: str = ""
    """MLflow's message when `validate_evaluation_results` rejected the challenger."""
    guardrails: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    segments: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    holdout_days: list[str]
    holdout_rows: int
    train_rows: int
    verdict: Literal["better", "not_better"]
    why: str
    comparison_run_id: str | None = None
    shadow: ShadowComparison | None = None
    """The same difference on the challenger's labelled shadow rows, when there are any (evidence, not a gate)."""

    def summary(self) -> str:
        """The holdout's reasoning, then whether the shadow days agree (when there are any)."""
        return self.why if self.shadow is None else f"{self.why}. Shadow: {self.shadow.why}"


def primary_and_guardrails(cfg: ModelConfig) -> tuple[str, list[str]]:
    ev = cfg.model.evaluation
    primary, guards = DEFAULTS[cfg.task]
    primary = ev.primary_metric or primary
    guards = [g for g in (ev.guardrails if ev.guardrails is not None else guards) if g != primary]
    for name in (primary, *guards):
        get_metric(name, cfg.task)
        if (name, cfg.task) not in MLFLOW_NAMES:
            valid = sorted(n for n, t in MLFLOW_NAMES if t == cfg.task)
            raise ValueError(
                f"metric {name!r} is not reported by MLflow's evaluator; valid: {', '.join(valid)}"
            )
    return primary, guards


def _outputs(cfg: ModelConfig, model: Any, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if cfg.task == "binary_classification":
        score = model.predict_proba(x)[:, 1]
        return model.predict(x).astype(int), score
    return np.asarray(model.predict(x), dtype=float), None


def compare(
    cfg: ModelConfig,
    tracking_uri: str,
    ts: TrainingSet,
    trained: dict[str, Any],
    storage: Storage | None = None,
) -> Verdict:
    """Score champion and challenger on the holdout in one MLflow run and decide the verdict; with `storage` (the
    results store), the
    challenger's labelled shadow rows (if any) are bootstrapped too and reported beside the holdout."""
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult

    ev = cfg.model.evaluation
    primary, guards = primary_and_guardrails(cfg)
    champ_v, chall_v = trained["champion_version"], trained["version"]
    champion = registry.load(cfg, tracking_uri, champ_v)
    challenger = registry.load(cfg, tracking_uri, chall_v)
    columns = input_columns(cfg, champion)
    target = cfg.columns.target
    holdout = ts.holdout
    y = labels_of(cfg, holdout) if holdout[target].dtype == object else holdout[target].to_numpy()
    c = registry.client(tracking_uri)
    f = ts.facts
    tags = {"watchkeeper.model": cfg.name, "watchkeeper.role": "comparison",
            "watchkeeper.request_day": f["request_day"], "watchkeeper.champion_version": champ_v,
            "watchkeeper.challenger_version": chall_v, "watchkeeper.holdout_days": ",".join(f["holdout_days"])}  # fmt: skip
    results = {}
    exp = registry.experiment(c, cfg, tracking_uri)
    run_name = f"{cfg.name} champion v{champ_v} vs challenger v{chall_v}"
    with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=tags) as run:
        a, b = _outputs(cfg, champion, holdout[columns]), _outputs(cfg, challenger, holdout[columns])
        for role, (pred, score) in (("champion", a), ("challenger", b)):
            out = _evaluate(cfg, target, y, pred, score, role)
            results[role] = EvaluationResult(
                {k.removeprefix(f"{role}_"): v for k, v in out.metrics.items()}, out.artifacts
            )
        thresholds = {}
        m = get_metric(primary, cfg.task)
        kwargs = {"min_absolute_change": ev.min_margin} if ev.min_margin > 0 else {"min_relative_change": 0.0}
        thresholds[MLFLOW_NAMES[(primary, cfg.task)]] = MetricThreshold(
            greater_is_better=m.higher_is_better, **kwargs
        )
        guard_values = {}
        for g in guards:
            gm, key = get_metric(g, cfg.task), MLFLOW_NAMES[(g, cfg.task)]
            base = results["champion"].metrics.get(key)
            guard_values[g] = {"champion": base, "challenger": results["challenger"].metrics.get(key)}
            if base is not None:
                bound = (
                    base - ev.guardrail_tolerance if gm.higher_is_better else base + ev.guardrail_tolerance
                )
                thresholds[key] = MetricThreshold(
                    threshold=float(bound), greater_is_better=gm.higher_is_better
                )
        failures = ""
        try:
            mlflow.validate_evaluation_results(thresholds, results["challenger"], results["champion"])
        except Exception as exc:  # ModelValidationFailedException: the message lists each failed threshold
            failures = str(exc)
        diff, ci = paired_bootstrap(primary, cfg.task, y, a, b, ev.bootstrap_samples, ev.confidence)
        segments = _segments(cfg, holdout, y, a, b, primary)
        key = MLFLOW_NAMES[(primary, cfg.task)]
        champ_value, chall_value = (
            results["champion"].metrics.get(key),
            results["challenger"].metrics.get(key),
        )
        beyond = ci[0] > 0
        better = not failures and beyond
        why = _why(primary, champ_value, chall_value, diff, ci, ev.confidence, failures, beyond)
        mlflow.log_metrics({f"difference_{primary}": diff, f"difference_{primary}_ci_lower": ci[0],
                            f"difference_{primary}_ci_upper": ci[1]})  # fmt: skip
        for seg, values in segments.items():
            mlflow.log_metrics({_safe(f"segment.{seg}.{k}"): v for k, v in values.items() if v is not None})
        mlflow.set_tags(
            {"watchkeeper.verdict": "better" if better else "not_better", "watchkeeper.why": why[:5000]}
        )
        verdict = Verdict(
            model=cfg.name, request_day=f["request_day"], champion_version=champ_v, challenger_version=chall_v,
            primary_metric=primary, higher_is_better=m.higher_is_better, champion=champ_value,
            challenger=chall_value, difference=diff, ci=ci, confidence=ev.confidence, beyond_chance=beyond,
            thresholds_passed=not failures, threshold_failures=failures, guardrails=guard_values,
            segments=segments, holdout_days=f["holdout_days"], holdout_rows=f["holdout_rows"],
            train_rows=f["train_rows"], verdict="better" if better else "not_better", why=why,
            comparison_run_id=run.info.run_id,
        )  # fmt: skip
        if storage is not None:
            verdict.shadow = compare_on_shadow_rows(cfg, storage, chall_v, better)
            if verdict.shadow is not None:
                log_comparison(c, verdict)
        mlflow.log_dict(verdict.model_dump(mode="json"), "verdict.json")
    c.set_model_version_tag(
        registry.model_section(cfg).registered_name, chall_v, "watchkeeper.verdict", verdict.verdict
    )
    return verdict


SCORE_METRICS = {"roc_auc": "roc_auc", "precision_recall_auc": "pr_auc", "log_loss": "log_loss"}
"""MLflow's key → our metric, for the classifier metrics that need scores: with predictions given, MLflow's
evaluator has no probabilities, so these come in as `extra_metrics` computed from the `score` column."""


def _score_metric(key: str):
    from mlflow.metrics import MetricValue
    from mlflow.models import make_metric

    metric = get_metric(SCORE_METRICS[key], "binary_classification")

    def eval_fn(predictions, targets, score):
        value = compute(metric, np.asarray(targets), np.asarray(predictions), np.asarray(score, dtype=float))
        return MetricValue(aggregate_results={key: value})

    return make_metric(eval_fn=eval_fn, greater_is_better=metric.higher_is_better, name=key)


def _evaluate(cfg: ModelConfig, target: str, y: np.ndarray, pred: np.ndarray, score, role: str):
    """`mlflow.models.evaluate` of one model's holdout outputs (scored once, by the registry's model). Evaluating
    predictions rather than the model skips MLflow's reload of the model and its five matplotlib figures per
    classifier (ROC, PR, lift, calibration curves: 60 % of the evaluation's time, none of it in the verdict); the
    confusion matrix stays as the comparison run's image."""
    import mlflow

    classifier = cfg.task == "binary_classification"
    data = pd.DataFrame({target: y, "prediction": pred, **({"score": score} if score is not None else {})})
    config = {"log_model_explainability": False, "metric_prefix": f"{role}_"}
    return mlflow.models.evaluate(
        data=data, predictions="prediction", targets=target, model_type=MODEL_TYPE[cfg.task],
        evaluators=["default"], evaluator_config={"default": {**config, **({"pos_label": 1, "label_list": [0, 1]} if classifier else {})}},
        extra_metrics=[_score_metric(k) for k in SCORE_METRICS] if classifier and score is not None else None,
    )  # fmt: skip


def _why(primary, champ, chall, diff, ci, confidence, failures, beyond) -> str:
    def fmt(v):
        return "–" if v is None else f"{v:.4f}"

    head = f"{primary} on the holdout: champion {fmt(champ)}, challenger {fmt(chall)} (gain {diff:+.4f}, "
    head += f"{confidence:.0%} interval [{ci[0]:+.4f}, {ci[1]:+.4f}])"
    if failures:
        return f"{head}; thresholds not met: {' '.join(failures.split())}"
    if not beyond:
        return f"{head}; the gain is within chance (the interval includes 0)"
    return f"{head}; thresholds met and the gain is larger than chance"


def _segments(
    cfg: ModelConfig, holdout: pd.DataFrame, y: np.ndarray, a: tuple, b: tuple, primary: str
) -> dict:
    metric = get_metric(primary, cfg.task)
    out = {}
    for column in cfg.segments.columns:
        if column not in holdout:
            continue
        values = holdout[column].astype(str).to_numpy()
        for value in pd.unique(values):
            m = values == value
            if m.sum() < cfg.segments.min_rows:
                continue
            out[f"{column}={value}"] = {
                "champion": compute(metric, y[m], *_rows(a, m)),
                "challenger": compute(metric, y[m], *_rows(b, m)),
                "rows": float(m.sum()),
            }
    return out


def _rows(outputs: tuple, mask: np.ndarray) -> tuple:
    return outputs[0][mask], None if outputs[1] is None else outputs[1][mask]


def _safe(key: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", key)
