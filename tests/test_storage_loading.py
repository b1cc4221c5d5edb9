"""Storage and input loading against a real S3 API over HTTP (moto server): what each bad input becomes."""

import re
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import watchkeeper.storage as storage_module
from helpers import parquet_bytes
from watchkeeper.config import CsvOptions
from watchkeeper.loading import InputError, read_table, stream_table
from watchkeeper.storage import ObjectNotFound, Storage, StorageError

DF = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "c": ["u", "v", "é"]})


def streamed(storage, key, csv):
    """`stream_table` consumed whole, in batches of 2 rows: it must see every bad input `read_table` sees."""
    schema, batches = stream_table(storage, key, csv, batch_rows=2)
    return pa.Table.from_batches(list(batches), schema)


READERS = (read_table, streamed)


def test_s3_round_trip_list_and_replace(s3_storage):
    s3_storage.write_json("a/b.json", {"v": 1})
    s3_storage.write_json("a/b.json", {"v": 2})  # replaced, not duplicated
    s3_storage.write_bytes("a/c/d.bin", b"xyz")
    assert s3_storage.read_json("a/b.json") == {"v": 2}
    assert s3_storage.list("a") == ["a/b.json", "a/c/d.bin"]
    s3_storage.delete_prefix("a/c")
    assert s3_storage.list("a") == ["a/b.json"]
    with pytest.raises(ObjectNotFound, match="does not exist"):
        s3_storage.read_bytes("nope.json")


def test_an_optional_document_is_read_once_and_a_missing_one_is_none(s3_storage, tmp_path):
    for st in (s3_storage, Storage.from_uri(str(tmp_path / "x"))):
        assert st.read_json_if_any("opt/missing.json") is None
        st.write_json("opt/here.json", {"v": 3})
        assert st.read_json_if_any("opt/here.json") == {"v": 3}
        st.write_bytes("opt/bad.json", b"{not json")
        with pytest.raises(ValueError):  # a damaged document is not taken for a missing one
            st.read_json_if_any("opt/bad.json")


def test_local_storage_creates_directories(tmp_path):
    st = Storage.from_uri(str(tmp_path / "x"))
    st.write_bytes("deep/er/file.txt", b"ok")
    assert st.exists("deep/er/file.txt") and st.list("") == ["deep/er/file.txt"]


def test_unsupported_scheme_is_named():
    with pytest.raises(StorageError, match="unsupported storage URI 'gs://b'"):
        Storage.from_uri("gs://b")


def test_parquet_and_column_selection_over_s3(s3_storage):
    s3_storage.write_bytes("d.parquet", parquet_bytes(DF))
    table = read_table(s3_storage, "d.parquet", CsvOptions(), columns=["id", "x", "missing"])
    assert table.column_names == ["id", "x"] and table.num_rows == 3


def test_missing_file_is_not_arrived(s3_storage):
    for read in READERS:
        with pytest.raises(InputError) as err:
            read(s3_storage, "days/2025-01-01.parquet", CsvOptions())
        assert err.value.kind == "not_arrived"
        assert "file has not arrived: s3://" in str(err.value)


def test_zero_byte_and_zero_row_files_are_empty(s3_storage):
    s3_storage.write_bytes("zero.parquet", b"")
    s3_storage.write_bytes("norows.parquet", parquet_bytes(DF.iloc[:0]))
    for read in READERS:
        for key in ("zero.parquet", "norows.parquet"):
            with pytest.raises(InputError) as err:
                read(s3_storage, key, CsvOptions())
            assert err.value.kind == "empty"


def test_corrupt_parquet_is_named_corrupt(s3_storage):
    s3_storage.write_bytes("bad.parquet", b"this is not parquet at all")
    for read in READERS:
        with pytest.raises(InputError) as err:
            read(s3_storage, "bad.parquet", CsvOptions())
        assert err.value.kind == "corrupt" and "could not be read as Parquet" in str(err.value)


def test_csv_with_other_delimiter_and_encoding(s3_storage):
    s3_storage.write_bytes("d.csv", DF.to_csv(index=False, sep=";").encode("latin-1"))
    for read in READERS:
        table = read(s3_storage, "d.csv", CsvOptions(delimiter=";", encoding="latin-1"))
        assert table.column_names == ["id", "x", "c"] and table.column("c").to_pylist()[2] == "é"
        with pytest.raises(InputError) as err:  # the wrong encoding is named, not a stack trace
            read(s3_storage, "d.csv", CsvOptions(delimiter=";", encoding="utf-8"))
        assert err.value.kind == "corrupt"


def test_csv_with_the_wrong_delimiter_is_named(s3_storage):
    s3_storage.write_bytes("semi.csv", DF.to_csv(index=False, sep=";").encode())
    for read in READERS:
        with pytest.raises(InputError, match="is the delimiter ',' right"):
            read(s3_storage, "semi.csv", CsvOptions())


def test_streamed_parquet_and_csv_keep_every_row(s3_storage):
    big = pd.DataFrame({"id": [f"r{i}" for i in range(1000)], "x": range(1000)})
    s3_storage.write_bytes("big.parquet", parquet_bytes(big))
    s3_storage.write_bytes("big.csv", big.to_csv(index=False).encode())
    for key in ("big.parquet", "big.csv"):
        assert streamed(s3_storage, key, CsvOptions()).to_pandas().equals(big), key


def test_each_single_object_operation_is_one_s3_request(s3_storage, s3_stack):
    """pyarrow's S3 filesystem spends a HEAD before each read, a LIST after a HEAD that finds nothing, three
    requests for a one-part upload and a directory marker after a delete; the storage layer spends one each."""
    log = Path(s3_stack.state_dir, "logs", "s3.log")

    def requests_for(operation) -> list[str]:
        before = log.read_bytes().count(b"HTTP/1.1")
        operation()
        time.sleep(0.2)  # the server logs a request after answering it
        lines = log.read_text(errors="replace").splitlines()
        return [
            re.sub(r"\x1b\[[0-9;]*m", "", ln).split('"')[1].split()[0] for ln in lines if "HTTP/1.1" in ln
        ][before:]

    assert requests_for(lambda: s3_storage.write_json("one/doc.json", {"v": 1})) == ["PUT"]
    assert requests_for(lambda: s3_storage.read_json("one/doc.json")) == ["GET"]
    assert requests_for(lambda: s3_storage.read_bytes_if_any("one/missing.json")) == ["GET"]
    assert requests_for(lambda: s3_storage.exists("one/missing.json")) == ["HEAD"]
    assert requests_for(lambda: s3_storage.delete("one/doc.json")) == ["DELETE"]
    s3_storage.write_bytes("one/d.parquet", parquet_bytes(DF))
    table = []
    read = requests_for(lambda: table.append(read_table(s3_storage, "one/d.parquet", CsvOptions(), ["x"])))
    assert read == ["HEAD", "GET"]  # its size (an empty file is named so), then the whole small object
    assert table[0].column_names == ["x"] and table[0].num_rows == 3
    # Without a known size, one GET: its length decides whether the object is read from memory.
    assert requests_for(lambda: table.append(pq.read_table(s3_storage.open_file("one/d.parquet")))) == ["GET"]
    assert table[-1].num_rows == 3
    with pytest.raises(ObjectNotFound, match="one/absent.parquet does not exist"):
        s3_storage.open_file("one/absent.parquet")


def test_an_object_too_large_for_memory_is_read_in_ranges(s3_storage, tmp_path, monkeypatch):
    """Past `WHOLE_BELOW` the first GET's body is dropped unread and pyarrow reads the columns it needs."""
    monkeypatch.setattr(storage_module, "WHOLE_BELOW", 16)
    s3_storage.write_bytes("big/d.parquet", parquet_bytes(DF))
    f = s3_storage.open_file("big/d.parquet")
    assert not isinstance(f, pa.BufferReader)
    assert pq.read_table(f, columns=["c"]).column("c").to_pylist() == ["u", "v", "é"]
    local = Storage.from_uri(str(tmp_path / "l"))
    with pytest.raises(
        ObjectNotFound, match="absent.parquet does not exist"
    ):  # as on S3, not FileNotFoundError
        local.open_file("absent.parquet")


@pytest.mark.parametrize("where", ["s3", "local"])
def test_a_remembered_object_is_read_back_from_memory_until_forgotten(where, s3_storage, tmp_path):
    """A backfill's stretch keeps the small day results it writes (`Storage.remembering`): reading or checking one
    again costs no request; a delete forgets it; keys the predicate does not select are read from the store."""
    st = s3_storage if where == "s3" else Storage.from_uri(str(tmp_path / "m"))
    st.write_json("kept/a.json", {"v": 0})
    fetched = []
    real_fetch = st._fetch
    st._fetch = lambda key: fetched.append(key) or real_fetch(key)
    with st.remembering(lambda key: key.startswith("kept/")):
        st.write_json("kept/a.json", {"v": 1})
        assert st.read_json("kept/a.json") == {"v": 1} and st.exists("kept/a.json")
        st.write_json("other/b.json", {"v": 2})
        assert st.read_json("other/b.json") == {"v": 2} and st.read_json("other/b.json") == {"v": 2}
        st.write_json_atomic("kept/c.json", {"v": 3})  # its S3 read-back verifies the store, not memory
        assert st.read_json("kept/c.json") == {"v": 3}
        st.delete("kept/a.json")
        assert not st.exists("kept/a.json") and st.read_bytes_if_any("kept/a.json") is None
        st.write_json("kept/d/e.json", {"v": 4})
        st.delete_prefix("kept/d")
        assert st.read_bytes_if_any("kept/d/e.json") is None
    assert fetched == ["other/b.json", "other/b.json"] + (["kept/c.json"] if where == "s3" else []) + [
        "kept/a.json",
        "kept/d/e.json",
    ]
    assert st.read_json("kept/c.json") == {"v": 3} and fetched[-1] == "kept/c.json"  # the block has ended


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_streamed_replacement_is_whole_or_not_at_all(where, tmp_path, request):
    """`Storage.replacing`: the object changes only when the stream closes without error; a writer that fails
    halfway leaves the old bytes and, on local disk, no temporary file beside them."""
    storage = (
        Storage.from_uri(str(tmp_path / "data"))
        if where == "local"
        else request.getfixturevalue("s3_storage")
    )
    storage.write_bytes("labels/combined.arrow", b"old")
    with storage.replacing("labels/combined.arrow") as sink:
        sink.write(b"new ")
        sink.write(b"bytes")
    assert storage.read_bytes("labels/combined.arrow") == b"new bytes"
    with pytest.raises(RuntimeError), storage.replacing("labels/combined.arrow") as sink:
        sink.write(b"half")
        raise RuntimeError("writer failed")
    assert storage.read_bytes("labels/combined.arrow") == b"new bytes"
    assert storage.list("labels") == ["labels/combined.arrow"]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_mapped_object_stays_whole_while_it_is_replaced(where, tmp_path, request):
    """`Storage.open_mapped` (memory-mapped on local disk): what a reader mapped keeps its bytes when another run
    replaces the object, the next open sees the new one, and a missing object is `ObjectNotFound`."""
    storage = (
        Storage.from_uri(str(tmp_path / "data"))
        if where == "local"
        else request.getfixturevalue("s3_storage")
    )
    storage.write_bytes("labels/copy.arrow", b"old bytes")
    mapped = storage.open_mapped("labels/copy.arrow")
    with storage.replacing("labels/copy.arrow") as sink:
        sink.write(b"new bytes, longer")
    assert mapped.read() == b"old bytes"
    assert storage.open_mapped("labels/copy.arrow").read() == b"new bytes, longer"
    with pytest.raises(ObjectNotFound, match="does not exist"):
        storage.open_mapped("labels/missing.arrow")
