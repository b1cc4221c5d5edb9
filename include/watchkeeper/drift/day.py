"""The day as the drift stage reads it: one column at a time from the staged copy, summarized for the methods.

String columns are read dictionary-encoded, so a categorical's counts are one `np.bincount` over its codes and no
Python string is made per row; a numeric column becomes its sorted finite values (`drift.methods.summarize`). Only
one column (or, for the multivariate check, one batch of rows) is in memory at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from watchkeeper.drift.methods import Counts, Summary, category_labels
from watchkeeper.staged import BATCH_ROWS, TEXT, ParquetDay, StagedFile

__all__ = ["BATCH_ROWS", "ColumnData", "DayColumns"]


def _numeric_values(chunks: Iterable[pa.Array | pa.ChunkedArray], rows: int) -> np.ndarray:
    """Row-aligned floats, NaN where missing or unparseable, filled chunk by chunk into one array (so only one
    chunk of Arrow memory is alive besides it)."""
    out = np.empty(rows)
    at = 0
    for chunk in chunks:
        if (
            pa.types.is_floating(chunk.type)
            or pa.types.is_integer(chunk.type)
            or pa.types.is_boolean(chunk.type)
        ):
            chunk = pc.cast(chunk, pa.float64()) if not pa.types.is_float64(chunk.type) else chunk
            values = chunk.to_numpy(zero_copy_only=False)
        else:
            values = pd.to_numeric(chunk.to_pandas(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out[at : at + len(values)] = values
        at += len(values)
    return out


def _category_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Row-aligned codes into the returned labels, -1 where missing; dictionary columns keep their own codes."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = column.unify_dictionaries()
    if column.num_chunks == 0:
        return np.empty(0, dtype=np.int32), []
    labels = category_labels(column.chunk(0).dictionary.to_numpy(zero_copy_only=False)).tolist()
    codes = [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in column.chunks]
    return np.concatenate(codes).astype(np.int32, copy=False), labels


@dataclass
class ColumnData:
    """One column of the day, row-aligned, from which the summary of the whole day or any row subset is taken."""

    kind: str
    values: np.ndarray
    """Numeric: floats (NaN missing). Categorical: codes into `labels` (-1 missing)."""
    labels: list[str] | None = None

    @classmethod
    def read(cls, column: pa.ChunkedArray, kind: str) -> ColumnData:
        if kind == "numeric":
            return cls(kind, _numeric_values(column.chunks, len(column)))
        codes, labels = _category_codes(column)
        return cls(kind, codes, labels)

    def summary(self, rows: np.ndarray | None = None) -> tuple[Summary, int]:
        """(the summary the methods score, its usable rows), of all rows or of a boolean row mask."""
        values = self.values if rows is None else self.values[rows]
        if self.kind == "numeric":
            values = values[np.isfinite(values)]  # a copy, sorted in place
            values.sort()
            return values, int(values.size)
        per_code = np.bincount(values[values >= 0], minlength=len(self.labels))
        counts: Counts = {}
        for i in np.flatnonzero(per_code).tolist():
            counts[self.labels[i]] = counts.get(self.labels[i], 0) + int(per_code[i])
        return counts, sum(counts.values())

    def segment_ids(self, values: list[str]) -> np.ndarray:
        """Each row's index in `values` (a categorical column's tracked segment values), -1 for any other."""
        position = {v: i for i, v in enumerate(values)}
        lookup = np.array([position.get(label, -1) for label in self.labels] + [-1], dtype=np.int32)
        return lookup[self.values]  # code -1 (missing) reads the trailing -1


class DayColumns:
    """A day's table, read column by column (a staged copy opened with its text columns as dictionaries, or an
    in-memory Arrow table in tests).

    Threads may read from one instance: each read of the staged copy holds a lock (reading is a small share of the
    work; the sorts and counts that follow run in parallel).
    """

    def __init__(self, source: StagedFile | pa.Table):
        self.source = source
        self._lock = threading.Lock()
        self._staged = not isinstance(source, pa.Table)
        self.names = list(source.schema.names if self._staged else source.column_names)
        self.num_rows = source.num_rows

    @classmethod
    def open(cls, source, filesystem=None) -> DayColumns:
        """From a Parquet file: an open random-access file, or a path on `filesystem`."""
        return cls(ParquetDay(source, TEXT, filesystem))

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> DayColumns:
        return cls(pa.Table.from_pandas(frame, preserve_index=False))

    def __contains__(self, column: str) -> bool:
        return column in self.names

    def column(self, name: str) -> pa.ChunkedArray:
        if self._staged:
            with self._lock:
                return self.source.read([name]).column(0)
        return self.source.column(name)

    def read(self, name: str, kind: str) -> ColumnData:
        """One column as `ColumnData`; a numeric one is read batch by batch into its float array."""
        if kind == "numeric" and self._staged:
            chunks = (batch.column(0) for batch in self.batches([name]))
            return ColumnData(kind, _numeric_values(chunks, self.num_rows))
        return ColumnData.read(self.column(name), kind)

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        if self._staged:
            reader = self.source.iter_batches(columns)
            while True:
                with self._lock:
                    batch = next(reader, None)
                if batch is None:
                    return
                yield batch
        else:
            yield from self.source.select(columns).to_batches(max_chunksize=BATCH_ROWS)
