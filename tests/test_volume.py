"""The day's volume against the reference's day sizes: `volume.reference_day_rows` and `volume.day_size_check`,
and a day cut short through the pipeline."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from helpers import FIRST_DAY, parquet_bytes
from watchkeeper.pipeline import run_day
from watchkeeper.volume import day_size_check, reference_day_rows


def _reference(rows_per_day: list[int]) -> pd.DataFrame:
    """A reference whose day i holds rows_per_day[i] events (spread over that UTC day)."""
    rng = np.random.default_rng(0)
    stamps = []
    for i, n in enumerate(rows_per_day):
        start = datetime.combine(date(2025, 1, 1) + timedelta(days=i), datetime.min.time(), tzinfo=UTC)
        stamps += [start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)]
    return pd.DataFrame({"ts": stamps, "x1": rng.normal(size=len(stamps))})


def test_reference_day_rows_leaves_out_partial_edge_days_only_when_enough_days_remain(tiny):
    cfg = tiny[0]
    # a reference cut mid-day at both ends: 40 and 70 rows on its first and last days
    facts = reference_day_rows(cfg, _reference([40, 500, 520, 480, 510, 490, 505, 70]))
    assert facts == {"day_rows": [500, 520, 480, 510, 490, 505], "edge_days_left_out": True, "column": "ts"}
    # 6 days: keeping 4 would be fewer than reference.min_chunks (5), so every day counts
    assert reference_day_rows(cfg, _reference([40, 500, 520, 480, 510, 70]))["day_rows"] == [
        40,
        500,
        520,
        480,
        510,
        70,
    ]
    assert reference_day_rows(cfg, _reference([500] * 4)) == {}  # fewer days than min_chunks: no day size
    assert reference_day_rows(cfg, _reference([500] * 8).drop(columns=["ts"])) == {}


def test_day_size_check_alerts_the_data_owner_below_the_share_of_the_smallest_reference_day(tiny):
    cfg = tiny[0]
    volume = {"day_rows": [500, 520, 480, 510], "edge_days_left_out": True, "column": "ts"}
    low = day_size_check(cfg, 230, volume)
    assert (low.status, low.severity, low.owner, low.lower) == ("alert", "critical", "data", 240.0)
    assert low.reason.startswith("230 rows today, fewer than 50% of the smallest reference day (480 rows;")
    assert "partial" in low.threshold_rule and low.details["reference_day_rows"] == [480, 505, 520]
    assert day_size_check(cfg, 250, volume).status == "ok"
    assert day_size_check(cfg, 5000, volume).status == "ok"  # more rows is not this check's news
    few = day_size_check(cfg, 50, volume)  # below drift.min_rows: load.too_few_rows tells the same owner
    assert few.status == "skipped" and few.not_measured == "too_few_rows"
    blocked = day_size_check(cfg, 230, volume, "column 'x1' is missing")
    assert blocked.status == "skipped" and blocked.not_measured == "upstream_quality"
    assert day_size_check(cfg, 230, {}) is None  # no learned day size: nothing judged
    off = cfg.model_copy(update={"quality": cfg.quality.model_copy(update={"min_day_share": 0.0})})
    assert day_size_check(off, 230, volume) is None
    strict = cfg.model_copy(update={"quality": cfg.quality.model_copy(update={"min_day_share": 0.9})})
    assert day_size_check(strict, 430, volume).status == "alert"


@pytest.mark.slow
def test_a_day_cut_to_a_quarter_of_its_rows_tells_the_data_owner(tiny):
    cfg, storage, frames = tiny  # 12 reference days and production days of 600 rows
    healthy = run_day(cfg, FIRST_DAY, storage)
    (volume,) = [c for c in healthy.checks if c.id == "drift.volume"]
    assert volume.status == "ok" and volume.lower == 300.0 and volume.details["reference_days"] == 10
    day = FIRST_DAY + timedelta(days=1)
    cut = frames[day.isoformat()].drop(columns=["label"]).head(150)  # above drift.min_rows (100)
    storage.write_bytes(f"days/{day}.parquet", parquet_bytes(cut))
    result = run_day(cfg, day, storage)
    (volume,) = [c for c in result.checks if c.id == "drift.volume"]
    assert volume.status == "alert" and volume.value == 150
    assert not any(c.id == "load.too_few_rows" for c in result.checks)
    assert ("notify", "data") in [(a.kind, a.owner) for a in result.actions]
    told = next(a for a in result.actions if a.kind == "notify" and a.owner == "data")
    assert "drift.volume:table" in told.checks


def test_days_all_smaller_than_the_reference_are_judged_against_their_own_median(tiny):
    cfg = tiny[0]
    volume = {"day_rows": [5000, 5100, 4900, 5050], "edge_days_left_out": False, "column": "ts"}
    # three earlier monitored days of about 1,000 rows: the reference's days are not what production sends
    usual = day_size_check(cfg, 1000, volume, recent=[1010, 990, 1000])
    assert usual.status == "ok" and usual.lower == 500.0
    assert (
        "median of the last 3 monitored days" in usual.threshold_rule and "4900 rows" in usual.threshold_rule
    )
    fallen = day_size_check(
        cfg, 300, volume, recent=[1010, 990, 1000, 0]
    )  # a day that failed to load: not a size
    assert fallen.status == "alert" and fallen.details["recent_day_rows"] == [1010, 990, 1000]
    assert "fewer than 50% of the median of the last 3 monitored days (1000 rows" in fallen.reason
    # fewer than three known days: the reference alone
    assert day_size_check(cfg, 1000, volume, recent=[1010, 990]).status == "alert"
    # production busier than the reference: the reference's smallest day still sets the bound
    busy = day_size_check(cfg, 2000, volume, recent=[9000, 9100, 8900])
    assert busy.status == "alert" and busy.lower == 2450.0


@pytest.mark.slow
def test_a_production_sized_below_its_reference_alerts_its_first_days_then_only_a_fall(tiny):
    cfg, storage, frames = (
        tiny  # reference days of 600 rows; the world has 4 days, a fifth is the first one moved
    )
    statuses = []
    for i, n in enumerate([240, 240, 240, 240, 110]):  # 40 % of a reference day, then a fall to 110
        day = FIRST_DAY + timedelta(days=i)
        frame = frames.get(day.isoformat())
        if frame is None:
            frame = frames[FIRST_DAY.isoformat()]
            frame = frame.assign(ts=frame["ts"] + timedelta(days=i))
        storage.write_bytes(f"days/{day}.parquet", parquet_bytes(frame.drop(columns=["label"]).head(n)))
        (volume,) = [c for c in run_day(cfg, day, storage).checks if c.id == "drift.volume"]
        statuses.append(volume.status)
    assert statuses == ["alert", "alert", "alert", "ok", "alert"]
