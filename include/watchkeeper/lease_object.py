"""A lease object in storage taken by a conditional write: one holder at a time of a model-day, a profile build or
a retraining (`lease.py`, `build_lease.py`, `retraining/guards.py` say who holds what and when a lease blocks).

On S3 the lease is created with `PutObject(IfNoneMatch="*")` and a lapsed one is taken over with
`PutObject(IfMatch=<its ETag>)`, so of any number of racing takers exactly one succeeds. A store that refuses
conditional writes (older S3-compatible servers) falls back to write, settle, read back (the last writer wins),
logged once per endpoint. On local disk a lease is created complete by hard-linking a written temporary file (fails
if the path exists, like `O_EXCL`); a lapsed one is replaced by an atomic rename under an `flock` of the current
file, re-checked to still be the file at the path and still lapsed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import NoReturn

import pyarrow.fs as pafs

from watchkeeper.storage import (
    ObjectNotFound,
    Storage,
    StorageError,
    raise_if_unreachable,
    s3_client,
    s3_error_code,
)

log = logging.getLogger(__name__)

SETTLE_SECONDS = 0.5
"""Fallback only: how long a writer waits before reading its lease back."""
_LOST = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"}
_UNSUPPORTED = {"NotImplemented", "501", "InvalidArgument", "InvalidRequest", "NotSupported"}
_warned: set[str] = set()

Blocks = Callable[[dict], bool]
"""Whether a holder's lease document still keeps others out (not expired, holder alive, another owner)."""


def take(
    storage: Storage, key: str, doc: dict, blocks: Blocks, settle: float = SETTLE_SECONDS
) -> dict | None:
    """Write `doc` (which carries a unique `token`) as the lease at `key` unless a blocking lease is there.

    Returns None when the lease is now `doc`, else the document of whoever holds it.
    """
    for _ in range(3):  # a lease released between our read and our write: try once more
        current, tag = read(storage, key)
        if current is not None and blocks(current):
            return current
        data = json.dumps(doc, sort_keys=True).encode()
        if isinstance(storage.fs, pafs.LocalFileSystem):
            won = _local_write(storage.path(key), data, current is not None, blocks)
        elif storage.credentials is not None:
            won = _s3_write(storage, key, data, tag)
        else:
            won = None
        if won is None:
            return _settled_write(storage, key, doc, data, settle)
        if won:
            return None
        holder, _ = read(storage, key)
        if holder is not None:
            return holder
    return doc | {"owner": "another run that released and retook it"}


def give_back(storage: Storage, key: str, token: str) -> None:
    """Remove the lease at `key` if it is still the one written with `token`."""
    if isinstance(storage.fs, pafs.LocalFileSystem):
        path = storage.path(key)
        with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            if _same_file(path, f) and _parse(f.read()).get("token") == token:
                os.unlink(path)
        return
    current, _ = read(storage, key)
    if current is not None and current.get("token") == token:
        storage.delete(key)


def read(storage: Storage, key: str) -> tuple[dict | None, str | None]:
    """The lease document at `key` and its version (S3 ETag; None on local disk); (None, None) when absent.

    A lease half-written by a killed process reads as an empty document: it blocks no one and is replaced.
    """
    local = isinstance(storage.fs, pafs.LocalFileSystem)
    try:
        data, tag = storage.read_versioned(key)
    except ObjectNotFound:
        return None, None
    except StorageError:
        if local:  # unreadable on disk: no lease
            return None, None
        raise
    return _parse(data), tag


def new_token() -> str:
    return uuid.uuid4().hex


def _parse(data: bytes) -> dict:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _s3_write(storage: Storage, key: str, data: bytes, tag: str | None) -> bool | None:
    """Create (`tag` None) or replace the version `tag`; False when another writer came first, None when the
    store does not support conditional writes."""
    endpoint = storage.credentials.endpoint_url or "AWS S3"
    if endpoint in _warned:
        return None
    bucket, name = storage.bucket_and_name(key)
    condition = {"IfNoneMatch": "*"} if tag is None else {"IfMatch": tag}
    try:
        s3_client(storage.credentials).put_object(Bucket=bucket, Key=name, Body=data, **condition)
    except Exception as exc:
        code = s3_error_code(exc)
        if code in _LOST:
            return False
        if code in _UNSUPPORTED:
            _warned.add(endpoint)
            log.warning(
                "%s refuses conditional writes (%s): leases fall back to write, settle and read back",
                endpoint,
                code,
            )
            return None
        _reraise(storage, exc)
    return True


def _reraise(storage: Storage, exc: Exception) -> NoReturn:
    """A store that is down as the storage layer's OSError (`raise_if_unreachable`); other errors as they are."""
    raise_if_unreachable(storage.credentials, exc)
    raise exc


def _settled_write(storage: Storage, key: str, doc: dict, data: bytes, settle: float) -> dict | None:
    storage.write_bytes(key, data)
    time.sleep(settle)
    now, _ = read(storage, key)
    return None if now is not None and now.get("token") == doc["token"] else (now or doc)


def _same_file(path: str, f) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def _local_write(path: str, data: bytes, replace: bool, blocks: Blocks) -> bool:
    """Create the lease file (complete, never half-written: a hard link of a written temporary file fails if the
    path exists), or (`replace`) swap the lapsed one for ours while holding its lock."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as out:
        out.write(data)
    try:
        if not replace:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        try:
            f = open(path, "rb")  # noqa: SIM115 - only the open may find the lease released
        except FileNotFoundError:
            return False
        with f:
            fcntl.flock(f, fcntl.LOCK_EX)
            # Another taker may have replaced the file while we waited for the lock: then it is theirs.
            if not _same_file(path, f) or blocks(_parse(f.read())):
                return False
            os.replace(tmp, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
