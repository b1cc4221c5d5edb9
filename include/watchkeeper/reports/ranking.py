"""Which alerts come first: by severity, then by how far past its bound each check is (shared by every view)."""

from __future__ import annotations

import math

from watchkeeper.result import Check, DayResult, Severity

SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def excess(c: Check) -> float:
    """How far past its bound a check is, relative to the bound (inf when it has no value or no bound)."""
    if c.value is None:
        return math.inf
    if c.upper is not None and c.value > c.upper:
        return (c.value - c.upper) / max(abs(c.upper), 1e-12)
    if c.lower is not None and c.value < c.lower:
        return (c.lower - c.value) / max(abs(c.lower), 1e-12)
    return math.inf if c.upper is None and c.lower is None else 0.0


def breached(result: DayResult) -> list[Check]:
    """Alerting checks, critical first, then by how far past the bound."""
    return sorted(result.alerts, key=lambda c: (SEVERITY_ORDER[c.severity], -excess(c)))
