"""Peer workers of the drift benchmark, run by `benchmarks/drift.py` with each peer's own virtualenv interpreter.

`python drift_peers.py [worker] evidently|nannyml SPEC_JSON` prints one JSON line: seconds per step, this process's peak
RSS, the day's size as a pandas DataFrame, and a few values. Only the standard library is imported at the top, so
the file runs under interpreters that cannot import Watchkeeper.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

from peer_steps import nannyml_drift, usage


def evidently(spec: dict) -> dict:
    """Evidently's DataDriftPreset with defaults, end to end: read both files with pandas, run the report, dump it."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    seconds = {}
    t = time.perf_counter()
    ref = pd.read_parquet(spec["reference"])
    day = pd.read_parquet(spec["day"])
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    result = Report([DataDriftPreset()]).run(day, ref).dict()
    seconds["report"] = time.perf_counter() - t
    drifted = next(m for m in result["metrics"] if m["metric_name"].startswith("DriftedColumnsCount"))
    return {
        "seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "pandas_day_mb": day.memory_usage(deep=True).sum() / 2**20,
        "drifted_columns": drifted["value"]["count"],
    }


def nannyml(spec: dict) -> dict:
    """NannyML's UnivariateDriftCalculator with our statistics where it has them; the day is one chunk."""
    import nannyml as nml
    import pandas as pd

    seconds = {}
    t = time.perf_counter()
    ref = pd.read_parquet(spec["reference"])
    day = pd.read_parquet(spec["day"])
    seconds["read"] = time.perf_counter() - t
    calc = nannyml_drift(nml, spec)
    t = time.perf_counter()
    calc.fit(ref)
    seconds["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    result = calc.calculate(day).filter(period="analysis").to_df()
    seconds["calculate"] = time.perf_counter() - t
    ks = result[(spec["numeric"][0], "kolmogorov_smirnov", "value")].iloc[0]
    return {
        "seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "pandas_day_mb": day.memory_usage(deep=True).sum() / 2**20,
        "ks_first_numeric": float(ks),
    }


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    tool, spec = sys.argv[-2], json.loads(sys.argv[-1])  # after an optional "worker"
    out = {"evidently": evidently, "nannyml": nannyml}[tool](spec)
    print(json.dumps({**out, "peak_rss_mb": usage()["peak_rss_mb"]}))
