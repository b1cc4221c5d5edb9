"""Data-quality validation speed: GX on pandas (before) vs GX fed from Arrow summaries (after) vs a pandas floor.

Generates a reference and one day per size (30 feature columns: 20 numeric, 10 categorical; plus id and timestamp),
builds the suite with Watchkeeper's own generator, stages the day as Parquet, then runs each method in its own
process (so peak RSS is that method's), after importing GX, and checks the GX and fast results agree:
    uv run --frozen python benchmarks/quality.py [--rows 100000 1000000 5000000] [--out benchmarks/results/quality.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DAY = date(2026, 3, 1)
NUMERIC, CATEGORICAL = 20, 10
METHODS = {
    "gx_pandas": "GX 1.24 ValidationDefinition on pandas (before)",
    "fast": "GX metrics_validate on Arrow summaries (after)",
    "pandas_floor": "same checks hand-written in pandas/numpy (floor)",
}


def frame(rows: int, day: date, seed: int, incident: bool = False) -> pd.DataFrame:
    """One day of records; `incident` adds a few infs, a null burst and an unseen category (both paths must agree)."""
    rng = np.random.default_rng(seed)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    data: dict[str, object] = {
        "prediction_id": [f"{day:%Y%m%d}-{i:08d}" for i in range(rows)],
        "event_ts": pd.to_datetime(start) + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
    }
    for j in range(NUMERIC):
        x = rng.normal(j, 1 + j % 3, rows)
        if j % 4 == 0:
            x[rng.random(rows) < 0.05] = np.nan
        data[f"num_{j:02d}"] = x
    for j in range(CATEGORICAL):
        levels = np.array([f"c{j}_{k}" for k in range(3 + 4 * j)])
        data[f"cat_{j:02d}"] = levels[rng.integers(0, len(levels), rows)]
    df = pd.DataFrame(data)
    if incident:
        df.loc[:2, "num_01"] = np.inf
        df.loc[df.index[rng.random(rows) < 0.3], "num_02"] = np.nan
        df.loc[df.index[rng.random(rows) < 0.02], "cat_03"] = "never-seen"
    return df


def config(tmp: Path):
    import yaml
    from watchkeeper.config import load_config

    feats = [f"num_{j:02d}" for j in range(NUMERIC)] + [
        {"name": f"cat_{j:02d}", "kind": "categorical"} for j in range(CATEGORICAL)
    ]
    doc = {
        "name": "bench",
        "task": "regression",
        "storage": {"uri": str(tmp)},
        "paths": {"reference": "ref.parquet", "predictions": "days/{ds}.parquet"},
        "columns": {
            "id": "prediction_id",
            "timestamp": "event_ts",
            "features": feats,
            "prediction": "num_19",
            "target": "y",
        },  # fmt: skip
        "owners": {"data": {"name": "data"}, "model": {"name": "ml"}},
        "quality": {"expectations_dir": "no-suite"},  # relative, found nowhere: the suite is generated
    }
    doc["columns"]["features"] = feats[:19] + feats[20:]  # num_19 is the prediction
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def prepare(rows: int, tmp: Path) -> tuple[Path, Path]:
    """Write the day's staged Parquet and the generated suite; return their paths."""
    from watchkeeper.quality.suite import build_suite_dict, to_json

    cfg = config(tmp)
    ref = pd.concat(
        [frame(5_000, DAY - timedelta(days=d), seed=d) for d in range(10, 0, -1)], ignore_index=True
    )
    suite = build_suite_dict(cfg, ref)
    # The generator bounds row counts by the reference's day size; this benchmark scales the day instead.
    for e in suite["expectations"]:
        if e["type"] == "expect_table_row_count_to_be_between":
            e["kwargs"] = {"min_value": rows // 2, "max_value": rows * 2}
    suite_path = tmp / "suite.json"
    suite_path.write_text(to_json(suite))
    day_path = tmp / f"day-{rows}.parquet"
    pq.write_table(
        __import__("pyarrow").Table.from_pandas(frame(rows, DAY, 99, True), preserve_index=False), day_path
    )
    return day_path, suite_path


def params() -> dict:
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    return {"day_start": start.isoformat(), "day_end": (start + timedelta(days=1)).isoformat()}


def pandas_floor(suite: dict, df: pd.DataFrame) -> list[tuple[bool, int | None]]:
    """The suite's checks in plain pandas/numpy: (success, unexpected count) per expectation."""
    out: list[tuple[bool, int | None]] = []
    for e in suite["expectations"]:
        kind, kw = e["type"], e["kwargs"]
        col = df[kw["column"]] if kw.get("column") in df else None
        if kind == "expect_table_row_count_to_be_between":
            out.append((kw["min_value"] <= len(df) <= kw["max_value"], None))
        elif kind == "expect_column_to_exist":
            out.append((col is not None, None))
        elif kind == "expect_table_columns_to_match_set":
            out.append((set(df.columns) == set(kw["column_set"]), None))
        elif kind == "expect_compound_columns_to_be_unique":
            n = int(df[kw["column_list"]].duplicated(keep=False).sum())
            out.append((n == 0, n))
        elif col is None:
            out.append((False, None))
        elif kind == "expect_column_values_to_not_be_null":
            n = int(col.isna().sum())
            out.append((n == 0, n))
        elif kind == "expect_column_proportion_of_non_null_values_to_be_between":
            share = 1 - col.isna().mean()
            out.append((kw.get("min_value", 0) <= share <= kw.get("max_value", 1), None))
        elif kind == "expect_column_values_to_be_in_type_list":
            out.append((col.dtype.name in kw["type_list"], None))
        elif kind == "expect_column_values_to_be_unique":
            n = int(col.dropna().duplicated(keep=False).sum())
            out.append((n == 0, n))
        elif kind in ("expect_column_values_to_be_between", "expect_column_values_to_be_in_set"):
            present = col.dropna()
            if kind == "expect_column_values_to_be_in_set":
                bad = ~present.isin(kw["value_set"])
            else:
                lo, hi = kw.get("min_value"), kw.get("max_value")
                lo = params()[lo["$PARAMETER"]] if isinstance(lo, dict) else lo
                hi = params()[hi["$PARAMETER"]] if isinstance(hi, dict) else hi
                if pd.api.types.is_datetime64_any_dtype(present):
                    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
                v = present.to_numpy()
                bad = (v < lo) | ((v >= hi) if kw.get("strict_max") else (v > hi))
            n = int(bad.sum())
            out.append((not len(present) or (len(present) - n) / len(present) >= kw.get("mostly", 1.0), n))
        else:
            out.append((True, None))
    return [(bool(ok), n) for ok, n in out]


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM restarts at exec; ru_maxrss would carry the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_method(method: str, day_path: str, suite_path: str) -> dict:
    """One method on the staged day, after GX is imported; wall times and this process's peak RSS."""
    from watchkeeper.quality.gxload import gx

    gx()
    from watchkeeper.quality.fast import read_batch, validate_arrow
    from watchkeeper.quality.validate import run_suite

    suite = json.loads(Path(suite_path).read_text())
    base = peak_rss_mb()
    t0 = time.perf_counter()
    if method == "fast":
        batch = read_batch(day_path, suite)
        t1 = time.perf_counter()
        result = validate_arrow(suite, batch, params())
        outcome = [(r.success, (r.result or {}).get("unexpected_count")) for r in result.results]
        fallback = result.meta["gx_pandas_fallback"]
    else:
        df = pq.read_table(day_path).to_pandas()
        t1 = time.perf_counter()
        fallback = None
        if method == "gx_pandas":
            result = run_suite(suite, df, "bench", params())
            ordered = in_suite_order(suite, result.results)
            outcome = [(r.success, (r.result or {}).get("unexpected_count")) for r in ordered]
        else:
            outcome = pandas_floor(suite, df)
    t2 = time.perf_counter()
    rss = peak_rss_mb()
    return {
        "method": method,
        "read_s": t1 - t0,
        "validate_s": t2 - t1,
        "total_s": t2 - t0,
        "peak_rss_mb": rss,
        "import_rss_mb": base,
        "expectations": len(suite["expectations"]),
        "failed": sum(not s for s, _ in outcome),
        "outcome": outcome,
        "gx_pandas_fallback": fallback,
    }


def in_suite_order(suite: dict, results: list) -> list:
    """GX orders results by column; put them back in the suite's order, matched on their configuration."""
    from watchkeeper.quality.fast import _same
    from watchkeeper.quality.gxload import gx

    left, out = list(results), []
    for e in gx().ExpectationSuite(**suite).expectations:
        config = e.configuration
        config.process_suite_parameters(suite_parameters=params(), interactive_evaluation=True)
        match = next(r for r in left if _same(r.expectation_config, config))
        left.remove(match)
        out.append(match)
    return out


def measure(rows: list[int], methods: list[str], in_process: bool = False) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in rows:
            day_path, suite_path = prepare(n, Path(tmp))
            for method in methods:
                if in_process:
                    res = run_method(method, str(day_path), str(suite_path))
                else:
                    cmd = [sys.executable, __file__, "--child", method, str(day_path), str(suite_path)]
                    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    if done.returncode:
                        raise RuntimeError(f"{method} at {n} rows failed:\n{done.stderr[-3000:]}")
                    res = json.loads(done.stdout.strip().splitlines()[-1])
                out.append({"rows": n, **res})
                print(
                    f"{n:>9} rows  {method:13s} {res['total_s']:8.2f} s  {res['peak_rss_mb']:7.0f} MB",
                    file=sys.stderr,
                )
    return out


def agreement(results: list[dict], rows: int) -> str:
    """Whether GX and the fast path agree on every expectation's success and unexpected count."""
    by = {r["method"]: r for r in results if r["rows"] == rows}
    if "gx_pandas" not in by or "fast" not in by:
        return "n/a"
    same = by["gx_pandas"]["outcome"] == by["fast"]["outcome"]
    return "identical" if same else "DIFFERENT"


def table(results: list[dict]) -> str:
    lines = [
        "| rows | method | read s | validate s | total s | peak RSS MB (after imports) | expectations | failed "
        "| GX vs fast at this size |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {METHODS[r['method']]} | {r['read_s']:.2f} | {r['validate_s']:.2f} | "
            f"{r['total_s']:.2f} | {r['peak_rss_mb']:.0f} ({r['import_rss_mb']:.0f}) | {r['expectations']} | {r['failed']} | "
            f"{agreement(results, r['rows'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(run_method(*sys.argv[2:5])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--out", type=Path, default=None, help="Also write the markdown table here.")
    args = ap.parse_args()
    results = measure(args.rows, args.methods)
    text = table(results)
    print(text)
    if args.out:
        machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# Data-quality validation: before / after\n\n"
            f"`uv run --frozen python benchmarks/quality.py --rows {' '.join(map(str, args.rows))}` on {machine}; "
            "the machine was shared with other work, so absolute times are noisy.\n\n" + text
        )


if __name__ == "__main__":
    main()
