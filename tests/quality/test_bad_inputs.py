"""Every bad input gets a named outcome, seen where the user looks: `run-day`'s JSON, the MLflow run, the alert.

One world on the local S3 server (moto over HTTP, the production storage path), a SQLite MLflow store and the
outbox; each bad input is one day, run through the real CLI in this process (so GX is imported once). Inputs that
cannot be processed at all are also passed to the DAG's failure notifier, which is what alerts in production.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from helpers import FIRST_DAY, TINY_CONFIG, parquet_bytes, rows
from watchkeeper.alerts import read_outbox
from watchkeeper.cli import main
from watchkeeper.storage import S3Credentials, Storage

pytestmark = pytest.mark.slow
BUCKET = "s3://wk-bad-inputs/data"
DAYS = {name: FIRST_DAY + timedelta(days=i) for i, name in enumerate(
    ["healthy", "ghost_labels", "renamed", "missing", "extra", "dtype", "nan", "inf", "dup_ids",
     "empty", "corrupt", "not_arrived", "no_rows", "csv_delimiter", "csv_encoding", "units"])}  # fmt: skip


def bad_day(name: str, df: pd.DataFrame) -> pd.DataFrame | bytes | None:
    """The day's file as it arrives for each case (None: it never arrives)."""
    df = df.copy()
    match name:
        case "renamed":
            return df.rename(columns={"x1": "x_one"})
        case "missing":
            return df.drop(columns=["x2"])
        case "extra":
            return df.assign(debug_flag=1)
        case "dtype":
            return df.assign(x1=df["x1"].map(lambda v: f"{v:.3f}"))
        case "nan":
            df.loc[df.sample(frac=0.4, random_state=0).index, "x2"] = np.nan
        case "inf":
            df.loc[:2, "x2"] = np.inf
        case "dup_ids":
            df.loc[:9, "pid"] = df.loc[0, "pid"]
        case "units":  # grams become milligrams upstream: every value 1000 times larger
            return df.assign(x1=df["x1"] * 1000)
        case "empty":
            return b""
        case "corrupt":
            return b"PAR1 this is not parquet at all"
        case "not_arrived":
            return None
        case "no_rows":
            return df.iloc[:0]
    return df


@pytest.fixture(scope="module")
def world(s3_stack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-inputs")
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": s3_stack.s3_endpoint,
    }
    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri(BUCKET, creds)
    storage.ensure_root()
    rng = np.random.default_rng(4)
    ref = pd.concat(
        [rows(rng, 600, FIRST_DAY - timedelta(days=12 - i)) for i in range(12)], ignore_index=True
    )
    storage.write_bytes("ref.parquet", parquet_bytes(ref))
    frames = {}
    for name, day in DAYS.items():
        df = rows(rng, 600, day)
        frames[name] = df
        data = bad_day(name, df.drop(columns=["label"]))
        if isinstance(data, pd.DataFrame):
            storage.write_bytes(f"days/{day}.parquet", parquet_bytes(data))
        elif data is not None:
            storage.write_bytes(f"days/{day}.parquet", data)
    labels = frames["healthy"][["pid", "label"]].copy()
    labels.loc[:4, "pid"] = [f"ghost-{i}" for i in range(5)]
    storage.write_bytes(f"labels/{DAYS['ghost_labels']}.parquet", parquet_bytes(labels))
    csv = frames["csv_delimiter"].drop(columns=["label"])
    storage.write_bytes(f"csv/{DAYS['csv_delimiter']}.csv", csv.to_csv(index=False, sep=";").encode())
    csv = frames["csv_encoding"].drop(columns=["label"]).assign(c="é")
    storage.write_bytes(f"csv/{DAYS['csv_encoding']}.csv", csv.to_csv(index=False).encode("latin-1"))

    config = tmp / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": BUCKET}}))
    csv_config = tmp / "tinycsv.yaml"
    paths = {**TINY_CONFIG["paths"], "predictions": "csv/{ds}.csv"}
    csv_config.write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "tinycsv", "paths": paths, "storage": {"uri": BUCKET}})
    )
    tracking, outbox = f"sqlite:///{tmp}/mlflow.db", tmp / "outbox.jsonl"
    runs = {}
    for name, day in DAYS.items():
        cfg = csv_config if name.startswith("csv") else config
        args = [
            "run-day",
            "--config",
            str(cfg),
            "--day",
            str(day),
            "--tracking-uri",
            tracking,
            "--outbox",
            str(outbox),
        ]
        runs[name] = CliRunner().invoke(main, args, env=env)
    return SimpleNamespace(runs=runs, frames=frames, tracking=tracking, outbox=outbox, env=env,
                           config=config, csv_config=csv_config, storage=storage)  # fmt: skip


def doc(world, name: str) -> dict:
    run = world.runs[name]
    assert run.exit_code == 0, (run.output, run.exception)
    return json.loads(run.stdout)


def check(d: dict, check_id: str, subject: str) -> dict:
    return next(c for c in d["checks"] if c["id"] == check_id and c["subject"] == subject)


def stages(d: dict) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in d["stages"]}


def mlflow_run(world, name: str):
    from mlflow import MlflowClient

    client = MlflowClient(world.tracking)
    exp = client.get_experiment_by_name("watchkeeper/tiny")
    found = client.search_runs([exp.experiment_id], f"tags.`watchkeeper.day` = '{DAYS[name]}'")
    return client, found


def data_incident(world, name: str, model: str = "tiny") -> dict | None:
    """The data owner's incident that the day fed (consecutive bad days feed one incident, announced once)."""
    day = DAYS[name].isoformat()
    for key in world.storage.list(f"watchkeeper/{model}/incidents/"):
        inc = json.loads(world.storage.read_bytes(key))
        if "data" in inc["owners"] and day in inc["checks"]:
            return inc
    return None


def data_alert(world, name: str, model: str = "tiny") -> dict | None:
    """The message that announced the data owner's incident covering the day (None: no such incident)."""
    inc = data_incident(world, name, model)
    if inc is None:
        return None
    keys = {m["key"]: m for m in read_outbox(world.outbox)}
    return keys.get(f"{model}/{inc['id']}/opened/data")


def assert_no_raw_rows(world, name: str, text: str) -> None:
    df = world.frames[name]
    for value in [*df["pid"].head(50), *(f"{v:.6f}" for v in df["x1"].head(50))]:
        assert str(value) not in text, f"raw value {value} leaked"


CRITICAL = {  # case → (check id, subject, words of the reason)
    "renamed": ("quality.expect_column_to_exist", "x1", "'x1' is missing (renamed or dropped?)"),
    "missing": ("quality.expect_column_to_exist", "x2", "'x2' is missing"),
    "dtype": (
        "quality.expect_column_values_to_be_in_type_list",
        "x1",
        "'x1' has type str, expected a numeric type",
    ),
    "nan": ("quality.expect_column_proportion_of_non_null_values_to_be_between", "x2", "'x2' is 40.0% null"),
    "inf": ("quality.finite_values", "x2", "'x2' has infinite values (3 rows)"),
    "dup_ids": ("quality.expect_column_values_to_be_unique", "pid", "'pid' has duplicate values"),
    "units": (
        "quality.expect_column_values_to_be_between",
        "x1",
        "most of the column left the reference's range (at least 50% of rows), a unit, encoding or column mix-up",
    ),
}


@pytest.mark.parametrize("name", list(CRITICAL))
def test_critical_input_problems_are_named_everywhere(world, name):
    check_id, subject, words = CRITICAL[name]
    d = doc(world, name)
    c = check(d, check_id, subject)
    assert (
        c["status"] == "alert"
        and c["severity"] == "critical"
        and c["owner"] == "data"
        and words in c["reason"]
    )
    assert stages(d)["quality"] == "alert" and stages(d)["drift"] == "could_not_measure"
    # The data owner is told (once per incident, not once per bad day); no retrain, not the ML team.
    assert not any(a["kind"] == "retrain" or a["owner"] == "model" for a in d["actions"])
    assert any(x["fired"] and x["signal"] == "quality_critical" for x in d["decisions"])
    assert f"{check_id}:{subject}" in data_incident(world, name)["checks"][DAYS[name].isoformat()]

    client, found = mlflow_run(world, name)
    assert len(found) == 1
    run = found[0].data
    assert run.tags["watchkeeper.stage.quality"] == "alert"
    assert run.tags["watchkeeper.stage.drift"] == "could_not_measure"
    assert run.metrics["quality.failed_critical"] >= 1
    run_id = found[0].info.run_id
    page = Path(client.download_artifacts(run_id, "quality/report.html")).read_text()
    assert words.replace("'", "&#x27;") in page
    table = json.loads(Path(client.download_artifacts(run_id, "quality/expectations.json")).read_text())
    first = dict(zip(table["columns"], table["data"][0], strict=True))
    assert first["severity"] == "critical" and first["status"] == "alert"  # failures first

    alert = data_alert(world, name)
    assert alert is not None and alert["destination"] == "data-team"
    text = json.dumps(alert["payload"])
    assert "opened: data_quality" in alert["payload"]["blocks"][0]["text"]["text"]
    assert_no_raw_rows(world, name, text)


def test_an_extra_column_is_a_warning_in_the_summary_not_an_alert(world):
    d = doc(world, "extra")
    c = check(d, "quality.expect_table_columns_to_match_set", "table")
    assert c["status"] == "alert" and c["severity"] == "warning"
    assert c["reason"] == "columns differ from the reference: unexpected ['debug_flag']"
    assert stages(d)["drift"] != "could_not_measure" and data_alert(world, "extra") is None
    client, found = mlflow_run(world, "extra")
    summary = Path(client.download_artifacts(found[0].info.run_id, "summary.md")).read_text()
    assert "unexpected ['debug_flag']" in summary
    assert found[0].data.metrics["quality.failed_warning"] == 1


def test_labels_matching_no_prediction_alert_the_data_owner(world):
    d = doc(world, "ghost_labels")
    join = check(d, "performance.label_join", "labels")
    assert join["status"] == "alert" and join["value"] == 5 and join["owner"] == "data"
    assert "5 label(s) match no prediction" in join["reason"]
    assert stages(d)["quality"] == "ok"
    alert = data_alert(world, "ghost_labels")
    assert "5 label(s) match no prediction" in alert["payload"]["text"]
    assert "ghost-" not in json.dumps(alert["payload"])


def test_healthy_day_passes_its_suite(world):
    d = doc(world, "healthy")
    quality = [c for c in d["checks"] if c["stage"] == "quality"]
    assert len(quality) > 20 and all(c["status"] == "ok" for c in quality)
    assert data_alert(world, "healthy") is None


UNREADABLE = {  # case → (model, words of the message)
    "empty": ("tiny", "file is empty (0 bytes)"),
    "corrupt": ("tiny", "file could not be read as Parquet"),
    "not_arrived": ("tiny", "file has not arrived"),
    "no_rows": ("tiny", "file has no rows"),
    "csv_delimiter": ("tinycsv", "is the delimiter ',' right?"),
    "csv_encoding": ("tinycsv", "are not valid utf-8 text (set paths.csv.encoding)"),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_days_fail_with_a_named_message_and_alert_the_data_owner(world, name, monkeypatch):
    model, words = UNREADABLE[name]
    run = world.runs[name]
    assert run.exit_code != 0 and run.stdout == ""
    assert f"{model} {DAYS[name]}: could not process the day: " in run.stderr and words in run.stderr
    assert "Traceback" not in run.output
    # The day still has a stored result and an MLflow run saying why: a critical load check for the data owner.
    client, _ = mlflow_run(world, "healthy")
    exp = client.get_experiment_by_name(f"watchkeeper/{model}")
    [day_run] = client.search_runs([exp.experiment_id], f"tags.`watchkeeper.day` = '{DAYS[name]}'")
    assert day_run.data.tags["watchkeeper.stage.load"] == "alert"
    assert day_run.data.tags["watchkeeper.stage.load"] == "alert"
    stored = json.loads(world.storage.read_bytes(f"watchkeeper/{model}/days/{DAYS[name]}/result.json"))
    [load] = [c for c in stored["checks"] if c["stage"] == "load"]
    assert load["severity"] == "critical" and load["owner"] == "data" and words in load["reason"]
    assert not any(a["owner"] == "model" or a["kind"] == "retrain" for a in stored["actions"])
    inc = data_incident(world, name, model)
    assert inc is not None and inc["rule"] == "data_missing" and data_alert(world, name, model) is not None

    # In the DAG, load_day raises the same error; its failure callback records the same day and sends nothing
    # already sent (the data owner heard when the incident opened), and no operator page for a data problem.
    from watchkeeper.config import load_config
    from watchkeeper.loading import InputError
    from watchkeeper.pipeline import Day, load_day
    from watchkeeper_airflow.callbacks import WatchkeeperFailureNotifier

    cfg_path = world.csv_config if model == "tinycsv" else world.config
    cfg = load_config(cfg_path)
    with pytest.raises(InputError) as raised:
        load_day(Day(cfg, DAYS[name], world.storage, world.storage))
    outbox = world.outbox.parent / f"failure-{name}.jsonl"
    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(outbox))
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    context = {
        "ti": SimpleNamespace(task_id="load_day"),
        "exception": raised.value,
        "params": {"day": str(DAYS[name])},
    }
    WatchkeeperFailureNotifier(str(cfg_path)).notify(context)
    assert read_outbox(outbox) == []
    again = json.loads(world.storage.read_bytes(f"watchkeeper/{model}/days/{DAYS[name]}/result.json"))
    [load] = [c for c in again["checks"] if c["stage"] == "load"]
    assert load["severity"] == "critical" and words in load["reason"]
