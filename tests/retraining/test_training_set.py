"""Training set and guards on the tiny world (local disk): labels joined by id, holdout, quality, labels, cooldown."""

from datetime import timedelta

import pytest
from helpers import FIRST_DAY, tiny_config
from watchkeeper.result import Check, DayResult, Severity, Status
from watchkeeper.retraining import guards
from watchkeeper.retraining.training_set import DAY, Refused, build

RETRAIN = {"registered_name": "tiny", "retraining": {"window_days": 10, "holdout_days": 1, "min_labelled_rows": 500,
                                                     "min_holdout_rows": 100, "cooldown_days": 2}}  # fmt: skip
LAST = FIRST_DAY + timedelta(days=3)


@pytest.fixture
def world(tiny, tmp_path):
    _, storage, frames = tiny
    return tiny_config(tmp_path, storage.uri, model=RETRAIN), storage, frames


def failed_quality(cfg, storage, day):
    check = Check(id="quality.expect_column_values_to_not_be_null", stage="quality", name="not_null", subject="x1",
                  status=Status.ALERT, severity=Severity.CRITICAL, owner="data", reason="x1 is 40% null")  # fmt: skip
    result = DayResult(model=cfg.name, task=cfg.task, day=day, rows=600, status="alert", stages=[], checks=[check],
                       actions=[], headline="x")  # fmt: skip
    storage.write_json(cfg.results_key(day, "result.json"), result.model_dump(mode="json"))


def test_rows_are_labelled_by_id_and_the_latest_labelled_day_is_held_out(world):
    cfg, storage, frames = world
    ts = build(cfg, storage, storage, LAST, None, ["x1", "x2", "c"])
    days = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(3)]
    assert ts.facts["holdout_days"] == [days[2]] and ts.facts["train_days"] == days[:2]
    assert len(ts.holdout) == 600 and len(ts.train) == 1200
    truth = frames[days[2]].set_index("pid")["label"]
    assert (ts.holdout.set_index("pid")["label"] == truth.loc[ts.holdout["pid"]]).all()
    assert set(ts.holdout[DAY]) == {days[2]}
    assert (
        f"days/{days[0]}.parquet" in ts.facts["checksums"]
        and f"labels/{days[1]}.parquet" in ts.facts["checksums"]
    )


def test_a_day_that_failed_quality_is_left_out_and_a_request_on_it_refused(world):
    cfg, storage, _ = world
    bad = FIRST_DAY + timedelta(days=1)
    failed_quality(cfg, storage, bad)
    ts = build(cfg, storage, storage, LAST, None, ["x1", "x2", "c"])
    assert "x1 is 40% null" in ts.facts["left_out_days"][bad.isoformat()]
    assert bad.isoformat() not in set(ts.train[DAY]) | set(ts.holdout[DAY])
    with pytest.raises(Refused, match="failed quality.*x1 is 40% null") as exc:
        build(cfg, storage, storage, bad, None, ["x1"])
    assert exc.value.kind == "quality"


def test_too_few_labels_is_a_result_naming_the_counts(world, tmp_path):
    cfg, storage, _ = world
    strict = tiny_config(
        tmp_path,
        storage.uri,
        model={**RETRAIN, "retraining": {**RETRAIN["retraining"], "min_labelled_rows": 5000}},
    )
    with pytest.raises(Refused, match="not enough labels yet: 1200 labelled training row") as exc:
        build(strict, storage, storage, LAST, None, ["x1", "x2", "c"])
    assert exc.value.kind == "not_enough_labels"


def test_the_window_starts_at_the_change_point(world):
    cfg, storage, _ = world
    since = FIRST_DAY + timedelta(days=1)
    ts = build(cfg, storage, storage, LAST, since, ["x1"])
    assert ts.facts["window"][0] == since.isoformat() and ts.facts["train_days"] == [since.isoformat()]
    assert ts.facts["since_change"] == since.isoformat() and len(ts.train) == 600


def test_consecutive_requests_and_concurrent_runs_are_declined(world):
    cfg, storage, _ = world
    guards.mark_trained(cfg, storage, FIRST_DAY, "2")
    with pytest.raises(Refused, match="cooldown: version 2") as exc:
        guards.check_cooldown(cfg, storage, FIRST_DAY + timedelta(days=1))
    assert exc.value.kind == "cooldown"
    guards.check_cooldown(cfg, storage, FIRST_DAY + timedelta(days=2))  # the cooldown is over
    guards.acquire(cfg, storage, "run-a", FIRST_DAY)
    with pytest.raises(Refused, match="already running"):
        guards.acquire(cfg, storage, "run-b", FIRST_DAY)
    guards.release(cfg, storage, "run-b")  # not the holder: nothing released
    with pytest.raises(Refused):
        guards.acquire(cfg, storage, "run-b", FIRST_DAY)
    guards.release(cfg, storage, "run-a")
    guards.acquire(cfg, storage, "run-b", FIRST_DAY)
