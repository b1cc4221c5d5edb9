"""Delivery through the Airflow Slack provider to a real local HTTP webhook: Retry-After honored, 5xx kept pending
and sent once later, nothing sent twice (the delivery log in storage)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from helpers import TINY_CONFIG
from watchkeeper.config import parse_config
from watchkeeper.delivery import deliver_once, read_log, retry_pending
from watchkeeper.storage import Storage

pytestmark = pytest.mark.slow


class Hook(BaseHTTPRequestHandler):
    script: list[tuple[int, dict]] = []
    """Answers to give, in order (then 200)."""
    posts: list[tuple[float, dict]] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Hook.posts.append((time.monotonic(), body))
        status, headers = Hook.script.pop(0) if Hook.script else (200, {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"error")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.script, Hook.posts = [], []
    url = f"http://127.0.0.1:{server.server_port}/hook"
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DATA", json.dumps({"conn_type": "slackwebhook", "password": url}))
    yield url
    server.shutdown()


def setup(tmp_path):
    from watchkeeper_airflow.notify import sender

    owners = {"data": {"name": "data-team", "slack_conn_id": "slack_data"}, "model": {"name": "ml"}}
    cfg = parse_config({**TINY_CONFIG, "storage": {"uri": str(tmp_path)}, "owners": owners})
    return cfg, Storage.from_uri(str(tmp_path)), sender(cfg)


PAYLOAD = {"text": "hello", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}


def test_429_is_retried_after_the_retry_after_seconds_and_sent_once(webhook, tmp_path):
    cfg, results, send = setup(tmp_path)
    Hook.script = [(429, {"Retry-After": "2"})]
    where = deliver_once(cfg, results, ["inc/opened/data"], "data", "2025-03-01", PAYLOAD, send)
    assert where == "slack:slack_data"
    (t1, first), (t2, second) = Hook.posts
    assert first == second == PAYLOAD and t2 - t1 >= 2.0
    assert (
        deliver_once(cfg, results, ["inc/opened/data"], "data", "2025-03-01", PAYLOAD, send) == "already sent"
    )
    assert len(Hook.posts) == 2
    assert [(e["key"], e["status"], e["destination"]) for e in read_log(cfg, results)] == [
        ("inc/opened/data", "sent", "slack:slack_data")
    ]


def test_slack_down_keeps_the_message_pending_and_the_next_delivery_sends_it_once(
    webhook, tmp_path, monkeypatch
):
    import watchkeeper_airflow.notify as notify

    monkeypatch.setattr(notify, "RETRIES", 1)  # one backoff retry keeps the test short
    cfg, results, send = setup(tmp_path)
    Hook.script = [(503, {}), (503, {})]
    where = deliver_once(cfg, results, ["inc/opened/data"], "data", "2025-03-01", PAYLOAD, send)
    assert where.startswith("pending") and len(Hook.posts) == 2
    (entry,) = read_log(cfg, results)
    assert entry["status"] == "pending" and entry["payload"] == PAYLOAD
    assert webhook not in json.dumps(entry)  # the webhook URL is a secret: never in the log
    assert retry_pending(cfg, results, send) == ["slack:slack_data"]
    assert retry_pending(cfg, results, send) == []
    assert len(Hook.posts) == 3 and read_log(cfg, results)[0]["status"] == "sent"


def test_test_alert_sends_a_sample_to_every_destination_and_says_which_worked(webhook, tmp_path, monkeypatch):
    import watchkeeper_airflow.notify as notify
    from click.testing import CliRunner
    from watchkeeper.cli import main
    from watchkeeper.stack import free_port

    monkeypatch.setattr(notify, "RETRIES", 0)
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_MODEL", json.dumps({"conn_type": "slackwebhook", "password": dead})
    )
    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    owners = {"data": {"name": "data-team", "slack_conn_id": "slack_data"},
              "model": {"name": "ml", "slack_conn_id": "slack_model"}, "operator": {"name": "ops"}}  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": str(tmp_path)}, "owners": owners}))
    out = CliRunner().invoke(main, ["test-alert", "--config", str(path)])
    assert out.exit_code == 1, out.output
    lines = [line for line in out.output.splitlines() if line.split(" ")[0] in ("data", "model", "operator")]
    assert lines[0] == "data     data-team: ok → slack:slack_data"
    assert lines[1].startswith("model    ml: FAILED (")
    assert lines[2].startswith("operator ops: ok → outbox:")
    assert dead not in "\n".join(lines)  # the webhook URL is a secret
    ((_, body),) = Hook.posts
    assert body["blocks"][0]["text"]["text"] == "tiny · test alert · data"
