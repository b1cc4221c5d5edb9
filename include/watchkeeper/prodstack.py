"""The production-shaped stack run natively on loopback: PostgreSQL, Redis, an S3 server, MLflow, Airflow on Celery.

Same topology as docker-compose.yml (ports and versions from `stackspec`): PostgreSQL holds Airflow's metadata and
MLflow's tracking store, Redis is the Celery broker, the moto S3 server holds data, results and MLflow artifacts,
and Airflow runs api-server, scheduler, dag-processor, triggerer and one Celery worker. Everything lives under one
directory; each server is a child process whose PID is recorded there and stopped by that PID (`ProdStack.down`).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from watchkeeper import stackspec
from watchkeeper.stack import DEMO_KEYS, _terminate

ROOT = Path(__file__).resolve().parents[2]
ORDER = (
    "postgres",
    "redis",
    "s3",
    "mlflow",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
)
"""Start order; `down` stops in reverse (workers first, the database last)."""


class StackError(RuntimeError):
    """The stack cannot start: a port is taken, a package is missing or a service did not come up in time."""


@dataclass
class ProdStack:
    """Where the native stack lives, its ports and its generated local secrets (kept in `stack.json`, mode 600)."""

    data_dir: str
    ports: dict[str, int] = field(default_factory=lambda: dict(stackspec.PORTS))
    models_dir: str = str(ROOT / "include" / "models")
    extra_env: dict[str, str] = field(default_factory=dict)
    """Extra variables for every Airflow process (e.g. AIRFLOW_CONN_SLACK_DATA for a Slack webhook)."""
    db_password: str = ""
    jwt_secret: str = ""
    worker_concurrency: int = stackspec.WORKER_CONCURRENCY

    # --- where things are --------------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def db_url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{stackspec.POSTGRES_USER}:{self.db_password}@127.0.0.1:{self.ports['postgres']}/{database}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self) -> dict[str, str]:
        """Variables pointing Airflow, MLflow, the CLI and the engine at this stack (what `status --env` prints)."""
        s3_conn = {"conn_type": "aws", "login": DEMO_KEYS["AWS_ACCESS_KEY_ID"],
                   "password": DEMO_KEYS["AWS_SECRET_ACCESS_KEY"],
                   "extra": {"endpoint_url": self.url("s3"), "region_name": "us-east-1"}}  # fmt: skip
        return {
            **DEMO_KEYS,
            "AWS_ENDPOINT_URL_S3": self.url("s3"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "MLFLOW_TRACKING_URI": self.url("mlflow"),
            "WATCHKEEPER_MLFLOW_UI_URL": self.url("mlflow"),
            "WATCHKEEPER_MODELS_DIR": str(Path(self.models_dir).resolve()),
            "WATCHKEEPER_OUTBOX": str(self.root / "outbox.jsonl"),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url('airflow')}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url("airflow"),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": self.db_url("airflow", "db+postgresql+psycopg2"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__API__BASE_URL": self.url("airflow"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["worker_logs"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["triggerer_logs"]),
            # A task's first call to the execution API may meet a busy api-server: retry it, not the task.
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "8",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX": "30",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW_CONN_WATCHKEEPER_S3": json.dumps(s3_conn),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "dags")]),
            **self.extra_env,
        }

    # --- state ---------------------------------------------------------------------------------------------------

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "stack.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, data_dir: str) -> ProdStack:
        path = Path(data_dir, "stack.json")
        return cls(**json.loads(path.read_text())) if path.exists() else cls(data_dir=data_dir)

    def _pidfile(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def pids(self) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in sorted((self.root / "run").glob("*.pid"))}

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # --- up ------------------------------------------------------------------------------------------------------

    def up(self, say: Callable[[str], None] = print, timeout: float = 180.0) -> dict[str, float]:
        """Start every service in order, each waited for; return seconds each took. Stops what it started on error."""
        self.db_password = self.db_password or secrets.token_hex(16)
        self.jwt_secret = self.jwt_secret or secrets.token_urlsafe(64)
        binaries = check_packages()
        running = {n for n, pid in self.pids().items() if _alive(pid)}
        if running:
            raise StackError(f"the stack in {self.root} is already running ({', '.join(sorted(running))}); "
                             "stop it with: ./scripts/stack down")  # fmt: skip
        taken = [f"{name} port {port}" for name, port in self.ports.items() if port_taken(port)]
        if taken:
            raise StackError(f"port(s) already in use on 127.0.0.1: {', '.join(taken)}; stop what listens there "
                             "or choose other ports (e.g. ./scripts/stack up --port-base 15000)")  # fmt: skip
        for sub in ("run", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.save()
        timings: dict[str, float] = {}
        starters = {
            "postgres": lambda: self._start_postgres(binaries["postgres"], timeout),
            "redis": lambda: self._start_redis(binaries["redis-server"], timeout),
            "s3": lambda: self._start_s3(timeout),
            "mlflow and airflow": lambda: self._start_mlflow_and_airflow(timeout, say),
        }
        try:
            for name, start in starters.items():
                t0 = time.monotonic()
                say(f"starting {name} ...")
                start()
                timings[name] = round(time.monotonic() - t0, 1)
                say(f"  {name} up in {timings[name]:.1f} s")
        except BaseException:
            self.down(say=lambda _: None)
            raise
        return timings

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, user: str | None = None
    ) -> int:
        with open(self.log(name), "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.root, **_as_user(user),
                                    env={**os.environ, **(env or {})}, start_new_session=True)  # fmt: skip
        self._pidfile(name).write_text(str(proc.pid))
        return proc.pid

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        pid = self.pids()[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise StackError(
                    f"{name} exited while starting; last lines of {self.log(name)}:\n{_tail(self.log(name))}"
                )
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise StackError(
            f"{name} did not come up within {timeout:.0f} s; see {self.log(name)}:\n{_tail(self.log(name))}"
        )

    def _start_postgres(self, bindir: str, timeout: float) -> None:
        data = self.root / "postgres"
        # PostgreSQL refuses to run as root: as root, the data directory belongs to the package's `postgres` user.
        user = "postgres" if os.geteuid() == 0 else None
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            pwfile = self.root / "run" / "pgpass.tmp"
            pwfile.write_text(self.db_password + "\n")
            if user:
                _chown_tree(data, user)
                _chown_tree(pwfile, user)
                _grant_traverse(data, self.root)
            argv = [f"{bindir}/initdb", "-D", str(data), "-U", stackspec.POSTGRES_USER, "-E", "UTF8",
                    "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync"]  # fmt: skip
            done = subprocess.run(argv, capture_output=True, text=True, cwd=self.root, **_as_user(user))
            pwfile.unlink()
            if done.returncode:
                raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")
        argv = [f"{bindir}/postgres", "-D", str(data), "-p", str(self.ports["postgres"]), "-k", str(data),
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]  # fmt: skip
        self._spawn("postgres", argv, user=user)
        self._wait("postgres", lambda: self._connect("postgres") is not None, timeout)
        conn = self._connect("postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in stackspec.DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{db}" OWNER "{stackspec.POSTGRES_USER}"')
        conn.close()

    def _connect(self, database: str):
        import psycopg2

        try:
            return psycopg2.connect(host="127.0.0.1", port=self.ports["postgres"], dbname=database,
                                    user=stackspec.POSTGRES_USER, password=self.db_password, connect_timeout=3)  # fmt: skip
        except psycopg2.OperationalError:
            return None

    def _start_redis(self, binary: str, timeout: float) -> None:
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        self._spawn("redis", [binary, "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--dir", str(data),
                              "--daemonize", "no", "--save", "", "--appendonly", "yes"])  # fmt: skip
        self._wait("redis", lambda: _redis_ping(self.ports["redis"]), timeout)

    def _start_s3(self, timeout: float) -> None:
        self._spawn(
            "s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports["s3"])]
        )
        self._wait("s3", lambda: _http_ok(f"{self.url('s3')}/moto-api/"), timeout)
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.url("s3"), region_name="us-east-1",
                          aws_access_key_id=DEMO_KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=DEMO_KEYS["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
        for bucket in (stackspec.ARTIFACT_BUCKET, stackspec.DATA_BUCKET):
            s3.create_bucket(Bucket=bucket)

    def _spawn_mlflow(self) -> None:
        argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.ports["mlflow"]),
                "--workers", "1", "--backend-store-uri", self.db_url("mlflow"),
                "--artifacts-destination", f"s3://{stackspec.ARTIFACT_BUCKET}/"]  # fmt: skip
        env = {**DEMO_KEYS, "MLFLOW_S3_ENDPOINT_URL": self.url("s3"), "AWS_DEFAULT_REGION": "us-east-1",
               # MLflow 3 starts seven background job consumers by default; Watchkeeper uses no server-side jobs.
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
        self._spawn("mlflow", argv, env)

    def _start_mlflow_and_airflow(self, timeout: float, say: Callable[[str], None]) -> None:
        """MLflow boots while Airflow migrates its database: both only need PostgreSQL (and S3)."""
        self._spawn_mlflow()
        env = self.environment()
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        with open(self.log("airflow-db-migrate"), "ab") as out:
            done = subprocess.run([airflow, "db", "migrate"], env={**os.environ, **env}, stdout=out,
                                  stderr=subprocess.STDOUT, cwd=self.root, timeout=timeout * 2)  # fmt: skip
        if done.returncode:
            raise StackError(f"airflow db migrate failed; see {self.log('airflow-db-migrate')}")
        port = str(self.ports["airflow"])
        self._spawn(
            "api-server",
            [airflow, "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"],
            env,
        )
        # Workers and the scheduler start only once the execution API answers, so no task's first attempt fails on it.
        self._wait("api-server", lambda: _http_ok(f"{self.url('airflow')}/api/v2/monitor/health"), timeout)
        say("  api-server answers; starting scheduler, dag-processor, triggerer, worker ...")
        self._spawn("scheduler", [airflow, "scheduler"], env)
        self._spawn("dag-processor", [airflow, "dag-processor"], env)
        self._spawn("triggerer", [airflow, "triggerer"], env)
        # The worker imports the engine once; its task processes, forked from it, inherit it (plugins' worker.py).
        self._spawn("worker", [sys.executable, "-m", stackspec.WORKER_MODULE, "celery", "worker", "--concurrency",
                               str(self.worker_concurrency), "--without-gossip", "--without-mingle"], env)  # fmt: skip
        self._wait("scheduler", lambda: self.health().get("scheduler") == "healthy", timeout)
        self._wait("worker", lambda: _port_open(self.ports["worker_logs"]), timeout)

    # --- status and down -----------------------------------------------------------------------------------------

    def health(self) -> dict[str, str]:
        """Airflow's own health report: metadatabase, scheduler, triggerer, dag_processor → status."""
        with urllib.request.urlopen(f"{self.url('airflow')}/api/v2/monitor/health", timeout=5) as r:
            body = json.loads(r.read())
        return {k: (v or {}).get("status") or "unknown" for k, v in body.items()}

    def status(self) -> dict[str, str]:
        """Each recorded service → 'running (pid N, port P)' or 'stopped'."""
        out = {}
        for name in ORDER:
            pid = self.pids().get(name)
            port = self.ports.get({"api-server": "airflow"}.get(name, name))
            state = (
                f"running (pid {pid}" + (f", 127.0.0.1:{port})" if port else ")")
                if pid and _alive(pid)
                else "stopped"
            )
            out[name] = state
        return out

    def down(self, say: Callable[[str], None] = print) -> list[str]:
        """Stop every recorded process group, workers first and the database last; remove the PID files."""
        stopped = []
        pids = self.pids()
        for name in [n for n in reversed(ORDER) if n in pids] + [n for n in pids if n not in ORDER]:
            if _terminate(pids[name], timeout=30):
                stopped.append(f"{name} (pid {pids[name]})")
                say(f"stopped {name} (pid {pids[name]})")
            self._pidfile(name).unlink(missing_ok=True)
        return stopped


# --- checks ------------------------------------------------------------------------------------------------------


def check_packages() -> dict[str, str]:
    """The server binaries (postgres' bin directory, redis-server); a missing one names its apt package."""
    found: dict[str, str] = {}
    pg = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    postgres = pg[-1] if pg else shutil.which("postgres")
    if postgres and Path(postgres).with_name("initdb").exists():
        found["postgres"] = str(Path(postgres).resolve().parent)
    if shutil.which("redis-server"):
        found["redis-server"] = shutil.which("redis-server")
    missing = [pkg for binary, pkg in stackspec.APT_PACKAGES.items() if binary not in found]
    if missing:
        raise StackError(f"missing server package(s): {' '.join(missing)}; install with "
                         f"`apt-get install -y {' '.join(missing)}` or `./scripts/stack deps`")  # fmt: skip
    return found


def port_taken(port: int) -> bool:
    """Whether a server could not listen on the port now. Like the servers themselves, with SO_REUSEADDR: a
    port whose last connections linger in TIME_WAIT after a stop is free, one something listens on is not."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.status == 200


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:  # a zombie child of ours counts as stopped
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _as_user(user: str | None) -> dict:
    """Popen arguments running a child as `user` with its own group only (not root's group, which keeps access)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.chown(p, pw.pw_uid, pw.pw_gid)


def _grant_traverse(path: Path, stack_root: Path) -> None:
    """Let the `postgres` user reach its data directory through root-owned parents (the stack's or project's)."""
    for parent in path.parents:
        if parent.stat().st_mode & 0o001:
            continue
        if (
            parent not in (ROOT, stack_root)
            and ROOT not in parent.parents
            and stack_root not in parent.parents
        ):
            raise StackError(
                f"the postgres user cannot enter {parent}; choose a --data-dir under {ROOT} or /var/tmp"
            )
        parent.chmod(parent.stat().st_mode | 0o001)


# --- command line (./scripts/stack) -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument(
        "--data-dir", default=str(ROOT / ".watchkeeper" / "prod"), help="everything lives here"
    )
    parser.add_argument("--port-base", type=int, default=0,
                        help="use PORT_BASE+0..6 instead of the compose ports (5432, 6379, 9000, 5000, 8080, ...)")  # fmt: skip
    parser.add_argument("--models-dir", default=None, help="model YAMLs the DAGs are built from")
    parser.add_argument("--env-file", default=None,
                        help="KEY=VALUE lines added to Airflow's environment (e.g. AIRFLOW_CONN_SLACK_DATA=...)")  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds each service may take to come up"
    )
    args = parser.parse_args(argv)
    stack = ProdStack.load(args.data_dir)
    try:
        if args.command == "up":
            if args.port_base:
                stack.ports = {name: args.port_base + i for i, name in enumerate(stackspec.PORTS)}
            if args.models_dir:
                stack.models_dir = str(Path(args.models_dir).resolve())
            if args.env_file:
                stack.extra_env = read_env_file(args.env_file)
            t0 = time.monotonic()
            stack.up(timeout=args.timeout)
            print(f"stack up in {time.monotonic() - t0:.0f} s: Airflow {stack.url('airflow')} (login: "
                  f"{stack.airflow_home}/simple_auth_manager_passwords.json.generated), MLflow {stack.url('mlflow')}, "
                  f"S3 {stack.url('s3')}; data in {stack.root}")  # fmt: skip
            print(f'environment for the CLI: eval "$(./scripts/stack env --data-dir {stack.root})"')
        elif args.command == "down":
            stopped = stack.down()
            print("stopped: " + (", ".join(stopped) or "nothing was running"))
        elif args.command == "status":
            for name, state in stack.status().items():
                print(f"{name:14} {state}")
            return 0 if all(s != "stopped" for s in stack.status().values()) else 3
        else:
            for key, value in stack.environment().items():
                print(f"export {key}='{value}'")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def read_env_file(path: str) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


if __name__ == "__main__":
    sys.exit(main())
