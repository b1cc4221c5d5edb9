"""`watchkeeper replay` also delivers: the days' messages that were never sent, or failed, go out once."""

import numpy as np
import pytest
from helpers import FIRST_DAY, parquet_bytes
from watchkeeper.delivery import read_log
from watchkeeper.outbox import read_outbox, write_outbox
from watchkeeper.pipeline import run_day
from watchkeeper.replay import delivery_hook, replay


@pytest.mark.slow
def test_replay_sends_the_days_unsent_and_pending_messages_once(tiny, tmp_path):
    cfg, storage, frames = tiny
    day = frames[str(FIRST_DAY)].drop(columns=["label"]).copy()
    day.loc[np.random.default_rng(0).random(len(day)) < 0.4, "x1"] = np.nan  # a data-quality incident
    storage.write_bytes(f"days/{FIRST_DAY}.parquet", parquet_bytes(day))
    result = run_day(cfg, FIRST_DAY, storage)  # processed, nothing sent (as when a run died before sending)
    due = [a.owner for a in result.actions if a.kind == "notify"]
    assert due == ["data"] and read_log(cfg, storage) == []
    outbox = tmp_path / "outbox.jsonl"

    def down(role: str, key: str, payload: dict) -> str:
        raise ConnectionError("Slack is down")

    def up(role: str, key: str, payload: dict) -> str:
        return f"outbox:{write_outbox(f'{cfg.name}/{key}', cfg.owners.of(role).name, payload, outbox)}"

    (first,) = replay(cfg, storage, storage, FIRST_DAY, FIRST_DAY, None, hooks=[delivery_hook(down)])
    (key,) = [line.split(": ")[0] for line in first.delivered]
    assert first.delivered == [f"{key}: pending (ConnectionError)"] and key.endswith("/data")
    assert [e["status"] for e in read_log(cfg, storage)] == ["pending"]

    (second,) = replay(cfg, storage, storage, FIRST_DAY, FIRST_DAY, None, hooks=[delivery_hook(up)])
    assert second.delivered == [f"{key}: outbox:{outbox}"]
    (third,) = replay(cfg, storage, storage, FIRST_DAY, FIRST_DAY, None, hooks=[delivery_hook(up)])
    assert third.delivered == []  # the delivery log says it was sent
    (msg,) = read_outbox(outbox)
    assert msg["key"] == f"tiny/{key}" and msg["destination"] == "data-team"
