"""The detection additions to the reference profile, fitted in one call from `reference.build_profile`.

Kept apart from `reference` so the profile's core (bounds of every drift method and metric) stays as it is: this
adds the reference categories of every categorical column (for `drift.unseen`), the CUSUM calibration of the
evidence accumulated across days (`drift.evidence`), the domain classifier's state and bounds (`drift.domain`) and
the rows per reference day (`volume.day_size_check`). Everything here is JSON (lists and numbers); nothing is
pickled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.drift.domain import DomainClassifier, null_values
from watchkeeper.drift.evidence import calibrate
from watchkeeper.drift.methods import category_labels
from watchkeeper.drift.unseen import reference_categories
from watchkeeper.volume import reference_day_rows

DOMAIN_SAMPLES = 10
"""Day-size reference samples the domain classifier's noise bound is learned from."""


def fit_detection(
    cfg: ModelConfig,
    ref: pd.DataFrame,
    monitored: list,
    chunk_masks: list,
    boot_masks: list,
    family: int,
    statistics: dict[str, dict],
) -> dict:
    """Reference categories of the categorical monitored columns and which are open-ended; the CUSUM calibration
    of every whole-day drift statistic (`statistics`: bounds entries keyed `subject|method`); the domain
    classifier's state and bounds when `drift.domain_classifier` is on; the rows per whole reference day."""
    out = _categories(cfg, ref, monitored, chunk_masks)
    out["cusum"] = calibrate(statistics, cfg.reference.seed) if cfg.drift.evidence_days else {}
    out["volume"] = reference_day_rows(cfg, ref)
    features = [m for m in monitored if m.role == "feature"]
    if cfg.drift.domain_classifier and len(features) >= 2:
        out["domain_classifier"] = _domain(cfg, ref, features, chunk_masks, boot_masks, family)
    return out


def _domain(
    cfg: ModelConfig, ref: pd.DataFrame, features: list, chunk_masks: list, boot_masks: list, family: int
):
    """The classifier's reference state, and bounds from reference-vs-reference runs (every chunk, and up to
    `DOMAIN_SAMPLES` day-size samples: each run fits the classifier, so fewer than the other checks use)."""
    from watchkeeper.reference import _combined_bounds

    numeric = [m.column for m in features if m.kind == "numeric"]
    categorical = [m.column for m in features if m.kind == "categorical"]
    state = DomainClassifier.fit(ref, numeric, categorical, cfg.reference.seed)
    chunk_values = null_values(state, ref, chunk_masks)
    boot_values = null_values(state, ref, boot_masks[:DOMAIN_SAMPLES])
    bounds = _combined_bounds(
        cfg.drift.threshold, chunk_values, boot_values, "upper", cfg.reference.min_chunks, False, family
    )
    return {"state": state, **bounds}


def _categories(cfg: ModelConfig, ref: pd.DataFrame, monitored: list, chunk_masks: list) -> dict:
    """Categories of the columns whose values are labels: the model's classes, and features declared categorical or
    not numbers. An integer feature monitored as categorical only for its few values (a count) meets a value past
    its reference range now and then; that is a tail value for drift and the quality suite's range, not a new
    category."""
    declared = {f.name for f in cfg.columns.features if f.kind == "categorical"}
    columns, open_ended = {}, {}
    for m in monitored:
        if m.kind != "categorical" or m.column not in ref:
            continue
        values = ref[m.column]
        counted = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if m.role != "feature" or m.column in declared or not counted:
            ok = ref[m.column].notna().to_numpy()
            labels = category_labels(ref[m.column].to_numpy()[ok])
            columns[m.column] = labels
            open_ended[m.column] = _chunks_meeting_new_values(labels, [mask[ok] for mask in chunk_masks])
    return {"categories": reference_categories(columns), "open_ended": open_ended}


def _chunks_meeting_new_values(labels: np.ndarray, chunk_masks: list) -> int:
    """How many reference chunks hold a value that the rest of the reference lacks: an open-ended column (ids,
    free text) meets new values every day, so there a new value is no news."""
    cats, codes = np.unique(labels, return_inverse=True)
    total = np.bincount(codes, minlength=cats.size)
    count = 0
    for mask in chunk_masks:
        inside = np.bincount(codes[mask], minlength=cats.size)
        count += bool(np.any((inside == total) & (inside > 0)))
    return count
