"""Alert payloads are built by a pure function: the exact Block Kit, escaping, Slack's limits; the outbox replaces."""

from datetime import date, timedelta

from helpers import TINY_CONFIG
from watchkeeper.alerts import (
    SEE_REPORT,
    failure_message,
    fit_slack_limits,
    incident_message,
    read_outbox,
    write_outbox,
)
from watchkeeper.config import parse_config
from watchkeeper.incidents import replay
from watchkeeper.policy import DaySignals, Raised

OWNERS = {
    "data": {"name": "data-team", "mention": "<!subteam^S1>", "runbook": "https://wiki.example/dq"},
    "model": {"name": "ml <team>", "mention": "<!channel> & co"},
}
CFG = parse_config({**TINY_CONFIG, "storage": {"uri": "/x"}, "owners": OWNERS,
                    "policy": {"mlflow_ui_url": "http://mlflow", "report_url": "http://files/r"}})  # fmt: skip
D0 = date(2025, 3, 1)


def null_check(subject: str = "x1") -> Raised:
    return Raised(signal="quality_critical", ref=f"quality.expect_column_values_to_not_be_null:{subject}",
                  name="expect_column_values_to_not_be_null", subject=subject, severity="critical", value=0.4,
                  upper=0.02, reason=f"{subject} is 40 % null")  # fmt: skip


def messages(days: list[DaySignals], cfg=CFG) -> list[tuple[str, dict]]:
    done = replay(cfg.policy, cfg.name, days)
    by_day = {d.day: d for d in days}
    return [(m.key, incident_message(cfg, m, by_day[m.day], done.incidents)) for m in done.messages]


def test_opening_and_recovery_messages_are_exact():
    days = [DaySignals(day=D0, raised=[null_check()], mlflow_run_id="r1", mlflow_experiment_id="7"),
            DaySignals(day=D0 + timedelta(days=1))]  # fmt: skip
    (k1, opened), (k2, recovered) = messages(days)
    assert (k1, k2) == ("data_quality._.2025-03-01/opened/data", "data_quality._.2025-03-01/recovered/data")
    assert opened == {
        "text": "<!subteam^S1> :rotating_light: tiny · 2025-03-01 · critical · opened: data_quality: x1 is 40 % null",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "tiny · 2025-03-01 · critical · opened: data_quality"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "<!subteam^S1> :rotating_light: *data_quality* "
                                         "opened: quality_critical since 2025-03-01\nx1 is 40 % null"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*expect_column_values_to_not_be_null* · `x1`\n0.4 > 0.02"}]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "failed expectations: expect_column_values_to_not_be_null(x1)"}]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "owner: data-team · incident data_quality._.2025-03-01"}]},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "MLflow run"},
                 "url": "http://mlflow/#/experiments/7/runs/r1"},
                {"type": "button", "text": {"type": "plain_text", "text": "Report"},
                 "url": "http://files/r/watchkeeper/tiny/days/2025-03-01/report.html"},
                {"type": "button", "text": {"type": "plain_text", "text": "Runbook"}, "url": "https://wiki.example/dq"},
            ]},
        ],
    }  # fmt: skip
    assert recovered["blocks"][1]["text"]["text"] == (
        "<!subteam^S1> :white_check_mark: *data_quality* recovered: it lasted 2025-03-01 → 2025-03-01 "
        "(1 day(s), seen on 1)"
    )


def test_data_and_config_values_cannot_ping_or_link():
    evil = null_check("<!channel>").model_copy(update={"reason": "<http://evil|click> & more"})
    (_, msg), *_ = messages([DaySignals(day=D0, raised=[evil])])
    text = str(msg["blocks"][1:])
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil|click&gt; &amp; more" in text
    # A configured mention that is not a real Slack mention is shown inert, like any other value.
    drift = Raised(signal="feature_drift", ref="drift.ks:a", name="ks", subject="a", severity="warning",
                   value=0.3, upper=0.1)  # fmt: skip
    (_, model_msg), *_ = messages([DaySignals(day=D0, raised=[drift])])
    assert model_msg["text"].startswith("&lt;!channel&gt; &amp; co ")
    assert "owner: ml &lt;team&gt;" in str(model_msg["blocks"])


def test_many_checks_stay_within_slack_limits_and_point_to_the_report():
    raised = [null_check(f"c{i}") for i in range(30)]
    (_, msg), *_ = messages([DaySignals(day=D0, raised=raised)])
    fields = next(b for b in msg["blocks"] if "fields" in b)["fields"]
    assert len(fields) == 10
    assert "20 more check(s) in the result" in str(msg["blocks"])


def test_fit_slack_limits_cuts_rather_than_fails():
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}}
    payload = {"text": "t" * 4000, "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}]
               + [long] * 60 + [{"type": "actions", "elements": [{"type": "button"}] * 7}]}  # fmt: skip
    fitted = fit_slack_limits(payload)
    blocks = fitted["blocks"]
    assert len(blocks) == 50 and len(fitted["text"]) == 3000
    assert len(blocks[0]["text"]["text"]) == 150
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert blocks[-2]["elements"][0]["text"] == SEE_REPORT and blocks[-1]["type"] == "actions"
    assert len(blocks[-1]["elements"]) == 5


def test_failure_message_names_task_and_first_line_only():
    msg = failure_message(
        CFG,
        "data",
        "load_day",
        "2025-03-01",
        "InputError: file <x> has not arrived: s3://b/k\nTraceback...",
        {},
    )
    assert msg["text"] == (
        "<!subteam^S1> :x: tiny 2025-03-01: task load_day failed: InputError: file &lt;x&gt; has not arrived: s3://b/k"
    )
    assert "Traceback" not in str(msg)
    assert msg["blocks"][-1]["elements"][0]["url"] == "https://wiki.example/dq"


def test_operator_defaults_to_the_model_owner():
    msg = failure_message(CFG, "operator", "measure_drift", "2025-03-01", "boom", {})
    assert "owner: ml &lt;team&gt;" in str(msg["blocks"])


def test_outbox_replaces_the_same_key(tmp_path):
    path = tmp_path / "outbox.jsonl"
    write_outbox("tiny/2025-03-01/data/notify", "data-team", {"text": "one"}, path)
    write_outbox("tiny/2025-03-02/data/notify", "data-team", {"text": "two"}, path)
    write_outbox("tiny/2025-03-01/data/notify", "data-team", {"text": "one, again"}, path)
    assert [m["payload"]["text"] for m in read_outbox(path)] == ["two", "one, again"]
