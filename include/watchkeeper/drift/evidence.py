"""Evidence that accumulates across days: a one-sided CUSUM on each drift statistic's standardized excess.

A day's bound is split over all of its checks, so a shift that stays small (a statistic at 2σ above its reference
level, day after day) never crosses it. Each whole-day drift statistic's excess z = (value − reference level) /
reference spread (clipped at ±`CLIP`) is summed as S_t = max(0, S_t−1 + z_t − k) over the last `drift.evidence_days` stored days, in
day order, and alerts above h: a persistent excess of 1.5σ reaches h ≈ 6 in about a week. S is held at most
`OVERSHOOT` above h, so a shift that has ended (or a large one that the daily checks reported) leaves the CUSUM
within two healthy days instead of the weeks its accumulated evidence would take to drain at k a day.

Nothing is a mutable counter: each day stores its own z per statistic with its drift results, and S is recomputed
from those stored days in order, so re-runs and backfills (in day order) give the same answer. The threshold h of
each statistic is calibrated on simulated reference days (its gamma fit from the reference chunks and day-size
samples, as the daily bounds) so that over `HORIZON_DAYS` healthy days all of a model's CUSUMs together alarm with
probability at most `FALSE_ALARM_BUDGET`. Days with fewer than half a reference sample's rows add no evidence
(a distance measured on few rows is inflated by noise alone).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from watchkeeper.result import Check, Severity, Status

K = 0.5
"""Allowance, in reference standard deviations: the CUSUM is tuned to shifts of about 2k = 1σ and more."""
HORIZON_DAYS = 90
FALSE_ALARM_BUDGET = 0.1
"""Chance that any CUSUM of a model alarms over `HORIZON_DAYS` healthy days (beside the daily checks' budget)."""
PATHS = 4000
CLIP = 3.0
OVERSHOOT = 2 * K
"""How far above h the sum is held: two healthy days (each −k) take it back to h."""
"""A day adds at most this much evidence: a one-day spike (which the daily bound reports) must not keep the CUSUM
in alarm for the days after it."""


def calibrate(entries: dict[str, dict], seed: int = 0) -> dict[str, dict]:
    """Per statistic (bounds key → bounds entry): its reference level, spread and CUSUM threshold h."""
    usable = {
        key: e
        for key, e in entries.items()
        if e.get("center") is not None and max(e.get("days_std") or 0, e.get("noise_std") or 0) > 0
    }
    if not usable:
        return {}
    alpha = FALSE_ALARM_BUDGET / len(usable)
    rng = np.random.default_rng(seed)
    out = {}
    for key, e in usable.items():
        mean, std = float(e["center"]), float(max(e.get("days_std") or 0, e.get("noise_std") or 0))
        z = _simulated_excess(mean, std, rng)
        s = np.zeros(PATHS)
        peak = np.zeros(PATHS)
        for t in range(HORIZON_DAYS):
            s = np.maximum(0.0, s + z[:, t] - K)
            np.maximum(peak, s, out=peak)
        h = float(np.quantile(peak, 1 - alpha))
        out[key] = {"center": mean, "std": std, "h": max(h, 1.0)}
    return out


def _simulated_excess(mean: float, std: float, rng: np.random.Generator) -> np.ndarray:
    """Standardized excess of healthy days: a gamma with the reference values' mean and spread when the statistic
    is a positive distance (right-skewed), else a normal."""
    if mean > 0:
        shape, scale = (mean / std) ** 2, std**2 / mean
        values = rng.gamma(shape, scale, (PATHS, HORIZON_DAYS))
        return np.clip((values - mean) / std, -CLIP, CLIP)
    return np.clip(rng.standard_normal((PATHS, HORIZON_DAYS)), -CLIP, CLIP)


def statistic_key(check: Check) -> str:
    return f"{check.subject}|{check.name}"


def evidence_checks(
    checks: list[Check],
    calibration: dict[str, dict],
    earlier: Callable[[int], dict],
    days: int,
    rows: int,
    sample_rows: int | None,
) -> tuple[list[Check], dict[str, float]]:
    """A CUSUM check per calibrated whole-day drift statistic measured today, and today's z per statistic (to
    store). `earlier(i)` is the stored drift document of `i` days before."""
    thin = bool(sample_rows) and rows < 0.5 * sample_rows
    today: dict[str, float] = {}
    measured = {}
    for c in checks:
        key = statistic_key(c)
        if c.stage == "drift" and c.segment is None and c.value is not None and key in calibration:
            ref = calibration[key]
            measured[key] = c
            if not thin:
                today[key] = round(float(np.clip((c.value - ref["center"]) / ref["std"], -CLIP, CLIP)), 6)
    history = [earlier(i).get("evidence") or {} for i in range(days - 1, 0, -1)]  # oldest first
    out = []
    for key, c in measured.items():
        ref = calibration[key]
        s = 0.0
        for z in [day.get(key) for day in history] + [today.get(key)]:
            if z is not None:
                s = min(max(0.0, s + z - K), ref["h"] + OVERSHOOT)
        check = Check(
            id="drift.cusum",
            stage="drift",
            name="cusum",
            subject=c.subject,
            value=s,
            upper=ref["h"],
            threshold_rule=(
                f"CUSUM of (value − {ref['center']:.4g}) / {ref['std']:.4g} − {K} over the last {days} days; h "
                f"calibrated on simulated reference days to a {FALSE_ALARM_BUDGET:.0%} chance of any false alarm of "
                f"the model in {HORIZON_DAYS} days"
            ),
            status=Status.OK,
            severity=Severity.WARNING,
            owner="model",
            details={
                "kind": c.details.get("kind"),
                "role": c.details.get("role"),
                "method": c.name,
                "z": today.get(key),
            },
        )
        check.judge(
            s,
            f"{c.subject}: {c.name} has stayed above its reference level for days (CUSUM {s:.3g} > {ref['h']:.3g}): "
            "a small, persistent shift",
        )
        out.append(check)
    return out, today
