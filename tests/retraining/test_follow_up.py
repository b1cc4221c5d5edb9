"""A retraining request that came to nothing is asked again while realized performance still alerts critically."""

from datetime import date

import pytest
from helpers import tiny_config
from watchkeeper.result import Action, Check, DayResult, Severity, Status
from watchkeeper.retraining.follow_up import follow_up
from watchkeeper.storage import Storage

DAY = date(2025, 3, 10)


def _realized(status: Status) -> Check:
    return Check(id="performance.roc_auc", stage="performance", name="roc_auc", subject="roc_auc@2025-03-08",
                 value=0.6, lower=0.7, status=status, severity=Severity.CRITICAL, owner="model",
                 details={"prediction_day": "2025-03-08"})  # fmt: skip


def _quality_failure() -> Check:
    return Check(id="quality.not_null", stage="quality", name="not_null", subject="income", status=Status.ALERT,
                 severity=Severity.CRITICAL, owner="data")  # fmt: skip


def _result(*checks: Check, actions=()) -> DayResult:
    return DayResult(model="tiny", task="binary_classification", day=DAY, rows=100, status="alert", stages=[],
                     checks=list(checks), actions=list(actions), headline="")  # fmt: skip


@pytest.fixture
def setup(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    storage.ensure_root()
    cfg = tiny_config(tmp_path, storage.uri, model={"registered_name": "tiny_model"})

    def outcome(day: str, status: str, kind: str | None = None):
        storage.write_json(f"watchkeeper/tiny/retraining/{day}/outcome.json",
                           {"model": "tiny", "day": day, "status": status, **({"kind": kind} if kind else {})})  # fmt: skip

    return cfg, storage, outcome


@pytest.mark.parametrize(
    ("status", "kind"), [("refused", "not_enough_labels"), ("refused", "cooldown"), ("not_better", None)]
)
def test_a_request_that_came_to_nothing_is_asked_again_while_performance_alerts(setup, status, kind):
    cfg, storage, outcome = setup
    outcome("2025-03-07", status, kind)
    result = _result(_realized(Status.ALERT))
    action = follow_up(cfg, storage, result)
    assert action is not None and result.actions == [action]
    assert action.kind == "retrain" and action.owner == "model"
    assert action.checks == ["performance.roc_auc:roc_auc@2025-03-08"]
    assert "2025-03-07" in action.reason and (kind or status) in action.reason


@pytest.mark.parametrize("status", ["proposed", "promoted"])
def test_a_challenger_waiting_for_a_person_is_not_retrained_again(setup, status):
    cfg, storage, outcome = setup
    outcome("2025-03-07", status)
    assert follow_up(cfg, storage, _result(_realized(Status.ALERT))) is None


def test_no_follow_up_without_an_alert_an_earlier_request_or_on_a_failed_quality_day(setup):
    cfg, storage, outcome = setup
    assert follow_up(cfg, storage, _result(_realized(Status.ALERT))) is None  # nothing was requested before
    outcome("2025-03-07", "refused", "not_enough_labels")
    assert follow_up(cfg, storage, _result(_realized(Status.OK))) is None
    assert follow_up(cfg, storage, _result(_realized(Status.ALERT), _quality_failure())) is None
    asked = Action(kind="retrain", owner="model", reason="policy")
    result = _result(_realized(Status.ALERT), actions=[asked])
    assert follow_up(cfg, storage, result) is None and result.actions == [asked]  # the policy already asks
