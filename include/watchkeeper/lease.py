"""One run per model-day at a time: a lease object `<results>/<model>/days/<day>/lease.json` with owner and expiry.

`run_day` (CLI, local backfill) holds it for the process (`held`); the DAG's tasks hold it for their Airflow run
(`hold_for_run`: every task of the run renews it, the run's teardown gives it back), so a run's own later tasks
and retries pass while any other run of the day stops with AlreadyRunning. The write is conditional
(`lease_object`): of two runs that start together exactly one gets the lease. A lease expires after
`ttl_minutes`; one held by a process of this host that no longer exists (killed) is stale at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watchkeeper import lease_object

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

LEASE = "lease.json"
TTL_MINUTES = 120.0
SETTLE_SECONDS = lease_object.SETTLE_SECONDS


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


def judging_now(d: Day, recent_seconds: float) -> bool:
    """Whether a run holds the model-day's lease now and took or renewed it within `recent_seconds` (a run's
    every task renews it): a run at work on the day, not one killed long ago whose lease has yet to expire."""
    doc, _ = lease_object.read(d.results, d.key(LEASE))
    if not live(doc):
        return False
    renewed = float(doc.get("renewed", float(doc.get("expires", 0)) - TTL_MINUTES * 60))
    return time.time() - renewed < recent_seconds


def live(doc: dict | None) -> bool:
    """Whether a lease document still blocks others: not expired, and its holder not known to be dead."""
    return bool(doc) and float(doc.get("expires", 0)) > time.time() and _alive_here(doc)


def _refuse(d: Day, doc: dict) -> AlreadyRunning:
    until = datetime.fromtimestamp(float(doc.get("expires", 0)), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return AlreadyRunning(
        f"{d.cfg.name} {d.day}: already running ({doc.get('owner', 'another run')}, lease until {until}); "
        f"nothing was changed. Wait for it, or remove {d.results.url(d.key(LEASE))} if that run is gone"
    )


def acquire(d: Day, ttl_minutes: float = TTL_MINUTES, settle: float = SETTLE_SECONDS) -> Lease:
    """Take the model-day's lease for this process or raise AlreadyRunning."""
    key = d.key(LEASE)
    nonce = lease_object.new_token()
    doc = {
        "owner": f"pid {os.getpid()} on {socket.gethostname()}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "nonce": nonce,
        "token": nonce,
        "renewed": time.time(),
        "expires": time.time() + ttl_minutes * 60,
    }
    holder = lease_object.take(d.results, key, doc, live, settle)
    if holder is not None:
        raise _refuse(d, holder)
    return Lease(key, nonce)


def release(d: Day, lease: Lease) -> None:
    """Give the lease back, only if it is still ours."""
    lease_object.give_back(d.results, lease.key, lease.nonce)


def hold_for_run(d: Day, run: str, ttl_minutes: float = TTL_MINUTES) -> None:
    """Take or renew the model-day's lease for the Airflow run `run` (e.g. `<dag_id>/<run_id>`); raise
    AlreadyRunning while another run holds it."""
    token = lease_object.new_token()
    doc = {
        "owner": f"Airflow run {run}",
        "run": run,
        "token": token,
        "renewed": time.time(),
        "expires": time.time() + ttl_minutes * 60,
    }
    holder = lease_object.take(d.results, d.key(LEASE), doc, lambda h: live(h) and h.get("run") != run)
    # Two tasks of the same run renewing at once: the other one's write is as good as ours.
    if holder is not None and holder.get("run") != run:
        raise _refuse(d, holder)


def release_for_run(d: Day, run: str) -> bool:
    """Give back the lease if the Airflow run `run` holds it; whether it did."""
    doc, _ = lease_object.read(d.results, d.key(LEASE))
    if doc is None or doc.get("run") != run:
        return False
    lease_object.give_back(d.results, d.key(LEASE), doc.get("token", ""))
    return True


@contextlib.contextmanager
def held(d: Day) -> Iterator[Lease]:
    lease = acquire(d)
    try:
        yield lease
    finally:
        release(d, lease)
