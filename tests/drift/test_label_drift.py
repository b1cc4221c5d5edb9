"""Label drift: each prediction day's arriving labels against the reference target, with size-aware bounds."""

from datetime import timedelta

import numpy as np
from helpers import FIRST_DAY, parquet_bytes
from watchkeeper.drift.labels import label_checks
from watchkeeper.reference import drift_state, get_profile

DAY = FIRST_DAY + timedelta(days=1)  # receives the labels of FIRST_DAY's 600 predictions


def checks_for(tiny, day=DAY):
    cfg, storage, _ = tiny
    profile = get_profile(cfg, storage, storage)
    return label_checks(cfg, storage, day, profile, drift_state(profile, storage))


def test_healthy_labels_are_ok_against_bounds_at_their_size(tiny):
    checks = checks_for(tiny)
    assert [(c.id, c.subject) for c in checks] == [
        ("drift.jensen_shannon", f"label@{FIRST_DAY}"),
        ("drift.l_infinity", f"label@{FIRST_DAY}"),
    ]
    assert all(c.status == "ok" and c.upper is not None and c.details["rows"] == 600 for c in checks)
    assert "random samples of 600 labels" in checks[0].threshold_rule


def test_a_changed_default_rate_alerts(tiny):
    cfg, storage, frames = tiny
    labels = frames[str(FIRST_DAY)][["pid", "label"]].copy()
    labels["label"] = (np.random.default_rng(0).random(len(labels)) < 0.9).astype(int)  # mostly positives now
    storage.write_bytes(f"labels/{DAY}.parquet", parquet_bytes(labels))
    checks = checks_for(tiny)
    assert all(c.status == "alert" and "target of" in c.reason for c in checks)


def test_fewer_labels_widen_the_bound_and_too_few_are_insufficient(tiny):
    cfg, storage, frames = tiny
    labels = frames[str(FIRST_DAY)][["pid", "label"]]
    storage.write_bytes(f"labels/{DAY}.parquet", parquet_bytes(labels.head(150)))
    wide = checks_for(tiny)
    assert wide[0].status == "ok" and "random samples of 150 labels" in wide[0].threshold_rule
    storage.write_bytes(f"labels/{DAY}.parquet", parquet_bytes(labels))
    assert wide[0].upper > checks_for(tiny)[0].upper
    storage.write_bytes(f"labels/{DAY}.parquet", parquet_bytes(labels.head(20)))
    assert all(c.reason == "insufficient labels: 20 < performance.min_labels 50" for c in checks_for(tiny))


def test_no_labels_today_means_no_label_checks(tiny):
    assert checks_for(tiny, FIRST_DAY) == []
