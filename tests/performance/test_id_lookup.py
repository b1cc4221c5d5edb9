"""The label-id lookup of the labels step: the same matches as Arrow's `index_in`, for integer and string ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from watchkeeper.performance.id_lookup import IdLookup


def _index_in(labels: pa.Array, preds: pa.Array, open_rows: np.ndarray) -> tuple[list[int], list[int]]:
    rows = np.flatnonzero(open_rows)
    pos = pc.index_in(labels.take(pa.array(rows)), value_set=preds, skip_nulls=True)
    hit = pos.is_valid().to_numpy(zero_copy_only=False)
    return rows[hit].tolist(), pos.drop_null().to_numpy().tolist()


def _pairs(rows, pos) -> tuple[list[int], list[int]]:
    """(rows, positions) ordered by row: `find` gives its pairs in no particular order."""
    order = np.argsort(np.asarray(rows), kind="stable")
    return np.asarray(rows)[order].tolist(), np.asarray(pos)[order].tolist()


@pytest.mark.parametrize("kind", [pa.int64(), pa.string()])
def test_duplicates_unknown_ids_and_nulls(kind):
    as_kind = (lambda v: v) if kind == pa.int64() else (lambda v: None if v is None else f"p{v}")
    # label 7 twice, 99 unknown, a null label id; prediction 7 repeated (its first row counts), a null prediction id
    labels = pa.array([as_kind(v) for v in [7, 3, 99, None, 7, 5]], kind)
    preds = pa.array([as_kind(v) for v in [5, None, 7, 3, 7]], kind)
    lookup = IdLookup(labels)
    assert lookup.hashed == (kind == pa.int64())
    rows, pos = lookup.find(preds, np.ones(len(labels), dtype=bool))
    assert _pairs(rows, pos) == ([0, 1, 4, 5], [2, 3, 2, 0])
    only_open = np.array([False, True, True, True, True, False])
    rows, pos = lookup.find(preds, only_open)
    assert _pairs(rows, pos) == ([1, 4], [3, 2])


def test_integer_ids_match_index_in_over_a_window():
    rng = np.random.default_rng(3)
    days = [pa.array(rng.choice(5000, 800, replace=True) + 1000 * d, pa.int64()) for d in range(4)]
    labels = pa.array(np.r_[rng.choice(8000, 600), [None] * 3], pa.int64())
    lookup = IdLookup(labels)
    open_rows = np.ones(len(labels), dtype=bool)
    for preds in days:
        got = lookup.find(preds, open_rows)
        assert _pairs(*got) == _index_in(labels, preds, open_rows)
        open_rows[got[0]] = False


def test_no_labels_and_no_predictions():
    lookup = IdLookup(pa.array([], pa.int64()))
    rows, pos = lookup.find(pa.array([1, 2], pa.int64()), np.zeros(0, dtype=bool))
    assert rows.size == pos.size == 0
    rows, pos = IdLookup(pa.array([1, 2], pa.int64())).find(pa.array([], pa.int64()), np.ones(2, dtype=bool))
    assert rows.size == pos.size == 0


@pytest.mark.parametrize("ascending", [True, False])
def test_ids_in_ascending_order_match_index_in(ascending):
    """A day of sequence-number ids (searched, not hashed) and the same ids shuffled give the same matches."""
    rng = np.random.default_rng(5)
    ids = np.sort(rng.choice(10_000, 3000, replace=False)) + 7
    ids = np.sort(np.r_[ids, ids[:40]])  # repeated ids: the first row counts
    preds = pa.array(ids if ascending else rng.permutation(ids), pa.int64())
    labels = pa.array(np.r_[rng.choice(12_000, 900), ids[:5], ids[-5:], [-3, 20_000]], pa.int64())
    open_rows = rng.random(len(labels)) < 0.8
    got = IdLookup(labels).find(preds, open_rows)
    assert _pairs(*got) == _index_in(labels, preds, open_rows)
    assert got[0].size > 100


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_string_ids_match_index_in_over_a_window(kind):
    """String ids are found through their hash; the matches are index_in's, empty and non-ASCII ids included."""
    rng = np.random.default_rng(11)
    words = [f"c-{i:x}" if i % 7 else f"ключ {i}" for i in range(6000)] + [""]
    days = [pa.array([words[j] for j in rng.choice(len(words), 900)], kind) for _ in range(3)]
    labels = pa.array([words[j] for j in rng.choice(len(words), 700)] + [None, "never predicted"], kind)
    lookup = IdLookup(labels)
    open_rows = np.ones(len(labels), dtype=bool)
    for preds in days:
        got = lookup.find(preds, open_rows)
        assert _pairs(*got) == _index_in(labels, preds, open_rows)
        assert got[0].size > 50
        open_rows[got[0]] = False


def test_ids_sharing_a_hash_are_still_told_apart(monkeypatch):
    """Two different ids with one hash (here every id of a length shares one) never join each other's rows: the
    strings are compared, and the rows a shared hash misled are joined on the strings themselves."""
    from watchkeeper.performance import id_lookup

    monkeypatch.setattr(
        id_lookup, "string_hash", lambda ids: pc.utf8_length(ids).fill_null(0).to_numpy().astype(np.uint64)
    )
    preds = pa.array(["ab", "cd", "ef", None, "cd", "xyz"])
    labels = pa.array(["cd", "ef", "gh", "ab", "xyz", "zzz", None])
    open_rows = np.ones(len(labels), dtype=bool)
    got = IdLookup(labels).find(preds, open_rows)
    assert _pairs(*got) == ([0, 1, 3, 4], [1, 2, 0, 5])
    stored = id_lookup.hashed_ids(preds)  # as a prediction day's compact copy holds them
    got = IdLookup(labels).find(preds, open_rows, stored)
    assert _pairs(*got) == ([0, 1, 3, 4], [1, 2, 0, 5])


def test_string_hash_reads_the_bytes_not_the_buffers():
    """A slice, a large_string copy and a fresh array of the same ids hash alike; a null hashes as ''."""
    from watchkeeper.performance.id_lookup import string_hash

    ids = pa.array(["alpha", "", "β-γ", "alpha", "alph", None, "x" * 300])
    whole = string_hash(ids)
    assert whole[0] == whole[3] and len(set(whole[[0, 1, 2, 4, 6]].tolist())) == 5
    assert whole[5] == whole[1]
    assert string_hash(ids.slice(2, 3)).tolist() == whole[2:5].tolist()
    assert string_hash(ids.cast(pa.large_string())).tolist() == whole.tolist()
    assert string_hash(pa.array(ids.to_pylist()[2:5])).tolist() == whole[2:5].tolist()
    assert string_hash(pa.array([], pa.string())).size == 0
    assert (
        string_hash(pa.array([None, None], pa.string())).tolist() == string_hash(pa.array(["", ""])).tolist()
    )


def test_very_long_ids_are_hashed_one_by_one_and_still_found():
    """Ids longer than LONG_ID_BYTES (here a 2 MB one) do not widen the vectorized passes; they hash alike in any
    array and are found as index_in finds them."""
    from watchkeeper.performance.id_lookup import LONG_ID_BYTES, string_hash

    huge, long = "h" * 2_000_000, "l" * (LONG_ID_BYTES + 1)
    preds = pa.array(["a", long, huge, "b", long + "x"])
    labels = pa.array([huge, "b", long, "zz", long + "y"])
    assert string_hash(pa.array([huge]))[0] == string_hash(preds)[2] == string_hash(labels)[0]
    assert len(set(string_hash(preds).tolist())) == 5
    open_rows = np.ones(len(labels), dtype=bool)
    got = IdLookup(labels).find(preds, open_rows)
    assert _pairs(*got) == _index_in(labels, preds, open_rows) == ([0, 1, 2], [2, 3, 1])


@pytest.mark.parametrize("spacing", [1, 1 << 40, -(1 << 63) // 3])
def test_the_prefilter_lets_every_label_id_through_and_few_others(spacing):
    """Ids spread any way (consecutive, multiples of a power of two that would share low bits, large negatives):
    every label id is a candidate, and few of the rest are, so the lookup gives `index_in`'s matches."""
    from watchkeeper.performance.id_lookup import Prefilter

    rng = np.random.default_rng(11)
    label_ids = np.arange(20_000, dtype=np.int64) * spacing
    others = (np.arange(20_000, 220_000, dtype=np.int64) * spacing)[rng.permutation(200_000)]
    day = np.concatenate([others[:100_000], label_ids[::7], others[100_000:]])
    candidates = Prefilter(np.unique(label_ids)).candidates(day)
    assert set(range(100_000, 100_000 + label_ids[::7].size)) <= set(candidates.tolist())
    assert candidates.size < label_ids[::7].size + 0.1 * 200_000
    labels = pa.array(label_ids)
    rows, pos = IdLookup(labels).find(pa.array(day), np.ones(len(labels), dtype=bool))
    assert _pairs(rows, pos) == _index_in(labels, pa.array(day), np.ones(len(labels), dtype=bool))


@pytest.mark.parametrize("kind", [pa.int64(), pa.string()])
def test_label_id_codes_are_dictionary_encodings_codes(kind):
    """The file's id codes (its duplicate and conflict counts read them) are the dictionary encoding's: numbered by
    first appearance, -1 for a missing id."""
    rng = np.random.default_rng(4)
    values = [None if v == 0 else int(v) for v in rng.integers(0, 500, 3000)]
    ids = pa.array([v if kind == pa.int64() or v is None else f"id{v}" for v in values], kind)
    encoded = pc.dictionary_encode(ids)
    expected = np.where(
        encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, encoded.indices.fill_null(0)
    )
    assert IdLookup(ids).codes().tolist() == expected.tolist()


def test_string_ids_sharing_a_hash_give_no_codes(monkeypatch):
    """Hash codes are only the ids' codes when no two different strings share a hash; otherwise the caller
    encodes the strings themselves."""
    from watchkeeper.performance import id_lookup

    monkeypatch.setattr(
        id_lookup, "string_hash", lambda ids: pc.utf8_length(ids).fill_null(0).to_numpy().astype(np.uint64)
    )
    assert IdLookup(pa.array(["ab", "ab", "xyz", None])).codes().tolist() == [0, 0, 1, -1]
    assert IdLookup(pa.array(["ab", "cd", "ab", None])).codes() is None


@pytest.mark.parametrize("ascending", [True, False])
def test_a_file_of_distinct_ids_is_found_from_the_ids_a_day_holds_as_index_in_finds_it(ascending):
    """Every label row a distinct id (the usual file): each day's matches are taken from the ids it holds, not
    from a pass over every open row; over a window, with rows closed as they are found, they are index_in's."""
    rng = np.random.default_rng(11)
    days = [np.sort(rng.choice(3000, 900, replace=False)) + 2000 * d for d in range(4)]
    days = [pa.array(d if ascending else rng.permutation(d), pa.int64()) for d in days]
    labels = pa.array(rng.permutation(np.r_[rng.choice(8000, 700, replace=False), [50_000, -4]]), pa.int64())
    lookup = IdLookup(labels)
    assert lookup.one_row_each
    open_rows = rng.random(len(labels)) < 0.9
    found = 0
    for preds in days:
        got = lookup.find(preds, open_rows)
        assert _pairs(*got) == _pairs(*_index_in(labels, preds, open_rows))
        open_rows[got[0]] = False
        found += got[0].size
    assert found > 100 and not IdLookup(pa.array([1, 2, None], pa.int64())).one_row_each
