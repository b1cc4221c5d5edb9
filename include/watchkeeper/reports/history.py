"""Earlier days' stored results, read back as `DayResult`s: what the reports chart over days.

Days with no stored result (not run yet, or failed before `finish`) are simply absent; a result written by an
older schema that no longer validates is skipped rather than breaking today's report.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import ValidationError

from watchkeeper.config import ModelConfig
from watchkeeper.result import DayResult
from watchkeeper.storage import Storage


def stored_result(cfg: ModelConfig, results: Storage, day: date) -> DayResult | None:
    try:
        doc = results.read_json_if_any(cfg.results_key(day, "result.json"))
        return None if doc is None else DayResult.model_validate(doc)
    except (ValidationError, ValueError):
        return None


def stored_results(cfg: ModelConfig, results: Storage, start: date, end: date) -> list[DayResult]:
    """Stored results of the days from `start` to `end` (both included), oldest first."""
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [r for day in days if (r := stored_result(cfg, results, day)) is not None]
