"""The demo world's ground truth holds: each scripted incident is really in the data, and nothing else is."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import incident, stored_frame
from sklearn.metrics import roc_auc_score
from watchkeeper.demo import generate_world
from watchkeeper.demo.score import score
from watchkeeper.result import Check, DayResult


@pytest.fixture(scope="module")
def world():
    store: dict[str, bytes] = {}
    manifest = generate_world(store.__setitem__, rows_per_day=1500)
    return store, manifest


def test_layout_determinism_and_unique_ids(world):
    store, manifest = world
    assert len([k for k in store if k.startswith("predictions/")]) == 60
    assert len([k for k in store if k.startswith("labels/")]) == 60
    assert {"reference/reference.parquet", "model/model.pkl", "incidents.json"} <= set(store)
    again: dict[str, bytes] = {}
    generate_world(again.__setitem__, rows_per_day=1500)
    assert again["predictions/2026-01-20.parquet"] == store["predictions/2026-01-20.parquet"]
    ids = pd.concat([stored_frame(store, k)["prediction_id"] for k in store if k.startswith("predictions/")])
    assert ids.is_unique
    assert json.loads(store["incidents.json"]) == manifest


def test_data_quality_day_only(world):
    store, manifest = world
    day = incident(manifest, "data_quality")["start"]
    for key in (k for k in store if k.startswith("predictions/")):
        share = stored_frame(store, key)["income"].isna().mean()
        assert share == pytest.approx(0.4, abs=0.05) if day in key else share == 0


def test_covariate_drift_moves_the_feature(world):
    store, manifest = world
    inc = incident(manifest, "covariate_drift")
    ref = stored_frame(store, "reference/reference.parquet")["credit_utilization"].mean()
    assert (
        stored_frame(store, f"predictions/{inc['start']}.parquet")["credit_utilization"].mean() > ref + 0.15
    )
    assert stored_frame(store, f"predictions/{manifest['healthy_days'][0]}.parquet")[
        "credit_utilization"
    ].mean() == pytest.approx(ref, abs=0.03)


def test_labels_arrive_late_some_never_and_concept_drift_shows_only_in_labels(world):
    store, manifest = world
    labels = pd.concat([stored_frame(store, k) for k in store if k.startswith("labels/")])
    preds = pd.concat(
        [stored_frame(store, k).assign(day=k[12:22]) for k in store if k.startswith("predictions/")]
    )
    joined = preds.merge(labels, on="prediction_id")
    late = incident(manifest, "late_labels")
    assert not joined["day"].between(late["start"], late["end"]).any()
    early = preds[preds["day"] < late["start"]]
    assert 1 - len(joined[joined["day"] < late["start"]]) / len(early) == pytest.approx(0.08, abs=0.02)
    assert set(labels["prediction_id"]) <= set(preds["prediction_id"])
    for key in (k for k in store if k.startswith("labels/")):  # a label arrives 1+ days after its prediction
        arrived = key[7:17]
        assert (stored_frame(store, key)["prediction_id"].str[:10] < arrived).all()
    concept = incident(manifest, "concept_drift")
    inside = joined[joined["day"].between(concept["start"], concept["end"])]
    healthy = joined[joined["day"].isin(manifest["healthy_days"])]
    assert (
        roc_auc_score(healthy["defaulted"], healthy["score"])
        - roc_auc_score(inside["defaulted"], inside["score"])
        > 0.1
    )
    assert inside["score"].mean() == pytest.approx(healthy["score"].mean(), abs=0.02)
    assert inside["debt_ratio"].mean() == pytest.approx(healthy["debt_ratio"].mean(), abs=0.01)


def test_first_label_arrival_is_after_the_prediction_day(world):
    store, _ = world
    first_labels = stored_frame(store, "labels/2026-01-01.parquet")
    assert len(first_labels) == 0  # nothing arrives on the first day: labels come 1-5 days later


def test_scorer_counts_catches_and_false_alerts(world):
    _, manifest = world
    dq = incident(manifest, "data_quality")["start"]

    def result(day, checks, top=()):
        return DayResult(model="m", task="binary_classification", day=day, rows=1, status="alert", stages=[],
                         checks=checks, actions=[], headline="", top_drifted_features=list(top))  # fmt: skip

    null = Check(
        id="quality.x",
        stage="quality",
        name="x",
        subject="income",
        status="alert",
        severity="critical",
        owner="data",
    )
    drift = Check(id="drift.ks", stage="drift", name="ks", subject="age", status="alert", owner="model")
    healthy = manifest["healthy_days"][0]
    report = score({dq: result(dq, [null]), healthy: result(healthy, [drift], ["age"])}, manifest)
    caught = {i["type"]: i["first_caught"] for i in report["incidents"]}
    assert caught["data_quality"] == dq and caught["covariate_drift"] is None
    assert report["false_alert_days"]["drift"] == [healthy]
    assert np.isclose(report["healthy_days"], len(manifest["healthy_days"]))


def test_scorer_names_the_owners_told_of_the_incident_the_catching_checks_fed(world):
    """Decisions from the real policy replay: the day also tells the model owner of an unrelated drift alert,
    and the next day only updates the open incident; "notified" is the data owner alone, and with a delivery
    log only when its message was really sent."""
    from datetime import date, timedelta

    from watchkeeper.config import PolicyConfig
    from watchkeeper.incidents import replay
    from watchkeeper.policy import day_signals

    _, manifest = world
    dq = incident(manifest, "data_quality")["start"]
    after = (date.fromisoformat(dq) + timedelta(days=1)).isoformat()
    null = Check(id="quality.nulls", stage="quality", name="nulls", subject="income", status="alert",
                 severity="critical", owner="data")  # fmt: skip
    drift = Check(id="drift.ks", stage="drift", name="ks", subject="age", status="alert", owner="model")
    results = {
        day: DayResult(
            model="m",
            task="binary_classification",
            day=day,
            rows=1,
            status="alert",
            stages=[],
            checks=checks,
            actions=[],
            headline="",
        )  # fmt: skip
        for day, checks in ((dq, [null, drift]), (after, [null]))
    }
    done = replay(PolicyConfig(), "m", [day_signals(r) for r in results.values()])
    for r in results.values():
        outcome = done.days[r.day]
        r.decisions, r.incidents, r.actions = outcome.decisions, outcome.incidents, outcome.actions
    assert {a.owner for a in results[dq].actions if a.kind == "notify"} == {"data", "model"}

    def notified(log=None):
        return next(i for i in score(results, manifest, log)["incidents"] if i["type"] == "data_quality")

    assert notified()["days_caught"] == [dq, after] and notified()["notified"] == ["data"]
    key = f"data_quality._.{dq}/opened/data"
    assert notified([{"key": key, "owner": "data", "status": "pending"}])["notified"] == []
    assert notified([{"key": key, "owner": "data", "status": "sent"}])["notified"] == ["data"]
