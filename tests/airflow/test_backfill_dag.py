"""The backfill DAG (`watchkeeper_backfill_<model>`) run by Airflow: a stretch of demo days in one task.

Days 2026-01-10..2026-01-14 of the demo world hold the data-quality incident (01-12) and a day whose file is gone
(01-14). The user sees: every day's result stored and one MLflow run per day; the missing day counted as failed, not
fatal; the data owner told once of the incident opening and once of its recovery; and a second run of the same
stretch replaces the results without a second MLflow run or a second message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from watchkeeper.demo import generate_world
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
START, END, DQ, MISSING = "2026-01-10", "2026-01-14", "2026-01-12", "2026-01-14"
pytestmark = pytest.mark.slow

TRIGGER = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag().dags["watchkeeper_backfill_credit_default"]
run = dag.test(run_conf={"start": sys.argv[1], "end": sys.argv[2]})
ti = next(t for t in run.get_task_instances() if t.task_id == "monitor_days")
print("STATE", run.state, json.dumps(ti.xcom_pull(task_ids="monitor_days")))
"""


def test_a_stretch_of_days_in_one_airflow_task(airflow_db, models_dir, s3_stack, webhook, task_env):
    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri("s3://wk-backfill/credit_default", creds)
    storage.ensure_root()
    generate_world(storage.write_bytes)
    storage.fs.delete_file(storage.path(f"predictions/{MISSING}.parquet"))
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg["storage"]["uri"] = "s3://wk-backfill/credit_default"
    cfg["airflow"] = {"retries": 0}
    cfg["quality"] = {"expectations_dir": "expectations"}
    (models_dir / "credit_default.yaml").write_text(yaml.safe_dump(cfg))
    env = task_env

    def backfill() -> dict:
        out = subprocess.run([sys.executable, "-c", TRIGGER, START, END], env=env, capture_output=True,
                             text=True, timeout=900)  # fmt: skip
        line = next((x for x in out.stdout.splitlines() if x.startswith("STATE ")), "")
        assert line.startswith("STATE success "), out.stdout[-3000:] + out.stderr[-3000:]
        return json.loads(line.split(" ", 2)[2])

    summary = backfill()
    assert summary["days"] == 5 and summary["failed_days"] == [MISSING], summary
    assert summary["alert_days"] >= 1 and summary["messages"] >= 1 and summary["cpu_s"] > 0, summary
    for day in ("2026-01-10", "2026-01-11", DQ, "2026-01-13"):
        result = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{day}/result.json"))
        assert result["day"] == day
    missing = json.loads(storage.read_bytes(f"watchkeeper/credit_default/days/{MISSING}/result.json"))
    assert [c["id"] for c in missing["checks"]] == ["load.not_arrived"]
    opened = [p for p in webhook.posts if "opened: data_quality" in p["json"]["text"]]
    assert len(opened) == 1 and DQ in opened[0]["json"]["text"], [p["json"]["text"] for p in webhook.posts]
    posts = len(webhook.posts)

    again = backfill()  # the same stretch again: results replaced, nothing duplicated or re-sent
    assert again["days"] == 5 and again["messages"] == 0, again
    assert len(webhook.posts) == posts
    from mlflow import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("watchkeeper/credit_default")
    runs = client.search_runs([exp.experiment_id], "tags.`watchkeeper.kind` = 'day'")
    days = [r.data.tags["watchkeeper.day"] for r in runs]
    # One run per day; prediction days before the stretch whose labels arrived in it have theirs too.
    assert len(days) == len(set(days)) and {"2026-01-10", "2026-01-11", DQ, "2026-01-13", MISSING} <= set(
        days
    )
    assert {r.info.status for r in runs} == {"FINISHED"}
