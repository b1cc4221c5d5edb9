"""NannyML worker of the performance benchmark, run by `benchmarks/performance.py` with NannyML's own interpreter.

`python performance_peers.py SPEC_JSON` prints one JSON line: seconds per step (read, fit, estimate), this process's
peak RSS and the estimates. Only the standard library is imported at the top: the file runs where Watchkeeper cannot.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings


def nannyml(spec: dict) -> dict:
    """NannyML's CBPE (binary) or DLE (regression) with defaults; the reference and the day are one chunk each."""
    import nannyml as nml
    import pandas as pd

    seconds = {}
    t = time.perf_counter()
    ref = pd.read_parquet(spec["reference"])
    day = pd.read_parquet(spec["day"], columns=spec["day_columns"])
    seconds["read"] = time.perf_counter() - t
    if spec["task"] == "binary_classification":
        estimator = nml.CBPE(
            metrics=spec["metrics"],
            y_pred_proba="score",
            y_pred="pred",
            y_true="y",
            problem_type="classification_binary",
            chunk_number=1,
        )
    else:
        estimator = nml.DLE(
            feature_column_names=spec["features"],
            y_pred="pred",
            y_true="y",
            metrics=spec["metrics"],
            chunk_number=1,
        )
    t = time.perf_counter()
    estimator.fit(ref)
    seconds["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    result = estimator.estimate(day).filter(period="analysis").to_df()
    seconds["estimate"] = time.perf_counter() - t
    return {
        "seconds": seconds,
        "estimates": {m: float(result[(m, "value")].iloc[0]) for m in spec["metrics"]},
        "sampling_error": {m: float(result[(m, "sampling_error")].iloc[0]) for m in spec["metrics"]},
    }


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    out = nannyml(json.loads(sys.argv[-1]))
    print(json.dumps({**out, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
