"""The cached reference profile runs no code from storage, and a damaged cache is rebuilt with a warning."""

from __future__ import annotations

import logging
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import skops.io
from helpers import TINY_CONFIG, tiny_config, write_tiny_world
from watchkeeper.reference import dle_estimator, drift_state, get_profile, profile_key
from watchkeeper.safe_cache import (
    CacheError,
    _canonical,
    decode_estimator,
    decode_state,
    encode_state,
    read_profile,
    sha256,
    write_profile,
)
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
FAST = {"reference": {"bootstrap_samples": 5}, "drift": {"multivariate": False}}


class Boom:
    """Unpickling this runs code: it creates the file named in `path`."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def test_state_round_trip_keeps_arrays_tuples_and_shared_arrays_once():
    sorted_col = np.sort(np.random.default_rng(0).normal(size=1000))
    state = {
        "x|ks": sorted_col,
        "x|wasserstein": (sorted_col, 1.5),
        "c|jensen_shannon": {"a": 0.5, "b": 0.5},
        "label#summary": {"0": 10, "1": 3},
        "labels": np.array(["a", "b"]),
        "nested": [np.int64(3), np.float64(0.25), None, True, {"__odd": 1, 2: "two"}],
    }
    data = encode_state(state)
    back = decode_state(data)
    assert np.array_equal(back["x|ks"], sorted_col) and back["x|wasserstein"][1] == 1.5
    assert isinstance(back["x|wasserstein"], tuple)
    assert back["c|jensen_shannon"] == {"a": 0.5, "b": 0.5} and back["label#summary"] == {"0": 10, "1": 3}
    assert back["labels"].tolist() == ["a", "b"]
    assert back["nested"] == [3, 0.25, None, True, {"__odd": 1, 2: "two"}]
    assert len(data) < 1.5 * sorted_col.nbytes  # the shared sorted column is stored once


def test_object_arrays_are_refused_at_write():
    with pytest.raises(TypeError, match="without pickle"):
        encode_state({"x": np.array([object()], dtype=object)})


def test_a_pickle_is_never_loaded_as_state(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(CacheError):
        decode_state(pickle.dumps({"x": Boom(str(marker))}))
    assert not marker.exists()


def _artifacts(results: Storage, key: str) -> tuple[str, str | None]:
    doc = results.read_json(key)
    return doc["drift_state"]["artifact"], (doc.get("estimation") or {}).get("artifact")


def _bounds(profile: dict) -> dict:
    return {k: (v["lower"], v["upper"]) for k, v in profile["drift"].items()}


def _small_profile() -> dict:
    sorted_col = np.sort(np.random.default_rng(1).normal(size=500))
    return {
        "drift": {"x|ks": {"lower": None, "upper": 0.12}},
        "estimation": {"kind": "dle", "metrics": {}, "_estimator": _small_estimator()},
        "_drift_state": {"x|ks": sorted_col, "x|wasserstein": (sorted_col, 1.0)},
    }


def _small_estimator():
    import pandas as pd
    from threadpoolctl import threadpool_limits
    from watchkeeper.performance.dle import LossEstimator

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=300), "c": rng.choice(["x", "y"], 300), "p": rng.normal(size=300)}
    )
    with threadpool_limits(1):
        return LossEstimator(["a"], ["c"], "p").fit(frame, rng.normal(size=300))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A profile with both kinds of artifact, as `write_profile` stores it: (bytes of every object, key)."""
    storage = Storage.from_uri(str(tmp_path_factory.mktemp("cache")))
    key = "watchkeeper/m/reference/profile.json"
    write_profile(storage, key, _small_profile())
    return {k: storage.read_bytes(k) for k in storage.list("")}, key


def _restore(tmp_path: Path, written) -> tuple[Storage, str]:
    objects, key = written
    storage = Storage.from_uri(str(tmp_path / "results"))
    for k, data in objects.items():
        storage.write_bytes(k, data)
    return storage, key


def test_written_profile_holds_no_pickle_and_records_checksums(tmp_path, written):
    storage, key = _restore(tmp_path, written)
    doc = storage.read_json(key)
    drift, dle = _artifacts(storage, key)
    assert drift.endswith("-drift.npz") and dle.endswith("-dle.skops")
    assert doc["drift_state"]["sha256"] == sha256(storage.read_bytes(drift))
    assert doc["estimation"]["sha256"] == sha256(storage.read_bytes(dle))
    assert "_drift_state" not in doc and "_estimator" not in doc["estimation"]
    back = read_profile(storage, key)
    assert np.array_equal(back["_drift_state"]["x|ks"], _small_profile()["_drift_state"]["x|ks"])
    assert back["_drift_state"]["x|wasserstein"][0] is back["_drift_state"]["x|ks"]
    assert back["estimation"]["_estimator"].categories == {"c": ["x", "y"]}


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _edit_bound(data: bytes) -> bytes:
    return data.replace(b'"upper": 0.12', b'"upper": 99.0')


DAMAGE = {  # target ("profile", "drift" or "dle") and what happens to its bytes (None: deleted)
    "drift state truncated": ("drift", _cut),
    "drift state empty": ("drift", lambda b: b""),
    "drift state missing": ("drift", None),
    "drift state one byte changed": ("drift", _flip),
    "estimator truncated": ("dle", _cut),
    "estimator missing": ("dle", None),
    "profile truncated": ("profile", _cut),
    "profile empty": ("profile", lambda b: b""),
    "profile whitespace": ("profile", lambda b: b"  \n"),
    "profile not an object": ("profile", lambda b: b"[1, 2]"),
    "profile not UTF-8": ("profile", lambda b: b"\xff\xfe" + b),
    "profile bound edited": ("profile", _edit_bound),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cache_is_not_trusted(tmp_path, written, caplog, damage):
    storage, key = _restore(tmp_path, written)
    drift, dle = _artifacts(storage, key)
    target, change = DAMAGE[damage]
    name = {"profile": key, "drift": drift, "dle": dle}[target]
    if change is None:
        storage.fs.delete_file(storage.path(name))
    else:
        storage.write_bytes(name, change(storage.read_bytes(name)))
    with caplog.at_level(logging.WARNING, logger="watchkeeper.safe_cache"):
        assert read_profile(storage, key) is None
    assert "cannot be trusted" in caplog.text and "rebuilding" in caplog.text


def test_a_missing_profile_is_simply_built(tmp_path):
    assert read_profile(Storage.from_uri(str(tmp_path)), "watchkeeper/m/reference/profile.json") is None


def _plant_pickle(storage: Storage, key: str, marker: Path) -> None:
    """An attacker who can write to the bucket swaps in a pickle and re-signs the profile with its checksum."""
    artifact, _ = _artifacts(storage, key)
    payload = pickle.dumps({"c|jensen_shannon": Boom(str(marker))})
    storage.write_bytes(artifact, payload)
    doc = storage.read_json(key)
    doc["drift_state"]["sha256"] = sha256(payload)
    doc.pop("integrity")
    doc["integrity"] = {"sha256": sha256(_canonical(doc))}
    storage.write_json(key, doc)


def test_a_re_signed_planted_pickle_runs_nothing(tmp_path, written, caplog):
    storage, key = _restore(tmp_path, written)
    marker = tmp_path / "pwned"
    _plant_pickle(storage, key, marker)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.safe_cache"):
        assert read_profile(storage, key) is None
    assert not marker.exists() and "unreadable" in caplog.text


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("world")
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_tiny_world(storage, days=1, n=100)
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), **FAST)
    return cfg, storage, get_profile(cfg, storage, storage)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_get_profile_reads_its_own_cache_back(world):
    cfg, storage, built = world
    cached = get_profile(cfg, storage, storage)
    assert _bounds(cached) == _bounds(built)
    for name, state in drift_state(built, storage).items():
        again = drift_state(cached, storage)[name]
        assert type(again) is type(state)
        assert _same(again, state), name
    assert not any(k.endswith((".pkl", ".pickle")) for k in storage.list(""))


def test_get_profile_rebuilds_a_poisoned_cache_once(world, tmp_path, caplog):
    cfg, storage, built = world
    key = profile_key(cfg, storage)
    marker = tmp_path / "pwned"
    _plant_pickle(storage, key, marker)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.safe_cache"):
        again = get_profile(cfg, storage, storage)
    assert not marker.exists() and "rebuilding" in caplog.text
    assert _bounds(again) == _bounds(built)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="watchkeeper.safe_cache"):
        get_profile(cfg, storage, storage)  # the next day reads the repaired cache without a word
    assert caplog.text == ""


@pytest.mark.slow
def test_regressor_profile_keeps_its_estimator_in_skops(tmp_path):
    from threadpoolctl import threadpool_limits

    storage = Storage.from_uri(str(tmp_path / "data"))
    frames = write_tiny_world(storage, days=1, n=100)
    columns = {**TINY_CONFIG["columns"], "score": None, "prediction": "score"}
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), task="regression", columns=columns, **FAST)
    with threadpool_limits(1):
        built = get_profile(cfg, storage, storage)
        cached = get_profile(cfg, storage, storage)
    _, artifact = _artifacts(storage, profile_key(cfg, storage))
    assert artifact.endswith(".skops")
    day = next(iter(frames.values()))
    again, first = dle_estimator(cached).row_losses(day), dle_estimator(built).row_losses(day)
    assert again.keys() == first.keys() and all(np.allclose(again[k], first[k]) for k in first)


class Untrusted:
    """A class skops has not been told to trust."""

    def __init__(self):
        self.x = 1


def test_skops_refuses_types_outside_the_trusted_list():
    with pytest.raises(CacheError, match="refused or unreadable"):
        decode_estimator(skops.io.dumps(Untrusted()))


def test_no_code_loads_pickles():
    """Nothing in the engine, plugins or DAGs deserializes with pickle, joblib, cloudpickle or allow_pickle=True."""
    pattern = re.compile(r"pickle\.loads?\(|joblib\.load\(|cloudpickle\.loads?\(|allow_pickle=True|Unpickler")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in ("include", "plugins", "dags")
        for p in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
