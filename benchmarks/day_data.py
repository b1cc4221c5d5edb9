"""Data of the whole-day benchmark: a 30-column reference with labels, prediction days, late label files.

Days have 20 numeric and 10 categorical features (as `benchmarks/drift.py`), an id (strings or integers), a score
and a predicted class; the label file of day D holds 1/spread of each of the `spread` earlier days' predictions,
so once `spread` days have passed a day receives as many labels as it has predictions, spread over those days (the
label window, at least as long, is the model config's).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from drift import CATEGORICAL, NUMERIC, _batch

FIRST_DAY = date(2030, 1, 1)


def _ids(day_index: int, start: int, n: int, kind: str) -> pa.Array:
    base = day_index * 100_000_000 + start
    ints = np.arange(base, base + n, dtype=np.int64)
    return pa.array(ints) if kind == "int" else pc.cast(pa.array(ints), pa.string())


def _scored(batch: pa.RecordBatch, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(score, truth): a logistic model of three features, with truth drawn from it."""
    n0 = np.nan_to_num(batch.column("n00").to_numpy(zero_copy_only=False))
    n1 = np.nan_to_num(batch.column("n01").to_numpy(zero_copy_only=False))
    c0 = batch.column("c0").indices.to_numpy(zero_copy_only=False)
    p = 1 / (1 + np.exp(-(1.2 * n0 + 0.8 * np.log1p(n1) - 0.3 * (c0 == 0) - 0.4)))
    return p.round(6), (rng.random(len(p)) < p).astype(np.int64)


def write_day(path: Path, rows: int, day_index: int, ids: str, drift: float, labels: bool = False) -> None:
    """One day's predictions (and, for the reference, labels); the day's truth is kept beside it as .npy."""
    truth_file = path.parent.parent.parent / "truth" / f"{rows}-{day_index}.npy"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    truths = []
    step = 500_000
    for start in range(0, rows, step):
        rng = np.random.default_rng([day_index, start, 7])
        n = min(step, rows - start)
        batch = _batch(rng, n, drift)
        score, truth = _scored(batch, rng)
        truths.append(truth)
        cols = {
            "id": _ids(day_index, start, n, ids),
            **dict(zip(batch.schema.names, batch.columns, strict=True)),
        }
        cols["score"] = pa.array(score)
        cols["pred"] = pa.array((score >= 0.5).astype(np.int64))
        if labels:
            cols["label"] = pa.array(truth)
        out = pa.RecordBatch.from_pydict(cols)
        writer = writer or pq.ParquetWriter(tmp, out.schema)
        writer.write_batch(out)
    writer.close()
    np.save(truth_file, np.concatenate(truths))
    tmp.rename(path)


def write_labels(path: Path, rows: int, day_index: int, ids: str, spread: int) -> None:
    """Labels arriving on day `day_index`: the k-th of `spread` slices of each of the `spread` days before it."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for lag in range(1, spread + 1):
        pday = day_index - lag
        if pday < 0:
            continue
        lo, hi = (lag - 1) * rows // spread, lag * rows // spread
        truth = np.load(path.parent.parent.parent / "truth" / f"{rows}-{pday}.npy")[lo:hi]
        parts.append(pa.table({"id": _ids(pday, lo, hi - lo, ids), "label": pa.array(truth)}))
    if parts:
        pq.write_table(pa.concat_tables(parts), path)


def write_world(work: Path, rows: int, reference_rows: int, ids: str, spread: int, label_days: int) -> dict:
    """Reference, the measured day (index `label_days`, at least 1) and the days before it with their labels (at
    least the day before, whose run leaves the store the measured day starts from), each day's labels spread over
    the `spread` days before it."""
    data = work / "data"
    write_day(data / "reference.parquet", reference_rows, 10_000, ids, 0.0, labels=True)
    last = max(label_days, 1)
    for i in range(0 if label_days else last - 1, last + 1):
        day = FIRST_DAY + timedelta(days=i)
        write_day(data / "days" / f"{day.isoformat()}.parquet", rows, i, ids, 0.2)
        if label_days:
            write_labels(data / "labels" / f"{day.isoformat()}.parquet", rows, i, ids, spread)
    return {"day": (FIRST_DAY + timedelta(days=last)).isoformat(), "first": FIRST_DAY.isoformat()}


def write_config(work: Path, name: str, window: int, tracking: bool = True) -> Path:
    import yaml

    config = {
        "name": name,
        "task": "binary_classification",
        "storage": {"uri": str(work / "data"), "results_uri": str(work / "results")},
        "paths": {
            "reference": "reference.parquet",
            "predictions": "days/{ds}.parquet",
            "labels": "labels/{ds}.parquet",
        },
        "columns": {
            "id": "id",
            "features": NUMERIC + CATEGORICAL,
            "score": "score",
            "prediction": "pred",
            "target": "label",
        },
        "owners": {"data": {"name": "data"}, "model": {"name": "model"}},
        "performance": {"label_window_days": window},
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
