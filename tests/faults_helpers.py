"""Helpers of the fault tests: the CLI as a subprocess against the local S3 server, and an MLflow server we own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from watchkeeper.stack import _terminate, free_port, wait_for_port

WATCHKEEPER = str(Path(sys.executable).parent / "watchkeeper")


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",  # a loaded machine answers slowly; refusals are at once
        **extra,
    }


def wk(env: dict[str, str], *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([WATCHKEEPER, *args], capture_output=True, text=True, env=env, timeout=timeout)


def wk_start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [WATCHKEEPER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


class MlflowServer:
    """`mlflow server --workers 1` on a SQLite store, started and stopped (by PID) on the same port."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.pid: int | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mlflow", "server", "--workers", "1", "--host", "127.0.0.1",
                "--port", str(self.port), "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", str(self.root / "artifacts")]  # fmt: skip
        with open(self.root / "server.log", "ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
            )
        self.pid = proc.pid
        wait_for_port(self.port, timeout=400)  # a loaded machine may need minutes

    def stop(self) -> None:
        if self.pid is not None:
            _terminate(self.pid)
            self.pid = None
