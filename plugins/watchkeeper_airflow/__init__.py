"""Airflow-facing adapters shared by Watchkeeper's DAGs: connections → storage, alerts → Slack or the outbox.

The engine (`watchkeeper`) never imports Airflow; everything that touches connections or the scheduler is here.
"""
