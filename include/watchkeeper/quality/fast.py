"""GX validation fed from column summaries of an Arrow table: the same suite, the same GX result objects, exact.

Why not a GX execution engine: GX 1.24 ships pandas, Spark and SQL engines. Pandas materialises every column as a
Series and computes each metric with its own pass (11 s for ~65 expectations on 1M rows), Spark is a cluster
dependency, and SQL (SQLite/DuckDB) needs the day copied into a database before GX issues one query per metric.
What GX does offer is the seam between metrics and judgement: each `Expectation` declares the metrics it needs
(`get_validation_dependencies`) and turns resolved metrics into its `ExpectationValidationResult`
(`metrics_validate`, the call GX's own Validator makes). So GX still decides success, applies `mostly`, formats
SUMMARY results and names types; this module only resolves the metrics, from the Arrow table, with counts and
min/max computed once per column and cached (nulls as pandas sees them: null or NaN).

Metrics are resolved by providers registered in `METRICS` (keyed by GX metric name) and map conditions in
`CONDITIONS` (keyed by GX map-metric name). An expectation that needs a metric no provider serves, or whose column
types a provider does not support exactly, goes back to GX's own `ValidationDefinition` on pandas (`fallback`).
Column dtypes that GX reports (`table.column_types`) come from converting two rows per column (one valid, one
null when there is any) exactly as the whole column would convert. Beyond GX's SUMMARY (whose value counts cover
only the first 20 unexpected rows), a value-set result carries every unseen value's row count in its `meta`.
Unexpected row indices are positions in the day, which is what GX reports for a frame read from Parquet.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from watchkeeper.quality.gxload import gx
from watchkeeper.staged import StagedFile

PARTIAL = 20  # GX's default partial_unexpected_count
RESULT_FORMAT = {"result_format": "SUMMARY", "return_unexpected_index_query": False}


class Unsupported(Exception):
    """This expectation is not served exactly by the Arrow providers; GX on pandas evaluates it instead."""


class MissingColumn(Exception):
    """An expectation names a column the day does not have (GX reports this as a failed, not-evaluated result)."""


@dataclass
class Column:
    """One column's summaries, each computed on first use and kept (one pass each over the column)."""

    data: pa.ChunkedArray

    @cached_property
    def type(self) -> pa.DataType:
        t = self.data.type
        return t.value_type if pa.types.is_dictionary(t) else t

    @cached_property
    def missing(self) -> pa.ChunkedArray:
        """Null, or NaN for floats: what pandas' `isnull` marks."""
        if pa.types.is_floating(self.type):
            return pc.is_null(self.data, nan_is_null=True)
        return pc.is_null(self.data)

    @cached_property
    def missing_count(self) -> int:
        if pa.types.is_floating(self.type):
            return int(pc.sum(self.missing).as_py() or 0)
        return self.data.null_count

    @cached_property
    def min_max(self) -> tuple[Any, Any]:
        """Smallest and largest non-missing values (None, None when there are none; NaN skipped)."""
        if (found := _plain_min_max(self.data)) is not None:
            return found
        mm = pc.min_max(self.data)
        return mm["min"].as_py(), mm["max"].as_py()

    @cached_property
    def distinct_count(self) -> int:
        """Distinct non-null values."""
        if pa.types.is_dictionary(self.data.type):
            return len(self.value_counts)
        if pa.types.is_floating(self.type):  # NaN equals NaN in Arrow's hashing, not in a sort
            return int(pc.count_distinct(self.data).as_py())
        return len(self.runs[0])

    @cached_property
    def runs(self) -> tuple[pa.Array, np.ndarray]:
        """Each distinct non-null value (sorted) and how many rows hold it, from a sort: Arrow's hash kernels took
        1.2-1.7 GB and 3.4 s for a 5M-row key column, a sort 80 MB and 0.4 s. Not for floats or dictionaries."""
        values = self.data.drop_null()
        if (
            pa.types.is_integer(self.type)
            or pa.types.is_temporal(self.type)
            or pa.types.is_boolean(self.type)
        ):
            ordered = pa.array(np.sort(values.to_numpy()), type=self.type)
        else:
            ordered = values.take(pc.sort_indices(values)).combine_chunks()
        if not len(ordered):
            return ordered, np.zeros(0, dtype=np.int64)
        change = pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(np.concatenate([[True], change]))
        return ordered.take(pa.array(starts)), np.diff(np.append(starts, len(ordered)))

    @cached_property
    def all_distinct(self) -> bool:
        """Present in every row with no value repeated: a key (floats never count, NaN equality differs)."""
        if self.missing_count or pa.types.is_floating(self.type):
            return False
        return self.distinct_count == len(self.data)

    @cached_property
    def value_counts(self) -> dict[Any, int]:
        """Counts of each non-missing value (on dictionary columns, over codes: no string is hashed)."""
        if pa.types.is_dictionary(self.data.type):
            counts: dict[Any, int] = {}
            for chunk in self.data.chunks:
                valid = chunk.is_valid().to_numpy(zero_copy_only=False)
                codes = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)[valid]
                for v, k in zip(
                    chunk.dictionary.to_pylist(),
                    np.bincount(codes, minlength=len(chunk.dictionary)),
                    strict=True,
                ):
                    if k:
                        counts[v] = counts.get(v, 0) + int(k)
            return counts
        vc = pc.value_counts(self.data.drop_null())
        return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True))


def _plain_min_max(data: pa.ChunkedArray) -> tuple[Any, Any] | None:
    """numpy's min and max of an integer or float32/64 column without nulls, read in place (~0.2 ms per 1M-row float
    column against ~3.5 ms for Arrow's `min_max`, which checks every float for NaN); None, for Arrow to answer, where
    there is a null, a NaN (Arrow skips it, numpy would return it) or another type."""
    t = data.type
    plain = pa.types.is_integer(t) or pa.types.is_float32(t) or pa.types.is_float64(t)
    if not plain or data.null_count or not len(data):
        return None
    lows, highs = [], []
    for chunk in data.chunks:
        if len(chunk):
            values = chunk.to_numpy(zero_copy_only=True)
            low, high = values.min(), values.max()
            if low != low or high != high:  # a NaN in this chunk (numpy's min and max return it)
                return None
            lows.append(low)
            highs.append(high)
    return min(lows).item(), max(highs).item()


def _first(mask: pa.ChunkedArray | pa.Array, k: int = PARTIAL) -> list[int]:
    """Row positions of the first k true values (the pandas RangeIndex labels GX reports)."""
    return np.flatnonzero(mask.fill_null(False).to_numpy(zero_copy_only=False))[:k].tolist()


KEEP_COLUMNS = 4
"""Columns a `LazyTable` (and its batch's summaries) keep at once; a suite's expectations come column by column."""
LAZY_CELLS = 8_000_000
"""From this many cells (rows × suite columns, 64 MB of floats) `read_batch` reads columns one at a time."""


class LazyTable:
    """The suite's columns of a staged day, read one at a time and the last few kept: a wide day is validated
    without holding all its columns (at 5M rows × 30 columns the whole table is 1.2 GB). It answers the part of
    `pa.Table` a `Batch` uses."""

    def __init__(self, staged: StagedFile, columns: list[str], as_dict: list[str]):
        self._staged = staged
        self.column_names = list(columns)
        self.num_rows = staged.num_rows
        fields = [staged.schema.field(c) for c in columns]
        self.schema = pa.schema(
            [f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in as_dict else f for f in fields],
            metadata=staged.schema.metadata,
        )
        self._kept: dict[str, pa.ChunkedArray] = {}

    def column(self, name: str) -> pa.ChunkedArray:
        if name not in self._kept:
            if len(self._kept) >= KEEP_COLUMNS:
                self._kept.pop(next(iter(self._kept)))
            self._kept[name] = self._staged.read([name]).column(0)
        return self._kept[name]


@dataclass
class Batch:
    """The day as an Arrow table, with lazily built per-column summaries and GX's view of its dtypes."""

    table: pa.Table | LazyTable
    decoded: set[str] = field(default_factory=set)
    """Columns read as dictionaries for speed whose stored type is not a dictionary (pandas sees them decoded)."""
    all_columns: list[str] | None = None
    """Every column of the day, when `table` holds only those the suite reads."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts about the expectation being resolved that GX's SUMMARY leaves out (e.g. every unseen value's count)."""
    _columns: dict[str, Column] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> Column:
        if name not in self.table.column_names:
            raise MissingColumn(f'The column "{name}" in BatchData does not exist.')
        if name not in self._columns:
            if isinstance(self.table, LazyTable) and len(self._columns) >= KEEP_COLUMNS:
                self._columns.pop(next(iter(self._columns)))  # its summaries are computed again if asked for
            self._columns[name] = Column(self.table.column(name))
        return self._columns[name]

    def pandas(self, names: list[str], rows: list[int] | pa.Array) -> Any:
        """A few rows of some columns as pandas shows them (dtypes, Timestamp, nan, str), as a full read would."""
        arrays = {}
        for name in names:
            arr = self.table.column(name).take(rows)
            if name in self.decoded:
                arr = pa.chunked_array(
                    [c.dictionary_decode() for c in arr.chunks], type=self.column(name).type
                )
            arrays[name] = arr
        # The file's pandas metadata restores extension dtypes (e.g. Int64) as a full read would.
        return pa.table(arrays).replace_schema_metadata(self.table.schema.metadata).to_pandas()

    def values(self, name: str, rows: list[int]) -> list:
        """The values of a few rows, for GX's partial lists."""
        return self.pandas([name], rows)[name].tolist()

    @cached_property
    def engine(self) -> Any:
        """A GX pandas engine holding a two-rows-per-column frame with the day's exact pandas dtypes."""
        from great_expectations.execution_engine import PandasExecutionEngine

        frames = []
        for name in self.table.column_names:
            col = self.column(name)
            # A null (not NaN) is what changes the pandas dtype (int64 → float64, bool → object).
            nulls = pc.is_null(col.data) if col.data.null_count else None
            valid = 0 if nulls is None else max(pc.index(nulls, False).as_py(), 0)
            null = valid if nulls is None else pc.index(nulls, True).as_py()
            frames.append(self.pandas([name], [valid, null] if self.rows else []))
        import pandas as pd

        engine = PandasExecutionEngine()
        sample = pd.concat(frames, axis=1) if frames else pd.DataFrame()
        engine.load_batch_data("watchkeeper-day", sample)
        return engine


# --- map conditions: (batch, column, value kwargs) -> (unexpected count, mask of unexpected rows, notes) ---

Outcome = tuple[int, Callable[[], pa.ChunkedArray], dict]
Condition = Callable[[Batch, str, dict], Outcome]
CONDITIONS: dict[str, Condition] = {}


def condition(name: str) -> Callable[[Condition], Condition]:
    def register(fn: Condition) -> Condition:
        CONDITIONS[name] = fn
        return fn

    return register


@condition("column_values.nonnull")
def _nonnull(batch: Batch, name: str, kw: dict) -> Outcome:
    col = batch.column(name)
    return col.missing_count, lambda: col.missing, {}


def _bound(value: Any, t: pa.DataType) -> Any:
    if isinstance(value, bool):
        raise Unsupported("boolean bound")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if not isinstance(value, int | float):
            raise Unsupported(f"bound {value!r} on a numeric column")
        return value
    if pa.types.is_timestamp(t):
        import pandas as pd

        stamp = pd.Timestamp(value)
        if (stamp.tzinfo is None) != (t.tz is None):
            raise Unsupported("timezone-aware and naive timestamps compared")
        return pa.scalar(stamp.to_pydatetime(), type=t)
    raise Unsupported(f"between on {t}")


@condition("column_values.between")
def _between(batch: Batch, name: str, kw: dict) -> Outcome:
    col = batch.column(name)
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if lo is None and hi is None:
        raise Unsupported("no bounds")  # GX raises its own error for this
    lo = None if lo is None else _bound(lo, col.type)
    hi = None if hi is None else _bound(hi, col.type)
    below = pc.less_equal if kw.get("strict_min") else pc.less
    above = pc.greater_equal if kw.get("strict_max") else pc.greater
    vmin, vmax = col.min_max
    lo_py = lo.as_py() if isinstance(lo, pa.Scalar) else lo
    hi_py = hi.as_py() if isinstance(hi, pa.Scalar) else hi
    if vmin is None or vmin != vmin:  # nothing but missing values
        return 0, lambda: pc.is_null(col.data), {}
    low_ok = lo is None or (vmin > lo_py if kw.get("strict_min") else vmin >= lo_py)
    high_ok = hi is None or (vmax < hi_py if kw.get("strict_max") else vmax <= hi_py)
    if low_ok and high_ok:
        return 0, lambda: pc.is_null(col.data), {}  # min and max inside: nothing outside (NaN is missing)

    def mask() -> pa.ChunkedArray:
        parts = [below(col.data, lo)] if lo is not None else []
        parts += [above(col.data, hi)] if hi is not None else []
        out = parts[0] if len(parts) == 1 else pc.or_(*parts)
        return out.fill_null(False)  # NaN compares false on both sides: missing, as in pandas

    return int(pc.sum(mask()).as_py() or 0), mask, {}


def _value_set(values: list, t: pa.DataType) -> pa.Array:
    """The set as an Arrow array of the column's type, only where pandas' `isin` compares the same way."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        raise Unsupported("missing value in value_set")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        ok = all(isinstance(v, str) for v in values)
    elif pa.types.is_boolean(t):
        ok = all(isinstance(v, bool) for v in values)
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if ok and pa.types.is_integer(t):
            values = [v for v in values if float(v).is_integer()]
    else:
        ok = False
    if not ok:
        raise Unsupported(f"value_set of other types than a {t} column")
    return pa.array(values, type=t)


@condition("column_values.in_set")
def _in_set(batch: Batch, name: str, kw: dict) -> Outcome:
    col = batch.column(name)
    if kw.get("value_set") is None:
        raise Unsupported("no value_set")
    allowed = set(_value_set(list(kw["value_set"]), col.type).to_pylist())
    unseen = {v: k for v, k in col.value_counts.items() if v not in allowed}
    values = pa.array(list(unseen), type=col.type)
    ranked = sorted(unseen.items(), key=lambda vc: (-vc[1], str(vc[0])))
    note = {"unexpected_value_counts": [{"value": _jsonable(v), "count": k} for v, k in ranked[:50]]}
    return sum(unseen.values()), lambda: pc.is_in(col.data, value_set=values), note


def _repeated(col: Column) -> tuple[pa.Array, int]:
    """The values that occur more than once, and the rows holding them (from the column's sorted runs; a
    dictionary column counts its codes)."""
    if pa.types.is_dictionary(col.data.type):
        dupes = {v: k for v, k in col.value_counts.items() if k > 1}
        return pa.array(list(dupes), type=col.type), sum(dupes.values())
    values, counts = col.runs
    more = counts > 1
    return values.filter(pa.array(more)), int(counts[more].sum())


@condition("column_values.unique")
def _unique(batch: Batch, name: str, kw: dict) -> Outcome:
    col = batch.column(name)
    if pa.types.is_floating(col.type):
        raise Unsupported("uniqueness of floats (NaN equality)")
    # One hash pass when all values differ (the usual day); value counts only when some repeat.
    if col.distinct_count == batch.rows - col.missing_count:
        return 0, lambda: pc.is_null(col.data), {}
    values, counts = _repeated(col)
    return (
        counts,
        lambda: pc.is_in(col.data, value_set=values),
        {"duplicated_values": len(values)},
    )


# --- metric providers, keyed by GX metric name ---

Provider = Callable[[Batch, Any], Any]
METRICS: dict[str, Provider] = {
    "table.row_count": lambda b, mc: b.rows,
    "table.columns": lambda b, mc: list(b.all_columns or b.table.column_names),
    "table.column_types": lambda b, mc: b.engine.resolve_metrics([mc])[mc.id],
    "column.non_null_proportion": lambda b, mc: (
        (b.rows - b.column(mc.metric_domain_kwargs["column"]).missing_count) / b.rows if b.rows else 0
    ),
}


def _map_metric(batch: Batch, mc: Any, cache: dict) -> Any:
    """`<condition>.unexpected_count|values|index_list|index_query` for one column."""
    base, _, suffix = mc.metric_name.rpartition(".")
    if base not in CONDITIONS or "column" not in mc.metric_domain_kwargs:
        raise Unsupported(mc.metric_name)
    name = mc.metric_domain_kwargs["column"]
    value_kwargs = {k: v for k, v in (mc.metric_value_kwargs or {}).items() if k != "result_format"}
    key = (base, name, repr(sorted(value_kwargs.items())))
    if key not in cache:
        count, mask, note = CONDITIONS[base](batch, name, value_kwargs)
        # The first unexpected rows now, not the mask: a kept mask would keep its column's data alive.
        cache[key] = (count, _first(mask()) if count else [], note)
    count, rows, note = cache[key]
    batch.notes.update(note)
    if suffix == "unexpected_count":
        return count
    if suffix == "unexpected_index_query":
        return None  # not requested (RESULT_FORMAT); GX's pandas query lists every unexpected row
    if suffix == "unexpected_index_list":
        return rows
    if suffix == "unexpected_values":
        return batch.values(name, rows) if rows else []
    raise Unsupported(mc.metric_name)


def _compound_unique(batch: Batch, names: list[str], ignore: str) -> tuple[int, int, list[int], Any]:
    """(rows considered, duplicated rows, first duplicated positions, their records): GX's `duplicated(keep=False)`.

    A column of the list that is a key (present everywhere, never repeated) proves no row repeats; otherwise only
    rows sharing a repeated value of a column without missing values can repeat, and pandas judges just those.
    """
    # One column at a time (a lazy batch keeps a few): only small facts and missing-value bitmaps are kept.
    missing, key, anchor_name = [], False, None
    for n in names:
        c = batch.column(n)
        if c.missing_count:
            missing.append(c.missing)
        elif anchor_name is None and not pa.types.is_floating(c.type):
            anchor_name = n
        key = key or c.all_distinct
    if ignore not in ("never", "all_values_are_missing", "any_value_is_missing"):
        raise Unsupported(f"ignore_row_if={ignore}")
    if ignore == "never" or (ignore == "all_values_are_missing" and len(missing) < len(names)) or not missing:
        keep = None
    elif ignore == "all_values_are_missing":
        keep = pc.invert(_all(missing))
    else:
        keep = pc.invert(_any(missing))
    considered = batch.rows if keep is None else int(pc.sum(keep).as_py() or 0)
    if key:
        return considered, 0, [], []
    anchor = None if anchor_name is None else batch.column(anchor_name)
    if anchor is not None:
        repeated = _repeated(anchor)[0]
        candidates = pc.is_in(anchor.data, value_set=repeated)
        keep = candidates if keep is None else pc.and_(keep, candidates)
    rows = np.arange(batch.rows) if keep is None else np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    sub = batch.pandas(names, pa.array(rows))
    dup = sub.duplicated(keep=False).to_numpy()
    first = rows[dup][:PARTIAL].tolist()
    return considered, int(dup.sum()), first, sub[dup][:PARTIAL].to_dict("records")


def _all(masks: Any) -> Any:
    out = None
    for m in masks:
        out = m if out is None else pc.and_(out, m)
    return out


def _any(masks: Any) -> Any:
    out = None
    for m in masks:
        out = m if out is None else pc.or_(out, m)
    return out


def _multicolumn_metric(batch: Batch, mc: Any, cache: dict) -> Any:
    base, _, suffix = mc.metric_name.rpartition(".")
    if base != "compound_columns.unique":
        raise Unsupported(mc.metric_name)
    names = list(mc.metric_domain_kwargs["column_list"])
    ignore = mc.metric_domain_kwargs.get("ignore_row_if") or "all_values_are_missing"
    key = (base, tuple(names), ignore)
    if key not in cache:
        cache[key] = _compound_unique(batch, names, ignore)
    considered, count, rows, records = cache[key]
    return {
        "filtered_row_count": considered,
        "unexpected_count": count,
        "unexpected_index_list": rows,
        "unexpected_values": records,
        "unexpected_index_query": None,
    }[suffix]


def _resolve(batch: Batch, mc: Any, cache: dict) -> Any:
    if mc.metric_domain_kwargs.get("row_condition"):
        raise Unsupported("row_condition")
    if mc.metric_name in METRICS:
        return METRICS[mc.metric_name](batch, mc)
    if "column_list" in mc.metric_domain_kwargs:
        return _multicolumn_metric(batch, mc, cache)
    return _map_metric(batch, mc, cache)


def _failed(config: Any, exc: Exception) -> Any:
    from great_expectations.core import ExpectationValidationResult

    return ExpectationValidationResult(
        success=False,
        expectation_config=config,
        exception_info={
            "raised_exception": True,
            "exception_message": f"{type(exc).__name__}: {exc}",
            "exception_traceback": traceback.format_exc(limit=2),
        },
    )


@contextmanager
def _configurations_built_once() -> Iterator[None]:
    """GX's `Expectation.configuration` builds a new configuration (pydantic v1 deep copies) on every read, and
    `get_validation_dependencies` reads it about a hundred times per expectation: here each expectation's is built
    once (expectations are not changed while validated), which halves the fast path's CPU. Restored on exit."""
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.__dict__["configuration"]
    built: dict[int, tuple[Any, Any]] = {}

    def once(self: Any) -> Any:
        entry = built.get(id(self))
        if entry is None or entry[0] is not self:
            entry = built[id(self)] = (self, original.fget(self))
        return entry[1]

    Expectation.configuration = property(once, doc=original.__doc__)
    try:
        yield
    finally:
        Expectation.configuration = original


def _validate_one(
    i: int, expectation: Any, batch: Batch, parameters: dict | None, cache: dict, results: list, pending: list
) -> None:
    """One expectation's GX result from resolved metrics, appended to `results` (or its index to `pending` when a
    metric needs GX on pandas)."""
    config = expectation.configuration
    try:
        config.process_suite_parameters(suite_parameters=parameters or {}, interactive_evaluation=True)
        exp = config.to_domain_obj()
        rc = {"result_format": dict(RESULT_FORMAT)}
        deps = exp.get_validation_dependencies(execution_engine=batch.engine, runtime_configuration=rc)
        batch.notes = {}
        metrics = {mc.id: _resolve(batch, mc, cache) for mc in deps.get_metric_configurations()}
        result = exp.metrics_validate(metrics, runtime_configuration=rc, execution_engine=batch.engine)
        result.meta = {**(result.meta or {}), **batch.notes}
        results.append(result)
    except Unsupported:
        results.append(None)
        pending.append(i)
    except Exception as exc:  # a missing column or a bad kwarg: GX reports these as failed, not raised
        results.append(_failed(config, exc))


def validate_arrow(
    suite_dict: dict,
    batch: Batch,
    parameters: dict | None = None,
    fallback: Callable[[dict, dict | None], Any] | None = None,
) -> Any:
    """Validate the batch against a suite dict; GX's `ExpectationSuiteValidationResult`, results in suite order.

    `fallback(sub_suite_dict, parameters)` validates the expectations no provider serves exactly (GX on pandas);
    without it they are reported as not evaluated.
    """
    g = gx()
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    suite = g.ExpectationSuite(**{k: v for k, v in suite_dict.items() if k != "id"})
    results: list[Any] = []
    pending: list[int] = []
    cache: dict = {}
    with _configurations_built_once():
        for i, expectation in enumerate(suite.expectations):
            _validate_one(i, expectation, batch, parameters, cache, results, pending)
    if pending:
        sub = {**suite_dict, "expectations": [suite_dict["expectations"][i] for i in pending]}
        if fallback is None:
            raise Unsupported(f"{len(pending)} expectation(s) need GX on pandas and no fallback was given")
        others = fallback(sub, parameters).results
        # GX orders results by column; match each back to its expectation by its configuration.
        for i in pending:
            want = suite.expectations[i].configuration
            match = next((r for r in others if _same(r.expectation_config, want)), None)
            if match is None:  # never a StopIteration: the expectation is reported as not evaluated
                results[i] = _failed(
                    want, LookupError("GX on pandas returned no result for this expectation")
                )
                continue
            others.remove(match)
            results[i] = match
    stats = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        success=stats.success,
        results=results,
        suite_name=suite.name,
        suite_parameters=parameters or {},
        statistics={
            "evaluated_expectations": stats.evaluated_expectations,
            "successful_expectations": stats.successful_expectations,
            "unsuccessful_expectations": stats.unsuccessful_expectations,
            "success_percent": stats.success_percent,
        },
        meta={
            "great_expectations_version": g.__version__,
            "validation_engine": "watchkeeper.quality.fast (arrow summaries)",
            "gx_pandas_fallback": len(pending),
        },
    )


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool) or v is None else str(v)


def _same(a: Any, b: Any) -> bool:
    """Two configurations of one expectation, compared as GX parses them (numbers, dates), batch id aside.

    A kwarg that is a suite parameter (`{"$PARAMETER": ...}`) on either side comes back filled in from GX, so it
    is left out of the comparison.
    """
    filled = {k for c in (a, b) for k, v in c.kwargs.items() if isinstance(v, dict) and "$PARAMETER" in v}
    return _canonical(a, filled) == _canonical(b, filled)


def _canonical(config: Any, leave_out: set[str] = frozenset()) -> tuple[str, str]:
    import json

    kwargs = config.to_domain_obj().configuration.kwargs
    kwargs = {k: v for k, v in kwargs.items() if k != "batch_id" and k not in leave_out}
    return config.type, json.dumps(kwargs, sort_keys=True, default=str)


def suite_columns(suite_dict: dict) -> set[str]:
    """Every column an expectation of the suite names."""
    out: set[str] = set()
    for e in suite_dict.get("expectations", []):
        kw = e.get("kwargs", {})
        out |= {kw[k] for k in ("column", "column_A", "column_B") if isinstance(kw.get(k), str)}
        out |= {c for c in kw.get("column_list") or [] if isinstance(c, str)}
    return out


def read_batch(
    source: Any,
    suite_dict: dict,
    filesystem: Any = None,
    ignore: tuple[str, ...] = (),
    lazy: bool | None = None,
) -> Batch:
    """Read only the suite's columns of a day; string columns checked against a value set as dictionaries.

    `source` is a Parquet file (an open file, or a path on `filesystem` or local disk), or a function opening a staged copy with
    the given columns dictionary-encoded (`staged.open_staged`). `ignore` columns are left out as if absent (a
    target that some prediction files carry). `lazy` reads the columns one at a time (`LazyTable`); by default a
    day of `LAZY_CELLS` or more is read so.
    """
    from watchkeeper.staged import ParquetDay

    if callable(source):
        opening = source
    else:
        if filesystem is not None:
            source = filesystem.open_input_file(source)
        elif isinstance(source, str):
            source = pa.OSFile(source)

        def opening(dictionary: list[str]) -> StagedFile:
            source.seek(0)
            return ParquetDay(source, dictionary)

    schema = opening([]).schema
    names = [c for c in schema.names if c not in ignore]
    wanted = [c for c in names if c in suite_columns(suite_dict)]
    in_set = {
        e["kwargs"].get("column")
        for e in suite_dict.get("expectations", [])
        if e.get("type") == "expect_column_values_to_be_in_set"
    }
    as_dict = [
        c
        for c in wanted
        if c in in_set
        and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))
    ]
    staged = opening(as_dict)
    if lazy is None:
        lazy = staged.num_rows * len(wanted) >= LAZY_CELLS
    if lazy:
        return Batch(LazyTable(staged, wanted, as_dict), decoded=set(as_dict), all_columns=names)
    return Batch(staged.read(wanted), decoded=set(as_dict), all_columns=names)
