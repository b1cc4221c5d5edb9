"""What a task needs to call the engine: the model config and its (data, results) storages for a day.

Tasks pass only the config path and the day between each other; everything else is rebuilt here.
"""

from __future__ import annotations

from datetime import date

from watchkeeper.config import load_config
from watchkeeper.pipeline import Day

from watchkeeper_airflow.storage import storages_for


def day_for(config_path: str, day: str) -> Day:
    cfg = load_config(config_path)
    data, results = storages_for(cfg)
    return Day(cfg, date.fromisoformat(day), data, results)
