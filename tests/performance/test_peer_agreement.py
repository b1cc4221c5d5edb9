"""Cross-check with a peer: on the third-party devkit (NannyML's synthetic work-from-home data, in ../shared),
our CBPE estimates equal NannyML 0.13.1's published per-day estimates. A correctness check, not a tuning target."""

import json
from pathlib import Path

import pandas as pd
import pytest
from watchkeeper.performance.estimation import estimate, fit_calibration

DEVKIT = Path(__file__).resolve().parents[3] / "shared" / "devkit" / "work_from_home"
pytestmark = pytest.mark.skipif(not DEVKIT.is_dir(), reason="the shared devkit is not beside the project")


def test_cbpe_estimates_match_nannyml_on_every_devkit_day():
    expected = json.loads((DEVKIT / "expected_outcomes.json").read_text())
    ref = pd.read_parquet(DEVKIT / "reference.parquet")
    cal = fit_calibration(ref["y_pred_proba"].to_numpy(), ref["work_home_actual"].to_numpy())
    compared = 0
    for day in (d for d in expected["days"] if d["period"] == "analysis"):
        df = pd.read_parquet(DEVKIT / "days" / f"{day['date']}.parquet")
        peer = day["results"]["estimated_performance"]
        for metric in ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy"):
            ours = estimate(metric, cal, df["y_pred"].to_numpy(), df["y_pred_proba"].to_numpy())
            assert ours == pytest.approx(peer[metric]["value"], abs=2e-3), (day["date"], metric)
            compared += 1
    assert compared == 60
