"""MLflow logging on a real SQLite tracking store: one run per (model, day), day timestamps, idempotent re-runs."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import FIRST_DAY
from mlflow import MlflowClient
from watchkeeper.pipeline import run_day
from watchkeeper.tracking import experiment_name


def test_runs_are_keyed_by_day_and_replaced_on_rerun(tiny, tmp_path):
    cfg, storage, _ = tiny
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    second = FIRST_DAY + timedelta(days=1)
    run_day(cfg, FIRST_DAY, storage, tracking_uri=uri)
    r2 = run_day(cfg, second, storage, tracking_uri=uri)
    again = run_day(cfg, second, storage, tracking_uri=uri)
    assert again.mlflow_run_id == r2.mlflow_run_id
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment_name("tiny"))
    runs = {r.data.tags["watchkeeper.day"]: r for r in client.search_runs([exp.experiment_id])}
    assert sorted(runs) == [str(FIRST_DAY), str(second)]
    day_ms = int(datetime.combine(second, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    history = client.get_metric_history(r2.mlflow_run_id, "drift.ks.x1")
    assert {(m.step, m.timestamp) for m in history} == {(second.toordinal(), day_ms)}
    assert len(history) == 1  # the re-run did not add a second point
    assert runs[str(second)].data.tags["watchkeeper.status"] == "ok"
    assert {a.path for a in client.list_artifacts(r2.mlflow_run_id)} == {
        "result.json",
        "summary.md",
        "quality",
    }
    quality = {a.path for a in client.list_artifacts(r2.mlflow_run_id, "quality")}
    assert quality == {
        "quality/report.html",
        "quality/expectations.json",
        "quality/gx_validation_result.json",
    }
    table = json.loads(
        Path(client.download_artifacts(r2.mlflow_run_id, "quality/expectations.json")).read_text()
    )
    assert len(table["data"]) == sum(
        c.stage == "quality" for c in again.checks
    )  # replaced on re-run, not appended
    # FIRST_DAY's labels arrived on `second`: its own run now holds realized metrics, as of `second`.
    realized = client.get_metric_history(runs[str(FIRST_DAY)].info.run_id, "realized.roc_auc")
    assert [(m.step, m.timestamp) for m in realized] == [(FIRST_DAY.toordinal(), day_ms)]
    assert str(tmp_path) in exp.artifact_location  # next to the database, not in the working directory
