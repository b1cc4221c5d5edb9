"""The signals ledger: one object with every stored day's signals, so a day's replay reads one object, not one per
stored day; it always equals the per-day signals documents (concurrent, re-run and failed-then-re-run days), and a
store written before it existed gets one built from those documents."""

from __future__ import annotations

from datetime import timedelta

from helpers import FIRST_DAY, run_at_once, tiny_config
from watchkeeper.history import (
    apply_policy,
    ledger_key,
    model_key,
    read_ledger,
    replay_stored,
    scan_days,
    signals_key,
    store_signals,
)
from watchkeeper.incidents import replay
from watchkeeper.policy import DaySignals
from watchkeeper.result import Check, DayResult
from watchkeeper.storage import Storage

DRIFT_DAYS = {0, 1, 2, 5, 6, 9}
"""Days on which x1 drifts: three incidents (recovery takes two clear days; no cooldown)."""


def result(i: int, drift: bool | None = None, load_failed: bool = False) -> DayResult:
    day = FIRST_DAY + timedelta(days=i)
    drifting = i in DRIFT_DAYS if drift is None else drift
    if load_failed:  # what `finish` stores for a day whose file had not arrived
        checks = [Check(id="load.not_arrived", stage="load", name="not_arrived", subject="table", status="alert",
                        severity="critical", owner="data", reason="no file")]  # fmt: skip
    else:
        checks = [Check(id="drift.ks", stage="drift", name="ks", subject="x1", value=0.9 if drifting else 0.1,
                        upper=0.5, status="alert" if drifting else "ok", owner="model")]  # fmt: skip
    alert = drifting or load_failed
    return DayResult(model="tiny", task="binary_classification", day=day, rows=0 if load_failed else 10,
                     status="alert" if alert else "ok", stages=[], checks=checks, actions=[],
                     headline=f"day {i}", top_drifted_features=["x1"] if drifting else [])  # fmt: skip


def documents(cfg, storage: Storage) -> dict:
    """The per-day signals documents, by day."""
    return {
        DaySignals.model_validate(storage.read_json(k)).day: storage.read_json(k)
        for k in storage.list(model_key(cfg, "signals"))
    }


def stored_incidents(cfg, storage: Storage) -> dict:
    return {k.rsplit("/", 1)[-1]: storage.read_json(k) for k in storage.list(model_key(cfg, "incidents"))}


def test_ledger_equals_the_documents_after_concurrent_rerun_and_failed_days(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri, policy={"cooldown_days": 0})
    errors: list[BaseException] = []

    def run_all(make) -> None:
        # each run its own client, like a worker
        errors.extend(run_at_once(lambda i: apply_policy(cfg, Storage.from_uri(storage.uri), make(i)), 10))

    # First pass: days 3 and 7 fail to load and day 5 does not drift; the re-run pass reads them and day 5 drifts.
    run_all(lambda i: result(i, drift=False if i == 5 else None, load_failed=i in (3, 7)))
    first = stored_incidents(cfg, storage)
    assert any(name.startswith("data_missing.") for name in first)
    run_all(result)
    assert errors == []

    ledger = read_ledger(cfg, storage)
    assert ledger == documents(cfg, storage)
    assert sorted(ledger) == [FIRST_DAY + timedelta(days=i) for i in range(10)]
    assert not any("not_arrived" in r["ref"] for d in ledger.values() for r in d["raised"])
    # The replay from the ledger is the replay of the documents, and the incidents stored are that replay's.
    from_documents = replay(cfg.policy, cfg.name, [DaySignals.model_validate(d) for _, d in sorted(scan_days(
        cfg, storage).items())])  # fmt: skip
    assert replay_stored(cfg, storage) == from_documents
    assert stored_incidents(cfg, storage) == {
        f"{i.id}.json": i.model_dump(mode="json") for i in from_documents.incidents.values()
    }
    assert sorted(stored_incidents(cfg, storage)) == [
        "drift._.2025-03-01.json",
        "drift._.2025-03-06.json",
        "drift._.2025-03-10.json",
    ]

    # The day's second store (with its MLflow run) updates its entry too.
    again = result(4)
    again.mlflow_run_id, again.mlflow_experiment_id = "run-4", "7"
    store_signals(cfg, storage, again)
    assert read_ledger(cfg, storage) == documents(cfg, storage)
    assert read_ledger(cfg, storage)[again.day]["mlflow_run_id"] == "run-4"


def test_a_store_without_ledger_is_migrated_once(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri, policy={"cooldown_days": 0})
    for i in range(8):
        apply_policy(cfg, storage, result(i))
    before = replay_stored(cfg, storage)
    # As a store written before the ledger: no ledger, and the oldest days only as `result.json` (before the
    # signals documents existed).
    storage.delete(ledger_key(cfg))
    for i in range(3):
        r = result(i)
        storage.write_json(cfg.results_key(r.day, "result.json"), r.model_dump(mode="json"))
        storage.delete(signals_key(cfg, r.day))
    assert replay_stored(cfg, storage) == before  # read from the documents and results, nothing written
    assert not storage.exists(ledger_key(cfg))

    apply_policy(cfg, storage, result(8))
    ledger = read_ledger(cfg, storage)
    assert sorted(ledger) == [FIRST_DAY + timedelta(days=i) for i in range(9)]
    assert ledger == scan_days(cfg, storage)
    assert (
        replay_stored(cfg, storage).incidents
        == replay(
            cfg.policy, cfg.name, [DaySignals.model_validate(d) for _, d in sorted(ledger.items())]
        ).incidents
    )


class CountingStorage(Storage):
    """Local storage counting the objects read."""

    reads = 0

    def read_bytes(self, key: str) -> bytes:
        self.reads += 1
        return super().read_bytes(key)


def test_a_days_replay_reads_as_many_objects_on_day_40_as_on_day_8(tmp_path):
    plain = Storage.from_uri(str(tmp_path / "data"))
    storage = CountingStorage(plain.fs, plain.root, plain.uri)
    cfg = tiny_config(tmp_path, storage.uri, policy={"cooldown_days": 0})
    reads = []
    for i in range(41):
        storage.reads = 0
        apply_policy(cfg, storage, result(i, drift=i % 8 < 3))  # an incident every 8 days
        reads.append(storage.reads)
    assert len(read_ledger(cfg, storage)) == 41
    assert len(stored_incidents(cfg, storage)) == 6
    assert reads[8] == reads[40] > 0


def test_incidents_written_in_part_are_found_and_corrected(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri, policy={"cooldown_days": 0})
    for i in range(8):
        apply_policy(cfg, storage, result(i))
    key = model_key(cfg, "incidents/drift._.2025-03-06.json")
    right = storage.read_json(key)
    expected = stored_incidents(cfg, storage)
    # A write cut short after changing a document: it removed the digests first, so the next run reads them all.
    storage.delete(model_key(cfg, "ledgers/incidents.json"))
    storage.write_json(key, right | {"reminders": 99})
    storage.write_json(
        model_key(cfg, "incidents/drift._.2025-02-01.json"), right | {"id": "drift._.2025-02-01"}
    )
    apply_policy(cfg, storage, result(7))  # the same day again: its replay changes nothing
    assert stored_incidents(cfg, storage) == expected
    assert sorted(expected) == ["drift._.2025-03-01.json", "drift._.2025-03-06.json"]
