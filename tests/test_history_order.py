"""A day's drift reads its earlier days' stored drift (volume, unseen values, CUSUM, persistence): when another run
is judging an earlier day at that moment (an Airflow backfill runs days at once), the day waits for it, so what it
reads of its past does not depend on which run finished first; it never waits for a run still waiting for data,
a lease left behind long ago, or past its deadline."""

import threading
import time
from datetime import timedelta

import pytest
from helpers import FIRST_DAY
from watchkeeper import lease_object
from watchkeeper.lease import LEASE, hold_for_run
from watchkeeper.pipeline import Day, earlier_drift

D1, D2 = FIRST_DAY, FIRST_DAY + timedelta(days=1)


@pytest.fixture
def days(tiny):
    cfg, storage, _ = tiny
    return Day(cfg, D1, storage, storage), Day(cfg, D2, storage, storage)


def test_a_day_waits_for_the_earlier_day_another_run_is_judging(days):
    first, second = days
    hold_for_run(first, "watchkeeper_tiny/backfill__1")
    first.results.write_json(first.key("stages/load.json"), {"checks": []})
    threading.Timer(1.0, first.results.write_json, (first.key("stages/drift.json"), {"rows": 600})).start()
    started = time.monotonic()
    assert earlier_drift(second, 1, deadline=time.monotonic() + 60, poll=0.1) == {"rows": 600}
    assert time.monotonic() - started >= 0.9  # it waited for the write, not read an empty history


def test_no_wait_for_a_run_waiting_for_data_an_old_lease_or_past_the_deadline(days):
    first, second = days
    hold_for_run(first, "watchkeeper_tiny/scheduled__1")  # its data has not arrived: no load stage yet
    assert earlier_drift(second, 1, deadline=time.monotonic() + 60, poll=0.1) == {}
    first.results.write_json(first.key("stages/load.json"), {"checks": []})
    started = time.monotonic()
    assert earlier_drift(second, 1, deadline=time.monotonic() + 0.3, poll=0.1) == {}  # the deadline holds
    assert time.monotonic() - started < 5
    # A lease renewed an hour ago and not given back (a run killed without its teardown): nobody at work.
    doc, _ = lease_object.read(first.results, first.key(LEASE))
    first.results.write_json(first.key(LEASE), {**doc, "renewed": time.time() - 3600})
    assert earlier_drift(second, 1, deadline=time.monotonic() + 60, poll=0.1) == {}
    assert earlier_drift(second, 2, deadline=time.monotonic() + 60, poll=0.1) == {}  # a day never run
