"""Guards around a retraining: one at a time per model (a lease object in storage) and a cooldown between them.

The cooldown counts monitored days from the request day of the last retraining that produced a challenger, so a
backfill behaves like the live run; the lease expires by the wall clock because it guards live processes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from watchkeeper.config import ModelConfig
from watchkeeper.retraining.training_set import Refused
from watchkeeper.storage import Storage


def _key(cfg: ModelConfig, name: str) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/retraining/{name}"


def acquire(cfg: ModelConfig, results: Storage, holder: str, day: date) -> None:
    """Take the model's retraining lease for `holder`, or raise Refused("busy") while another holds it."""
    key = _key(cfg, "lease.json")
    now = datetime.now(UTC)
    if results.exists(key):
        lease = results.read_json(key)
        if lease["holder"] != holder and datetime.fromisoformat(lease["expires"]) > now:
            raise Refused(
                "busy", f"{cfg.name} {day}: a retraining is already running (request of {lease['day']})"
            )
    expires = now + timedelta(minutes=cfg.model.retraining.lease_minutes)
    results.write_json(key, {"holder": holder, "day": day.isoformat(), "expires": expires.isoformat()})
    # Read back: of two writers racing, the later write wins and the other sees it is not the holder.
    if results.read_json(key)["holder"] != holder:
        raise Refused("busy", f"{cfg.name} {day}: another retraining took the lease first")


def release(cfg: ModelConfig, results: Storage, holder: str) -> None:
    key = _key(cfg, "lease.json")
    if results.exists(key) and results.read_json(key)["holder"] == holder:
        results.fs.delete_file(results.path(key))


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
    results.write_json(_key(cfg, "last.json"), {"day": day.isoformat(), "version": version})
