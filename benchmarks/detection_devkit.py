"""The third-party devkit (`../shared/devkit/work_from_home`, NannyML's synthetic work-from-home data) day by day
through `run_day`, from configuration alone, against the MUST outcomes of its `expected_outcomes.json`.

Each day's labels are read from `labels/<day>` (the same day's labels, arriving that day). Prints, per day, who was
told and the alerting checks, then one line per MUST outcome: the days it wants, the days Watchkeeper alerted.
The devkit is read-only; results go to a temporary directory.

    uv run --frozen python benchmarks/detection_devkit.py [--devkit DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from watchkeeper.config import parse_config
from watchkeeper.pipeline import run_day
from watchkeeper.storage import Storage

HERE = Path(__file__).resolve().parent
FEATURES = ["distance_from_office", "salary_range", "gas_price_per_litre", "public_transportation_cost",
            "wfh_prev_workday", "workday", "tenure"]  # fmt: skip
MUST_CHECKS = {
    "realized_performance": lambda leaf: f"performance.{leaf}:{leaf}",
    "estimated_performance": lambda leaf: f"performance.estimated_{leaf}:estimated_{leaf}",
    "multivariate_drift_pca": lambda leaf: "drift.pca_reconstruction_error:multivariate",
    "univariate_drift": lambda leaf: f":{leaf.split('.')[0]}",
}
"""An acceptance line's calculator → the prefix (or, for columns, the `:subject` ending) of the checks it names."""


def find_devkit() -> Path | None:
    for base in [HERE, *HERE.parents]:
        if (base / "shared" / "devkit" / "work_from_home").is_dir():
            return base / "shared" / "devkit" / "work_from_home"
    return None


def config(devkit: Path, results: Path) -> dict:
    return {
        "name": "work-from-home",
        "task": "binary_classification",
        "storage": {"uri": str(devkit), "results_uri": str(results)},
        "paths": {"reference": "reference.parquet", "predictions": "days/{ds}.parquet", "labels": "labels/{ds}.parquet"},
        "columns": {"id": "id", "timestamp": "timestamp", "features": FEATURES, "score": "y_pred_proba",
                    "prediction": "y_pred", "target": "work_home_actual", "positive_label": 1},
        "owners": {"data": {"name": "data"}, "model": {"name": "model"}},
        "quality": {"expectations_dir": "no-suite"},
    }  # fmt: skip


def _matches(check: str, calc: str, leaf: str) -> bool:
    want = MUST_CHECKS[calc](leaf)
    if calc == "univariate_drift":
        return check.startswith("drift.") and check.endswith(want)
    return want in check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devkit", type=Path, default=find_devkit())
    args = parser.parse_args(argv)
    if args.devkit is None or not args.devkit.is_dir():
        print("no devkit found (../shared/devkit/work_from_home)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    expected = json.loads((args.devkit / "expected_outcomes.json").read_text())
    days = sorted(d["date"] for d in expected["days"] if d["period"] == "analysis")
    alerts: dict[str, list[str]] = {}
    started = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(config(args.devkit, Path(tmp)))
        storage, results = Storage.from_uri(str(args.devkit)), Storage.from_uri(tmp)
        first = date.fromisoformat(days[0])
        for t in range(len(days)):
            result = run_day(cfg, first + timedelta(days=t), storage, results)
            told = sorted({a.owner for a in result.actions if a.kind == "notify" and a.checks})
            alerts[days[t]] = sorted({f"{c.id}:{c.subject}" for c in result.alerts})
            print(f"{days[t]}  told: {', '.join(told) or '-':12} {', '.join(alerts[days[t]])}")
    print(f"Watchkeeper CPU seconds: {time.process_time() - started:.0f}")
    met = True
    for line in (a for a in expected["acceptance"] if a["level"] == "must"):
        for leaf in line["leaves"]:
            got = [d for d in days if any(_matches(c, line["calc"], leaf) for c in alerts[d])]
            want = sorted(line["days"])
            ok = got == want if line["kind"] == "exact" else set(want) <= set(got)
            met &= ok
            print(
                f"{'ok ' if ok else 'NO '} {line['id']} {leaf}: wants {want[0]}..{want[-1]} ({line['kind']}), alerted {got}"
            )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
