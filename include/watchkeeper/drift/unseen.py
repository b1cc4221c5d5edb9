"""Unseen categories: every value of a categorical column that the reference never had is news on its first day.

The in-set expectation of the quality suite tolerates a small share of unexpected values (`mostly`), so a new
category in 0.5 % of a day's rows passes it. This check reports each such value, with its share of the day's rows,
on the day it first appears, whatever its share: `drift.unseen_categories`, one per categorical column, for the
data owner. A value counts as new when none of the previous `drift.unseen_lookback_days` stored days of the model
had it; those days' stored drift results hold keyed fingerprints of their unseen values (never the values), so
re-running a day gives the same verdict. Values are quoted only for columns marked safe to show (the `show_values`
column flag, when the configuration has one); otherwise the check names the column, counts and shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from watchkeeper.config import ModelConfig
from watchkeeper.drift.day import DayColumns
from watchkeeper.result import Check, NotMeasured, Severity, Status


def reference_categories(columns: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Per categorical column, the category labels the reference has (for the profile, as JSON lists)."""
    return {column: sorted(set(labels.tolist())) for column, labels in columns.items()}


def fingerprint(cfg: ModelConfig, column: str, value: str) -> str:
    """A keyed digest standing for an unseen value in stored results (the value itself is never stored there)."""
    key = cfg.name.encode()[:64]
    return hashlib.blake2b(f"{column}\0{value}".encode(), key=key, digest_size=8).hexdigest()


def safe_to_show(cfg: ModelConfig, column: str) -> bool:
    """Whether the configuration marks this column's values as safe to quote in results and alerts."""
    for feature in cfg.columns.features:
        if feature.name == column:
            return bool(getattr(feature, "show_values", False))
    return False


def unseen_checks(
    cfg: ModelConfig,
    day: DayColumns,
    detection: dict,
    earlier: Callable[[int], dict],
    blocked: str | None = None,
) -> tuple[list[Check], dict[str, list[str]]]:
    """One check per categorical column, and today's fingerprints per column (to store with the day's results).

    `detection` is the profile's part from `detection_profile.fit_detection`; `earlier(i)` the stored drift
    document of the day `i` days before (empty when there is none). A column whose reference chunks themselves
    meet values the rest of the reference lacks (ids, free text) reports its new values without alerting.
    """
    categories = detection.get("categories", {})
    open_ended = detection.get("open_ended", {})
    lookback = cfg.drift.unseen_lookback_days
    seen_before: dict[str, set[str]] = {}
    for i in range(1, lookback + 1) if not blocked else ():
        for column, prints in (earlier(i).get("unseen") or {}).items():
            seen_before.setdefault(column, set()).update(prints)
    checks, prints_today = [], {}
    for column, known in categories.items():
        check = Check(
            id="drift.unseen_categories",
            stage="drift",
            name="unseen_categories",
            subject=column,
            upper=0.0,
            threshold_rule=f"any value the reference never had, on the first day it appears (not seen in the previous {lookback} days)",
            status=Status.SKIPPED,
            severity=Severity.WARNING,
            owner="data",
            details={"kind": "categorical", "role": "schema"},
        )
        checks.append(check)
        if blocked:
            check.reason, check.not_measured = f"could not measure: {blocked}", NotMeasured.UPSTREAM_QUALITY
            continue
        if column not in day:
            check.reason = f"could not measure: column {column!r} is missing from the day's data"
            check.not_measured = NotMeasured.MISSING_COLUMN
            continue
        counts, rows = day.read(column, "categorical").summary()
        known_set = set(known)
        unseen = {v: n for v, n in counts.items() if v not in known_set}
        prints = {v: fingerprint(cfg, column, v) for v in unseen}
        prints_today[column] = sorted(prints.values())
        new = sorted(
            (v for v in unseen if prints[v] not in seen_before.get(column, set())), key=lambda v: -unseen[v]
        )
        share = sum(unseen.values()) / rows if rows else 0.0
        check.value = float(len(new))
        check.details.update(
            rows=rows,
            unseen_values=len(unseen),
            unseen_share=round(share, 6),
            new_values=len(new),
            new_shares=[round(unseen[v] / rows, 6) for v in new],
        )
        show = safe_to_show(cfg, column)
        if show:
            check.details["new"] = {v: unseen[v] for v in new}
        if not new and rows < cfg.drift.min_rows:  # a tiny day showing nothing new says little either way
            check.reason = f"insufficient data: {rows} rows < drift.min_rows {cfg.drift.min_rows}"
            check.not_measured = NotMeasured.TOO_FEW_ROWS
            continue
        if not new or open_ended.get(column):
            check.status = Status.OK
            if new:
                check.reason = (
                    f"{len(new)} new value(s), not alerting: {open_ended[column]} reference chunk(s) also had values "
                    "the rest of the reference lacks (an open-ended column)"
                )
            continue
        shares = ", ".join(f"{unseen[v] / rows:.2%}" for v in new[:5]) + (" ..." if len(new) > 5 else "")
        named = f" ({', '.join(repr(v) for v in new[:5])})" if show else ""
        hidden = "" if show else "; values not shown: the column is not marked safe to show"
        check.status = Status.ALERT
        # a schema change the data owner hears of by default, like a broken expectation; as a warning it would
        # wait for `policy.notify_warnings` and a new category would reach nobody
        check.severity = Severity.CRITICAL
        check.reason = (
            f"column {column!r} has {len(new)} value(s) never seen in the reference, first seen today{named}: "
            f"{shares} of rows{hidden}"
        )
    return checks, prints_today
