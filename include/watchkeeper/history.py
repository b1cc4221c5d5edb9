"""The stored history the policy replays: one small signals document per day, a ledger of them, and one document
per incident.

`<results_prefix>/<model>/signals/<day>.json` is the day's `DaySignals` (written when the day finishes; derived from
its `result.json` when missing), `<results_prefix>/<model>/ledgers/signals.json` every day's `DaySignals` in one
object, and `<results_prefix>/<model>/incidents/<id>.json` each incident as the last replay left it (with their
digests in `ledgers/incidents.json`). `apply_policy` replays every stored day, so a day re-run or backfilled in any
order rebuilds the incidents. It reads the ledger and the digests (two objects) instead of every day's document and
every incident's: a backfill of n days makes O(n) reads, not O(n^2). The per-day documents stay (delivery reads the
day's own; they rebuild a ledger missing from a store written before it existed).

Runs of different days of one model may finish at once (a backfill with concurrency). Each stores its day's signals
document first, then, holding the model's incidents lease (`<model>/leases/incidents.json`, taken through
`build_lease`, waited for), puts its day into the ledger and rebuilds the incidents: the last rebuild to take the
lease sees every day stored before it, so the ledger always holds every stored day's latest signals and the
documents end as a replay of all of them. A day whose document is stored but not yet in the ledger (its run waits
for the lease) is read from its document, as before the ledger. A run killed between its document and the ledger
is corrected by its re-run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

from watchkeeper.config import ModelConfig, PolicyConfig
from watchkeeper.incidents import Replay, replay
from watchkeeper.policy import DaySignals, day_signals
from watchkeeper.result import DayResult
from watchkeeper.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 300.0
"""A rebuild takes seconds; a holder killed mid-rebuild delays the model's other runs at most this long."""
ACQUIRE_ATTEMPTS = 4
LEDGER_FORMAT = 1
"""Version of the ledger document; a ledger of another version is rebuilt from the per-day documents."""


def model_key(cfg: ModelConfig, name: str) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/{name}"


def signals_key(cfg: ModelConfig, day: date) -> str:
    return model_key(cfg, f"signals/{day.isoformat()}.json")


def ledger_key(cfg: ModelConfig) -> str:
    return model_key(cfg, "ledgers/signals.json")


def load_days(
    cfg: ModelConfig, results: Storage, start: date | None = None, end: date | None = None
) -> list[DaySignals]:
    """Every stored day's signals in [start, end], from the ledger plus the documents not yet in it (or, in a store
    without a ledger, from the signals documents and, when absent, `result.json`)."""
    return _in_range(_stored(cfg, results), start, end)


def scan_days(cfg: ModelConfig, results: Storage) -> dict[date, dict]:
    """Every stored day's signals (as stored JSON) read from the per-day documents or, when absent, `result.json`:
    one read per day, used only to build a missing ledger."""
    out: dict[date, dict] = {}
    for key in results.list(model_key(cfg, "signals")):
        if not key.endswith(".json"):  # another run's temporary file on local disk
            continue
        doc = results.read_json(key)
        out[date.fromisoformat(doc["day"])] = doc
    for key in results.list(model_key(cfg, "days")):
        if not key.endswith("/result.json"):
            continue
        day = date.fromisoformat(key.rsplit("/", 2)[-2])
        if day not in out:
            ds = day_signals(DayResult.model_validate(results.read_json(key)))
            out[day] = ds.model_dump(mode="json")
    return out


def read_ledger(cfg: ModelConfig, results: Storage) -> dict[date, dict] | None:
    """The ledger's days (stored JSON by day), or None when the store has no ledger of this format yet."""
    try:
        doc = results.read_json(ledger_key(cfg))
    except ObjectNotFound:
        return None
    if doc.get("format") != LEDGER_FORMAT:
        return None
    return {date.fromisoformat(k): v for k, v in doc["days"].items()}


def _stored(cfg: ModelConfig, results: Storage) -> dict[date, dict]:
    """Every stored day's signals as stored JSON: the ledger's, plus the days whose document is stored and not yet in
    the ledger (one listing); all the per-day documents when there is no ledger yet."""
    days = read_ledger(cfg, results)
    if days is None:
        return scan_days(cfg, results)
    for key in results.list(model_key(cfg, "signals")):
        if not key.endswith(".json"):
            continue
        day = date.fromisoformat(key.rsplit("/", 1)[-1].removesuffix(".json"))
        if day not in days:  # its run has not reached the lease yet
            days[day] = results.read_json(key)
    return days


def _in_range(days: dict[date, dict], start: date | None = None, end: date | None = None) -> list[DaySignals]:
    return [
        DaySignals.model_validate(days[d])
        for d in sorted(days)
        if (start is None or d >= start) and (end is None or d <= end)
    ]


def _write_ledger(cfg: ModelConfig, results: Storage, days: dict[date, dict]) -> None:
    doc = {"format": LEDGER_FORMAT, "days": {d.isoformat(): days[d] for d in sorted(days)}}
    results.write_bytes_atomic(ledger_key(cfg), json.dumps(doc, separators=(",", ":"), default=str).encode())


def _record(cfg: ModelConfig, results: Storage, today: DaySignals) -> dict[date, dict]:
    """Put the day's signals into the ledger (held under the incidents lease); every stored day's signals."""
    days = _stored(cfg, results)
    days[today.day] = today.model_dump(mode="json")
    _write_ledger(cfg, results, days)
    return days


def store_signals(cfg: ModelConfig, results: Storage, result: DayResult) -> DaySignals:
    """Store the day's signals document and its ledger entry (e.g. again once the day has its MLflow run).

    Takes the incidents lease, which is not re-entrant: not to be called while holding it."""
    today = _store_document(cfg, results, result)
    with incidents_lease(cfg, results):
        _record(cfg, results, today)
    return today


def _store_document(cfg: ModelConfig, results: Storage, result: DayResult) -> DaySignals:
    today = day_signals(result)
    results.write_json_atomic(signals_key(cfg, result.day), today.model_dump(mode="json"))
    return today


@contextmanager
def incidents_lease(cfg: ModelConfig, results: Storage) -> Iterator[None]:
    """Hold the model's incidents lease, waiting while another run holds it.

    Taking it is retried on a storage error: a read of the lease object can fail while another run replaces it
    (seen on the moto S3 server; S3 itself may answer a transient 5xx)."""
    from watchkeeper.build_lease import build_lease

    key = model_key(cfg, "leases/incidents.json")
    with ExitStack() as stack:
        for attempt in range(1, ACQUIRE_ATTEMPTS + 1):
            try:
                stack.enter_context(
                    build_lease(results, key, lambda: False, ttl=LEASE_TTL_SECONDS, settle=0.5, poll=0.5)
                )
                break
            except Exception as exc:  # noqa: BLE001 - transient storage errors; the last one is raised
                if attempt == ACQUIRE_ATTEMPTS:
                    raise
                log.warning("%s: taking the incidents lease failed (%s); trying again", cfg.name, exc)
                time.sleep(attempt)
        yield


def apply_policy(cfg: ModelConfig, results: Storage, result: DayResult) -> Replay:
    """Store the day's signals, replay all stored days, write the incidents, and fill the day's decisions,
    incident transitions and actions into `result`."""
    today = _store_document(cfg, results, result)
    with incidents_lease(cfg, results):
        done = replay(cfg.policy, cfg.name, _in_range(_record(cfg, results, today)))
        write_incidents(cfg, results, done)
    outcome = done.days[result.day]
    result.decisions = outcome.decisions
    result.incidents = outcome.incidents
    result.actions = outcome.actions
    return done


def replay_stored(cfg: ModelConfig, results: Storage, policy: PolicyConfig | None = None) -> Replay:
    """Replay the stored days under the model's (or another) policy; reads only, writes nothing."""
    return replay(policy or cfg.policy, cfg.name, load_days(cfg, results))


def write_incidents(cfg: ModelConfig, results: Storage, done: Replay) -> None:
    """Write each incident that changed; remove documents of incidents the replay no longer produces.

    What is stored is known from the digests the last write left (`ledgers/incidents.json`), so no document is
    read. The digests are removed before any document changes and written after the last change, so a write cut
    short leaves none; then (as in a store written before them) every stored document is read once."""
    prefix = model_key(cfg, "incidents/")
    digests_key = model_key(cfg, "ledgers/incidents.json")
    stored = _incident_digests(results, digests_key)
    trusted = stored is not None
    if stored is None:
        stored = {k: _digest(results.read_json(k)) for k in results.list(prefix)}
    docs = {f"{prefix}{inc.id}.json": inc.model_dump(mode="json") for inc in done.incidents.values()}
    now = {key: _digest(doc) for key, doc in docs.items()}
    if trusted and now == stored:
        return
    if trusted:
        results.delete(digests_key)
    for key, doc in docs.items():
        if stored.get(key) != now[key]:
            results.write_json(key, doc, whole=True)
    for key in set(stored) - set(docs):
        log.info("incident %s no longer follows from the stored days; removing it", key)
        results.delete(key)
    results.write_json_atomic(digests_key, {"format": LEDGER_FORMAT, "digests": now})


def _incident_digests(results: Storage, key: str) -> dict[str, str] | None:
    try:
        doc = results.read_json(key)
    except ObjectNotFound:
        return None
    return doc["digests"] if doc.get("format") == LEDGER_FORMAT else None


def _digest(doc: dict) -> str:
    return hashlib.sha256(
        json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
