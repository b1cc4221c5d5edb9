"""The outbox under concurrent writers: six processes writing forty messages each keep all 240, one per key."""

import multiprocessing
from pathlib import Path

from watchkeeper.alerts import read_outbox as read_via_alerts
from watchkeeper.outbox import read_outbox, write_outbox


def _writer(path: str, worker: int, count: int) -> None:
    for i in range(count):
        write_outbox(f"m/2025-03-01/w{worker}/{i}", "team", {"text": f"{worker}-{i}"}, Path(path))


def test_six_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "outbox.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 40)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    messages = read_outbox(path)
    assert len(messages) == 240
    assert {m["key"] for m in messages} == {f"m/2025-03-01/w{w}/{i}" for w in range(6) for i in range(40)}
    assert read_via_alerts(path) == messages  # the old import path still works


def test_a_rewritten_key_replaces_its_message(tmp_path):
    path = tmp_path / "outbox.jsonl"
    write_outbox("k1", "team", {"text": "first"}, path)
    write_outbox("k2", "team", {"text": "other"}, path)
    write_outbox("k1", "team", {"text": "second"}, path)
    assert [(m["key"], m["payload"]["text"]) for m in read_outbox(path)] == [
        ("k2", "other"),
        ("k1", "second"),
    ]
