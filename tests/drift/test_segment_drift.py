"""Segment drift: a shift inside one segment is caught there, against bounds from that segment's reference rows."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from helpers import FIRST_DAY, rows, tiny_config
from watchkeeper.drift.day import DayColumns
from watchkeeper.drift.stage import apply_persistence, drift_checks, top_drifted
from watchkeeper.reference import build_profile


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segments")
    rng = np.random.default_rng(5)
    ref = pd.concat(
        [rows(rng, 600, FIRST_DAY - timedelta(days=30 - i)) for i in range(30)], ignore_index=True
    )
    cfg = tiny_config(tmp, str(tmp), segments={"columns": ["c"], "min_rows": 100, "max_values": 2})
    return cfg, build_profile(cfg, ref)


def check(world, frame):
    cfg, profile = world
    return drift_checks(cfg, DayColumns.from_pandas(frame), profile, profile["_drift_state"])


def test_segments_are_the_most_frequent_values_with_their_own_bounds(world):
    _, profile = world
    assert set(profile["segments"]) == {"c=a", "c=b"}  # c=c (20 %) is beyond max_values=2
    seg = profile["segments"]["c=b"]
    assert seg["chunks"] == 30 and 0.25 < seg["reference_rows"] / (30 * 600) < 0.35
    assert "c|jensen_shannon" not in seg["drift"]  # the segment's own column is constant inside it
    whole, inside = profile["drift"]["x1|ks"]["upper"], seg["drift"]["x1|ks"]["upper"]
    assert inside > whole  # fewer rows per chunk inside a segment: wider sampling noise, wider bound


def test_a_shift_inside_one_segment_alerts_there_only(world):
    rng = np.random.default_rng(11)
    for i in range(5):
        day = rows(rng, 600, FIRST_DAY + timedelta(days=i))
        day.loc[day["c"] == "b", "x1"] += 1.0
        checks = check(world, day)
        alerted = {(c.segment, c.subject) for c in checks if c.status == "alert"}
        assert ("c=b", "x1") in alerted
        assert not {(s, col) for s, col in alerted if s == "c=a"}
        assert top_drifted(checks, 3)[0] == "x1"


def test_healthy_days_raise_no_segment_alert(world):
    rng = np.random.default_rng(12)
    checks = [c for i in range(20) for c in check(world, rows(rng, 600, FIRST_DAY + timedelta(days=i)))]
    segment_checks = [c for c in checks if c.segment]
    assert len(segment_checks) == 20 * 2 * (4 * 2)  # days x segments x (x1, x2, score, pred) x 2 methods
    assert sum(c.status == "alert" for c in segment_checks) <= 1


def test_a_small_segment_is_insufficient_data_not_an_alert(world):
    day = rows(np.random.default_rng(13), 600, FIRST_DAY)
    day = pd.concat([day[day["c"] != "b"], day[day["c"] == "b"].head(40).assign(x1=9.0)], ignore_index=True)
    small = [c for c in check(world, day) if c.segment == "c=b"]
    assert small and all(c.status == "skipped" for c in small)
    assert "insufficient data: 40 usable rows in segment c=b < segments.min_rows 100" in small[0].reason


def test_persistence_tells_segments_apart(world):
    day = rows(np.random.default_rng(14), 600, FIRST_DAY)
    day.loc[day["c"] == "b", "x1"] += 1.0
    yesterday = [
        c for c in check(world, day) if c.status == "alert" and c.segment is None
    ]  # whole-day breaches
    today = check(world, day)
    apply_persistence(today, 2, [yesterday])
    seg = next(c for c in today if c.segment == "c=b" and c.subject == "x1" and c.name == "ks")
    assert seg.status == "ok" and seg.details["breaches"] == "1 of 2 days"
