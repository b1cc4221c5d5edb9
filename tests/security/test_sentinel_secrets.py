"""Sentinel secrets and a sentinel pii column through the demo world: `watchkeeper run-day` for three days against
the local S3 server, with a SQLite MLflow store and the outbox, then every place anything was written is scanned.

Zero occurrences of the S3 secret, the session token or the pii values (or the pii column's name) in: the command's
output and logs (DEBUG), every object in the bucket the engine wrote, the MLflow database and artifact files, the
reports and the outbox.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from watchkeeper.demo import generate_world
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
S3_SECRET = "wkSentinelS3Secret7f3a"
S3_TOKEN = "wkSentinelSessionToken91c2"
PII_VALUE = "wk.sentinel.person@example.com"
PII_COLUMN = "applicant_email_wk"
SECRETS = (S3_SECRET, S3_TOKEN)
DAYS = ["2026-01-11", "2026-01-12", "2026-01-13"]  # healthy, the data-quality incident, the day after
pytestmark = pytest.mark.slow


def with_pii(write):
    """The demo world's writer, adding a personal column to the reference and every prediction file."""

    def wrapped(key: str, data: bytes) -> None:
        if key.endswith(".parquet") and key.startswith(("reference/", "predictions/")):
            frame = pd.read_parquet(io.BytesIO(data)).assign(**{PII_COLUMN: PII_VALUE})
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            data = buf.getvalue()
        write(key, data)

    return wrapped


def _texts(root: Path) -> dict[str, str]:
    return {str(p): p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()}


def test_no_secret_or_pii_anywhere_after_three_days(s3_stack, tmp_path):
    creds = S3Credentials(access_key="test", secret_key=S3_SECRET, endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri("s3://wk-sentinel/credit_default", creds)
    storage.ensure_root()
    generate_world(with_pii(storage.write_bytes), days=14, rows_per_day=1200, reference_days=10)
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg["storage"]["uri"] = "s3://wk-sentinel/credit_default"
    cfg["quality"] = {"expectations_dir": "expectations"}
    cfg["columns"]["pii"] = [PII_COLUMN]
    cfg["reference"] = {"bootstrap_samples": 10}
    config = tmp_path / "credit_default.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_SESSION_TOKEN": S3_TOKEN,
        "AWS_ENDPOINT_URL_S3": s3_stack.s3_endpoint,
        "WATCHKEEPER_LOG_LEVEL": "DEBUG",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    mlflow_dir = tmp_path / "mlflow"
    mlflow_dir.mkdir()
    outbox = tmp_path / "outbox.jsonl"
    logs = []
    for day in DAYS:
        cmd = [sys.executable, "-c", RUN, "--config", str(config), "--day", day,
               "--tracking-uri", f"sqlite:///{mlflow_dir}/mlflow.db", "--outbox", str(outbox)]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
        logs += [out.stdout, out.stderr]
    result = json.loads(logs[2])
    # alerts were raised and messages sent (incidents announce once, so the outbox, not the last day's actions)
    assert result["status"] == "alert" and Path(outbox).read_text().strip()
    assert "building reference profile" in "".join(
        logs
    )  # the scan covers the engine's logs, not an empty log

    stored = {k: storage.read_bytes(k).decode("utf-8", "replace") for k in storage.list("")}
    engine_wrote = {k: v for k, v in stored.items() if k.startswith("watchkeeper/")}
    assert any(k.endswith("report.html") for k in engine_wrote) and any(
        k.endswith(".npz") for k in engine_wrote
    )
    places = {
        **{f"log {i}": text for i, text in enumerate(logs)},
        **{f"s3 {k}": v for k, v in stored.items()},
        **_texts(mlflow_dir),
        "outbox": outbox.read_text(),
    }
    assert len(_texts(mlflow_dir)) > 5 and outbox.read_text()
    leaks = [(where, s) for where, text in places.items() for s in SECRETS if s in text]
    assert leaks == []
    personal = {
        **{f"s3 {k}": v for k, v in engine_wrote.items()},
        **_texts(mlflow_dir),
        "outbox": outbox.read_text(),
    }
    personal.update({f"log {i}": text for i, text in enumerate(logs)})
    leaks = [(where, s) for where, text in personal.items() for s in (PII_VALUE, PII_COLUMN) if s in text]
    assert leaks == []


# The CLI with every logger at DEBUG, so whatever the engine or its libraries would log is scanned too.
RUN = """
import logging, sys
from watchkeeper.cli import main
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, force=True)
sys.argv = ["watchkeeper", "run-day", *sys.argv[1:]]
main()
"""
