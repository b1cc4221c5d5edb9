"""The Airflow run note of a day: "ALERT <day>: <counts> — <what>; to <owners> · links" or "ok <day>: ...", within
1,000 chars."""

from __future__ import annotations

from datetime import date

from helpers import tiny_config
from watchkeeper.result import Action, Check, DayResult, StageSummary
from watchkeeper.run_note import NOTE_LIMIT, run_note
from watchkeeper_airflow.run_notes import note_for


def _result(status: str, checks: list[Check], actions: list[Action], headline: str) -> DayResult:
    return DayResult(model="tiny", task="binary_classification", day=date(2025, 3, 4), rows=600, status=status,
                     stages=[StageSummary(stage="drift", status=status, alerts=len(checks))], checks=checks,
                     actions=actions, headline=headline, mlflow_run_id="r1", mlflow_experiment_id="7")  # fmt: skip


def _check(subject: str, severity: str) -> Check:
    return Check(id="drift.ks", stage="drift", name="ks", subject=subject, value=0.4, upper=0.1,
                 status="alert", severity=severity, owner="model")  # fmt: skip


def test_an_alerting_day_counts_its_alerts_says_what_and_whom(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHKEEPER_MLFLOW_UI_URL", "http://127.0.0.1:5000")
    monkeypatch.delenv("WATCHKEEPER_REPORT_URL", raising=False)
    cfg = tiny_config(tmp_path, str(tmp_path / "data"))
    checks = [_check("x1", "critical"), _check("x2", "critical"), _check("c", "warning")]
    actions = [
        Action(kind="notify", owner="model", reason="drift"),
        Action(kind="retrain", owner="model", reason="r"),
    ]
    result = _result("alert", checks, actions, "tiny 2025-03-04: drift in x1, x2, c")
    assert run_note(cfg, result) == (
        "ALERT 2025-03-04: 2 critical, 1 warning — drift in x1, x2, c; to the model owner"
        " · MLflow run: http://127.0.0.1:5000/#/experiments/7/runs/r1"
    )


def test_a_healthy_day_reads_ok_and_a_long_note_is_cut_to_what_airflow_stores(tmp_path, monkeypatch):
    monkeypatch.delenv("WATCHKEEPER_MLFLOW_UI_URL", raising=False)
    monkeypatch.delenv("WATCHKEEPER_REPORT_URL", raising=False)
    cfg = tiny_config(tmp_path, str(tmp_path / "data"))
    ok = _result("ok", [], [], "tiny 2025-03-04: all checks ok on 600 predictions")
    assert run_note(cfg, ok) == "ok 2025-03-04: all checks ok on 600 predictions"
    many = [_check(f"feature_{i:03d}", "warning") for i in range(200)]
    long = _result("alert", many, [], "tiny 2025-03-04: drift in " + ", ".join(c.subject for c in many))
    note = run_note(cfg, long)
    assert (
        len(note) == NOTE_LIMIT
        and note.startswith("ALERT 2025-03-04: 200 warning — drift in feature_000")
        and note[-1] == "…"
    )


def test_a_failed_run_names_its_failed_tasks_before_the_verdict():
    assert note_for({"note": "ALERT: 1 critical — load"}, ["wait_for_data"]) == (
        "FAILED at wait_for_data · ALERT: 1 critical — load"
    )
    assert note_for(None, ["load_day", "wait_for_data"]) == "FAILED at load_day, wait_for_data"
    assert note_for({"note": "ok: fine"}, []) == "ok: fine"
    assert note_for(None, []) is None
