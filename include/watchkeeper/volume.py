"""The day's volume: too few records for any verdict, or fewer than the reference's days can explain.

`volume_check` (load stage) alerts below `drift.min_rows`: drift and performance then read "could not measure" (their
checks are typed `too_few_rows`), and this check is what tells someone. `day_size_check` (run with the drift
checks, where the reference profile is at hand) compares the day's rows with what a reference day holds: the rows per
whole calendar day of the reference (`reference_day_rows`, stored in the profile's detection part). A day with fewer
rows than `quality.min_day_share` of the smallest reference day alerts the data owner: a file cut short or a source
that stopped sending still gives a day that drift can score, so without this check only its side effects show.
When the recent monitored days are all smaller than the reference's, their median is the expected day instead.
A reference without a timestamp column says nothing about a day's size; the quality suite's row-count expectation is
then the only volume bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.result import Check, NotMeasured, Severity, Status


def volume_check(cfg: ModelConfig, rows: int) -> Check | None:
    """A critical `load.too_few_rows` check when the day has fewer rows than `drift.min_rows`; else None."""
    if rows >= cfg.drift.min_rows:
        return None
    return Check(
        id="load.too_few_rows",
        stage="load",
        name="too_few_rows",
        subject="table",
        value=float(rows),
        lower=float(cfg.drift.min_rows),
        threshold_rule="drift.min_rows: the fewest rows a drift verdict is made on",
        status=Status.ALERT,
        reason=(
            f"{rows} prediction record(s), fewer than drift.min_rows {cfg.drift.min_rows}: no drift or "
            "performance verdict is possible today; is the day's file complete?"
        ),
        severity=Severity.CRITICAL,
        owner="data",
    )


def reference_day_rows(cfg: ModelConfig, ref: pd.DataFrame) -> dict:
    """Rows per whole calendar day (UTC, like the reference chunks) of the reference, by `columns.timestamp`.

    The first and last days are left out when at least `reference.min_chunks` days remain: a reference cut at an
    hour, not at midnight, makes them partial. Empty when there is no timestamp column or fewer days than
    `reference.min_chunks` (then no day size is learned).
    """
    ts = cfg.columns.timestamp
    if not ts or ts not in ref:
        return {}
    days = pd.to_datetime(ref[ts], utc=True, errors="coerce").dt.date.dropna()
    counts = days.value_counts().sort_index().to_numpy()
    if counts.size < cfg.reference.min_chunks:
        return {}
    inner = counts.size - 2 >= cfg.reference.min_chunks
    whole = counts[1:-1] if inner else counts
    return {"day_rows": [int(n) for n in whole], "edge_days_left_out": bool(inner), "column": ts}


RECENT_DAYS = 7
"""Monitored days before today whose sizes can lower the expected day size (at least `MIN_RECENT` of them)."""
MIN_RECENT = 3


def day_size_check(
    cfg: ModelConfig, rows: int, volume: dict, blocked: str | None = None, recent: list[int] | None = None
) -> Check | None:
    """`drift.volume`: the day's rows against `quality.min_day_share` × the smallest whole reference day.

    None when the profile learned no day size (see `reference_day_rows`) or the share is 0: nothing to judge, and
    a skipped check each day would read as "could not measure". Skipped on a day below `drift.min_rows`, which
    `load.too_few_rows` already reports to the same owner, and on a day with a critical data-quality failure
    (`blocked`), already the data owner's news, like every drift check.

    `recent` are the row counts of the monitored days before today (up to `RECENT_DAYS`). From `MIN_RECENT` of
    them, a production whose days are all smaller than the reference's (a reference cut from a busier period, or
    its timestamps crowded into fewer days) is judged against its own median day, not against a reference day it
    never reaches: the check then tells of a day that falls, not of a reference sized differently.
    """
    share = cfg.quality.min_day_share
    sizes = np.asarray(volume.get("day_rows") or [], dtype=float)
    if share <= 0 or sizes.size == 0:
        return None
    smallest, median, largest = int(sizes.min()), int(np.median(sizes)), int(sizes.max())
    edges = "; first and last (possibly partial) days left out" if volume.get("edge_days_left_out") else ""
    expected, rule = (
        smallest,
        f"the smallest of {sizes.size} whole reference days by {volume.get('column')!r}",
    )
    known = [n for n in (recent or [])[:RECENT_DAYS] if n > 0]
    if len(known) >= MIN_RECENT and np.median(known) < smallest:
        expected = int(np.median(known))
        rule = f"the median of the last {len(known)} monitored days (below {rule}, {smallest} rows)"
    check = Check(
        id="drift.volume",
        stage="drift",
        name="volume",
        subject="table",
        value=float(rows),
        lower=share * expected,
        threshold_rule=f"quality.min_day_share {share:g} × {rule} ({expected} rows){edges}",
        status=Status.SKIPPED,
        severity=Severity.CRITICAL,
        owner="data",
        details={
            "role": "volume",
            "reference_days": int(sizes.size),
            "reference_day_rows": [smallest, median, largest],
            "recent_day_rows": known,
        },
    )
    if blocked:
        check.reason, check.not_measured = f"could not measure: {blocked}", NotMeasured.UPSTREAM_QUALITY
        return check
    if rows < cfg.drift.min_rows:
        check.reason = f"reported by load.too_few_rows: {rows} rows < drift.min_rows {cfg.drift.min_rows}"
        check.not_measured = NotMeasured.TOO_FEW_ROWS
        return check
    if expected == smallest:
        against = f"the smallest reference day ({smallest} rows; reference days hold {smallest}–{largest}, median {median})"
    else:
        against = f"the median of the last {len(known)} monitored days ({expected} rows; reference days hold {smallest}–{largest})"
    check.judge(
        float(rows),
        f"{rows} rows today, fewer than {share:.0%} of {against}: is the day's file complete, or did a source "
        "stop sending?",
    )
    return check
