"""Watchkeeper's Airflow plugin: the listener that writes each monitoring run's verdict as its note, and the
monitoring DAGs' timetable.

Airflow loads it from the plugins folder in the scheduler, the dag-processor, the API server and `dag.test()`
processes; a process without it cannot serialize or load the monitoring DAGs (their timetable is not registered).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from watchkeeper_airflow import run_notes
from watchkeeper_airflow.timetable import MonitoredDayTimetable


class WatchkeeperPlugin(AirflowPlugin):
    """Run notes (the day's verdict on every finished `watchkeeper_<model>` run) and run ids naming the day."""

    name = "watchkeeper"
    listeners = [run_notes]
    timetables = [MonitoredDayTimetable]
