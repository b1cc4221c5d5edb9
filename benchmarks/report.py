"""What the day's views cost: the daily HTML report (render + store) and the MLflow logging of one demo day.

Writes the credit-default demo world to local disk (or reuses `--state`), runs its days without MLflow, then for
`--day` times `store_report` (reads the last 4 weeks of stored results, draws, writes), `log_day` into a fresh
SQLite MLflow store (first log, then a re-log), and the whole `run_day` of that day for scale; reports the page size
and, with `--screenshot`, saves a Chromium screenshot of the page:
    uv run --frozen python benchmarks/report.py [--days 30] [--rows 2000] [--day 2026-01-16]
        [--state DIR] [--screenshot docs/img/report.png] [--out benchmarks/results/report.md]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def world(state: Path, days: int, rows: int):
    """The demo world's config pointing at local storage under `state`, its days run once (results kept)."""
    from watchkeeper.config import load_config
    from watchkeeper.demo import WORLDS
    from watchkeeper.loading import InputError
    from watchkeeper.pipeline import run_day
    from watchkeeper.storage import Storage

    state.mkdir(parents=True, exist_ok=True)
    path = state / "credit_default.yaml"
    if not path.exists():
        data = yaml.safe_load((ROOT / "include/models/credit_default.yaml").read_text())
        data["storage"] = {"uri": str(state / "data")}
        path.write_text(yaml.safe_dump(data))
    cfg = load_config(path)
    storage = Storage.from_uri(cfg.storage.uri)
    if not storage.exists("incidents.json"):
        storage.ensure_root()
        WORLDS[cfg.name](storage.write_bytes, days=days, rows_per_day=rows)
    for i in range(days):
        day = cfg.start_date + timedelta(days=i)
        if not storage.exists(cfg.results_key(day, "result.json")):
            with contextlib.suppress(InputError):  # a day without data still stores its result
                run_day(cfg, day, storage)
    return cfg, storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 1, 16))
    parser.add_argument("--state", type=Path, default=None, help="Keep the world and its results here.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from watchkeeper.pipeline import Day, run_day
    from watchkeeper.reports.daily import store_report
    from watchkeeper.reports.history import stored_result
    from watchkeeper.tracking import log_day

    state = args.state or Path(tempfile.mkdtemp(prefix="watchkeeper-report-bench-"))
    cfg, storage = world(state, args.days, args.rows)
    d = Day(cfg, args.day, storage, storage)
    result = stored_result(cfg, storage, args.day)
    store_report(d, result)  # warm: matplotlib's first import and font cache are not the report's cost
    render_s, key = _timed(lambda: store_report(d, result), args.repeat)
    size = storage.size(key)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        start = time.perf_counter()
        log_day(result, uri, d)
        first_log_s = time.perf_counter() - start
        relog_s, _ = _timed(lambda: log_day(result, uri, d), args.repeat)
    day_s, _ = _timed(lambda: run_day(cfg, args.day, storage), 1)
    lines = [
        f"# Report and MLflow logging of one demo day ({args.day}, {result.rows:,} rows, {len(result.checks)} checks)",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| daily report: read 4 weeks of results, draw, store (median of {args.repeat}) | {render_s:.2f} |",
        f"| MLflow log_day, first time (creates experiment, runs, timeline) | {first_log_s:.2f} |",
        f"| MLflow log_day, re-log (median of {args.repeat}) | {relog_s:.2f} |",
        f"| whole run_day of the day without MLflow (report included) | {day_s:.2f} |",
        "",
        f"Report size: {size / 1024:.0f} KB ({len(result.distributions)} distribution figures).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.screenshot:
        from watchkeeper.reports.browser import screenshot

        page = state / "report.html"
        page.write_bytes(storage.read_bytes(key))
        print("screenshot:", screenshot(page, args.screenshot, width=1200, height=1900))


if __name__ == "__main__":
    main()
