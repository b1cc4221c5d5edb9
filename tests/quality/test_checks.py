"""Quality checks of a staged day through the pipeline's `check_quality`: what each suite kind reports, and why.

Runs only load → quality on the tiny world, so each case takes a second or two after GX is imported.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
from helpers import FIRST_DAY, parquet_bytes, rows
from watchkeeper.pipeline import Day, check_quality, load_checks, load_day
from watchkeeper.quality.suite import build_suite_dict, to_json
from watchkeeper.reference import load_reference

DAY = FIRST_DAY + timedelta(days=2)


def quality(cfg, storage, df=None) -> dict:
    if df is not None:
        storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(df))
    d = Day(cfg, DAY, storage, storage)
    load_day(d)
    check_quality(d)
    return {(c.name, c.subject): c for c in load_checks(d, "quality")}


def test_healthy_day_passes_and_stores_gx_json(tiny):
    cfg, storage, _ = tiny
    checks = quality(cfg, storage)
    assert not [c for c in checks.values() if c.status != "ok"]
    assert {"timestamps_in_day", "duplicate_rows"} <= {name for name, _ in checks}
    stored = json.loads(storage.read_bytes(cfg.results_key(DAY, "quality/gx_validation_result.json")))
    assert stored["success"] is True and stored["meta"]["gx_pandas_fallback"] == 0
    assert stored["suite_parameters"] == {"day_start": f"{DAY}T00:00:00+00:00",
                                          "day_end": f"{DAY + timedelta(days=1)}T00:00:00+00:00"}  # fmt: skip
    assert len(stored["results"]) == len(checks)


def test_a_stale_file_fails_the_freshness_check(tiny):
    cfg, storage, _ = tiny
    stale = rows(np.random.default_rng(3), 600, DAY - timedelta(days=5)).drop(columns=["label"])
    check = quality(cfg, storage, stale)[("timestamps_in_day", "ts")]
    assert check.status == "alert" and check.severity == "critical" and check.owner == "data"
    assert check.details["unexpected_count"] == 600
    assert (
        f"fall outside the day [{DAY}T00:00:00+00:00, {DAY + timedelta(days=1)}T00:00:00+00:00)"
        in check.reason
    )


def test_a_redelivered_batch_is_named_as_duplicate_rows(tiny):
    cfg, storage, frames = tiny
    df = frames[str(DAY)].drop(columns=["label"])
    df = pd.concat([df, df.iloc[:30]], ignore_index=True)
    checks = quality(cfg, storage, df)
    dup = checks[("duplicate_rows", "table")]
    assert dup.status == "alert" and dup.severity == "warning"
    assert dup.reason == "60 rows (9.5%) repeat another row in every column"  # 30 rows, each twice
    ids = checks[("expect_column_values_to_be_unique", "pid")]
    assert ids.status == "alert" and ids.severity == "critical"
    stored = storage.read_bytes(cfg.results_key(DAY, "quality/gx_validation_result.json")).decode()
    assert str(df.loc[0, "x1"]) not in stored  # counts are stored, never the duplicated records


def test_hand_added_expectations_run_through_gx(tiny, tmp_path):
    cfg, storage, _ = tiny
    suite = build_suite_dict(cfg, load_reference(cfg, storage))
    suite["expectations"].append(
        {
            "type": "expect_column_mean_to_be_between",
            "kwargs": {"column": "x1", "min_value": 5, "max_value": 6},
            "severity": "warning",
        }  # fmt: skip
    )
    (tmp_path / "expectations" / "tiny").mkdir(parents=True)
    (tmp_path / "expectations" / "tiny" / "default.json").write_text(to_json(suite))
    checks = quality(cfg, storage)
    mean = checks[("expect_column_mean_to_be_between", "x1")]
    assert mean.status == "alert" and mean.severity == "warning" and abs(mean.value) < 0.2
    stored = json.loads(storage.read_bytes(cfg.results_key(DAY, "quality/gx_validation_result.json")))
    assert stored["meta"]["gx_pandas_fallback"] == 1
