"""Finding a label file's ids among each prediction day's ids: integer label ids hashed once for the whole window.

`IdLookup(label_ids).find(prediction_ids, open_rows)` gives the open label rows whose id the prediction day holds
and, for each, the row of that id's first occurrence in the day: what `pyarrow.compute.index_in(label_ids,
value_set=prediction_ids)` gives, which builds a hash table of the whole prediction day for every day of the label
window (at 1M rows a day, ~0.19 s per prediction day). Integer ids are instead hashed once, from the label side, and
each prediction day's id column is only probed; a day whose ids are in ascending order (sequence numbers) is not
even probed: the label ids within its range are found by binary search; in any other day, only the ids a bitmap of
the label ids lets through (`Prefilter`: a few percent of strangers beside the day's labelled rows) are looked up.
String ids are found by a 64-bit hash of their bytes (`string_hash`, stored with each prediction day's compact copy,
so a day is hashed once, not once per label day that reaches it) on the integer path, and every match is checked on
the strings themselves: a hash that two different ids share only sends those label rows to `index_in`. Other id
types (floats) keep `index_in`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class IdLookup:
    """The label file's ids (already of the prediction ids' type), ready to be found in prediction days."""

    def __init__(self, ids: pa.Array) -> None:
        self.ids = ids
        self.hashed = pa.types.is_integer(ids.type)
        self.by_hash = IdLookup(hashed_ids(ids)) if is_text(ids.type) else None
        if not self.hashed:
            return
        values = ids.drop_null().to_numpy().astype(np.int64, copy=False)
        # The distinct ids in order, for days whose ids are sorted. The sort first: when it shows every row a
        # distinct id (the usual file), each row is its own code, with no hashing of the ids (~0.09 s at 1M).
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        # Every row a distinct id (the usual label file): a row's code is the row itself, so the rows of the ids
        # a day holds are those codes, with no pass over every open row for each day of the window.
        self.one_row_each = not ids.null_count and not bool(np.any(ordered[1:] == ordered[:-1]))
        if self.one_row_each:
            self.code, uniques, self.order, self.sorted = np.arange(len(values)), values, order, ordered
        else:
            codes, uniques = pd.factorize(values)
            # Per label row, its id's index in `index`; -1 for a null id.
            self.code = np.full(len(ids), -1, dtype=np.int64)
            self.code[ids.is_valid().to_numpy(zero_copy_only=False)] = codes
            self.order = np.argsort(uniques, kind="stable")
            self.sorted = uniques[self.order]
        self.index = pd.Index(uniques)  # its hash table is built on first use and kept for every day
        self.prefilter: Prefilter | None = None  # built on the first day whose ids are not in order

    def codes(self) -> np.ndarray | None:
        """Per label row its id's dense code, in order of first appearance (-1 for a null id): integer ids' own
        codes; string ids' hash codes once no two different strings of the file share a hash (each row checked on
        the strings against its code's first row; None otherwise). Where `pc.dictionary_encode` of 1M string ids
        cost ~0.3 s of CPU, the check costs ~0.08 s."""
        if self.hashed:
            return self.code
        if self.by_hash is None:
            return None
        codes = self.by_hash.code
        valid = codes >= 0
        rows, of_valid = np.flatnonzero(valid), codes[valid]
        if not rows.size:
            return codes
        # Codes are numbered by first appearance: a code's first row is where the running maximum rises.
        running = np.maximum.accumulate(of_valid)
        firsts = rows[np.r_[True, running[1:] > running[:-1]]]
        ids = self.ids if valid.all() else self.ids.take(pa.array(rows))
        same = pc.all(pc.equal(ids, self.ids.take(pa.array(firsts[of_valid])))).as_py()
        return codes if same else None

    def _exact(self, pred_ids: pa.Array, open_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero(open_rows)
        pos = pc.index_in(self.ids.take(pa.array(rows)), value_set=pred_ids, skip_nulls=True)
        hit = pos.is_valid().to_numpy(zero_copy_only=False)
        return rows[hit], pos.drop_null().to_numpy().astype(np.int64)

    @staticmethod
    def _open(rows: np.ndarray, pos: np.ndarray, open_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = open_rows[rows]
        return rows[keep], pos[keep]

    def find(
        self, pred_ids: pa.Array, open_rows: np.ndarray, pred_hashes: pa.Array | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(label rows among `open_rows` (a boolean mask) found in `pred_ids`, their id's first row there), the
        pairs in no particular order.

        A null id, on either side, matches nothing. `pred_hashes` are the day's `hashed_ids` when stored."""
        if self.by_hash is not None:
            hashes = pred_hashes if pred_hashes is not None else hashed_ids(pred_ids)
            rows, pos = self.by_hash.find(hashes, open_rows)
            same = pc.equal(self.ids.take(pa.array(rows)), pred_ids.take(pa.array(pos)))
            same = same.to_numpy(zero_copy_only=False)
            if same.all():
                return rows, pos
            # Another id of the same hash came first in the day: those rows are joined on the strings.
            retry = np.zeros(len(self.ids), dtype=bool)
            retry[rows[~same]] = True
            more_rows, more_pos = self._exact(pred_ids, retry)
            rows, pos = np.concatenate([rows[same], more_rows]), np.concatenate([pos[same], more_pos])
            order = np.argsort(rows, kind="stable")
            return rows[order], pos[order]
        if not self.hashed:
            return self._exact(pred_ids, open_rows)
        pred = pred_ids.fill_null(0).to_numpy().astype(np.int64, copy=False)
        if not pred_ids.null_count and pred.size and bool(np.all(pred[1:] >= pred[:-1])):
            # Ids in ascending order (sequence numbers, as often): binary searches of the label ids in their
            # range, no pass of a hash table over the day. The leftmost equal id is its first row.
            lo = int(np.searchsorted(self.sorted, pred[0], side="left"))
            hi = int(np.searchsorted(self.sorted, pred[-1], side="right"))
            wanted = self.sorted[lo:hi]
            pos = np.searchsorted(pred, wanted, side="left")
            hit = pos < pred.size
            hit[hit] = pred[pos[hit]] == wanted[hit]
            found, at = self.order[lo:hi][hit], pos[hit]
        else:
            if self.prefilter is None:
                self.prefilter = Prefilter(self.sorted)
            maybe = self.prefilter.candidates(pred)
            of_pred = np.full(pred.size, -1, dtype=np.intp)
            of_pred[maybe] = self.index.get_indexer(pred[maybe])
            if pred_ids.null_count:
                of_pred[~pred_ids.is_valid().to_numpy(zero_copy_only=False)] = -1
            hits = np.flatnonzero(of_pred >= 0)
            found, first = np.unique(
                of_pred[hits], return_index=True
            )  # a repeated prediction id: its first row
            at = hits[first]
        if self.one_row_each:
            return self._open(found, at, open_rows)
        first_row = np.full(len(self.index), -1, dtype=np.int64)  # per distinct label id, its first row here
        first_row[found] = at
        rows = np.flatnonzero(open_rows & (self.code >= 0))
        pos = first_row[self.code[rows]]
        keep = pos >= 0
        return rows[keep], pos[keep]


class Prefilter:
    """Which of a day's ids may be label ids: one bit per slot of a multiplicative hash (`h · 2^64/φ`, its top bits)
    of the distinct label ids, ~32 slots per id, so ~3 % of the other ids pass besides the labelled ones.

    Looking up every prediction id in the label ids' hash table cost ~40 ms per 1M-row prediction day (a random
    access into a table of tens of MB per id), paid for each day of the label window; the bitmap (4 MB for 1M label
    ids) is probed at ~10 ms per 1M and leaves the table only the few ids that may be there."""

    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
    MAX_BITS = 27
    """At most 2^27 slots (16 MB, built through a 128 MB table of booleans): past ~4M distinct label ids a file's
    bitmap lets more strangers through (~12 % at 16M), never fewer labels."""

    def __init__(self, ids: np.ndarray) -> None:
        self.bits = min(self.MAX_BITS, max(16, int(np.ceil(np.log2(max(ids.size, 1)))) + 5))
        table = np.zeros(1 << self.bits, dtype=bool)
        table[self._slots(ids)] = True
        self.bitmap = np.packbits(table, bitorder="little")

    def _slots(self, ids: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (ids.astype(np.int64, copy=False).view(np.uint64) * self.MULTIPLIER) >> np.uint64(
                64 - self.bits
            )

    def candidates(self, ids: np.ndarray) -> np.ndarray:
        """Indices of the `ids` that may be label ids (every one that is)."""
        slot = self._slots(ids)
        byte = self.bitmap[(slot >> np.uint64(3)).astype(np.intp)]
        return np.flatnonzero((byte >> (slot & np.uint64(7)).astype(np.uint8)) & 1)


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


LONG_ID_BYTES = 64
"""Longer ids are hashed one by one (`hashlib`): the vectorized passes, one per byte position, stay bounded when a
file holds a few very long ids."""


def string_hash(ids: pa.Array) -> np.ndarray:
    """64-bit FNV-1a of each string's UTF-8 bytes, then of its length (a null hashes as the empty string); an id of
    more than `LONG_ID_BYTES` bytes, its BLAKE2b digest's first 8 bytes.

    Stored with prediction days (`joined.ID_HASH`): a change to it must change that column's name. Written here
    because pyarrow has no hash kernel and `pandas.util.hash_array` needs Python strings (~0.45 s at
    1M ids against ~0.2 s): one vectorized pass per byte position, over the Arrow buffers as they are."""
    n = len(ids)
    wide = pa.types.is_large_string(ids.type)
    width = 8 if wide else 4
    offsets = ids.buffers()[1]
    if n == 0 or offsets is None:
        return np.zeros(n, dtype=np.uint64)
    off = np.frombuffer(offsets, dtype=np.int64 if wide else np.int32, count=n + 1, offset=ids.offset * width)
    start, lens = off[:-1].astype(np.int64), np.diff(off).astype(np.int64)
    long = np.flatnonzero(lens > LONG_ID_BYTES)
    if long.size:
        lens = lens.copy()
        lens[long] = 0
    raw = ids.buffers()[2]
    data = np.frombuffer(raw, dtype=np.uint8) if raw is not None and raw.size else np.zeros(1, dtype=np.uint8)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    byte = np.empty(n, dtype=np.uint64)
    at = np.empty(n, dtype=np.int64)
    live = np.empty(n, dtype=bool)
    with np.errstate(over="ignore"):
        for j in range(int(lens.max(initial=0))):
            np.add(start, j, out=at)
            np.minimum(at, data.size - 1, out=at)
            np.greater(lens, j, out=live)
            np.multiply(data.take(at), live, out=byte, casting="unsafe")
            h ^= byte
            # Past a string's end, its hash is left as it is (the longest id of the array must not matter).
            np.multiply(h, _FNV_PRIME, out=h, where=live)
        h ^= lens.astype(np.uint64)
        h *= _FNV_PRIME
    for i in long.tolist():
        text = ids[i].as_buffer().to_pybytes()
        h[i] = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
    return h


def hashed_ids(ids: pa.Array) -> pa.Array:
    """`string_hash` of string ids as Arrow int64 (the integer path's type), null where the id is null."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    valid = ids.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(string_hash(ids).view(np.int64), mask=~valid if ids.null_count else None)
