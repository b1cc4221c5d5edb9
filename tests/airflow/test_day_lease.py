"""The real monitoring DAG holds the day's lease for its run: a second run of a day that another run holds stops at
once with "already running" (the operator is told, nothing of the day is touched); a run's own tasks pass; the
run's teardown gives the lease back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import FIRST_DAY, TINY_CONFIG, write_tiny_world
from watchkeeper.alerts import read_outbox
from watchkeeper.config import load_config
from watchkeeper.lease import AlreadyRunning, hold_for_run, release_for_run
from watchkeeper.pipeline import Day
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
OTHER_RUN = "watchkeeper_tiny/manual__first-run"


def _run(env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "watchkeeper_airflow.runner", "watchkeeper_tiny", str(FIRST_DAY)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return out.stdout + out.stderr


@pytest.mark.slow
def test_a_second_run_of_a_held_day_stops_and_the_run_releases_its_lease(airflow_db, models_dir, tmp_path):
    storage = Storage.from_uri(str(tmp_path / "store"))
    write_tiny_world(storage, days=2)
    owners = {"data": {"name": "data-team"}, "model": {"name": "ml"}, "operator": {"name": "ops"}}
    (models_dir / "tiny.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": storage.uri}, "owners": owners})
    )
    cfg = load_config(models_dir / "tiny.yaml")
    d = Day(cfg, FIRST_DAY, storage, storage)
    outbox = tmp_path / "outbox.jsonl"
    env = {**os.environ, "WATCHKEEPER_OUTBOX": str(outbox), "PYTHONPATH": str(ROOT / "plugins")}
    env.pop("MLFLOW_TRACKING_URI", None)

    hold_for_run(d, OTHER_RUN)  # another run of the same day is in progress
    out = _run(env)
    assert f"watchkeeper_tiny {FIRST_DAY}: failed" in out, out[-3000:]
    (msg,) = read_outbox(outbox)  # one message, to the operator, naming the run that holds the day
    text = msg["payload"]["text"]
    assert msg["destination"] == "ops" and "resolve_day" in text, text
    assert f"tiny {FIRST_DAY}: already running (Airflow run {OTHER_RUN}" in text
    assert storage.list(cfg.results_key(FIRST_DAY, "")) == [cfg.results_key(FIRST_DAY, "lease.json")]
    assert storage.read_json(cfg.results_key(FIRST_DAY, "lease.json"))["run"] == OTHER_RUN  # not released

    assert release_for_run(d, OTHER_RUN)
    out = _run(env)  # every task of this run renews the lease it took in resolve_day, none is refused
    assert f"watchkeeper_tiny {FIRST_DAY}: success" in out, out[-3000:]
    assert storage.exists(cfg.results_key(FIRST_DAY, "result.json"))
    assert not storage.exists(cfg.results_key(FIRST_DAY, "lease.json"))  # the teardown gave it back


def test_a_run_renews_its_own_lease_and_refuses_others(tiny):
    cfg, storage, _ = tiny
    d = Day(cfg, FIRST_DAY, storage, storage)
    hold_for_run(d, "dag/run-1")
    hold_for_run(d, "dag/run-1")  # a later task or a retry of the same run
    with pytest.raises(AlreadyRunning, match=r"already running \(Airflow run dag/run-1, lease until"):
        hold_for_run(d, "dag/run-2")
    assert not release_for_run(d, "dag/run-2") and release_for_run(d, "dag/run-1")
    hold_for_run(d, "dag/run-2")
