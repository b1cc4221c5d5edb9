"""Sending a stretch of days: `send_day(..., retry=False)` sends the day's messages without reading the whole
delivery log for pending ones, so a caller retries once for the stretch instead of once a day."""

from __future__ import annotations

from datetime import timedelta

from helpers import FIRST_DAY, tiny_config
from test_signals_ledger import result
from watchkeeper.delivery import read_log, send_day
from watchkeeper.history import apply_policy, replay_stored
from watchkeeper.storage import Storage


def test_a_day_sent_without_retry_leaves_pending_messages_to_the_retry(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri, policy={"cooldown_days": 0})
    for i in range(10):
        apply_policy(cfg, storage, result(i))
    done = replay_stored(cfg, storage)
    first, later = FIRST_DAY, FIRST_DAY + timedelta(days=5)  # each opens a drift incident
    sent: list[str] = []

    def down(role: str, key: str, payload: dict) -> str:
        raise ConnectionError("Slack is down")

    def up(role: str, key: str, payload: dict) -> str:
        sent.append(key)
        return "slack:test"

    assert [w.split(" ")[0] for w in send_day(cfg, storage, done, first, down)] == ["pending"]
    assert send_day(cfg, storage, done, later, up, retry=False) == ["slack:test"]
    assert [k.split("/")[0] for k in sent] == ["drift._.2025-03-06"]  # the pending one was not retried
    assert sorted(e["status"] for e in read_log(cfg, storage)) == ["pending", "sent"]
    assert send_day(cfg, storage, done, later, up) == ["slack:test", "already sent"]
    assert [k.split("/")[0] for k in sent] == ["drift._.2025-03-06", "drift._.2025-03-01"]
