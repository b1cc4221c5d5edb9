"""Guards around a retraining: one at a time per model (a lease object in storage) and a cooldown between them.

The cooldown counts monitored days from the request day of the last retraining that produced a challenger, so a
backfill behaves like the live run; the lease expires by the wall clock because it guards live processes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from watchkeeper import lease_object
from watchkeeper.config import ModelConfig
from watchkeeper.retraining.training_set import Refused
from watchkeeper.storage import Storage


def _key(cfg: ModelConfig, name: str) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/retraining/{name}"


def acquire(cfg: ModelConfig, results: Storage, holder: str, day: date) -> None:
    """Take the model's retraining lease for `holder`, or raise Refused("busy") while another holds it."""
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=cfg.model.retraining.lease_minutes)
    doc = {"holder": holder, "token": holder, "day": day.isoformat(), "expires": expires.isoformat()}

    def blocks(lease: dict) -> bool:
        return (
            lease.get("holder") != holder
            and datetime.fromisoformat(lease.get("expires", "1970-01-01T00:00+00:00")) > now
        )

    # A conditional write (`lease_object`): of two requests racing, exactly one becomes the holder.
    lease = lease_object.take(results, _key(cfg, "lease.json"), doc, blocks)
    if lease is not None and lease.get("holder") != holder:
        raise Refused(
            "busy", f"{cfg.name} {day}: a retraining is already running (request of {lease.get('day', '?')})"
        )


def release(cfg: ModelConfig, results: Storage, holder: str) -> None:
    lease_object.give_back(results, _key(cfg, "lease.json"), holder)


def check_cooldown(cfg: ModelConfig, results: Storage, day: date) -> None:
    """Raise Refused("cooldown") within `cooldown_days` after the last retraining that produced a challenger."""
    key = _key(cfg, "last.json")
    if not results.exists(key):
        return
    last = results.read_json(key)
    since = (day - date.fromisoformat(last["day"])).days
    if 0 <= since < cfg.model.retraining.cooldown_days:
        raise Refused(
            "cooldown",
            f"{cfg.name} {day}: cooldown: version {last['version']} was trained on the request of {last['day']}, "
            f"{since} day(s) ago (cooldown {cfg.model.retraining.cooldown_days} days)",
        )


def mark_trained(cfg: ModelConfig, results: Storage, day: date, version: str) -> None:
    results.write_json(_key(cfg, "last.json"), {"day": day.isoformat(), "version": version}, whole=True)
