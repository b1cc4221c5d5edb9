"""Whole-day benchmark: `watchkeeper run-day` end to end as a user runs it, beside the peer stack doing the same day.

    uv run --frozen python benchmarks/day.py --rows 100000 1000000 5000000 --ids str int --windows 0 30 90 \
        --peers-up-to 1000000


For each (rows, id type, label window) it writes (`benchmarks/day_data.py`) a 100k-row labelled reference, the day
(30 columns: 20 numeric, 10 categorical, plus id, score and predicted class), the day before it and, with a window,
the window's earlier days and a label file per day holding 1/N of each of the N earlier days' labels, N being the
window or `--label-spread` (so a 90-day window can be measured with labels that come within 30 days: the window's
length alone). Watchkeeper first runs the day before, once, on a cold store (the reference profile built and cached,
the window's labels steps caught up; its `profile` stage is the cold profile build's CPU, reading the reference
included), and the store it leaves (results, MLflow database and artifacts) is kept. Each timed run starts from
that store, so it is the measured day's first run, as on a user's day (not a re-run, which pays for replacing what
its last run wrote): a fresh `python -m watchkeeper run-day` process with MLflow logging to a local SQLite store
and `--timings` (CPU and wall per stage, imports in `startup`). Each timing is the whole process (started after an
`os.sync()`, ours and the peers' alike): interpreter start, imports, reading from local disk, the work, writing
results. Threads: Watchkeeper's drift uses its default pool
(`drift.threads`), pyarrow its own; the peers run as they come. The peer stack, each in a fresh process of its own
virtualenv (`benchmarks/setup_peers.sh`): GX on pandas with Watchkeeper's suite, Evidently's DataDriftPreset, NannyML's
univariate drift + CBPE + realized performance of the prediction days that got labels today (today's label file
merged with each window day's predictions). Results go to `benchmarks/results/day.{md,json}`; `--merge` keeps the
runs already there that this invocation does not repeat (each run records the load average it saw), so a grid too
long for one sitting can be measured in pieces into one file. `--repeat N` times each day N times, the days' runs
alternating (all days are prepared first), the peers doing each day right after Watchkeeper in every round, and
reports for Watchkeeper and for each peer tool the run of median CPU with every run's CPU beside it: a ratio, between
Watchkeeper and the peers or between two rows (30 against 90 days), then compares runs made minutes apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from day_data import write_config, write_world  # noqa: E402
from drift import CATEGORICAL, NUMERIC  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PEERS = {
    "gx": Path(sys.executable),
    "evidently": ROOT / ".bench" / "venvs" / "evidently" / "bin" / "python",
    "nannyml": ROOT / ".bench" / "venvs" / "nannyml" / "bin" / "python",
}


def import_seconds(stderr: str) -> float:
    """Seconds a Python process spent importing, from its `-X importtime` lines: the cumulative time of each
    top-level import (lazy ones included). It is wall time, close to CPU time for imports on a free core."""
    total = 0
    for line in stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        if not parts[2].startswith("  "):  # nested imports are indented under their importer
            total += int(parts[1])
    return total / 1e6


def run(
    cmd: list[str], env: dict | None = None, timeout: float = 7200, importtime: bool = False
) -> tuple[dict, str]:
    """Run a process; (its CPU seconds, wall seconds and peak RSS from the kernel, its stdout). With `importtime`
    (`cmd[0]` a Python), also the seconds its imports took (`imports_s`)."""
    if importtime:
        cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    # Dirty pages left by what ran before (the world's files, the cold run's results) are written back first, so
    # the timed process is not the one the kernel makes wait for or pay that writeback.
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0,):
        raise RuntimeError(f"{cmd[:4]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    usage = {"cpu": cpu, "wall": wall, "peak_rss_mb": after.ru_maxrss / 1024}
    if importtime:
        usage["imports_s"] = import_seconds(out.stderr)
    return usage, out.stdout


def _run_day(work: Path, config: Path, day: str) -> tuple[dict, list[str]]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    return env, [sys.executable, "-m", "watchkeeper", "run-day", "--config", str(config), "--day", day]


def cold_day(work: Path, config: Path, day: str) -> dict:
    """The untimed run of the day before the measured one, from a cold store (the reference profile built and
    cached, the window's labels steps caught up), then the store as it stands before the measured day's first run
    kept aside (`keep_store`), for every timed run to start from."""
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    env, cmd = _run_day(work, config, before)
    for old in (
        work / "results",
        work / "artifacts",
        work / PRE_DAY,
    ):  # a cold store: nothing from earlier runs
        shutil.rmtree(old, ignore_errors=True)
    (work / "mlflow.db").unlink(missing_ok=True)
    cold = work / "timings-cold.json"
    run([*cmd, "--timings", str(cold)], env)
    keep_store(work)
    return json.loads(cold.read_text())["stages"].get("profile", {"cpu": None, "wall": None})


PRE_DAY = "pre-day"
STORE = ("results", "artifacts", "mlflow.db")
"""What a run-day writes: its results store, the MLflow store beside it (database and artifacts)."""


def _copy_tree(src: Path, dst: Path) -> None:
    """`dst` as a copy of `src`, where the Arrow and Parquet objects a day only reads are hard-linked (Watchkeeper
    replaces them whole, by rename, so a link is never written through). Copied: JSON documents (some are
    rewritten in place) and the prediction days' consolidated labels (`combined.arrow`), which a day replaces: the
    pages of a replaced copy are freed as on a user's day, where a link would keep them (and make every page of
    the new object a fresh one for the kernel)."""

    def link_or_copy(a: str, b: str) -> None:
        if a.endswith((".arrow", ".parquet")) and not a.endswith("/combined.arrow"):
            os.link(a, b)
        else:
            shutil.copy2(a, b)

    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link_or_copy)
    elif src.exists():
        shutil.copy2(src, dst)


def keep_store(work: Path) -> None:
    """Keep the store as it stands (`work/pre-day`)."""
    shutil.rmtree(work / PRE_DAY, ignore_errors=True)
    (work / PRE_DAY).mkdir()
    for name in STORE:
        _copy_tree(work / name, work / PRE_DAY / name)


def restore_store(work: Path) -> None:
    """The store as `keep_store` kept it: the measured day's next run is its first, as on a user's day (its MLflow
    run created, its points new to the timeline and to the earlier days' runs, its label arrivals new to each
    prediction day's consolidated labels), not a re-run, which would pay for replacing what its last run wrote."""
    for name in STORE:
        target = work / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        _copy_tree(work / PRE_DAY / name, target)


def timed_day(work: Path, config: Path, day: str) -> dict:
    """One timed fresh process of the measured day on the store as it stood before the day (`restore_store`),
    imports measured."""
    env, cmd = _run_day(work, config, day)
    restore_store(work)
    timings = work / "timings.json"
    usage, _ = run([*cmd, "--timings", str(timings)], env, importtime=True)
    doc = json.loads(timings.read_text())
    return {**usage, "stages": doc["stages"], "peak_rss_mb": doc["peak_rss_mb"]}


def median_run(runs: list[dict]) -> dict:
    """The run of median CPU (the lower middle one for an even count), with every run's CPU beside it, and every
    run's CPU less its imports where measured (a slow spell shows in a run's imports too)."""
    ordered = sorted(runs, key=lambda r: r["cpu"])
    chosen = ordered[(len(ordered) - 1) // 2]
    if len(runs) == 1:
        return chosen
    out = {**chosen, "cpu_runs": [r["cpu"] for r in runs]}
    if all("imports_s" in r for r in runs):
        out["excluding_imports_runs"] = [r["cpu"] - r["imports_s"] for r in runs]
    return out


def median_peers(rounds: list[dict]) -> dict:
    """Each peer tool's run of median CPU over the rounds (`median_run`), or why it was skipped."""
    return {
        tool: rounds[0][tool] if "skipped" in rounds[0][tool] else median_run([r[tool] for r in rounds])
        for tool in rounds[0]
    }


def peers(work: Path, config: Path, day: str, window: int) -> dict:
    data = work / "data"
    window_days = [
        str(data / "days" / f"{(date.fromisoformat(day) - timedelta(days=k)).isoformat()}.parquet")
        for k in range(window + 1)
    ]
    spec = {
        "config": str(config),
        "reference": str(data / "reference.parquet"),
        "day": str(data / "days" / f"{day}.parquet"),
        "labels": str(data / "labels" / f"{day}.parquet") if window else None,
        "window_days": window_days if window else [],
        "features": NUMERIC + CATEGORICAL,
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "parameters": {"day_start": f"{day}T00:00:00+00:00", "day_end": f"{day}T23:59:59+00:00"},
    }
    out = {}
    script = Path(__file__).resolve().parent / "day_peers.py"
    for tool, python in PEERS.items():
        if not python.exists():
            out[tool] = {"skipped": f"no interpreter at {python} (run benchmarks/setup_peers.sh)"}
            continue
        usage, stdout = run([str(python), str(script), tool, json.dumps(spec)], importtime=True)
        line = json.loads(stdout.strip().splitlines()[-1])
        out[tool] = {
            **usage,
            "seconds": line["seconds"],
            "cpu": line["cpu_seconds"],
            "peak_rss_mb": line["peak_rss_mb"],
        }
    return out


def commit() -> str | None:
    """The checkout's commit (marked `+changes` when files differ from it), so a merged table says what it ran."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return None
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "include"], capture_output=True).returncode
    return head.stdout.strip() + ("+changes" if dirty else "")


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000])
    p.add_argument("--ids", nargs="+", default=["str"], choices=["str", "int"])
    p.add_argument("--windows", type=int, nargs="+", default=[0, 30])
    p.add_argument(
        "--label-spread",
        type=int,
        default=None,
        help="days over which each day's labels arrive (default: the label window)",
    )
    p.add_argument("--reference-rows", type=int, default=100_000)
    p.add_argument("--no-peers", action="store_true")
    p.add_argument(
        "--peers-up-to", type=int, default=None, help="run the peers only on days of at most this many rows"
    )
    p.add_argument(
        "--merge", action="store_true", help="keep the runs already in --out that this one does not repeat"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="timed runs of each day, alternating between the days; the run of median CPU is reported",
    )
    p.add_argument("--work", type=Path, default=ROOT / ".bench" / "day")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "day")
    args = p.parse_args(argv)
    report = {"machine": machine(), "runs": []}
    wanted = {
        (r, i, w, spread_of(w, args.label_spread)) for r in args.rows for i in args.ids for w in args.windows
    }
    kept = kept_runs(args.out.with_suffix(".json"), wanted) if args.merge else []
    report["runs"] = list(kept)
    if kept:
        report["merged"] = True
    if args.merge and kept_notes(args.out.with_suffix(".json")):
        report["notes"] = kept_notes(args.out.with_suffix(".json"))
    # Every day prepared (world written, cold first run) before any is timed, so that with `--repeat` the timed
    # runs of the days alternate: a ratio between two rows then compares runs minutes apart, not a grid apart.
    prepared = []
    for rows in args.rows:
        for ids in args.ids:
            for window in args.windows:
                spread = spread_of(window, args.label_spread)
                work = args.work / (f"{rows}-{ids}-{window}" + (f"-s{spread}" if spread != window else ""))
                world = write_world(work, rows, args.reference_rows, ids, max(spread, 1), window)
                config = write_config(work, "bench_day", max(window, 1))
                entry = {"rows": rows, "ids": ids, "window": window, "spread": spread, "day": world["day"]}
                entry["load_average"] = [os.getloadavg()[0]]
                entry["cold_profile"] = cold_day(work, config, world["day"])
                prepared.append((entry, work, config))
    timed: list[list[dict]] = [[] for _ in prepared]
    theirs: list[list[dict]] = [[] for _ in prepared]
    # Each round times every day, the peers doing that day right after Watchkeeper, so that both sides of a ratio
    # are measured minutes apart and as often: a slow spell of the machine then falls on both.
    for _ in range(args.repeat):
        for (entry, work, config), runs, peer_runs in zip(prepared, timed, theirs, strict=True):
            runs.append(timed_day(work, config, entry["day"]))
            if not args.no_peers and (args.peers_up_to is None or entry["rows"] <= args.peers_up_to):
                peer_runs.append(peers(work, config, entry["day"], entry["window"]))
    for (entry, _, _), runs, peer_runs in zip(prepared, timed, theirs, strict=True):
        entry["watchkeeper"] = {**median_run(runs), "cold_profile": entry.pop("cold_profile")}
        if args.repeat > 1:
            entry["repeat"] = args.repeat
        if peer_runs:
            entry["peers"] = median_peers(peer_runs)
        entry["load_average"].append(os.getloadavg()[0])
        entry["measured"] = time.strftime("%Y-%m-%d %H:%M")
        entry["commit"] = commit()
        report["runs"].append(entry)
        print(json.dumps(entry), flush=True)
        write(report, args.out)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    write(report, args.out)
    return report


def kept_notes(path: Path) -> list[str]:
    """Notes written into the results file by hand (what a merged run differs in), kept by `--merge`."""
    return json.loads(path.read_text()).get("notes", []) if path.exists() else []


def spread_of(window: int, label_spread: int | None) -> int:
    """Days over which a day's labels arrive: the window unless set (none without a window)."""
    return 0 if not window else (label_spread or window)


def kept_runs(path: Path, wanted: set[tuple[int, str, int, int]]) -> list[dict]:
    """The runs already in the results file at `path` that are not among the (rows, ids, window, spread) to measure."""
    return kept_runs_of(json.loads(path.read_text())["runs"], wanted) if path.exists() else []


def kept_runs_of(runs: list[dict], wanted: set[tuple[int, str, int, int]]) -> list[dict]:
    return [r for r in runs if (r["rows"], r["ids"], r["window"], _spread(r)) not in wanted]


def _spread(run: dict) -> int:
    return run.get("spread", run["window"])


def _window(run: dict) -> str:
    if not run["window"]:
        return "none"
    return str(run["window"]) + (f" (labels over {_spread(run)})" if _spread(run) != run["window"] else "")


def write(report: dict, out: Path) -> None:
    order = {"str": 0, "int": 1}
    report["runs"].sort(key=lambda r: (r["rows"], order.get(r["ids"], 2), r["window"], _spread(r)))
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))


STAGES = ["startup", "load", "quality", "profile", "labels", "drift", "performance", "finish"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _imports_excluded(runs: list[dict]) -> list[str]:
    """The ratio the issue targets: each process's CPU less the time its imports took (`-X importtime`, lazy
    imports included: GX in the quality stage, MLflow in the finish), for the runs measured with it."""
    rows = []
    for r in runs:
        wk, peers = r["watchkeeper"], r.get("peers", {})
        tools = [peers.get(t, {}) for t in ("gx", "evidently", "nannyml")]
        if "imports_s" not in wk or not all("imports_s" in t for t in tools):
            continue
        ours = wk["cpu"] - wk["imports_s"]
        theirs = sum(t["cpu"] - t["imports_s"] for t in tools)
        cells = [f"{t['cpu'] - t['imports_s']:.1f}" for t in tools]
        rows.append(
            f"| {r['rows']:,} | {r['ids']} | {_window(r)} | {ours:.1f} | {wk['imports_s']:.1f} | "
            + " | ".join(cells)
            + f" | {theirs:.1f} | {sum(t['imports_s'] for t in tools):.1f} | {theirs / ours:.1f}× |"
        )
    if not rows:
        return []
    return [
        "",
        "Imports excluded (each process's CPU less its imports, from `python -X importtime`, lazy ones included):",
        "",
        "| rows | ids | label window | Watchkeeper CPU s | its imports s | GX on pandas | Evidently | NannyML | "
        "peers total CPU s | their imports s | peers / Watchkeeper |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def _each_run(run: dict, excluded: str = "") -> str:
    """A repeated row's CPU seconds of each run, and in brackets each run's less its imports where recorded."""
    text = ", ".join(f"{c:.1f}" for c in run["cpu_runs"])
    if excluding := run.get("excluding_imports_runs"):
        text += f" ({excluded}{', '.join(f'{c:.1f}' for c in excluding)})"
    return text


def markdown(report: dict) -> str:
    m = report["machine"]
    dates = sorted({r.get("measured", m["date"]) for r in report["runs"]})
    when = f"{dates[0]} to {dates[-1]}" if len(dates) > 1 else dates[0]
    if report.get("merged"):
        when += ", rows merged from separate invocations (`--merge`)"
    lines = [
        "# Whole-day benchmark (`benchmarks/day.py`)",
        "",
        f"Python {m['python']}, {m['cpus']} cores shared with other jobs; measured {when}. Wall times are inflated by "
        "the load (its 1-minute average before and after each run is given); CPU seconds are the comparable figure, "
        "though they too grow on a busy machine. Each figure is one fresh process, imports included; "
        '"excl. startup" leaves out interpreter start and imports.',
        "",
        "| rows | ids | label window | Watchkeeper CPU s | excl. startup | wall s | peak RSS MB | "
        "GX on pandas CPU s | Evidently CPU s | NannyML CPU s | peers total CPU s | peers / Watchkeeper | "
        "cold profile build CPU s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        wk = r["watchkeeper"]
        peers = r.get("peers", {})
        cpu = [peers.get(t, {}).get("cpu") for t in ("gx", "evidently", "nannyml")]
        total = sum(c for c in cpu if c is not None) if any(c is not None for c in cpu) else None
        ratio = f"{total / wk['cpu']:.1f}×" if total else "–"
        load = "–".join(f"{v:.0f}" for v in r.get("load_average", [])) or "–"
        lines.append(
            f"| {r['rows']:,} | {r['ids']} | {_window(r)} | {wk['cpu']:.1f} | "
            f"{wk['cpu'] - wk['stages']['startup']['cpu']:.1f} | {wk['wall']:.0f} | {wk['peak_rss_mb']:.0f} | "
            f"{_fmt(cpu[0])} | {_fmt(cpu[1])} | {_fmt(cpu[2])} | {_fmt(total)} | {ratio} | "
            f"{_fmt(wk.get('cold_profile', {}).get('cpu'))} | {load} |"
        )
    repeated = [r for r in report["runs"] if len(r["watchkeeper"].get("cpu_runs", [])) > 1]
    if repeated:
        lines += [
            "",
            "Rows timed more than once (`--repeat`, runs alternating between rows; the median run is shown):",
            "",
        ]
        for r in repeated:
            runs = _each_run(r["watchkeeper"], "imports excluded ")
            theirs = [
                f"{tool} {_each_run(run)}"
                for tool, run in r.get("peers", {}).items()
                if len(run.get("cpu_runs", [])) > 1
            ]
            lines.append(
                f"- {r['rows']:,} rows, {r['ids']} ids, window {_window(r)}: CPU s of each run {runs}"
                + (f"; the peers' ({'; '.join(theirs)})" if theirs else "")
            )
    lines += _imports_excluded(report["runs"])
    lines += [
        "",
        "CPU seconds per Watchkeeper stage (the timed day, profile already cached):",
        "",
        "| rows | ids | window | " + " | ".join(STAGES) + " |",
    ]
    lines.append("|---|---|---|" + "---|" * len(STAGES))
    for r in report["runs"]:
        st = r["watchkeeper"]["stages"]
        cells = [f"{st[s]['cpu']:.2f}" if s in st else "–" for s in STAGES]
        lines.append(f"| {r['rows']:,} | {r['ids']} | {_window(r)} | " + " | ".join(cells) + " |")
    commits = sorted({r["commit"] for r in report["runs"] if r.get("commit")})
    if commits:
        lines += ["", f"Measured at commit(s) {', '.join(commits)}."]
    lines += [f"\n{note}" for note in report.get("notes", [])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
