"""Year backfill benchmark: `watchkeeper backfill --local` of 365 days of the demo model, end to end.

    uv run --frozen python benchmarks/backfill.py [--days 365] [--rows-per-day 4000] [--reference-days 20]
        [--out benchmarks/results/backfill]

It writes the demo's credit-default world (`watchkeeper.demo.generate_world`: the demo's size, 4,000 rows a day, a
20-day reference (`--reference-days`: at 1M rows a day, one day keeps the reference at 1M rows), labels arriving
1-5 days late into the model YAML's 30-day label window, incidents spread over the stretch) to local disk, then
times one fresh process of `python -m watchkeeper backfill --local` over all its days, with MLflow logging to a local
SQLite store, from a cold results store (the reference profile is built on the first day, inside the timing). The
timing is the whole process: interpreter start, imports, reading and writing local disk, every day's quality,
drift, labels, performance, report and MLflow run. Threads: as `run-day` (drift uses its default pool). Results go
to `--out` (default `benchmarks/results/backfill`) `.md` and `.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from day import commit, machine, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START = date(2026, 1, 1)


def write_world(work: Path, days: int, rows_per_day: int, reference_days: int = 20) -> Path:
    """The demo world of `days` days and the demo model's YAML pointed at it (local storage, no connection)."""
    from watchkeeper.demo import generate_world
    from watchkeeper.storage import Storage

    data = work / "data"
    manifest = data / "incidents.json"
    if not (manifest.exists() and json.loads(manifest.read_text()).get("days") == days):
        shutil.rmtree(data, ignore_errors=True)
        storage = Storage.from_uri(str(data))
        storage.ensure_root()
        generate_world(
            storage.write_bytes,
            start=START,
            days=days,
            rows_per_day=rows_per_day,
            reference_days=reference_days,
        )
    cfg = yaml.safe_load((ROOT / "include" / "models" / "credit_default.yaml").read_text())
    cfg["storage"] = {"uri": str(data), "results_uri": str(work / "results")}
    config = work / "credit_default.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return config


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--rows-per-day", type=int, default=4000)
    p.add_argument("--reference-days", type=int, default=20, help="days of the demo's rows in the reference")
    p.add_argument("--work", type=Path, default=ROOT / ".bench" / "backfill")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "backfill")
    args = p.parse_args(argv)
    work = args.work / f"{args.days}-{args.rows_per_day}"
    if args.reference_days != 20:
        work = work.with_name(f"{work.name}-ref{args.reference_days}")
    started = time.perf_counter()
    config = write_world(work, args.days, args.rows_per_day, args.reference_days)
    generated = time.perf_counter() - started
    shutil.rmtree(
        work / "results", ignore_errors=True
    )  # cold: profile, label state and MLflow runs built anew
    (work / "mlflow.db").unlink(missing_ok=True)
    end = START + timedelta(days=args.days - 1)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    cmd = [sys.executable, "-m", "watchkeeper", "backfill", "--config", str(config)]
    cmd += ["--start", START.isoformat(), "--end", end.isoformat(), "--local"]
    load_before = os.getloadavg()[0]
    usage, stdout = run(cmd, env, timeout=4 * 3600)
    summary = stdout.strip().splitlines()[-1]
    results = sorted((work / "results").rglob("result.json"))
    report = {
        "machine": machine(),
        "commit": commit(),
        "days": args.days,
        "rows_per_day": args.rows_per_day,
        "reference_rows": args.reference_days * args.rows_per_day,
        "argv": sys.argv[1:] if argv is None else argv,
        "label_window_days": yaml.safe_load(config.read_text())["performance"]["label_window_days"],
        "world_generation_wall": generated,
        "backfill": usage,
        "per_day_cpu": usage["cpu"] / args.days,
        "summary": summary,
        "result_files": len(results),
        "load_average": [load_before, os.getloadavg()[0]],
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    args.out.with_suffix(".md").write_text(markdown(report))
    return report


def markdown(r: dict) -> str:
    m, b = r["machine"], r["backfill"]
    return "\n".join(
        [
            f"# Backfill benchmark (`benchmarks/backfill.py {' '.join(r.get('argv') or ['--days', str(r['days'])])}`)",
            "",
            f"Python {m['python']}, {m['cpus']} cores shared with other jobs, {m['date']} (load average "
            f"{r['load_average'][0]:.0f} before, {r['load_average'][1]:.0f} after; wall time grows with the load, "
            "CPU seconds are the comparable figure). One fresh `watchkeeper backfill --local` process, imports and a "
            f"cold reference profile ({r.get('reference_rows', 20 * r['rows_per_day']):,} reference rows) included, "
            "MLflow logging to local SQLite.",
            "",
            "| days | rows a day | label window | CPU s | CPU s a day | wall s | peak RSS MB | days stored |",
            "|---|---|---|---|---|---|---|---|",
            f"| {r['days']} | {r['rows_per_day']:,} | {r['label_window_days']} | {b['cpu']:.0f} | "
            f"{r['per_day_cpu']:.2f} | {b['wall']:.0f} | {b['peak_rss_mb']:.0f} | {r['result_files']} |",
            "",
            f"The command's last line: `{r['summary']}`. Measured at commit {r.get('commit') or 'unknown'}.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
