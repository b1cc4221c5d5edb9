"""A prediction day's labels read from its consolidated object and the fresh arrivals beside it equal what its
arrivals say, whatever happened to that object: missing, stale, torn, built by a later day; after re-runs with other
values of the same size, days run out of order, days running at once, and an older store's arrival names; on local
disk and on S3; with every arrival folded into the object at once, and with a few left beside it."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from helpers import FIRST_DAY, parquet_bytes, tiny_config
from watchkeeper.performance import label_state
from watchkeeper.performance.joined import known, update_labels
from watchkeeper.storage import Storage

DAYS = 7
"""Prediction days 0..6; labels arrive on days 1..7, each for the 5 days up to it (the window)."""


def day(i: int) -> date:
    return FIRST_DAY + timedelta(days=i)


def pids(i: int) -> list[str]:
    return [f"{i}-{k}" for k in range(30)]


def label_file(j: int, seed: int) -> pd.DataFrame:
    """Labels arriving on day j: a random third of each of the days j-4..j (so ids come back with the same or
    another value), a few ids twice (some with two values), one unknown id."""
    rng = np.random.default_rng([j, seed])
    parts = []
    for i in range(max(j - 4, 0), min(j, DAYS - 1) + 1):
        chosen = rng.choice(30, 10, replace=False)
        parts.append(pd.DataFrame({"pid": [pids(i)[k] for k in chosen], "label": rng.integers(0, 2, 10)}))
    frame = pd.concat(parts, ignore_index=True)
    twice = frame.sample(4, random_state=seed + j).assign(label=lambda f: rng.integers(0, 2, len(f)))
    return pd.concat([frame, twice, pd.DataFrame({"pid": ["nobody"], "label": [1]})], ignore_index=True)


def write_world(storage: Storage, seed: int = 1) -> dict[int, pd.DataFrame]:
    storage.write_bytes("ref.parquet", parquet_bytes(pd.DataFrame({"pid": ["r0", "r1"], "label": [0, 1]})))
    for i in range(DAYS):
        frame = pd.DataFrame({"pid": pids(i), "score": 0.7, "pred": 1, "x1": 0.0, "x2": 0.0, "c": "a"})
        storage.write_bytes(f"days/{day(i)}.parquet", parquet_bytes(frame))
    files = {j: label_file(j, seed) for j in range(1, DAYS + 1)}
    for j, frame in files.items():
        storage.write_bytes(f"labels/{day(j)}.parquet", parquet_bytes(frame))
    return files


def expected(files: dict[int, pd.DataFrame], p: int, as_of: int) -> dict[int, int]:
    """What the label files say of prediction day p's rows as of a day: the latest file that labels a row decides,
    unless it gives the row two values."""
    row_of = {pid: r for r, pid in enumerate(pids(p))}
    latest: dict[int, int | None] = {}
    for j in sorted(files):
        if j > as_of or j < p:
            continue
        mine = files[j][files[j]["pid"].isin(row_of)]
        for pid, values in mine.groupby("pid")["label"]:
            latest[row_of[pid]] = int(values.iloc[0]) if values.nunique() == 1 else None
    return {r: v for r, v in sorted(latest.items()) if v is not None}


def settled(cfg, results: Storage, p: int, as_of: int) -> dict[int, int]:
    table = known(cfg, results, day(p), day(as_of)).to_pandas()
    return {int(r): int(v) for r, v in zip(table["row"], table["target"], strict=True)} if len(table) else {}


def assert_all_known(cfg, results: Storage, files: dict[int, pd.DataFrame], last: int = DAYS) -> None:
    """Every prediction day's labels as of every day up to the last label day run."""
    for p in range(min(last + 1, DAYS)):
        for as_of in range(p, last + 1):
            assert settled(cfg, results, p, as_of) == expected(files, p, as_of), (p, as_of)


def drop_caches(cfg, results: Storage) -> None:
    for p in range(DAYS):
        results.delete(label_state.cache_key(cfg, day(p)))


def cached(cfg, results: Storage, p: int) -> pa.Table:
    return ipc.open_file(pa.py_buffer(results.read_bytes(label_state.cache_key(cfg, day(p))))).read_all()


def manifest(cfg, results: Storage, p: int) -> list[list[str]]:
    return json.loads(cached(cfg, results, p).schema.metadata[b"watchkeeper.arrivals"])["arrivals"]


PENDING_LIMIT = label_state.pending_limit  # the module's rule, before the fixture below stands in for it
WAITING = 3
"""Arrivals left beside the object in the `tiered` runs (the tiny days' objects would otherwise never wait)."""


@pytest.fixture(params=["folded", "tiered"], autouse=True)
def waiting(request, monkeypatch) -> int:
    """Every test twice: each arrival folded into the object at once (as for a small object), and up to `WAITING`
    fresh arrivals left beside it (as for a large one)."""
    limit = 0 if request.param == "folded" else WAITING
    monkeypatch.setattr(label_state, "pending_limit", lambda entries: limit)
    return limit


def assert_named(cfg, results: Storage, p: int, waiting: int) -> None:
    """The object names the prediction day's arrivals but the last few, each of which is fresh (labels only rows
    new to all before it) and carries the digest of what it was checked against."""
    listed = label_state.listed(cfg, results, day(p))
    names = manifest(cfg, results, p)
    assert [[o.arrived.isoformat(), o.ident] for o in listed[: len(names)]] == names
    beside = listed[len(names) :]
    assert len(beside) <= waiting
    for i, obj in enumerate(beside):
        before = [o.ident for o in listed[: len(names) + i]]
        assert label_state._read_arrival(results, obj)[1] == label_state.against_digest(before)


@pytest.fixture
def world(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    files = write_world(storage)
    return tiny_config(tmp_path, storage.uri), storage, files


def test_labels_with_the_consolidated_object_equal_the_label_files_and_a_run_without_it(
    world, tmp_path, waiting
):
    cfg, storage, files = world
    steps = [update_labels(cfg, storage, storage, day(j)).to_json() for j in range(1, DAYS + 1)]
    assert sum(s["facts"]["resent_same_value"] for s in steps) > 0
    assert sum(s["facts"]["changed_from_earlier_arrival"] for s in steps) > 0
    assert sum(s["facts"]["conflicting_ids_in_file"] for s in steps) > 0
    assert_all_known(cfg, storage, files)
    # Each prediction day's object names its arrivals, but for fresh ones left beside it: nothing to fold in.
    for p in range(DAYS):
        assert_named(cfg, storage, p, waiting)
    bare = Storage.from_uri(str(tmp_path / "bare"))
    write_world(bare)
    without = []
    for j in range(1, DAYS + 1):
        drop_caches(cfg, bare)
        without.append(update_labels(cfg, bare, bare, day(j)).to_json())
    assert without == steps


def test_a_rerun_with_other_values_of_the_same_size_is_seen_by_the_next_day(world):
    cfg, storage, files = world
    for j in range(1, 5):
        update_labels(cfg, storage, storage, day(j))
    before = {o.ident: storage.size(o.key) for o in label_state.listed(cfg, storage, day(1))}
    files[2] = files[2].assign(label=1 - files[2]["label"])  # re-delivered: every value flipped
    storage.write_bytes(f"labels/{day(2)}.parquet", parquet_bytes(files[2]))
    update_labels(cfg, storage, storage, day(2))
    after = {o.ident: storage.size(o.key) for o in label_state.listed(cfg, storage, day(1))}
    assert len(after) == len(before) and sorted(after.values()) == sorted(before.values())
    assert after != before  # same sizes, another object
    update_labels(cfg, storage, storage, day(5))
    assert_all_known(cfg, storage, files, last=5)


def test_days_rerun_out_of_order_give_what_they_give_in_order(world, tmp_path):
    cfg, storage, files = world
    in_order = {j: update_labels(cfg, storage, storage, day(j)).to_json() for j in range(1, DAYS + 1)}
    other = Storage.from_uri(str(tmp_path / "other"))
    write_world(other)
    update_labels(cfg, other, other, day(DAYS))  # catches up every earlier day first
    shuffled = {j: update_labels(cfg, other, other, day(j)).to_json() for j in (3, 1, 6, 2, 5, 4, 7)}
    assert shuffled == in_order
    assert_all_known(cfg, other, files)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: b"not parquet at all",
        lambda data: b"",
    ],
)
def test_a_damaged_consolidated_object_is_ignored_and_rebuilt(world, damage):
    cfg, storage, files = world
    for j in range(1, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
    key = label_state.cache_key(cfg, day(2))
    good = cached(cfg, storage, 2)
    storage.write_bytes(key, damage(storage.read_bytes(key)))
    assert settled(cfg, storage, 2, DAYS) == expected(files, 2, DAYS)
    assert cached(cfg, storage, 2).equals(good, check_metadata=True)  # rebuilt from the arrivals
    assert_all_known(cfg, storage, files)


def test_a_stale_object_from_an_earlier_day_is_brought_up_to_date(world, waiting):
    cfg, storage, files = world
    for j in range(1, 3):
        update_labels(cfg, storage, storage, day(j))
    key = label_state.cache_key(cfg, day(1))
    stale = storage.read_bytes(key)
    for j in range(3, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
    storage.write_bytes(key, stale)  # e.g. a slow writer that lost the race
    assert settled(cfg, storage, 1, DAYS) == expected(files, 1, DAYS)
    assert_named(cfg, storage, 1, waiting)


def test_an_older_store_without_digests_in_arrival_names_is_read_and_replaced_on_rerun(world):
    cfg, storage, files = world
    for j in range(1, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
    for p in range(DAYS):
        for obj in label_state.listed(cfg, storage, day(p)):  # as an earlier version named and wrote them
            entries = label_state._read_arrival(storage, obj)[0]
            storage.write_bytes(f"{obj.key.rsplit('.', 2)[0]}.parquet", parquet_bytes(entries.to_pandas()))
            storage.delete(obj.key)
    drop_caches(cfg, storage)
    assert_all_known(cfg, storage, files)
    files[3] = files[3].assign(label=1 - files[3]["label"])
    storage.write_bytes(f"labels/{day(3)}.parquet", parquet_bytes(files[3]))
    update_labels(cfg, storage, storage, day(3))
    names = [o.key.rsplit("/", 1)[-1] for o in label_state.listed(cfg, storage, day(2))]
    assert f"{day(3)}.parquet" not in names and sum(n.startswith(str(day(3))) for n in names) == 1
    assert_all_known(cfg, storage, files)


def test_label_days_rerun_at_once_on_the_same_prediction_days_are_all_counted(world):
    cfg, storage, files = world
    for j in range(1, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
    files = {j: label_file(j, seed=2) for j in files}  # every label file re-delivered with other labels
    for j, frame in files.items():
        storage.write_bytes(f"labels/{day(j)}.parquet", parquet_bytes(frame))
    start = threading.Barrier(DAYS)
    errors: list[BaseException] = []

    def rerun(j: int) -> None:
        try:
            start.wait()
            update_labels(cfg, storage, storage, day(j))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    runs = [threading.Thread(target=rerun, args=(j,)) for j in range(1, DAYS + 1)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(timeout=120)
    assert errors == []
    assert_all_known(cfg, storage, files)


def test_on_s3_a_rerun_of_the_same_size_is_seen_and_the_object_used(s3_storage, tmp_path, waiting):
    cfg = tiny_config(tmp_path, s3_storage.uri)
    files = write_world(s3_storage)
    for j in range(1, 5):
        update_labels(cfg, s3_storage, s3_storage, day(j))
    files[2] = files[2].assign(label=1 - files[2]["label"])
    s3_storage.write_bytes(f"labels/{day(2)}.parquet", parquet_bytes(files[2]))
    update_labels(cfg, s3_storage, s3_storage, day(2))
    update_labels(cfg, s3_storage, s3_storage, day(5))
    for p in range(4):
        assert settled(cfg, s3_storage, p, 5) == expected(files, p, 5)
        assert_named(cfg, s3_storage, p, waiting)


@pytest.mark.parametrize("changed", [False, True])
def test_a_rerun_label_day_leaves_the_object_whole_itself(world, changed, waiting):
    """Re-running the latest label day (the same file, or one re-delivered with other values) brings each of its
    prediction days' objects up to date in the labels step itself, holding its new arrival once and the replaced
    one not at all: label drift and performance then only read them."""
    cfg, storage, files = world
    for j in range(1, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
    if changed:
        files[DAYS] = files[DAYS].assign(label=1 - files[DAYS]["label"])
        storage.write_bytes(f"labels/{day(DAYS)}.parquet", parquet_bytes(files[DAYS]))
    drop_caches(cfg, storage)
    for p in range(DAYS - 4, DAYS):  # objects built by a reader, holding the label day's earlier arrival
        known(cfg, storage, day(p), day(DAYS))
    update_labels(cfg, storage, storage, day(DAYS))
    for p in range(DAYS - 4, DAYS):
        assert_named(cfg, storage, p, waiting)
        named = {ident for _, ident in manifest(cfg, storage, p)}
        entries = sum(
            arrival_rows(storage, o) for o in label_state.listed(cfg, storage, day(p)) if o.ident in named
        )  # every arrival's entries, once
        assert cached(cfg, storage, p).num_rows == entries
    assert_all_known(cfg, storage, files)


def arrival_rows(storage: Storage, obj: label_state.Stored) -> int:
    return label_state._read_arrival(storage, obj)[0].num_rows


def fresh_file(j: int) -> pd.DataFrame:
    """Labels arriving on day j that label only rows no earlier day labelled: 6 rows of each of the days j-4..j."""
    parts = []
    for i in range(max(j - 4, 0), min(j, DAYS - 1) + 1):
        rows = range((j - i) * 6, (j - i + 1) * 6)
        parts.append(pd.DataFrame({"pid": [pids(i)[r] for r in rows], "label": [(r + j) % 2 for r in rows]}))
    return pd.concat(parts, ignore_index=True)


def test_fresh_arrivals_wait_beside_the_object_and_are_folded_in_every_few_days(
    tmp_path, monkeypatch, waiting
):
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_world(storage)
    files = {j: fresh_file(j) for j in range(1, DAYS + 1)}
    for j, frame in files.items():
        storage.write_bytes(f"labels/{day(j)}.parquet", parquet_bytes(frame))
    cfg = tiny_config(tmp_path, storage.uri)
    writes = []
    store = label_state._store
    monkeypatch.setattr(
        label_state, "_store", lambda results, key, held: (writes.append(key), store(results, key, held))
    )
    for j in range(1, DAYS + 1):
        update_labels(cfg, storage, storage, day(j))
        assert_all_known(cfg, storage, files, last=j)  # label drift and performance write nothing
    # Prediction day 0 got an arrival on each of days 1..4 (5 of the window, but day 0 is labelled by days 0..4).
    arrivals = len(label_state.listed(cfg, storage, day(0)))
    written = writes.count(label_state.cache_key(cfg, day(0)))
    assert written == (arrivals if not waiting else -(-arrivals // (waiting + 1)))
    for p in range(DAYS):
        assert_named(cfg, storage, p, waiting)
    if waiting:
        assert any(
            len(manifest(cfg, storage, p)) < len(label_state.listed(cfg, storage, day(p)))
            for p in range(DAYS)
        )


def test_a_changed_label_after_fresh_ones_folds_them_in_and_wins(tmp_path, waiting):
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_world(storage)
    files = {j: fresh_file(j) for j in range(1, DAYS + 1)}
    last = files[DAYS].iloc[:0]
    again = files[3][files[3]["pid"].str.startswith("2-")].assign(label=lambda f: 1 - f["label"])
    files[DAYS] = pd.concat(
        [files[DAYS], again], ignore_index=True
    )  # day 2's rows labelled on day 3, changed
    assert len(last) == 0 and len(again) == 6
    for j, frame in files.items():
        storage.write_bytes(f"labels/{day(j)}.parquet", parquet_bytes(frame))
    cfg = tiny_config(tmp_path, storage.uri)
    steps = [update_labels(cfg, storage, storage, day(j)) for j in range(1, DAYS + 1)]
    assert steps[-1].facts["changed_from_earlier_arrival"] == 6
    assert_all_known(cfg, storage, files)
    # The changed arrival is not fresh: it is folded in with everything before it.
    assert len(manifest(cfg, storage, 2)) == len(label_state.listed(cfg, storage, day(2)))


def test_an_arrival_checked_against_other_arrivals_is_merged_not_taken_as_it_is(tmp_path, monkeypatch):
    """An arrival beside the object is read as a run of new rows only when the digest it carries names exactly the
    arrivals before it; one checked against another set (a writer that lost a race, a hand-made object) is merged
    with the rest, its labels winning over the earlier ones, and the object rebuilt."""
    monkeypatch.setattr(label_state, "pending_limit", lambda entries: WAITING)
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_world(storage)
    files = {j: fresh_file(j) for j in range(1, 4)}
    for j, frame in files.items():
        storage.write_bytes(f"labels/{day(j)}.parquet", parquet_bytes(frame))
    cfg = tiny_config(tmp_path, storage.uri)
    for j in files:
        update_labels(cfg, storage, storage, day(j))
    assert len(manifest(cfg, storage, 1)) == 1 and len(label_state.listed(cfg, storage, day(1))) == 3
    flipped = files[2][files[2]["pid"].str.startswith("1-")].assign(label=lambda f: 1 - f["label"])
    files[4] = flipped  # day 2's labels of day 1, changed on day 4
    rows = [pids(1).index(pid) for pid in flipped["pid"]]
    entries = pa.table(
        {"row": rows, "target": flipped["label"].to_numpy(), "conflicted": [False] * len(rows)}
    )
    label_state.write_arrival(cfg, storage, day(1), day(4), entries, label_state.against_digest([]))
    table = known(cfg, storage, day(1), day(4))
    assert len(set(table.column("row").to_pylist())) == table.num_rows
    assert settled(cfg, storage, 1, 4) == expected(files, 1, 4)
    assert len(manifest(cfg, storage, 1)) == 4  # merged and stored by the reader


def test_how_many_arrivals_wait_grows_with_the_square_root_of_the_objects_entries():
    """Small objects are rewritten with every arrival; a 1M-row day's (~500k entries) waits for five; never over
    `MAX_PENDING`, which readers also refuse beyond."""
    assert [PENDING_LIMIT(n) for n in (0, 14_999, 15_000, 60_000, 500_000, 10**9)] == [
        0,
        0,
        1,
        2,
        5,
        label_state.MAX_PENDING,
    ]
