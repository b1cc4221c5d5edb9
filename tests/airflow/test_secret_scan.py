"""The real DAG with sentinel secrets: the S3 connection's password and the Slack webhook URL (a receiver that drops
the first request, so the Slack client retries and logs) appear in no task log, stored object, MLflow file or
outbox line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from watchkeeper.demo import generate_world
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
S3_SECRET = "wkSentinelConnPassword5d1e"
HOOK_SECRET = "T0SENTINEL/B0SENTINEL/wkSentinelWebhookToken88"
DQ = "2026-01-12"
pytestmark = pytest.mark.slow


class FlakyReceiver(BaseHTTPRequestHandler):
    """Drops the first POST without answering (the client retries, logging it); accepts the others."""

    posts: list[dict] = []
    dropped = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if FlakyReceiver.dropped == 0:
            FlakyReceiver.dropped += 1
            self.close_connection = True
            return
        FlakyReceiver.posts.append({"path": self.path, "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _texts(root: Path) -> dict[str, str]:
    return {str(p): p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()}


def test_task_logs_results_and_mlflow_hold_no_connection_secret(airflow_db, models_dir, s3_stack, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FlakyReceiver.posts, FlakyReceiver.dropped = [], 0
    webhook = f"http://127.0.0.1:{server.server_port}/services/{HOOK_SECRET}"
    creds = S3Credentials(access_key="test", secret_key=S3_SECRET, endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri("s3://wk-secret-scan/credit_default", creds)
    storage.ensure_root()
    generate_world(storage.write_bytes, days=14, rows_per_day=1200, reference_days=10)
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg["storage"]["uri"] = "s3://wk-secret-scan/credit_default"
    cfg["airflow"] = {"retries": 0}
    cfg["quality"] = {"expectations_dir": "expectations"}
    cfg["reference"] = {"bootstrap_samples": 10}
    (models_dir / "credit_default.yaml").write_text(yaml.safe_dump(cfg))
    s3_conn = {"conn_type": "aws", "login": "test", "password": S3_SECRET,
               "extra": {"endpoint_url": s3_stack.s3_endpoint}}  # fmt: skip
    env = {
        **os.environ,
        "AIRFLOW_CONN_WATCHKEEPER_S3": json.dumps(s3_conn),
        "AIRFLOW_CONN_SLACK_DATA": json.dumps({"conn_type": "slackwebhook", "password": webhook}),
        "AIRFLOW_CONN_SLACK_MODEL": json.dumps({"conn_type": "slackwebhook", "password": webhook}),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow/mlflow.db",
        "WATCHKEEPER_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "PYTHONPATH": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",  # a loaded CI machine parses slowly; not what is tested
    }
    (tmp_path / "mlflow").mkdir()
    try:
        out = subprocess.run([sys.executable, "-m", "watchkeeper_airflow.runner", "watchkeeper_credit_default", DQ],
                             env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    finally:
        server.shutdown()
    assert f"watchkeeper_credit_default {DQ}: success" in out.stdout, out.stdout + out.stderr[-3000:]
    outbox = (tmp_path / "outbox.jsonl").read_text() if (tmp_path / "outbox.jsonl").exists() else ""
    assert FlakyReceiver.dropped == 1 and len(FlakyReceiver.posts) >= 1, (  # delivered on the client's retry
        outbox[:2000] + out.stdout[-6000:] + out.stderr[-6000:]
    )

    # dag.test() runs the tasks in this process: their logs are its output (plus any files under logs/).
    output = out.stdout + out.stderr
    assert "load_day" in output and "Going to retry the same request: POST http://127.0.0.1" in output
    logs = _texts(Path(os.environ["AIRFLOW_HOME"]) / "logs")
    places = {
        "runner stdout": out.stdout,
        "runner stderr": out.stderr,
        **logs,
        **{f"s3 {k}": storage.read_bytes(k).decode("utf-8", "replace") for k in storage.list("watchkeeper")},
        **_texts(tmp_path / "mlflow"),
    }
    if (tmp_path / "outbox.jsonl").exists():
        places["outbox"] = (tmp_path / "outbox.jsonl").read_text()
    secrets = (S3_SECRET, HOOK_SECRET, "wkSentinelWebhookToken88")
    assert [(where, s) for where, text in places.items() for s in secrets if s in text] == []
