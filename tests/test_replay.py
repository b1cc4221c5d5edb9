"""MLflow as a projection of the stored result: an MLflow outage loses nothing, `watchkeeper replay` completes it,
and the operator hears of the outage once (opened, then over), through the outbox.

Against the real parts: the tiny world on the local S3 server, the `watchkeeper` CLI as a subprocess, and an
`mlflow server` that is down during the runs and started afterwards.
"""

import json
from datetime import timedelta

import pytest
from faults_helpers import MlflowServer, s3_env, wk
from helpers import FIRST_DAY, tiny_config, write_tiny_world
from watchkeeper.outbox import read_outbox
from watchkeeper.replay import replay

pytestmark = pytest.mark.slow


def test_mlflow_outage_keeps_the_day_and_replay_logs_it_once(s3_stack, s3_storage, tmp_path, monkeypatch):
    write_tiny_world(s3_storage, days=2)
    cfg = tiny_config(tmp_path, s3_storage.uri)
    server = MlflowServer(tmp_path / "mlflow")  # its port is chosen, nothing listens yet: MLflow is down
    env = s3_env(s3_stack.s3_endpoint)
    day, day2, outbox = str(FIRST_DAY), str(FIRST_DAY + timedelta(days=1)), str(tmp_path / "outbox.jsonl")
    for d in (day, day2):  # two days of the outage
        out = wk(
            env,
            "run-day",
            "--config",
            cfg.source,
            "--day",
            d,
            "--tracking-uri",
            server.uri,
            "--outbox",
            outbox,
        )
        assert out.returncode == 0, out.stderr
        assert "MLflow could not be reached; the result is stored and the MLflow run is pending" in out.stderr
    # One message for the outage, not one per day, to the operator (the model owner stands in for tiny).
    (opened,) = [m for m in read_outbox(outbox) if "mlflow_outage" in m["key"]]
    assert opened["key"] == f"tiny/mlflow_outage/{day}/opened/operator" and opened["destination"] == "ml-team"
    assert (
        f"MLflow could not be reached while logging tiny {day} (MlflowException" in opened["payload"]["text"]
    )
    stored = s3_storage.read_json(cfg.results_key(day2, "result.json"))
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
            day2,
            "--tracking-uri",
            server.uri,
            "--outbox",
            outbox,
        )
        assert out.returncode == 0, out.stderr
        # (MLflow's client prints its own "View run" line first); the closing line goes out with the last day
        over = f"mlflow_outage/{day}/recovered/operator"
        assert out.stdout.splitlines()[-3:] == [
            f"tiny {day}: mlflow logged",
            f"tiny {day2}: mlflow logged; {over}: outbox:{outbox}",
            f"2 stored day(s) between {start} and {day2}",
        ]
        outage = [m for m in read_outbox(outbox) if "mlflow_outage" in m["key"]]
        assert [m["key"] for m in outage] == [opened["key"], f"tiny/{over}"]
        assert outage[1]["payload"]["text"].endswith(
            f"MLflow answers again: tiny {day2} was logged. No day of this outage is pending any more."
        )
        no_mlflow = {k: v for k, v in env.items() if k != "MLFLOW_TRACKING_URI"}
        again = wk(
            no_mlflow, "replay", "--config", cfg.source, "--start", day, "--end", day2, "--outbox", outbox
        )
        assert again.stdout.splitlines()[:2] == [
            f"tiny {day}: mlflow not configured",
            f"tiny {day2}: mlflow not configured",
        ]
        assert read_outbox(outbox)[-1] == outage[1]  # nothing sent twice
        again = replay(
            cfg, s3_storage, s3_storage, FIRST_DAY, FIRST_DAY, server.uri
        )  # nothing is logged twice
        assert [r.mlflow for r in again] == ["up to date"]

        from mlflow import MlflowClient

        client = MlflowClient(server.uri)
        exp = client.get_experiment_by_name("watchkeeper/tiny")
        run = next(
            r
            for r in client.search_runs([exp.experiment_id], "tags.`watchkeeper.kind` = 'day'")
            if r.data.tags["watchkeeper.day"] == day
        )
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
