"""Cached reference profiles in formats that cannot run code, each object checked against a recorded sha256.

A profile is one JSON document plus artifacts beside it: the drift methods' fitted states as arrays (`np.savez`,
read with `allow_pickle=False`) with their nesting as JSON, and the fitted DLE loss models through skops with an
explicit list of trusted types. The JSON records every artifact's sha256 and its own; `read_profile` returns None
(with a warning) for anything missing, empty, truncated, unreadable or mismatched, and the caller rebuilds.
Nothing here unpickles: storage writable by others cannot run code on the worker.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from typing import Any

import numpy as np

from watchkeeper.storage import Storage, StorageError

log = logging.getLogger(__name__)

FORMAT = "npz+json/1"
"""Format tag of the fitted-state artifact; a different tag is not read (the profile is rebuilt)."""

# Every type skops must rebuild for the DLE estimator (`performance.dle.LossEstimator`), named one by one; anything
# else found in the file is refused by skops itself (no blanket `trusted=True`).
DLE_TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "watchkeeper.performance.dle.LossEstimator",
]


class CacheError(Exception):
    """A cached object is missing, empty, truncated, unreadable, of an unknown format or fails its checksum."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- fitted states: nested dicts, lists, tuples, scalars and numpy arrays, as JSON + npz -------------------------


def encode_state(obj: Any) -> bytes:
    """`obj` as an npz archive: its arrays as members, its structure as JSON in member `__structure__`.

    Accepts dicts (string keys), lists, tuples, str, int, float, bool, None, numpy scalars and numpy arrays of
    non-object dtype; an array seen twice (e.g. the same sorted column for two methods) is stored once.
    """
    arrays: dict[str, np.ndarray] = {}
    seen: dict[int, str] = {}

    def enc(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject:
                raise TypeError(f"array of dtype {v.dtype} cannot be cached without pickle")
            name = seen.get(id(v))
            if name is None:
                name = seen[id(v)] = f"a{len(arrays)}"
                arrays[name] = v
            return {"__array__": name}
        if isinstance(v, np.generic):
            return enc(v.item())
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, tuple):
            return {"__tuple__": [enc(x) for x in v]}
        if isinstance(v, list):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in v):
                return {k: enc(x) for k, x in v.items()}
            return {"__items__": [[enc(k), enc(x)] for k, x in v.items()]}
        raise TypeError(f"{type(v).__name__} cannot be cached as arrays and JSON")

    structure = json.dumps(enc(obj)).encode()
    buf = io.BytesIO()
    np.savez(buf, __structure__=np.frombuffer(structure, dtype=np.uint8), **arrays)
    return buf.getvalue()


def decode_state(data: bytes) -> Any:
    """The object `encode_state` wrote; never unpickles (CacheError for anything else)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            structure = json.loads(npz["__structure__"].tobytes())
            arrays = {name: npz[name] for name in npz.files if name != "__structure__"}
    except Exception as exc:  # zip, npy header or JSON errors: all mean "not what we wrote"
        raise CacheError(f"fitted state unreadable ({type(exc).__name__})") from None

    def dec(v: Any) -> Any:
        if isinstance(v, list):
            return [dec(x) for x in v]
        if isinstance(v, dict):
            if "__array__" in v:
                return arrays[v["__array__"]]
            if "__tuple__" in v:
                return tuple(dec(x) for x in v["__tuple__"])
            if "__items__" in v:
                return {_key(dec(k)): dec(x) for k, x in v["__items__"]}
            return {k: dec(x) for k, x in v.items()}
        return v

    try:
        return dec(structure)
    except (KeyError, TypeError) as exc:
        raise CacheError(f"fitted state malformed ({exc})") from None


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


# --- scikit-learn estimators: skops with an explicit trusted list --------------------------------------------------


def encode_estimator(estimator: Any) -> bytes:
    import skops.io

    return skops.io.dumps(estimator)


def decode_estimator(data: bytes, trusted: list[str] = DLE_TRUSTED_TYPES) -> Any:
    """A skops-serialized estimator; any type outside `trusted` (and skops' own safe defaults) is refused."""
    import skops.io

    try:
        return skops.io.loads(data, trusted=trusted)
    except Exception as exc:  # untrusted types, a broken zip or schema: refuse, never fall back to pickle
        raise CacheError(
            f"estimator refused or unreadable ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


# --- the profile and its artifacts --------------------------------------------------------------------------------


def _canonical(profile: dict) -> bytes:
    # Through one JSON round trip first, so the bytes hashed at write and at read are the same (int keys, tuples).
    return json.dumps(json.loads(json.dumps(profile, default=str)), sort_keys=True).encode()


def write_profile(results: Storage, key: str, profile: dict) -> dict:
    """Store `profile` at `key` with its artifacts beside it; returns the profile as stored (private `_` entries
    kept in memory for the caller).

    Private entries are the fitted objects: `_drift_state` (arrays) and `estimation._estimator` (skops). Artifacts
    are written first, with their sha256 in the JSON, and the JSON last, so a profile that exists names complete
    artifacts; `integrity.sha256` covers the JSON itself.
    """
    base = key.removesuffix(".json")
    state = profile.pop("_drift_state")
    data = encode_state(state)
    artifact = f"{base}-drift.npz"
    results.write_bytes(artifact, data)
    profile["drift_state"] = {"artifact": artifact, "format": FORMAT, "sha256": sha256(data)}
    estimation = profile.get("estimation") or {}
    estimator = estimation.pop("_estimator", None)
    if estimator is not None:
        data = encode_estimator(estimator)
        estimation["artifact"] = f"{base}-dle.skops"
        estimation["sha256"] = sha256(data)
        results.write_bytes(estimation["artifact"], data)
    profile.pop("integrity", None)
    profile["integrity"] = {"sha256": sha256(_canonical(profile))}
    results.write_bytes(key, json.dumps(profile, indent=2, sort_keys=True, default=str).encode())
    profile["_drift_state"] = state
    if estimator is not None:
        estimation["_estimator"] = estimator
    return profile


def read_profile(results: Storage, key: str) -> dict | None:
    """The verified profile at `key` with its fitted objects loaded (`_drift_state`, `estimation._estimator`);
    None when it is missing, and None with a warning when it or an artifact is damaged or does not match."""
    try:
        raw = results.read_bytes_if_any(key)
        return None if raw is None else _verified(results, raw)
    except (CacheError, StorageError, OSError) as exc:
        log.warning(
            "cached reference profile %s cannot be trusted (%s); rebuilding it", results.url(key), exc
        )
        return None


def _verified(results: Storage, raw: bytes) -> dict:
    if not raw.strip():
        raise CacheError("profile is empty")
    try:
        profile = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CacheError(f"profile is not valid JSON (truncated?): {type(exc).__name__}") from None
    if not isinstance(profile, dict):
        raise CacheError("profile is not a JSON object")
    recorded = (profile.pop("integrity", None) or {}).get("sha256")
    if recorded != sha256(_canonical(profile)):
        raise CacheError("profile does not match its checksum")
    entry = profile.get("drift_state") or {}
    if entry.get("format") != FORMAT:
        raise CacheError(f"fitted state in an unknown format {entry.get('format')!r}")
    profile["_drift_state"] = decode_state(_artifact(results, entry))
    estimation = profile.get("estimation") or {}
    if estimation.get("artifact"):
        estimation["_estimator"] = decode_estimator(_artifact(results, estimation))
    profile["integrity"] = {"sha256": recorded}
    return profile


def _artifact(results: Storage, entry: dict) -> bytes:
    """An artifact's bytes, once they match the sha256 recorded for them."""
    key, recorded = entry.get("artifact"), entry.get("sha256")
    if not key or not recorded:
        raise CacheError("artifact without a recorded checksum")
    data = results.read_bytes_if_any(key)
    if data is None:
        raise CacheError(f"artifact {key} is missing")
    if not data:
        raise CacheError(f"artifact {key} is empty")
    if sha256(data) != recorded:
        raise CacheError(f"artifact {key} does not match its checksum")
    return data


# --- models from the MLflow registry ------------------------------------------------------------------------------

TRUSTED_MODEL_MODULES = ("sklearn.", "numpy.", "scipy.sparse.")
"""Module prefixes of the types a registry model may contain; anything else (custom classes, functions outside
scikit-learn) makes Watchkeeper refuse the model rather than load it."""


def load_mlflow_sklearn(uri: str) -> Any:
    """A scikit-learn model from MLflow (`models:/name@alias`, `runs:/...`), only when it was logged with skops.

    MLflow's own loader trusts the types listed in the model's MLmodel file and unpickles other formats, so a model
    written by someone else could run code; here the model's types are checked against `TRUSTED_MODEL_MODULES`
    and a pickled (or non-scikit-learn) model is refused with a ValueError saying how to log it instead.
    """
    from pathlib import Path

    import mlflow
    import skops.io
    import yaml

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    meta = yaml.safe_load((local / "MLmodel").read_text()) or {}
    flavor = (meta.get("flavors") or {}).get("sklearn") or {}
    if flavor.get("serialization_format") != "skops":
        found = flavor.get("serialization_format") or "no scikit-learn flavour"
        raise ValueError(
            f"model {uri} is stored as {found}; Watchkeeper does not unpickle models. Log it with "
            "mlflow.sklearn.log_model(..., serialization_format='skops')"
        )
    path = local / flavor.get("pickled_model", "model.skops")
    types = skops.io.get_untrusted_types(file=path)
    refused = [t for t in types if not t.startswith(TRUSTED_MODEL_MODULES)]
    if refused:
        raise ValueError(f"model {uri} holds types outside scikit-learn/numpy/scipy: {refused[:5]}")
    return skops.io.load(path, trusted=types)
