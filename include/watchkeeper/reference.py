"""The reference profile: column kinds, chunking, and every check's bounds learned from reference chunks.

Built once per (reference version, config) and cached in storage: bounds and small facts as JSON, the drift methods'
fitted states (sorted reference values, bin edges and shares, category shares) as one artifact beside it, so a
day's run reads neither the reference nor re-fits anything. Reference samples (chunks and day-size subsamples) are
summarized from one sort of each column (`_ColumnSampler`), not re-sorted per sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.disclosure import drop_pii_table
from watchkeeper.drift.detection_profile import fit_detection
from watchkeeper.drift.methods import Summary, category_labels, get_method
from watchkeeper.loading import read_table
from watchkeeper.performance.metrics import DEFAULTS, compute, get_metric
from watchkeeper.safe_cache import read_profile, write_profile
from watchkeeper.storage import Storage
from watchkeeper.thresholds import StdThreshold, derive_bounds, split_tail

log = logging.getLogger(__name__)
PROFILE_VERSION = 14  # 14: PCA error bounds from out-of-fold errors; 13: rows per reference day (`volume`)


@dataclass(frozen=True)
class Monitored:
    """A column the drift stage watches: its kind and role (feature or prediction)."""

    column: str
    kind: str
    role: str  # "feature" | "prediction"


def load_reference(cfg: ModelConfig, storage: Storage) -> pd.DataFrame:
    from watchkeeper.stamps import parse_text_timestamps_table

    table = drop_pii_table(cfg, read_table(storage, cfg.paths.reference, cfg.paths.csv))
    return parse_text_timestamps_table(table, cfg.columns.timestamp).to_pandas()


CATEGORICAL_LIKE_MAX_VALUES = 20
"""An integer column with at most this many distinct values is monitored as categorical: on a handful of values KS
and Wasserstein are weak and a count test sees every value's share."""


def infer_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    if pd.api.types.is_integer_dtype(series) and series.nunique() <= CATEGORICAL_LIKE_MAX_VALUES:
        return "categorical"
    return "numeric"


def monitored_columns(cfg: ModelConfig, ref: pd.DataFrame) -> list[Monitored]:
    """Features (kind from config or inferred) plus the model's outputs, in config order."""
    cols = cfg.columns
    out = [
        Monitored(f.name, f.kind or infer_kind(ref[f.name]), "feature")
        for f in cols.features
        if f.name in ref
    ]
    if cols.score and cols.score in ref:
        out.append(Monitored(cols.score, "numeric", "prediction"))
    if cols.prediction in ref:
        kind = "categorical" if cfg.task == "binary_classification" else "numeric"
        out.append(Monitored(cols.prediction, kind, "prediction"))
    return out


def chunks(cfg: ModelConfig, ref: pd.DataFrame) -> list[pd.DataFrame]:
    """Reference split like monitored days: by calendar day of the timestamp, else by `chunk_rows` rows."""
    ts = cfg.columns.timestamp
    if ts and ts in ref:
        days = pd.to_datetime(ref[ts], utc=True, errors="coerce").dt.date
        parts = [g for _, g in ref.groupby(days, sort=True)]
        if len(parts) >= cfg.reference.min_chunks:
            return parts
    size = cfg.reference.chunk_rows or max(len(ref) // 10, 1)
    return [ref.iloc[i : i + size] for i in range(0, len(ref) - size + 1, size)]


def is_label(series: pd.Series, label: object) -> np.ndarray:
    """`series.astype(str) == str(label)` as booleans, without writing an integer column out as strings."""
    text = str(label)
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is not None and str(number) == text:
            return (series == number).fillna(False).to_numpy(dtype=bool)
    return (series.astype(str) == text).to_numpy(dtype=bool)


def labels_of(cfg: ModelConfig, frame: pd.DataFrame) -> np.ndarray:
    """Target as 0/1 for classifiers (positive label → 1), as float for regressors."""
    y = frame[cfg.columns.target]
    if cfg.columns.label_values:
        y = y.astype(str).map(cfg.columns.label_values)
    if cfg.task == "binary_classification":
        return is_label(y, cfg.columns.positive_label).astype(int)
    return pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)


def predictions_of(cfg: ModelConfig, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    cols = cfg.columns
    score = None
    if cols.score and cols.score in frame:
        score = pd.to_numeric(frame[cols.score], errors="coerce").to_numpy(dtype=float)
    if cfg.task == "binary_classification":
        if cols.prediction in frame:
            pred = is_label(frame[cols.prediction], cols.positive_label).astype(int)
        else:
            pred = (score >= cfg.performance.decision_threshold).astype(int)
        return pred, score
    return pd.to_numeric(frame[cols.prediction], errors="coerce").to_numpy(dtype=float), score


def performance_metrics(cfg: ModelConfig) -> list[str]:
    return cfg.performance.metrics or DEFAULTS[cfg.task]


def drift_methods(cfg: ModelConfig, m: Monitored) -> list[str]:
    override = cfg.drift.features.get(m.column)
    if override and override.methods:
        return override.methods
    return cfg.drift.numeric_methods if m.kind == "numeric" else cfg.drift.categorical_methods


def drift_threshold(cfg: ModelConfig, column: str):
    override = cfg.drift.features.get(column)
    return override.threshold if override and override.threshold else cfg.drift.threshold


def _column_array(series: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """All rows' values (as the methods want them) and which rows are usable, for fast row masking."""
    if kind == "numeric":
        arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return arr, np.isfinite(arr)
    ok = series.notna().to_numpy()
    labels = category_labels(series.to_numpy()[ok])
    arr = np.empty(len(series), dtype=labels.dtype)
    arr[ok] = labels
    return arr, ok


class _ColumnSampler:
    """Summaries (see `drift.methods`) of any row subset of one reference column, from one sort of the column.

    A subset's sorted values are the full sorted array filtered by the subset's rows in sorted order (linear, no
    sort); a subset's category counts are one `bincount` of its category codes.
    """

    def __init__(self, series: pd.Series, kind: str):
        arr, self.ok = _column_array(series, kind)
        self.kind = kind
        if kind == "numeric":
            values = arr[self.ok]
            self.order = np.argsort(values, kind="stable")
            self.sorted = values[self.order]
        else:
            self.categories, self.codes = np.unique(arr[self.ok], return_inverse=True)
            self.total = np.bincount(self.codes, minlength=self.categories.size)

    def _counts(self, counts: np.ndarray) -> dict[str, int]:
        keep = counts > 0
        return dict(zip(self.categories[keep].tolist(), counts[keep].tolist(), strict=True))

    def full(self) -> Summary:
        return self.sorted if self.kind == "numeric" else self._counts(self.total)

    def split(self, rows: np.ndarray) -> tuple[Summary, Summary, int, int]:
        """(summary of the other rows, summary of `rows`, their sizes) for a boolean mask over all rows."""
        inside = rows[self.ok]
        if self.kind == "numeric":
            in_sorted = inside[self.order]
            cur, rest = self.sorted[in_sorted], self.sorted[~in_sorted]
            return rest, cur, rest.size, cur.size
        cur = np.bincount(self.codes[inside], minlength=self.categories.size)
        return (
            self._counts(self.total - cur),
            self._counts(cur),
            int((self.total - cur).sum()),
            int(cur.sum()),
        )


def null_masks(cfg: ModelConfig, ref: pd.DataFrame, parts: list[pd.DataFrame]) -> tuple[list, list]:
    """Row masks standing for a day under no drift: each reference chunk, and random subsamples of chunk size.

    Chunks show real day-to-day variation; the subsamples pin down pure sampling noise at a day's size, which a
    handful of chunks estimates poorly.
    """
    n = len(ref)  # `ref` has a RangeIndex, so a chunk's index labels are its row positions
    chunk_masks = []
    for p in parts:
        mask = np.zeros(n, dtype=bool)
        mask[p.index.to_numpy()] = True
        chunk_masks.append(mask)
    size = int(np.median([len(p) for p in parts]))
    rng = np.random.default_rng(cfg.reference.seed)
    boot_masks = []
    for _ in range(cfg.reference.bootstrap_samples if size < n else 0):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size, replace=False)] = True
        boot_masks.append(mask)
    return chunk_masks, boot_masks


def _combined_bounds(
    spec,
    chunk_values: list[float],
    boot_values: list[float],
    direction: str,
    min_chunks: int,
    nonnegative: bool,
    family: int = 1,
) -> dict:
    """The wider of the day-to-day bound (chunks) and the sampling-noise bound (subsamples); `family` as in
    `derive_bounds`."""
    days = derive_bounds(spec, chunk_values, direction, min_chunks, nonnegative, family)
    noise = derive_bounds(spec, boot_values, direction, min_chunks, nonnegative, family)
    lows = [b for b in (days.lower, noise.lower) if b is not None]
    highs = [b for b in (days.upper, noise.upper) if b is not None]
    both = days.lower is not None or days.upper is not None
    rule = f"{days.rule}; sampling noise: {noise.rule.replace('reference chunks', 'random day-size samples')}"
    return {
        "lower": (min(lows) if lows else None) if both or noise.lower is not None else None,
        "upper": (max(highs) if highs else None) if both or noise.upper is not None else None,
        "rule": rule if noise.upper is not None or noise.lower is not None else days.rule,
        "chunk_values": chunk_values,
        "boot_values": boot_values,  # with chunk_values: what `preview` re-derives bounds from under other thresholds
        "center": float(np.mean(chunk_values)) if chunk_values else None,
        "days_std": float(np.std(chunk_values, ddof=1)) if len(chunk_values) > 1 else None,
        "noise_std": float(np.std(boot_values, ddof=1)) if len(boot_values) > 1 else None,
    }


def build_profile(cfg: ModelConfig, ref: pd.DataFrame) -> dict:
    """Every bound the daily checks need, from statistics on reference chunks and day-size subsamples."""
    ref = ref.reset_index(drop=True)
    parts = chunks(cfg, ref)
    chunk_masks, boot_masks = null_masks(cfg, ref, parts)
    monitored = monitored_columns(cfg, ref)
    tracked = segment_values(cfg, ref)
    family = drift_family(cfg, monitored, tracked)
    drift, drift_state = _drift_profile(cfg, ref, monitored, chunk_masks, boot_masks, family)
    segments, segment_states = _segment_profile(cfg, ref, monitored, tracked, family)
    drift_state.update(segment_states)
    labels = _label_profile(cfg, ref, chunk_masks, boot_masks, drift_state)
    multivariate = _multivariate_profile(cfg, ref, monitored, chunk_masks, boot_masks, family)
    importance, importance_source = _importance(cfg, ref, monitored)
    performance: dict[str, dict] = {}
    if cfg.columns.target in ref:
        y = labels_of(cfg, ref)
        pred, score = predictions_of(cfg, ref)
        for name in performance_metrics(cfg):
            metric = get_metric(name, cfg.task)
            chunk_values, boot_values = (
                [
                    v
                    for mask in masks
                    if (v := compute(metric, y[mask], pred[mask], None if score is None else score[mask]))
                    is not None
                ]
                for masks in (chunk_masks, boot_masks)
            )
            spec = cfg.performance.threshold
            performance[name] = _combined_bounds(
                spec, chunk_values, boot_values, metric.direction, cfg.reference.min_chunks, False
            )
    estimation = _estimation_profile(cfg, ref, chunk_masks, boot_masks) if performance else {}
    segment_performance = (
        _segment_performance_profile(cfg, ref, chunk_masks, estimation) if performance else {}
    )
    rows = [len(p) for p in parts]
    return {
        "profile_version": PROFILE_VERSION,
        "columns": [{"column": m.column, "kind": m.kind, "role": m.role} for m in monitored],
        "chunks": {
            "count": len(parts),
            "rows_min": min(rows),
            "rows_median": float(np.median(rows)),
            "rows_max": max(rows),
        },
        "samples": len(boot_masks),
        "sample_rows": int(boot_masks[0].sum()) if boot_masks else None,
        "reference_rows": len(ref),
        "drift": drift,
        "drift_family": family,
        "segments": segments,
        "labels": labels,
        "_drift_state": drift_state,
        "multivariate": multivariate,
        "importance": importance,
        "importance_source": importance_source,
        "performance": performance,
        "estimation": estimation,
        "segment_performance": segment_performance,
        "detection": fit_detection(
            cfg,
            ref,
            monitored,
            chunk_masks,
            boot_masks,
            family,
            {**drift, **({"multivariate|pca_reconstruction_error": multivariate} if multivariate else {})},
        ),  # fmt: skip
    }


def drift_family(cfg: ModelConfig, monitored: list, segments: dict[str, list[str]]) -> int:
    """How many drift checks a day makes (whole day, each segment, multivariate): what a family-wise rule splits its
    false-alarm rate over (`drift.family_wise`); 1 when each check keeps its own rate."""
    if not cfg.drift.family_wise:
        return 1
    methods = {m.column: len(drift_methods(cfg, m)) for m in monitored}
    whole = sum(methods.values())
    inside = sum(len(values) * (whole - methods.get(column, 0)) for column, values in segments.items())
    features = sum(m.role == "feature" for m in monitored)
    multivariate = int(cfg.drift.multivariate) + int(cfg.drift.domain_classifier)
    return whole + inside + multivariate * int(features >= 2)


def label_family(cfg: ModelConfig) -> int:
    """A day's label checks: each method on up to `label_window_days + 1` prediction days that got labels."""
    if not cfg.drift.family_wise:
        return 1
    m = Monitored(cfg.columns.target, target_kind(cfg), "label")
    return len(drift_methods(cfg, m)) * (cfg.performance.label_window_days + 1)


def realized_family(cfg: ModelConfig, prediction_days: int) -> int:
    """A day's realized-metric checks: each configured metric on each of the `prediction_days` whose labels arrived
    that day (a segment's checks are split the same way); 1 when `drift.family_wise` is off. Counted per day, not
    from `label_window_days` as label drift's family: labels reach only the days they arrive for, and a window of 30
    would widen every bound as if 31 days got labels."""
    if not cfg.drift.family_wise:
        return 1
    return len(performance_metrics(cfg)) * max(prediction_days, 1)


def _drift_profile(
    cfg: ModelConfig,
    ref: pd.DataFrame,
    monitored: list,
    chunk_masks: list,
    boot_masks: list,
    family: int = 1,
) -> tuple[dict[str, dict], dict[str, object]]:
    """Bounds of every (column, method) and each method's state fitted on the whole reference column.

    Each sample is compared with the reference it is left out of, as a new day would be.
    """
    bounds: dict[str, dict] = {}
    states: dict[str, object] = {}
    for m in monitored:
        sampler = _ColumnSampler(ref[m.column], m.kind)
        methods = {name: get_method(name, m.kind) for name in drift_methods(cfg, m)}
        values: dict[str, tuple[list, list]] = {name: ([], []) for name in methods}
        for group, masks in enumerate((chunk_masks, boot_masks)):
            for mask in masks:
                rest, cur, n_rest, n_cur = sampler.split(mask)
                if n_rest and n_cur:
                    for name, method in methods.items():
                        values[name][group].append(method.score(method.fit(rest), cur))
        full = sampler.full()
        for name, method in methods.items():
            spec = drift_threshold(cfg, m.column)
            chunk_values, boot_values = values[name]
            entry = _combined_bounds(
                spec, chunk_values, boot_values, "upper", cfg.reference.min_chunks, True, family
            )
            bounds[state_key(m.column, name)] = {**entry, "reference_rows": int(sampler.ok.sum())}
            states[state_key(m.column, name)] = method.fit(full)
    return bounds, states


def segment_values(cfg: ModelConfig, ref: pd.DataFrame) -> dict[str, list[str]]:
    """Per configured segment column in the reference: its `max_values` most frequent values, as category labels."""
    out = {}
    for column in cfg.segments.columns:
        if column in ref:
            labels, ok = _column_array(ref[column], "categorical")
            cats, counts = np.unique(labels[ok], return_counts=True)
            order = np.lexsort((cats, -counts))[: cfg.segments.max_values]
            out[column] = cats[order].tolist()
    return out


def state_key(column: str, method: str, segment: str | None = None) -> str:
    """Key of a fitted drift state (and of its bounds): `column|method`, prefixed `segment#` inside a segment."""
    return f"{segment}#{column}|{method}" if segment else f"{column}|{method}"


def _segment_profile(
    cfg: ModelConfig, ref: pd.DataFrame, monitored: list, tracked: dict[str, list[str]], family: int
) -> tuple[dict, dict]:
    """Drift bounds and states per segment, learned from that segment's reference rows chunked like the whole.

    The segment's column itself is not monitored inside it (it is constant there).
    """
    profiles: dict[str, dict] = {}
    states: dict[str, object] = {}
    for column, values in tracked.items():
        labels, ok = _column_array(ref[column], "categorical")
        for value in values:
            seg = ref[ok & (labels == value)].reset_index(drop=True)
            parts = chunks(cfg, seg)
            chunk_masks, boot_masks = null_masks(cfg, seg, parts)
            inside = [m for m in monitored if m.column != column]
            bounds, seg_states = _drift_profile(cfg, seg, inside, chunk_masks, boot_masks, family)
            name = f"{column}={value}"
            profiles[name] = {
                "column": column,
                "value": value,
                "reference_rows": len(seg),
                "chunks": len(parts),
                "drift": bounds,
            }
            states.update({f"{name}#{key}": state for key, state in seg_states.items()})
    return profiles, states


def target_kind(cfg: ModelConfig) -> str:
    return "categorical" if cfg.task == "binary_classification" else "numeric"


def _label_profile(
    cfg: ModelConfig, ref: pd.DataFrame, chunk_masks: list, boot_masks: list, states: dict
) -> dict:
    """Bounds of the target's drift from reference chunks, and the reference target summary kept in `states`
    (under `label#...`) for the sampling-noise bound at each day's number of labels (`label_bounds`)."""
    target = cfg.columns.target
    if target not in ref:
        return {}
    m = Monitored(target, target_kind(cfg), "label")
    bounds, label_states = _drift_profile(cfg, ref, [m], chunk_masks, boot_masks, label_family(cfg))
    states.update({f"label#{key}": state for key, state in label_states.items()})
    states["label#summary"] = _ColumnSampler(ref[target], m.kind).full()
    return {"column": target, "kind": m.kind, "drift": bounds}


def label_bounds(cfg: ModelConfig, name: str, entry: dict, summary: Summary, kind: str, rows: int) -> dict:
    """A target statistic's bounds for `rows` labels: the wider of the reference chunks' bound and the
    sampling-noise bound at that size (`bootstrap_samples` draws of `rows` reference rows, each against the rest).

    Labels arrive a few at a time, so a prediction day's labelled rows are often far fewer than a reference
    chunk's; a bound learned at chunk size would alarm on pure sampling noise.
    """
    method = get_method(name, kind)
    total = summary.size if kind == "numeric" else sum(summary.values())
    if rows >= total or not cfg.reference.bootstrap_samples:
        return entry
    rng = np.random.default_rng(cfg.reference.seed)
    values = []
    if kind == "numeric":
        for _ in range(cfg.reference.bootstrap_samples):
            inside = np.zeros(total, dtype=bool)
            inside[rng.choice(total, rows, replace=False)] = True
            values.append(method.score(method.fit(summary[~inside]), summary[inside]))
    else:
        cats, counts = list(summary), np.array(list(summary.values()))
        # All draws in one call: the same numbers as one call per draw, without numpy's per-call cost.
        for drawn in rng.multivariate_hypergeometric(counts, rows, size=cfg.reference.bootstrap_samples):
            rest = dict(zip(cats, (counts - drawn).tolist(), strict=True))
            values.append(method.score(method.fit(rest), dict(zip(cats, drawn.tolist(), strict=True))))
    spec = drift_threshold(cfg, cfg.columns.target)
    bounds = _combined_bounds(
        spec,
        entry.get("chunk_values", []),
        values,
        "upper",
        cfg.reference.min_chunks,
        True,
        label_family(cfg),
    )
    bounds["rule"] = bounds["rule"].replace("random day-size samples", f"random samples of {rows} labels")
    return bounds


def drift_state(profile: dict, results: Storage) -> dict[str, object]:
    """The drift methods' fitted reference states, loaded and verified with the profile by `get_profile`."""
    return profile["_drift_state"]


def dle_estimator(profile: dict):
    """The fitted DLE loss models of a regressor's profile (loaded and verified by `get_profile`), else None."""
    return (profile.get("estimation") or {}).get("_estimator")


def _importance(cfg: ModelConfig, ref: pd.DataFrame, monitored: list) -> tuple[dict[str, float], str]:
    """How much each feature moves the model's output on the reference, and where that came from.

    From the MLflow model when `drift.importance_model_uri` names one (falling back, with a warning, when it cannot
    be loaded), else from a surrogate of the output column; empty when there is neither.
    """
    from watchkeeper.drift.importance import feature_importance, model_importance

    features = [m for m in monitored if m.role == "feature"]
    uri = cfg.drift.importance_model_uri
    if uri and features:
        try:
            return model_importance(
                uri, ref, [m.column for m in features], seed=cfg.reference.seed
            ), f"model {uri}"
        except Exception as exc:  # MLflow unreachable, model missing or not callable on these columns
            log.warning("importance from %s failed (%s); using a surrogate of the model output", uri, exc)
    output = cfg.columns.score if cfg.columns.score in ref else cfg.columns.prediction
    if output not in ref or not features or len(ref) < 50:
        return {}, "none: no model output column in the reference"
    numeric = [m.column for m in features if m.kind == "numeric"]
    categorical = [m.column for m in features if m.kind == "categorical"]
    weights = feature_importance(ref, numeric, categorical, output, seed=cfg.reference.seed)
    return weights, f"surrogate of {output}"


def _multivariate_profile(
    cfg: ModelConfig, ref: pd.DataFrame, monitored: list, chunk_masks: list, boot_masks: list, family: int
) -> dict:
    """PCA fitted on the reference features, and bounds of the mean reconstruction error like any drift statistic,
    from out-of-fold errors (`_out_of_fold_errors`)."""
    from watchkeeper.drift import multivariate

    features = [m for m in monitored if m.role == "feature"]
    if not cfg.drift.multivariate or len(features) < 2:
        return {}
    numeric = [m.column for m in features if m.kind == "numeric"]
    categorical = [m.column for m in features if m.kind == "categorical"]
    state = multivariate.fit(ref, numeric, categorical, cfg.drift.pca_variance)
    errors = _out_of_fold_errors(cfg, ref, numeric, categorical, chunk_masks)
    chunk_values, boot_values = (
        [float(errors[m].mean()) for m in masks] for masks in (chunk_masks, boot_masks)
    )
    spec = cfg.drift.threshold
    # Two-sided: an error that drops far below its reference range (rows suddenly more alike, a column frozen at
    # one value) is a change of the inputs' joint structure as much as a rise.
    bounds = _combined_bounds(spec, chunk_values, boot_values, "both", cfg.reference.min_chunks, True, family)
    return {"state": state, **bounds}


PCA_FOLDS = 5
"""Folds of reference chunks for the PCA's out-of-fold errors (each fold one fit; fewer when there are fewer chunks)."""


def _out_of_fold_errors(
    cfg: ModelConfig, ref: pd.DataFrame, numeric: list[str], categorical: list[str], chunk_masks: list
) -> np.ndarray:
    """Each reference row's reconstruction error under a PCA fitted without its chunk's fold.

    Chunk i goes to fold i mod `PCA_FOLDS` (rows in no chunk, round robin); each fold is scored by a PCA fitted on
    the other folds. A PCA scoring the rows it was fitted on fits their noise too, so in-sample errors sit below
    what a new day shows and centre the bound too low; a day is scored by the PCA fitted on the whole reference,
    which has seen none of its rows, like a held-out chunk.
    """
    from watchkeeper.drift import multivariate

    k = min(len(chunk_masks), PCA_FOLDS)
    if k < 2:
        return multivariate.row_errors(
            multivariate.fit(ref, numeric, categorical, cfg.drift.pca_variance), ref
        )
    fold = np.full(len(ref), -1)
    for i, mask in enumerate(chunk_masks):
        fold[mask] = i % k
    rest = fold < 0
    fold[rest] = np.arange(int(rest.sum())) % k
    errors = np.empty(len(ref))
    for f in range(k):
        held = fold == f
        state = multivariate.fit(ref[~held], numeric, categorical, cfg.drift.pca_variance)
        errors[held] = multivariate.row_errors(state, ref[held])
    return errors


def _estimation_profile(cfg: ModelConfig, ref: pd.DataFrame, chunk_masks: list, boot_masks: list) -> dict:
    """Calibration of the scores on the reference, and bounds of each estimated metric like the realized ones."""
    from watchkeeper.performance.estimation import ESTIMATORS, estimates, fit_calibration

    if cfg.task == "regression":
        return _dle_profile(cfg, ref, chunk_masks, boot_masks)
    pred, score = predictions_of(cfg, ref)
    if score is None:
        return {}
    calibration = fit_calibration(score, labels_of(cfg, ref))
    names = [m for m in performance_metrics(cfg) if m in ESTIMATORS]
    chunks, boots = (
        [estimates(names, calibration, pred[mask], score[mask]) for mask in masks]
        for masks in (chunk_masks, boot_masks)
    )
    bounds = {}
    for name in names:
        direction = get_metric(name, cfg.task).direction
        chunk_values, boot_values = (
            [v for values in sample if (v := values[name]) is not None] for sample in (chunks, boots)
        )
        bounds[name] = _combined_bounds(
            cfg.performance.threshold, chunk_values, boot_values, direction, cfg.reference.min_chunks, False
        )
    return {"kind": "cbpe", "calibration": calibration, "metrics": bounds}


def estimator_of(cfg: ModelConfig, frame: pd.DataFrame, estimation: dict, estimator=None):
    """`rows mask → {estimated metric: value}` over `frame`: CBPE from the stored calibration, or DLE from the
    fitted loss models' per-row losses (computed once). None when there is nothing to estimate."""
    from watchkeeper.performance.estimation import estimates

    if not estimation:
        return None
    names = list(estimation["metrics"])
    pred, score = predictions_of(cfg, frame)
    if estimation["kind"] == "dle":
        model = estimator if estimator is not None else estimation.get("_estimator")
        if model is None:
            return None
        from watchkeeper.performance.dle import aggregate

        losses = model.row_losses(frame)
        return lambda m: {n: aggregate(n, losses, m) for n in names}
    if score is None:
        return None
    return lambda m: estimates(names, estimation["calibration"], pred[m], score[m])


def _segment_performance_profile(
    cfg: ModelConfig, ref: pd.DataFrame, chunk_masks: list, estimation: dict
) -> dict:
    """Per segment value (the most frequent `segments.max_values` of each column): bounds of each realized metric,
    and of each estimated one, from that segment's rows of each reference chunk and from random samples of its rows
    of that size."""
    y = labels_of(cfg, ref)
    pred, score = predictions_of(cfg, ref)
    estimated = estimator_of(cfg, ref, estimation)
    rng = np.random.default_rng(cfg.reference.seed)
    out: dict[str, dict] = {}
    for column in (c for c in cfg.segments.columns if c in ref):
        text = ref[column].astype(str).where(ref[column].notna())
        for value in text.value_counts().index[: cfg.segments.max_values]:
            rows = (text == value).to_numpy()
            chunks_of = [m & rows for m in chunk_masks]
            size = int(np.median([m.sum() for m in chunks_of]))
            where = np.flatnonzero(rows)
            samples = []
            for _ in range(cfg.reference.bootstrap_samples if 0 < size < where.size else 0):
                mask = np.zeros(len(ref), dtype=bool)
                mask[rng.choice(where, size, replace=False)] = True
                samples.append(mask)
            metrics = {}
            for name in performance_metrics(cfg):
                metric = get_metric(name, cfg.task)
                chunk_values, boot_values = (
                    [
                        v
                        for m in masks
                        if m.any()
                        and (v := compute(metric, y[m], pred[m], None if score is None else score[m]))
                        is not None
                    ]
                    for masks in (chunks_of, samples)
                )
                metrics[name] = _combined_bounds(
                    cfg.performance.threshold, chunk_values, boot_values, metric.direction,
                    cfg.reference.min_chunks, False,
                )  # fmt: skip
            est = {}
            for name in estimation.get("metrics", {}) if estimated else ():
                direction = get_metric(name, cfg.task).direction
                chunk_values, boot_values = (
                    [v for m in masks if m.any() and (v := estimated(m).get(name)) is not None]
                    for masks in (chunks_of, samples)
                )
                est[name] = _combined_bounds(
                    cfg.performance.threshold,
                    chunk_values,
                    boot_values,
                    direction,
                    cfg.reference.min_chunks,
                    False,
                )
            out.setdefault(column, {})[str(value)] = {
                "reference_rows": int(rows.sum()),
                "sample_rows": size or None,
                "metrics": metrics,
                "estimated": est,
            }
    return out


def _dle_profile(cfg: ModelConfig, ref: pd.DataFrame, chunk_masks: list, boot_masks: list) -> dict:
    """Direct loss estimation: loss models fitted on the reference; `_estimator` is stored apart from the JSON."""
    from watchkeeper.performance.dle import ESTIMATED, LossEstimator, aggregate

    features = [m for m in monitored_columns(cfg, ref) if m.role == "feature"]
    numeric = [m.column for m in features if m.kind == "numeric"]
    categorical = [m.column for m in features if m.kind == "categorical"]
    wanted = tuple(m for m in performance_metrics(cfg) if m in ESTIMATED)
    estimator = LossEstimator(numeric, categorical, cfg.columns.prediction, cfg.reference.seed, wanted)
    estimator.fit(ref, labels_of(cfg, ref))
    losses = estimator.row_losses(ref)
    bounds = {}
    for name in (m for m in wanted if ESTIMATED[m][0] in losses):
        chunk_values, boot_values = (
            [aggregate(name, losses, m) for m in masks] for masks in (chunk_masks, boot_masks)
        )
        direction = get_metric(name, cfg.task).direction
        bounds[name] = _combined_bounds(
            cfg.performance.threshold, chunk_values, boot_values, direction, cfg.reference.min_chunks, False
        )
    return {"kind": "dle", "metrics": bounds, "_estimator": estimator}


def bounds_for_rows(
    cfg: ModelConfig, entry: dict, rows: int, sample_rows: int | None, direction: str, family: int = 1
) -> dict:
    """A metric's bounds for a day with `rows` labelled rows: sampling noise grows as √(sample_rows / rows).

    With a `family` of realized checks judged that day (`realized_family`), the bounds are re-derived from the
    entry's reference values at the split tail, as drift's are. Only the `std` rule is rescaled; at the reference's
    day size and a family of 1 this returns the stored bounds.
    """
    spec = cfg.performance.threshold
    if family > 1 and "boot_values" in entry:
        entry = _combined_bounds(
            spec, entry.get("chunk_values", []), entry["boot_values"], direction, cfg.reference.min_chunks,
            False, family,
        )  # fmt: skip
    if (
        not isinstance(spec, StdThreshold)
        or not sample_rows
        or not entry.get("noise_std")
        or rows >= sample_rows
    ):
        return entry
    if entry.get("center") is None:
        return entry
    k = split_tail(spec.k, family)[1]  # `derive_bounds`' split
    noise = entry["noise_std"] * (sample_rows / max(rows, 1)) ** 0.5
    margin = k * max(noise, entry.get("days_std") or 0.0)
    side = "both" if spec.two_sided else direction
    return {
        **entry,
        "lower": entry["center"] - margin if side in ("lower", "both") else None,
        "upper": entry["center"] + margin if side in ("upper", "both") else None,
        "rule": f"{entry['rule']}; widened for {rows} labelled rows (noise ∝ 1/√rows)",
    }


def profile_key(cfg: ModelConfig, storage: Storage) -> str:
    info = storage.fs.get_file_info(storage.path(cfg.paths.reference))
    version = f"{info.size}-{int(info.mtime.timestamp()) if info.mtime else 0}"
    return f"{cfg.storage.results_prefix}/{cfg.name}/reference/profile-v{PROFILE_VERSION}-{cfg.digest()}-{version}.json"


def get_profile(
    cfg: ModelConfig, storage: Storage, results: Storage, ref: pd.DataFrame | None = None
) -> dict:
    """The cached profile for this reference version and config, built (and stored in `results`) when missing.

    The cache holds no pickles; a cached profile or artifact that is damaged or fails its checksum is rebuilt
    with a warning (`safe_cache`).
    """
    key = profile_key(cfg, storage)
    cached = read_profile(results, key)
    if cached is not None:
        return cached
    log.info("building reference profile for %s (%s)", cfg.name, key)
    profile = build_profile(cfg, load_reference(cfg, storage) if ref is None else ref)
    return write_profile(results, key, profile)
