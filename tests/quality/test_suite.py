"""Suite generation: tolerances learned from the reference, stable output, one expectation per kind and column."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
from helpers import tiny_config
from watchkeeper.quality.fast import Batch, validate_arrow
from watchkeeper.quality.suite import build_suite_dict, to_json

START = date(2030, 1, 1)


def days(n_days: int, missing: float, seed: int = 0) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_days):
        day = START + timedelta(days=i)
        x = rng.normal(size=1000)
        x[rng.random(1000) < missing] = np.nan
        out.append(pd.DataFrame({
            "pid": [f"{day}-{j}" for j in range(1000)],
            "ts": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, 1000), unit="s"),
            "x1": x, "x2": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000),
            "score": rng.random(1000), "pred": rng.integers(0, 2, 1000), "label": rng.integers(0, 2, 1000),
        }))  # fmt: skip
    return out


def null_check_passes(suite: dict, day: pd.DataFrame) -> bool:
    when = pd.Timestamp(day["ts"].min().date(), tz="UTC")
    params = {"day_start": when.isoformat(), "day_end": (when + pd.Timedelta(days=1)).isoformat()}
    result = validate_arrow(suite, Batch(pa.Table.from_pandas(day, preserve_index=False)), params)
    [r] = [r for r in result.results if r.expectation_config.kwargs.get("column") == "x1"
           and "non_null" in r.expectation_config.type]  # fmt: skip
    return r.success


def test_missing_share_tolerance_comes_from_the_reference(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path))
    suite = build_suite_dict(cfg, pd.concat(days(12, missing=0.10), ignore_index=True))
    floor = next(e for e in suite["expectations"] if e["kwargs"].get("column") == "x1" and "min_value" in e["kwargs"]
                 and e["type"] == "expect_column_proportion_of_non_null_values_to_be_between")["kwargs"]["min_value"]  # fmt: skip
    assert 0.80 < floor < 0.89  # the reference's worst day (~11.5 % missing) plus a sampling margin
    later = days(3, missing=0.11, seed=5) + days(1, missing=0.25, seed=6)
    assert [null_check_passes(suite, d) for d in later] == [True, True, True, False]


def test_suite_is_stable_and_diff_friendly(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path))
    ref = pd.concat(days(12, missing=0.0), ignore_index=True)
    first, again = (
        to_json(build_suite_dict(cfg, ref)),
        to_json(build_suite_dict(cfg, ref.sample(frac=1, random_state=1))),
    )
    assert first == again  # row order of the reference does not matter
    kinds = [
        e["meta"].get("watchkeeper_check", e["type"]) for e in build_suite_dict(cfg, ref)["expectations"]
    ]
    assert {"finite_values", "timestamps_in_day", "duplicate_rows", "expect_table_columns_to_match_set",
            "expect_column_values_to_be_in_set", "expect_column_values_to_be_unique"} <= set(kinds)  # fmt: skip
