"""Which day a DAG run monitors: the `day` param when given, else the run's data interval (the previous day).

Scheduled and backfilled runs of a `CronDataIntervalTimetable("@daily")` DAG cover [day, day+1) in the
model's timezone (Airflow hands the interval over in UTC); a manual run may have no data interval at all, so it
falls back to the day before `run_after`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


class DayNotGiven(ValueError):
    """The run says nothing about which day to monitor."""


def monitored_day(
    param_day: str | None,
    data_interval_start: datetime | None,
    run_after: datetime | None = None,
    timezone: str = "UTC",
) -> date:
    if param_day:
        try:
            return date.fromisoformat(str(param_day))
        except ValueError:
            raise DayNotGiven(f"param 'day' must be YYYY-MM-DD, got {param_day!r}") from None
    if data_interval_start is not None:
        return data_interval_start.astimezone(ZoneInfo(timezone)).date()
    if run_after is not None:
        return run_after.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
    raise DayNotGiven(
        "the run has no data interval and no 'day' param: trigger it with conf {'day': 'YYYY-MM-DD'}"
    )
