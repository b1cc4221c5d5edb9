"""Drift benchmark: Watchkeeper's drift step against a numpy/scipy floor, Evidently and NannyML, on the same days.

    uv run --frozen python benchmarks/drift.py --rows 100000 1000000 5000000

Generates a reference (100k rows) and one day per size, 30 columns (20 numeric, 10 categorical), as Parquet under
`.bench/drift/`; then, for each size, runs every tool in its own subprocess (peers with their own virtualenv
interpreters from `benchmarks/setup_peers.sh`) and records wall time, the process's peak RSS and rows/s. Watchkeeper
runs as the DAG does: the reference profile is built (and cached) first and timed apart, the day is staged by
`load_day`, and `measure_drift` is the drift step. The floor computes the same statistics in plain numpy/scipy and
must agree with Watchkeeper's values (the run fails otherwise). Results go to `benchmarks/results/drift.{md,json}`.

The floor is a real one: the reference is sorted once when fitted, and each day column, once sorted, is merged with
it (`merge_sorted`, no re-sort of the pooled values). Threads: the floor and the peers run on one thread (numpy's
BLAS is not used here); Watchkeeper runs with its default pool (`drift.threads`) and once with `threads: 1`. Each
tool's timing is its step alone (reading the day included, interpreter start and imports excluded); the process
wall time and peak RSS are recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(10)]
CARDINALITY = [3, 5, 8, 12, 20, 30, 50, 80, 120, 200]
NUMERIC_METHODS = ["ks", "wasserstein", "psi"]
CATEGORICAL_METHODS = ["jensen_shannon", "l_infinity"]
FIRST_DAY = date(2030, 1, 1)
TOOLS = ["watchkeeper", "floor", "evidently", "nannyml"]
PEER_VENVS = {tool: ROOT / ".bench" / "venvs" / tool / "bin" / "python" for tool in ("evidently", "nannyml")}


# --- data -----------------------------------------------------------------------------------------------------


def _batch(rng: np.random.Generator, n: int, drift: float) -> pa.RecordBatch:
    """n rows: varied numeric shapes (normal, skewed, heavy-tailed, integer ties, 1 % nulls) and Zipf-like categories.

    `drift` moves a few columns (means, a scale, category shares) so the statistics are not all near zero.
    """
    arrays = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 4
        if kind == 0:
            x = rng.normal(drift * (i == 0), 1.0, n)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.6 * (1 + drift * (i == 1)), n)
        elif kind == 2:
            x = rng.standard_t(4, n) * 10 + 50
        else:
            x = rng.poisson(3 + drift * (i == 3), n).astype(float)
        nulls = rng.random(n) < 0.01
        arrays[name] = pa.array(x, mask=nulls)
    for name, k in zip(CATEGORICAL, CARDINALITY, strict=True):
        p = 1.0 / np.arange(1, k + 1) ** (1.0 + drift * (name == "c0"))
        codes = rng.choice(k, n, p=p / p.sum()).astype(np.int32)
        dictionary = pa.array([f"{name}_v{j}" for j in range(k)])
        arrays[name] = pa.DictionaryArray.from_arrays(codes, dictionary)
    return pa.RecordBatch.from_pydict(arrays)


def write_table(path: Path, rows: int, seed: int, drift: float, batch_rows: int = 500_000) -> None:
    """Write in batches, so a 5M-row day is never generated whole."""
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, _batch(np.random.default_rng(0), 1, 0).schema) as writer:
        for start in range(0, rows, batch_rows):
            rng = np.random.default_rng([seed, start])
            writer.write_batch(_batch(rng, min(batch_rows, rows - start), drift))
    tmp.rename(path)


VARIANTS = {  # Watchkeeper runs: name -> drift settings over the defaults
    "watchkeeper": {},
    "watchkeeper_one_thread": {"threads": 1},
    "watchkeeper_univariate": {"multivariate": False},
}


def write_config(work: Path, variant: str) -> Path:
    import yaml

    config = {
        "name": variant.replace("watchkeeper", "bench"),
        "task": "binary_classification",
        "storage": {"uri": str(work / "data")},
        "paths": {"reference": "reference.parquet", "predictions": "days/{ds}.parquet"},
        "columns": {"id": "id", "features": NUMERIC + CATEGORICAL, "prediction": "pred", "target": "label"},
        "owners": {"data": {"name": "data"}, "model": {"name": "model"}},
        "drift": {
            "numeric_methods": NUMERIC_METHODS,
            "categorical_methods": CATEGORICAL_METHODS,
            **VARIANTS[variant],
        },
    }
    path = work / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# --- workers (each runs in its own process) -----------------------------------------------------------------------


def work_profile(spec: dict) -> dict:
    """Build and cache the reference profile, as the first day after a new reference version does."""
    from watchkeeper.config import load_config
    from watchkeeper.reference import get_profile
    from watchkeeper.storage import Storage

    cfg = load_config(spec["config"])
    storage = Storage.from_uri(cfg.storage.uri)
    storage.delete_prefix(f"{cfg.storage.results_prefix}/{cfg.name}")
    t = time.perf_counter()
    get_profile(cfg, storage, storage)
    return {"seconds": {"profile": time.perf_counter() - t}}


def _day(spec: dict):
    from watchkeeper.config import load_config
    from watchkeeper.pipeline import Day
    from watchkeeper.storage import Storage

    cfg = load_config(spec["config"])
    storage = Storage.from_uri(cfg.storage.uri)
    return Day(cfg, date.fromisoformat(spec["date"]), storage, storage)


def work_stage(spec: dict) -> dict:
    """`load_day`: the day copied to staging batch by batch (the DAG task before drift)."""
    from watchkeeper.pipeline import load_day

    d = _day(spec)
    t = time.perf_counter()
    load_day(d)
    return {"seconds": {"load_day": time.perf_counter() - t}}


def work_watchkeeper(spec: dict) -> dict:
    """`measure_drift` on the staged day, with the cached profile: the DAG's drift task."""
    from watchkeeper.pipeline import measure_drift
    from watchkeeper.reference import profile_key

    d = _day(spec)
    if not d.results.exists(profile_key(d.cfg, d.storage)):
        raise RuntimeError("the profile must be cached before the drift step is timed")
    t = time.perf_counter()
    key = measure_drift(d)
    seconds = time.perf_counter() - t
    checks = d.results.read_json(key)["checks"]
    values = {f"{c['subject']}|{c['name']}": c["value"] for c in checks if c["subject"] != "multivariate"}
    return {
        "seconds": {"measure_drift": seconds},
        "values": values,
        "alerts": sum(c["status"] == "alert" for c in checks),
    }


def work_floor(spec: dict) -> dict:
    """The same statistics in plain numpy/scipy: one sort per current column, `bincount` on dictionary codes."""
    from scipy.spatial.distance import jensenshannon

    def numeric(table: pa.Table, name: str) -> np.ndarray:
        x = table.column(name).to_numpy()
        return np.sort(x[np.isfinite(x)])

    def counts(column: pa.ChunkedArray) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in column.chunks:
            n = np.bincount(chunk.indices.drop_null().to_numpy(), minlength=len(chunk.dictionary))
            for label, c in zip(chunk.dictionary.to_pylist(), n.tolist(), strict=True):
                out[label] = out.get(label, 0) + c
        return out

    t = time.perf_counter()
    ref = pq.read_table(spec["reference"], read_dictionary=CATEGORICAL)
    fitted = {}
    for name in NUMERIC:
        r = numeric(ref, name)
        edges = np.unique(np.quantile(r, np.linspace(0, 1, 11)))
        edges[0], edges[-1] = -np.inf, np.inf
        fitted[name] = (r, np.std(r), edges, np.histogram(r, edges)[0] / r.size)
    for name in CATEGORICAL:
        fitted[name] = counts(ref.column(name))
    reference_seconds = time.perf_counter() - t

    t = time.perf_counter()
    day = pq.ParquetFile(spec["day"], read_dictionary=CATEGORICAL)
    values = {}
    for name in NUMERIC:
        r, std, edges, p = fitted[name]
        c = numeric(day.read(columns=[name]), name)
        pooled = merge_sorted(r, c)
        fr = np.searchsorted(r, pooled, side="right") / r.size
        fc = np.searchsorted(c, pooled, side="right") / c.size
        values[f"{name}|ks"] = float(np.max(np.abs(fr - fc)))
        values[f"{name}|wasserstein"] = float(np.sum(np.abs(fr - fc)[:-1] * np.diff(pooled)) / std)
        q = np.histogram(c, edges)[0] / c.size
        pc, qc = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
        values[f"{name}|psi"] = float(np.sum((qc - pc) * np.log(qc / pc)))
    for name in CATEGORICAL:
        ref_counts, cur_counts = fitted[name], counts(day.read(columns=[name]).column(0))
        cats = sorted(set(ref_counts) | set(cur_counts))
        p = np.array([ref_counts.get(k, 0) for k in cats], dtype=float)
        q = np.array([cur_counts.get(k, 0) for k in cats], dtype=float)
        p, q = p / p.sum(), q / q.sum()
        values[f"{name}|jensen_shannon"] = float(jensenshannon(p, q, base=2))
        values[f"{name}|l_infinity"] = float(np.max(np.abs(p - q)))
    return {"seconds": {"reference": reference_seconds, "day": time.perf_counter() - t}, "values": values}


def merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two sorted arrays merged into one sorted array, without re-sorting: each of b's values goes after the
    values of a it is not below (a binary search per value of b, then two scatters)."""
    out = np.empty(a.size + b.size, dtype=np.result_type(a, b))
    at = np.searchsorted(a, b, side="right") + np.arange(b.size)
    from_b = np.zeros(out.size, dtype=bool)
    from_b[at] = True
    out[at] = b
    out[~from_b] = a
    return out


WORKERS = {"profile": work_profile, "stage": work_stage, "watchkeeper": work_watchkeeper, "floor": work_floor}


# --- orchestration --------------------------------------------------------------------------------------------


def run_worker(
    python: Path | str, script: Path, tool: str, spec: dict, timeout: float, max_rss_gb: float
) -> dict:
    """Run one worker process; its JSON line plus the process wall time, or why it did not finish."""
    import psutil

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(python), str(script), "worker", tool, json.dumps(spec)], stdout=out, stderr=err
        )
        watched = psutil.Process(proc.pid)
        reason = None
        while proc.poll() is None:
            time.sleep(0.25)
            try:
                rss = watched.memory_info().rss
            except psutil.NoSuchProcess:
                break
            if time.perf_counter() - start > timeout:
                reason = f"stopped after {timeout:.0f} s (time budget)"
            elif rss > max_rss_gb * 2**30:
                reason = f"stopped at {rss / 2**30:.1f} GB RSS (memory budget {max_rss_gb:g} GB)"
            if reason:
                proc.kill()  # only the process this function started
                proc.wait()
                return {"skipped": reason, "process_seconds": time.perf_counter() - start}
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} worker failed ({proc.returncode}):\n{err.read().decode()[-3000:]}")
        return {**json.loads(out.read().decode().strip().splitlines()[-1]), "process_seconds": wall}


def compare(wk: dict, floor: dict) -> dict:
    shared = sorted(set(wk) & set(floor))
    diffs = [abs(wk[k] - floor[k]) / max(abs(floor[k]), 1e-12) for k in shared]
    return {"statistics": len(shared), "max_relative_difference": max(diffs) if diffs else None}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "drift")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per peer run before it is stopped"
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=16, help="peak memory per run before it is stopped"
    )
    parser.add_argument("--note", default="", help="a sentence on the conditions of this run, for the report")
    args = parser.parse_args(argv)

    work = args.workdir.resolve()
    script = Path(__file__).resolve()
    peers = script.with_name("drift_peers.py")
    write_table(work / "data" / "reference.parquet", args.reference_rows, seed=1, drift=0.0)
    configs = {variant: write_config(work, variant) for variant in VARIANTS}
    config = configs["watchkeeper"]
    report = {
        "machine": machine(),
        "reference_rows": args.reference_rows,
        "columns": "20 numeric + 10 categorical",
    }
    report["note"] = args.note
    report["profile"] = run_worker(sys.executable, script, "profile", {"config": str(config)}, 3600, 64)
    if "watchkeeper" in args.tools:
        for variant in list(VARIANTS)[1:]:
            run_worker(sys.executable, script, "profile", {"config": str(configs[variant])}, 3600, 64)
    report["sizes"] = []
    for i, rows in enumerate(args.rows):
        day = FIRST_DAY + timedelta(days=i)
        day_path = work / "data" / "days" / f"{day.isoformat()}.parquet"
        write_table(day_path, rows, seed=100 + i, drift=0.15)
        spec = {
            "config": str(config),
            "date": day.isoformat(),
            "reference": str(work / "data" / "reference.parquet"),
            "day": str(day_path),
            "numeric": NUMERIC,
            "categorical": CATEGORICAL,
        }
        size: dict = {"rows": rows, "day_parquet_mb": day_path.stat().st_size / 2**20, "runs": {}}
        for tool in args.tools:
            print(f"{rows:>9,} rows: {tool} ...", file=sys.stderr, flush=True)
            if tool == "watchkeeper":
                size["runs"]["load_day"] = run_worker(sys.executable, script, "stage", spec, 3600, 64)
                size["runs"]["watchkeeper"] = run_worker(
                    sys.executable, script, "watchkeeper", spec, 3600, 64
                )
                for variant in list(VARIANTS)[1:]:
                    other = {**spec, "config": str(configs[variant])}
                    run_worker(sys.executable, script, "stage", other, 3600, 64)  # its own staged copy
                    run = run_worker(sys.executable, script, "watchkeeper", other, 3600, 64)
                    run.pop("values")
                    size["runs"][variant] = run
            elif tool == "floor":
                size["runs"]["floor"] = run_worker(sys.executable, script, "floor", spec, 3600, 64)
            elif not PEER_VENVS[tool].exists():
                size["runs"][tool] = {"skipped": "virtualenv missing: run `bash benchmarks/setup_peers.sh`"}
            else:
                size["runs"][tool] = run_worker(
                    PEER_VENVS[tool], peers, tool, spec, args.timeout, args.max_rss_gb
                )
        runs = size["runs"]
        if "values" in runs.get("watchkeeper", {}) and "values" in runs.get("floor", {}):
            size["agreement"] = compare(runs["watchkeeper"].pop("values"), runs["floor"].pop("values"))
            if size["agreement"]["max_relative_difference"] > 1e-9:
                raise SystemExit(f"Watchkeeper and the floor disagree at {rows} rows: {size['agreement']}")
        report["sizes"].append(size)
        print(table(report), file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drift.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "drift.md").write_text(markdown(report))
    return report


# --- reporting ------------------------------------------------------------------------------------------------

TIMED = {  # tool -> (label, which of its seconds count as the step)
    "watchkeeper": ("Watchkeeper `measure_drift` (cached profile)", ["measure_drift"]),
    "watchkeeper_one_thread": (
        "Watchkeeper `measure_drift` on one thread (`drift.threads: 1`)",
        ["measure_drift"],
    ),
    "watchkeeper_univariate": (
        "Watchkeeper `measure_drift` without the multivariate check",
        ["measure_drift"],
    ),
    "load_day": ("Watchkeeper `load_day` (staging copy, a separate task)", ["load_day"]),
    "floor": ("numpy/scipy floor, day only (reference pre-sorted)", ["day"]),
    "evidently": ("Evidently DataDriftPreset (read + report)", ["read", "report"]),
    "nannyml": ("NannyML UnivariateDriftCalculator.calculate", ["calculate"]),
}


def step_seconds(tool: str, run: dict) -> float | None:
    if "seconds" not in run:
        return None
    return sum(run["seconds"][k] for k in TIMED[tool][1])


def table(report: dict) -> str:
    lines = [
        "| day rows | run | step s | process s | peak RSS MB | rows/s | step time ÷ Watchkeeper's |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        wk = step_seconds("watchkeeper", size["runs"].get("watchkeeper", {}))
        for tool, run in size["runs"].items():
            label = TIMED[tool][0]
            if "skipped" in run:
                lines.append(f"| {size['rows']:,} | {label} | not run: {run['skipped']} | | | | |")
                continue
            s = step_seconds(tool, run)
            extra = ""
            if tool == "nannyml":
                extra = f" (+ fit {run['seconds']['fit']:.2f} s, read {run['seconds']['read']:.2f} s)"
            ratio = f"{s / wk:.1f}×" if wk and tool not in ("load_day", *VARIANTS) else ""
            lines.append(
                f"| {size['rows']:,} | {label} | {s:.2f}{extra} | {run['process_seconds']:.1f} | "
                f"{run['peak_rss_mb']:,.0f} | {size['rows'] / s:,.0f} | {ratio} |"
            )
    return "\n".join(lines)


def ratios(report: dict) -> str:
    """Each peer's step time over Watchkeeper's, threaded and on one thread, per day size."""
    lines = []
    for size in report["sizes"]:
        runs = size["runs"]
        wk, one = (step_seconds(v, runs.get(v, {})) for v in ("watchkeeper", "watchkeeper_one_thread"))
        parts = [
            f"{TIMED[tool][0].split(' ')[0]} {s / wk:.1f}× (one thread: {s / one:.1f}×)"
            for tool in ("floor", "nannyml", "evidently")
            if wk and one and (s := step_seconds(tool, runs.get(tool, {})))
        ]
        if parts:
            lines.append(f"- {size['rows']:,} rows: " + "; ".join(parts))
    return "\n".join(lines)


def markdown(report: dict) -> str:
    profile = report["profile"]["seconds"]["profile"]
    pandas_mb = {
        s["rows"]: next((r["pandas_day_mb"] for r in s["runs"].values() if "pandas_day_mb" in r), None)
        for s in report["sizes"]
    }
    sizes = "\n".join(
        f"- {s['rows']:,} rows: Parquet {s['day_parquet_mb']:,.0f} MB"
        + (f", as a pandas DataFrame {pandas_mb[s['rows']]:,.0f} MB (deep)" if pandas_mb[s["rows"]] else "")
        + (
            f"; Watchkeeper = floor on all {s['agreement']['statistics']} statistics "
            f"(max relative difference {s['agreement']['max_relative_difference']:.1e})"
            if "agreement" in s
            else ""
        )
        for s in report["sizes"]
    )
    return f"""# Drift benchmark

Command: `uv run --frozen python benchmarks/drift.py --rows {" ".join(str(s["rows"]) for s in report["sizes"])}`
(peers: `bash benchmarks/setup_peers.sh` first). Machine: {report["machine"]}. {report.get("note") or ""}
Every tool ran in the same run, one at a time, each in a fresh process.

Data: reference {report["reference_rows"]:,} rows, days of {report["columns"]} columns (Parquet, categoricals
dictionary-encoded, 1 % nulls in numeric columns, a few columns shifted). Watchkeeper computes KS, normalized
Wasserstein and PSI per numeric column, Jensen–Shannon and L∞ per categorical one, plus the multivariate PCA
reconstruction error (the DAG's default); the floor computes the same univariate statistics (no multivariate)
in plain numpy/scipy; NannyML KS, Wasserstein and Jensen–Shannon (it has no PSI) and Jensen–Shannon and L∞, the
day as one chunk; Evidently its defaults (normed Wasserstein, Jensen–Shannon).

Watchkeeper's reference profile (bounds from reference chunks and samples, fitted states) was built once before
the days, as it is cached per reference version in production: {profile:.1f} s. The row without the multivariate
check (`drift.multivariate: false`) computes exactly the floor's statistics. Watchkeeper scores columns (and the
multivariate pass) in threads, one per available CPU by default; the one-thread row shows the same step on a
single core, as the floor and the peers run. Ratios:

{ratios(report)}

"step s" is the timed step inside the process (after imports); "process s" the whole process, imports included;
peak RSS is the process's own maximum resident set (`getrusage`).

{table(report)}

{sizes}
"""


def worker_main() -> None:
    tool, spec = sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, str(ROOT / "include"))
    out = WORKERS[tool](spec)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main()
    else:
        main()
