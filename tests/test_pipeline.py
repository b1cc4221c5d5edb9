"""The day's pipeline on a tiny generic world: verdicts, the could-not-measure state, late labels, idempotence."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from helpers import FIRST_DAY, parquet_bytes, rows
from watchkeeper.loading import InputError
from watchkeeper.pipeline import LATER_ESTIMATE, run_day


def test_healthy_day_is_ok_and_every_check_has_bounds(tiny):
    cfg, storage, _ = tiny
    result = run_day(cfg, FIRST_DAY, storage)
    assert result.rows == 600
    drift = [
        c
        for c in result.checks
        if c.stage == "drift" and c.name not in ("unseen_categories", "cusum", "volume")
    ]
    assert {c.subject for c in drift} == {"x1", "x2", "c", "score", "pred", "multivariate"}
    assert [(c.subject, c.status) for c in result.checks if c.name == "volume"] == [("table", "ok")]
    unseen = [c for c in result.checks if c.name == "unseen_categories"]
    assert {c.subject: c.status for c in unseen} == {"c": "ok", "pred": "ok"}
    cusum = [c for c in result.checks if c.name == "cusum"]
    assert cusum == []  # evidence across days is opt-in (`drift.evidence_days`)
    assert all(c.upper is not None and c.threshold_rule.startswith("reference chunks") for c in drift)
    assert not [c for c in result.checks if c.status == "alert"], result.headline
    assert result.actions == [] and result.status == "ok"
    realized = [c for c in result.checks if c.stage == "performance" and not c.details.get("estimated")]
    assert [c.reason for c in realized] == ["no labels arrived today"]
    estimated = {c.name: c for c in result.checks if c.details.get("estimated")}
    assert set(estimated) == {"estimated_roc_auc", "estimated_f1", "estimated_precision", "estimated_recall",
                              "estimated_accuracy"}  # fmt: skip
    assert all(c.status == "ok" and c.lower is not None for c in estimated.values())


def test_shifted_feature_alerts_and_is_ranked_first(tiny):
    cfg, storage, _ = tiny
    day = FIRST_DAY + timedelta(days=1)
    shifted = rows(np.random.default_rng(9), 600, day, shift=1.0).drop(columns=["label"])
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(shifted))
    result = run_day(cfg, day, storage)
    assert result.top_drifted_features[0] == "x1"
    assert "x2" not in result.top_drifted_features
    assert any(a.kind == "notify" and a.owner == "model" for a in result.actions)


def test_renamed_column_is_critical_and_drift_could_not_be_measured(tiny):
    cfg, storage, frames = tiny
    day = FIRST_DAY + timedelta(days=2)
    renamed = frames[day.isoformat()].drop(columns=["label"]).rename(columns={"x1": "x_one"})
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(renamed))
    result = run_day(cfg, day, storage)
    missing = [c for c in result.checks if c.id == "quality.expect_column_to_exist" and c.status == "alert"]
    assert [c.subject for c in missing] == ["x1"] and "'x1' is missing" in missing[0].reason
    stages = {s.stage: s.status for s in result.stages}
    assert stages["quality"] == "alert" and stages["drift"] == "could_not_measure"
    assert all(c.status == "skipped" for c in result.checks if c.stage == "drift")
    assert [a.owner for a in result.actions if a.kind == "notify"] == ["data"]
    assert not any(a.kind == "retrain" for a in result.actions)


def test_nulls_beyond_reference_tolerance_alert_the_data_owner(tiny):
    cfg, storage, frames = tiny
    day = FIRST_DAY + timedelta(days=2)
    df = frames[day.isoformat()].drop(columns=["label"]).copy()
    df.loc[df.sample(frac=0.4, random_state=0).index, "x2"] = np.nan
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(df))
    result = run_day(cfg, day, storage)
    nulls = [c for c in result.checks if c.subject == "x2" and c.stage == "quality" and c.status == "alert"]
    assert nulls and "40.0% null" in nulls[0].reason
    assert result.actions[0].owner == "data"


def test_duplicate_ids_and_unseen_category_are_named(tiny):
    cfg, storage, frames = tiny
    # `c` is marked safe to show, so its unseen values are named (tests/security: not shown otherwise).
    cfg = cfg.model_copy(update={"columns": cfg.columns.model_copy(update={"show_values": ["c"]})})
    day = FIRST_DAY + timedelta(days=2)
    df = frames[day.isoformat()].drop(columns=["label"]).copy()
    df.loc[:9, "pid"] = df.loc[0, "pid"]
    df.loc[:99, "c"] = "zz"
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(df))
    result = run_day(cfg, day, storage)
    alerts = {(c.id, c.subject): c for c in result.checks if c.status == "alert"}
    assert "duplicate values" in alerts[("quality.expect_column_values_to_be_unique", "pid")].reason
    unseen = alerts[("quality.expect_column_values_to_be_in_set", "c")]
    assert unseen.details["unexpected_values"] == [
        {"value": "zz", "count": 100, "share": round(100 / 600, 4)}
    ]
    assert "'zz' (16.7%)" in unseen.reason  # every unseen value with its share of rows, never rows
    assert unseen.severity == "warning"


def test_late_labels_score_the_earlier_day_and_replace_its_result(tiny):
    cfg, storage, _ = tiny
    day = FIRST_DAY + timedelta(days=1)  # its label file holds FIRST_DAY's labels
    result = run_day(cfg, day, storage)
    perf = {c.subject: c for c in result.checks if c.stage == "performance"}
    auc = perf[f"roc_auc@{FIRST_DAY}"]
    assert (
        auc.status == "ok"
        and auc.details["coverage"] == 1.0
        and auc.details["prediction_day"] == str(FIRST_DAY)
    )
    assert perf["labels"].status == "ok"
    stored = storage.read_json(cfg.results_key(FIRST_DAY, "performance/realized.json"))
    assert stored["as_of"] == str(day) and stored["metrics"]["roc_auc"] == pytest.approx(auc.value)


def test_labels_counted_before_their_prediction_day_ran_are_set_beside_the_same_estimate(tiny):
    # A backfill runs days at once: the day carrying FIRST_DAY's labels can finish before FIRST_DAY itself.
    cfg, storage, _ = tiny
    day = FIRST_DAY + timedelta(days=1)
    early = run_day(cfg, day, storage).realized
    assert [r.prediction_day for r in early] == [FIRST_DAY] and not storage.exists(
        cfg.results_key(FIRST_DAY, "performance/estimated.json")
    )
    assert set(early[0].within_band) == {"roc_auc", "f1", "precision", "recall", "accuracy"}
    kept = storage.read_json(cfg.results_key(FIRST_DAY, LATER_ESTIMATE))  # for the next label day, not remade
    assert kept["metrics"] == early[0].estimated
    run_day(cfg, FIRST_DAY, storage)
    own = storage.read_json(cfg.results_key(FIRST_DAY, "performance/estimated.json"))
    assert early[0].estimated == own["metrics"] and early[0].estimated_band == own["bands"]
    assert run_day(cfg, day, storage).realized == early  # the same result in either order


def test_concept_change_shows_in_realized_performance_not_in_drift(tiny):
    cfg, storage, _ = tiny
    day = FIRST_DAY + timedelta(days=3)
    flipped = rows(np.random.default_rng(5), 600, FIRST_DAY + timedelta(days=2), flip=True)
    storage.write_bytes(
        f"days/{FIRST_DAY + timedelta(days=2)}.parquet", parquet_bytes(flipped.drop(columns=["label"]))
    )
    storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(flipped[["pid", "label"]]))
    before = run_day(cfg, FIRST_DAY + timedelta(days=2), storage)  # the changed day itself: no labels yet
    assert next(c for c in before.checks if c.id == "performance.estimated_roc_auc").status == "ok"
    result = run_day(cfg, day, storage)
    auc = next(c for c in result.checks if c.id == "performance.roc_auc")
    assert auc.status == "alert"
    # Estimation could not see the changed input→label relation; the realized metric, once labels arrived, does.
    stored = storage.read_json(cfg.results_key(FIRST_DAY + timedelta(days=2), "performance/realized.json"))
    assert stored["estimation_error"]["roc_auc"] < -0.1 and stored["confusion"]["tp"] > 0
    assert auc.details["estimated_value"] == pytest.approx(stored["estimated"]["roc_auc"])
    assert "estimated" not in auc.details  # that key marks estimate checks only
    assert any(a.kind == "retrain" for a in result.actions)
    inputs = [c for c in result.checks if c.stage == "drift" and c.details["role"] == "feature"]
    assert not [c for c in inputs if c.status == "alert"]


def test_labels_matching_no_prediction_are_reported(tiny):
    cfg, storage, frames = tiny
    day = FIRST_DAY + timedelta(days=1)
    labels = frames[str(FIRST_DAY)][["pid", "label"]].copy()
    labels.loc[:4, "pid"] = [f"ghost-{i}" for i in range(5)]
    storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(labels))
    result = run_day(cfg, day, storage)
    join = next(c for c in result.checks if c.id == "performance.label_join")
    assert join.status == "alert" and join.value == 5 and "5 label(s) match no prediction" in join.reason


def test_missing_day_raises_a_named_error_and_records_why(tiny):
    cfg, storage, _ = tiny
    with pytest.raises(InputError, match="file has not arrived"):
        run_day(cfg, date(2031, 1, 1), storage)
    stored = storage.read_json(cfg.results_key(date(2031, 1, 1), "result.json"))
    assert [c["id"] for c in stored["checks"]] == ["load.not_arrived"] and stored["rows"] == 0
    assert {s["stage"]: s["status"] for s in stored["stages"]} == {"load": "alert"}
    assert [(a["kind"], a["owner"]) for a in stored["actions"]] == [("notify", "data")]
    assert not storage.list(cfg.results_key(date(2031, 1, 1), "staged"))  # no partial staged copy is left


def test_rerunning_a_day_replaces_its_results(tiny):
    cfg, storage, _ = tiny
    first = run_day(cfg, FIRST_DAY, storage)
    keys = storage.list(cfg.results_key(FIRST_DAY))
    second = run_day(cfg, FIRST_DAY, storage)
    assert storage.list(cfg.results_key(FIRST_DAY)) == keys
    assert first.model_dump(exclude={"artifacts"}) == second.model_dump(exclude={"artifacts"})


def regression_rows(rng, day, n=400, widen=1.0):
    """y = 3·x1 + noise whose size grows with |x2|; the model predicts 3·x1. `widen` spreads x2 (a covariate shift)."""
    df = rows(rng, n, day).drop(columns=["score", "pred", "label"])
    df["x2"] = df["x2"] * widen
    df["y"] = 3 * df["x1"] + rng.normal(0, 1, n) * (0.5 + np.abs(df["x2"]))
    df["yhat"] = 3 * df["x1"]
    return df


def test_regression_model_runs_from_config_alone(tmp_path):
    from helpers import tiny_config
    from watchkeeper.storage import Storage

    storage = Storage.from_uri(str(tmp_path / "reg"))
    rng = np.random.default_rng(2)
    ref = pd.concat([regression_rows(rng, FIRST_DAY - timedelta(days=d)) for d in range(10, 0, -1)])
    storage.write_bytes("ref.parquet", parquet_bytes(ref))
    shifted = FIRST_DAY + timedelta(days=1)
    for day, widen in ((FIRST_DAY, 1.0), (shifted, 2.5)):
        df = regression_rows(rng, day, widen=widen)
        storage.write_bytes(f"days/{day}.parquet", parquet_bytes(df.drop(columns=["y"])))
        storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(df[["pid", "y"]]))
    cols = {
        "id": "pid",
        "timestamp": "ts",
        "features": ["x1", "x2", "c"],
        "prediction": "yhat",
        "target": "y",
    }
    cfg = tiny_config(tmp_path, str(tmp_path / "reg"), task="regression", columns=cols)
    result = run_day(cfg, FIRST_DAY, storage)
    perf = {c.name: c for c in result.checks if c.stage == "performance" and c.owner == "model"}
    assert set(perf) == {"mae", "rmse", "r2", "estimated_mae", "estimated_rmse"}
    assert perf["mae"].status == "ok" and perf["estimated_mae"].status == "ok"
    assert perf["estimated_mae"].value == pytest.approx(perf["mae"].value, rel=0.1)  # direct loss estimation
    # Errors grow where |x2| is large: widening x2 raises estimated MAE before any label is looked at.
    later = run_day(cfg, shifted, storage)
    est = next(c for c in later.checks if c.name == "estimated_mae")
    assert est.status == "alert" and est.value > 1.3 * perf["estimated_mae"].value


def test_infinite_values_are_a_critical_named_failure(tiny):
    cfg, storage, frames = tiny
    day = FIRST_DAY + timedelta(days=2)
    df = frames[day.isoformat()].drop(columns=["label"]).copy()
    df.loc[:2, "x2"] = np.inf
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(df))
    result = run_day(cfg, day, storage)
    finite = next(c for c in result.checks if c.id == "quality.finite_values" and c.subject == "x2")
    assert finite.status == "alert" and finite.severity == "critical"
    assert finite.reason == "'x2' has infinite values (3 rows)"
    assert {s.stage: s.status for s in result.stages}["drift"] == "could_not_measure"
    assert [a.owner for a in result.actions if a.kind == "notify"] == ["data"]


def test_persistence_alerts_on_the_second_breach_of_three_days(tmp_path):
    from helpers import tiny_config, write_tiny_world
    from watchkeeper.storage import Storage

    storage = Storage.from_uri(str(tmp_path / "p"))
    write_tiny_world(storage)
    cfg = tiny_config(tmp_path, str(tmp_path / "p"), drift={"persistence": {"breaches": 2, "days": 3}})
    for i in (1, 2):
        day = FIRST_DAY + timedelta(days=i)
        shifted = rows(np.random.default_rng(i), 600, day, shift=1.0).drop(columns=["label"])
        storage.write_bytes(f"days/{day}.parquet", parquet_bytes(shifted))
    run_day(cfg, FIRST_DAY, storage)
    first = run_day(cfg, FIRST_DAY + timedelta(days=1), storage)
    ks = next(c for c in first.checks if c.id == "drift.ks" and c.subject == "x1")
    assert (
        ks.status == "ok"
        and ks.details["breached"]
        and "1 of the last 3 days breached, alerts at 2" in ks.reason
    )
    second = run_day(cfg, FIRST_DAY + timedelta(days=2), storage)
    ks = next(c for c in second.checks if c.id == "drift.ks" and c.subject == "x1")
    assert ks.status == "alert" and ks.details["breaches"] == "2 of 3 days"
    assert second.top_drifted_features[0] == "x1"


def test_a_day_reads_the_stored_reference_profile_once(tiny):
    """Once built, the profile is read once per day in one process (the profile step hands it to the stages after
    it), not once by the step and again by the stages."""
    from watchkeeper.reference import profile_key

    cfg, storage, _ = tiny
    run_day(cfg, FIRST_DAY, storage)  # builds it
    fetched: list[str] = []
    fetch = storage._fetch
    storage._fetch = lambda key: fetched.append(key) or fetch(key)
    run_day(cfg, FIRST_DAY + timedelta(days=1), storage)
    assert fetched.count(profile_key(cfg, storage)) == 1


def test_a_later_day_judged_while_an_earlier_day_is_rerun_is_judged_the_same(tiny):
    """A backfill re-running neighbouring days at once: the later day reads the earlier day's drift facts (its
    rows, for the volume check) while the earlier day's re-run has begun, and finds them, not nothing."""
    from watchkeeper.pipeline import Day, load_day

    cfg, storage, _ = tiny
    days = [FIRST_DAY + timedelta(days=i) for i in range(4)]
    for day in days:
        run_day(cfg, day, storage)
    first = run_day(cfg, days[-1], storage)
    load_day(Day(cfg, days[-2], storage, storage))  # another worker's re-run of the day before has begun
    again = run_day(cfg, days[-1], storage)

    def judged(result) -> list[tuple]:
        return [(c.id, c.subject, c.status, c.value, c.details) for c in result.checks]

    assert judged(again) == judged(first)
    volume = next(c for c in again.checks if c.name == "volume")
    assert len(volume.details["recent_day_rows"]) == 3
