"""Retraining benchmark: training set → challenger (fit, log, register) → evaluation, at the demo's size and at a
1M-row training window.

    uv run --frozen python benchmarks/retraining.py --rows-per-day 4000 42000

Per size, writes a credit-default demo world (28 days) to a local directory, registers its champion in a SQLite
MLflow store, and runs one retraining request on the last day with the whole 28-day window (no change point; two
holdout days): each step is timed, with the process's peak RSS. Results go to `benchmarks/results/retraining.{md,json}`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DAYS = 28


def run(rows_per_day: int, work: Path) -> dict:
    from watchkeeper.config import load_config
    from watchkeeper.demo import generate_world
    from watchkeeper.demo.champions import champion
    from watchkeeper.retraining import registry, run
    from watchkeeper.storage import Storage

    raw = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
    raw["storage"] = {"uri": str(work / "data")}
    raw["model"]["retraining"] = {"window_days": DAYS, "holdout_days": 2, "cooldown_days": 0}
    (work / "m.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(work / "m.yaml")
    storage = Storage.from_uri(cfg.storage.uri)
    uri = f"sqlite:///{work}/mlflow.db"
    t = time.perf_counter()
    generate_world(storage.write_bytes, days=DAYS, rows_per_day=rows_per_day)
    world_s = time.perf_counter() - t
    registry.register_champion(cfg, uri, storage, *champion("credit_default")[:2], {}, "benchmark")
    day = date(2026, 1, 1) + timedelta(days=DAYS - 1)
    steps, cpu = {}, {}
    load = os.getloadavg()[0]

    def timed(name, fn, *args):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        steps[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        return out

    out = timed("training_set", run.prepare, cfg, storage, storage, uri, day, "bench")
    if out["status"] != "ready":
        raise SystemExit(f"not ready: {out}")
    timed("train_log_register", run.train, cfg, storage, uri, day)
    verdict = timed("evaluate", run.evaluate, cfg, storage, uri, day)
    run.release(cfg, storage, day)
    facts = out["facts"]
    return {"rows_per_day": rows_per_day, "train_rows": facts["train_rows"], "holdout_rows": facts["holdout_rows"],
            "world_seconds": round(world_s, 1), "seconds": {k: round(v, 2) for k, v in steps.items()},
            "total_seconds": round(sum(steps.values()), 1), "verdict": verdict.verdict,
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()}, "load_average": round(load, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows-per-day", type=int, nargs="+", default=[4000, 42000])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    results = []
    for rows in args.rows_per_day:
        work = Path(tempfile.mkdtemp(prefix="wk-retrain-bench-"))
        try:
            results.append(run(rows, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(results[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Sizes not measured in this run keep their earlier entry (and the note that describes them).
    earlier = json.loads((out / "retraining.json").read_text()) if (out / "retraining.json").exists() else {}
    measured = {r["rows_per_day"] for r in results}
    kept = [r for r in earlier.get("results", []) if r["rows_per_day"] not in measured]
    results = sorted(kept + results, key=lambda r: r["rows_per_day"])
    doc = {
        "machine": f"{platform.machine()}, Python {sys.version.split()[0]}",
        "window_days": DAYS,
        "results": results,
        **({"note": earlier["note"]} if "note" in earlier else {}),
    }
    (out / "retraining.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# Retraining benchmark", "", f"{DAYS}-day window of the credit-default demo world, one request on its "
             "last day; wall seconds per step, CPU seconds of this process in brackets where measured, and the "
             "1-minute load average when the run started (`benchmarks/retraining.py`).", "",
             "| rows/day | training rows | holdout rows | training set | fit + log + register | evaluate | total | load |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        s, c = r["seconds"], r.get("cpu_seconds", {})
        cells = [
            f"{s[k]}" + (f" ({c[k]})" if k in c else "")
            for k in ("training_set", "train_log_register", "evaluate")
        ]
        lines.append(f"| {r['rows_per_day']:,} | {r['train_rows']:,} | {r['holdout_rows']:,} | {' | '.join(cells)} | "
                     f"{r['total_seconds']} | {r.get('load_average', '~30')} |")  # fmt: skip
    if "note" in doc:
        lines += ["", doc["note"]]
    (out / "retraining.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
