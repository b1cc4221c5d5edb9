"""Alert payloads are built by a pure function: assert the exact Block Kit; the outbox replaces, never duplicates."""

from datetime import date

from helpers import TINY_CONFIG
from watchkeeper.alerts import build_message, failure_message, read_outbox, write_outbox
from watchkeeper.config import parse_config
from watchkeeper.result import Action, Check, DayResult, StageSummary

CFG = parse_config({**TINY_CONFIG, "storage": {"uri": "/x"},
                    "owners": {"data": {"name": "data-team", "mention": "<!subteam^S1>"}, "model": {"name": "ml"}}})  # fmt: skip


def result() -> DayResult:
    check = Check(id="quality.expect_column_to_exist", stage="quality", name="expect_column_to_exist",
                  subject="x1", status="alert", severity="critical", owner="data",
                  reason="column 'x1' is missing (renamed or dropped?)")  # fmt: skip
    return DayResult(model="tiny", task="binary_classification", day=date(2025, 3, 1), rows=10, status="alert",
                     stages=[StageSummary(stage="quality", status="alert", alerts=1)], checks=[check], actions=[],
                     headline="tiny 2025-03-01: quality: 1 alert(s), 0 warning(s)")  # fmt: skip


ACTION = Action(kind="notify", owner="data", reason="1 data-quality problem(s): column 'x1' is missing",
                checks=["quality.expect_column_to_exist:x1"])  # fmt: skip


def test_block_kit_payload_is_exact():
    msg = build_message(CFG, result(), ACTION, {"MLflow run": "http://mlflow/#/runs/1", "none": ""})
    assert msg == {
        "text": "<!subteam^S1> :rotating_light: tiny 2025-03-01: quality: 1 alert(s), 0 warning(s). "
        "1 data-quality problem(s): column 'x1' is missing",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "tiny · 2025-03-01 · data quality"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "<!subteam^S1> *tiny 2025-03-01: quality: 1 alert(s), "
                    "0 warning(s)*\n1 data-quality problem(s): column 'x1' is missing",
                },
            },  # fmt: skip
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*expect_column_to_exist* · `x1`\n– vs [–, –] (critical)"}
                ],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "owner: data-team · 1 alerting check(s)"}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "MLflow run"},
                        "url": "http://mlflow/#/runs/1",
                    }
                ],
            },  # fmt: skip
        ],
    }


def test_slack_limits_hold_for_many_checks():
    r = result()
    r.checks = [r.checks[0].model_copy(update={"subject": f"c{i}"}) for i in range(30)]
    action = ACTION.model_copy(update={"checks": [f"quality.expect_column_to_exist:c{i}" for i in range(30)]})
    msg = build_message(CFG, r, action)
    fields = next(b for b in msg["blocks"] if "fields" in b)["fields"]
    assert len(fields) == 10 and len(msg["blocks"]) <= 50
    assert "(20 more in the result)" in msg["blocks"][-1]["elements"][0]["text"]


def test_failure_message_names_task_and_first_line_only():
    msg = failure_message(
        CFG, "data", "load_day", "2025-03-01", "InputError: file has not arrived: s3://b/k\nTraceback...", {}
    )
    assert (
        msg["text"]
        == "<!subteam^S1> :x: tiny 2025-03-01: task load_day failed: InputError: file has not arrived: s3://b/k"
    )
    assert "Traceback" not in str(msg)


def test_outbox_replaces_the_same_key(tmp_path):
    path = tmp_path / "outbox.jsonl"
    write_outbox("tiny/2025-03-01/data/notify", "data-team", {"text": "one"}, path)
    write_outbox("tiny/2025-03-02/data/notify", "data-team", {"text": "two"}, path)
    write_outbox("tiny/2025-03-01/data/notify", "data-team", {"text": "one, again"}, path)
    assert [m["payload"]["text"] for m in read_outbox(path)] == ["two", "one, again"]
