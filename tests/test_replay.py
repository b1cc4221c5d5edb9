"""MLflow as a projection of the stored result: an MLflow outage loses nothing, `watchkeeper replay` completes it.

Against the real parts: the tiny world on the local S3 server, the `watchkeeper` CLI as a subprocess, and an
`mlflow server` that is down during the run and started afterwards.
"""

import json
from datetime import timedelta

import pytest
from faults_helpers import MlflowServer, s3_env, wk
from helpers import FIRST_DAY, tiny_config, write_tiny_world
from watchkeeper.replay import replay

pytestmark = pytest.mark.slow


def test_mlflow_outage_keeps_the_day_and_replay_logs_it_once(s3_stack, s3_storage, tmp_path, monkeypatch):
    write_tiny_world(s3_storage, days=1)
    cfg = tiny_config(tmp_path, s3_storage.uri)
    server = MlflowServer(tmp_path / "mlflow")  # its port is chosen, nothing listens yet: MLflow is down
    env = s3_env(s3_stack.s3_endpoint)
    day = str(FIRST_DAY)
    out = wk(env, "run-day", "--config", cfg.source, "--day", day, "--tracking-uri", server.uri)
    assert out.returncode == 0, out.stderr
    assert "MLflow could not be reached; the result is stored and the MLflow run is pending" in out.stderr
    stored = s3_storage.read_json(cfg.results_key(day, "result.json"))
    assert stored == json.loads(out.stdout) and stored["mlflow_run_id"] is None and stored["rows"] == 600
    state = s3_storage.read_json(cfg.results_key(day, "projections.json"))
    assert state["mlflow"]["status"] == "pending" and "MlflowException" in state["mlflow"]["error"]

    server.start()
    try:
        start = str(FIRST_DAY - timedelta(days=1))  # a day without a stored result is passed over
        out = wk(
            env,
            "replay",
            "--config",
            cfg.source,
            "--start",
            start,
            "--end",
            day,
            "--tracking-uri",
            server.uri,
        )
        assert out.returncode == 0, out.stderr
        # (MLflow's client prints its own "View run" line first)
        assert out.stdout.splitlines()[-2:] == [
            f"tiny {day}: mlflow logged",
            f"1 stored day(s) between {start} and {day}",
        ]
        again = replay(
            cfg, s3_storage, s3_storage, FIRST_DAY, FIRST_DAY, server.uri
        )  # nothing is logged twice
        assert [r.mlflow for r in again] == ["up to date"]

        from mlflow import MlflowClient

        client = MlflowClient(server.uri)
        exp = client.get_experiment_by_name("watchkeeper/tiny")
        (run,) = client.search_runs([exp.experiment_id], "tags.`watchkeeper.kind` = 'day'")
        stored = s3_storage.read_json(cfg.results_key(day, "result.json"))
        assert run.data.tags["watchkeeper.day"] == day and run.info.status == "FINISHED"
        assert stored["mlflow_run_id"] == run.info.run_id and run.data.metrics["rows"] == 600
        state = s3_storage.read_json(cfg.results_key(day, "projections.json"))
        assert state["mlflow"] == {
            "status": "done",
            "run_id": run.info.run_id,
            "experiment_id": exp.experiment_id,
        }
    finally:
        server.stop()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = replay(cfg, s3_storage, s3_storage, FIRST_DAY, FIRST_DAY, server.uri, force=True)
    assert [r.mlflow for r in down] == ["pending"]  # down again: still stored, still pending, said so
    assert s3_storage.read_json(cfg.results_key(day, "result.json"))["mlflow_run_id"] == run.info.run_id
