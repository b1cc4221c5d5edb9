"""Multivariate drift by a domain classifier: how well a classifier tells today's rows from the reference's.

Rows of both are encoded as the PCA check encodes them (`multivariate`), a gradient-boosted classifier is fitted
to tell them apart, and its cross-validated ROC AUC is the statistic: 0.5 when the day looks like the reference,
towards 1 when something in the joint distribution lets rows be told apart. Its bounds come from the same
procedure run reference against reference (each reference chunk, and day-size random samples, against rows from
the rest), so they hold the classifier's own noise at these sample sizes. Up to `SAMPLE_ROWS` rows of each side are
used; the reference's sample is stored in the JSON profile as the encoded matrix.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from watchkeeper.drift import multivariate
from watchkeeper.drift.methods import register
from watchkeeper.result import Check, NotMeasured, Severity, Status, num

SAMPLE_ROWS = 2000
"""Rows of each side the classifier sees (more gives tighter bounds at a higher cost per day)."""
FOLDS = 2


def auroc(reference: np.ndarray, current: np.ndarray, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a classifier telling `current` rows (label 1) from `reference` rows (label 0)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([reference, current])
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(current))])
    model = HistGradientBoostingClassifier(
        max_iter=50, max_leaf_nodes=15, early_stopping=False, random_state=seed
    )
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def _sample(x: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= rows else x[rng.choice(len(x), rows, replace=False)]


@register(
    "domain_classifier",
    "multivariate",
    "Cross-validated ROC AUC of a classifier telling the day from the reference",
)
class DomainClassifier:
    @staticmethod
    def fit(reference: pd.DataFrame, numeric: list[str], categorical: list[str], seed: int = 0) -> dict:
        """The encoding (fitted on the whole reference) and an encoded sample of its rows, as JSON lists."""
        state = multivariate.fit(reference, numeric, categorical)
        encoding = {k: state[k] for k in ("numeric", "categorical", "impute", "freq", "mean", "scale")}
        rng = np.random.default_rng(seed)
        sample = _sample(multivariate._matrix(encoding, reference), SAMPLE_ROWS, rng)
        return {"encoding": encoding, "sample": sample.tolist(), "seed": seed}

    @staticmethod
    def score(state: dict, day: Iterable[pa.RecordBatch], rows: int) -> float:
        """AUROC of the stored reference sample against up to `SAMPLE_ROWS` rows drawn evenly over the day's batches."""
        rng = np.random.default_rng(state["seed"])
        keep = min(1.0, SAMPLE_ROWS / max(rows, 1))
        parts = []
        for batch in day:
            x = multivariate._matrix(state["encoding"], batch)
            parts.append(x[rng.random(len(x)) < keep] if keep < 1 else x)
        current = np.vstack(parts) if parts else np.empty((0, len(state["sample"][0])))
        return auroc(np.asarray(state["sample"]), current, state["seed"])


def null_values(state: dict, reference: pd.DataFrame, masks: list[np.ndarray]) -> list[float]:
    """The statistic on the reference against itself: each mask's rows (as a day) against a sample of the rest."""
    x = multivariate._matrix(state["encoding"], reference)
    rng = np.random.default_rng(state["seed"])
    values = []
    for mask in masks:
        if mask.sum() < 20 or (~mask).sum() < 20:
            continue
        values.append(
            auroc(_sample(x[~mask], SAMPLE_ROWS, rng), _sample(x[mask], SAMPLE_ROWS, rng), state["seed"])
        )
    return values


def domain_check(cfg, day, entry: dict, blocked: str | None) -> Check:
    """The day's domain-classifier check against the profile's `entry` (state and bounds)."""
    check = Check(
        id="drift.domain_classifier",
        stage="drift",
        name="domain_classifier",
        subject="multivariate",
        lower=entry.get("lower"),
        upper=entry.get("upper"),
        threshold_rule=entry.get("rule", ""),
        status=Status.SKIPPED,
        severity=Severity.WARNING,
        owner="model",
        details={"kind": "multivariate", "role": "multivariate"},
    )
    encoding = entry["state"]["encoding"]
    columns = encoding["numeric"] + encoding["categorical"]
    missing = [c for c in columns if c not in day]
    if blocked:
        check.reason, check.not_measured = f"could not measure: {blocked}", NotMeasured.UPSTREAM_QUALITY
    elif missing:
        check.reason = f"could not measure: columns {missing} are missing from the day's data"
        check.not_measured = NotMeasured.MISSING_COLUMN
    elif day.num_rows < cfg.drift.min_rows:
        check.reason = f"insufficient data: {day.num_rows} rows < drift.min_rows {cfg.drift.min_rows}"
        check.not_measured = NotMeasured.TOO_FEW_ROWS
    elif check.upper is None:
        check.reason, check.not_measured = (
            "could not measure: no reference bound",
            NotMeasured.NO_REFERENCE_BOUND,
        )
    else:
        value = DomainClassifier.score(entry["state"], day.batches(columns), day.num_rows)
        check.details["rows"] = min(day.num_rows, SAMPLE_ROWS)
        check.judge(
            value,
            f"a classifier tells the day's rows from the reference's (ROC AUC {value:.3f} > {num(check.upper)}): "
            "the joint distribution of the inputs changed",
        )
    return check
