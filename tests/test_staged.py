"""The day's staged copy: Arrow IPC on local disk, Parquet on object storage; every stage reads back exactly the
source's values and types, whichever it is."""

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from helpers import FIRST_DAY, tiny_config, write_tiny_world
from watchkeeper.drift.day import DayColumns
from watchkeeper.loading import day_key
from watchkeeper.pipeline import Day, load_day, run_day, staged_columns, staged_frame
from watchkeeper.staged import (
    BATCH_ROWS,
    IPC_NAME,
    PARQUET_NAME,
    TEXT,
    StagedWriter,
    open_staged,
)
from watchkeeper.storage import ObjectNotFound, Storage


def _batches() -> tuple[pa.Schema, list[pa.RecordBatch]]:
    """Three batches (the first longer than one staged batch): categories first seen in later batches, missing
    text, an id column whose values never repeat, and a source dictionary column."""
    rng = np.random.default_rng(3)
    batches = []
    for i, n in enumerate([BATCH_ROWS + 10, 500, 300]):
        plan = rng.choice(["basic", "pro", f"new{i}"], n).astype(object)
        plan[::7] = None
        batches.append(
            pa.record_batch(
                {
                    "id": pa.array([f"u{i}-{j}" for j in range(n)]),
                    "plan": pa.array(plan, pa.string()),
                    "region": pa.array(rng.choice(["n", "s", f"r{i}"], n)).dictionary_encode(),
                    "x": pa.array(rng.normal(size=n)),
                }
            )
        )
    return batches[0].schema, batches


def _stage(storage: Storage, key: str) -> pa.Table:
    schema, batches = _batches()
    with StagedWriter(storage, key, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return pa.Table.from_batches(batches)


def test_on_local_disk_the_copy_is_ipc_text_one_dictionary_and_read_back_as_the_source(tmp_path):
    storage = Storage.from_uri(str(tmp_path))
    source = _stage(storage, "day/" + IPC_NAME)
    stored = ipc.open_file(pa.OSFile(storage.path("day/" + IPC_NAME))).read_all()
    # Repeated text is one dictionary for the day; an id that never repeats stays plain; numbers stay numbers.
    assert pa.types.is_dictionary(stored.schema.field("plan").type)
    assert pa.types.is_dictionary(stored.schema.field("region").type)
    assert stored.schema.field("id").type == pa.string() and stored.schema.field("x").type == pa.float64()
    assert {len(c.dictionary) for c in stored.column("plan").chunks} == {5}  # basic, pro, new0..new2
    assert max(b.num_rows for b in stored.to_batches()) <= BATCH_ROWS

    staged = open_staged(storage, "day/" + IPC_NAME)
    assert staged.num_rows == source.num_rows and staged.schema.field("plan").type == pa.string()
    back = staged.read()
    assert back.column("plan").type == pa.string()  # as the source: plain text decoded
    assert back.column("region").to_pylist() == source.column("region").to_pylist()
    assert back.select(["id", "plan", "x"]).equals(source.select(["id", "plan", "x"]))
    assert back.to_pandas().equals(source.to_pandas())

    # Asked for as dictionaries, the text comes encoded, the id included; values unchanged.
    coded = open_staged(storage, "day/" + IPC_NAME, TEXT)
    batches = list(coded.iter_batches(["plan", "id", "x"]))
    assert all(pa.types.is_dictionary(b.schema.field(n).type) for b in batches for n in ("plan", "id"))
    assert pa.Table.from_batches(batches).column("plan").to_pylist() == source.column("plan").to_pylist()


def test_on_s3_the_copy_is_parquet_with_dictionary_pages_for_text_only(s3_storage, tmp_path):
    """Object storage keeps Parquet (compressed, read in few ranged GETs); numbers are stored plain (dictionary
    pages cost most of a 1M-row write and save nothing on floats), text keeps its dictionary pages."""
    cfg = tiny_config(tmp_path, s3_storage.uri)
    write_tiny_world(s3_storage)
    run_day(cfg, FIRST_DAY, s3_storage)
    d = Day(cfg, FIRST_DAY, s3_storage, s3_storage)
    assert d.staged_key.endswith(PARQUET_NAME) and not s3_storage.exists(cfg.results_key(FIRST_DAY, IPC_NAME))
    staged = pq.ParquetFile(pa.BufferReader(s3_storage.read_bytes(d.staged_key)))
    names = staged.schema_arrow.names
    encodings = {names[i]: staged.metadata.row_group(0).column(i).encodings for i in range(len(names))}
    assert "RLE_DICTIONARY" in encodings["c"]
    assert "RLE_DICTIONARY" not in encodings["x1"] and "RLE_DICTIONARY" not in encodings["score"]
    source = pq.read_table(pa.BufferReader(s3_storage.read_bytes(day_key(cfg, FIRST_DAY))))
    assert staged.read().select(source.column_names).equals(source)
    assert d.staged().read(source.column_names).equals(source)


def test_drift_reads_the_same_columns_from_either_copy(tiny, tmp_path):
    """The drift stage's column data (codes and labels, sorted floats) is the same from the IPC copy as from the
    Parquet copy of the same day."""
    cfg, storage, _ = tiny
    d = Day(cfg, FIRST_DAY, storage, storage)
    load_day(d)
    assert d.staged_key.endswith(IPC_NAME)
    from_ipc = staged_columns(d)
    pq.write_table(staged_frame(d).pipe(pa.Table.from_pandas, preserve_index=False), tmp_path / "day.parquet")
    from_parquet = DayColumns.open(str(tmp_path / "day.parquet"), pa.fs.LocalFileSystem())
    assert from_ipc.names == from_parquet.names and from_ipc.num_rows == from_parquet.num_rows == 600
    for name, kind in [("c", "categorical"), ("x1", "numeric"), ("score", "numeric")]:
        (a, a_rows), (b, b_rows) = (
            from_ipc.read(name, kind).summary(),
            from_parquet.read(name, kind).summary(),
        )
        assert a_rows == b_rows and (a == b if kind == "categorical" else np.array_equal(a, b))


def test_a_parquet_copy_staged_by_an_earlier_version_is_read_and_replaced(tiny):
    """A day staged by an earlier version (Parquet on local disk) is still read by the stages that follow; loading
    the day again stages it as IPC and removes the old copy."""
    cfg, storage, _ = tiny
    d = Day(cfg, FIRST_DAY, storage, storage)
    frame = pd.read_parquet(storage.path(day_key(cfg, FIRST_DAY)))
    legacy = cfg.results_key(FIRST_DAY, PARQUET_NAME)
    os.makedirs(os.path.dirname(storage.path(legacy)))
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), storage.path(legacy))
    pd.testing.assert_frame_equal(staged_frame(d), frame)
    load_day(d)
    assert not storage.exists(legacy) and storage.exists(d.staged_key)
    pd.testing.assert_frame_equal(staged_frame(d), frame)


def test_a_missing_copy_names_the_key_the_stage_wanted(tiny):
    cfg, storage, _ = tiny
    with pytest.raises(ObjectNotFound, match="staged/predictions.arrow does not exist"):
        Day(cfg, FIRST_DAY, storage, storage).staged()


def test_a_copy_that_fails_midway_leaves_nothing_behind(tmp_path):
    """A source that breaks after its first batch: no part of a copy appears, and an earlier whole copy stays."""
    storage = Storage.from_uri(str(tmp_path))
    _stage(storage, "day/" + IPC_NAME)
    schema, batches = _batches()
    with pytest.raises(RuntimeError), StagedWriter(storage, "day/" + IPC_NAME, schema) as writer:
        writer.write_batch(batches[1])
        raise RuntimeError("the source broke")
    assert open_staged(storage, "day/" + IPC_NAME).num_rows == sum(b.num_rows for b in batches)
    assert [p.name for p in (tmp_path / "day" / "staged").iterdir()] == ["predictions.arrow"]
