"""Requests a monitored day makes to the S3 and MLflow servers, and what serving them costs those servers.

    uv run --frozen python benchmarks/store_requests.py [--days 20] [--rows 4000] [--before REV]

Starts a moto S3 server and an MLflow server (`--workers 1`, SQLite store, artifacts proxied to the S3 server) on
loopback, writes the credit-default demo world there, and runs `backfill.run_local` over the days in this process
against them, as the backfill DAG's task does on the native stack. From the servers' request logs it counts the
requests by kind (method, status, object family with dates and digests folded) and reads both servers' CPU seconds
from /proc; its own CPU too. The first days have fewer label days behind them than later ones, so the figures are
per day over the whole stretch and over its last 10 days (wall). With `--before REV`, the same is measured first with
the engine (`include/`) as it was at REV, from a temporary git worktree, each engine in its own process with its
own servers, so the two are side by side in one run. Writes `benchmarks/results/store_requests.{md,json}` and stops
the servers by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from day import commit, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START = date(2025, 1, 1)
_REQUEST = re.compile(r'"(\w+) (\S+) HTTP/1\.1" (\d+)')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _ticks(pid: int | str) -> int:
    """utime, stime and the ended children's, in clock ticks (0 once the process is gone)."""
    try:
        return sum(int(f) for f in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15])
    except FileNotFoundError:
        return 0


def _cpu(pid: int) -> float:
    """A process's CPU seconds with its live children's (the MLflow server's uvicorn worker is a child)."""
    total = _ticks(pid)
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        total += sum(_ticks(c) for c in child.read_text().split())
    return total / os.sysconf("SC_CLK_TCK")


def kinds(log: Path, since: int) -> Counter:
    """Requests logged after byte `since`, by (method, status, path with dates, digests and query values folded)."""
    out: Counter = Counter()
    for line in log.read_bytes()[since:].decode(errors="replace").splitlines():
        m = _REQUEST.search(_ANSI.sub("", line))
        if not m:
            continue
        method, path, status = m.groups()
        path, _, query = path.partition("?")
        path = re.sub(r"[0-9a-f]{16,}", "<id>", re.sub(r"\d{4}-\d{2}-\d{2}", "<day>", path))
        path = re.sub(
            r"/mlflow-artifacts/artifacts/\d+/<id>/artifacts/.*", "/mlflow-artifacts/artifacts/…", path
        )
        if query:
            path += "?" + "&".join(sorted(p.split("=")[0] for p in query.split("&")))
        out[(method, status, path)] += 1
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=20)
    p.add_argument("--rows", type=int, default=4000, help="predictions a day")
    p.add_argument("--before", help="also measure the engine as it was at this git revision, first")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "store_requests")
    p.add_argument("--include", type=Path, help=argparse.SUPPRESS)  # one measurement, with this engine
    args = p.parse_args(argv)
    if args.include:
        print(json.dumps(measure(args.include, args.days, args.rows)))
        return []
    engines = [("working tree", ROOT / "include")]
    worktree = None
    if args.before:
        worktree = Path(tempfile.mkdtemp(prefix="wk-before-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before],
                       check=True, capture_output=True)  # fmt: skip
        engines.insert(0, (args.before, worktree / "include"))
    runs = []
    try:
        for label, include in engines:
            done = subprocess.run([sys.executable, __file__, "--include", str(include), "--days", str(args.days),
                                   "--rows", str(args.rows)], capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{label}: measurement failed\n{done.stderr[-3000:]}")
            runs.append({"engine": label, **json.loads(done.stdout.strip().splitlines()[-1])})
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)  # fmt: skip
    runs[-1]["commit"] = commit()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(runs, indent=1) + "\n")
    Path(f"{args.out}.md").write_text(render(runs, argv))
    print(render(runs, argv))
    return runs


def measure(include: Path, days: int, rows: int) -> dict:
    """One engine's stretch against fresh servers (this process imports `watchkeeper` from `include`)."""
    sys.path.insert(0, str(include))
    from watchkeeper import backfill
    from watchkeeper.config import load_config
    from watchkeeper.demo import generate_world
    from watchkeeper.stack import DEMO_KEYS, free_port, wait_for_port
    from watchkeeper.storage import S3Credentials, Storage

    work = Path(tempfile.mkdtemp(prefix="wk-requests-"))
    s3_port, mlflow_port = free_port(), free_port()
    s3_url = f"http://127.0.0.1:{s3_port}"
    env = {**os.environ, **DEMO_KEYS, "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": s3_url,
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
    servers: dict[str, subprocess.Popen] = {}
    logs = {name: work / f"{name}.log" for name in ("s3", "mlflow")}
    argv_of = {
        "s3": [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        "mlflow": [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
                   "--workers", "1", "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
                   "--artifacts-destination", "s3://mlflow-artifacts/"],
    }  # fmt: skip
    out: dict = {"machine": machine(), "days": days, "rows_per_day": rows}
    try:
        for name in ("s3", "mlflow"):
            with open(logs[name], "wb") as log:
                servers[name] = subprocess.Popen(argv_of[name], stdout=log, stderr=subprocess.STDOUT, env=env,
                                                 start_new_session=True)  # fmt: skip
            if name == "s3":
                wait_for_port(s3_port)
                creds = S3Credentials(DEMO_KEYS["AWS_ACCESS_KEY_ID"], DEMO_KEYS["AWS_SECRET_ACCESS_KEY"],
                                      endpoint_url=s3_url)  # fmt: skip
                for bucket in ("mlflow-artifacts", "watchkeeper-demo"):
                    Storage.from_uri(f"s3://{bucket}", creds).ensure_root()
        wait_for_port(mlflow_port, timeout=120)
        storage = Storage.from_uri("s3://watchkeeper-demo/credit_default", creds)
        generate_world(storage.write_bytes, start=START, days=days, rows_per_day=rows)
        cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
        cfg.update(start_date=START.isoformat())
        cfg["storage"] = {"uri": "s3://watchkeeper-demo/credit_default"}
        cfg.pop("model", None)  # monitoring only, as the year benchmarks
        models = (
            ROOT / ".bench" / "store_requests"
        )  # beside the repository: the suites are found upward from here
        models.mkdir(parents=True, exist_ok=True)
        (models / "credit_default.yaml").write_text(yaml.safe_dump(cfg))
        model = load_config(models / "credit_default.yaml")
        os.environ.update(DEMO_KEYS)

        out["server_pids"] = {n: s.pid for n, s in servers.items()}
        since = {n: logs[n].stat().st_size for n in logs}
        cpu0 = {n: _cpu(s.pid) for n, s in servers.items()}
        own0, wall0 = time.process_time(), time.monotonic()
        ends: list[float] = []
        backfill.run_local(model, START, START + timedelta(days=days - 1), storage, storage,
                           f"http://127.0.0.1:{mlflow_port}", lambda _: ends.append(time.monotonic()))  # fmt: skip
        time.sleep(0.5)  # the servers log a request after answering it
        wall = time.monotonic() - wall0
        out["client_cpu_s"] = round(time.process_time() - own0, 1)
        out["server_cpu_s"] = {n: round(_cpu(s.pid) - cpu0[n], 1) for n, s in servers.items()}
        out["wall_s"] = round(wall, 1)
        if len(ends) > 10:
            out["last_10_days_wall_per_day_s"] = round((ends[-1] - ends[-11]) / 10, 2)
        out["requests"] = {}
        for name, log in logs.items():
            counted = kinds(log, since[name])
            out["requests"][name] = {
                "total": sum(counted.values()),
                "per_day": round(sum(counted.values()) / days, 1),
                "by_method": dict(_by_method(counted).most_common()),
                "top": [[n, *k] for k, n in counted.most_common(25)],
            }
    finally:
        for server in servers.values():
            try:
                os.killpg(server.pid, 15)
                server.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(server.pid, 9)
    out["load_average_at_end"] = os.getloadavg()
    return out


def _by_method(counted: Counter) -> Counter:
    by: Counter = Counter()
    for (method, _, _), n in counted.items():
        by[method] += n
    return by


def render(runs: list[dict], argv: list[str]) -> str:
    first, last = runs[0], runs[-1]
    lines = [
        "# Requests a monitored day makes to the stores (`benchmarks/store_requests.py`)",
        "",
        f"`python benchmarks/store_requests.py {' '.join(argv)}`: {last['days']} days of the credit-default demo "
        f"world ({last['rows_per_day']:,} predictions a day) through `backfill.run_local` against a moto S3 server "
        f"and an MLflow server (SQLite store, artifacts proxied to S3) on loopback, each engine in its own process "
        f"with its own servers, one after the other; measured {last['machine']['date']} on "
        f"{last['machine']['cpus']} cores, the working tree at {last['commit']}; load average "
        f"{first['machine']['load_average_at_start'][0]:.1f} at the start, {last['load_average_at_end'][0]:.1f} at "
        "the end.",
        "",
        "| engine | server | requests | a day | by method | server CPU s | the task's CPU s | wall s (last 10 days, a day) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for name, r in run["requests"].items():
            methods = ", ".join(f"{m} {n}" for m, n in r["by_method"].items())
            lines.append(
                f"| {run['engine']} | {name} | {r['total']:,} | {r['per_day']} | {methods} | "
                f"{run['server_cpu_s'][name]} | {run['client_cpu_s']} | {run['wall_s']} "
                f"({run.get('last_10_days_wall_per_day_s', '–')}) |"
            )
    lines += ["", "Most frequent requests of the working tree (`<day>` and `<id>` fold dates and digests):", "",
              "| server | count | method | status | path |", "|---|---|---|---|---|"]  # fmt: skip
    for name, r in last["requests"].items():
        lines += [f"| {name} | {n} | {m} | {s} | `{p}` |" for n, m, s, p in r["top"][:15]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
