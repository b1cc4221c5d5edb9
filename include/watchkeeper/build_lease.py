"""A build lease in object storage, so concurrent runs build a shared artifact (the reference profile) once.

S3 offers no lock, so the lease is a small JSON object with an owner token and an expiry: a taker writes it, waits
`settle` seconds and reads it back; the last writer holds it. Others wait until the artifact exists or the lease
expires (its holder died), then take it over. The check-then-write gap is milliseconds against a settle of seconds.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from watchkeeper.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)


@contextmanager
def build_lease(
    storage: Storage,
    key: str,
    done: Callable[[], bool],
    ttl: float = 1800.0,
    settle: float = 2.0,
    poll: float = 5.0,
) -> Iterator[bool]:
    """Yield True holding the lease at `key` to build, or False once `done()` says another holder built it."""
    token = secrets.token_hex(8)
    while True:
        if done():
            yield False
            return
        held = _read(storage, key)
        if held is None or held["expires"] < time.time():
            storage.write_json(key, {"owner": token, "expires": time.time() + ttl})
            time.sleep(settle)
            held = _read(storage, key)
            if held is not None and held["owner"] == token:
                break
        log.info("waiting for the holder of %s to finish", storage.url(key))
        time.sleep(poll)
    try:
        yield True
    finally:
        if (_read(storage, key) or {}).get("owner") == token:
            storage.fs.delete_file(storage.path(key))


def _read(storage: Storage, key: str) -> dict | None:
    try:
        return storage.read_json(key)
    except (ObjectNotFound, ValueError):
        return None
