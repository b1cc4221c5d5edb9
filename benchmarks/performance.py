"""Performance-estimation benchmark: Watchkeeper's CBPE and DLE against NannyML's, on the same generated days.

    uv run --frozen python benchmarks/performance.py --rows 100000 1000000

Generates, per task, a labelled reference (100k rows) and one unlabelled day per size (8 features, a mild covariate
shift) as Parquet under `.bench/performance/`; then runs each tool in its own subprocess (NannyML with its own
interpreter from `benchmarks/setup_peers.sh nannyml`, skipped when absent) and records, per step, wall time and the
process's peak RSS. The fit on the reference (calibration or loss models) is timed apart from the day's estimate.
The estimates must agree (CBPE within 0.01, DLE within 5 %), or the run fails. Results go to
`benchmarks/results/performance.{md,json}`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = ["c0", "c1"]
METRICS = {
    "binary_classification": ["roc_auc", "f1", "precision", "recall", "accuracy"],
    "regression": ["mae", "rmse"],
}
TOLERANCE = {"binary_classification": ("absolute", 0.01), "regression": ("relative", 0.05)}
NANNYML = ROOT / ".bench" / "venvs" / "nannyml" / "bin" / "python"


def frame(rng: np.random.Generator, n: int, task: str, shift: float) -> pd.DataFrame:
    """n rows of 6 numeric and 2 categorical features; the model's output, and the truth (used in the reference)."""
    x = {f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0 + shift * (i == 2), n) for i in range(6)}
    df = pd.DataFrame(x)
    df["c0"] = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    df["c1"] = rng.choice([f"k{i}" for i in range(8)], n)
    signal = 1.2 * df["x0"] + 0.8 * df["x1"] - 0.5 * df["x3"] + 0.4 * (df["c0"] == "a")
    if task == "binary_classification":
        p = 1 / (1 + np.exp(-(signal - 1.0)))
        df["score"] = (p**1.3).round(6)  # a ranking model whose scores need calibrating
        df["pred"] = (df["score"] >= 0.5).astype(int)
        df["y"] = (rng.random(n) < p).astype(int)
    else:
        df["pred"] = 10 + 3 * signal
        df["y"] = df["pred"] + rng.normal(0, 1, n) * (0.5 + np.abs(df["x2"]))  # errors grow with |x2|
    return df


def generate(rows: list[int], reference_rows: int, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for task in METRICS:
        rng = np.random.default_rng(0)
        ref = out / f"{task}-reference-{reference_rows}.parquet"
        if not ref.exists():
            frame(rng, reference_rows, task, 0.0).to_parquet(ref, index=False)
        files[(task, "reference")] = ref
        for n in rows:
            day = out / f"{task}-day-{n}.parquet"
            if not day.exists():
                frame(rng, n, task, 0.3).drop(columns=["y"]).to_parquet(day, index=False)
            files[(task, n)] = day
    return files


def watchkeeper(spec: dict) -> dict:
    """Watchkeeper's estimators as the performance stage calls them: fit on the reference, estimate the day."""
    import pyarrow.parquet as pq
    from watchkeeper.performance.dle import LossEstimator
    from watchkeeper.performance.estimation import estimate, fit_calibration

    seconds = {}
    t = time.perf_counter()
    ref = pq.read_table(spec["reference"]).to_pandas()
    day = pq.read_table(spec["day"], columns=spec["day_columns"]).to_pandas()
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    if spec["task"] == "binary_classification":
        calibration = fit_calibration(ref["score"].to_numpy(), ref["y"].to_numpy())
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        pred, score = day["pred"].to_numpy(), day["score"].to_numpy()
        estimates = {m: estimate(m, calibration, pred, score) for m in spec["metrics"]}
    else:
        estimator = LossEstimator(NUMERIC, CATEGORICAL, "pred").fit(ref, ref["y"].to_numpy())
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        estimates = estimator.estimate(day)
    seconds["estimate"] = time.perf_counter() - t
    return {"seconds": seconds, "estimates": estimates}


def run_tool(tool: str, spec: dict) -> dict:
    if tool == "watchkeeper":
        argv = [sys.executable, __file__, "worker", json.dumps(spec)]
    else:
        argv = [str(NANNYML), str(ROOT / "benchmarks" / "performance_peers.py"), json.dumps(spec)]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{tool} failed on {spec['task']} {spec['rows']} rows:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def agreement(task: str, ours: dict, peer: dict) -> tuple[float, bool]:
    kind, limit = TOLERANCE[task]
    diffs = []
    for m, v in ours.items():
        d = abs(v - peer[m])
        diffs.append(d / abs(peer[m]) if kind == "relative" else d)
    return max(diffs), max(diffs) <= limit


def render(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Performance estimation: Watchkeeper vs NannyML",
        "",
        f"`uv run --frozen python benchmarks/performance.py --rows {' '.join(map(str, meta['rows']))}` on "
        f"{meta['machine']}. The machine was shared with other work while this ran (2 cores, other benchmarks "
        "serialized by a lock, tests running beside it): treat the times as indicative, the ratios as the finding.",
        "",
        f"Reference {meta['reference_rows']:,} labelled rows; each day 6 numeric and 2 categorical features with a "
        "mild covariate shift. CBPE: ROC AUC, F1, precision, recall, accuracy (isotonic calibration in both). "
        "DLE: MAE and RMSE (Watchkeeper: scikit-learn HistGradientBoosting loss models; NannyML: LightGBM). "
        "Each tool runs in its own process; peak RSS is that process's maximum. `fit` is the one-off work on the "
        "reference (cached per reference version in Watchkeeper), `estimate` the daily work. Watchkeeper's `fit` "
        "here is the calibration or the loss models alone: its reference profile also derives bounds and sampling "
        "errors from reference chunks and day-size samples (not timed here), so its daily estimate reads them; "
        "NannyML's `estimate` computes its sampling errors from stored reference components.",
        "",
        "| estimator | day rows | tool | read s | fit s | estimate s | peak RSS MB | estimate time vs Watchkeeper | max difference of estimates |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["seconds"]
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") else "1x"
        diff = r.get("difference", "")
        lines.append(
            f"| {r['estimator']} | {r['rows']:,} | {r['tool']} | {s['read']:.2f} | {s['fit']:.2f} | "
            f"{s['estimate']:.2f} | {r['peak_rss_mb']:.0f} | {ratio} | {diff} |"
        )
    lines += ["", "Estimates (Watchkeeper / NannyML):", ""]
    for r in rows:
        if r["tool"] == "nannyml":
            pairs = ", ".join(f"{m} {r['ours'][m]:.4f} / {v:.4f}" for m, v in r["estimates"].items())
            lines.append(f"- {r['estimator']} {r['rows']:,} rows: {pairs}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT / ".bench" / "performance")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    files = generate(args.rows, args.reference_rows, args.data)
    peers = NANNYML.exists()
    if not peers:
        print(
            f"NannyML's virtualenv is missing ({NANNYML}): run benchmarks/setup_peers.sh nannyml",
            file=sys.stderr,
        )
    rows, failed = [], []
    for task, metrics in METRICS.items():
        name = "CBPE" if task == "binary_classification" else "DLE"
        cols = ["score", "pred"] if task == "binary_classification" else [*NUMERIC, *CATEGORICAL, "pred"]
        for n in args.rows:
            spec = {"task": task, "rows": n, "metrics": metrics, "features": NUMERIC + CATEGORICAL,
                    "reference": str(files[(task, "reference")]), "day": str(files[(task, n)]), "day_columns": cols}  # fmt: skip
            ours = {**run_tool("watchkeeper", spec), "tool": "watchkeeper", "estimator": name, "rows": n}
            rows.append(ours)
            print(f"{name} {n:>9,} watchkeeper {ours['seconds']} {ours['peak_rss_mb']:.0f} MB", flush=True)
            if peers:
                peer = {**run_tool("nannyml", spec), "tool": "nannyml", "estimator": name, "rows": n}
                diff, ok = agreement(task, ours["estimates"], peer["estimates"])
                kind = TOLERANCE[task][0]
                peer.update(ratio=peer["seconds"]["estimate"] / ours["seconds"]["estimate"], ours=ours["estimates"],
                            difference=f"{diff:.4f} ({kind}){'' if ok else ' DISAGREE'}")  # fmt: skip
                rows.append(peer)
                print(f"{name} {n:>9,} nannyml     {peer['seconds']} {peer['peak_rss_mb']:.0f} MB, difference {diff:.4f}", flush=True)  # fmt: skip
                if not ok:
                    failed.append(f"{name} {n}: {diff:.4f}")
    meta = {"rows": args.rows, "reference_rows": args.reference_rows,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}  # fmt: skip
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "performance.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")
    (args.results / "performance.md").write_text(render(rows, meta))
    print(f"wrote {args.results / 'performance.md'}")
    if failed:
        print("estimates disagree: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        out = watchkeeper(json.loads(sys.argv[2]))
        print(json.dumps({**out, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    else:
        sys.exit(main())
