"""The day's volume: a day with fewer records than any verdict needs is a data-owner alert, not a quiet skip.

Drift and performance then read "could not measure" (their checks are typed `too_few_rows`); this check is what
tells someone. The expected range learned from the reference is the quality suite's row-count expectation.
"""

from __future__ import annotations

from watchkeeper.config import ModelConfig
from watchkeeper.result import Check, Severity, Status


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
