"""A retraining request that produced nothing to decide on is asked again while realized performance still alerts.

The policy requests a retraining once per incident. When that retraining ends without a challenger a person could
promote (too few labels yet, declined by the cooldown or the lease, a challenger that was not better), the incident
may stay open for days as labels of the changed relation arrive. Each such day gets a `retrain` action again, and
the retraining's own guards (cooldown, lease, minimum labels, quality) decide whether it runs: as before incidents,
requests on consecutive days start one retraining per cooldown.
"""

from __future__ import annotations

from datetime import date, timedelta

from watchkeeper.config import ModelConfig
from watchkeeper.decisions import critical_quality_failure
from watchkeeper.result import Action, DayResult, Severity
from watchkeeper.storage import Storage

SETTLED = ("proposed", "promoted")
"""Outcomes that leave a challenger for a person (or for shadow days) to judge: no further request."""


def last_outcome(cfg: ModelConfig, results: Storage, day: date) -> dict | None:
    """The latest retraining outcome requested before `day` within the retraining window, or None."""
    prefix = f"{cfg.storage.results_prefix}/{cfg.name}/retraining/"
    first = (day - timedelta(days=cfg.model.retraining.window_days)).isoformat()
    days = sorted(
        k[len(prefix) :].split("/")[0] for k in results.list(prefix) if k.endswith("/outcome.json")
    )  # one listing: the outcomes sit under retraining/<request day>/
    earlier = [d for d in days if first <= d < day.isoformat()]
    return results.read_json(f"{prefix}{earlier[-1]}/outcome.json") if earlier else None


def follow_up(cfg: ModelConfig, results: Storage, result: DayResult) -> Action | None:
    """Add (and return) a `retrain` action when an earlier request came to nothing and realized performance of the
    model still alerts critically today; nothing on days the policy already asks, or whose data failed quality."""
    from watchkeeper.retraining.training_set import _realized_alert

    if cfg.model is None or any(a.kind == "retrain" for a in result.actions):
        return None
    alerts = [c for c in result.checks if _realized_alert(c)]
    if not alerts or critical_quality_failure(result.checks):
        return None
    last = last_outcome(cfg, results, result.day)
    if last is None or last.get("status") in SETTLED:
        return None
    ended = last.get("kind") or last.get("status")
    action = Action(
        kind="retrain", owner="model", severity=Severity.CRITICAL, rule="retraining_follow_up",
        reason=f"realized performance still alerts and the retraining requested on {last['day']} ended "
        f"without a challenger to decide on ({ended}): requested again",
        checks=[f"{c.id}:{c.subject}" for c in alerts],
    )  # fmt: skip
    result.actions.append(action)
    return action
