"""Watchkeeper's Airflow plugin: registers the listener that writes each monitoring run's verdict as its note.

Airflow loads it from the plugins folder in the scheduler, the API server and `dag.test()` processes.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from watchkeeper_airflow import run_notes


class WatchkeeperPlugin(AirflowPlugin):
    """Run notes: "ALERT: ..." or "ok: ..." on every finished `watchkeeper_<model>` run."""

    name = "watchkeeper"
    listeners = [run_notes]
