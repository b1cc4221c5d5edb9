"""Realized performance per segment value, judged against bounds from that segment's own reference rows."""

from datetime import timedelta

import numpy as np
import pytest
from helpers import FIRST_DAY, parquet_bytes, tiny_config, write_tiny_world
from sklearn.metrics import roc_auc_score
from watchkeeper.pipeline import run_day
from watchkeeper.storage import Storage


@pytest.fixture
def segmented(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "seg"))
    frames = write_tiny_world(storage)
    cfg = tiny_config(tmp_path, str(tmp_path / "seg"), segments={"columns": ["c"], "min_rows": 150})
    return cfg, storage, frames


def segment_checks(result, name):
    return {c.segment: c for c in result.checks if c.name == name and c.segment}


def test_each_segment_is_scored_on_its_rows_with_its_own_bounds(segmented):
    cfg, storage, frames = segmented
    day = FIRST_DAY + timedelta(days=1)  # scores FIRST_DAY's labels
    auc = segment_checks(run_day(cfg, day, storage), "roc_auc")
    assert set(auc) == {"c=a", "c=b", "c=c"}
    labelled = frames[str(FIRST_DAY)]
    a = labelled[labelled["c"] == "a"]
    assert auc["c=a"].value == pytest.approx(roc_auc_score(a["label"], a["score"]))
    assert auc["c=a"].status == "ok" and auc["c=a"].severity == "warning"
    assert auc["c=a"].lower is not None and auc["c=a"].subject == f"roc_auc@{FIRST_DAY}"
    # ~120 rows of "c" < segments.min_rows 150: named, not judged
    assert auc["c=c"].status == "skipped" and auc["c=c"].reason.startswith("insufficient data: ")
    stored = storage.read_json(cfg.results_key(FIRST_DAY, "performance/realized.json"))
    assert stored["segments"]["c=a"]["metrics"]["roc_auc"] == pytest.approx(auc["c=a"].value)
    assert stored["segments"]["c=a"]["labelled"] == len(a)


def test_a_change_in_one_segment_alerts_on_that_segment(segmented):
    cfg, storage, frames = segmented
    day = FIRST_DAY + timedelta(days=1)
    labels = frames[str(FIRST_DAY)][["pid", "label", "c"]].copy()
    in_b = labels["c"] == "b"
    labels.loc[in_b, "label"] = np.random.default_rng(0).integers(
        0, 2, in_b.sum()
    )  # labels of b become noise
    storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(labels[["pid", "label"]]))
    result = run_day(cfg, day, storage)
    auc = segment_checks(result, "roc_auc")
    assert auc["c=b"].status == "alert" and "where c=b" in auc["c=b"].reason
    assert auc["c=a"].status == "ok"
    # The model owner looks at a segment's alert; only the whole day's metrics ask for a retrain.
    assert auc["c=b"].severity == "warning"


def test_no_segments_configured_means_no_segment_checks(tiny):
    cfg, storage, _ = tiny
    result = run_day(cfg, FIRST_DAY + timedelta(days=1), storage)
    assert not [c for c in result.checks if c.segment]


def test_estimates_per_segment_flag_a_shift_within_one_segment(segmented):
    cfg, storage, frames = segmented
    day = FIRST_DAY + timedelta(days=2)
    df = frames[str(day)].drop(columns=["label"]).copy()
    in_b = (df["c"] == "b").to_numpy()
    # Segment b's scores all crowd near 0.5: its expected accuracy falls while the rest of the day is unchanged.
    df.loc[in_b, "score"] = np.random.default_rng(1).uniform(0.45, 0.55, in_b.sum())
    df.loc[in_b, "pred"] = (df.loc[in_b, "score"] >= 0.5).astype(int)
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(df))
    result = run_day(cfg, day, storage)
    acc = segment_checks(result, "estimated_accuracy")
    assert set(acc) == {"c=a", "c=b", "c=c"}
    assert acc["c=b"].status == "alert" and "where c=b" in acc["c=b"].reason
    assert acc["c=a"].status == "ok" and acc["c=a"].details["band_lower"] < acc["c=a"].value
    assert acc["c=c"].status == "skipped" and acc["c=c"].reason.startswith("insufficient data")
    whole = next(c for c in result.checks if c.name == "estimated_accuracy" and c.segment is None)
    stored = storage.read_json(cfg.results_key(day, "performance/estimated.json"))
    assert stored["bands"]["accuracy"] == [whole.details["band_lower"], whole.details["band_upper"]]
