"""No raw values leave the engine unless their column is marked `show_values`; `pii` columns appear nowhere."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from helpers import FIRST_DAY, TINY_CONFIG, parquet_bytes, tiny_config, write_tiny_world
from watchkeeper.config import ConfigError, parse_config
from watchkeeper.disclosure import read_error, suite_without_pii
from watchkeeper.loading import InputError
from watchkeeper.pipeline import Day, check_quality, load_day, staged_frame
from watchkeeper.storage import Storage

SECRET = "jane.doe@example.com"
DAY = FIRST_DAY + timedelta(days=1)


def _everything(storage: Storage) -> str:
    """Every object the engine stored, as one text (the staged Parquet is not a result and is left out)."""
    return "\n".join(
        storage.read_bytes(k).decode("utf-8", "replace")
        for k in storage.list("watchkeeper")
        if "/staged/" not in k
    )


def test_a_broken_csv_row_is_described_not_quoted(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_tiny_world(storage, days=0, n=60)
    paths = {**TINY_CONFIG["paths"], "predictions": "days/{ds}.csv"}
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), paths=paths)
    body = f"pid,ts,x1,x2,c,score,pred\n1,2025-03-02T00:00:00Z,0.1,0.2,a,0.5,1\n2,{SECRET},0.3\n"
    storage.write_bytes(f"days/{DAY}.csv", body.encode())
    d = Day(cfg, DAY, storage, storage)
    with pytest.raises(InputError) as err:
        load_day(d)
    assert SECRET not in str(err.value)
    (check,) = storage.read_json(cfg.results_key(DAY, "stages/load.json"))["checks"]
    assert check["id"] == "load.corrupt" and SECRET not in json.dumps(check)
    assert "a row has 3 fields where the header has 7" in check["reason"]


def test_csv_conversion_errors_name_the_column_position_and_type_only():
    with pytest.raises(pa.ArrowInvalid) as err:
        pacsv.read_csv(
            pa.BufferReader(f"a,b\n1,2\n{SECRET},3\n".encode()),
            convert_options=pacsv.ConvertOptions(column_types={"a": pa.int64()}),
        )
    assert SECRET in str(err.value)  # what pyarrow says
    assert read_error(err.value) == "CSV conversion error: column #0 holds a value that is not int64"


@pytest.fixture
def hostile_day(tmp_path):
    """A day whose categorical `c` has an unseen value and whose ids repeat, both carrying a secret."""
    storage = Storage.from_uri(str(tmp_path / "data"))
    frames = write_tiny_world(storage, days=2, n=300)
    df = frames[DAY.isoformat()].drop(columns=["label"]).copy()
    df.loc[:59, "c"] = SECRET
    df.loc[:9, "pid"] = "id-" + SECRET
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(df))
    return tmp_path, storage


def _quality(cfg, storage: Storage) -> list:
    d = Day(cfg, DAY, storage, storage)
    load_day(d)
    check_quality(d)
    return storage.read_json(cfg.results_key(DAY, "stages/quality.json"))["checks"]


def test_unseen_values_and_duplicate_ids_are_counted_not_shown(hostile_day):
    tmp_path, storage = hostile_day
    checks = _quality(tiny_config(tmp_path, str(tmp_path / "data")), storage)
    unseen = next(c for c in checks if c["id"] == "quality.expect_column_values_to_be_in_set")
    assert (
        unseen["reason"]
        == "'c' has values unseen in the reference (1 distinct, 20.0% of non-missing rows; values not shown)"
    )
    assert unseen["details"]["unexpected_distinct"] == 1 and "unexpected_values" not in unseen["details"]
    assert any(
        c["id"] == "quality.expect_column_values_to_be_unique" and c["status"] == "alert" for c in checks
    )
    stored = _everything(storage)
    assert "gx_validation_result" in " ".join(storage.list("watchkeeper")) and SECRET not in stored
    gx = storage.read_json(
        tiny_config(tmp_path, str(tmp_path / "data")).results_key(DAY, "quality/gx_validation_result.json")
    )
    in_set = next(
        r for r in gx["results"] if r["expectation_config"]["type"] == "expect_column_values_to_be_in_set"
    )
    assert in_set["expectation_config"]["kwargs"]["value_set"] == "3 values (not shown)"
    assert in_set["result"]["unexpected_count"] == 60 and "partial_unexpected_list" not in in_set["result"]


def test_columns_marked_show_values_name_their_values(hostile_day):
    tmp_path, storage = hostile_day
    columns = {**TINY_CONFIG["columns"], "show_values": ["c"]}
    checks = _quality(tiny_config(tmp_path, str(tmp_path / "data"), columns=columns), storage)
    unseen = next(c for c in checks if c["id"] == "quality.expect_column_values_to_be_in_set")
    assert f"'{SECRET}' (20.0%)" in unseen["reason"]
    stored = _everything(storage)
    assert SECRET in stored and "id-" + SECRET not in stored  # `pid` is still not shown


def test_pii_columns_are_dropped_on_read_and_named_nowhere(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    frames = write_tiny_world(storage, days=2, n=300)
    ref = storage.read_bytes("ref.parquet")
    import io

    import pandas as pd

    reference = pd.read_parquet(io.BytesIO(ref))
    reference["customer_email"] = SECRET
    storage.write_bytes("ref.parquet", parquet_bytes(reference))
    df = frames[DAY.isoformat()].drop(columns=["label"]).assign(customer_email=SECRET)
    df.loc[:5, "customer_email"] = (
        None  # nulls and values unseen in the reference: nothing is said about them
    )
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(df))
    columns = {**TINY_CONFIG["columns"], "pii": ["customer_email"]}
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), columns=columns)
    checks = _quality(cfg, storage)
    assert all(c["status"] == "ok" for c in checks if c["id"] != "quality.timestamps_in_day")
    assert "customer_email" not in staged_frame(Day(cfg, DAY, storage, storage)).columns
    stored = _everything(storage)
    assert SECRET not in stored and "customer_email" not in stored


def test_a_committed_suite_loses_its_pii_expectations():
    cfg = parse_config(
        {**TINY_CONFIG, "storage": {"uri": "/x"}, "columns": {**TINY_CONFIG["columns"], "pii": ["email"]}}
    )
    suite = {
        "name": "s",
        "expectations": [
            {"type": "expect_column_to_exist", "kwargs": {"column": "email"}},
            {"type": "expect_column_to_exist", "kwargs": {"column": "x1"}},
            {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["x1", "email"]}},
        ],
    }
    kept = suite_without_pii(cfg, suite)["expectations"]
    assert [e["kwargs"] for e in kept] == [{"column": "x1"}, {"column_set": ["x1"]}]


@pytest.mark.parametrize(
    ("columns", "segments"),
    [
        ({"pii": ["x1"]}, []),
        ({"pii": ["pid"]}, []),
        ({"pii": ["email"], "show_values": ["email"]}, []),
        ({"pii": ["region"]}, ["region"]),
    ],
)
def test_pii_cannot_be_monitored_shown_or_segmented(columns, segments):
    data = {**TINY_CONFIG, "storage": {"uri": "/x"}, "columns": {**TINY_CONFIG["columns"], **columns}}
    with pytest.raises(ConfigError, match="pii"):
        parse_config({**data, "segments": {"columns": segments}}, "m.yaml")


def _scan(*roots) -> str:
    """Every file below `roots` as text (stored results, reports, GX results, the MLflow database and artifacts),
    the staged copy of the day and the cached reference profile left out."""
    from pathlib import Path

    return "\n".join(
        p.read_bytes().decode("utf-8", "replace")
        for root in roots
        for p in Path(root).rglob("*")
        if p.is_file() and "staged" not in p.parts and "reference" not in p.parts
    )


@pytest.mark.slow
@pytest.mark.parametrize("show", [False, True])
def test_numeric_extremes_and_quantiles_of_columns_not_shown_appear_nowhere(tmp_path, show):
    """Planted extremes: the reference's x1 spans [-4343.4343, 4242.4242], the day's x1 reaches 98765.4321.
    A committed suite asks for x1's min, max and median; the generated bound is fitted to the
    reference's extremes; x1 drifts, so its binned distribution is stored."""
    import io

    import numpy as np
    import pandas as pd
    from watchkeeper.pipeline import run_day
    from watchkeeper.quality.suite import build_suite_dict, to_json
    from watchkeeper.reference import load_reference

    storage = Storage.from_uri(str(tmp_path / "data"))
    frames = write_tiny_world(storage, days=1)
    ref = pd.read_parquet(io.BytesIO(storage.read_bytes("ref.parquet")))
    ref.loc[0, "x1"], ref.loc[1, "x1"] = 4242.4242, -4343.4343
    storage.write_bytes("ref.parquet", parquet_bytes(ref))
    day = frames[FIRST_DAY.isoformat()].drop(columns=["label"])
    day["x1"] += 3.0  # drifted: x1's distribution is drawn in the report
    day.loc[0, "x1"] = 98765.4321
    storage.write_bytes(f"days/{FIRST_DAY}.parquet", parquet_bytes(day))
    columns = {**TINY_CONFIG["columns"], "show_values": ["x1"] if show else []}
    cfg = tiny_config(tmp_path, storage.uri, columns=columns)
    suite = build_suite_dict(cfg, load_reference(cfg, storage))
    suite["expectations"] += [
        {"type": t, "kwargs": {"column": "x1", **kw}, "severity": "warning"}
        for t, kw in [
            ("expect_column_max_to_be_between", {"min_value": -10, "max_value": 10}),
            ("expect_column_min_to_be_between", {"min_value": -10, "max_value": 10}),
            ("expect_column_median_to_be_between", {"min_value": -1, "max_value": 1}),
        ]
    ]  # fmt: skip
    (tmp_path / "expectations" / "tiny").mkdir(parents=True)
    (tmp_path / "expectations" / "tiny" / "default.json").write_text(to_json(suite))

    result = run_day(cfg, FIRST_DAY, storage, tracking_uri=f"sqlite:///{tmp_path}/mlflow/mlflow.db")
    assert result.mlflow_run_id and "x1" in [d.column for d in result.distributions]
    by_type = {c.name: c for c in result.checks if c.subject == "x1"}
    assert by_type["expect_column_max_to_be_between"].status == "alert"  # still judged, only not quoted
    text = _scan(tmp_path / "data" / "watchkeeper", tmp_path / "mlflow")
    x1 = np.sort(day["x1"].to_numpy())
    median = np.median(x1)
    raw = ["98765.4", "9.87654e+04", f"{median:.6g}", "4242.42", "4343.43"]
    raw += ["5101.01", "5202.02"]  # the exact generated bounds: reference extremes ± 10 % of the range
    ends = np.quantile(np.sort(ref["x1"].to_numpy()), [0.005, 0.995])  # the plot's range before coarsening
    raw += [f"{e:.6g}" for e in ends]
    found = [v for v in raw if v in text]
    if show:
        assert {"98765.4", "5101.01", "5202.02"} <= set(
            found
        )  # a column marked safe to show keeps its values
        assert by_type["expect_column_max_to_be_between"].value == pytest.approx(98765.4321)
    else:
        assert found == []
        assert by_type["expect_column_max_to_be_between"].value is None
        between = next(c for c in result.checks if c.id == "quality.expect_column_values_to_be_between"
                       and c.subject == "x1")  # fmt: skip
        assert (between.lower, between.upper) == (-6000.0, 6000.0)  # coarsened, still a bound
