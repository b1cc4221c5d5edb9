"""The regressor demo world's ground truth holds: each scripted incident is really in its data, and nothing else is."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import incident, stored_frame
from watchkeeper.demo import WORLDS, generate_delivery_world


@pytest.fixture(scope="module")
def world():
    store: dict[str, bytes] = {}
    manifest = generate_delivery_world(store.__setitem__, rows_per_day=800)
    return store, manifest


@pytest.fixture(scope="module")
def joined(world):
    store, _ = world
    labels = pd.concat(
        [stored_frame(store, k).assign(arrived=k[7:17]) for k in sorted(store) if k.startswith("labels/")]
    )
    preds = pd.concat(
        [stored_frame(store, k).assign(day=k[12:22]) for k in store if k.startswith("predictions/")]
    )
    last = labels.drop_duplicates("order_id", keep="last")  # the resend's corrected values win
    out = preds.merge(last, on="order_id")
    out["error"] = out["predicted_minutes"] - out["delivery_minutes"]
    return labels, preds, out


def test_layout_determinism_and_registry(world):
    store, manifest = world
    assert WORLDS["delivery_time"] is generate_delivery_world
    assert len([k for k in store if k.startswith("predictions/")]) == 60
    assert len([k for k in store if k.startswith("labels/")]) == 60
    assert {"reference/reference.parquet", "model/model.pkl", "incidents.json"} <= set(store)
    again: dict[str, bytes] = {}
    generate_delivery_world(again.__setitem__, rows_per_day=800)
    assert again["labels/2026-01-20.parquet"] == store["labels/2026-01-20.parquet"]
    assert json.loads(store["incidents.json"]) == manifest
    ref = stored_frame(store, "reference/reference.parquet")
    assert ref["order_id"].is_unique and ref["delivery_minutes"].notna().all()


def test_data_quality_day_only(world):
    store, manifest = world
    day = incident(manifest, "data_quality")["start"]
    for key in (k for k in store if k.startswith("predictions/")):
        share = stored_frame(store, key)["prep_minutes"].isna().mean()
        assert share == pytest.approx(0.4, abs=0.06) if day in key else share == 0


def test_covariate_shift_moves_distance_and_raises_the_error(world, joined):
    store, manifest = world
    _, _, j = joined
    inc = incident(manifest, "covariate_drift")
    inside = j[j["day"].between(inc["start"], inc["end"])]
    healthy = j[j["day"].isin(manifest["healthy_days"])]
    assert inside["distance_km"].mean() > 1.5 * healthy["distance_km"].mean()
    assert inside["error"].abs().mean() > 1.3 * healthy["error"].abs().mean()
    assert abs(inside["error"].mean()) < 0.5  # still unbiased: only the spread grew, which inputs reveal


def test_concept_drift_shows_only_in_labels(world, joined):
    _, manifest = world
    _, _, j = joined
    inc = incident(manifest, "concept_drift")
    inside = j[j["day"].between(inc["start"], inc["end"])]
    healthy = j[j["day"].isin(manifest["healthy_days"])]
    assert inside["error"].mean() < -2.5 and abs(healthy["error"].mean()) < 0.3  # deliveries now take longer
    for col in ("distance_km", "predicted_minutes", "prep_minutes"):
        assert inside[col].mean() == pytest.approx(healthy[col].mean(), rel=0.05)


def test_labels_arrive_one_to_three_days_late_and_some_never(world, joined):
    _, manifest = world
    labels, preds, j = joined
    resend = incident(manifest, "label_conflicts")
    delay = (pd.to_datetime(labels["arrived"]) - pd.to_datetime(labels["order_id"].str[:10])).dt.days
    resent = (labels["arrived"] == resend["start"]) & labels["order_id"].str.startswith(
        resend["prediction_day"]
    )
    assert delay[~resent].between(1, 3).all() and (delay[resent] == 4).all()
    early = preds[preds["day"] < "2026-02-20"]  # labels of the last days arrive after the world ends
    assert 1 - early["order_id"].isin(labels["order_id"]).mean() == pytest.approx(0.03, abs=0.015)
    assert set(labels["order_id"]) <= set(preds["order_id"])


def test_the_resend_repeats_a_day_with_some_values_changed(world):
    store, manifest = world
    inc = incident(manifest, "label_conflicts")
    resend = stored_frame(store, f"labels/{inc['start']}.parquet")
    repeated = resend[resend["order_id"].str.startswith(inc["prediction_day"])]
    firsts = pd.concat(
        [stored_frame(store, k) for k in sorted(store) if k.startswith("labels/") and k[7:17] < inc["start"]]
    )
    before = repeated.merge(firsts, on="order_id", suffixes=("", "_before"))
    within = repeated.groupby("order_id")["delivery_minutes"].nunique()
    changed = (before["delivery_minutes"] != before["delivery_minutes_before"]).sum() + (within > 1).sum()
    assert changed == inc["conflicting_labels"] > 0
    assert np.abs(before["delivery_minutes"] - before["delivery_minutes_before"]).max() <= 4.01
