"""A prediction day's labels so far: one consolidated object plus the few arrivals after it, checked on every read.

The arrivals stay the truth: `days/<P>/labels/arrivals/<A>.<digest>.arrow` (Arrow IPC; Parquet in older stores), one
per label day A that labelled prediction day P, named by a digest of its content, so a re-run that writes other
labels is another object even within the same second (older stores' `<A>.parquet` are told apart by size and
modification time). Beside them, `days/<P>/labels/combined.arrow` (Arrow IPC) holds every entry of the arrivals it
folds in (row, target, conflicted, and the index of its arrival in the manifest kept in the file's schema metadata),
sorted by row. A reader lists the arrivals once, keeps the cached entries whose arrival is still listed unchanged,
and reads the arrivals it lacks. Rewriting the consolidated object with every arrival would write each prediction
day's labels so far again every day, a window's worth of them (~300 MB a day at 1M rows and 30 days): so an arrival
whose rows no earlier arrival labelled ("fresh", the usual late label) stays beside the object, and readers take it
as one more sorted run of new rows, with no merge, while the arrivals after the object are few (`pending_limit`).
An arrival records, in its schema metadata, the digest of the arrivals it was checked against: a reader takes the
runs as they are only when that chain names exactly the object's arrivals and the runs before it; otherwise (a
re-sent or changed label, a re-run of an older label day, a backfill out of order, a damaged object) it merges
everything and rewrites the object. A re-run of a label day, a backfill in any order and days running at once
therefore cost one list, one cache read and the changed arrivals, never a wrong answer: the cache is only ever a
copy of arrival objects it names exactly. The labels step writes it (`record`) with its own arrival; label drift and
performance only read it."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from watchkeeper.config import ModelConfig
from watchkeeper.storage import ObjectNotFound, Storage

ROW, TARGET, CONFLICT, ARRIVAL = "row", "target", "conflicted", "arrival"
_MANIFEST = b"watchkeeper.arrivals"
_FRESH = b"watchkeeper.fresh_after"
_VERSION = 1
MAX_PENDING = 8
"""Arrivals a reader takes beside the consolidated object at most (more: it merges them and rewrites the object)."""


@dataclass(frozen=True, order=True)
class Stored:
    """One arrival object: its label day, and what identifies its content (digest name, or legacy name+size+mtime)."""

    arrived: date
    ident: str
    key: str = ""


def arrivals_prefix(cfg: ModelConfig, pday: date) -> str:
    return cfg.results_key(pday, "labels/arrivals/")


def cache_key(cfg: ModelConfig, pday: date) -> str:
    return cfg.results_key(pday, "labels/combined.arrow")


def listed(cfg: ModelConfig, results: Storage, pday: date) -> list[Stored]:
    """The prediction day's arrival objects (one listing), oldest first."""
    prefix = arrivals_prefix(cfg, pday)
    selector = pafs.FileSelector(results.path(prefix), recursive=False, allow_not_found=True)
    out = []
    for info in results.fs.get_file_info(selector):
        name = info.base_name
        suffix = next((x for x in (".arrow", ".parquet") if name.endswith(x)), None)
        if info.type != pafs.FileType.File or suffix is None:
            continue  # a local write's temporary file
        parts = name.removesuffix(suffix).split(".")
        try:
            arrived = date.fromisoformat(parts[0])
        except ValueError:
            continue
        ident = name if len(parts) == 2 or suffix == ".arrow" else f"{name}@{info.size}:{info.mtime_ns}"
        out.append(Stored(arrived, ident, prefix + name))
    return sorted(out)


def _ipc_bytes(table: pa.Table, metadata: dict[bytes, bytes] | None, local: bool) -> memoryview:
    # No schema metadata from the source: a source file's pandas metadata names every column it had, pii included.
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=None if local else "lz4")
    with ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


def _put(results: Storage, key: str, data: bytes | memoryview) -> None:
    """Readers see the whole object or none (`Storage.write_bytes_atomic`), not synced to disk nor read back:
    these were never synced, and a sync each cost a day ~1 s of wall time at a 30-day window."""
    results.write_bytes_atomic(key, data, durable=False)


def against_digest(idents: Iterable[str]) -> str:
    """What a fresh arrival was checked against: a digest of the other arrivals' identities."""
    return hashlib.blake2b("\n".join(sorted(idents)).encode(), digest_size=8).hexdigest()


def write_arrival(
    cfg: ModelConfig,
    results: Storage,
    pday: date,
    arrival: date,
    table: pa.Table,
    fresh_after: str | None = None,
) -> Stored:
    """Store one label day's entries for a prediction day (an Arrow IPC file, as the consolidated object, so a reader
    maps it rather than decoding it) under a name that carries their digest. `fresh_after`: the `against_digest` of
    the arrivals none of whose rows this one labels again."""
    local = isinstance(results.fs, pafs.LocalFileSystem)
    data = _ipc_bytes(table, {_FRESH: fresh_after.encode()} if fresh_after else None, local)
    name = f"{arrival.isoformat()}.{hashlib.blake2b(data, digest_size=8).hexdigest()}.arrow"
    _put(results, arrivals_prefix(cfg, pday) + name, data)
    return Stored(arrival, name, arrivals_prefix(cfg, pday) + name)


def _read_arrival(results: Storage, obj: Stored) -> tuple[pa.Table, str | None]:
    """An arrival's entries (row, target, conflicted) and what it is fresh after (None: not known fresh)."""
    if obj.key.endswith(".arrow"):
        table = ipc.open_file(results.open_mapped(obj.key)).read_all()
    else:
        table = pq.read_table(results.open_file(obj.key))
    fresh = (table.schema.metadata or {}).get(_FRESH)
    return table.replace_schema_metadata(None), fresh.decode() if fresh else None


def delete_arrivals(
    results: Storage, objects: list[Stored], arrival: date, keep: Stored | None = None
) -> None:
    """Remove a label day's objects (a re-run's earlier ones), all but `keep`."""
    for obj in objects:
        if obj.arrived == arrival and obj.ident != (keep.ident if keep else None):
            results.delete(obj.key)


@dataclass
class Held:
    """Entries of a set of arrival objects. `table` (row, target, conflicted, arrival = index into `objects`) holds
    those of the first objects, `ordered` when sorted by (row, arrival), as the stored cache always is; `runs` those
    of the last `len(runs)` objects, one table (row, target, conflicted) each, sorted by row and labelling only rows
    no object before it labelled (arrivals read beside the cache: `_tiered`)."""

    objects: list[Stored]
    table: pa.Table
    ordered: bool = False
    stored: bool = False
    """The stored cache holds exactly `table`'s objects (nothing to write back)."""
    runs: list[pa.Table] = field(default_factory=list)
    distinct: bool = False
    """`table` labels each row once (rows strictly increasing), as it does unless a row was labelled again."""

    @property
    def base(self) -> list[Stored]:
        return self.objects[: len(self.objects) - len(self.runs)]

    @property
    def pending(self) -> list[Stored]:
        return self.objects[len(self.objects) - len(self.runs) :]

    def manifest(self) -> list[list[str]]:
        return [[o.arrived.isoformat(), o.ident] for o in self.objects]

    def sort(self) -> Held:
        if self.ordered or not self.table.num_rows:
            return Held(self.objects, self.table, True, self.stored, self.runs, self.distinct)
        order = np.lexsort((self.table.column(ARRIVAL).to_numpy(), self.table.column(ROW).to_numpy()))
        return Held(self.objects, self.table.take(pa.array(order)), True, self.stored, self.runs)


def _distinct(table: pa.Table) -> bool:
    rows = table.column(ROW).to_numpy()
    return rows.size < 2 or bool(np.all(rows[1:] > rows[:-1]))


def _in_order(table: pa.Table) -> bool:
    rows, arrival = table.column(ROW).to_numpy(), table.column(ARRIVAL).to_numpy()
    d_rows, d_arrival = np.diff(rows), np.diff(arrival)
    return bool(np.all((d_rows > 0) | ((d_rows == 0) & (d_arrival > 0))))


def _store(results: Storage, key: str, held: Held) -> None:
    """The cache as an Arrow IPC file: a derived object read back by this code only, and at a 30-day window
    written for every prediction day and read three times every day, where Parquet's encoding cost ~6x more.
    Compressed (lz4) only on S3, where its bytes cross the network: on local disk decoding lz4 cost ~3x the read
    of the plain file (a 1M-entry object: ~25 ms of CPU against ~7), and encoding it ~2x the plain write."""
    held = held.sort()
    meta = {_MANIFEST: json.dumps({"version": _VERSION, "arrivals": held.manifest()}).encode()}
    put_arrow(results, key, held.table.replace_schema_metadata(meta))


def put_arrow(results: Storage, key: str, table: pa.Table) -> None:
    """Store a table as an Arrow IPC file, whole or not at all for a reader: uncompressed on local disk, lz4 on S3
    (where its bytes cross the network)."""
    local = isinstance(results.fs, pafs.LocalFileSystem)
    options = ipc.IpcWriteOptions(compression=None if local else "lz4")
    with results.replacing(key) as sink, ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)


def _read_cache(results: Storage, key: str) -> Held | None:
    """The stored cache, or None when missing, unreadable or not in this format (a miss, never an error)."""
    try:
        table = ipc.open_file(results.open_mapped(key)).read_all()  # on local disk not even copied
        doc = json.loads((table.schema.metadata or {})[_MANIFEST])
        if doc["version"] != _VERSION or table.column_names != [ROW, TARGET, CONFLICT, ARRIVAL]:
            return None
        objects = [Stored(date.fromisoformat(a), ident) for a, ident in doc["arrivals"]]
        index = table.column(ARRIVAL).to_numpy()
        if index.size and (index.min() < 0 or index.max() >= len(objects)):
            return None
        table = table.replace_schema_metadata(None)
        # Each row once (the usual case) takes one comparison a row; otherwise the (row, arrival) order is checked.
        distinct = _distinct(table)
        return Held(objects, table, distinct or _in_order(table), distinct=distinct)
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt from the arrivals
        return None


def _columns(table: pa.Table) -> pa.Table:
    cols = table.select([ROW, TARGET, CONFLICT])
    target = cols.column(TARGET)
    if target.null_count == len(target) and not pa.types.is_null(target.type):
        # Every value rejected (text labels no mapping knew): typed null, so it merges with any day's arrivals.
        cols = cols.set_column(1, TARGET, pa.nulls(len(target)))
    return cols


def _entries(table: pa.Table, index: int) -> pa.Table:
    cols = _columns(table)
    return cols.append_column(ARRIVAL, pa.array(np.full(cols.num_rows, index, dtype=np.int32)))


def _renumbered(held: Held, position: dict[str, int]) -> pa.Table:
    """`held`'s entries of the objects in `position`, their arrival index renumbered to it (order kept: both are
    sorted the same way)."""
    remap = np.array([position.get(o.ident, -1) for o in held.objects], dtype=np.int32)
    if np.array_equal(remap, np.arange(remap.size)):
        return held.table  # every object kept at its place (a new arrival appended after them): no pass
    new_index = remap[held.table.column(ARRIVAL).to_numpy()]
    keep = new_index >= 0
    kept = held.table if keep.all() else held.table.filter(pa.array(keep))
    return kept.set_column(3, ARRIVAL, pa.array(new_index[keep]))


def _gather(results: Storage, objects: list[Stored], cached: Held | None) -> Held:
    """Entries of `objects`: kept from the cache where it holds that very object, read otherwise."""
    objects = sorted(objects)
    position = {o.ident: i for i, o in enumerate(objects)}
    parts = []
    have: set[str] = set()
    if cached is not None:
        have = {o.ident for o in cached.objects if o.ident in position}
        if cached.table.num_rows and (kept := _renumbered(cached, position)).num_rows:
            parts.append(kept)  # none kept: not even its column types, which a replaced arrival may have set
    ordered = cached is not None and cached.ordered
    for obj in objects:
        if obj.ident not in have:
            parts.append(_entries(_read_arrival(results, obj)[0], position[obj.ident]))
            ordered = False
    if not parts:
        return Held(objects, _empty(), True)
    return Held(objects, pa.concat_tables(parts, promote_options="permissive"), ordered and len(parts) == 1)


def _empty() -> pa.Table:
    return pa.table(
        {
            ROW: pa.array([], pa.int64()),
            TARGET: pa.array([], pa.null()),
            CONFLICT: pa.array([], pa.bool_()),
            ARRIVAL: pa.array([], pa.int32()),
        }
    )


def _latest(held: Held, as_of: date) -> pa.Table:
    """Per row, the entry of its latest arrival up to `as_of` (row, target, conflicted): each row once, each chunk
    sorted by row (the cache's rows, then each run's new rows)."""
    held = held.sort()
    late = np.array([o.arrived > as_of for o in held.objects], dtype=bool)
    table = held.table
    if late.any() and table.num_rows:
        table = table.filter(pa.array(~late[table.column(ARRIVAL).to_numpy()]))
    parts = []
    if table.num_rows and held.distinct:  # each row labelled once (the usual case): no copy
        parts.append(table.select([ROW, TARGET, CONFLICT]))
    elif table.num_rows:
        rows = table.column(ROW).to_numpy()
        last = np.r_[rows[1:] != rows[:-1], True]  # sorted by row, then arrival: each row's last entry
        parts.append((table if last.all() else table.filter(pa.array(last))).select([ROW, TARGET, CONFLICT]))
    parts += [
        run for obj, run in zip(held.pending, held.runs, strict=True) if obj.arrived <= as_of and run.num_rows
    ]
    if not parts:
        return pa.table({ROW: pa.array([], pa.int64()), CONFLICT: pa.array([], pa.bool_())})
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")


def pending_limit(cached_entries: int) -> int:
    """How many arrivals may wait beside a consolidated object of `cached_entries` entries. Folding them in rewrites
    the object (~20 ns an entry, with the merge), each one waiting costs every reader a mapping (~0.2 ms, three
    readers a day): over a cycle of k days the cost per day is about 20 ns * entries / k + 0.3 ms * k, least at
    k = sqrt(entries / 15,000). So an object of fewer than 15k entries is rewritten with every arrival, one of 500k
    after five more."""
    return min(MAX_PENDING, math.isqrt(cached_entries // 15_000))


def _run(table: pa.Table) -> pa.Table | None:
    """An arrival's entries as a run beside the cache (row, target, conflicted), None unless sorted by distinct row."""
    cols = _columns(table)
    rows = cols.column(ROW).to_numpy()
    return cols if rows.size < 2 or bool(np.all(rows[1:] > rows[:-1])) else None


def _tiered(results: Storage, objects: list[Stored], cached: Held | None) -> Held | None:
    """The cache and the arrivals listed after it, each a run of rows new to all before it (as the digest each
    carries says), read as they are; None when that does not hold exactly (the caller then merges them)."""
    if cached is None or not cached.ordered:
        return None
    by_ident = {o.ident: o for o in objects}
    have = [o.ident for o in cached.objects]
    if len(set(have)) != len(have) or any(i not in by_ident for i in have):
        return None  # the cache names an arrival no longer listed (replaced by a re-run)
    held = set(have)
    pending = [o for o in objects if o.ident not in held]
    days = [o.arrived for o in pending]
    if len(pending) > MAX_PENDING or len(set(days)) != len(days):
        return None
    if pending and cached.objects and pending[0].arrived <= max(o.arrived for o in cached.objects):
        return None  # an arrival before the cache's last (a backfill): merged in order
    runs = []
    for obj in pending:
        table, fresh_after = _read_arrival(results, obj)
        run = _run(table) if fresh_after == against_digest(held) else None
        if run is None:
            return None
        runs.append(run)
        held.add(obj.ident)
    return Held([by_ident[i] for i in have] + pending, cached.table, True, True, runs, cached.distinct)


def combine(
    cfg: ModelConfig, results: Storage, pday: date, as_of: date, store: bool = True
) -> tuple[pa.Table, Held, list[Stored]]:
    """The prediction day's labels as of `as_of` (per row its latest arrival's entry), the entries now held, and
    the arrival objects listed (every one, later ones included). When the fresh arrivals after the cache cannot be
    read beside it, the cache is brought up to date (`store`; the labels step leaves that to `record`, which writes
    it once with its own arrival)."""
    key = cache_key(cfg, pday)
    for attempt in range(3):
        objects = listed(cfg, results, pday)
        cached = _read_cache(results, key)
        in_cache = {o.ident for o in cached.objects} if cached else set()
        try:
            held = _tiered(results, objects, cached)
            if held is not None:
                return _latest(held, as_of), held, objects
            # Later arrivals the cache holds are kept (they cost no read), so a backfill's earlier day leaves it whole.
            held = _gather(results, [o for o in objects if o.arrived <= as_of or o.ident in in_cache], cached)
            break
        except (
            OSError,
            ObjectNotFound,
        ):  # an arrival replaced by a re-run between listing and read: list again
            if attempt == 2 or all(results.exists(o.key) for o in objects):
                raise
    held = held.sort()
    held.stored = cached is not None and cached.manifest() == held.manifest()
    whole = {o.ident for o in held.objects} == {o.ident for o in objects}
    if store and objects and whole and not held.stored:
        _store(results, key, held)
    return _latest(held, as_of), held, objects


def record(
    cfg: ModelConfig,
    results: Storage,
    pday: date,
    before: Held,
    objects: list[Stored],
    new: Stored,
    table: pa.Table,
    fresh_after: str | None = None,
) -> None:
    """After `new` was written: when that is every arrival the listing named (less the same label day's replaced
    objects, which a re-run's `before` may still hold: their entries are dropped), the new arrival left beside the
    cache when it is fresh after all of `before`'s (`fresh_after`) and few wait there, or else the cache of
    `before`'s entries plus the new arrival's."""
    others = [o for o in objects if o.arrived != new.arrived]
    prior = [o for o in before.objects if o.arrived != new.arrived]
    if {o.ident for o in others} != {o.ident for o in prior}:
        return  # the cache reader that follows folds in what this day did not hold
    objects_after = sorted([*prior, new])
    if before.stored and before.manifest() == Held(objects_after, before.table).manifest():
        return  # a re-run whose arrival is the very object it is (in the cache or beside it): held already
    pending = [o for o in before.pending if o.arrived != new.arrived]
    if (
        before.stored
        and fresh_after == against_digest(o.ident for o in prior)
        and all(o.arrived < new.arrived for o in before.objects if o.arrived != new.arrived)
        and all(o.arrived != new.arrived for o in before.base)
        and len(pending) + 1 <= pending_limit(before.table.num_rows)
    ):
        return  # readers take the new arrival beside the cache as a run of new rows
    position = {o.ident: i for i, o in enumerate(objects_after)}
    base = Held(before.base, before.table, before.ordered)
    parts = [_renumbered(base, {o.ident: position[o.ident] for o in before.base if o.arrived != new.arrived})]
    parts += [
        _entries(run, position[obj.ident])
        for obj, run in zip(before.pending, before.runs, strict=True)
        if obj.arrived != new.arrived
    ]
    parts.append(_entries(table, position[new.ident]))
    parts = [part for part in parts if part.num_rows] or [parts[-1]]
    every = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    if (
        before.ordered
        and objects_after[-1] == new
        and all(o.arrived < p.arrived for o in before.base for p in before.pending)
    ):
        # Parts in arrival order, each sorted by row: a stable sort by row alone (timsort merges the runs).
        order = np.argsort(every.column(ROW).to_numpy(), kind="stable")
        _store(results, cache_key(cfg, pday), Held(objects_after, every.take(pa.array(order)), True))
        return
    _store(results, cache_key(cfg, pday), Held(objects_after, every))
