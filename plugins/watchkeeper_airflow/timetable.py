"""The monitoring DAGs' timetable: Airflow's cron data intervals, with each scheduled run named after its day.

A scheduled run covers [day, day+1) and starts once the day is over; Airflow names it after that start
(`scheduled__<day+1>T00:00:00+00:00`). `MonitoredDayTimetable` names it `scheduled__<day>` instead. The
plugin (plugin.py) registers the class: every Airflow process that parses or schedules the DAG needs it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.utils.types import DagRunType


class MonitoredDayTimetable(CronDataIntervalTimetable):
    """`CronDataIntervalTimetable` whose scheduled run ids name the interval's start in the timetable's zone.

    Only scheduled runs are renamed: their data intervals never repeat, so the id stays unique. Manual
    runs (several may cover the same day) and asset-triggered runs keep Airflow's ids; Airflow names
    backfill runs itself (`airflow.models.backfill` does not ask the timetable).
    """

    def generate_run_id(
        self, *, run_type: DagRunType, run_after: datetime, data_interval: DataInterval | None, **extra: Any
    ) -> str:
        if run_type != DagRunType.SCHEDULED or data_interval is None:
            return super().generate_run_id(
                run_type=run_type, run_after=run_after, data_interval=data_interval, **extra
            )
        return run_type.generate_run_id(suffix=day_label(data_interval.start, self._timezone))


def day_label(start: datetime, timezone: Any) -> str:
    """`2026-11-29` for an interval starting at local midnight; the full local timestamp for any other start."""
    local = start.astimezone(timezone)
    return local.date().isoformat() if local.time() == time() else local.isoformat()
