"""A year of one model through Airflow: the backfill DAG on the native stack, beside the per-day DAG runs.

    uv run --frozen python benchmarks/airflow_backfill.py [--days 365] [--rows 4000] [--per-day 7]

Starts the native production stack (`./scripts/stack`'s PostgreSQL, Redis, S3, MLflow server, Airflow on Celery with
the preloading worker, 2 slots) on free ports, writes the credit-default demo world of `--days` days, and times:
`watchkeeper backfill --one-run` (one run of `watchkeeper_backfill_credit_default`, every day in one task) over the
whole stretch, and, for scale, `airflow backfill create` of the monitoring DAG over the first `--per-day` days of a
second copy of the world (one DAG run of 12 task processes a day; 0 skips it). Wall seconds from the trigger to the
run's end as Airflow records them (`run_after` to `end_date`), scheduling included; the load average is recorded because the machine may be shared. Writes
`benchmarks/results/airflow_backfill.{md,json}` and stops the stack by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def model_yaml(models: Path, name: str, uri: str, start: date) -> Path:
    cfg = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    cfg.update(name=name, start_date=start.isoformat())
    cfg["storage"]["uri"] = uri
    cfg["airflow"] = {"retries": 1, "retry_delay_minutes": 0.2, "max_active_runs": 2}
    cfg["quality"] = {"expectations_dir": "expectations"}
    cfg.pop("model", None)  # no retraining DAG: the year is about monitoring
    path = models / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def task_cpu(stack, run_id: str) -> float | None:
    """The backfill task's own CPU seconds, from the summary line its log ends with (None if not found)."""
    for log in Path(stack.root, "airflow", "logs").rglob("*.log"):
        if run_id in str(log) and "monitor_days" in str(log):
            found = re.findall(r"'cpu_s': ([0-9.]+)", log.read_text(errors="replace"))
            if found:
                return float(found[-1])
    return None


def run_seconds(record: dict) -> float | None:
    """The run's own duration from Airflow's record (from the trigger, `run_after`, to its end: scheduling
    included), if it has both times."""
    from datetime import datetime

    begun = record.get("run_after") or record.get("start_date")
    if not (begun and record.get("end_date")):
        return None
    return (datetime.fromisoformat(record["end_date"]) - datetime.fromisoformat(begun)).total_seconds()


def main(argv: list[str] | None = None) -> int:
    from watchkeeper import backfill
    from watchkeeper.config import load_config
    from watchkeeper.demo import generate_world
    from watchkeeper.prodstack import ProdStack
    from watchkeeper.stack import free_port
    from watchkeeper.stackspec import DATA_BUCKET, PORTS
    from watchkeeper.storage import S3Credentials, Storage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rows", type=int, default=4000, help="predictions per day")
    ap.add_argument("--per-day", type=int, default=7, help="days also run as per-day DAG runs (0: none)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/airflow_backfill"))
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)

    start = date(2025, 1, 1)
    end = start + timedelta(days=args.days - 1)
    models = Path(tempfile.mkdtemp(prefix="wk-year-models-"))
    year = load_config(model_yaml(models, "credit_default", f"s3://{DATA_BUCKET}/credit_default", start))
    per_day = load_config(model_yaml(models, "credit_per_day", f"s3://{DATA_BUCKET}/credit_per_day", start))
    stack = ProdStack(
        data_dir=tempfile.mkdtemp(prefix="wk-year-"),
        ports={n: free_port() for n in PORTS},
        models_dir=str(models),
    )
    load = [os.getloadavg()[0]]
    out: dict = {"days": args.days, "rows_per_day": args.rows, "python": platform.python_version()}
    try:
        t0 = time.monotonic()
        stack.up(timeout=900)
        out["stack_up_s"] = round(time.monotonic() - t0, 1)
        env = {**os.environ, **stack.environment()}
        creds = S3Credentials("watchkeeper", "watchkeeper-local-only", endpoint_url=stack.url("s3"))
        t0 = time.monotonic()
        for cfg, days in ((year, args.days), (per_day, args.per_day)):
            if days:
                storage = Storage.from_uri(cfg.storage.uri, creds)
                generate_world(storage.write_bytes, start=start, days=days, rows_per_day=args.rows)
        out["world_s"] = round(time.monotonic() - t0, 1)
        os.environ.update(stack.environment())  # the CLI calls below talk to this stack's Airflow

        t0 = time.monotonic()
        run_id, state = backfill.run_one_airflow_run(year, start, end, poll_seconds=5, env=env)
        seen = time.monotonic() - t0  # until the watcher saw it end: it asks less often as the run goes on
        took = run_seconds(backfill.dag_run(f"watchkeeper_backfill_{year.name}", run_id, env)) or seen
        out["one_run"] = {"run_id": run_id, "state": state, "wall_s": round(took, 1), "seen_done_s": round(seen, 1),
                          "per_day_s": round(took / args.days, 2), "task_cpu_s": task_cpu(stack, run_id)}  # fmt: skip
        print(
            f"one run: {args.days} days in {took:.0f} s ({took / args.days:.2f} s a day): {state}", flush=True
        )
        load.append(os.getloadavg()[0])
        if args.per_day:
            last = start + timedelta(days=args.per_day - 1)
            airflow = backfill._airflow()
            subprocess.run([airflow, "dags", "unpause", f"watchkeeper_{per_day.name}"], env=env,
                           capture_output=True)  # fmt: skip
            t0 = time.monotonic()
            backfill.create_backfill(per_day, start, last, env=env)
            while True:
                runs = backfill.airflow_runs(per_day, start, last)
                if len(runs) >= args.per_day and all(s in ("success", "failed") for s in runs.values()):
                    break
                time.sleep(5)
            took = time.monotonic() - t0
            out["per_day_runs"] = {"days": args.per_day, "wall_s": round(took, 1),
                                   "per_day_s": round(took / args.per_day, 2),
                                   "failed": sorted(d for d, s in runs.items() if s != "success")}  # fmt: skip
            print(f"per-day runs: {args.per_day} days in {took:.0f} s ({took / args.per_day:.1f} s a day)")
        load.append(os.getloadavg()[0])
    finally:
        stack.down(say=lambda _: None)
    out["load_average"] = [round(x, 1) for x in load]
    Path(f"{args.out}.json").write_text(json.dumps(out, indent=2) + "\n")
    Path(f"{args.out}.md").write_text(render(out, argv))
    return 0 if out["one_run"]["state"] == "success" else 1


def render(out: dict, argv: list[str] | None) -> str:
    one = out["one_run"]
    lines = [
        "# A year of one model through Airflow (`benchmarks/airflow_backfill.py`)",
        "",
        f"`python benchmarks/airflow_backfill.py {' '.join(argv or [])}`: the credit-default demo world, "
        f"{out['rows_per_day']:,} predictions a day, on the native stack (Celery, 2 worker slots, preloading "
        f"worker); load average {out['load_average']} (start, after the year, end). Stack up "
        f"{out['stack_up_s']} s, world written in {out['world_s']} s (not counted below).",
        "",
        "| path | days | wall | per day | the task's CPU |",
        "|---|---|---|---|---|",
        f"| `watchkeeper backfill --one-run` (one run of `watchkeeper_backfill_<model>`) | {out['days']} | "
        f"{one['wall_s'] / 60:.1f} min | {one['per_day_s']} s | {one.get('task_cpu_s')} s |",
    ]
    if "per_day_runs" in out:
        p = out["per_day_runs"]
        lines.append(f"| `airflow backfill create` (one monitoring DAG run a day) | {p['days']} | "
                     f"{p['wall_s'] / 60:.1f} min | {p['per_day_s']} s | 12 task processes a day |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
