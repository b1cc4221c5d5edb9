"""A prediction day's labels so far in one stored object, derived from its arrivals and checked on every read.

The arrivals stay the truth: `days/<P>/labels/arrivals/<A>.<digest>.parquet`, one per label day A that labelled
prediction day P, named by a digest of its content, so a re-run that writes other labels is another object even
within the same second (older stores' `<A>.parquet` are told apart by size and modification time). Beside them,
`days/<P>/labels/combined.arrow` (Arrow IPC) holds every entry of the arrivals it folds in (row, target,
conflicted, and the index of its arrival in the manifest kept in the file's schema metadata), sorted by row. A
reader lists the arrivals once, keeps the cached entries whose arrival is still listed unchanged, reads only the
arrivals it lacks, and writes the cache back when it then holds every listed arrival; an unreadable cache is a
miss. A re-run of a label day, a backfill in any order and days running at once therefore cost one list, one cache
read and the changed arrivals, never a wrong answer: the cache is only ever a copy of arrival objects it names
exactly. The labels step writes it (`record`) with its own arrival; label drift and performance only read it."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
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
_VERSION = 1


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
        if info.type != pafs.FileType.File or not name.endswith(".parquet"):
            continue  # a local write's temporary file
        parts = name.removesuffix(".parquet").split(".")
        try:
            arrived = date.fromisoformat(parts[0])
        except ValueError:
            continue
        ident = name if len(parts) == 2 else f"{name}@{info.size}:{info.mtime_ns}"
        out.append(Stored(arrived, ident, prefix + name))
    return sorted(out)


def _parquet(table: pa.Table) -> bytes:
    # No schema metadata from the source: a source file's pandas metadata names every column it had, pii included.
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), sink)
    return sink.getvalue()


def _put(results: Storage, key: str, data: bytes | memoryview) -> None:
    """Readers see the whole object or none (`Storage.write_bytes_atomic`), not synced to disk nor read back:
    these were never synced, and a sync each cost a day ~1 s of wall time at a 30-day window."""
    results.write_bytes_atomic(key, data, durable=False)


def write_arrival(cfg: ModelConfig, results: Storage, pday: date, arrival: date, table: pa.Table) -> Stored:
    """Store one label day's entries for a prediction day under a name that carries their digest."""
    data = _parquet(table)
    name = f"{arrival.isoformat()}.{hashlib.blake2b(data, digest_size=8).hexdigest()}.parquet"
    _put(results, arrivals_prefix(cfg, pday) + name, data)
    return Stored(arrival, name, arrivals_prefix(cfg, pday) + name)


def delete_arrivals(
    results: Storage, objects: list[Stored], arrival: date, keep: Stored | None = None
) -> None:
    """Remove a label day's objects (a re-run's earlier ones), all but `keep`."""
    for obj in objects:
        if obj.arrived == arrival and obj.ident != (keep.ident if keep else None):
            results.delete(obj.key)


@dataclass
class Held:
    """Entries of a set of arrival objects: `table` (row, target, conflicted, arrival = index into `objects`),
    `ordered` when sorted by (row, arrival), as the stored cache always is."""

    objects: list[Stored]
    table: pa.Table
    ordered: bool = False
    stored: bool = False
    """Exactly what the stored cache holds (nothing to write back)."""

    def manifest(self) -> list[list[str]]:
        return [[o.arrived.isoformat(), o.ident] for o in self.objects]

    def sort(self) -> Held:
        if self.ordered or not self.table.num_rows:
            return Held(self.objects, self.table, True)
        order = np.lexsort((self.table.column(ARRIVAL).to_numpy(), self.table.column(ROW).to_numpy()))
        return Held(self.objects, self.table.take(pa.array(order)), True)


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
        return Held(objects, table, _in_order(table))
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt from the arrivals
        return None


def _entries(table: pa.Table, index: int) -> pa.Table:
    cols = table.select([ROW, TARGET, CONFLICT])
    target = cols.column(TARGET)
    if target.null_count == len(target) and not pa.types.is_null(target.type):
        # Every value rejected (text labels no mapping knew): typed null, so it merges with any day's arrivals.
        cols = cols.set_column(1, TARGET, pa.nulls(len(target)))
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
            table = pq.read_table(results.open_file(obj.key))
            parts.append(_entries(table, position[obj.ident]))
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
    """Per row, the entry of its latest arrival up to `as_of` (row, target, conflicted), sorted by row."""
    held = held.sort()
    late = np.array([o.arrived > as_of for o in held.objects], dtype=bool)
    table = held.table
    if late.any() and table.num_rows:
        table = table.filter(pa.array(~late[table.column(ARRIVAL).to_numpy()]))
    if not table.num_rows:
        return pa.table({ROW: pa.array([], pa.int64()), CONFLICT: pa.array([], pa.bool_())})
    rows = table.column(ROW).to_numpy()
    last = np.r_[rows[1:] != rows[:-1], True]  # sorted by row, then arrival: each row's last entry
    if last.all():  # each row labelled once (the usual case): no copy
        return table.select([ROW, TARGET, CONFLICT])
    return table.filter(pa.array(last)).select([ROW, TARGET, CONFLICT])


def combine(
    cfg: ModelConfig, results: Storage, pday: date, as_of: date, store: bool = True
) -> tuple[pa.Table, Held, list[Stored]]:
    """The prediction day's labels as of `as_of` (per row its latest arrival's entry), the entries now held, and
    the arrival objects listed (every one, later ones included). The cache is brought up to date when it lacked a
    listed arrival (`store`; the labels step leaves that to `record`, which writes it once with its own arrival)."""
    key = cache_key(cfg, pday)
    for attempt in range(3):
        objects = listed(cfg, results, pday)
        cached = _read_cache(results, key)
        in_cache = {o.ident for o in cached.objects} if cached else set()
        # Later arrivals the cache holds are kept (they cost no read), so a backfill's earlier day leaves it whole.
        try:
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
) -> None:
    """After `new` was written: the cache of `before`'s entries plus the new arrival's, when that is every arrival
    the listing named (less the same label day's replaced objects, which a re-run's `before` may still hold: their
    entries are dropped)."""
    others = [o for o in objects if o.arrived != new.arrived]
    prior = [o for o in before.objects if o.arrived != new.arrived]
    if {o.ident for o in others} != {o.ident for o in prior}:
        return  # the cache reader that follows folds in what this day did not hold
    objects_after = sorted([*prior, new])
    if before.stored and before.manifest() == Held(objects_after, before.table).manifest():
        return  # a re-run whose arrival is the very object it replaces: the cache already holds it
    position = {o.ident: i for i, o in enumerate(objects_after)}
    added = _entries(table, position[new.ident])
    # A re-run's arrival may be the very object it replaces (same content, same name): only `prior`'s entries kept.
    of_prior = {ident: i for ident, i in position.items() if ident != new.ident}
    kept = _renumbered(before, of_prior)
    if not kept.num_rows:
        _store(results, cache_key(cfg, pday), Held(objects_after, added))
        return
    if before.ordered and objects_after[-1] == new:  # the latest arrival: merged in by row, no sort
        merged = _merge(kept, added.take(pa.array(np.argsort(added.column(ROW).to_numpy(), kind="stable"))))
        _store(results, cache_key(cfg, pday), Held(objects_after, merged, True))
        return
    every = pa.concat_tables([kept, added], promote_options="permissive")
    _store(results, cache_key(cfg, pday), Held(objects_after, every))


def _merge(a: pa.Table, b: pa.Table) -> pa.Table:
    """Two tables sorted by row, each of b's entries after a's entries of its row: one table sorted so."""
    a_rows, b_rows = a.column(ROW).to_numpy(), b.column(ROW).to_numpy()
    at = np.searchsorted(a_rows, b_rows, side="right") + np.arange(b_rows.size)
    from_b = np.zeros(a_rows.size + b_rows.size, dtype=bool)
    from_b[at] = True
    take = np.empty(from_b.size, dtype=np.int64)
    take[from_b] = a_rows.size + np.arange(b_rows.size)
    take[~from_b] = np.arange(a_rows.size)
    return pa.concat_tables([a, b], promote_options="permissive").take(pa.array(take))
