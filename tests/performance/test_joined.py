"""The labels step: only today's label file is read, joined by id to its prediction day; the latest arrival wins,
in-file conflicts stay unscored, re-runs replace a day's contribution, label values and id types are checked."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import FIRST_DAY, parquet_bytes, tiny_config
from watchkeeper.performance.joined import (
    _file_counts,
    _score_rank,
    id_type_checks,
    known,
    label_value_checks,
    update_labels,
)

D0, D1, D2 = FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)


def write(storage, key, df):
    storage.write_bytes(key, parquet_bytes(df))


def predictions(pids):
    return pd.DataFrame({"pid": pids, "score": 0.7, "pred": 1, "x1": 0.0, "x2": 0.0, "c": "a"})


def labels(pairs, id_type=str):
    return pd.DataFrame({"pid": [id_type(p) for p, _ in pairs], "label": [v for _, v in pairs]})


def settled(cfg, storage, pday, as_of, pids):
    table = known(cfg, storage, pday, as_of).to_pandas()
    return {pids[r]: v for r, v in zip(table["row"], table["target"], strict=True)} if len(table) else {}


@pytest.fixture
def world(tiny):
    cfg, storage, _ = tiny
    pids = ["a", "b", "c", "d", "e"]
    write(storage, f"days/{D0}.parquet", predictions(pids))
    write(storage, f"labels/{D0}.parquet", labels([]).astype({"label": int}))
    write(storage, f"labels/{D1}.parquet", labels([("a", 1), ("b", 0), ("c", 1), ("d", 0)]))
    # a resent unchanged, b corrected, c twice with the same value, d twice with different values, e new, z unknown
    today = [("a", 1), ("b", 1), ("c", 1), ("c", 1), ("d", 1), ("d", 0), ("e", 0), ("z", 1)]
    write(storage, f"labels/{D2}.parquet", labels(today))
    return cfg, storage, pids


def test_latest_arrival_wins_and_in_file_conflicts_stay_unscored(world):
    cfg, storage, pids = world
    arrival = update_labels(cfg, storage, storage, D2)  # D0 and D1 are caught up first
    assert settled(cfg, storage, D0, D2, pids) == {"a": 1, "b": 1, "c": 1, "e": 0}
    assert settled(cfg, storage, D0, D1, pids) == {"a": 1, "b": 0, "c": 1, "d": 0}
    assert arrival.prediction_days == [D0] and arrival.unknown == 1
    assert arrival.facts == {
        "label_rows_today": 8,
        "duplicate_label_ids_today": 2,
        "conflicting_ids_in_file": 1,
        "resent_same_value": 2,
        "changed_from_earlier_arrival": 2,
        "unknown_label_values": 0,
    }


def test_rerunning_an_earlier_arrival_replaces_it_and_changes_nothing_else(world):
    cfg, storage, pids = world
    first = update_labels(cfg, storage, storage, D2)
    before = settled(cfg, storage, D0, D2, pids)
    write(storage, f"labels/{D1}.parquet", labels([("a", 0)]))  # D1 re-delivered and re-run after D2
    update_labels(cfg, storage, storage, D1)
    assert settled(cfg, storage, D0, D1, pids) == {"a": 0}
    assert settled(cfg, storage, D0, D2, pids) == before  # D2 decides every id D1 labelled
    assert (
        update_labels(cfg, storage, storage, D2).to_json()["prediction_days"]
        == first.to_json()["prediction_days"]
    )


def test_yes_no_labels_are_rejected_by_name_unless_mapped(world, tmp_path):
    cfg, storage, pids = world
    write(storage, f"labels/{D1}.parquet", labels([("a", "yes"), ("b", "no"), ("c", "yes")]))
    arrival = update_labels(cfg, storage, storage, D1)
    [check] = label_value_checks(arrival)
    assert check.id == "performance.label_values" and check.status == "alert" and check.value == 3
    assert "yes" not in check.reason  # counts, never raw values
    assert settled(cfg, storage, D0, D1, pids) == {}
    mapped = tiny_config(
        tmp_path,
        str(tmp_path / "data"),
        columns={**cfg.model_dump()["columns"], "label_values": {"yes": 1, "no": 0}},
    )
    arrival = update_labels(mapped, storage, storage, D1)
    assert label_value_checks(arrival) == []
    assert settled(mapped, storage, D0, D1, pids) == {"a": 1, "b": 0, "c": 1}


def test_label_ids_of_another_type_are_joined_and_the_mismatch_named(tiny):
    cfg, storage, _ = tiny
    write(storage, f"days/{D0}.parquet", predictions([10, 11, 12]))
    write(storage, f"labels/{D1}.parquet", pd.DataFrame({"pid": [10.0, 11.0, 12.5], "label": [1, 0, 1]}))
    arrival = update_labels(cfg, storage, storage, D1)
    assert arrival.prediction_days == [D0] and arrival.unknown == 1
    [check] = id_type_checks(arrival)
    assert check.id == "performance.label_id_type" and check.status == "alert" and check.value == 1
    assert "label ids are double but prediction ids are int64" in check.reason
    assert settled(cfg, storage, D0, D1, [10, 11, 12]) == {10: 1, 11: 0}


def test_a_rerun_never_leaves_its_prediction_days_without_its_labels(world):
    """Re-running a label day writes its new contributions before taking back the old ones: a day judged meanwhile
    (a backfill re-running neighbouring days at once) reads the old arrival or the new one, never neither."""
    cfg, storage, pids = world
    update_labels(cfg, storage, storage, D2)
    before = settled(cfg, storage, D0, D2, pids)
    seen: list[dict] = []
    delete = storage.delete

    def deleting(key: str) -> None:
        seen.append(settled(cfg, storage, D0, D2, pids))  # what a reader sees just before each delete
        delete(key)

    storage.delete = deleting
    update_labels(cfg, storage, storage, D2)  # unchanged: the same objects, nothing taken away
    assert seen == [] and settled(cfg, storage, D0, D2, pids) == before
    write(storage, f"labels/{D2}.parquet", labels([("a", 0), ("b", 1), ("e", 0)]))  # re-delivered, changed
    update_labels(cfg, storage, storage, D2)
    assert seen and all(s.keys() >= {"a", "b", "e"} for s in seen)  # D2's labels were there at every step
    assert settled(cfg, storage, D0, D2, pids) == {"a": 0, "b": 1, "c": 1, "d": 0, "e": 0}


def stored_copy(cfg, storage, pday):
    """A prediction day's compact copy as stored (an Arrow IPC file)."""
    import pyarrow.ipc as ipc
    from watchkeeper.performance.joined import predictions_key

    return ipc.open_file(storage.open_file(predictions_key(cfg, pday))).read_all()


def as_kept_before(cfg, storage, pday, table):
    """Replace a prediction day's compact copy by `table` kept as copies were before the Arrow IPC one: Parquet."""
    import io

    import pyarrow.parquet as pq
    from watchkeeper.performance.joined import parquet_predictions_key, predictions_key

    older = io.BytesIO()
    pq.write_table(table, older)
    storage.write_bytes(parquet_predictions_key(cfg, pday), older.getvalue())
    storage.delete(predictions_key(cfg, pday))


def test_string_ids_are_hashed_once_with_their_prediction_day_and_older_copies_still_join(world):
    """The compact copy of a prediction day keeps its string ids' hash (label days reaching it do not hash the day
    again); a copy written before it did (and as Parquet, as copies were kept then) still joins, hashed on use."""
    import pyarrow as pa
    from watchkeeper.performance.id_lookup import hashed_ids
    from watchkeeper.performance.joined import ID_HASH, predictions_key

    cfg, storage, pids = world
    update_labels(cfg, storage, storage, D1)
    stored = stored_copy(cfg, storage, D0)
    assert stored.column(ID_HASH).to_pylist() == hashed_ids(pa.array(pids)).to_pylist()
    as_kept_before(cfg, storage, D0, stored.drop_columns([ID_HASH]))
    update_labels(cfg, storage, storage, D2)
    assert not storage.exists(predictions_key(cfg, D0))  # the Parquet copy was read, not copied again
    assert settled(cfg, storage, D0, D2, pids) == {"a": 1, "b": 1, "c": 1, "e": 0}


def test_a_classifiers_prediction_day_keeps_its_score_ranks_and_older_copies_score_the_same(tiny):
    """The compact copy ranks the day's scores once (ties share a rank); re-scoring from it gives the ROC AUC a
    copy without ranks (written before them) gives."""
    import numpy as np
    from watchkeeper.performance.joined import SCORE_RANK
    from watchkeeper.performance.stage import performance_checks
    from watchkeeper.reference import get_profile

    cfg, storage, _ = tiny
    rng = np.random.default_rng(4)
    pids = [f"p{i}" for i in range(400)]
    frame = predictions(pids).assign(score=np.round(rng.random(400), 2))
    write(storage, f"days/{D0}.parquet", frame)
    y = (rng.random(400) < frame["score"]).astype(int)
    write(storage, f"labels/{D1}.parquet", labels(list(zip(pids, y, strict=True))))
    update_labels(cfg, storage, storage, D1)
    stored = stored_copy(cfg, storage, D0)
    scores, ranks = stored.column("score").to_numpy(), stored.column(SCORE_RANK).to_numpy()
    assert (np.argsort(ranks, kind="stable") == np.argsort(scores, kind="stable")).all()
    assert len(set(ranks)) == len(set(scores))
    profile = get_profile(cfg, storage, storage)

    def roc_auc() -> float:
        checks, _ = performance_checks(cfg, storage, D1, None, profile, results=storage)
        (check,) = [c for c in checks if c.id == "performance.roc_auc" and c.subject.endswith(f"@{D0}")]
        return check.value

    with_ranks = roc_auc()
    as_kept_before(cfg, storage, D0, stored.drop_columns([SCORE_RANK]))
    assert roc_auc() == with_ranks and 0.5 < with_ranks < 1


def _file_counts_one_id_at_a_time(id_codes, values):
    """The counts by looking at each id's values in turn: the reference the cheaper count must equal."""
    seen: dict[int, set] = {}
    for code, value in zip(id_codes.tolist(), values.tolist(), strict=True):
        seen.setdefault(code, set()).add("nan" if value != value else value)  # NaN as one value
    return {
        "duplicate_label_ids_today": len(id_codes) - len(seen),
        "conflicting_ids_in_file": sum(len(v) > 1 for v in seen.values()),
    }


@pytest.mark.parametrize("seed", range(20))
def test_a_files_repeated_and_conflicting_ids_are_counted_as_looking_at_each_id_counts_them(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    # ids from a small or a large range (few or no repeats), some missing (-1); values 0/1, some NaN
    codes = rng.integers(-1, int(rng.choice([5, n, 10 * n])), n)
    values = rng.choice([0.0, 1.0, np.nan], n, p=[0.45, 0.45, 0.1])
    assert _file_counts(codes, values) == _file_counts_one_id_at_a_time(codes, values)
    distinct = rng.permutation(n)
    assert _file_counts(distinct, values) == {"duplicate_label_ids_today": 0, "conflicting_ids_in_file": 0}


@pytest.mark.parametrize(
    "scores",
    [
        np.random.default_rng(0).random(2000),
        np.round(np.random.default_rng(1).random(2000), 2),
        [0.0, -0.0, 1.0],
        [],
        [5.0],
        np.random.default_rng(2).integers(0, 9, 50),
    ],  # fmt: skip
)
def test_a_days_score_ranks_are_dense_ranks_equal_scores_sharing_one(scores):
    cfg = tiny_config_like_binary()
    got = _score_rank(cfg, pa.table({"score": pa.array(np.asarray(scores, dtype=float))}))
    want = np.unique(np.asarray(scores, dtype=float), return_inverse=True)[1].ravel()
    assert got.type == pa.int32() and got.to_numpy().tolist() == want.tolist()


def tiny_config_like_binary():
    from types import SimpleNamespace

    return SimpleNamespace(task="binary_classification", columns=SimpleNamespace(score="score"))
