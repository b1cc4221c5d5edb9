"""Realized metrics share one false-alarm rate per day: each metric of each prediction day whose labels arrived is
judged at the `std` rule's tail split over that family (Bonferroni), as drift and label checks are."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from helpers import FIRST_DAY, parquet_bytes
from scipy import stats
from watchkeeper.pipeline import run_day
from watchkeeper.reference import _combined_bounds, bounds_for_rows, realized_family
from watchkeeper.thresholds import StdThreshold


def test_the_family_is_every_metric_of_every_prediction_day_labelled_today(tiny):
    cfg = tiny[0]  # the binary defaults: roc_auc, f1, precision, recall, accuracy
    assert realized_family(cfg, 1) == 5 and realized_family(cfg, 3) == 15
    per_check = cfg.model_copy(update={"drift": cfg.drift.model_copy(update={"family_wise": False})})
    assert realized_family(per_check, 3) == 1


def test_bounds_for_rows_splits_the_tail_over_the_family_at_any_number_of_labels(tiny):
    cfg = tiny[0]
    rng = np.random.default_rng(3)
    chunks, samples = list(0.80 + 0.01 * rng.normal(size=20)), list(0.80 + 0.02 * rng.normal(size=50))
    entry = _combined_bounds(StdThreshold(), chunks, samples, "lower", 5, False)
    assert bounds_for_rows(cfg, entry, 600, 600, "lower") is entry  # a family of 1 at the day size: as stored
    split = bounds_for_rows(cfg, entry, 600, 600, "lower", family=10)
    k = stats.norm.isf(stats.norm.sf(3.0) / 10)  # 3.97σ
    assert split["lower"] == pytest.approx(np.mean(samples) - k * np.std(samples, ddof=1))
    assert split["lower"] < entry["lower"] and "split over 10 checks" in split["rule"]
    few = bounds_for_rows(cfg, entry, 150, 600, "lower", family=10)  # a quarter of the labels: noise × 2
    assert few["lower"] == pytest.approx(np.mean(chunks) - k * 2 * np.std(samples, ddof=1))


@pytest.mark.slow
def test_a_day_whose_labels_reach_two_prediction_days_splits_over_both(tiny):
    cfg, storage, frames = tiny
    days = [FIRST_DAY + timedelta(days=i) for i in range(3)]
    # the labels of the first two days arrive together on the third
    storage.delete(f"labels/{days[1]}.parquet")
    both = pd.concat([frames[str(d)][["pid", "label"]] for d in days[:2]], ignore_index=True)
    storage.write_bytes(f"labels/{days[2]}.parquet", parquet_bytes(both))
    for day in days:
        result = run_day(cfg, day, storage)
    realized = [
        c
        for c in result.checks
        if c.stage == "performance" and "prediction_day" in c.details and c.value is not None
    ]
    assert {c.details["prediction_day"] for c in realized} == {str(days[0]), str(days[1])}
    assert len(realized) == 10 and all("split over 10 checks" in c.threshold_rule for c in realized)
    assert {c.details["label_days"] for c in realized} == {2}
