"""Incident documents stay right when runs of different days of one model finish at once (a backfill with
concurrency): each run rebuilds them under the model's incidents lease, so the last rebuild sees every stored day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import FIRST_DAY, run_at_once, tiny_config
from watchkeeper.history import apply_policy, model_key, read_ledger, replay_stored
from watchkeeper.result import Check, DayResult
from watchkeeper.storage import Storage

pytestmark = pytest.mark.slow
DRIFT_DAYS = {0, 1, 2, 5, 6, 9}
"""Days on which x1 drifts: three incidents (recovery takes two clear days; no cooldown)."""


def result(i: int) -> DayResult:
    checks = [
        Check(id="drift.ks", stage="drift", name="ks", subject="x1", value=0.9 if i in DRIFT_DAYS else 0.1,
              upper=0.5, status="alert" if i in DRIFT_DAYS else "ok", owner="model")
    ]  # fmt: skip
    return DayResult(model="tiny", task="binary_classification", day=FIRST_DAY + timedelta(days=i), rows=10,
                     status="alert" if i in DRIFT_DAYS else "ok", stages=[], checks=checks, actions=[],
                     headline="", top_drifted_features=["x1"] if i in DRIFT_DAYS else [])  # fmt: skip


def test_concurrent_runs_of_different_days_leave_the_incidents_of_all_days(
    s3_storage, s3_credentials, tmp_path
):
    cfg = tiny_config(tmp_path, s3_storage.uri, policy={"cooldown_days": 0})
    # each run its own client, like a worker
    errors = run_at_once(
        lambda i: apply_policy(cfg, Storage.from_uri(s3_storage.uri, s3_credentials), result(i)), 12
    )
    assert errors == []
    stored = {
        k.rsplit("/", 1)[-1]: s3_storage.read_json(k) for k in s3_storage.list(model_key(cfg, "incidents"))
    }
    expected = {
        f"{i.id}.json": i.model_dump(mode="json") for i in replay_stored(cfg, s3_storage).incidents.values()
    }
    assert sorted(expected) == [
        "drift._.2025-03-01.json",
        "drift._.2025-03-06.json",
        "drift._.2025-03-10.json",
    ]
    assert stored == expected
    documents = [s3_storage.read_json(k) for k in s3_storage.list(model_key(cfg, "signals"))]
    assert read_ledger(cfg, s3_storage) == {FIRST_DAY + timedelta(days=i): documents[i] for i in range(12)}
