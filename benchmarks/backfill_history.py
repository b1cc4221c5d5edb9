"""The history step of a backfill on S3 (moto, the native stack's store): the days' `apply_policy`, before and with
the signals ledger.

    uv run --frozen python benchmarks/backfill_history.py [--days 120] [--before 9650af4]

Takes the stored `result.json` of the first `--days` days of a `benchmarks/backfill.py` run (the demo model's real
results), starts a moto S3 server on loopback, and runs each day's `apply_policy` in day order into a fresh bucket,
once with `include/watchkeeper/history.py` as it was at `--before` (one read per stored day) and once with the
working tree's (one ledger). It reports the moto server's CPU seconds (from /proc), the benchmark process's, and both
over the last 10 days, and whether both left the same incident documents. The server is stopped by its PID.
Nothing is written under benchmarks/results; the README quotes the printed lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _history_at(commit: str, work: Path):
    """`watchkeeper.history` as it was at `commit`, imported under another name beside today's modules."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:include/watchkeeper/history.py"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    path = work / f"history_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"history_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict:
    import yaml
    from watchkeeper import history
    from watchkeeper.config import load_config
    from watchkeeper.result import DayResult
    from watchkeeper.storage import S3Credentials, Storage

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--before", default="9650af4")
    p.add_argument("--backfill", type=Path, default=ROOT / ".bench" / "backfill" / "365-4000")
    args = p.parse_args(argv)
    stored = sorted((args.backfill / "results").rglob("days/*/result.json"))[: args.days]
    results = [DayResult.model_validate(json.loads(k.read_text())) for k in stored]
    work = Path(tempfile.mkdtemp(prefix="wk-history-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    moto = ROOT / ".venv" / "bin" / "moto_server"
    server = subprocess.Popen(
        [str(moto), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    report = {"days": len(results), "before_commit": args.before}
    incidents = {}
    try:
        time.sleep(3)
        creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=f"http://127.0.0.1:{port}")
        for name, module in (("before", _history_at(args.before, work)), ("ledger", history)):
            storage = Storage.from_uri(f"s3://wk-{name}/data", creds)
            storage.ensure_root()
            cfg = yaml.safe_load((args.backfill / "credit_default.yaml").read_text())
            cfg["storage"] = {"uri": storage.uri}
            (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
            config = load_config(work / f"{name}.yaml")
            per_day = []
            for result in results:
                server0, own0 = _proc_cpu(server.pid), time.process_time()
                module.apply_policy(config, storage, result.model_copy(deep=True))
                per_day.append((_proc_cpu(server.pid) - server0, time.process_time() - own0))
            last = per_day[-10:]
            prefix = history.model_key(config, "incidents")
            incidents[name] = {k.rsplit("/", 1)[-1]: storage.read_json(k) for k in storage.list(prefix)}
            report[name] = {
                "moto_cpu": sum(d[0] for d in per_day),
                "client_cpu": sum(d[1] for d in per_day),
                "moto_cpu_a_day_last_10": sum(d[0] for d in last) / len(last),
                "client_cpu_a_day_last_10": sum(d[1] for d in last) / len(last),
            }
            print(name, json.dumps(report[name]), flush=True)
        report["incidents"] = len(incidents["ledger"])
        report["same_incidents"] = incidents["before"] == incidents["ledger"]
        print(
            f"{report['incidents']} incidents, the same before and with the ledger: {report['same_incidents']}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report


if __name__ == "__main__":
    main()
