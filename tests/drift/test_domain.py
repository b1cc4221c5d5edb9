"""Domain classifier: ROC AUC near 0.5 on reference-like days, bounds from reference-vs-reference runs, and a joint
change with unchanged marginals caught."""

import numpy as np
import pandas as pd
import pytest
from watchkeeper.config import parse_config
from watchkeeper.drift.day import DayColumns
from watchkeeper.drift.detection_profile import fit_detection
from watchkeeper.drift.domain import domain_check
from watchkeeper.drift.methods import REGISTRY
from watchkeeper.reference import Monitored, null_masks

rng = np.random.default_rng(4)
CFG = parse_config(
    {
        "name": "m",
        "task": "binary_classification",
        "storage": {"uri": "/tmp/x"},
        "paths": {"reference": "ref.csv", "predictions": "p/{ds}.csv"},
        "columns": {"id": "id", "features": ["a", "b"], "prediction": "pred", "target": "y"},
        "owners": {"data": {"name": "d"}, "model": {"name": "m"}},
        "drift": {"domain_classifier": True},
        "reference": {"bootstrap_samples": 5},
    }
)


def _rows(n: int, rho: float) -> pd.DataFrame:
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b})


@pytest.mark.slow  # fits the classifier a dozen times
def test_bounds_hold_a_healthy_day_and_a_broken_correlation_is_caught():
    ref = _rows(3000, 0.8)
    parts = [ref.iloc[i : i + 500] for i in range(0, 3000, 500)]
    chunk_masks, boot_masks = null_masks(CFG, ref, parts)
    monitored = [Monitored("a", "numeric", "feature"), Monitored("b", "numeric", "feature")]
    entry = fit_detection(CFG, ref, monitored, chunk_masks, boot_masks, 5, {})["domain_classifier"]
    assert 0.5 < entry["upper"] < 0.7 and "split over 5 checks" in entry["rule"]
    healthy = domain_check(CFG, DayColumns.from_pandas(_rows(500, 0.8)), entry, None)
    assert healthy.status == "ok" and 0.4 < healthy.value < entry["upper"]
    broken = domain_check(CFG, DayColumns.from_pandas(_rows(500, -0.8)), entry, None)  # same marginals
    assert broken.status == "alert" and broken.value > 0.8 and "ROC AUC" in broken.reason


def test_registered_in_the_method_table():
    assert ("domain_classifier", "multivariate") in REGISTRY
