"""The performance stage's checks: realized metrics on late labels (whole day and per segment), and estimates.

A label file for day D may hold labels for predictions of D or any of the `label_window_days` before it (read and
reconciled by `labels`). Every prediction day that received labels today is re-scored with all labels known as of D,
so the stored result of that day is replaced (idempotent) and its metric appears in today's checks as
`metric@<prediction day>`. Estimates of the day's own performance (CBPE or DLE) carry a ±3σ sampling-error band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from watchkeeper.config import ModelConfig
from watchkeeper.performance import joined
from watchkeeper.performance.joined import SCORE_RANK, arrival_of, id_type_checks, label_value_checks
from watchkeeper.performance.labels import label_record_checks
from watchkeeper.performance.metrics import compute, confusion, get_metric
from watchkeeper.reference import bounds_for_rows, performance_metrics, predictions_of, realized_family
from watchkeeper.result import Check, NotMeasured, Severity, Status, num
from watchkeeper.storage import Storage

_Y = "__label_value"
"""The joined rows' label as the metrics read it (0/1 or float), from the labels step."""


def _prediction_columns(cfg: ModelConfig) -> list[str]:
    return [
        c for c in (cfg.columns.id, cfg.columns.score, cfg.columns.prediction, *cfg.segments.columns) if c
    ]


@dataclass(frozen=True)
class Scope:
    """What realized metrics are judged against: per-metric bound entries, their day-size sample rows, and the
    fewest labelled rows worth scoring (the whole day's, or one segment's from its own reference rows)."""

    entries: dict
    sample_rows: int | None
    min_rows: int
    family: int = 1
    """Realized checks judged that day, which split the false-alarm rate (`reference.realized_family`)."""


def _metric_checks(
    cfg: ModelConfig,
    joined: Rows,
    scope: Scope,
    subject: str,
    details: dict,
    blocked: str | None,
    segment: str | None = None,
    outputs: tuple[np.ndarray, np.ndarray | None] | None = None,
    counts: tuple[int, int, int, int] | None = None,
) -> list[Check]:
    """One check per configured metric on these labelled rows, bounds widened for their count. Their (predictions,
    scores) and confusion counts are made once for every metric, or given (`outputs`, `counts`)."""
    checks = []
    provisional = details["provisional"]
    y = ranks = None
    if not blocked and len(joined) >= scope.min_rows:
        y = joined[_Y].to_numpy()
        ranks = joined[SCORE_RANK].to_numpy() if SCORE_RANK in joined else None
    for name in performance_metrics(cfg):
        metric = get_metric(name, cfg.task)
        bounds = bounds_for_rows(
            cfg, scope.entries.get(name, {}), len(joined), scope.sample_rows, metric.direction, scope.family
        )
        check = Check(
            id=f"performance.{name}",
            stage="performance",
            name=name,
            subject=subject.format(name),
            segment=segment,
            lower=bounds.get("lower"),
            upper=bounds.get("upper"),
            threshold_rule=bounds.get("rule", "no labelled reference"),
            status=Status.SKIPPED,
            # A segment's alert is for the model owner to look at; the whole day's decides on retraining.
            severity=Severity.CRITICAL if segment is None else Severity.WARNING,
            owner="model",
            details={**details, **({"segment_labelled": len(joined)} if segment else {})},
        )
        what = f"{name} of {details['prediction_day']} predictions" + (f" where {segment}" if segment else "")
        if blocked:
            check.reason = f"could not measure: {blocked}"
            check.not_measured = NotMeasured.UPSTREAM_QUALITY
        elif len(joined) < scope.min_rows:
            setting = "segments.min_rows" if segment else "performance.min_labels"
            check.reason = f"insufficient labels: {len(joined)} < {setting} {scope.min_rows}"
            check.not_measured = NotMeasured.TOO_FEW_LABELS
            if segment:
                check.reason = "insufficient data: " + check.reason.removeprefix("insufficient labels: ")
                check.not_measured = NotMeasured.TOO_FEW_ROWS
        else:
            outputs = outputs or predictions_of(cfg, joined)
            if metric.from_confusion is not None and counts is None:
                counts = confusion(y, outputs[0])
            value = compute(metric, y, *outputs, score_rank=ranks, counts=counts)
            if value is None:
                check.reason = f"{name} is undefined on these labels (0/0, or a single class)"
                check.not_measured = NotMeasured.UNDEFINED
            else:
                how = metric.breach_wording(value, check.lower)
                check.judge(
                    value, f"{what} is {value:.4g}, outside [{num(check.lower)}, {num(check.upper)}]: {how}"
                )
                if provisional:  # too few labels yet to act on: shown, not a retrain trigger
                    check.severity = Severity.WARNING
        checks.append(check)
    return checks


def _segments(cfg: ModelConfig, profile: dict, joined: Rows, family: int):
    """(segment "column=value", its scope, its labelled rows) for every segment learned from the reference."""
    for column, values in (profile.get("segment_performance") or {}).items():
        if column not in joined:
            continue
        as_text = joined[column].astype(str).where(joined[column].notna())
        for value, entry in values.items():
            scope = Scope(entry["metrics"], entry.get("sample_rows"), cfg.segments.min_rows, family)
            yield f"{column}={value}", scope, joined[as_text == value]


def performance_checks(
    cfg: ModelConfig,
    storage: Storage,
    day: date,
    day_frame: pd.DataFrame | None,
    profile: dict,
    blocked: str | None = None,
    results: Storage | None = None,
) -> tuple[list[Check], dict[str, dict]]:
    """Checks for every prediction day that got labels today, and the per-prediction-day realized results.

    Labels come from the day's labels step (`joined`): only today's label file is read, and each prediction day
    that received labels is re-scored from its stored labels and compact prediction columns."""
    results = results or storage
    arrival = arrival_of(cfg, storage, results, day)
    facts = arrival.facts
    if not facts["label_rows_today"]:
        return [_skipped(cfg, "labels", "no labels arrived today", facts)], {}
    checks: list[Check] = id_type_checks(arrival) + label_value_checks(arrival)
    realized: dict[str, dict] = {}
    # The id column only served the join (the labels step's): not read again.
    needed = [c for c in joined.prediction_columns(cfg) if c != cfg.columns.id] + [joined.SCORE_RANK]
    for pday in arrival.prediction_days:
        preds = joined.predictions(cfg, storage, results, pday, refresh=False, columns=needed)
        if preds is None:
            continue
        labelled = joined.known(cfg, results, pday, day)
        joined_rows = _labelled_rows(cfg, preds, labelled)
        coverage = len(joined_rows) / max(preds.num_rows, 1)
        subject_suffix = "" if pday == day else f"@{pday.isoformat()}"
        day_blocked = blocked if pday == day else None
        result = {
            "prediction_day": pday.isoformat(),
            "labelled": len(joined_rows),
            "predictions": preds.num_rows,
        }
        result["coverage"] = round(coverage, 4)
        result["provisional"] = coverage < cfg.performance.min_coverage
        outputs = predictions_of(cfg, joined_rows) if len(joined_rows) else None
        counts = None
        if cfg.task == "binary_classification" and outputs is not None:
            counts = confusion(joined_rows[_Y].to_numpy(), outputs[0])
            result["confusion"] = dict(zip(("tp", "fp", "fn", "tn"), counts, strict=True))
        details = {**result, "as_of": day.isoformat(), "label_days": len(arrival.prediction_days)}
        subject = f"{{}}{subject_suffix}"
        family = realized_family(cfg, len(arrival.prediction_days))
        whole = Scope(profile["performance"], profile.get("sample_rows"), cfg.performance.min_labels, family)
        day_checks = _metric_checks(
            cfg, joined_rows, whole, subject, details, day_blocked, outputs=outputs, counts=counts
        )
        metrics = {c.name: c.value for c in day_checks}
        segments = {}
        for segment, scope, seg_rows in _segments(cfg, profile, joined_rows, family):
            seg_checks = _metric_checks(cfg, seg_rows, scope, subject, details, day_blocked, segment)
            segments[segment] = {"labelled": len(seg_rows), "metrics": {c.name: c.value for c in seg_checks}}
            day_checks += seg_checks
        checks += day_checks
        if segments:
            result["segments"] = segments
        realized[pday.isoformat()] = {**result, "as_of": day.isoformat(), "metrics": metrics}
    unknown = arrival.unknown
    checks.append(
        Check(
            id="performance.label_join",
            stage="performance",
            name="label_join",
            subject="labels",
            value=float(unknown),
            upper=0.0,
            threshold_rule="labels must match a prediction of the window",
            status=Status.ALERT if unknown else Status.OK,
            reason=f"{unknown} label(s) match no prediction of the last {cfg.performance.label_window_days} days"
            if unknown
            else None,
            severity=Severity.WARNING,
            owner="data",
            details={**facts, "unknown_label_ids": unknown, "prediction_days": sorted(realized)},
        )
    )
    checks += label_record_checks(facts)
    return checks, realized


class Rows:
    """Labelled prediction rows as named columns (pandas Series over Arrow's buffers): what the metrics and segments
    read of them. A DataFrame built from the rows and then given the label columns copied every column twice,
    ~10 ms per re-scored prediction day at 1M rows, and a label window re-scores each of its days every day."""

    def __init__(self, columns: dict[str, pd.Series]):
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, key: str | pd.Series | np.ndarray) -> pd.Series | Rows:
        """A column by name, or the rows a boolean mask keeps (as `DataFrame[mask]`)."""
        if isinstance(key, str):
            return self.columns[key]
        keep = np.asarray(key, dtype=bool)
        return Rows({name: column[keep] for name, column in self.columns.items()})


def _labelled_rows(cfg: ModelConfig, preds: pa.Table, labelled: pa.Table) -> Rows:
    """The prediction rows that have a settled label, with the label (raw, and as the metrics read it in `_Y`);
    missing label values are not labels and are left out. Only those rows are taken: a day's labels are often a
    small part of a large prediction day."""
    if not labelled.num_rows:
        none = preds.slice(0, 0)
        columns = {name: none.column(name).to_pandas() for name in none.column_names}
        empty = {cfg.columns.target: pd.Series([], dtype=float), _Y: pd.Series([], dtype=float)}
        return Rows({**columns, **empty})
    y = joined.label_values(cfg, labelled.column(joined.TARGET).combine_chunks())
    keep = ~np.isnan(y)
    settled = labelled if keep.all() else labelled.filter(pa.array(keep))
    taken = preds.take(settled.column(joined.ROW))
    columns = {name: taken.column(name).to_pandas() for name in taken.column_names}
    target = settled.column(joined.TARGET).to_pandas()
    return Rows({**columns, cfg.columns.target: target, _Y: pd.Series(y[keep], copy=False)})


def _skipped(cfg: ModelConfig, subject: str, reason: str, facts: dict) -> Check:
    return Check(
        id="performance.labels",
        stage="performance",
        name="labels",
        subject=subject,
        status=Status.SKIPPED,
        not_measured=NotMeasured.NO_LABELS,
        reason=reason,
        severity=Severity.INFO,
        owner="model",
        details=facts,
    )


BAND_K = 3.0
"""Half-width of the band reported beside an estimate, in sampling errors (as NannyML's ±3σ)."""


def sampling_error(profile: dict, name: str, rows: int) -> float | None:
    """How much the realized metric of a day of `rows` rows varies by sampling alone: its std over day-size random
    reference samples (the estimated metric's when it is not realized too), scaled by √(sample rows / rows)."""
    entry = profile.get("performance", {}).get(name) or profile["estimation"]["metrics"].get(name) or {}
    return _sigma(entry, profile.get("sample_rows"), rows)


def _sigma(entry: dict, sample_rows: int | None, rows: int) -> float | None:
    std = entry.get("noise_std")
    if not std or not sample_rows or rows <= 0:
        return None
    return float(std * (sample_rows / rows) ** 0.5)


def _banded(check: Check, value: float, sigma: float | None) -> None:
    if sigma is not None:
        check.details.update(
            sampling_error=sigma, band_lower=value - BAND_K * sigma, band_upper=value + BAND_K * sigma
        )


def _estimated_check(name: str, bounds: dict, rows: int, segment: str | None = None) -> Check:
    """An estimated metric's check before it is judged (of the whole day, or of one segment)."""
    return Check(
        id=f"performance.estimated_{name}",
        stage="performance",
        name=f"estimated_{name}",
        subject=f"estimated_{name}",
        segment=segment,
        lower=bounds.get("lower"),
        upper=bounds.get("upper"),
        threshold_rule=bounds.get("rule", ""),
        status=Status.SKIPPED,
        # An estimate alerts the owner but does not by itself trigger a retrain: realized metrics confirm.
        severity=Severity.WARNING,
        owner="model",
        details={"estimated": True, "rows": rows},
    )


def estimation_checks(
    cfg: ModelConfig, day_frame: pd.DataFrame, profile: dict, blocked: str | None = None, estimator=None
) -> tuple[list[Check], dict[str, float | None]]:
    """Label-free estimates of the day's own performance (CBPE for classifiers, DLE with `estimator` for
    regressors), with bounds from the reference like the realized metrics."""
    from watchkeeper.performance.estimation import estimates

    est = profile.get("estimation") or {}
    if not est:
        return [], {}
    pred, score = predictions_of(cfg, day_frame)
    estimated: dict[str, float | None] = {}
    if est["kind"] == "dle":
        score = pred  # DLE needs only the predictions (and features)
        estimated = estimator.estimate(day_frame) if estimator is not None and not blocked else {}
    elif not blocked and score is not None and len(day_frame) >= cfg.performance.min_labels:
        estimated = estimates(list(est["metrics"]), est["calibration"], pred, score)
    checks, values = [], {}
    for name, bounds in est["metrics"].items():
        check = _estimated_check(name, bounds, len(day_frame))
        sigma = sampling_error(profile, name, len(day_frame))
        if blocked:
            check.reason = f"could not measure: {blocked}"
            check.not_measured = NotMeasured.UPSTREAM_QUALITY
        elif score is None or len(day_frame) < cfg.performance.min_labels:
            check.reason = f"insufficient data: {len(day_frame)} rows < performance.min_labels {cfg.performance.min_labels}"
            check.not_measured = NotMeasured.TOO_FEW_ROWS
        else:
            value = estimated.get(name)
            if value is None:
                check.reason = "estimate undefined for this batch"
                check.not_measured = NotMeasured.UNDEFINED
            else:
                how = get_metric(name, cfg.task).breach_wording(value, check.lower)
                check.judge(
                    value,
                    f"estimated {name} is {value:.4g}, outside [{num(check.lower)}, {num(check.upper)}]: {how} (no labels needed)",
                )
                _banded(check, value, sigma)
        values[name] = check.value
        checks.append(check)
    if not blocked and profile.get("segment_performance"):
        checks += segment_estimation_checks(cfg, day_frame, profile, estimator)
    return checks, values


def segment_estimation_checks(
    cfg: ModelConfig, day_frame: pd.DataFrame, profile: dict, estimator=None
) -> list[Check]:
    """Estimates per segment value, against bounds from that segment's reference rows (warnings, like the day's)."""
    from watchkeeper.reference import estimator_of

    estimated = estimator_of(cfg, day_frame, profile["estimation"], estimator)
    checks = []
    for column, segments in profile["segment_performance"].items():
        if estimated is None or column not in day_frame:
            continue
        text = day_frame[column].astype(str).where(day_frame[column].notna()).to_numpy()
        for value, entry in segments.items():
            rows = text == value
            values = estimated(rows) if rows.sum() >= cfg.segments.min_rows else {}
            for name, bounds in entry.get("estimated", {}).items():
                check = _estimated_check(name, bounds, int(rows.sum()), f"{column}={value}")
                v = values.get(name)
                if rows.sum() < cfg.segments.min_rows:
                    check.reason = f"insufficient data: {int(rows.sum())} rows < segments.min_rows {cfg.segments.min_rows}"
                    check.not_measured = NotMeasured.TOO_FEW_ROWS
                elif v is None:
                    check.reason = "estimate undefined for this batch"
                    check.not_measured = NotMeasured.UNDEFINED
                else:
                    how = get_metric(name, cfg.task).breach_wording(v, check.lower)
                    check.judge(
                        v,
                        f"estimated {name} where {column}={value} is {v:.4g}, outside [{num(check.lower)}, {num(check.upper)}]: {how} (no labels needed)",
                    )
                    metric_entry = entry["metrics"].get(name) or bounds
                    _banded(check, v, _sigma(metric_entry, entry.get("sample_rows"), int(rows.sum())))
                checks.append(check)
    return checks
