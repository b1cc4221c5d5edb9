"""The drift stage: score every monitored column of a day against the reference with its configured methods.

Bounds come from the cached reference profile; a column missing, too few rows or a critical data-quality failure
makes the check 'skipped' with the reason, never a silent 'no drift'. With `segments.columns` configured, every
column is also checked inside each segment value (`Check.segment`, e.g. `region=north`) against bounds learned
from that segment's reference rows; segment alerts are warnings that count in the stage verdict and the ranking.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from watchkeeper.config import ModelConfig
from watchkeeper.drift.day import ColumnData, DayColumns
from watchkeeper.drift.methods import get_method, release
from watchkeeper.reference import Monitored, drift_methods, state_key
from watchkeeper.result import Check, NotMeasured, Severity, Status, num


def drift_checks(
    cfg: ModelConfig, day: DayColumns, profile: dict, states: dict, blocked: str | None = None
) -> list[Check]:
    """One check per (column, method), and per segment value; `blocked` is why nothing may be measured.

    `states` are the methods' fitted reference states (`reference.drift_state`); each column is read once and
    summarized for the whole day and for each segment's rows, then scored by all its methods. Columns (and the
    multivariate pass) are scored by `drift.threads` threads: numpy's sorts and searches release the GIL, so on a
    large day the work spreads over the cores; the checks come back in the profile's column order.
    """
    segments = {} if blocked else _segment_rows(day, profile.get("segments", {}))

    def read(col: dict) -> ColumnData | None:
        return day.read(col["column"], col["kind"]) if col["column"] in day and not blocked else None

    def score(col: dict, data: ColumnData | None) -> list[Check]:
        m = Monitored(col["column"], col["kind"], col["role"])
        checks = _column_checks(cfg, m, data, None, profile["drift"], states, profile, blocked)
        for name, seg in profile.get("segments", {}).items():
            if m.column == seg["column"]:
                continue
            rows = segments.get(name)
            reason = blocked or (None if rows is not None else f"segment column {seg['column']!r} is missing")
            checks += _column_checks(cfg, m, data, name, seg["drift"], states, profile, reason, rows)
        release()
        return checks

    threads = scoring_threads(cfg)
    # Columns are read here, one at a time (one ahead of the pool), and scored in the pool; at most `threads` + 1 read
    # columns are held at once (each a float array of the day's rows: 40 MB at 5M rows), whatever the column count.
    in_flight = threading.BoundedSemaphore(threads + 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        mv = profile.get("multivariate")
        multivariate = pool.submit(_multivariate_check, cfg, day, mv, blocked) if mv else None
        futures = []
        for col in profile["columns"]:
            in_flight.acquire()
            futures.append(pool.submit(score, col, read(col)))
            futures[-1].add_done_callback(lambda _: in_flight.release())
        checks = [c for future in futures for c in future.result()]
        if multivariate:
            checks.append(multivariate.result())
    return checks


def scoring_threads(cfg: ModelConfig) -> int:
    """`drift.threads`, or the CPUs this process may use (at most 4: beyond that, reading dominates)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cfg.drift.threads or min(4, cpus)


def _segment_rows(day: DayColumns, segments: dict) -> dict[str, np.ndarray]:
    """Each segment's row mask in the day (segments whose column the day lacks are left out)."""
    by_column: dict[str, list[str]] = {}
    for seg in segments.values():
        by_column.setdefault(seg["column"], []).append(seg["value"])
    rows = {}
    for column, values in by_column.items():
        if column in day:
            ids = day.read(column, "categorical").segment_ids(values)
            rows.update({f"{column}={v}": ids == i for i, v in enumerate(values)})
    return rows


def _column_checks(
    cfg: ModelConfig,
    m: Monitored,
    data: ColumnData | None,
    segment: str | None,
    bounds_of: dict,
    states: dict,
    profile: dict,
    blocked: str | None,
    rows: np.ndarray | None = None,
) -> list[Check]:
    cur, usable = data.summary(rows) if data is not None and not blocked else (None, 0)
    min_rows = cfg.segments.min_rows if segment else cfg.drift.min_rows
    checks = []
    for name in drift_methods(cfg, m):
        bounds = bounds_of.get(state_key(m.column, name), {})
        check = Check(
            id=f"drift.{name}",
            stage="drift",
            name=name,
            subject=m.column,
            segment=segment,
            lower=bounds.get("lower"),
            upper=bounds.get("upper"),
            threshold_rule=bounds.get("rule", ""),
            status=Status.SKIPPED,
            severity=Severity.WARNING if m.role == "feature" or segment else Severity.CRITICAL,
            owner="model",
            details={"kind": m.kind, "role": m.role},
        )
        if m.column in profile.get("importance", {}):
            check.details["importance"] = profile["importance"][m.column]
        where = f" in segment {segment}" if segment else ""
        if blocked:
            check.reason = f"could not measure: {blocked}"
            check.not_measured = NotMeasured.UPSTREAM_QUALITY
        elif cur is None:
            check.reason = f"could not measure: column {m.column!r} is missing from the day's data"
            check.not_measured = NotMeasured.MISSING_COLUMN
        elif usable < min_rows:
            setting = "segments.min_rows" if segment else "drift.min_rows"
            check.reason = f"insufficient data: {usable} usable rows{where} < {setting} {min_rows}"
            check.not_measured = NotMeasured.TOO_FEW_ROWS
        elif bounds.get("upper") is None and bounds.get("lower") is None and not bounds.get("rule"):
            check.reason = f"could not measure: no reference bounds for {m.column}{where}"
            check.not_measured = NotMeasured.NO_REFERENCE_BOUND
        else:
            value = get_method(name, m.kind).score(states[state_key(m.column, name, segment)], cur)
            check.details["rows"] = usable
            check.judge(value, f"{m.column}{where} drifted: {name} {value:.4g} > {num(check.upper)}")
        checks.append(check)
    return checks


def _multivariate_check(cfg: ModelConfig, day: DayColumns, mv: dict, blocked: str | None) -> Check:
    from watchkeeper.drift import multivariate

    check = Check(
        id="drift.pca_reconstruction_error",
        stage="drift",
        name="pca_reconstruction_error",
        subject="multivariate",
        lower=mv.get("lower"),
        upper=mv.get("upper"),
        threshold_rule=mv.get("rule", ""),
        status=Status.SKIPPED,
        severity=Severity.WARNING,
        owner="model",
        details={
            "kind": "multivariate",
            "role": "multivariate",
            "components": len(mv["state"]["components"]),
        },
    )
    columns = mv["state"]["numeric"] + mv["state"]["categorical"]
    missing = [c for c in columns if c not in day]
    if blocked:
        check.reason = f"could not measure: {blocked}"
        check.not_measured = NotMeasured.UPSTREAM_QUALITY
    elif missing:
        check.reason = f"could not measure: columns {missing} are missing from the day's data"
        check.not_measured = NotMeasured.MISSING_COLUMN
    elif day.num_rows < cfg.drift.min_rows:
        check.reason = f"insufficient data: {day.num_rows} rows < drift.min_rows {cfg.drift.min_rows}"
        check.not_measured = NotMeasured.TOO_FEW_ROWS
    else:
        value, shares = multivariate.score(mv["state"], day.batches(columns))
        check.details["contributors"] = {k: round(v, 3) for k, v in list(shares.items())[:3]}
        top = ", ".join(check.details["contributors"])
        if check.lower is not None and value < check.lower:
            check.judge(
                value,
                f"the inputs are more regular than the reference can explain (reconstruction error {value:.4g} < {num(check.lower)}): their joint distribution changed",
            )
        else:
            check.judge(
                value,
                f"the joint distribution of the inputs changed (reconstruction error {value:.4g} > {num(check.upper)}; most from {top})",
            )
    return check


def top_drifted(checks: list[Check], n: int, importance: dict[str, float] | None = None) -> list[str]:
    """Drifted features, most important first: how far past its bound each is, weighted by its importance.

    Importance is floored at half an equal share, so a feature the model barely uses still shows when it moves a lot.
    """
    worst: dict[str, float] = {}
    for c in checks:
        if c.stage == "drift" and c.status == Status.ALERT and c.details.get("role") == "feature" and c.upper:
            worst[c.subject] = max(worst.get(c.subject, 0.0), (c.value or 0.0) / c.upper)
    if importance:
        floor = 0.5 / max(len(importance), 1)
        worst = {k: v * max(importance.get(k, 0.0), floor) for k, v in worst.items()}
    return [k for k, _ in sorted(worst.items(), key=lambda kv: -kv[1])][:n]


def apply_persistence(checks: list[Check], breaches: int, history: list[list[Check]]) -> None:
    """Keep an alert only when its check (id, subject, segment) breached on `breaches` of today plus the `history` days.

    A breach below that count stays visible: status ok, `details.breached` and the count in the reason.
    """
    if breaches <= 1:
        return
    past = [
        {(c.id, c.subject, c.segment) for c in day if c.status == Status.ALERT or c.details.get("breached")}
        for day in history
    ]
    for c in checks:
        if c.status != Status.ALERT:
            continue
        count = 1 + sum((c.id, c.subject, c.segment) in day for day in past)
        c.details["breached"] = True
        c.details["breaches"] = f"{count} of {len(history) + 1} days"
        if count < breaches:
            c.status = Status.OK
            c.reason = f"{c.reason}; not alerting: {count} of the last {len(history) + 1} days breached, alerts at {breaches}"
