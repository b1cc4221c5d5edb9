"""The delivery log's pending index: a retry reads the pending entries only, a log from before the index is
indexed once, and every pending message is still sent exactly once; a process killed while logging
a delivery leaves the earlier entry whole."""

from __future__ import annotations

import pytest
from helpers import killed_while_writing, tiny_config
from test_signals_ledger import CountingStorage
from watchkeeper.delivery import deliver_once, log_key, pending_entries, read_log, retry_pending
from watchkeeper.history import model_key
from watchkeeper.storage import Storage


def down(role: str, key: str, payload: dict) -> str:
    raise ConnectionError("Slack is down")


def test_a_retry_reads_the_pending_entries_not_the_whole_log(tmp_path):
    plain = Storage.from_uri(str(tmp_path / "data"))
    storage = CountingStorage(plain.fs, plain.root, plain.uri)
    cfg = tiny_config(tmp_path, storage.uri)
    sent: list[str] = []

    def up(role: str, key: str, payload: dict) -> str:
        sent.append(key)
        return "slack:test"

    for i in range(40):
        deliver_once(cfg, storage, [f"drift/{i}"], "model", "2025-03-01", {"text": str(i)}, up)
    deliver_once(cfg, storage, ["quality/late"], "data", "2025-03-02", {"text": "late"}, down)
    retry_pending(cfg, storage, down)  # still down: builds nothing new, stays pending
    storage.reads = 0
    assert retry_pending(cfg, storage, up) == ["slack:test"]
    # the pending entry, and deliver_once's check of it: not the 41 entries of the log
    assert storage.reads <= 2
    assert sent[-1] == "quality/late"
    assert retry_pending(cfg, storage, up) == []
    assert [e["status"] for e in read_log(cfg, storage)] == ["sent"] * 41
    assert storage.list(model_key(cfg, "deliveries.pending")) == [model_key(cfg, "deliveries.pending/.index")]


def test_a_log_written_before_the_index_is_indexed_once_and_its_pending_messages_sent_once(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri)
    # an older store: entries only, no markers
    for key, status in [("drift/a", "sent"), ("drift/b", "pending"), ("quality/c", "pending")]:
        entry = {"key": key, "message": key, "owner": "model", "day": "2025-03-01", "status": status,
                 "destination": "", "payload": {"text": key}, "keys": [key]}  # fmt: skip
        storage.write_json(log_key(cfg, key), entry)
    assert sorted(e["key"] for e in pending_entries(cfg, storage)) == ["drift/b", "quality/c"]
    sent: list[str] = []
    assert retry_pending(cfg, storage, lambda r, k, p: sent.append(k) or "slack:test") == ["slack:test"] * 2
    assert retry_pending(cfg, storage, lambda r, k, p: sent.append(k) or "slack:test") == []
    assert sorted(sent) == ["drift/b", "quality/c"]


def test_a_marker_left_by_an_entry_sent_since_is_dropped(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri)
    deliver_once(cfg, storage, ["drift/x"], "model", "2025-03-01", {"text": "x"}, down)
    marker = model_key(cfg, "deliveries.pending/drift__x.json")
    assert storage.exists(marker)
    # another worker sent it and stopped before removing the marker
    storage.write_json(
        log_key(cfg, "drift/x"), storage.read_json(log_key(cfg, "drift/x")) | {"status": "sent"}
    )
    storage.write_bytes(marker, b"")
    assert pending_entries(cfg, storage) == []
    assert not storage.exists(marker)


def test_a_process_killed_while_logging_a_sent_message_leaves_it_pending_and_it_is_sent_again(
    tmp_path, monkeypatch
):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri)
    deliver_once(cfg, storage, ["drift/x"], "model", "2025-03-01", {"text": "x"}, down)
    sent: list[str] = []

    # Slack took the message; the process dies while logging it
    killed_while_writing(monkeypatch, lambda key: "/deliveries/" in key)
    with pytest.raises(SystemExit):
        retry_pending(cfg, storage, lambda r, k, p: sent.append(k) or "slack:test")
    monkeypatch.undo()
    # the next run reads the earlier entry whole (still pending) and sends the message again: once more, not lost
    assert [e["status"] for e in read_log(cfg, storage)] == ["pending"]
    assert retry_pending(cfg, storage, lambda r, k, p: sent.append(k) or "slack:test") == ["slack:test"]
    assert sent == ["drift/x", "drift/x"] and [e["status"] for e in read_log(cfg, storage)] == ["sent"]
