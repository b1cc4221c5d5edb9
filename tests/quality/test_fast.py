"""The Arrow-summary path gives GX's own results: same success, observed value, counts, percents, partial values.

Each expectation type the generator emits runs on one small day through GX on pandas and through `quality.fast`,
passing and failing, with and without `mostly`, with nulls, NaN, inf and nullable integers in the data.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from watchkeeper.quality.fast import read_batch, validate_arrow
from watchkeeper.quality.suite import NUMERIC_TYPES
from watchkeeper.quality.validate import run_suite, to_checks

N = 300
PARAMS = {"day_start": "2025-01-01T00:00:00+00:00", "day_end": "2025-01-02T00:00:00+00:00"}
CASES = [
    ("expect_table_row_count_to_be_between", {"min_value": 10, "max_value": 20}),
    ("expect_table_row_count_to_be_between", {"min_value": 10, "max_value": 2000}),
    ("expect_column_to_exist", {"column": "x"}),
    ("expect_column_to_exist", {"column": "renamed"}),
    ("expect_column_values_to_not_be_null", {"column": "x"}),
    ("expect_column_values_to_not_be_null", {"column": "c", "mostly": 0.5}),
    ("expect_column_values_to_not_be_null", {"column": "i"}),
    ("expect_column_values_to_not_be_null", {"column": "ni"}),
    ("expect_column_proportion_of_non_null_values_to_be_between", {"column": "x", "min_value": 0.99}),
    ("expect_column_proportion_of_non_null_values_to_be_between", {"column": "c", "min_value": 0.95}),
    ("expect_column_values_to_be_unique", {"column": "id"}),
    ("expect_column_values_to_be_unique", {"column": "i"}),
    ("expect_column_values_to_be_unique", {"column": "c"}),
    ("expect_column_values_to_be_in_type_list", {"column": "x", "type_list": ["float64"]}),
    ("expect_column_values_to_be_in_type_list", {"column": "ni", "type_list": ["int64"]}),
    ("expect_column_values_to_be_in_type_list", {"column": "j", "type_list": ["int64", "float64"]}),
    ("expect_column_values_to_be_in_type_list", {"column": "ni", "type_list": NUMERIC_TYPES}),
    ("expect_column_values_to_be_in_type_list", {"column": "s", "type_list": ["float64"]}),
    ("expect_column_values_to_be_in_type_list", {"column": "t", "type_list": ["float64"]}),
    ("expect_column_values_to_be_in_type_list", {"column": "b", "type_list": ["bool"]}),
    ("expect_column_values_to_be_between", {"column": "x", "min_value": -1, "max_value": 1, "mostly": 0.5}),
    ("expect_column_values_to_be_between", {"column": "x", "min_value": -1, "max_value": 1, "mostly": 0.9}),
    ("expect_column_values_to_be_between", {"column": "x", "min_value": -1.7e308, "max_value": 1.7e308}),
    ("expect_column_values_to_be_between", {"column": "y", "min_value": -1.7e308, "max_value": 1.7e308}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 0, "max_value": 1000}),
    (
        "expect_column_values_to_be_between",
        {"column": "i", "min_value": 0, "max_value": 100, "strict_min": True},
    ),
    ("expect_column_values_to_be_between", {"column": "ni", "min_value": 0, "max_value": 1}),
    ("expect_column_values_to_be_between", {"column": "s", "min_value": 0, "max_value": 1}),
    ("expect_column_values_to_be_in_set", {"column": "c", "value_set": ["a", "b"], "mostly": 0.5}),
    ("expect_column_values_to_be_in_set", {"column": "c", "value_set": ["a", "b"], "mostly": 0.4}),
    ("expect_column_values_to_be_in_set", {"column": "c", "value_set": ["a", "b", "yy", "zz"]}),
    ("expect_column_values_to_be_in_set", {"column": "j", "value_set": [0, 1, 2]}),
    ("expect_column_values_to_be_in_set", {"column": "ni", "value_set": [0, 1]}),
    ("expect_column_values_to_be_in_set", {"column": "b", "value_set": [True]}),
    ("expect_column_values_to_be_in_set", {"column": "b", "value_set": [True, False]}),
    (
        "expect_column_values_to_be_between",
        {
            "column": "t",
            "min_value": {"$PARAMETER": "day_start"},
            "max_value": {"$PARAMETER": "day_end"},
            "strict_max": True,
        },
    ),  # fmt: skip
    (
        "expect_column_values_to_be_between",
        {"column": "t", "min_value": "2024-12-31T00:00:00+00:00", "max_value": "2025-01-09T00:00:00+00:00"},
    ),  # fmt: skip
    ("expect_compound_columns_to_be_unique", {"column_list": ["c", "b"]}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["id", "x", "c", "t"]}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["id", "x"], "mostly": 0.9}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["i", "x"]}),
    (
        "expect_compound_columns_to_be_unique",
        {"column_list": ["x", "c"], "ignore_row_if": "any_value_is_missing"},
    ),
    (
        "expect_table_columns_to_match_set",
        {"column_set": ["id", "x", "y", "c", "i", "j", "ni", "b", "s", "t"], "exact_match": True},
    ),  # fmt: skip
    ("expect_table_columns_to_match_set", {"column_set": ["id", "x", "renamed"], "exact_match": True}),
    ("expect_column_mean_to_be_between", {"column": "x", "min_value": 0, "max_value": 1}),  # no provider: GX
]


def day() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "id": [f"p{i % (N - 7)}" for i in range(N)],
            "x": rng.normal(size=N),
            "y": rng.normal(size=N),
            "c": rng.choice(["a", "b", "zz", "yy"], N, p=[0.3, 0.2, 0.3, 0.2]),
            "i": np.arange(N),
            "j": rng.integers(0, 5, N),
            "ni": pd.array(rng.integers(0, 3, N), dtype="Int64"),
            "b": rng.random(N) < 0.5,
            "s": [f"{v:.3f}" for v in rng.normal(size=N)],
            "t": pd.date_range("2025-01-01", periods=N, freq="6min", tz="UTC"),
        }
    )
    df.loc[:4, "x"] = np.nan
    df.loc[5, "x"] = np.inf
    df.loc[6, "c"] = None
    df.loc[3, "ni"] = pd.NA
    df.loc[20, ["id", "x", "c", "t"]] = df.loc[10, ["id", "x", "c", "t"]]  # a record delivered twice
    return df


def parquet(df: pd.DataFrame) -> io.BytesIO:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    buf.seek(0)
    return buf


def key(r) -> tuple[str, str]:
    kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
    return r.expectation_config.type, json.dumps(kwargs, sort_keys=True, default=str)


def raised(r) -> bool:
    info = r.exception_info or {}
    return bool(info.get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )


@pytest.fixture(scope="module")
def both():
    suite = {"name": "t.default", "expectations": [{"type": t, "kwargs": k} for t, k in CASES]}
    frame = pq.read_table(parquet(day())).to_pandas()
    gx_result = run_suite(suite, frame, "gx", PARAMS)
    fast = validate_arrow(
        suite, read_batch(parquet(day()), suite), PARAMS, fallback=lambda s, p: run_suite(s, frame, "fb", p)
    )
    return gx_result, fast


def test_every_expectation_gives_gx_own_result(both):
    gx_result, fast = both
    by_key = {key(r): r for r in gx_result.results}
    assert len(fast.results) == len(CASES) == len(by_key)
    outcomes = set()
    for r in fast.results:
        want = by_key[key(r)]
        assert raised(r) == raised(want), key(r)
        assert r.success == want.success, key(r)
        if not raised(want):
            assert r.to_json_dict()["result"] == want.to_json_dict()["result"], key(r)
        outcomes.add((r.expectation_config.type, r.success))
    for kind in {t for t, _ in CASES} - {"expect_column_mean_to_be_between"}:
        assert {(kind, True), (kind, False)} <= outcomes, f"{kind} needs a passing and a failing case"
    assert fast.statistics == gx_result.statistics
    assert fast.meta["gx_pandas_fallback"] == 2  # the mean (no provider) and `between` on a string column


def test_checks_read_the_same_from_both_paths(both):
    gx_result, fast = both

    def seen(result) -> Counter:
        out = Counter()
        for c in to_checks(result):
            details = {k: v for k, v in c.details.items() if k != "unexpected_values"}  # fast: true counts
            out[
                (c.id, c.subject, c.threshold_rule, str(c.status), c.value, str(c.severity), str(details))
            ] += 1
        return out

    assert seen(fast) == seen(gx_result)
    assert sum(seen(fast).values()) == len(CASES)


def test_unseen_categories_carry_their_true_counts(both):
    _, fast = both
    r = next(r for r in fast.results if r.expectation_config.kwargs.get("value_set") == ["a", "b"])
    counts = {v["value"]: v["count"] for v in r.meta["unexpected_value_counts"]}
    assert counts == day()["c"].value_counts()[["zz", "yy"]].to_dict()
    assert sum(counts.values()) == r.result["unexpected_count"]


def test_a_wide_day_read_column_by_column_gives_the_same_results(both, monkeypatch):
    # A day of LAZY_CELLS or more is validated one column at a time (a 5M-row day never holds its whole table);
    # with one column kept, every summary asked for again is computed again, and the results must not change.
    import watchkeeper.quality.fast as fast

    monkeypatch.setattr(fast, "KEEP_COLUMNS", 1)
    suite = {"name": "t.default", "expectations": [{"type": t, "kwargs": k} for t, k in CASES]}
    frame = pq.read_table(parquet(day())).to_pandas()
    batch = read_batch(parquet(day()), suite, lazy=True)
    assert isinstance(batch.table, fast.LazyTable) and batch.rows == N
    lazy = validate_arrow(suite, batch, PARAMS, fallback=lambda s, p: run_suite(s, frame, "fb", p))
    assert len(batch.table._kept) == 1 and len(batch._columns) <= 1
    eager = both[1]
    assert [key(r) for r in lazy.results] == [key(r) for r in eager.results]
    for r, want in zip(
        lazy.results, eager.results, strict=True
    ):  # ids and tracebacks of GX's fallback differ
        same = json.dumps(
            [r.success, r.result, r.meta, raised(r)], sort_keys=True, default=str
        )  # NaN as text
        assert same == json.dumps(
            [want.success, want.result, want.meta, raised(want)], sort_keys=True, default=str
        )
    assert lazy.statistics == eager.statistics


@pytest.mark.parametrize(
    "chunks",
    [
        [[3.5, -1.0, 2.0], [7.25, 0.0]],
        [[1.0, float("nan")], [5.0, -2.0]],  # NaN skipped, as Arrow and pandas do
        [[float("nan")], [float("nan"), float("nan")]],
        [[], [4, -9, 2], [], [11]],
        [[1, None, 3], [8]],  # nulls: answered by Arrow
        [[-(2**62), 2**62]],
        [[float("inf"), -float("inf"), 1.0]],
    ],
)
def test_a_columns_smallest_and_largest_values_are_arrows(chunks):
    import pyarrow as pa
    import pyarrow.compute as pc
    from watchkeeper.quality.fast import Column

    kind = pa.float64() if any(isinstance(v, float) for c in chunks for v in c) else pa.int64()
    data = pa.chunked_array([pa.array(c, type=kind) for c in chunks], type=kind)
    expected = pc.min_max(data)
    found = Column(data).min_max
    assert [repr(v) for v in found] == [repr(expected["min"].as_py()), repr(expected["max"].as_py())]
