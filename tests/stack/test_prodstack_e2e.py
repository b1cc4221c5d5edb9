"""The monitoring DAG under a real scheduler: the native stack (PostgreSQL, Redis, S3, MLflow server, Celery).

The scheduler creates yesterday's run once the DAG is unpaused; a backfill of the days before goes through
`airflow backfill create` with the YAML's concurrency and is then reprocessed (nothing duplicated or re-sent); one
manual run names its day in conf. Alerts go to a real HTTP receiver behind the Slack webhook connections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from watchkeeper.backfill import airflow_command, create_backfill, run_one_airflow_run
from watchkeeper.config import load_config
from watchkeeper.demo import generate_world
from watchkeeper.prodstack import ProdStack, _alive, port_taken
from watchkeeper.stack import free_port
from watchkeeper.stackspec import DATA_BUCKET, PORTS
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
BACKFILL_DAYS = int(os.environ.get("WATCHKEEPER_E2E_DAYS", "14"))
"""Days in the backfill (at least 14 in CI; fewer only to try the test out on a busy machine)."""
DAG = "watchkeeper_credit_default"
pytestmark = pytest.mark.slow


class Airflow:
    """The running stack's Airflow: its CLI and its metadata database (read-only queries for the assertions)."""

    def __init__(self, stack: ProdStack):
        self.stack = stack
        self.env = {**os.environ, **stack.environment()}

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = (
            list(args) if args[0].startswith("/") else [str(Path(sys.executable).parent / "airflow"), *args]
        )
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300)
        assert not check or out.returncode == 0, out.stdout + out.stderr[-3000:]
        return out

    def query(self, sql: str, *params) -> list[tuple]:
        conn = self.stack._connect("airflow")
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def runs(self, run_type: str | None = None) -> dict[str, tuple[str, str]]:
        """run_id → (state, day of data_interval_start)."""
        rows = self.query(
            "SELECT run_id, run_type, state, data_interval_start, conf FROM dag_run WHERE dag_id = %s", DAG
        )
        return {r[0]: (r[2], (r[3].date().isoformat() if r[3] else None)) for r in rows
                if run_type is None or r[1] == run_type}  # fmt: skip

    def wait(self, done, what: str, timeout: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if done():
                return time.monotonic() - t0
            time.sleep(3)
        raise AssertionError(f"{what} not done within {timeout:.0f} s: {self.runs()}\n{self.failed_tasks()}")

    def failed_tasks(self) -> list[tuple]:
        return self.query(
            "SELECT run_id, task_id, state, try_number FROM task_instance WHERE dag_id = %s AND state IN "
            "('failed', 'up_for_retry', 'upstream_failed')",
            DAG,
        )


def finished(runs: dict) -> bool:
    return bool(runs) and all(state in ("success", "failed") for state, _ in runs.values())


def test_dag_through_scheduler_backfill_and_manual_run(webhook, tmp_path):
    # Yesterday (by the wall clock) is the day the scheduler runs first; the demo world ends there.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first = yesterday - timedelta(days=BACKFILL_DAYS + 1)
    manual_day, backfill = first, [first + timedelta(days=i) for i in range(1, BACKFILL_DAYS + 1)]

    models = tmp_path / "models"
    models.mkdir()
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg["start_date"] = first.isoformat()
    cfg["storage"]["uri"] = f"s3://{DATA_BUCKET}/credit_default"
    cfg["airflow"] = {
        "retries": 1,
        "retry_delay_minutes": 0.2,
        "max_active_runs": 2,
        "data_deadline_minutes": 30,
    }
    cfg["quality"] = {"expectations_dir": "expectations"}
    (models / "credit_default.yaml").write_text(yaml.safe_dump(cfg))
    model = load_config(models / "credit_default.yaml")

    ports = {name: free_port() for name in PORTS}
    conns = {f"AIRFLOW_CONN_SLACK_{role.upper()}": json.dumps({"conn_type": "slackwebhook", "password": f"{webhook.url}/{role}"})
             for role in ("data", "model")}  # fmt: skip
    data_dir = tempfile.mkdtemp(prefix="wk-prod-")
    stack = ProdStack(data_dir=data_dir, ports=ports, models_dir=str(models), extra_env=conns)
    try:
        t0 = time.monotonic()
        timings = stack.up(timeout=600)
        up = time.monotonic() - t0
        print(f"\nstack up in {up:.0f} s: {timings}")
        creds = S3Credentials("watchkeeper", "watchkeeper-local-only", endpoint_url=stack.url("s3"))
        storage = Storage.from_uri(model.storage.uri, creds)
        manifest = generate_world(storage.write_bytes, start=first, days=BACKFILL_DAYS + 2, rows_per_day=300)
        af = Airflow(stack)

        # The DAG is created paused; unpausing lets the scheduler run the latest complete day: yesterday.
        af.wait(lambda: af.query("SELECT 1 FROM dag WHERE dag_id = %s", DAG), "DAG parsed", 300)
        af.cli("dags", "unpause", DAG)
        scheduled = af.wait(lambda: finished(af.runs("scheduled")), "scheduled run", 1500)
        assert list(af.runs("scheduled").values()) == [("success", yesterday.isoformat())], af.failed_tasks()

        # A backfill of the days before, with the YAML's concurrency.
        cmd = airflow_command(model, backfill[0], backfill[-1], "none")
        assert cmd[cmd.index("--max-active-runs") + 1] == "2"
        create_backfill(model, backfill[0], backfill[-1], reprocess="none", env=af.env)
        took = af.wait(lambda: len(af.runs("backfill")) == BACKFILL_DAYS and finished(af.runs("backfill")),
                       "backfill", 120 * BACKFILL_DAYS + 900)  # fmt: skip
        runs = af.runs("backfill")
        assert sorted(runs.values()) == [("success", d.isoformat()) for d in backfill], af.failed_tasks()
        print(f"scheduled day: {scheduled:.0f} s; backfill: {took:.0f} s for {BACKFILL_DAYS} days = "
              f"{took / BACKFILL_DAYS:.0f} s per day through the scheduler (max_active_runs 2, 2 worker slots)")  # fmt: skip

        # Results in S3, each for the day its run's data interval names.
        days = [d.isoformat() for d in [*backfill, yesterday]]
        for day in days:
            result = storage.read_json(model.results_key(date.fromisoformat(day), "result.json"))
            assert result["day"] == day and result["model"] == "credit_default"

        # One MLflow run per day in the tracking server, none left RUNNING.
        from mlflow import MlflowClient

        client = MlflowClient(stack.url("mlflow"))
        exp = client.get_experiment_by_name("watchkeeper/credit_default")

        def mlflow_runs() -> list:
            return client.search_runs([exp.experiment_id], max_results=1000)

        def day_runs() -> Counter:
            """Runs per monitored day; every other run of the experiment is its one timeline."""
            runs = mlflow_runs()
            others = [
                r.data.tags.get("watchkeeper.kind") for r in runs if "watchkeeper.day" not in r.data.tags
            ]
            assert others == ["timeline"], others
            return Counter(r.data.tags["watchkeeper.day"] for r in runs if "watchkeeper.day" in r.data.tags)

        # (A day whose labels arrived before it was monitored has a run too, holding its realized metrics.)
        before = day_runs()
        assert set(days) <= set(before) and max(before.values()) == 1, before
        assert {r.info.status for r in mlflow_runs()} == {"FINISHED"}, "an MLflow run was left RUNNING"
        # The world's incidents reached the owners' webhooks, each alert once.
        posts = list(webhook.posts)
        assert posts and all(p["path"] in ("/hook/data", "/hook/model") for p in posts)
        (dq_day,) = [i["start"] for i in manifest["incidents"] if i["type"] == "data_quality"]
        assert dq_day in days and [
            p for p in posts if p["path"] == "/hook/data" and dq_day in p["json"]["text"]
        ]
        texts = [p["json"]["text"] for p in posts]
        assert len(texts) == len(set(texts)), texts

        # Reprocessing the range replaces results: still one MLflow run per day, nothing re-sent. (Airflow allows one
        # running backfill per DAG and marks the first complete shortly after its last run ends: this waits for it.)
        create_backfill(model, backfill[0], backfill[-1], poll_seconds=3, wait=300, env=af.env)
        af.wait(lambda: len(af.query("SELECT id FROM backfill WHERE dag_id = %s AND completed_at IS NOT NULL", DAG)) == 2,
                "reprocessing backfill", 120 * BACKFILL_DAYS + 900)  # fmt: skip
        assert {state for state, _ in af.runs("backfill").values()} == {"success"}, af.failed_tasks()
        assert day_runs() == before
        assert {r.info.status for r in mlflow_runs()} == {"FINISHED"}
        assert [p["json"]["text"] for p in webhook.posts] == texts

        # A manual run names its day.
        af.cli("dags", "trigger", DAG, "--conf", json.dumps({"day": manual_day.isoformat()}))
        af.wait(lambda: finished(af.runs("manual")), "manual run", 1500)
        assert [s for s, _ in af.runs("manual").values()] == ["success"], af.failed_tasks()
        assert (
            storage.read_json(model.results_key(manual_day, "result.json"))["day"] == manual_day.isoformat()
        )

        # The stretch again as one run of the backfill DAG (every day in one task): nothing duplicated or re-sent.
        before, t0 = day_runs(), time.monotonic()
        run_id, state = run_one_airflow_run(model, backfill[0], backfill[-1], poll_seconds=3, env=af.env)
        took = time.monotonic() - t0
        assert state == "success", af.query(
            "SELECT task_id, state FROM task_instance WHERE run_id = %s", run_id
        )
        assert day_runs() == before and {r.info.status for r in mlflow_runs()} == {"FINISHED"}
        assert [p["json"]["text"] for p in webhook.posts] == texts
        print(
            f"one-run backfill: {took:.0f} s for {BACKFILL_DAYS} days = {took / BACKFILL_DAYS:.1f} s per day"
        )
    finally:
        pids = stack.pids()
        stack.down(say=lambda _: None)
    assert pids and not [name for name, pid in pids.items() if _alive(pid)]
    assert not [name for name, port in ports.items() if port_taken(port)]
