"""Threshold calibration: healthy days stay near the rule's promised false-alert rate; known shifts are caught.

The k=3 rule promises about 0.135 % false alerts (the normal tail beyond 3 std): per check with
`drift.family_wise: false`, per day (any of the day's checks) by default. The linear mean + 3·std rule measured
1.1 % per check on skewed distances; these tests fail if calibration regresses to that.
"""

from datetime import timedelta

import numpy as np
import pandas as pd
from helpers import FIRST_DAY, rows, tiny_config
from watchkeeper.drift.day import DayColumns
from watchkeeper.drift.stage import drift_checks, top_drifted
from watchkeeper.reference import build_profile


def profile_for(tmp_path, n=600, family_wise=False):
    rng = np.random.default_rng(21)
    ref = pd.concat([rows(rng, n, FIRST_DAY - timedelta(days=30 - i)) for i in range(30)], ignore_index=True)
    cfg = tiny_config(tmp_path, str(tmp_path), drift={"family_wise": family_wise})
    return cfg, ref, build_profile(cfg, ref)


def check_day(cfg, profile, frame):
    return drift_checks(cfg, DayColumns.from_pandas(frame), profile, profile["_drift_state"])


def test_false_alert_rate_over_100_healthy_days(tmp_path):
    cfg, ref, profile = profile_for(tmp_path)
    rng = np.random.default_rng(99)
    checks = [
        c for i in range(100) for c in check_day(cfg, profile, rows(rng, 600, FIRST_DAY + timedelta(days=i)))
    ]
    rate = sum(c.status == "alert" for c in checks) / len(checks)
    assert len(checks) == 100 * 11  # 5 columns x 2 methods + the multivariate check
    assert rate <= 0.006, f"{rate:.2%} of {len(checks)} checks alerted on healthy days"


def test_a_known_shift_is_caught_every_day_and_only_on_its_feature(tmp_path):
    cfg, ref, profile = profile_for(tmp_path)
    rng = np.random.default_rng(7)
    for i in range(20):
        day = rows(rng, 600, FIRST_DAY + timedelta(days=i), shift=0.35)  # x1 moves by 0.35 std
        checks = check_day(cfg, profile, day)
        alerted = {c.subject for c in checks if c.status == "alert" and c.details["role"] == "feature"}
        assert "x1" in alerted and not alerted & {"x2", "c"}
        assert top_drifted(checks, 3)[0] == "x1"


def test_family_wise_bounds_keep_whole_healthy_days_quiet(tmp_path):
    """The default rule promises ~0.135 % of healthy days with any drift alert: 300 days, expected 0.4."""
    cfg, ref, profile = profile_for(tmp_path, family_wise=True)
    rng = np.random.default_rng(2024)
    days = [check_day(cfg, profile, rows(rng, 600, FIRST_DAY + timedelta(days=i))) for i in range(300)]
    assert {len(day) for day in days} == {profile["drift_family"]} == {11}  # the family is the day's checks
    assert all("split over 11 checks" in c.threshold_rule for c in days[0])
    alerting_days = sum(any(c.status == "alert" for c in day) for day in days)
    assert alerting_days <= 2, f"{alerting_days} of 300 healthy days alerted"


def test_family_wise_bounds_still_catch_a_known_shift_every_day(tmp_path):
    cfg, ref, profile = profile_for(tmp_path, family_wise=True)
    rng = np.random.default_rng(8)
    for i in range(20):
        checks = check_day(cfg, profile, rows(rng, 600, FIRST_DAY + timedelta(days=i), shift=0.4))
        alerted = {c.subject for c in checks if c.status == "alert" and c.details["role"] == "feature"}
        assert "x1" in alerted and not alerted & {"x2", "c"}
