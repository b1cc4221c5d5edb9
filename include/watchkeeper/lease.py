"""One run per model-day at a time: a lease object `<results>/<model>/days/<day>/lease.json` with owner and expiry.

On local disk the lease is created exclusively (`O_EXCL`). S3 offers no create-if-absent through pyarrow, so the
lease is written with a random nonce, read back after a short settle time, and kept only if the nonce is still
ours: of two runs that start together the later writer wins and the other stops. A lease expires after
`ttl_minutes`; one held by a process of this host that no longer exists (killed) is stale at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

LEASE = "lease.json"
TTL_MINUTES = 120.0
SETTLE_SECONDS = 0.5


class AlreadyRunning(Exception):
    """Another live run holds the model-day's lease; the message names it and when its lease expires."""


@dataclass(frozen=True)
class Lease:
    key: str
    nonce: str


def _alive_here(doc: dict) -> bool:
    """False only when the holder ran on this host and its process is gone."""
    if doc.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(doc.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def live(doc: dict | None) -> bool:
    """Whether a lease document still blocks others: not expired, and its holder not known to be dead."""
    return bool(doc) and float(doc.get("expires", 0)) > time.time() and _alive_here(doc)


def _read(d: Day, key: str) -> dict | None:
    try:
        return json.loads(d.results.read_bytes(key))
    except Exception:  # absent, or a lease half-written by a killed process: treated as no lease
        return None


def _refuse(d: Day, doc: dict) -> AlreadyRunning:
    until = datetime.fromtimestamp(float(doc["expires"]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return AlreadyRunning(
        f"{d.cfg.name} {d.day}: already running ({doc.get('owner', 'another run')}, lease until {until}); "
        f"nothing was changed. Wait for it, or remove {d.results.url(d.key(LEASE))} if that run is gone"
    )


def acquire(d: Day, ttl_minutes: float = TTL_MINUTES, settle: float = SETTLE_SECONDS) -> Lease:
    """Take the model-day's lease or raise AlreadyRunning."""
    key = d.key(LEASE)
    held = _read(d, key)
    if live(held):
        raise _refuse(d, held)
    nonce = uuid.uuid4().hex
    doc = {
        "owner": f"pid {os.getpid()} on {socket.gethostname()}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "nonce": nonce,
        "expires": time.time() + ttl_minutes * 60,
    }
    data = json.dumps(doc).encode()
    if isinstance(d.results.fs, pafs.LocalFileSystem):
        path = d.results.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        took_over = os.path.exists(path)
        if took_over:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # stale (checked above)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise _refuse(d, _read(d, key) or doc) from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if not took_over:
            return Lease(key, nonce)
        # Two runs taking over the same stale lease may each remove the other's: the settle below decides.
    else:
        d.results.write_bytes(key, data)
    time.sleep(settle)
    now = _read(d, key)
    if not now or now.get("nonce") != nonce:
        raise _refuse(d, now or doc)
    return Lease(key, nonce)


def release(d: Day, lease: Lease) -> None:
    """Give the lease back, only if it is still ours."""
    doc = _read(d, lease.key)
    if doc and doc.get("nonce") == lease.nonce:
        d.results.delete(lease.key)


@contextlib.contextmanager
def held(d: Day) -> Iterator[Lease]:
    lease = acquire(d)
    try:
        yield lease
    finally:
        release(d, lease)
