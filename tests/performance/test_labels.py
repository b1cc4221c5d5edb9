"""Repeated labels get named outcomes: duplicates are counted, conflicts alert the data owner, and the documented
value wins (the latest arrival; an id with different values inside one file stays unscored until settled)."""

from datetime import timedelta

import pandas as pd
from helpers import FIRST_DAY, parquet_bytes
from watchkeeper.performance.labels import known_labels, label_record_checks


def write_labels(storage, day, pairs):
    df = pd.DataFrame(pairs, columns=["pid", "label"])
    storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(df))


def test_latest_arrival_wins_and_in_file_conflicts_are_left_unscored(tiny):
    cfg, storage, _ = tiny
    d0, d1, d2 = FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)
    write_labels(storage, d0, [])
    write_labels(storage, d1, [("a", 1), ("b", 0), ("c", 1), ("d", 0)])
    # today: a resent unchanged, b corrected, c twice with the same value, d twice with different values, e new
    write_labels(storage, d2, [("a", 1), ("b", 1), ("c", 1), ("c", 1), ("d", 1), ("d", 0), ("e", 0)])
    today, known, facts = known_labels(cfg, storage, d2)
    assert len(today) == 7
    assert dict(zip(known["pid"], known["label"], strict=True)) == {"a": 1, "b": 1, "c": 1, "e": 0}
    assert facts == {
        "label_rows_today": 7,
        "duplicate_label_ids_today": 2,  # the second c and the second d
        "conflicting_ids_in_file": 1,  # d
        "resent_same_value": 2,  # a and c
        "changed_from_earlier_arrival": 2,  # b, and d's first row
    }
    duplicates, conflicts = label_record_checks(facts)
    assert duplicates.status == "ok" and duplicates.value == 4 and duplicates.owner == "data"
    assert conflicts.status == "alert" and conflicts.value == 3 and conflicts.owner == "data"
    assert conflicts.reason == (
        "2 prediction id(s) got a different label than an earlier arrival (the latest wins); "
        "1 id(s) have different labels within today's file (left unscored until settled)"
    )


def test_clean_labels_have_no_conflict(tiny):
    cfg, storage, _ = tiny
    _, known, facts = known_labels(cfg, storage, FIRST_DAY + timedelta(days=1))
    assert known["pid"].is_unique and len(known) == 600
    duplicates, conflicts = label_record_checks(facts)
    assert (duplicates.value, conflicts.value, conflicts.status) == (0, 0, "ok")


def test_conflicts_alert_the_data_owner_in_the_day_result(tiny):
    from watchkeeper.pipeline import run_day

    cfg, storage, frames = tiny
    day = FIRST_DAY + timedelta(days=2)
    resent = frames[str(FIRST_DAY)][["pid", "label"]].head(50).assign(label=lambda f: 1 - f["label"])
    fresh = frames[str(FIRST_DAY + timedelta(days=1))][["pid", "label"]]
    storage.write_bytes(f"labels/{day}.parquet", parquet_bytes(pd.concat([fresh, resent])))
    result = run_day(cfg, day, storage)
    check = next(c for c in result.checks if c.id == "performance.label_conflicts")
    assert check.value == 50 and check.status == "alert"
    assert any(a.owner == "data" and "performance.label_conflicts:labels" in a.checks for a in result.actions)
