"""The real DAG run by Airflow on the demo world: local S3 server over HTTP, SQLite MLflow, a real webhook receiver.

Days: a healthy day, the data-quality incident day (run twice: nothing is duplicated), the first covariate-drift
day, and a day whose file never arrives (the sensor's deadline passes and exactly one `data_missing` incident message is
posted to the data owner's webhook). Then one day of the regressor demo model, configured by its YAML alone: its first covariate-drift
day, flagged by label-free estimation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from watchkeeper.alerts import read_outbox
from watchkeeper.demo import generate_delivery_world, generate_world
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
HEALTHY, DQ, DRIFT, MISSING = "2026-01-11", "2026-01-12", "2026-01-25", "2026-01-14"
REGRESSOR_DRIFT = "2026-01-29"
pytestmark = pytest.mark.slow


@pytest.fixture
def world(s3_stack, models_dir):
    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri("s3://wk-e2e/credit_default", creds)
    storage.ensure_root()
    manifest = generate_world(storage.write_bytes)
    storage.fs.delete_file(storage.path(f"predictions/{MISSING}.parquet"))
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg["storage"]["uri"] = "s3://wk-e2e/credit_default"
    cfg["airflow"] = {"retries": 0, "data_deadline_minutes": 0}  # a missing day alerts at once
    cfg["quality"] = {"expectations_dir": "expectations"}
    (models_dir / "credit_default.yaml").write_text(yaml.safe_dump(cfg))
    regressor = Storage.from_uri("s3://wk-e2e/delivery_time", creds)
    generate_delivery_world(regressor.write_bytes)
    reg = yaml.safe_load((ROOT / "include/models/delivery_time.yaml").read_text())
    reg["storage"]["uri"] = "s3://wk-e2e/delivery_time"
    reg["airflow"] = {"retries": 0}
    reg["quality"] = {"expectations_dir": "expectations"}
    (models_dir / "delivery_time.yaml").write_text(yaml.safe_dump(reg))
    return storage, manifest


def test_real_dag_days_through_airflow(airflow_db, world, webhook, s3_stack, task_env):
    storage, _ = world
    env = task_env
    days = [HEALTHY, DQ, DRIFT, DQ, MISSING]
    out = subprocess.run([sys.executable, "-m", "watchkeeper_airflow.runner", "watchkeeper_credit_default", *days],
                         env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    lines = [
        line.split() for line in out.stdout.splitlines() if line.startswith("watchkeeper_credit_default ")
    ]
    states = [(day.rstrip(":"), state) for _, day, state in lines]
    assert states == [(HEALTHY, "success"), (DQ, "success"), (DRIFT, "success"), (DQ, "success"),
                      (MISSING, "failed")], out.stdout + out.stderr[-3000:]  # fmt: skip

    # Stored results, keyed by (model, day).
    dq = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{DQ}/result.json"))
    assert {s["stage"]: s["status"] for s in dq["stages"]}["drift"] == "could_not_measure"
    drift = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{DRIFT}/result.json"))
    assert drift["top_drifted_features"][0] == "credit_utilization"
    healthy = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{HEALTHY}/result.json"))
    assert [a for a in healthy["actions"] if a["kind"] == "notify"] == []

    # MLflow: one run per day (the re-run replaced), metrics stamped with the day.
    from mlflow import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("watchkeeper/credit_default")
    day_runs = client.search_runs(
        [exp.experiment_id], "tags.`watchkeeper.kind` = 'day'"
    )  # not the timeline run
    runs = {r.data.tags["watchkeeper.day"]: r for r in day_runs}
    assert set(runs) >= {HEALTHY, DQ, DRIFT, MISSING}
    # The day whose data never came has a run that says so (a critical load check for the data owner).
    assert runs[MISSING].data.tags["watchkeeper.stage.load"] == "alert"
    missing = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{MISSING}/result.json"))
    assert [c["id"] for c in missing["checks"]] == ["load.not_arrived"] and missing["rows"] == 0
    assert len(client.search_runs([exp.experiment_id], f"tags.`watchkeeper.day` = '{DQ}'")) == 1
    drift_run = runs[DRIFT].data
    ks = next(c for c in drift["checks"] if c["id"] == "drift.ks" and c["subject"] == "credit_utilization")
    assert (
        drift_run.metrics["drift.ks.credit_utilization"] == pytest.approx(ks["value"])
        and ks["value"] > ks["upper"]
    )
    assert drift_run.tags["watchkeeper.top_drifted_features"].startswith("credit_utilization")
    assert runs[DQ].data.tags["watchkeeper.stage.drift"] == "could_not_measure"
    assert runs[HEALTHY].data.tags["watchkeeper.status"] in ("ok", "alert")

    # The data owner's Slack connection received real HTTP posts, one per incident transition: the DQ incident
    # opened (once, though its day ran twice) and recovered, and the day whose data never came opened a
    # `data_missing` incident (through the failure callback of the sensor), told once.
    texts = [p["json"]["text"] for p in webhook.posts]
    assert webhook.posts[0]["json"]["blocks"][0]["type"] == "header"
    assert [t for t in texts if "opened: data_quality" in t] == [
        t for t in texts if DQ in t and "income" in t
    ]
    assert len([t for t in texts if "opened: data_quality" in t]) == 1, texts
    assert len([t for t in texts if "recovered: data_quality" in t]) == 1, texts
    (missing_msg,) = [t for t in texts if "opened: data_missing" in t]
    assert MISSING in missing_msg
    assert (
        f"did not arrive within 0 minutes: s3://wk-e2e/credit_default/predictions/{MISSING}.parquet"
        in missing_msg
    )
    assert len(webhook.posts) == 3, texts
    log = [storage.read_json(k) for k in storage.list("watchkeeper/credit_default/deliveries")]
    assert {e["status"] for e in log} == {"sent"} and len(log) >= 4
    # The model owner has no Slack connection here: its messages went to the outbox, opened on the drift day.
    outbox = read_outbox(Path(env["WATCHKEEPER_OUTBOX"]))
    keys = [m["key"] for m in outbox]
    assert f"credit_default/drift._.{DRIFT}/opened/model" in keys, keys
    assert all(f".{DRIFT}/opened/model" in k for k in keys), keys
    drift_msg = next(m for m in outbox if m["key"] == f"credit_default/drift._.{DRIFT}/opened/model")
    assert "credit_utilization" in str(drift_msg["payload"]["blocks"])

    # The regressor, from its YAML alone: estimation flags the error its covariate shift brings, before any label.
    out = subprocess.run([sys.executable, "-m", "watchkeeper_airflow.runner", "watchkeeper_delivery_time", REGRESSOR_DRIFT],
                         env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert f"watchkeeper_delivery_time {REGRESSOR_DRIFT}: success" in out.stdout, (
        out.stdout + out.stderr[-3000:]
    )
    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    regressor = Storage.from_uri("s3://wk-e2e/delivery_time", creds)
    reg = regressor.read_json(f"watchkeeper/delivery_time/days/{REGRESSOR_DRIFT}/result.json")
    est = next(c for c in reg["checks"] if c["id"] == "performance.estimated_mae")
    assert est["status"] == "alert" and est["details"]["band_lower"] < est["value"]
    assert reg["top_drifted_features"][0] == "distance_km"
    exp = client.get_experiment_by_name("watchkeeper/delivery_time")
    (run,) = client.search_runs([exp.experiment_id], f"tags.`watchkeeper.day` = '{REGRESSOR_DRIFT}'")
    assert run.data.metrics["performance.estimated_mae"] == pytest.approx(est["value"])
    outbox = read_outbox(Path(env["WATCHKEEPER_OUTBOX"]))
    assert f"delivery_time/estimated_performance._.{REGRESSOR_DRIFT}/opened/model" in [
        m["key"] for m in outbox
    ]
