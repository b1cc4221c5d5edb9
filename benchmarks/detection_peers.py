"""NannyML worker of the detection benchmark, run by `benchmarks/detection.py` with NannyML's own interpreter.

On one scenario's files (reference, production days, label files), with NannyML's defaults and one chunk per day:
univariate drift (features and outputs), data-reconstruction (multivariate) drift, CBPE or DLE, realized
performance, unseen and missing values. Prints, per production day, the owners its alerts would go to: drift and
performance → model; unseen and missing values → data. Realized performance of a day counts on the next day, when
its labels arrive.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path


def _alert_days(result) -> dict[str, list[str]]:
    """Chunk start date → the alerting (column, method) names of a NannyML result."""
    df = result.filter(period="analysis").to_df()
    start = next(c for c in df.columns if c[-1] == "start_date")
    out: dict[str, list[str]] = {}
    for col in (c for c in df.columns if c[-1] == "alert" and c[0] != "chunk"):
        for day, alert in zip(df[start], df[col], strict=True):
            if alert:
                out.setdefault(str(day)[:10], []).append(":".join(str(p) for p in col[:-1]))
    return out


def run(spec: dict) -> dict:
    import nannyml as nml
    import pandas as pd

    root = Path(spec["data"])
    ref = pd.read_parquet(root / "ref.parquet")
    days = pd.concat(
        [pd.read_parquet(p) for p in sorted((root / "days").glob("*.parquet"))], ignore_index=True
    )
    labels = pd.concat(
        [pd.read_parquet(p) for p in sorted((root / "labels").glob("*.parquet"))], ignore_index=True
    )
    labelled = days.merge(labels, on="pid", how="left")
    for frame in (ref, days, labelled):
        frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize(None)
    features, task = spec["features"], spec["task"]
    outputs = ["score", "pred"] if task == "binary_classification" else ["pred"]
    common = {"timestamp_column_name": "ts", "chunk_period": "D"}
    by_owner: dict[str, dict[str, list[str]]] = {"model": {}, "data": {}}

    def add(owner: str, alerts: dict[str, list[str]], lag_days: int = 0) -> None:
        for day, names in alerts.items():
            key = str((pd.Timestamp(day) + pd.Timedelta(days=lag_days)).date())
            by_owner[owner].setdefault(key, []).extend(names)

    calculators = [
        ("model", nml.UnivariateDriftCalculator(column_names=features + outputs, **common), days, 0),
        ("model", nml.DataReconstructionDriftCalculator(column_names=features, **common), days, 0),
        ("data", nml.UnseenValuesCalculator(column_names=spec["categorical"], **common), days, 0),
        ("data", nml.MissingValuesCalculator(column_names=features, **common), days, 0),
    ]
    if task == "binary_classification":
        args = {
            "y_pred_proba": "score",
            "y_pred": "pred",
            "y_true": "label",
            "problem_type": "classification_binary",
        }
        metrics = ["roc_auc", "f1", "precision", "recall", "accuracy"]
        calculators.append(("model", nml.CBPE(metrics=metrics, **args, **common), days, 0))
        calculators.append(
            ("model", nml.PerformanceCalculator(metrics=metrics, **args, **common), labelled, 1)
        )
    else:
        args = {"y_pred": "pred", "y_true": "label", "problem_type": "regression"}
        metrics = ["mae", "rmse"]
        calculators.append(
            (
                "model",
                nml.DLE(
                    feature_column_names=features, y_pred="pred", y_true="label", metrics=metrics, **common
                ),
                days,
                0,
            )
        )
        calculators.append(
            ("model", nml.PerformanceCalculator(metrics=metrics, **args, **common), labelled, 1)
        )
    for owner, calc, data, lag in calculators:
        calc.fit(ref)
        result = calc.estimate(data) if hasattr(calc, "estimate") else calc.calculate(data)
        add(owner, _alert_days(result), lag)
    return by_owner


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    print(json.dumps(run(json.loads(sys.argv[-1]))))
