"""Validating a day's records with GX's own API (a ValidationDefinition on a pandas batch) into checks.

Each expectation result becomes one `Check` (stage `quality`, owner `data`) carrying GX's severity, the observed
value and unexpected percent, and for categorical sets the unexpected values (never whole rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from watchkeeper.disclosure import may_show, scrub_error
from watchkeeper.disclosure import observed as observed_value
from watchkeeper.quality.gxload import gx
from watchkeeper.result import Check, Severity, Status


def run_suite(suite_dict: dict, df: pd.DataFrame, name: str, parameters: dict | None = None) -> Any:
    """Validate a DataFrame against a suite dict with an ephemeral GX context; return GX's result.

    `parameters` fill the suite's `{"$PARAMETER": ...}` values (e.g. the day's bounds) at run time.
    """
    from watchkeeper.quality.fast import RESULT_FORMAT

    g = gx()
    context = g.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (
        context.data_sources.add_pandas(f"{name}-source")
        .add_dataframe_asset(f"{name}-day")
        .add_batch_definition_whole_dataframe("whole-day")
    )
    suite = context.suites.add(g.ExpectationSuite(**{k: v for k, v in suite_dict.items() if k != "id"}))
    validation = context.validation_definitions.add(
        g.ValidationDefinition(name=name, data=batch_def, suite=suite)
    )
    return validation.run(
        batch_parameters={"dataframe": df},
        expectation_parameters=parameters or None,
        result_format=dict(RESULT_FORMAT),
    )


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f


def to_checks(result: Any, visible: Iterable[str] = ()) -> list[Check]:
    """One check per expectation result; raw values only of `visible` columns (`disclosure`)."""
    checks = []
    visible = set(visible)
    for r in result.results:
        cfg = r.expectation_config
        kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
        res = r.result or {}
        details: dict[str, Any] = {}
        seen = res.get("observed_value")
        seen = seen.item() if hasattr(seen, "item") else seen  # numpy scalars as Python
        observed = observed_value(cfg.type, kwargs, seen, visible)
        if observed is not None:
            details["observed_value"] = (
                observed if isinstance(observed, int | float | str) else str(observed)[:200]
            )
        if res.get("unexpected_percent") is not None:
            details["unexpected_percent"] = round(float(res["unexpected_percent"]), 4)
            details["unexpected_count"] = res.get("unexpected_count")
        if cfg.type == "expect_column_values_to_be_in_set":
            # Every unseen value with its true count when the fast path measured them; else GX's first-20 sample.
            counts = (
                (r.meta or {}).get("unexpected_value_counts") or res.get("partial_unexpected_counts") or []
            )
            rows = res.get("element_count") or 0
            if counts and may_show(kwargs, visible):
                details["unexpected_values"] = [
                    {"value": str(c["value"])[:60], "count": c["count"], "share": round(c["count"] / rows, 4)}
                    for c in counts[:10]
                    if rows
                ]
            elif counts:  # how many, not which: the column's values are not marked safe to show
                details["unexpected_distinct"] = len(counts)
        if "mostly" in kwargs:
            details["mostly"] = kwargs["mostly"]
        mismatched = (res.get("details") or {}).get("mismatched")
        if mismatched:
            details["mismatched"] = {k: [str(c) for c in v][:20] for k, v in mismatched.items() if v}
        if "column_list" in kwargs:
            details["columns"] = list(kwargs["column_list"])
        value = _num(observed) if observed is not None else details.get("unexpected_percent")
        for k in ("min_value", "max_value"):  # dates (e.g. the day's bounds) read as ISO text
            if hasattr(kwargs.get(k), "isoformat"):
                kwargs[k] = kwargs[k].isoformat()
        severity = getattr(cfg, "severity", None)
        name = (cfg.meta or {}).get(
            "watchkeeper_check", cfg.type
        )  # a distinct check expressed with a GX type
        error = _exception(r.exception_info)
        reason = None
        if error:
            reason = f"could not evaluate: {scrub_error(error)[:200]}"
        elif not r.success:
            reason = _explain(name, kwargs, details)
        checks.append(
            Check(
                id=f"quality.{name}",
                stage="quality",
                name=name,
                subject=str(kwargs.get("column", "table")),
                value=value,
                lower=_num(kwargs.get("min_value")),
                upper=_num(kwargs.get("max_value")),
                threshold_rule=_rule(kwargs),
                status=Status.OK if r.success else Status.ALERT,
                reason=reason,
                severity=Severity(str(getattr(severity, "value", severity) or "warning")),
                owner="data",
                details=details,
            )
        )
    return checks


def stored(result: Any) -> dict:
    """GX's JSON of the validation result, without whole rows (multi-column partial lists are records)."""
    doc = result.to_json_dict()
    for r in doc.get("results", []):
        kwargs = (r.get("expectation_config") or {}).get("kwargs", {})
        if "column_list" in kwargs and r.get("result"):
            for k in ("partial_unexpected_list", "partial_unexpected_counts"):
                r["result"].pop(k, None)
    return doc


def _exception(info: dict | None) -> str | None:
    """GX's exception message, flat (one expectation) or keyed by metric (a metric failed in the graph)."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return str(v.get("exception_message"))
    return None


def _rule(kwargs: dict) -> str:
    parts = [f"{k}={v}" for k, v in kwargs.items() if k in ("min_value", "max_value", "mostly")]
    if "value_set" in kwargs:
        parts.append(f"{len(kwargs['value_set'])} known values")
    return "suite: " + ", ".join(parts) if parts else "suite"


def _nulls(col: str, kw: dict, d: dict) -> str:
    share = d.get("observed_value")
    if isinstance(share, float):
        return f"{col!r} is {100 * (1 - share):.1f}% null, above what the reference allows"
    return f"{col!r} has missing values ({_pct(d.get('unexpected_percent'))} of rows)"


def _unseen(col: str, kw: dict, d: dict) -> str:
    share = f"{_pct(d.get('unexpected_percent'))} of non-missing rows"
    if "unexpected_values" not in d:
        distinct = f"{d['unexpected_distinct']} distinct, " if "unexpected_distinct" in d else ""
        return f"{col!r} has values unseen in the reference ({distinct}{share}; values not shown)"
    vals = ", ".join(f"{v['value']!r} ({100 * v['share']:.1f}%)" for v in d.get("unexpected_values", [])[:5])
    return f"{col!r} has values unseen in the reference ({share}: {vals})"


def _columns(col: str, kw: dict, d: dict) -> str:
    m = d.get("mismatched", {})
    parts = [f"{k} {m[k]}" for k in ("unexpected", "missing") if m.get(k)]
    return "columns differ from the reference: " + "; ".join(parts)


# Why a failed check failed, in one sentence, per GX type or Watchkeeper check (`meta.watchkeeper_check`).
REASONS: dict[str, Callable[[str, dict, dict], str]] = {
    "expect_column_to_exist": lambda col, kw, d: f"column {col!r} is missing (renamed or dropped?)",
    "expect_column_values_to_not_be_null": _nulls,
    "expect_column_proportion_of_non_null_values_to_be_between": _nulls,
    "expect_column_values_to_be_unique": lambda col, kw, d: (
        f"{col!r} has duplicate values ({_pct(d.get('unexpected_percent'))} of rows)"
    ),
    "expect_column_values_to_be_in_set": _unseen,
    "expect_column_values_to_be_between": lambda col, kw, d: (
        f"{col!r} has values outside [{kw.get('min_value')}, {kw.get('max_value')}] "
        f"({d.get('unexpected_percent')}% of rows)"
    ),
    "expect_column_values_to_be_in_type_list": lambda col, kw, d: (
        f"{col!r} has type {d.get('observed_value')}, expected a numeric type"
    ),
    "expect_table_columns_to_match_set": _columns,
    "expect_table_row_count_to_be_between": lambda col, kw, d: (
        f"{d.get('observed_value')} rows, outside [{kw.get('min_value')}, {kw.get('max_value')}]"
    ),
    "finite_values": lambda col, kw, d: f"{col!r} has infinite values ({d.get('unexpected_count')} rows)",
    "timestamps_in_day": lambda col, kw, d: (
        f"{_pct(d.get('unexpected_percent'))} of events in {col!r} ({d.get('unexpected_count')} rows) "
        f"fall outside the day [{kw.get('min_value')}, {kw.get('max_value')}): stale or misrouted file?"
    ),
    "duplicate_rows": lambda col, kw, d: (
        f"{d.get('unexpected_count')} rows ({_pct(d.get('unexpected_percent'))}) repeat another row in every column"
    ),
}


def _explain(name: str, kwargs: dict, details: dict) -> str:
    col = str(kwargs.get("column", "table"))
    return REASONS[name](col, kwargs, details) if name in REASONS else f"{name} failed on {col!r}"


def _pct(value: object) -> str:
    return f"{value:.1f}%" if isinstance(value, float | int) else "?%"
