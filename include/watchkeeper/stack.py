"""The embedded stack for the demo and tests: a local S3 server over HTTP, MLflow on SQLite, Airflow on SQLite.

Servers are started as child processes whose PIDs are written under the state directory and stopped by those PIDs
only. `environment()` gives the variables that point the CLI, Airflow and MLflow at this stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEMO_KEYS = {"AWS_ACCESS_KEY_ID": "watchkeeper", "AWS_SECRET_ACCESS_KEY": "watchkeeper-local-only"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@dataclass
class Stack:
    """Where the embedded stack lives and how to reach it."""

    state_dir: str
    s3_port: int = 0
    mlflow_ui_port: int = 0

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{Path(self.state_dir, 'mlflow', 'mlflow.db').resolve()}"

    @property
    def airflow_home(self) -> str:
        return str(Path(self.state_dir, "airflow").resolve())

    @property
    def outbox(self) -> str:
        return str(Path(self.state_dir, "outbox.jsonl").resolve())

    def mlflow_ui_command(self, port: int = 5000) -> str:
        return f"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false uv run mlflow ui --backend-store-uri {self.tracking_uri} --host 127.0.0.1 --port {port} --workers 1"

    def environment(self, project_dir: str | Path) -> dict[str, str]:
        """Variables for the CLI, Airflow (connections as AIRFLOW_CONN_*) and MLflow to use this stack."""
        project = Path(project_dir).resolve()
        s3_conn = {"conn_type": "aws", "login": DEMO_KEYS["AWS_ACCESS_KEY_ID"],
                   "password": DEMO_KEYS["AWS_SECRET_ACCESS_KEY"],
                   "extra": {"endpoint_url": self.s3_endpoint, "region_name": "us-east-1"}}  # fmt: skip
        env = {
            **DEMO_KEYS,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "WATCHKEEPER_OUTBOX": self.outbox,
            "AIRFLOW_HOME": self.airflow_home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(project / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home}/airflow.db",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_WATCHKEEPER_S3": json.dumps(s3_conn),
            "PYTHONPATH": os.pathsep.join([str(project / "plugins"), str(project / "dags")]),
        }
        if self.mlflow_ui_port:
            env["WATCHKEEPER_MLFLOW_UI_URL"] = f"http://127.0.0.1:{self.mlflow_ui_port}"
        webhook = os.environ.get("WATCHKEEPER_SLACK_WEBHOOK_URL")
        if webhook:  # a real Slack incoming webhook for both owners of the demo model
            conn = json.dumps({"conn_type": "slackwebhook", "password": webhook})
            env["AIRFLOW_CONN_SLACK_DATA"] = env["AIRFLOW_CONN_SLACK_MODEL"] = conn
        return env

    # --- processes ------------------------------------------------------------------------------------------------

    def _pidfile(self, name: str) -> Path:
        return Path(self.state_dir, "run", f"{name}.pid")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        log = Path(self.state_dir, "logs", f"{name}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        self._pidfile(name).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                    start_new_session=True)  # fmt: skip
        self._pidfile(name).write_text(str(proc.pid))
        return proc.pid

    def start_s3(self) -> str:
        """Start the S3-compatible server (moto) on loopback; return its endpoint."""
        self.s3_port = self.s3_port or free_port()
        self._spawn("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)])
        wait_for_port(self.s3_port)
        self.save()
        return self.s3_endpoint

    def start_mlflow_ui(self) -> str:
        self.mlflow_ui_port = self.mlflow_ui_port or free_port()
        Path(self.state_dir, "mlflow").mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.tracking_uri,
                "--host", "127.0.0.1", "--port", str(self.mlflow_ui_port), "--workers", "1"]  # fmt: skip
        # No background job consumers (MLflow 3.17 starts seven by default): Watchkeeper uses none, 2 cores are few.
        self._spawn("mlflow", argv, {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        wait_for_port(self.mlflow_ui_port, timeout=90)
        self.save()
        return f"http://127.0.0.1:{self.mlflow_ui_port}"

    def stop(self) -> list[str]:
        """Stop every server this stack started, by the PIDs it recorded."""
        stopped = []
        for pidfile in sorted(Path(self.state_dir, "run").glob("*.pid")):
            pid = int(pidfile.read_text())
            if _terminate(pid):
                stopped.append(f"{pidfile.stem} (pid {pid})")
            pidfile.unlink()
        return stopped

    def save(self) -> None:
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        Path(self.state_dir, "stack.json").write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, state_dir: str) -> Stack:
        path = Path(state_dir, "stack.json")
        return cls(**json.loads(path.read_text())) if path.exists() else cls(state_dir=state_dir)


def _terminate(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM the process group led by `pid` (our own child), then SIGKILL it if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True
