"""Watchkeeper: daily monitoring of ML models in production (engine, no Airflow import)."""

__version__ = "0.1.0"
