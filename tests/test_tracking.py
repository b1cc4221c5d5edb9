"""MLflow logging on a real SQLite tracking store: runs keyed by day, the verdict in the runs list, a timeline run,
realized metrics in their prediction day's run, one upload of the day's folder, distinct Unicode keys, no run left
RUNNING when logging fails."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from helpers import FIRST_DAY, TINY_CONFIG, tiny_config
from mlflow import MlflowClient
from watchkeeper.pipeline import run_day
from watchkeeper.result import Check, DayResult, StageSummary, Status
from watchkeeper.tracking import experiment_name, log_day, metric_key, run_name


def _ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)


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
    assert exp.tags["mlflow.note.content"] == cfg.description
    runs = {
        r.data.tags.get("watchkeeper.day", "timeline"): r for r in client.search_runs([exp.experiment_id])
    }
    assert sorted(runs) == [str(FIRST_DAY), str(second), "timeline"]
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    day_ms, step = _ms(second), (second - cfg.start_date).days
    history = client.get_metric_history(r2.mlflow_run_id, "drift.ks.x1")
    assert {(m.step, m.timestamp) for m in history} == {(step, day_ms)}
    assert len(history) == 1  # the re-run did not add a second point
    metrics = runs[str(second)].data.metrics
    assert metrics["drift.ks.x1.upper"] == next(
        c.upper for c in again.checks if c.id == "drift.ks" and c.subject == "x1" and c.segment is None
    )
    tags = runs[str(second)].data.tags
    verdict = "ok" if again.status == "ok" else str(again.severity).upper()
    assert runs[str(second)].info.run_name.startswith(f"{second} {verdict} · ")  # the verdict in the list
    assert tags["watchkeeper.status"] == again.status
    assert again.headline in tags["mlflow.note.content"]
    top = {a.path for a in client.list_artifacts(r2.mlflow_run_id)}
    assert {"result.json", "summary.md", "report.html", "quality"} <= top
    quality = {a.path for a in client.list_artifacts(r2.mlflow_run_id, "quality")}
    assert quality == {
        "quality/report.html",
        "quality/expectations.json",
        "quality/gx_validation_result.json",
    }
    table = json.loads(
        Path(client.download_artifacts(r2.mlflow_run_id, "quality/expectations.json")).read_text()
    )
    assert len(table["data"]) == sum(c.stage == "quality" for c in again.checks)
    report = Path(client.download_artifacts(r2.mlflow_run_id, "report.html")).read_text()
    assert again.headline in report
    # FIRST_DAY's labels arrived on `second`: its own run holds realized metrics at its own step, as of `second`.
    realized = client.get_metric_history(runs[str(FIRST_DAY)].info.run_id, "realized.roc_auc")
    assert [(m.step, m.timestamp) for m in realized] == [((FIRST_DAY - cfg.start_date).days, day_ms)]
    # The timeline run holds one point per monitored day, at that day's step.
    rows = client.get_metric_history(runs["timeline"].info.run_id, "rows")
    assert sorted((m.step, m.timestamp) for m in rows) == [
        ((FIRST_DAY - cfg.start_date).days, _ms(FIRST_DAY)),
        (step, day_ms),
    ]
    timeline_realized = client.get_metric_history(runs["timeline"].info.run_id, "realized.roc_auc")
    assert [m.step for m in timeline_realized] == [(FIRST_DAY - cfg.start_date).days]
    assert str(tmp_path) in exp.artifact_location  # next to the database, not in the working directory


def test_unicode_and_unsafe_column_names_stay_distinct_keys():
    keys = {metric_key("drift", "ks", s) for s in ("é", "ü", "a+b", "a_b", "a%b", "x/y", "..")}
    assert len(keys) == 7
    assert (
        metric_key("drift", "ks", "é") == "drift.ks.é"
    )  # MLflow accepts Unicode word characters as they are
    assert metric_key("drift", "ks", "a_b") == "drift.ks.a_b"
    assert metric_key("drift", "ks", "x1", "region=north") == "drift.ks.x1.region_north"


def _result(day: date, subjects: list[str]) -> DayResult:
    checks = [
        Check(
            id="drift.ks",
            stage="drift",
            name="ks",
            subject=s,
            value=0.1 * i,
            upper=0.5,
            status=Status.OK,
            owner="model",
        )  # fmt: skip
        for i, s in enumerate(subjects)
    ]
    return DayResult(
        model="unicode",
        task="binary_classification",
        day=day,
        rows=10,
        status="ok",
        stages=[StageSummary(stage="drift", status="ok")],
        checks=checks,
        actions=[],
        headline="all ok",
    )


def test_colliding_unicode_columns_are_logged_apart(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _, run_id = log_day(_result(FIRST_DAY, ["é", "ü", "a+b", "a%b"]), uri)
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    values = sorted(v for k, v in metrics.items() if k.startswith("drift.ks.") and not k.endswith("upper"))
    assert values == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_a_failure_midway_leaves_the_run_failed_not_running(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("artifacts cannot be stored under a file")
    client.create_experiment(experiment_name("unicode"), artifact_location=f"file://{blocker}")
    with pytest.raises(OSError):
        log_day(_result(FIRST_DAY, ["x"]), uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment_name("unicode")).experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_step_is_the_day_index_since_the_start_date(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), start_date=str(FIRST_DAY), description="tiny model")
    assert TINY_CONFIG["name"] == cfg.name

    class _Day:  # the config part of a pipeline Day: start date and description
        def __init__(self, cfg):
            self.cfg = cfg

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    later = FIRST_DAY + timedelta(days=9)
    result = _result(later, ["x"])
    result.model = cfg.name
    _, run_id = log_day(result, uri, _Day(cfg))
    client = MlflowClient(uri)
    assert [m.step for m in client.get_metric_history(run_id, "rows")] == [9]
    assert (
        client.get_experiment_by_name(experiment_name(cfg.name)).tags["mlflow.note.content"] == "tiny model"
    )


def test_the_run_name_carries_the_verdict_and_stays_short():
    ok = _result(FIRST_DAY, ["x"])
    ok.headline = f"unicode {FIRST_DAY}: all checks ok on 10 predictions"
    assert run_name(ok) == f"{FIRST_DAY} ok · unicode"
    alert = ok.model_copy(
        update={"status": "alert", "headline": f"unicode {FIRST_DAY}: drift in " + "x, " * 80}
    )
    alert.checks[0].status, alert.checks[0].severity = Status.ALERT, "critical"
    name = run_name(alert)
    assert name.startswith(f"{FIRST_DAY} CRITICAL · drift in x, x") and len(name) == 120


def test_the_days_run_shows_the_reports_drift_figures_as_svg(tmp_path):
    """Each drifted column's distribution is an image in the day's MLflow run (SVG, which MLflow's artifact view
    previews), the very figure the daily report shows, captioned with the check that alerted."""
    import xml.etree.ElementTree as ET

    import numpy as np
    from watchkeeper.reports.daily import render
    from watchkeeper.reports.distributions import categorical, numeric

    result = _result(FIRST_DAY, ["income", "région"])
    result.checks[1].value, result.checks[1].status = 0.7, Status.ALERT
    rng = np.random.default_rng(0)
    result.distributions = [
        numeric("income", np.sort(rng.normal(0, 1, 2000)), np.sort(rng.normal(1, 1, 500))),
        categorical("région", {"nord": 0.5, "sud": 0.5}, {"nord": 400, "sud": 80, "est": 20}, 2000),
    ]
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _, run_id = log_day(result, uri)
    client = MlflowClient(uri)
    names = [a.path for a in client.list_artifacts(run_id, "figures")]
    assert names == ["figures/01_drift_income.svg", "figures/02_drift_r_gion.svg"]
    report = render(result, [], "")
    for name, column in zip(names, ["income", "région"], strict=True):
        drawn = Path(client.download_artifacts(run_id, name)).read_text()
        assert ET.fromstring(drawn).tag == "{http://www.w3.org/2000/svg}svg"  # a standalone SVG document
        assert column in drawn and f"<figure>{drawn}</figure>" in report
    assert "ks 0.7 &gt; 0.5" in Path(client.download_artifacts(run_id, names[1])).read_text()
