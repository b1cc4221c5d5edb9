"""Airflow test setup: an isolated AIRFLOW_HOME on SQLite, migrated once per session, and a models directory.

Variables are set before Airflow is first imported, so every Airflow test in the session shares this home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(tempfile.mkdtemp(prefix="wk-airflow-"))
MODELS = HOME / "models"
MODELS.mkdir()
os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "WATCHKEEPER_MODELS_DIR": str(MODELS),
        "WATCHKEEPER_OUTBOX": str(HOME / "outbox.jsonl"),
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the metadata database once (a real `airflow db migrate`)."""
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return HOME


@pytest.fixture
def models_dir():
    """The directory the DAG factory reads; emptied after each test."""
    yield MODELS
    for p in MODELS.iterdir():
        p.unlink() if p.is_file() else shutil.rmtree(p)


@pytest.fixture
def task_env(s3_stack, webhook, tmp_path) -> dict[str, str]:
    """The environment of an Airflow process running the DAGs on the test S3 server: its connection, the data
    owner's Slack connection to the webhook receiver (the model owner has none: the outbox), MLflow on SQLite."""
    s3 = {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"endpoint_url": s3_stack.s3_endpoint},
    }
    return {
        **os.environ,
        "AIRFLOW_CONN_WATCHKEEPER_S3": json.dumps(s3),
        "AIRFLOW_CONN_SLACK_DATA": json.dumps(
            {"conn_type": "slackwebhook", "password": f"{webhook.url}/data"}
        ),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "WATCHKEEPER_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "PYTHONPATH": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # a loaded CI machine can take >30 s to import scipy
    }
