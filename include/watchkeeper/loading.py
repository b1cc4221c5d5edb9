"""Reading a day's or the reference's records (Parquet or CSV) from storage, with every bad input named.

Errors are `InputError`s whose `kind` says what the user sees: not_arrived, empty, corrupt, duplicate_columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from watchkeeper.config import CsvOptions, ModelConfig
from watchkeeper.disclosure import read_error
from watchkeeper.storage import ObjectNotFound, Storage


class InputError(Exception):
    """An input could not be used; `kind` is one of not_arrived, empty, corrupt, duplicate_columns."""

    def __init__(self, kind: str, url: str, message: str):
        super().__init__(f"{message}: {url}")
        self.kind = kind
        self.url = url


def _present(storage: Storage, key: str) -> tuple[str, int]:
    """The object's URL and size, once it is known to exist and hold bytes (else the named `InputError`)."""
    url = storage.url(key)
    try:
        size = storage.size(key)
    except ObjectNotFound:
        raise InputError("not_arrived", url, "file has not arrived") from None
    if size == 0:
        raise InputError("empty", url, "file is empty (0 bytes)")
    return url, size


def read_table(storage: Storage, key: str, csv: CsvOptions, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet or CSV object; only `columns` (those present) when given."""
    url, size = _present(storage, key)
    try:
        source = storage.open_file(key, size)
        if key.lower().endswith((".csv", ".csv.gz")):
            table = _read_csv(source, key, csv)
            if columns is not None:
                table = table.select([c for c in columns if c in table.column_names])
        else:
            parquet = pq.ParquetFile(source)
            if columns is not None:
                present = set(parquet.schema_arrow.names)
                columns = [c for c in columns if c in present]
            table = parquet.read(columns=columns)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        raise InputError(
            "corrupt", url, f"file could not be read as {_fmt(key)} ({read_error(exc)})"
        ) from None
    _distinct_names(table.schema, url)
    if table.num_rows == 0:
        raise InputError("empty", url, "file has no rows")
    return table


def _distinct_names(schema: pa.Schema, url: str) -> None:
    """Two columns with one name cannot be told apart: the file is refused, naming them (a data-owner alert)."""
    names = schema.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        shown = ", ".join(repr(n) for n in twice[:10])
        raise InputError("duplicate_columns", url, f"columns named more than once in the header: {shown}")


def _fmt(key: str) -> str:
    return "CSV" if ".csv" in key.lower() else "Parquet"


def _read_csv(source: pa.NativeFile, key: str, csv: CsvOptions) -> pa.Table:
    with source if not key.lower().endswith(".gz") else pa.CompressedInputStream(source, "gzip") as f:
        table = pacsv.read_csv(
            f,
            read_options=pacsv.ReadOptions(encoding=csv.encoding),
            parse_options=pacsv.ParseOptions(delimiter=csv.delimiter),
        )
    _check_csv_schema(table.schema, csv)
    return table


def _check_csv_schema(schema: pa.Schema, csv: CsvOptions) -> None:
    # Undecodable text comes back as binary columns rather than an error.
    binary = [f.name for f in schema if pa.types.is_binary(f.type)]
    if binary:
        raise pa.ArrowInvalid(f"columns {binary} are not valid {csv.encoding} text (set paths.csv.encoding)")
    if (
        len(schema.names) == 1
        and csv.delimiter not in schema.names[0]
        and any(d in schema.names[0] for d in ",;\t|")
    ):
        raise pa.ArrowInvalid(f"one column {schema.names[0]!r}: is the delimiter {csv.delimiter!r} right?")


def stream_table(
    storage: Storage, key: str, csv: CsvOptions, batch_rows: int = 65_536
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """(schema, record batches) of one Parquet or CSV object, read incrementally so memory stays bounded.

    Raises the same `InputError`s as `read_table`, for an empty table while the batches are consumed.
    """
    url, size = _present(storage, key)
    try:
        source = storage.open_file(key, size)
        if key.lower().endswith((".csv", ".csv.gz")):
            if key.lower().endswith(".gz"):
                source = pa.CompressedInputStream(source, "gzip")
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(encoding=csv.encoding, block_size=16 << 20),
                parse_options=pacsv.ParseOptions(delimiter=csv.delimiter),
            )
            _check_csv_schema(reader.schema, csv)
            schema, batches = reader.schema, iter(reader)
        else:
            # Without pre-buffering, which would keep the whole file in memory while the batches are read.
            parquet = pq.ParquetFile(source, pre_buffer=False, buffer_size=8 << 20)
            schema, batches = parquet.schema_arrow, parquet.iter_batches(batch_size=batch_rows)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        raise InputError(
            "corrupt", url, f"file could not be read as {_fmt(key)} ({read_error(exc)})"
        ) from None
    _distinct_names(schema, url)

    def checked() -> Iterator[pa.RecordBatch]:
        rows = 0
        try:
            for batch in batches:
                rows += batch.num_rows
                yield batch
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
            raise InputError(
                "corrupt", url, f"file could not be read as {_fmt(key)} ({read_error(exc)})"
            ) from None
        if rows == 0:
            raise InputError("empty", url, "file has no rows")

    return schema, checked()


def day_key(cfg: ModelConfig, day: date) -> str:
    return cfg.paths.for_day(cfg.paths.predictions, day)


def label_key(cfg: ModelConfig, day: date) -> str | None:
    return cfg.paths.for_day(cfg.paths.labels, day) if cfg.paths.labels else None
