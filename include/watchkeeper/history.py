"""The stored history the policy replays: one small signals document per day and one document per incident.

`<results_prefix>/<model>/signals/<day>.json` is the day's `DaySignals` (written when the day finishes; derived from
its `result.json` when missing), `<results_prefix>/<model>/incidents/<id>.json` each incident as the last replay
left it. `apply_policy` replays every stored day, so a day re-run or backfilled in any order rebuilds the incidents.

Runs of different days of one model may finish at once (a backfill with concurrency). Each stores its day's signals
first, then rebuilds the incidents holding the model's incidents lease (`<model>/leases/incidents.json`, taken
through `build_lease`, waited for): the last rebuild to take the lease sees every day stored before it, so the
documents always end as a replay of all stored days, and no run removes another's incident mid-rebuild.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

from watchkeeper.config import ModelConfig, PolicyConfig
from watchkeeper.incidents import Replay, replay
from watchkeeper.policy import DaySignals, day_signals
from watchkeeper.result import DayResult
from watchkeeper.storage import Storage

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 300.0
"""A rebuild takes seconds; a holder killed mid-rebuild delays the model's other runs at most this long."""
ACQUIRE_ATTEMPTS = 4


def model_key(cfg: ModelConfig, name: str) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/{name}"


def signals_key(cfg: ModelConfig, day: date) -> str:
    return model_key(cfg, f"signals/{day.isoformat()}.json")


def load_days(
    cfg: ModelConfig, results: Storage, start: date | None = None, end: date | None = None
) -> list[DaySignals]:
    """Every stored day's signals in [start, end], from the signals documents or, when absent, `result.json`."""
    out: dict[date, DaySignals] = {}
    for key in results.list(model_key(cfg, "signals")):
        if not key.endswith(".json"):  # another run's temporary file on local disk
            continue
        ds = DaySignals.model_validate(results.read_json(key))
        out[ds.day] = ds
    for key in results.list(model_key(cfg, "days")):
        if not key.endswith("/result.json"):
            continue
        day = date.fromisoformat(key.rsplit("/", 2)[-2])
        if day not in out:
            out[day] = day_signals(DayResult.model_validate(results.read_json(key)))
    return [out[d] for d in sorted(out) if (start is None or d >= start) and (end is None or d <= end)]


def store_signals(cfg: ModelConfig, results: Storage, result: DayResult) -> DaySignals:
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
    today = store_signals(cfg, results, result)
    with incidents_lease(cfg, results):
        days = [d for d in load_days(cfg, results) if d.day != today.day] + [today]
        done = replay(cfg.policy, cfg.name, days)
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
    """Write each incident that changed; remove documents of incidents the replay no longer produces."""
    prefix = model_key(cfg, "incidents/")
    stored = set(results.list(prefix))
    for inc in done.incidents.values():
        key = f"{prefix}{inc.id}.json"
        doc = inc.model_dump(mode="json")
        if key not in stored or results.read_json(key) != doc:
            results.write_json(key, doc)
    for key in stored - {f"{prefix}{i}.json" for i in done.incidents}:
        log.info("incident %s no longer follows from the stored days; removing it", key)
        results.fs.delete_file(results.path(key))
