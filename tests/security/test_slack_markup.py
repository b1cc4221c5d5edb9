"""Column names and data values reach Slack as inert text: no `<!channel>` ping, no planted `<url|text>` link."""

from __future__ import annotations

import json
import re
from datetime import date

from helpers import TINY_CONFIG
from watchkeeper.alerts import failure_message, incident_message
from watchkeeper.config import parse_config
from watchkeeper.incidents import replay
from watchkeeper.policy import day_signals
from watchkeeper.result import Action, Check, DayResult, StageSummary

COLUMN = "<!channel>"
VALUE = "<https://evil|click>"
CFG = parse_config({**TINY_CONFIG, "storage": {"uri": "/x"},
                    "owners": {"data": {"name": "data <!here>", "mention": "<!subteam^S1>"}, "model": {"name": "ml"}}})  # fmt: skip


def _hostile_result() -> tuple[DayResult, Action]:
    check = Check(id="quality.expect_column_values_to_be_in_set", stage="quality", name="expect_column_values_to_be_in_set",
                  subject=COLUMN, status="alert", severity="critical", owner="data",
                  reason=f"{COLUMN!r} has values unseen in the reference: {VALUE}")  # fmt: skip
    result = DayResult(model="tiny", task="binary_classification", day=date(2025, 3, 1), rows=10, status="alert",
                       stages=[StageSummary(stage="drift", status="alert", alerts=1)], checks=[check], actions=[],
                       headline=f"tiny 2025-03-01: drift in {COLUMN}, {VALUE}", top_drifted_features=[COLUMN])  # fmt: skip
    action = Action(kind="notify", owner="data", reason=f"unseen {VALUE} in {COLUMN}",
                    checks=[f"{check.id}:{COLUMN}"])  # fmt: skip
    return result, action


def _mrkdwn_texts(payload: dict) -> list[str]:
    """Every string Slack parses as mrkdwn: the fallback text and each mrkdwn text object."""
    out = [payload["text"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload["blocks"])
    return out


def _controls(text: str) -> list[str]:
    """Slack control sequences `<...>` in a mrkdwn string."""
    return re.findall(r"<[^<>]*>", text)


def test_alert_message_escapes_column_names_and_values():
    result, _ = _hostile_result()
    result.mlflow_run_id, result.mlflow_experiment_id = "1", "7"
    day = day_signals(result)  # the day's result → its signals → the policy's opening message, as in a run
    done = replay(CFG.policy, CFG.name, [day])
    assert len(done.messages) == 1
    payload = incident_message(CFG, done.messages[0], day, done.incidents)
    texts = _mrkdwn_texts(payload)
    assert len(texts) >= 4
    for text in texts:
        assert set(_controls(text)) <= {"<!subteam^S1>"}  # only the mention configured for the owner
    body = json.dumps(payload)
    assert (
        "&lt;!channel&gt;" in body and "&lt;https://evil|click&gt;" in body and "data &lt;!here&gt;" in body
    )


def test_failure_message_escapes_the_error_text():
    payload = failure_message(CFG, "data", "load_day", "2025-03-01", f"boom {VALUE} in {COLUMN}\nmore", {})
    for text in _mrkdwn_texts(payload):
        assert set(_controls(text)) <= {"<!subteam^S1>"}
    assert "boom &lt;https://evil|click&gt; in &lt;!channel&gt;" in payload["text"]
