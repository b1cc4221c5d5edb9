"""The DAGs under a real scheduler: `watchkeeper backfill` (without --local) through Airflow, and a run past its
`DeadlineAlert` telling the operator once.

One module-scoped Airflow of its own: PostgreSQL metadata database (started like `./scripts/stack`, from Debian's
package; with SQLite `airflow backfill create` beside a running scheduler fails with `database is locked`),
LocalExecutor, api-server (the tasks' execution API), scheduler and dag-processor, each started and stopped by its PID. Two tiny models: `tiny` is backfilled;
`late` has no data for its scheduled day, so its run waits for the file past `policy.run_deadline_hours`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from helpers import FIRST_DAY, TINY_CONFIG, write_tiny_world
from watchkeeper.alerts import read_outbox
from watchkeeper.stack import free_port
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAYS = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
DEADLINE_HOURS = 0.01  # 36 s after the run is queued
pytestmark = pytest.mark.slow


class Airflow:
    """A running Airflow: its environment, REST base URL and the PIDs of its processes."""

    def __init__(self, home: Path, database_url: str):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pids: dict[str, int] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))},
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-only-jwt-secret-of-this-module",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "8",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "WATCHKEEPER_MODELS_DIR": str(home / "models"),
            "WATCHKEEPER_OUTBOX": str(home / "outbox.jsonl"),
            "PYTHONPATH": str(ROOT / "plugins"),
        }

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=True)  # fmt: skip

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - the child holds it
        proc = subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        self.pids[name] = proc.pid

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as resp:
            return json.loads(resp.read())

    def wait(self, what: str, ready, timeout: float = 180) -> None:
        started = time.monotonic()
        while True:
            try:
                if ready():
                    return
            except OSError:
                pass
            for name, pid in self.pids.items():
                assert _alive(pid), f"{name} exited:\n" + (self.home / f"{name}.log").read_text()[-3000:]
            assert time.monotonic() - started < timeout, f"{what}: not within {timeout:g} s"
            time.sleep(2)

    def stop(self) -> None:
        for pid in self.pids.values():
            _stop(pid)


def _alive(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _stop(pid: int) -> None:
    """SIGTERM our child's process group, SIGKILL it if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.5)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Iterator[Airflow]:
    home = tmp_path_factory.mktemp("scheduler")
    (home / "models").mkdir()
    storage = Storage.from_uri(str(home / "data"))
    write_tiny_world(storage, days=len(DAYS))
    base = {**TINY_CONFIG, "storage": {"uri": str(home / "data")}, "start_date": str(FIRST_DAY)}
    owners = {**TINY_CONFIG["owners"], "operator": {"name": "ops"}}
    tiny = {**base, "airflow": {"retries": 0, "max_active_runs": len(DAYS), "data_deadline_minutes": 0}}
    late = {**base, "name": "late", "owners": owners, "policy": {"run_deadline_hours": DEADLINE_HOURS},
            "airflow": {"retries": 0, "data_deadline_minutes": 30, "data_poke_minutes": 1}}  # fmt: skip
    (home / "models" / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    (home / "models" / "late.yaml").write_text(yaml.safe_dump(late))
    from watchkeeper.prodstack import ProdStack, StackError, check_packages

    try:
        bindir = check_packages()["postgres"]
    except StackError as exc:
        pytest.skip(f"PostgreSQL is not installed ({exc})")
    # Under /tmp, not pytest's 0700 folder: the `postgres` user must reach its data directory.
    pg_dir = tempfile.mkdtemp(prefix="wk-sched-pg-")
    db = ProdStack(data_dir=pg_dir, ports={"postgres": free_port()}, db_password="test-only-password")
    for sub in ("run", "logs"):
        (db.root / sub).mkdir(parents=True, exist_ok=True)
    af = Airflow(home, db.db_url("airflow"))
    try:
        db._start_postgres(
            bindir, timeout=120
        )  # the native stack's own start: initdb as `postgres`, databases
        af.run("db", "migrate", timeout=600)
        af.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(af.port), "--workers", "1")
        af.wait("api-server", lambda: af.get("/api/v2/monitor/health")["metadatabase"]["status"] == "healthy")
        af.start("dag-processor", "dag-processor")
        af.start("scheduler", "scheduler")
        af.wait("DAGs parsed", lambda: {"watchkeeper_tiny", "watchkeeper_late"}
                <= {d["dag_id"] for d in af.get("/api/v2/dags")["dags"]})  # fmt: skip
        # The latest day of `late` has no data: its scheduled run waits past its deadline.
        af.run("dags", "unpause", "watchkeeper_late")
        af.run("dags", "unpause", "watchkeeper_tiny")
        yield af
    finally:
        af.stop()
        db.down(say=lambda _: None)
        shutil.rmtree(pg_dir, ignore_errors=True)


def _backfill(af: Airflow) -> subprocess.CompletedProcess:
    cli = [str(BIN / "watchkeeper"), "backfill", "--config", str(af.home / "models" / "tiny.yaml"),
           "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat()]  # fmt: skip
    return subprocess.run(cli, env=af.env, capture_output=True, text=True, timeout=600)


def _stored(af: Airflow) -> dict[str, dict]:
    results = Storage.from_uri(str(af.home / "data"))
    return {
        d.isoformat(): results.read_json(f"watchkeeper/tiny/days/{d.isoformat()}/result.json") for d in DAYS
    }


def test_backfill_through_airflow_stores_each_day_and_a_rerun_replaces_it(airflow):
    first = _backfill(airflow)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"tiny: {len(DAYS)} days backfilled in Airflow; failed: none" in first.stdout
    assert f"{len(DAYS)}/{len(DAYS)} days done, 0 failed" in first.stderr  # the progress it showed
    stored = _stored(airflow)
    assert sorted(stored) == [d.isoformat() for d in DAYS]
    runs = airflow.get("/api/v2/dags/watchkeeper_tiny/dagRuns?run_type=backfill")["dag_runs"]
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in DAYS]
    assert all(r["state"] == "success" and r["note"] for r in runs)
    # Airflow names backfill runs itself, after the moment each may run: the day after the monitored day;
    # their logical date and note ("ok 2025-03-01: ..." / "ALERT 2025-03-01: ...") name the monitored day.
    assert all(r["note"].split(":")[0].split()[-1] == r["logical_date"][:10] for r in runs), runs
    ids = sorted(r["dag_run_id"] for r in runs)
    assert ids == [f"backfill__{d + timedelta(days=1)}T00:00:00+00:00" for d in DAYS]

    second = _backfill(airflow)
    assert second.returncode == 0, second.stdout + second.stderr
    again = _stored(airflow)
    assert again == stored  # the same days judged the same way, replaced in place
    runs = airflow.get("/api/v2/dags/watchkeeper_tiny/dagRuns?run_type=backfill")["dag_runs"]
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in DAYS]  # re-run, not added
    assert sorted(r["dag_run_id"] for r in runs) == ids  # cleared in place: a re-run keeps its id
    keys = [
        m["key"] for m in read_outbox(Path(airflow.env["WATCHKEEPER_OUTBOX"])) if m["key"].startswith("tiny/")
    ]
    assert len(keys) == len(set(keys)), keys  # nothing told twice


def test_a_run_past_its_deadline_tells_the_operator_once(airflow):
    outbox = Path(airflow.env["WATCHKEEPER_OUTBOX"])

    def late_messages() -> list[dict]:
        return (
            [m for m in read_outbox(outbox) if m["key"].startswith("late/run_late/")]
            if outbox.exists()
            else []
        )

    airflow.wait("the deadline's operator message", lambda: late_messages(), timeout=240)
    time.sleep(20)  # further scheduler loops must not send it again
    (msg,) = late_messages()
    assert msg["destination"] == "ops"
    assert f"has not finished {DEADLINE_HOURS:g} hour(s) after it was queued" in msg["payload"]["text"]
    (run,) = airflow.get("/api/v2/dags/watchkeeper_late/dagRuns")["dag_runs"]
    assert run["run_type"] == "scheduled" and run["state"] == "running"  # still waiting for its data
    day = run["data_interval_start"][:10]  # the monitored day: the run's id and logical date name it
    assert run["dag_run_id"] == f"scheduled__{day}" and run["logical_date"][:10] == day
    assert run["dag_run_id"] in msg["payload"]["text"]
