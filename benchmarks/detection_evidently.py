"""Evidently worker of the detection benchmark, run by `benchmarks/detection.py` with Evidently's own interpreter.

On one scenario's files (reference, production days, label files), with Evidently 0.7's defaults (`Report(...,
include_tests=True)`, each test's default condition against the reference), one report per day:
- `DataDriftPreset()` over the features and the model's outputs: a failed test is an alert to the **model** owner,
  both the dataset-drift test (share of drifted columns ≥ 0.5) and each column's value-drift test;
- `MissingValueCount(column)` for every feature (count and share equal to the reference's ± 10 %): a failed test is
  an alert to the **data** owner; Evidently has no owners, and missing values are the data owner's in NannyML's
  mapping too (Evidently 0.7 has no unseen-category test, so a new category can only show as drift);
- `ClassificationPreset()` or `RegressionPreset()` on the rows whose labels arrived that day (the previous day's
  predictions; default tests: each metric equal to the reference's ± 20 % or ± 10 %): a failed test is an alert
  to the **model** owner on the day the labels arrive, as Watchkeeper's realized performance and NannyML's.
Prints one JSON line: owner → production day → alerting test names. Only the standard library is imported at the
top, so the file runs under an interpreter that cannot import Watchkeeper.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path


def _failed(snapshot) -> list[str]:
    """The names of a report's failed tests (status FAIL; WARNING and ERROR are not alerts)."""
    return [t["name"] for t in snapshot.dict()["tests"] if str(t["status"]).rsplit(".", 1)[-1] == "FAIL"]


def run(spec: dict) -> dict:
    import pandas as pd
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.metrics import MissingValueCount
    from evidently.presets import ClassificationPreset, DataDriftPreset, RegressionPreset

    root = Path(spec["data"])
    features, task, categorical = spec["features"], spec["task"], spec["categorical"]
    classifier = task == "binary_classification"
    outputs = ["score", "pred"] if classifier else ["pred"]
    ref = pd.read_parquet(root / "ref.parquet")
    numeric = [c for c in features + outputs if c not in categorical and not (classifier and c == "pred")]
    cats = [c for c in features + outputs if c not in numeric]

    def dataset(frame: pd.DataFrame, labelled: bool) -> Dataset:
        task_def = {}
        if labelled and classifier:
            task_def = {
                "classification": [
                    BinaryClassification(target="label", prediction_labels="pred", prediction_probas="score")
                ]
            }
        elif labelled:
            task_def = {"regression": [Regression(target="label", prediction="pred")]}
        definition = DataDefinition(
            numerical_columns=numeric + (["label"] if labelled and not classifier else []),
            categorical_columns=cats + (["label"] if labelled and classifier else []),
            **task_def,
        )
        return Dataset.from_pandas(frame, data_definition=definition)

    drift = Report(
        [DataDriftPreset(columns=features + outputs), *(MissingValueCount(column=c) for c in features)],
        include_tests=True,
    )
    performance = Report([ClassificationPreset() if classifier else RegressionPreset()], include_tests=True)
    ref_plain, ref_labelled = dataset(ref, False), dataset(ref, True)
    by_owner: dict[str, dict[str, list[str]]] = {"model": {}, "data": {}}
    previous = None
    for path in sorted((root / "days").glob("*.parquet")):
        day = path.stem
        frame = pd.read_parquet(path)
        for name in _failed(drift.run(dataset(frame, False), ref_plain)):
            owner = "data" if name.startswith("Column '") and "missing values" in name else "model"
            by_owner[owner].setdefault(day, []).append(name)
        labels = root / "labels" / f"{day}.parquet"
        if previous is not None and labels.exists():
            labelled = previous.merge(pd.read_parquet(labels), on="pid", how="inner")
            for name in _failed(performance.run(dataset(labelled, True), ref_labelled)):
                by_owner["model"].setdefault(day, []).append(name)
        previous = frame
    return by_owner


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    print(json.dumps(run(json.loads(sys.argv[-1]))))
