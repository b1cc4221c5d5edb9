"""Peer workers of the whole-day benchmark, each run in a fresh process by `benchmarks/day.py`.

`python day_peers.py gx|evidently|nannyml SPEC_JSON` prints one JSON line: seconds per step, this process's CPU
seconds (imports included) and peak RSS. `gx` runs in the project's environment (GX on pandas with the same suite as
Watchkeeper's day); `evidently` and `nannyml` run with their own virtualenv interpreters. Only the standard library is
imported at the top.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

from peer_steps import nannyml_drift, usage


def gx(spec: dict) -> dict:
    """The day's suite validated by GX on pandas (ValidationDefinition over the whole DataFrame)."""
    import pandas as pd
    from watchkeeper.config import load_config
    from watchkeeper.quality.suite import load_suite_dict
    from watchkeeper.quality.validate import run_suite
    from watchkeeper.reference import load_reference
    from watchkeeper.storage import Storage

    seconds = {}
    t = time.perf_counter()
    cfg = load_config(spec["config"])
    suite, _ = load_suite_dict(cfg, lambda: load_reference(cfg, Storage.from_uri(cfg.storage.uri)))
    day = pd.read_parquet(spec["day"])
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    result = run_suite(suite, day, "peer-gx", spec["parameters"])
    seconds["validate"] = time.perf_counter() - t
    return {"seconds": seconds, "success": bool(result.success)}


def evidently(spec: dict) -> dict:
    """Evidently's DataDriftPreset with defaults over the features."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    seconds = {}
    t = time.perf_counter()
    ref = pd.read_parquet(spec["reference"], columns=spec["features"])
    day = pd.read_parquet(spec["day"], columns=spec["features"])
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    Report([DataDriftPreset()]).run(reference_data=ref, current_data=day).dict()
    seconds["drift"] = time.perf_counter() - t
    return {"seconds": seconds}


def nannyml(spec: dict) -> dict:
    """NannyML's univariate drift and CBPE on the day, and realized performance of every prediction day that got
    labels today (today's label file joined to the window's prediction files with pandas)."""
    import nannyml as nml
    import pandas as pd

    seconds = {}
    t = time.perf_counter()
    ref = pd.read_parquet(spec["reference"])
    day = pd.read_parquet(spec["day"])
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    calc = nannyml_drift(nml, spec)
    calc.fit(ref)
    calc.calculate(day)
    seconds["drift"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics = ["roc_auc", "f1", "precision", "recall", "accuracy"]
    kw = {
        "y_pred_proba": "score",
        "y_pred": "pred",
        "y_true": "label",
        "problem_type": "classification_binary",
    }
    cbpe = nml.CBPE(metrics=metrics, chunk_number=1, **kw)
    cbpe.fit(ref)
    cbpe.estimate(day)
    seconds["cbpe"] = time.perf_counter() - t
    t = time.perf_counter()
    if spec.get("labels"):
        labels = pd.read_parquet(spec["labels"])
        perf = nml.PerformanceCalculator(metrics=metrics, chunk_number=1, **kw)
        perf.fit(ref)
        for path in spec["window_days"]:
            preds = pd.read_parquet(path, columns=["id", "score", "pred"])
            joined = preds.merge(labels, on="id", how="inner")
            if len(joined) > 100:
                perf.calculate(joined)
    seconds["realized"] = time.perf_counter() - t
    return {"seconds": seconds}


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    tool, spec = sys.argv[-2], json.loads(sys.argv[-1])
    out = {"gx": gx, "evidently": evidently, "nannyml": nannyml}[tool](spec)
    print(json.dumps({**out, **usage()}))
