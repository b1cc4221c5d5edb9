"""When a warning-level expectation fails for most of a column, the column is broken, not drifting: critical.

A range or value-set expectation tolerates a tail (`mostly`); a majority of values outside the reference's whole
range or set is a unit, encoding or column mix-up, which the data owner must hear about as a critical failure.
"""

from __future__ import annotations

from watchkeeper.result import Check, Severity, Status

ESCALATED = frozenset({"expect_column_values_to_be_between", "expect_column_values_to_be_in_set"})
"""Checks whose failure share says how broken a column is (the others are all-or-nothing)."""


def escalate(checks: list[Check], share: float | None) -> list[Check]:
    """Checks with the warning-level failures above `share` of the column's rows made critical (None: off)."""
    if share is None:
        return checks
    out = []
    for c in checks:
        pct = (c.details or {}).get("unexpected_percent")
        if (
            c.name in ESCALATED
            and c.status == Status.ALERT
            and c.severity == Severity.WARNING
            and pct is not None
            and pct / 100 >= share
        ):
            why = (
                f"{c.reason}: most of the column left the reference's {'range' if 'between' in c.name else 'values'}"
                f" (at least {share:.0%} of rows), a unit, encoding or column mix-up rather than a tail"
            )
            c = c.model_copy(
                update={
                    "severity": Severity.CRITICAL,
                    "reason": why,
                    "details": {**c.details, "escalated_at_share": share},
                }
            )
        out.append(c)
    return out
