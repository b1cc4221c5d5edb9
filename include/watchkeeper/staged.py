"""The day's staged copy: written once by the load stage, then read column by column by quality, drift and
performance, in the format its storage reads fastest.

On local disk it is an Arrow IPC file, uncompressed and read memory-mapped, so a column is its buffers with nothing
to decode. Measured at 1M rows x 33 columns: writing it takes 0.06 s of CPU where Parquet took 0.42 s, and reading
every column 0.09 s where Parquet took 0.39 s; each of quality and drift read them all. On object storage it stays
Parquet: compressed, and a column's pages arrive in a few ranged GETs, where an IPC file would need one request per
buffer and batch. Both are read through one interface (`StagedFile`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from watchkeeper.storage import ObjectNotFound, Storage

IPC_NAME = "staged/predictions.arrow"
PARQUET_NAME = "staged/predictions.parquet"
BATCH_ROWS = 65_536
"""Rows per batch (IPC) or row group (Parquet): a reader going batch by batch holds this many rows of a column."""
_PLAIN = b"watchkeeper.staged.plain"
"""Schema metadata: the text columns stored dictionary-encoded whose source type is plain text."""


def staged_name(results: Storage) -> str:
    """The staged copy's name under a day's prefix: IPC on local disk, Parquet on object storage."""
    return IPC_NAME if isinstance(results.fs, pafs.LocalFileSystem) else PARQUET_NAME


def is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    )


class StagedFile(Protocol):
    """What the stages read of a staged copy; the columns in `dictionary` (`TEXT`: every text column) come
    dictionary-encoded."""

    schema: pa.Schema
    """The columns with their source types (text as it was read, whatever the stored encoding)."""
    num_rows: int

    def read(self, columns: Sequence[str] | None = None) -> pa.Table: ...

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]: ...


TEXT = "text"
"""As `dictionary`: every text column."""


def _wanted(dictionary: Sequence[str] | str, schema: pa.Schema) -> list[str]:
    names = schema.names if dictionary == TEXT else dictionary
    return [c for c in names if c in schema.names and is_text(schema.field(c).type)]


class ParquetDay:
    """A staged Parquet copy (object storage, or a copy staged by an earlier version)."""

    def __init__(self, source: pa.NativeFile | str, dictionary: Sequence[str] | str = (), filesystem=None):
        if filesystem is not None:
            source = filesystem.open_input_file(source)
        schema = pq.read_schema(source)
        source.seek(0)
        wanted = _wanted(dictionary, schema)
        # No pre-buffering: with it, iterating batches kept the whole file in Arrow memory (measured: 140 MB of a
        # 130 MB file at 1M rows); buffered reads of 8 MiB keep requests to object storage few.
        self._file = pq.ParquetFile(
            source, read_dictionary=wanted or None, pre_buffer=False, buffer_size=8 << 20
        )
        self.schema = self._file.schema_arrow
        self.num_rows = self._file.metadata.num_rows

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        return self._file.read(columns=None if columns is None else list(columns))

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        return self._file.iter_batches(batch_size=BATCH_ROWS, columns=list(columns))


class IpcDay:
    """A staged Arrow IPC copy. Each read maps the file anew and returns its columns without a copy; a mapping
    lasts as long as arrays read from it, so only the pages of columns in use stay in memory. Text columns stored
    dictionary-encoded whose source was plain text are decoded unless asked for in `dictionary`; plain ones asked
    for are encoded."""

    def __init__(self, open_source: Callable[[], pa.NativeFile], dictionary: Sequence[str] | str = ()):
        self._open = open_source
        stored = ipc.open_file(self._open()).schema
        metadata = dict(stored.metadata or {})
        plain = set(json.loads(metadata.pop(_PLAIN, b"[]")))
        self._stored = stored
        self._encode = set(_wanted(dictionary, stored))
        self._decode = plain - self._encode
        self.schema = pa.schema(
            [f.with_type(f.type.value_type) if f.name in plain else f for f in stored],
            metadata=metadata or None,
        )
        self.num_rows = sum(b.num_rows for b in _batches(ipc.open_file(self._open())))

    def _check(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self._stored.names:
                raise KeyError(f"no column {name!r} in the staged day")

    def _typed(self, name: str, column: pa.ChunkedArray | pa.Array):
        if name in self._decode:
            return pc.cast(column, self._stored.field(name).type.value_type)
        if name in self._encode and not pa.types.is_dictionary(column.type):
            return pc.dictionary_encode(column)
        return column

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        names = self._stored.names if columns is None else list(columns)
        self._check(names)
        # Read whole, then selected: from a mapping that copies nothing, where `included_fields` would copy the
        # columns into fresh memory (measured in a process that has imported GX: ~15 ms of system CPU per column).
        table = ipc.open_file(self._open()).read_all().select(names)
        arrays = [self._typed(n, table.column(n)) for n in names]
        return pa.table(arrays, names=names, metadata=self.schema.metadata)

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        names = list(columns)
        self._check(names)
        # One mapping keeps every page it touched resident until dropped: one column's pass keeps one, a pass over
        # several columns maps each batch anew (at 5M rows the multivariate pass would otherwise hold the whole
        # file, 1.1 GB; measured peak RSS 1,644 MB against 1,053).
        reader = ipc.open_file(self._open())
        for i in range(reader.num_record_batches):
            batch = (reader if len(names) == 1 else ipc.open_file(self._open())).get_batch(i)
            yield pa.record_batch([self._typed(n, batch.column(n)) for n in names], names=names)


def _batches(reader: ipc.RecordBatchFileReader) -> Iterator[pa.RecordBatch]:
    for i in range(reader.num_record_batches):
        yield reader.get_batch(i)


def open_staged(results: Storage, key: str, dictionary: Sequence[str] | str = ()) -> StagedFile:
    """The staged copy at `key`, IPC or Parquet by its name. When an IPC copy is missing, a Parquet one beside it
    (staged by an earlier version) is read instead."""
    if key.endswith(".arrow"):
        try:
            return IpcDay(lambda: results.open_mapped(key), dictionary)
        except ObjectNotFound:
            key = key.removesuffix(IPC_NAME) + PARQUET_NAME
            try:
                source = results.open_file(key)
            except ObjectNotFound:
                raise ObjectNotFound(
                    f"{results.url(key.removesuffix(PARQUET_NAME) + IPC_NAME)} does not exist"
                ) from None
            return ParquetDay(source, dictionary)
    return ParquetDay(results.open_file(key), dictionary)


class _TextCodes:
    """One text column's dictionary, grown batch by batch so every batch's codes index the same dictionary: an
    IPC file holds one dictionary per column, later batches adding to it as deltas."""

    def __init__(self, value_type: pa.DataType):
        self.value_type = value_type
        self.codes: dict = {}
        self.values: list = []
        self._array: pa.Array | None = None

    def encode(self, array: pa.Array) -> pa.DictionaryArray:
        if pa.types.is_dictionary(array.type):
            local, indices = array.dictionary, array.indices
        else:
            encoded = pc.dictionary_encode(array)
            local, indices = encoded.dictionary, encoded.indices
        mapping = np.empty(len(local), dtype=np.int32)
        for i, value in enumerate(local.to_pylist()):
            code = self.codes.get(value)
            if code is None:
                code = self.codes[value] = len(self.values)
                self.values.append(value)
                self._array = None
            mapping[i] = code
        if self._array is None:
            self._array = pa.array(self.values, type=self.value_type)
        positions = indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
        codes = mapping[positions] if len(mapping) else np.zeros(len(positions), dtype=np.int32)
        mask = indices.is_null().to_numpy(zero_copy_only=False) if indices.null_count else None
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=mask), self._array)


class StagedWriter:
    """Writes record batches as the staged copy `staged_name(results)` chose; the object appears whole when the
    writer closes without error (`Storage.replacing` on local disk)."""

    def __init__(self, results: Storage, key: str, schema: pa.Schema):
        self.results, self.key, self.source_schema = results, key, schema
        self.texts = [f.name for f in schema if is_text(f.type)]
        self._ipc = key.endswith(".arrow")
        self._codes: dict[str, _TextCodes] = {}
        self._stack = None
        self._writer = None

    def __enter__(self) -> StagedWriter:
        from contextlib import ExitStack

        self._stack = ExitStack().__enter__()
        return self

    def __exit__(self, *exc) -> bool | None:
        if exc[0] is None and self._writer is None:
            self._open(_empty(self.source_schema))
        return self._stack.__exit__(*exc)

    def _open(self, first: pa.RecordBatch) -> None:
        if not self._ipc:
            sink = self._stack.enter_context(self.results.open_output(self.key))
            # Dictionary pages only for text: on numbers they cost most of the write and save nothing (random
            # floats repeat rarely); measured at 1M rows x 30 columns: 0.45 s of CPU instead of 1.2 s.
            self._writer = self._stack.enter_context(
                pq.ParquetWriter(sink, self.source_schema, use_dictionary=self.texts)
            )
            return
        fields, plain = [], []
        for f in self.source_schema:
            if f.name in self.texts and _repeats(first.column(f.name)):
                value_type = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
                self._codes[f.name] = _TextCodes(value_type)
                if not pa.types.is_dictionary(f.type):
                    plain.append(f.name)
                f = f.with_type(pa.dictionary(pa.int32(), value_type))
            fields.append(f)
        metadata = {**(self.source_schema.metadata or {}), _PLAIN: json.dumps(plain).encode()}
        self._schema = pa.schema(fields, metadata=metadata)
        sink = self._stack.enter_context(self.results.replacing(self.key))
        options = ipc.IpcWriteOptions(emit_dictionary_deltas=True)
        self._writer = self._stack.enter_context(ipc.new_file(sink, self._schema, options=options))

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._open(batch)
        if not self._ipc:
            self._writer.write_batch(
                batch, row_group_size=BATCH_ROWS
            )  # small row groups: bounded reads later
            return
        arrays = [
            self._codes[n].encode(batch.column(n)) if n in self._codes else batch.column(n)
            for n in batch.schema.names
        ]
        batch = pa.record_batch(arrays, schema=self._schema)
        for start in range(0, batch.num_rows, BATCH_ROWS):
            self._writer.write_batch(batch.slice(start, BATCH_ROWS))


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


def _repeats(column: pa.Array) -> bool:
    """Worth one dictionary for the day: a categorical's values repeat, an id's do not (it stays plain, and a reader
    wanting codes encodes it). A source dictionary stays one."""
    if pa.types.is_dictionary(column.type):
        return True
    return len(column) == 0 or pc.count_distinct(column).as_py() * 2 <= len(column)
