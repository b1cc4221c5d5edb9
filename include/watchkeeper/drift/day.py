"""The day as the drift stage reads it: one column at a time from Parquet with pyarrow, summarized for the methods.

String columns are read dictionary-encoded, so a categorical's counts are one `np.bincount` over its codes and no
Python string is made per row; a numeric column becomes its sorted finite values (`drift.methods.summarize`). Only
one column (or, for the multivariate check, one batch of rows) is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from watchkeeper.drift.methods import Counts, Summary, category_labels

BATCH_ROWS = 262_144


def _numeric_values(column: pa.ChunkedArray) -> np.ndarray:
    if not (
        pa.types.is_floating(column.type)
        or pa.types.is_integer(column.type)
        or pa.types.is_boolean(column.type)
    ):
        values = pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        column = pc.cast(column, pa.float64()) if not pa.types.is_float64(column.type) else column
        chunks = [c.to_numpy(zero_copy_only=False) for c in column.chunks]
        values = np.concatenate(chunks) if chunks else np.empty(0)
    return values[np.isfinite(values)]


def _category_counts(column: pa.ChunkedArray) -> Counts:
    counts: Counts = {}
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        labels = category_labels(chunk.dictionary.to_numpy(zero_copy_only=False)).tolist()
        codes = pc.drop_null(chunk.indices).to_numpy(zero_copy_only=False)
        for label, n in zip(labels, np.bincount(codes, minlength=len(labels)).tolist(), strict=True):
            if n:
                counts[label] = counts.get(label, 0) + n
    return counts


def summary_of(column: pa.ChunkedArray, kind: str) -> tuple[Summary, int]:
    """(the column's summary for the methods, its usable rows)."""
    if kind == "numeric":
        values = np.sort(_numeric_values(column))
        return values, int(values.size)
    counts = _category_counts(column)
    return counts, sum(counts.values())


class DayColumns:
    """A day's table, read column by column (a staged Parquet file, or an in-memory Arrow table in tests)."""

    def __init__(self, source: pq.ParquetFile | pa.Table):
        self.source = source
        self.names = list(
            source.schema_arrow.names if isinstance(source, pq.ParquetFile) else source.column_names
        )
        self.num_rows = source.metadata.num_rows if isinstance(source, pq.ParquetFile) else source.num_rows

    @classmethod
    def open(cls, path: str, filesystem) -> DayColumns:
        schema = pq.read_schema(path, filesystem=filesystem)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        return cls(pq.ParquetFile(filesystem.open_input_file(path), read_dictionary=text))

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> DayColumns:
        return cls(pa.Table.from_pandas(frame, preserve_index=False))

    def __contains__(self, column: str) -> bool:
        return column in self.names

    def column(self, name: str) -> pa.ChunkedArray:
        if isinstance(self.source, pq.ParquetFile):
            return self.source.read(columns=[name]).column(0)
        return self.source.column(name)

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        if isinstance(self.source, pq.ParquetFile):
            yield from self.source.iter_batches(batch_size=BATCH_ROWS, columns=columns)
        else:
            yield from self.source.select(columns).to_batches(max_chunksize=BATCH_ROWS)
