"""Reading the day column by column: Parquet dictionary codes and Arrow chunks give the same summaries as raw values."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from watchkeeper.drift.day import ColumnData, DayColumns
from watchkeeper.drift.methods import summarize


def test_staged_parquet_summaries_equal_raw_summaries(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
            "k": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(0, 4, n)), dtype="Int64"),
            "s": np.where(rng.random(n) < 0.05, None, rng.choice(["u", "v", "w"], n)),
        }
    )
    # Several row groups whose string dictionaries differ (the first has no "w").
    frame.loc[:999, "s"] = frame.loc[:999, "s"].replace("w", "u")
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet", row_group_size=1000
    )
    day = DayColumns.open(str(tmp_path / "d.parquet"), pa.fs.LocalFileSystem())
    assert pa.types.is_dictionary(day.column("s").type)
    for column, kind in (("x", "numeric"), ("k", "categorical"), ("s", "categorical")):
        summary, rows = ColumnData.read(day.column(column), kind).summary()
        expected = summarize(frame[column].dropna().to_numpy(), kind)
        if kind == "numeric":
            assert np.array_equal(summary, expected) and rows == expected.size
        else:
            assert summary == expected and rows == sum(expected.values())
    assert set(ColumnData.read(day.column("k"), "categorical").summary()[0]) == {"0", "1", "2", "3"}


def test_segment_rows_follow_the_tracked_values():
    day = DayColumns(pa.table({"r": pa.array(["n", "s", None, "e", "n"]).dictionary_encode()}))

    ids = ColumnData.read(day.column("r"), "categorical").segment_ids(["n", "s"])
    assert ids.tolist() == [0, 1, -1, -1, 0]


def test_threads_score_a_parquet_day_exactly_as_one_thread_does(tmp_path):
    from datetime import timedelta

    from helpers import FIRST_DAY, rows, tiny_config
    from watchkeeper.drift.stage import drift_checks
    from watchkeeper.reference import build_profile

    rng = np.random.default_rng(3)
    ref = pd.concat(
        [rows(rng, 400, FIRST_DAY - timedelta(days=20 - i)) for i in range(20)], ignore_index=True
    )
    day = rows(rng, 5000, FIRST_DAY)
    day.loc[day["c"] == "b", "x1"] += 0.5
    pq.write_table(
        pa.Table.from_pandas(day, preserve_index=False), tmp_path / "d.parquet", row_group_size=700
    )

    def checks(threads):
        cfg = tiny_config(tmp_path, str(tmp_path), drift={"threads": threads}, segments={"columns": ["c"]})
        profile = build_profile(cfg, ref)
        parquet = DayColumns.open(str(tmp_path / "d.parquet"), pa.fs.LocalFileSystem())
        found = drift_checks(cfg, parquet, profile, profile["_drift_state"])
        return [(c.id, c.subject, c.segment, c.value, c.status, c.upper) for c in found]

    one, many = checks(1), checks(4)
    assert one == many
    assert any(subject == "multivariate" for _, subject, *_ in one)
    assert ("x1", "c=b") in {(s, g) for _, s, g, _, status, _ in one if status == "alert"}
