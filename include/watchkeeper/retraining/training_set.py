"""The training set of a retraining: labelled rows of the recent window, minus days whose data failed quality.

Labels are the ones known on the request day, joined by id exactly as the performance stage joins them
(`performance.labels.known_labels`: the latest arrival wins, conflicting ids stay out). The most recent labelled
days are held out: champion and challenger are judged on them, and the challenger never sees them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.decisions import critical_quality_failure
from watchkeeper.loading import InputError, day_key, label_key, read_table
from watchkeeper.performance.labels import known_labels
from watchkeeper.reference import labels_of, load_reference
from watchkeeper.result import Check, DayResult
from watchkeeper.storage import Storage

DAY = "__prediction_day"
"""Column holding each row's prediction day (not a model input)."""


class Refused(Exception):
    """The retraining may not run on this data; the message says why (a result, not a failure)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class TrainingSet:
    """Training rows, holdout rows (features, target, id, prediction day) and the facts of how they were chosen."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    facts: dict = field(default_factory=dict)


def day_result(cfg: ModelConfig, results: Storage, day: date) -> DayResult | None:
    doc = results.read_json_if_any(cfg.results_key(day, "result.json"))
    return None if doc is None else DayResult.model_validate(doc)


def quality_failure(cfg: ModelConfig, results: Storage, day: date) -> str | None:
    """Why the day's stored result forbids training on it (a critical data-quality or load failure), or None."""
    result = day_result(cfg, results, day)
    return critical_quality_failure(result.checks) if result else None


def change_point(cfg: ModelConfig, results: Storage, day: date) -> date | None:
    """Where the current performance episode began: the request's alerting prediction days, extended back over
    every earlier prediction day whose realized performance alerted without a gap (from the window's results)."""
    result = day_result(cfg, results, day)
    if result is None:
        return None
    named = {ref for a in result.actions if a.kind == "retrain" for ref in a.checks}
    days = {_prediction_day(c, day) for c in result.checks if f"{c.id}:{c.subject}" in named}
    if not days:
        return None
    alerted = set(days)
    for offset in range(1, cfg.model.retraining.window_days):
        earlier = day_result(cfg, results, day - timedelta(days=offset))
        if earlier is not None:
            alerted |= {_prediction_day(c, earlier.day) for c in earlier.checks if _realized_alert(c)}
    start = min(days)
    while start - timedelta(days=1) in alerted:
        start -= timedelta(days=1)
    return start


def _realized_alert(c: Check) -> bool:
    return (
        c.stage == "performance" and c.status == "alert" and c.owner == "model" and c.severity == "critical"
        and not c.details.get("estimated") and "prediction_day" in c.details
    )  # fmt: skip


def _prediction_day(check: Check, day: date) -> date:
    return date.fromisoformat(check.details.get("prediction_day") or day.isoformat())


def _checksum(storage: Storage, key: str) -> str:
    return hashlib.sha256(storage.read_bytes(key)).hexdigest()[:16]


def build(
    cfg: ModelConfig, storage: Storage, results: Storage, day: date, since: date | None, columns: list[str]
) -> TrainingSet:
    """Training and holdout rows for a request on `day`; raises Refused when the data cannot support one.

    `columns` are the model's inputs; `since` the change point (used when `retraining.from_change`).
    """
    rt = cfg.model.retraining
    failed = quality_failure(cfg, results, day)
    if failed:
        raise Refused(
            "quality", f"{cfg.name} {day}: retraining refused: the day's data failed quality: {failed}"
        )
    start = day - timedelta(days=rt.window_days - 1)
    if rt.from_change and since is not None:
        start = max(start, since)
    window = cfg.model_copy(
        update={"performance": cfg.performance.model_copy(update={"label_window_days": (day - start).days})}
    )
    _, known, label_facts = known_labels(window, storage, day)
    id_col, target = cfg.columns.id, cfg.columns.target
    known = known.assign(**{id_col: known[id_col].astype(str)})
    wanted = list(dict.fromkeys([id_col, *columns, *cfg.segments.columns]))
    frames, left_out, checksums, per_day = [], {}, {}, {}
    for offset in range((day - start).days + 1):
        pday = start + timedelta(days=offset)
        failed = quality_failure(cfg, results, pday)
        if failed:
            left_out[pday.isoformat()] = failed
            continue
        key = day_key(cfg, pday)
        try:
            preds = read_table(storage, key, cfg.paths.csv, wanted).to_pandas()
        except InputError as exc:
            left_out[pday.isoformat()] = f"{exc.kind}: {exc}"
            continue
        checksums[key] = _checksum(storage, key)
        labelled = preds.assign(**{id_col: preds[id_col].astype(str)}).merge(known, on=id_col, how="inner")
        per_day[pday.isoformat()] = len(labelled)
        if len(labelled):
            frames.append(labelled.assign(**{DAY: pday.isoformat()}))
    for offset in range((day - start).days + 1):
        lkey = label_key(cfg, start + timedelta(days=offset))
        if lkey and storage.exists(lkey):
            checksums[lkey] = _checksum(storage, lkey)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*wanted, target, DAY])
    # A refit pipeline without an imputer cannot take missing inputs; such rows are counted and left out.
    complete = rows[[*columns, target]].notna().all(axis=1) if len(rows) else pd.Series(dtype=bool)
    missing_inputs = int((~complete).sum())
    rows = rows[complete] if len(rows) else rows
    rows[target] = labels_of(cfg, rows) if len(rows) else rows[target]
    labelled_days = sorted(d for d, n in per_day.items() if n)
    holdout_days = labelled_days[-rt.holdout_days :] if len(labelled_days) > rt.holdout_days else []
    holdout = rows[rows[DAY].isin(holdout_days)].reset_index(drop=True)
    train = rows[~rows[DAY].isin(holdout_days)].reset_index(drop=True)
    if rt.include_reference:
        ref = load_reference(cfg, storage)
        ref = ref[[c for c in [*wanted, target] if c in ref]].assign(**{DAY: "reference"})
        ref[target] = labels_of(cfg, ref)
        ref = ref.dropna(subset=[c for c in [*columns, target] if c in ref])
        train = pd.concat([ref, train], ignore_index=True)
        checksums[cfg.paths.reference] = _checksum(storage, cfg.paths.reference)
    facts = {
        "request_day": day.isoformat(),
        "window": [start.isoformat(), day.isoformat()],
        "since_change": since.isoformat() if since and rt.from_change else None,
        "labelled_rows_per_day": per_day,
        "left_out_days": left_out,
        "holdout_days": holdout_days,
        "train_days": [d for d in labelled_days if d not in holdout_days],
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "reference_included": rt.include_reference,
        "checksums": checksums,
        "label_conflicts_left_out": label_facts.get("conflicting_ids_in_file", 0),
        "rows_with_missing_values_left_out": missing_inputs,
    }
    labelled_train = len(train) - (int((train[DAY] == "reference").sum()) if rt.include_reference else 0)
    if labelled_train < rt.min_labelled_rows or len(holdout) < rt.min_holdout_rows:
        raise Refused(
            "not_enough_labels",
            f"{cfg.name} {day}: not enough labels yet: {labelled_train} labelled training row(s) (need "
            f"{rt.min_labelled_rows}) and {len(holdout)} holdout row(s) (need {rt.min_holdout_rows}) in "
            f"{start}..{day}",
        )
    return TrainingSet(train, holdout, facts)


def store(ts: TrainingSet, results: Storage, prefix: str) -> dict[str, str]:
    """Write the training and holdout rows as Parquet under `prefix` (task-to-task hand-over); their keys."""
    import io

    keys = {}
    for name, frame in (("train", ts.train), ("holdout", ts.holdout)):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        keys[name] = f"{prefix}/{name}.parquet"
        results.write_bytes(keys[name], buf.getvalue())
    results.write_json(f"{prefix}/facts.json", ts.facts)
    return keys


def stored(results: Storage, prefix: str) -> TrainingSet:
    import io

    frames = [
        pd.read_parquet(io.BytesIO(results.read_bytes(f"{prefix}/{n}.parquet"))) for n in ("train", "holdout")
    ]
    return TrainingSet(*frames, results.read_json(f"{prefix}/facts.json"))
