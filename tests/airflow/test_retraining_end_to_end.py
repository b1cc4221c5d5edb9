"""The retraining and promotion DAGs run by Airflow against the local S3 server and a SQLite MLflow registry.

A retraining requested by hand for the demo world's data-quality day is refused with its reason (and the model owner
told); the promotion DAG moves the registry aliases and records who asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from watchkeeper.alerts import read_outbox
from watchkeeper.config import load_config
from watchkeeper.delivery import read_log
from watchkeeper.demo import generate_world
from watchkeeper.demo.champions import champion
from watchkeeper.retraining import registry
from watchkeeper.storage import S3Credentials, Storage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_refused_retraining_and_promotion_through_airflow(airflow_db, s3_stack, models_dir, tmp_path):
    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    storage = Storage.from_uri("s3://wk-e2e-retrain/credit_default", creds)
    storage.ensure_root()
    manifest = generate_world(storage.write_bytes, days=30, rows_per_day=1500)
    dq = next(i for i in manifest["incidents"] if i["type"] == "data_quality")["start"]
    raw = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    raw["storage"]["uri"] = "s3://wk-e2e-retrain/credit_default"
    raw["airflow"] = {"retries": 0}
    raw["quality"] = {"expectations_dir": "expectations"}
    (models_dir / "credit_default.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(models_dir / "credit_default.yaml")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    fitted, sample, tags = champion("credit_default")
    registry.register_champion(cfg, uri, storage, fitted, sample, tags, "in production")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "WATCHKEEPER_OUTBOX": str(tmp_path / "outbox.jsonl"),
           "PYTHONPATH": str(ROOT / "plugins"),
           "AIRFLOW_CONN_WATCHKEEPER_S3": json.dumps({"conn_type": "aws", "login": "test", "password": "test",
                                                      "extra": {"endpoint_url": s3_stack.s3_endpoint}})}  # fmt: skip
    runner = [sys.executable, "-m", "watchkeeper_airflow.retrain_runner"]
    out = subprocess.run(
        [*runner, "credit_default", dq], env=env, capture_output=True, text=True, timeout=900
    )
    assert f"watchkeeper_credit_default {dq}: success" in out.stdout, out.stdout + out.stderr[-3000:]
    assert (
        f"watchkeeper_retrain_credit_default {dq}:" not in out.stdout
    )  # a failed-quality day requests no retraining
    out = subprocess.run(
        [*runner, "--retrain", "credit_default", dq], env=env, capture_output=True, text=True, timeout=900
    )
    assert f"watchkeeper_retrain_credit_default {dq}: success" in out.stdout, out.stdout + out.stderr[-3000:]
    outcome = storage.read_json(f"watchkeeper/credit_default/retraining/{dq}/outcome.json")
    assert outcome["status"] == "refused" and outcome["kind"] == "quality" and "income" in outcome["why"]
    messages = {m["key"]: m for m in read_outbox(tmp_path / "outbox.jsonl")}
    assert "income" in messages[f"credit_default/{dq}/model/retrain-refused"]["payload"]["text"]
    logged = {e["key"]: e["status"] for e in read_log(cfg, storage)}
    assert logged[f"{dq}/model/retrain-refused"] == "sent"  # in the delivery log: a re-run sends it no more

    _, v2 = registry.log_sklearn(cfg, uri, fitted, sample, "a challenger", {}, {}, registry.CHALLENGER)
    out = subprocess.run([*runner, "--promote", "credit_default", v2, "ana"], env=env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert f"watchkeeper_promote credit_default v{v2}: success" in out.stdout, out.stdout + out.stderr[-3000:]
    c = registry.client(uri)
    assert registry.by_alias(c, "credit_default", "champion") == v2
    assert registry.by_alias(c, "credit_default", "previous_champion") == "1"
    assert registry.history(storage, cfg)[-1] | {"at": None} == {
        "at": None, "event": "promoted", "version": v2, "from_version": "1", "by": "ana",
        "why": "approved in the demo (--approve)",
        "shadow_days": {"metric": "roc_auc", "required": 0, "labelled_days": 0, "supporting_days": 0}}  # fmt: skip
    # The model owner hears of the move once, through the delivery log (the outbox: no Slack connection).
    told = {m["key"]: m for m in read_outbox(tmp_path / "outbox.jsonl")}[
        f"credit_default/champion/promoted/v{v2}/1"
    ]
    assert told["destination"] == cfg.owners.model.name
    assert "promoted by ana (replacing version 1)" in told["payload"]["blocks"][1]["text"]["text"]
    assert storage.exists(f"watchkeeper/credit_default/deliveries/champion__promoted__v{v2}__1.json")
