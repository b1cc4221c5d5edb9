"""CUSUM evidence: quiet on healthy stretches at its calibrated rate, a small persistent shift caught within a week,
a one-day spike not carried over, and the same answer when a day is re-run (state recomputed from stored days)."""

import numpy as np
from watchkeeper.drift.evidence import FALSE_ALARM_BUDGET, HORIZON_DAYS, calibrate, evidence_checks
from watchkeeper.result import Check, Status

MEAN, STD = 0.05, 0.012
ENTRIES = {f"x{i}|ks": {"center": MEAN, "days_std": STD, "noise_std": STD * 0.8} for i in range(20)}
CAL = calibrate(ENTRIES)


def _check(column: str, value: float) -> Check:
    return Check(
        id="drift.ks", stage="drift", name="ks", subject=column, value=value, status=Status.OK, owner="model"
    )


def _run(values_of_day, days: int, window: int = 30):
    """Run `days` days; `values_of_day(t)` gives {column: value}. Returns per day the alerting CUSUM subjects."""
    stored: dict[int, dict] = {}
    alerts = []
    for t in range(days):
        checks = [_check(c, v) for c, v in values_of_day(t).items()]
        out, z = evidence_checks(checks, CAL, lambda i, t=t: stored.get(t - i, {}), window, 5000, 5000)
        stored[t] = {"evidence": z}
        alerts.append({c.subject for c in out if c.status == "alert"})
    return alerts, stored


def test_calibrated_thresholds_keep_healthy_stretches_quiet():
    assert all(4 < v["h"] < 15 for v in CAL.values())
    rng = np.random.default_rng(9)
    shape, scale = (MEAN / STD) ** 2, STD**2 / MEAN
    alarmed = 0
    for _ in range(20):
        draws = rng.gamma(shape, scale, (HORIZON_DAYS, 20))
        alerts, _ = _run(lambda t, draws=draws: {f"x{i}": draws[t, i] for i in range(20)}, HORIZON_DAYS)
        alarmed += any(alerts)
    assert alarmed <= 20 * FALSE_ALARM_BUDGET * 2  # expected about 2 of 20 stretches at the 10 % budget


def test_a_2_sigma_persistent_shift_is_caught_within_a_week_and_a_spike_is_not_carried_over():
    rng = np.random.default_rng(2)
    noise = rng.normal(0, STD * 0.3, 60)

    def shifted(size):  # size·σ above the reference level from day 20: inside the daily bound (~4σ)
        return lambda t: {"x0": MEAN + noise[t] + (size * STD if t >= 20 else 0.0)}

    for size, within in ((2.0, 7), (1.5, 14)):
        alerts, _ = _run(shifted(size), 60)
        first = min(t for t, a in enumerate(alerts) if a)
        assert 20 <= first < 20 + within, (size, first)
    spike, _ = _run(lambda t: {"x0": MEAN + noise[t] + (20 * STD if t == 10 else 0.0)}, 30)
    assert not any(spike)


def test_a_re_run_day_gives_the_same_evidence():
    values = {t: {"x0": MEAN + 2 * STD} for t in range(10)}
    _, stored = _run(lambda t: values[t], 10)
    again, z = evidence_checks(
        [_check("x0", values[9]["x0"])], CAL, lambda i: stored.get(9 - i, {}), 30, 5000, 5000
    )
    first, _ = evidence_checks(
        [_check("x0", values[9]["x0"])], CAL, lambda i: stored.get(9 - i, {}), 30, 5000, 5000
    )
    assert again[0].value == first[0].value and z == stored[9]["evidence"]


def test_a_thin_day_adds_no_evidence():
    out, z = evidence_checks(
        [_check("x0", MEAN + 10 * STD)], CAL, lambda i: {}, 30, rows=100, sample_rows=5000
    )
    assert z == {} and out[0].value == 0.0


def test_the_cusum_stays_in_alarm_while_a_shift_lasts_and_leaves_it_within_two_days_of_its_end():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, STD * 0.3, 60)
    # 2σ above the reference level on days 10-29: the CUSUM alarms within a week and stays in alarm while the
    # shift lasts; from day 30 the statistic is healthy again.
    alerts, _ = _run(lambda t: {"x0": MEAN + noise[t] + (2 * STD if 10 <= t < 30 else 0.0)}, 60)
    alarmed = [t for t, a in enumerate(alerts) if a]
    assert alarmed and alarmed[0] < 17
    assert all(alerts[t] for t in range(alarmed[0], 30))
    # without the hold the 20 days' evidence (about 1.5 a day above k) would take weeks to drain
    assert max(alarmed) <= 31, alarmed
