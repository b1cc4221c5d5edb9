"""Airflow's run list tells alerted days apart: real DAG runs get "ALERT <day>: ..." / "ok <day>: ..." notes, and the README's
Airflow UI command serves them over its REST API.

One module-scoped pair of runs of the tiny world (a healthy day, then a day whose `x1` moved by 1.5σ) through
`dag.test()`; the listener in `plugins/watchkeeper_airflow/run_notes.py` writes the notes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import FIRST_DAY, TINY_CONFIG, parquet_bytes, rows, write_tiny_world
from watchkeeper.stack import free_port
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
HEALTHY, SHIFTED = FIRST_DAY, FIRST_DAY + timedelta(days=1)
HOME, MODELS = (
    Path(os.environ["AIRFLOW_HOME"]),
    Path(os.environ["WATCHKEEPER_MODELS_DIR"]),
)  # tests/airflow/conftest.py
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_runs(airflow_db, tmp_path_factory) -> dict:
    """Run the tiny model's DAG for a healthy and a drifted day; the stored results by day."""
    base = tmp_path_factory.mktemp("history")
    storage = Storage.from_uri(str(base / "data"))
    write_tiny_world(storage, days=2)
    shifted = rows(np.random.default_rng(5), 600, SHIFTED, shift=1.5).drop(columns=["label"])
    storage.write_bytes(f"days/{SHIFTED.isoformat()}.parquet", parquet_bytes(shifted))
    cfg = {**TINY_CONFIG, "storage": {"uri": str(base / "data")}}
    (MODELS / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins"), "WATCHKEEPER_OUTBOX": str(base / "outbox.jsonl"),
           "WATCHKEEPER_MLFLOW_UI_URL": "http://127.0.0.1:5000", "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300"}  # fmt: skip
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{base}/mlflow.db"
    out = subprocess.run([sys.executable, "-m", "watchkeeper_airflow.runner", "watchkeeper_tiny",
                          HEALTHY.isoformat(), SHIFTED.isoformat()],
                         env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    yield {
        "output": out.stdout + out.stderr[-4000:],
        "results": {
            d.isoformat(): storage.read_json(f"watchkeeper/tiny/days/{d.isoformat()}/result.json")
            for d in (HEALTHY, SHIFTED)
        },
    }
    (MODELS / "tiny.yaml").unlink()


def _notes() -> dict[str, str | None]:
    """Note of each tiny run by its monitored day (the logical date is the end of the day)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "watchkeeper_tiny")).all()
        return {(r.logical_date - timedelta(days=1)).date().isoformat(): r.note for r in runs}


def test_an_alerted_run_and_a_healthy_run_have_distinct_notes(tiny_runs):
    assert f"watchkeeper_tiny {HEALTHY}: success" in tiny_runs["output"], tiny_runs["output"]
    assert f"watchkeeper_tiny {SHIFTED}: success" in tiny_runs["output"], tiny_runs["output"]
    results, notes = tiny_runs["results"], _notes()
    healthy, shifted = results[HEALTHY.isoformat()], results[SHIFTED.isoformat()]
    assert healthy["status"] == "ok" and shifted["status"] == "alert"
    assert notes[HEALTHY.isoformat()] == (
        f"ok {HEALTHY}: all checks ok on {healthy['rows']} predictions · MLflow run: http://127.0.0.1:5000/#/experiments/"
        f"{healthy['mlflow_experiment_id']}/runs/{healthy['mlflow_run_id']}"
    )
    note = notes[SHIFTED.isoformat()]
    critical = sum(c["status"] == "alert" and c["severity"] == "critical" for c in shifted["checks"])
    warning = sum(c["status"] == "alert" and c["severity"] == "warning" for c in shifted["checks"])
    counts = ", ".join(f"{n} {s}" for n, s in ((critical, "critical"), (warning, "warning")) if n)
    assert note.startswith(f"ALERT {SHIFTED}: {counts} — drift in x1"), note
    assert "to the model owner" in note
    link = f"MLflow run: http://127.0.0.1:5000/#/experiments/{shifted['mlflow_experiment_id']}/runs/"
    assert note.endswith(link + shifted["mlflow_run_id"]), note


def _readme_airflow_ui_command() -> str:
    """The README's bash block that opens the Airflow UI on the demo's state."""
    readme = (ROOT / "README.md").read_text()
    part = readme[readme.index("**Airflow UI**") :]
    return re.search(r"```bash\n(.*?)```", part, re.S).group(1)


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.read()


def test_the_readmes_airflow_ui_command_serves_the_runs_and_their_notes(tiny_runs):
    """The README's command, pointed at this test's Airflow home instead of the demo's, on a free port."""
    port = free_port()
    airflow = Path(sys.executable).parent / "airflow"
    command = (
        _readme_airflow_ui_command()
        .replace("$PWD/.watchkeeper/demo/airflow", str(HOME))
        .replace("$PWD", str(ROOT))
        .replace("uv run airflow", str(airflow))
        .replace("--port 8080", f"--port {port}")
    )
    assert str(HOME) in command and f"--port {port}" in command and "--workers 1" in command
    log = open(HOME / "api-server.log", "wb")  # noqa: SIM115 - closed after the server stops
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}  # only what the README sets
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while True:
            try:
                status, _ = _get(f"{base}/api/v2/monitor/health")
                break
            except OSError:
                assert proc.poll() is None, (HOME / "api-server.log").read_text()[-3000:]
                assert time.monotonic() - started < 150, "the API server did not answer within 150 s"
                time.sleep(1)
        status, page = _get(f"{base}/")  # the UI's page
        assert status == 200 and b"<html" in page.lower()
        status, body = _get(f"{base}/api/v2/dags/watchkeeper_tiny/dagRuns?order_by=logical_date")
        runs = json.loads(body)["dag_runs"]
        notes = {r["dag_run_id"]: r["note"] for r in runs}
        assert len(runs) == 2 and [n.split(":")[0] for n in notes.values()] == [
            f"ok {HEALTHY}",
            f"ALERT {SHIFTED}",
        ], notes
        assert all(r["state"] == "success" for r in runs)
        # dag.test() runs are named after the day they monitor (runner.day_run), not the wall clock
        assert list(notes) == [f"manual__{d}T00:00:00+00:00" for d in (HEALTHY, SHIFTED)], notes
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
