"""A build lease in object storage, so concurrent runs build a shared artifact (the reference profile) once.

The lease is a small JSON object with an owner token and an expiry, taken by a conditional write (`lease_object`:
exactly one of several takers gets it; `settle` is used only by stores without conditional writes). Others wait
until the artifact exists or the lease expires (its holder died), then take it over.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from watchkeeper import lease_object
from watchkeeper.storage import Storage

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
        doc = {"owner": token, "token": token, "expires": time.time() + ttl}
        if lease_object.take(storage, key, doc, _unexpired, settle) is None:
            break
        log.info("waiting for the holder of %s to finish", storage.url(key))
        time.sleep(poll)
    try:
        yield True
    finally:
        lease_object.give_back(storage, key, token)


def _unexpired(doc: dict) -> bool:
    return float(doc.get("expires", 0)) >= time.time()
