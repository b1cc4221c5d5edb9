"""Labelled shadow rows as evidence: both models' outputs on the same labelled rows, and a paired bootstrap over them.

The daily shadow step stores, per shadowed prediction day labelled that day, the label and both models' outputs
(no ids, no features) under `days/<labelling day>/shadow/labelled/<prediction day>.parquet`; the latest labelling
of each prediction day counts. `compare_on_shadow_rows` pools a version's rows and bootstraps the primary metric's
difference as the holdout's verdict does (`bootstrap.paired_bootstrap`, rows resampled independently), and says
whether that interval agrees with the holdout's verdict. It is reported beside the holdout's interval, never gating.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel

from watchkeeper.config import ModelConfig
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.retraining.bootstrap import paired_bootstrap
from watchkeeper.storage import Storage

if TYPE_CHECKING:
    from watchkeeper.retraining.evaluate import Verdict

LABELLED = "shadow/labelled"
ROLES = ("champion", "challenger")


class ShadowComparison(BaseModel):
    """The primary metric of champion and challenger on a version's pooled labelled shadow rows."""

    version: str
    metric: str
    days: list[str]
    """Prediction days whose labelled shadow rows were pooled."""
    rows: int
    champion: float | None
    challenger: float | None
    difference: float
    """Challenger minus champion, signed so that positive means the challenger is better."""
    ci: list[float]
    confidence: float
    agrees: bool | None
    """With the holdout's verdict: True, False, or None when the shadow interval neither confirms nor contradicts."""
    why: str


def store_labelled(
    results: Storage, key: str, version: str, y: np.ndarray, champion: tuple, challenger: tuple
) -> None:
    """One prediction day's labelled shadow rows: the label and both models' (prediction, score)."""
    frame = {"version": version, "y": np.asarray(y)}
    for role, (pred, score) in zip(ROLES, (champion, challenger), strict=True):
        frame[f"{role}_prediction"] = np.asarray(pred)
        if score is not None:
            frame[f"{role}_score"] = np.asarray(score, dtype=float)
    buf = io.BytesIO()
    pd.DataFrame(frame).to_parquet(buf, index=False)
    results.write_bytes(key, buf.getvalue())


def labelled_rows(cfg: ModelConfig, results: Storage, version: str | int) -> pd.DataFrame:
    """All labelled shadow rows of `version` (the latest labelling of each prediction day), with a `day` column."""
    prefix = f"{cfg.storage.results_prefix}/{cfg.name}/days/"
    latest: dict[str, str] = {}
    for key in results.list(prefix):  # sorted by labelling day: a later labelling replaces an earlier one
        if f"/{LABELLED}/" in key and key.endswith(".parquet"):
            latest[key.rsplit("/", 1)[1].removesuffix(".parquet")] = key
    frames = []
    for pday, key in sorted(latest.items()):
        rows = pd.read_parquet(io.BytesIO(results.read_bytes(key)))
        if len(rows) and str(rows["version"].iloc[0]) == str(version):
            frames.append(rows.assign(day=pday))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _outputs(rows: pd.DataFrame, role: str) -> tuple[np.ndarray, np.ndarray | None]:
    score = f"{role}_score"
    return rows[f"{role}_prediction"].to_numpy(), rows[score].to_numpy(float) if score in rows else None


def compare_on_shadow_rows(
    cfg: ModelConfig, results: Storage, version: str | int, holdout_better: bool
) -> ShadowComparison | None:
    """The paired bootstrap of the primary metric's difference over `version`'s labelled shadow rows; None without
    any. `holdout_better`: the holdout's verdict, which the comparison says it agrees with or not."""
    from watchkeeper.retraining.evaluate import primary_and_guardrails

    rows = labelled_rows(cfg, results, version)
    if rows.empty:
        return None
    ev = cfg.model.evaluation
    metric = primary_and_guardrails(cfg)[0]
    y = rows["y"].to_numpy()
    a, b = _outputs(rows, "champion"), _outputs(rows, "challenger")
    diff, ci = paired_bootstrap(metric, cfg.task, y, a, b, ev.bootstrap_samples, ev.confidence)
    m = get_metric(metric, cfg.task)
    champion, challenger = compute(m, y, *a), compute(m, y, *b)
    days = [str(d) for d in sorted(rows["day"].unique())]
    agrees, finding = _agreement(holdout_better, ci)
    why = (
        f"{metric} on {len(rows)} labelled shadow row(s) of {len(days)} day(s): champion {_n(champion)}, "
        f"challenger {_n(challenger)} (gain {diff:+.4f}, {ev.confidence:.0%} interval [{ci[0]:+.4f}, "
        f"{ci[1]:+.4f}]); {finding}"
    )
    return ShadowComparison(
        version=str(version), metric=metric, days=days, rows=len(rows), champion=champion,
        challenger=challenger, difference=diff, ci=ci, confidence=ev.confidence, agrees=agrees, why=why,
    )  # fmt: skip


def log_comparison(c, verdict: Verdict) -> None:
    """The shadow interval into the comparison run beside the holdout's (`shadow_difference_<metric>`, its bounds,
    rows and days; step = labelled shadow days, so later re-evaluations add points), and the verdict text."""
    from mlflow.entities import Metric, RunTag

    s, run_id = verdict.shadow, verdict.comparison_run_id
    if s is None or not run_id:
        return
    step, at = len(s.days), int(pd.Timestamp(max(s.days)).timestamp() * 1000)
    name = f"shadow_difference_{s.metric}"
    values = {name: s.difference, f"{name}_ci_lower": s.ci[0], f"{name}_ci_upper": s.ci[1],
              "shadow_rows": float(s.rows), "shadow_days": float(step)}  # fmt: skip
    tags = {"watchkeeper.shadow_evidence": s.why[:5000], "watchkeeper.why": verdict.summary()[:5000]}
    c.log_batch(
        run_id,
        metrics=[Metric(k, float(v), at, step) for k, v in values.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )


def _agreement(holdout_better: bool, ci: list[float]) -> tuple[bool | None, str]:
    better, worse = ci[0] > 0, ci[1] < 0
    if holdout_better and better:
        return True, "the shadow days agree with the holdout: a gain larger than chance there too"
    if holdout_better and worse:
        return False, "the shadow days disagree with the holdout: the challenger is worse there beyond chance"
    if holdout_better:
        return (
            None,
            "the shadow days neither confirm nor contradict the holdout's gain (their interval includes 0)",
        )
    if better:
        return False, "the shadow days disagree with the holdout: they show a gain larger than chance"
    return True, "the shadow days agree with the holdout: no gain larger than chance there either"


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def stored_verdict(cfg: ModelConfig, c, results: Storage, version: str | int) -> Verdict | None:
    """The verdict that proposed `version` (its `verdict.json`, found through the version's request-day tag)."""
    from watchkeeper.retraining.evaluate import Verdict
    from watchkeeper.retraining.run import prefix

    tags = c.get_model_version(cfg.model.registered_name, str(version)).tags
    key = f"{prefix(cfg, tags.get('watchkeeper.request_day', ''))}/verdict.json"
    if "watchkeeper.request_day" not in tags or not results.exists(key):
        return None
    verdict = Verdict.model_validate(results.read_json(key))
    return verdict if verdict.challenger_version == str(version) else None


def reassess(cfg: ModelConfig, c, results: Storage, version: str | int) -> Verdict | None:
    """The shadow step's re-evaluation: the verdict of `version` with its shadow comparison brought up to date
    (stored in `verdict.json` and logged to the comparison run); None when there is no verdict or no shadow row."""
    from watchkeeper.retraining.run import prefix

    verdict = stored_verdict(cfg, c, results, version)
    if verdict is None:
        return None
    shadow = compare_on_shadow_rows(cfg, results, version, verdict.verdict == "better")
    if shadow is None:
        return verdict
    if verdict.shadow is None or verdict.shadow.days != shadow.days or verdict.shadow.rows != shadow.rows:
        verdict.shadow = shadow
        results.write_json(
            f"{prefix(cfg, verdict.request_day)}/verdict.json", verdict.model_dump(mode="json")
        )
        log_comparison(c, verdict)
    return verdict
