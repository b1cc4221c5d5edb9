"""MLflow as a projection of the stored result: an MLflow outage loses nothing, `watchkeeper replay` completes it.

Against the real parts: the tiny world on the local S3 server, the `watchkeeper` CLI as a subprocess, and an
`mlflow server` that is down during the runs and started afterwards.
"""

import json
from datetime import timedelta

import pytest
from faults_helpers import MlflowServer, s3_env, wk
from helpers import FIRST_DAY, tiny_config, write_tiny_world

pytestmark = pytest.mark.slow


def test_mlflow_outage_keeps_the_day_and_replay_logs_it_once(s3_stack, s3_storage, tmp_path):
    write_tiny_world(s3_storage, days=2)
    cfg = tiny_config(tmp_path, s3_storage.uri)
    server = MlflowServer(tmp_path / "mlflow")  # its port is chosen, nothing listens yet: MLflow is down
    env = s3_env(s3_stack.s3_endpoint)
    days = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
    for day in days:
        out = wk(env, "run-day", "--config", cfg.source, "--day", str(day), "--tracking-uri", server.uri)
        assert out.returncode == 0, out.stderr
        assert "MLflow could not be reached; the result is stored and the MLflow run is pending" in out.stderr
        printed = json.loads(out.stdout)
        stored = s3_storage.read_json(cfg.results_key(day, "result.json"))
        assert stored == printed and stored["mlflow_run_id"] is None
        state = s3_storage.read_json(cfg.results_key(day, "projections.json"))
        assert state["mlflow"]["status"] == "pending" and "MlflowException" in state["mlflow"]["error"]

    server.start()
    try:
        args = (
            "replay",
            "--config",
            cfg.source,
            "--start",
            str(days[0] - timedelta(days=1)),
            "--end",
            str(days[1]),
        )
        out = wk(env, *args, "--tracking-uri", server.uri)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            f"tiny {days[0]}: mlflow logged",
            f"tiny {days[1]}: mlflow logged",
            f"2 stored day(s) between {days[0] - timedelta(days=1)} and {days[1]}",
        ]
        out = wk(env, *args, "--tracking-uri", server.uri)  # a second replay sends nothing twice
        assert f"tiny {days[0]}: mlflow up to date" in out.stdout

        from mlflow import MlflowClient

        client = MlflowClient(server.uri)
        exp = client.get_experiment_by_name("watchkeeper/tiny")
        runs = client.search_runs([exp.experiment_id])
        assert sorted(r.data.tags["watchkeeper.day"] for r in runs) == [str(d) for d in days]
        for day in days:
            stored = s3_storage.read_json(cfg.results_key(day, "result.json"))
            run = next(r for r in runs if r.data.tags["watchkeeper.day"] == str(day))
            assert stored["mlflow_run_id"] == run.info.run_id and run.info.status == "FINISHED"
            assert run.data.metrics["rows"] == stored["rows"] == 600
            state = s3_storage.read_json(cfg.results_key(day, "projections.json"))
            assert state["mlflow"] == {
                "status": "done",
                "run_id": run.info.run_id,
                "experiment_id": exp.experiment_id,
            }
    finally:
        server.stop()
    out = wk(
        env, *args, "--tracking-uri", server.uri, "--force"
    )  # down again: still pending, exit 1, said so
    assert out.returncode == 1 and f"tiny {days[0]}: mlflow pending" in out.stdout
