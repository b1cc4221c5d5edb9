"""The model's history (promotions, rollbacks) is one document appended to: a process killed while it is written
leaves every earlier event readable."""

import pytest
from helpers import killed_while_writing, tiny_config
from watchkeeper.retraining import registry
from watchkeeper.storage import Storage


def test_a_process_killed_while_recording_an_event_keeps_every_earlier_event(tmp_path, monkeypatch):
    storage = Storage.from_uri(str(tmp_path / "data"))
    cfg = tiny_config(tmp_path, storage.uri)
    registry.record(
        storage, cfg, {"what": "promoted", "version": "1", "by": "ana", "why": "beat the champion"}
    )
    registry.record(
        storage, cfg, {"what": "promoted", "version": "2", "by": "ana", "why": "beat the champion"}
    )
    killed_while_writing(monkeypatch, lambda key: key.endswith("/model/history.json"))
    with pytest.raises(SystemExit):
        registry.record(
            storage, cfg, {"what": "rolled_back", "version": "1", "by": "bo", "why": "worse live"}
        )
    monkeypatch.undo()
    assert [e["version"] for e in registry.history(storage, cfg)] == ["1", "2"]
    registry.record(storage, cfg, {"what": "rolled_back", "version": "1", "by": "bo", "why": "worse live"})
    assert [e["what"] for e in registry.history(storage, cfg)] == ["promoted", "promoted", "rolled_back"]
