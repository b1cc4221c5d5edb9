"""Event timestamps stored as ISO 8601 text, parsed while a day is staged (and when the reference is read), so
every stage sees real timestamps.

The first batch decides the type: text with a zone offset (`Z`, `+02:00`) becomes UTC-aware timestamps, text
without one naive (local) timestamps, as a timestamp column of that kind would be stored. Text that does not parse
is left as text, and the day's `timestamps_in_day` check then names the column as not evaluable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

_CANDIDATES = (pa.timestamp("us", tz="UTC"), pa.timestamp("us"))


def _parsed_type(values: pa.Array) -> pa.DataType | None:
    for t in _CANDIDATES:
        try:
            pc.cast(values, t)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return t
    return None


def parse_text_timestamps(
    schema: pa.Schema, batches: Iterator[pa.RecordBatch], column: str | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch], bool]:
    """(schema, batches, parsed): the timestamp column cast from text when all of the first batch parses."""
    if column is None or column not in schema.names:
        return schema, batches, False
    t = schema.field(column).type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return schema, batches, False
    first = next(batches, None)
    if first is None:
        return schema, iter(()), False
    target = _parsed_type(first.column(column))
    if target is None:
        return schema, _chain(first, batches), False
    i = schema.get_field_index(column)
    new_schema = schema.set(i, pa.field(column, target))

    def cast() -> Iterator[pa.RecordBatch]:
        for batch in _chain(first, batches):
            try:
                values = pc.cast(batch.column(column), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                # Later rows that do not parse become missing: the null-share check counts them.
                values = pa.array([_one(v, target) for v in batch.column(column).to_pylist()], type=target)
            yield batch.set_column(i, pa.field(column, target), values)

    return new_schema, cast(), True


def _one(value: str | None, target: pa.DataType) -> object:
    try:
        return pc.cast(pa.array([value]), target)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def parse_text_timestamps_table(table: pa.Table, column: str | None) -> pa.Table:
    """A whole table (the reference) with its timestamp column parsed from text, as a staged day's is."""
    if table.num_rows == 0:
        return table
    schema, batches, parsed = parse_text_timestamps(table.schema, iter(table.to_batches()), column)
    if not parsed:
        return table
    # The pandas metadata of the file still calls the column text, and `to_pandas` would follow it.
    return pa.Table.from_batches(list(batches), schema).replace_schema_metadata(None)
