"""What may leave the engine: raw data values only of columns marked safe to show; `pii` columns not at all.

Reasons, results, stored GX results, MLflow and messages name columns, counts, shares and the checked statistics.
Numeric values are raw values too: an observed minimum, maximum, median or quantile of a column not shown is
withheld, and generated bounds fitted to its extremes are coarsened (`coarse_bounds`), as are the plotted range
of its binned distribution.
A column's raw values (an unseen category, a duplicated id, a row of a broken CSV) appear only when the column is
listed in `columns.show_values` (segment columns are shown too: their values name the segments). Columns listed in
`columns.pii` are dropped as soon as a file is read, so nothing downstream can see them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from watchkeeper.config import ModelConfig

# GX result entries that list the offending values or rows themselves.
_VALUE_LISTS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
)
# Expectations whose observed value describes the column (its type, its columns), never a value of it.
_DESCRIPTIVE = {"expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type"}
# Expectations whose observed value is a value of the column itself (an extreme, a quantile), numeric or not.
_RAW_STATISTICS = {
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_quantile_values_to_be_between",
    "expect_column_most_common_value_to_be_in_set",
}
_BOUNDED = {
    "expect_column_values_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
}
GENERATED = "watchkeeper suggest-expectations"


def shown(cfg: ModelConfig) -> frozenset[str]:
    """Columns whose raw values may appear in results and messages."""
    return frozenset(cfg.columns.show_values) | frozenset(cfg.segments.columns)


def columns_of(kwargs: dict) -> list[str]:
    """The columns an expectation is about (none for table-level ones)."""
    cols = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return [str(c) for c in cols if c is not None] + [str(c) for c in kwargs.get("column_list") or ()]


def may_show(kwargs: dict, visible: Iterable[str]) -> bool:
    """True when every column of the expectation may show its values (a table-level one never lists values)."""
    cols = columns_of(kwargs)
    return bool(cols) and "column_list" not in kwargs and set(cols) <= set(visible)


def observed(kind: str, kwargs: dict, value: Any, visible: Iterable[str]) -> Any:
    """An expectation's observed value, or None when it is a raw value of a column not shown (e.g. a min, a mode)."""
    if kind in _RAW_STATISTICS and columns_of(kwargs) and not may_show(kwargs, visible):
        return None
    if isinstance(value, str) and kind not in _DESCRIPTIVE and columns_of(kwargs):
        return value if may_show(kwargs, visible) else None
    return value


def coarse_bounds(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] widened outward to multiples of a tenth of the span's order of magnitude ([-5202.02, 5101.01] →
    [-6000, 6000]), so bounds fitted to a column's extremes no longer tell its exact minimum and maximum."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return lo, hi
    step = 10.0 ** (math.floor(math.log10(span)) - 1)
    return float(f"{math.floor(lo / step) * step:.12g}"), float(f"{math.ceil(hi / step) * step:.12g}")


def coarsen_generated_bounds(cfg: ModelConfig, suite: dict) -> dict:
    """A suite whose generated value bounds (reference min/max plus a margin) of columns not shown are coarsened
    (`coarse_bounds`): those bounds reach results, reports, MLflow and messages. Bounds a person wrote, and those
    of columns in `columns.show_values`, are used as they are."""
    visible = shown(cfg)
    out = []
    for e in suite.get("expectations", []):
        kwargs = e.get("kwargs") or {}
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        generated = (e.get("meta") or {}).get("generated_by") == GENERATED
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi))
        if e.get("type") in _BOUNDED and generated and numbers and not may_show(kwargs, visible):
            lo, hi = coarse_bounds(float(lo), float(hi))
            e = {**e, "kwargs": {**kwargs, "min_value": lo, "max_value": hi}}
        out.append(e)
    return {**suite, "expectations": out}


def scrub_error(text: str) -> str:
    """An error message without the data values some libraries quote (`invalid value 'x'`, `got 2: a,b`)."""
    text = re.sub(r"(invalid value|value|string|literal)\s+('[^']*'|\"[^\"]*\")", r"\1", text)
    text = re.sub(r"(got \d+):.*", r"\1", text, flags=re.S)
    return re.sub(r"(to (?:float|int|datetime)[^:]*):\s*.*", r"\1", text, flags=re.S)


def read_error(exc: BaseException) -> str:
    """Why a file could not be read, naming rows, column positions and types but never the file's content."""
    text = str(exc)
    row = re.search(r"Row #(\d+)", text)
    at = f" at row {row.group(1)}" if row else ""
    if m := re.search(r"Expected (\d+) columns, got (\d+)", text):
        return f"CSV parse error: a row{at} has {m.group(2)} fields where the header has {m.group(1)}"
    if m := re.search(r"conversion error to ([\w\[\], ]+?):", text):
        col = re.search(r"column #(\d+)", text)
        where = f"column #{col.group(1)}" if col else "a column"
        return f"CSV conversion error: {where}{at} holds a value that is not {m.group(1)}"
    return scrub_error(text)[:300]


def without_pii(cfg: ModelConfig, names: Iterable[str]) -> list[str]:
    """`names` without the configured pii columns."""
    pii = set(cfg.columns.pii)
    return [n for n in names if n not in pii]


def drop_pii_batches(
    cfg: ModelConfig, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """A streamed table without its pii columns."""
    keep = without_pii(cfg, schema.names)
    if len(keep) == len(schema.names):
        return schema, batches
    indices = [schema.get_field_index(n) for n in keep]
    return pa.schema([schema.field(i) for i in indices]), (b.select(keep) for b in batches)


def drop_pii_table(cfg: ModelConfig, table: pa.Table) -> pa.Table:
    keep = without_pii(cfg, table.column_names)
    return table if len(keep) == table.num_columns else table.select(keep)


def suite_without_pii(cfg: ModelConfig, suite: dict) -> dict:
    """A suite with no expectation about a pii column and no pii name in a column set (a suite committed before
    the column was marked)."""
    pii = set(cfg.columns.pii)
    if not pii:
        return suite
    kept = []
    for e in suite.get("expectations", []):
        kwargs = dict(e.get("kwargs") or {})
        if pii & {kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")}:
            continue
        for k in ("column_set", "column_list"):
            if k in kwargs:
                kwargs[k] = [c for c in kwargs[k] if c not in pii]
        kept.append({**e, "kwargs": kwargs})
    return {**suite, "expectations": kept}


def stored_result(doc: dict, visible: Iterable[str]) -> dict:
    """GX's JSON of a validation result with no raw values of columns not shown: value lists removed, value sets
    reduced to their size, observed raw values and exception messages scrubbed."""
    visible = set(visible)
    for r in doc.get("results", []):
        config = r.get("expectation_config") or {}
        kwargs = config.get("kwargs") or {}
        result = r.get("result") or {}
        if not may_show(kwargs, visible):
            for k in _VALUE_LISTS:
                result.pop(k, None)
            (r.get("meta") or {}).pop("unexpected_value_counts", None)
            if isinstance(kwargs.get("value_set"), list) and columns_of(kwargs):
                kwargs["value_set"] = f"{len(kwargs['value_set'])} values (not shown)"
        if "observed_value" in result:
            result["observed_value"] = observed(
                config.get("type", ""), kwargs, result["observed_value"], visible
            )
        info = r.get("exception_info") or {}
        for entry in [info, *(v for v in info.values() if isinstance(v, dict))]:
            for k in ("exception_message", "exception_traceback"):
                if isinstance(entry.get(k), str):
                    entry[k] = scrub_error(entry[k])
    return doc
