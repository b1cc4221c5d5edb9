"""A dataset the project has never seen, from its config alone: a regressor's labelled reference plus daily CSV
prediction and label files with their own column names, run day by day through `watchkeeper run-day`.

Estimates come before labels, realized metrics fill in each earlier day as its labels arrive (stored results and
MLflow runs), and a shift that raises the error is flagged by estimation on its own day.
"""

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from watchkeeper.cli import main

START = date(2031, 5, 1)
DAYS = 5
SHIFTED = START + timedelta(days=3)


def day_rows(rng, n, day, spread=1.0):
    """House prices in k€: the model knows size and rooms; the noise grows with the age spread (the shift widens it)."""
    age = rng.gamma(2, 15, n) * spread
    df = pd.DataFrame(
        {
            "listing": [f"L{day:%Y%m%d}{i:05d}" for i in range(n)],
            "listed_at": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "sqm": rng.normal(90, 25, n).clip(20),
            "rooms": rng.integers(1, 7, n),
            "building_age": age,
            "district": rng.choice(["n", "s", "e", "w"], n),
        }
    )
    df["price_hat"] = 50 + 3.1 * df["sqm"] + 8 * df["rooms"]
    df["sold_price"] = df["price_hat"] + rng.normal(0, 1, n) * (5 + 0.8 * df["building_age"])
    return df


@pytest.fixture
def world(tmp_path):
    rng = np.random.default_rng(4)
    data = tmp_path / "houses"
    (data / "daily").mkdir(parents=True)
    (data / "truth").mkdir()
    ref = pd.concat([day_rows(rng, 500, START - timedelta(days=15 - i)) for i in range(15)])
    ref.to_csv(data / "reference.csv", sep=";", index=False)
    days = {}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        df = day_rows(rng, 500, day, spread=2.5 if day == SHIFTED else 1.0)
        days[day] = df
        df.drop(columns=["sold_price"]).to_csv(data / "daily" / f"{day:%Y%m%d}.csv", sep=";", index=False)
        sold = days.get(day - timedelta(days=2))  # a sale closes two days after listing
        labels = (
            sold[["listing", "sold_price"]]
            if sold is not None
            else pd.DataFrame(columns=["listing", "sold_price"])
        )
        labels.to_csv(data / "truth" / f"{day:%Y%m%d}.csv", sep=";", index=False)
    config = {
        "name": "house_prices",
        "task": "regression",
        "storage": {"uri": str(data)},
        "paths": {"reference": "reference.csv", "predictions": "daily/{ds_nodash}.csv",
                  "labels": "truth/{ds_nodash}.csv", "csv": {"delimiter": ";"}},
        "columns": {"id": "listing", "timestamp": "listed_at", "features": ["sqm", "rooms", "building_age", "district"],
                    "prediction": "price_hat", "target": "sold_price"},
        "owners": {"data": {"name": "listings-data"}, "model": {"name": "pricing-ml"}},
        "performance": {"metrics": ["mae", "rmse", "r2", "bias"], "label_window_days": 7},
    }  # fmt: skip
    (tmp_path / "house_prices.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "house_prices.yaml", data, days


def test_unseen_regression_dataset_runs_from_its_config_alone(world, tmp_path):
    config, data, days = world
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    results = {}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        out = CliRunner().invoke(
            main, ["run-day", "--config", str(config), "--day", str(day), "--tracking-uri", tracking]
        )
        assert out.exit_code == 0, out.output
        results[day] = json.loads(out.stdout)

    def checks(day, name):
        return [c for c in results[day]["checks"] if c["name"] == name]

    # Day 1: no labels yet, an estimate with its sampling-error band.
    (est,) = checks(START, "estimated_mae")
    assert (
        est["status"] == "ok" and est["details"]["band_lower"] < est["value"] < est["details"]["band_upper"]
    )
    assert [c["reason"] for c in checks(START, "labels")] == ["no labels arrived today"]
    # Day 3: the labels of day 1 arrive; its realized MAE is scored and stored beside its estimate.
    (mae,) = checks(START + timedelta(days=2), "mae")
    assert mae["subject"] == f"mae@{START}" and mae["details"]["coverage"] == 1.0 and mae["status"] == "ok"
    truth = days[START]
    assert mae["value"] == pytest.approx((truth["price_hat"] - truth["sold_price"]).abs().mean())
    stored = json.loads(
        (
            data / "watchkeeper" / "house_prices" / "days" / str(START) / "performance" / "realized.json"
        ).read_text()
    )
    assert stored["estimated"]["mae"] == pytest.approx(est["value"]) and "mae" in stored["estimation_error"]
    # The shifted day: estimation flags the higher error before any of its labels exist.
    (shifted,) = checks(SHIFTED, "estimated_mae")
    assert shifted["status"] == "alert" and shifted["value"] > 1.5 * est["value"]
    # MLflow: the realized metric went into day 1's own run, stamped with the day its labels arrived.
    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    exp = client.get_experiment_by_name("watchkeeper/house_prices")
    run = client.search_runs([exp.experiment_id], f"tags.`watchkeeper.day` = '{START}'")[0]
    history = client.get_metric_history(run.info.run_id, "realized.mae")
    assert [h.value for h in history] == [pytest.approx(mae["value"])]
    assert run.data.metrics["performance.estimated_mae.band_upper"] == pytest.approx(
        est["details"]["band_upper"]
    )
