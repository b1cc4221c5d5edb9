"""The incident lifecycle as a pure replay of days: one opening, reminders, one recovery, persistence, cooldown, caps."""

from __future__ import annotations

import random
from datetime import date, timedelta

from watchkeeper.config import PolicyConfig
from watchkeeper.incidents import replay
from watchkeeper.policy import DaySignals, Raised

D0 = date(2026, 1, 1)


def day(i: int, *signals: tuple[str, str], blocked: bool = False) -> DaySignals:
    raised = [
        Raised(signal=s, ref=f"x.{s}:{subj}", name=s, subject=subj, severity=sev, value=1.0, upper=0.5)
        for s, subj, sev in ((*sig, "critical" if sig[0] in ("quality_critical", "realized_performance") else "warning")
                             for sig in signals)
    ]  # fmt: skip
    return DaySignals(day=D0 + timedelta(days=i), raised=raised, quality_blocked=blocked)


def keys(policy: PolicyConfig, days: list[DaySignals]) -> list[str]:
    return [m.key for m in replay(policy, "m", days).messages]


def test_a_ten_day_incident_opens_once_reminds_once_and_recovers_once():
    days = [day(i, ("feature_drift", "age")) if 3 <= i < 13 else day(i) for i in range(20)]
    done = replay(PolicyConfig(), "m", days)
    assert [(m.day.day, m.parts[0].transition, m.owner) for m in done.messages] == [
        (4, "opened", "model"),
        (11, "reminded", "model"),
        (15, "recovered", "model"),
    ]
    (inc,) = done.incidents.values()
    assert inc.id == "drift._.2026-01-04" and inc.state == "recovered"
    assert (inc.opened, inc.closed, inc.length, len(inc.days)) == (
        D0 + timedelta(3),
        D0 + timedelta(14),
        10,
        10,
    )
    # Days in between: the incident is updated and the decision says why nothing was sent.
    mid = done.days[D0 + timedelta(days=6)]
    assert mid.messages == [] and [r.transition for r in mid.incidents] == ["updated"]
    decision = next(d for d in mid.decisions if d.rule == "drift")
    assert decision.fired and decision.suppressed == "incident already open"


def test_healthy_days_send_nothing_and_store_no_decision_that_fired():
    done = replay(PolicyConfig(), "m", [day(i) for i in range(10)])
    assert done.messages == [] and done.incidents == {}
    assert all(not o.decisions for o in done.days.values())


def test_persistence_holds_back_a_one_day_blip():
    policy = PolicyConfig(persistence={"breaches": 2, "days": 3})
    blip = [day(i, ("feature_drift", "age")) if i == 2 else day(i) for i in range(8)]
    done = replay(policy, "m", blip)
    assert done.messages == []
    (decision,) = done.days[D0 + timedelta(days=2)].decisions
    assert not decision.fired and "seen on 1 of the last 3 day(s), needs 2" in decision.why
    two = [day(i, ("feature_drift", "age")) if i in (2, 4) else day(i) for i in range(8)]
    assert keys(policy, two) == ["drift._.2026-01-05/opened/model", "drift._.2026-01-05/recovered/model"]


def test_breaching_again_within_the_cooldown_reopens_silently():
    pattern = {2, 3, 6}  # recovers on day 5 (2 clear days), breaches again on day 6
    days = [day(i, ("quality_critical", "income")) if i in pattern else day(i) for i in range(10)]
    policy = PolicyConfig(rules=[{"name": "dq", "signals": ["quality_critical"], "notify": ["data"]}])
    done = replay(policy, "m", days)
    assert [m.key for m in done.messages] == [
        "dq._.2026-01-03/opened/data",
        "dq._.2026-01-03/recovered/data",
        "dq._.2026-01-03/recovered/2/data",
    ]
    assert "cooldown" in done.days[D0 + timedelta(days=6)].decisions[0].suppressed
    no_cooldown = policy.model_copy(update={"cooldown_days": 0})
    assert len(keys(no_cooldown, days)) == 4


def test_more_messages_than_the_daily_cap_fold_into_one_digest():
    policy = PolicyConfig(
        rules=[{"name": "drift", "signals": ["feature_drift"], "notify": ["model"], "per_subject": True}],
        max_messages_per_owner_per_day=2,
    )
    done = replay(policy, "m", [day(0, *[("feature_drift", c) for c in "abcd"])])
    msgs = done.messages
    assert [len(m.parts) for m in msgs] == [1, 3] and msgs[1].key == "m/2026-01-01/model/digest"
    assert sorted(k for m in msgs for k in m.keys) == [f"drift.{c}.2026-01-01/opened/model" for c in "abcd"]


def test_replay_is_the_same_whatever_order_the_days_were_stored_in():
    days = [day(i, ("feature_drift", "age")) if i % 5 in (1, 2) else day(i) for i in range(30)]
    shuffled = days[:]
    random.Random(1).shuffle(shuffled)
    a, b = replay(PolicyConfig(), "m", days), replay(PolicyConfig(), "m", shuffled)
    assert a.model_dump() == b.model_dump()


def test_retraining_waits_for_a_day_without_a_critical_quality_failure():
    days = [
        day(0, ("realized_performance", "roc_auc"), blocked=True),
        day(1, ("realized_performance", "roc_auc")),
    ]
    done = replay(PolicyConfig(), "m", days)
    first, second = done.days[D0], done.days[D0 + timedelta(days=1)]
    assert [a.kind for a in first.actions if a.kind != "notify"] == []
    assert "retraining held back" in next(d for d in first.decisions if d.rule == "retrain").suppressed
    assert [(a.kind, a.rule) for a in second.actions] == [("retrain", "retrain"), ("evaluate", "retrain")]


def test_legacy_keys_shape_the_default_rules():
    quiet = PolicyConfig(notify_on=["quality"], retrain_on=[])
    days = [day(0, ("feature_drift", "age"), ("realized_performance", "mae"))]
    done = replay(quiet, "m", days)
    assert done.messages == [] and done.days[D0].actions == []
    assert {i.rule for i in done.incidents.values()} == {"drift", "realized_performance"}
