"""Multivariate drift by PCA reconstruction: it sees a changed correlation that per-column checks cannot."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from watchkeeper.drift.methods import get_method
from watchkeeper.drift.multivariate import _matrix, fit, score

rng = np.random.default_rng(4)
DEVKIT = Path(__file__).resolve().parents[3] / "shared" / "devkit" / "work_from_home"


def correlated(n: int, sign: float) -> pd.DataFrame:
    s = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "a": s + rng.normal(0, 0.2, n),
            "b": sign * s + rng.normal(0, 0.2, n),
            "c": rng.choice(["u", "v"], n),
        }
    )


def test_a_correlation_flip_raises_the_error_while_each_column_stays_the_same():
    ref = correlated(20_000, 1.0)
    state = fit(ref, ["a", "b"], ["c"])
    same, _ = score(state, correlated(3000, 1.0))
    flipped_day = correlated(3000, -1.0)
    flipped, shares = score(state, flipped_day)
    assert flipped > 1.5 * same
    assert set(list(shares)[:2]) == {"a", "b"}
    ks = get_method("ks", "numeric")
    assert ks.compare(ref["b"].to_numpy(), flipped_day["b"].to_numpy()) < 0.05  # per column: no drift


def test_missing_values_and_unseen_categories_are_handled():
    ref = correlated(5000, 1.0)
    state = fit(ref, ["a", "b"], ["c"])
    day = correlated(500, 1.0)
    day.loc[:50, "a"] = np.nan
    day.loc[:20, "c"] = "new"
    value, _ = score(state, day)
    assert np.isfinite(value)
    json.dumps(state)  # the fitted state is plain JSON for the cached profile


@pytest.mark.skipif(not DEVKIT.is_dir(), reason="the shared devkit is not beside the project")
def test_reconstruction_error_matches_nannyml_on_the_devkit():
    expected = json.loads((DEVKIT / "expected_outcomes.json").read_text())
    ref = pd.read_parquet(DEVKIT / "reference.parquet")
    state = fit(ref, ["distance_from_office", "gas_price_per_litre", "public_transportation_cost", "tenure"],
                ["salary_range", "wfh_prev_workday", "workday"])  # fmt: skip
    for day in (d for d in expected["days"] if d["period"] == "analysis"):
        value, _ = score(state, pd.read_parquet(DEVKIT / "days" / f"{day['date']}.parquet"))
        peer = day["results"]["multivariate_drift_pca"]["reconstruction_error"]["value"]
        assert value == pytest.approx(peer, abs=1e-3), day["date"]


def test_batched_gram_scoring_equals_explicit_reconstruction():
    ref = correlated(5000, 1.0)
    state = fit(ref, ["a", "b"], ["c"])
    day = correlated(3000, -1.0)
    x = _matrix(state, day)
    comp, mean = np.asarray(state["components"]), np.asarray(state["pca_mean"])
    residual = (x - mean - (x - mean) @ comp.T @ comp) ** 2
    rise = np.clip(residual.mean(axis=0) - np.asarray(state["reference_residual"]), 0, None)
    table = pa.Table.from_pandas(day, preserve_index=False)
    value, shares = score(state, table.to_batches(max_chunksize=700))  # five uneven batches
    assert value == pytest.approx(np.sqrt(residual.sum(axis=1)).mean(), rel=1e-12)
    assert [shares[c] for c in ("a", "b", "c")] == pytest.approx(list(rise / rise.sum()), rel=1e-9)


@pytest.mark.parametrize("variance", [0.2, 0.999])
def test_scoring_through_the_components_or_what_they_leave_out_equals_explicit_reconstruction(variance):
    """A PCA keeping few components is scored through them, one keeping most through the few directions it leaves
    out (less work): both give the mean error and column shares of reconstructing each row, with infinities and
    missing values imputed as the reference's means."""
    gen = np.random.default_rng(9)
    mix = gen.normal(size=(8, 8))
    cols = [f"x{i}" for i in range(8)]
    ref = pd.DataFrame(gen.normal(size=(4000, 8)) @ mix, columns=cols)
    state = fit(ref, cols, [], variance)
    kept = len(state["components"])
    assert (kept <= 2) if variance < 0.5 else (kept >= 6)  # each path taken
    day = pd.DataFrame(gen.normal(size=(2500, 8)) @ (mix + 0.3 * gen.normal(size=(8, 8))), columns=cols)
    day.loc[:9, "x0"], day.loc[10:19, "x3"] = np.inf, np.nan
    x = _matrix(state, day)
    assert np.isfinite(x).all()
    comp, mean = np.asarray(state["components"]), np.asarray(state["pca_mean"])
    residual = (x - mean - (x - mean) @ comp.T @ comp) ** 2
    rise = np.clip(residual.mean(axis=0) - np.asarray(state["reference_residual"]), 0, None)
    value, shares = score(
        state, pa.Table.from_pandas(day, preserve_index=False).to_batches(max_chunksize=600)
    )
    assert value == pytest.approx(np.sqrt(residual.sum(axis=1)).mean(), rel=1e-12)
    assert [shares[c] for c in cols] == pytest.approx(list(rise / rise.sum()), rel=1e-9)


def test_the_reference_level_of_the_error_is_what_new_healthy_days_show_not_the_fitted_rows():
    """40 features and 30 rows a day: a PCA scoring the rows it was fitted on fits their noise and measures
    errors well below a new day's (by 1-2.6 day-to-day std over seeds); the profile's out-of-fold level does not."""
    from datetime import UTC, date, datetime, timedelta

    from watchkeeper.config import parse_config
    from watchkeeper.reference import build_profile

    gen = np.random.default_rng(0)
    p, per_day = 40, 30
    mix = gen.normal(size=(p, p)) * np.linspace(1, 0.2, p)

    def days(n: int) -> pd.DataFrame:
        x = gen.normal(size=(n * per_day, p)) @ mix
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(p)])
        start = datetime.combine(date(2025, 1, 1), datetime.min.time(), tzinfo=UTC)
        return frame.assign(
            ts=[start + timedelta(days=i // per_day, seconds=i % per_day) for i in range(len(frame))],
            pred=frame["f0"],
            y=frame["f0"] + gen.normal(size=len(frame)),
        )

    cfg = parse_config({
        "name": "wide", "task": "regression", "storage": {"uri": "/nowhere"},
        "paths": {"reference": "ref.parquet", "predictions": "d/{ds}.parquet"},
        "columns": {"id": "id", "timestamp": "ts", "features": [f"f{i}" for i in range(p)], "prediction": "pred",
                    "target": "y"},
        "owners": {"data": {"name": "d"}, "model": {"name": "m"}},
        "performance": {"metrics": ["mae"]}, "reference": {"bootstrap_samples": 5},
    })  # fmt: skip
    ref = days(12)
    entry = build_profile(cfg, ref)["multivariate"]
    fresh = days(50)
    healthy = [score(entry["state"], fresh.iloc[i * per_day : (i + 1) * per_day])[0] for i in range(50)]
    assert abs(entry["center"] - np.mean(healthy)) < 0.75 * entry["days_std"]
