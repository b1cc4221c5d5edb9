"""`watchkeeper preview --candidate`: stored drift and performance checks re-judged under a candidate's thresholds.

A tiny world run through the real pipeline, with days whose shift of one feature puts its drift statistic between
the bounds the reference gives at k=2 and k=3, and between k=3 and k=4 (shifts computed from those bounds).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from helpers import FIRST_DAY, TINY_CONFIG, parquet_bytes, rows, write_tiny_world
from scipy import stats
from watchkeeper.alerts import write_outbox
from watchkeeper.cli import main
from watchkeeper.config import load_config
from watchkeeper.delivery import send_day
from watchkeeper.history import replay_stored
from watchkeeper.pipeline import Day, prepare_profile, run_day
from watchkeeper.reference import get_profile
from watchkeeper.rejudge import Judge
from watchkeeper.storage import Storage
from watchkeeper.thresholds import StdThreshold

N = 600
SEGMENTS = {"columns": ["c"], "min_rows": 50}
"""Segments too, so segment drift and segment performance bounds are re-derived as well."""


def ks_bound(judge: Judge, k: float) -> float:
    entry = judge.profile["drift"]["x1|ks"]
    return judge.derive(entry, StdThreshold(k=k), "upper", True, judge.family)["upper"]


def shift_for_ks(d: float) -> float:
    """The mean shift of a unit normal whose KS distance from the unshifted one is `d`: 2Φ(δ/2) − 1 = d."""
    return float(2 * stats.norm.ppf((d + 1) / 2))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("preview")
    storage = Storage.from_uri(str(root / "data"))
    write_tiny_world(storage, days=0)

    def config(name: str, **overrides) -> str:
        path = root / f"{name}.yaml"
        data = {**TINY_CONFIG, "storage": {"uri": str(root / "data")}, "segments": SEGMENTS}
        path.write_text(yaml.safe_dump({**data, **overrides}))
        return str(path)

    current = config("current")
    cfg = load_config(current)
    prepare_profile(Day(cfg, FIRST_DAY, storage, storage))
    judge = Judge(cfg, get_profile(cfg, storage, storage))
    u2, u3, u4 = (ks_bound(judge, k) for k in (2, 3, 4))
    targets = [0.0] + [lo + (hi - lo) * f for lo, hi in ((u2, u3), (u3, u4)) for f in (0.35, 0.65)]
    rng = np.random.default_rng(7)
    days = [FIRST_DAY + timedelta(days=i) for i in range(len(targets))]
    previous = None
    for day, d in zip(days, targets, strict=True):
        df = rows(rng, N, day, shift=shift_for_ks(d) if d else 0.0)
        storage.write_bytes(f"days/{day.isoformat()}.parquet", parquet_bytes(df.drop(columns=["label"])))
        if previous is not None:  # each day's labels arrive the next day
            storage.write_bytes(
                f"labels/{day.isoformat()}.parquet", parquet_bytes(previous[["pid", "label"]])
            )
        previous = df
    outbox = root / "outbox.jsonl"

    def send(role: str, key: str, payload: dict) -> str:
        return f"outbox:{write_outbox(key, role, payload, outbox)}"

    for day in days:
        run_day(cfg, day, storage)
        send_day(cfg, storage, replay_stored(cfg, storage), day, send)
    return {
        "current": current,
        "same": config("same"),
        "k2": config("k2", drift={"threshold": {"type": "std", "k": 2}}),
        "k4": config("k4", drift={"threshold": {"type": "std", "k": 4}}),
        "methods": config("methods", drift={"numeric_methods": ["ks"]}),
        "persistent": config("persistent", drift={"persistence": {"breaches": 2, "days": 3}}),
        "days": days,
    }


def preview(world, candidate: str, *extra: str):
    args = ["preview", "--config", world["current"], "--candidate", world[candidate]]
    args += ["--start", str(world["days"][0]), "--end", str(world["days"][-1]), *extra]
    return CliRunner().invoke(main, args)


def alert_days(summary: dict) -> set[tuple[str, str]]:
    return {(who, day) for who, days in summary["alert_days"].items() for day in days}


def test_the_current_config_as_candidate_changes_nothing(world):
    out = preview(world, "same", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["changes"] == []
    assert doc["rejudged"]["alert→ok"] == doc["rejudged"]["ok→alert"] == 0
    assert doc["rejudged"]["checks_rejudged"] > 0
    assert doc["candidate"] == doc["current"]
    assert doc["delivery_log"] == {"missing_from_log": [], "not_replayed": []}


def test_raising_k_gives_fewer_alert_days_and_lowering_it_more(world):
    docs = {}
    for name in ("k2", "k4"):
        out = preview(world, name, "--json")
        assert out.exit_code == 0, out.output
        docs[name] = json.loads(out.stdout)
    current = alert_days(docs["k4"]["current"])
    raised, lowered = alert_days(docs["k4"]["candidate"]), alert_days(docs["k2"]["candidate"])
    assert raised < current < lowered  # each direction changes at least one day, and only in its direction
    drift_days = {day for who, day in current if who == "model drift"}
    assert {d.isoformat() for d in world["days"][3:]} <= drift_days  # the days shifted past the k=3 bound
    assert world["days"][0].isoformat() not in drift_days  # the unshifted day: no drift at k=3
    assert docs["k4"]["rejudged"]["alert→ok"] > 0 and docs["k4"]["rejudged"]["ok→alert"] == 0
    assert docs["k2"]["rejudged"]["ok→alert"] > 0 and docs["k2"]["rejudged"]["alert→ok"] == 0
    assert docs["k4"]["candidate"]["messages"] <= docs["k4"]["current"]["messages"]


def test_the_printout_names_the_change_and_the_difference(world):
    out = preview(world, "k4")
    assert out.exit_code == 0, out.output
    assert "candidate changes: drift.threshold.k 3 → 4" in out.output
    assert "alert days model drift: -" in out.output
    assert "delivery log: matches the current policy's replay" in out.output


def test_a_candidate_changing_methods_is_refused(world):
    out = preview(world, "methods")
    assert out.exit_code != 0
    assert "cannot preview: the candidate changes drift.numeric_methods" in out.output
    assert "current policy" not in out.output


def test_a_persistence_rule_holds_back_the_first_day_of_each_breach(world):
    out = preview(world, "persistent", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["changes"] == ["drift.persistence.breaches 1 → 2", "drift.persistence.days 1 → 3"]
    current, held = alert_days(doc["current"]), alert_days(doc["candidate"])
    assert held < current
    first = min(day for who, day in current if who == "model drift")
    assert ("model drift", first) not in held


def test_stored_bounds_the_profile_does_not_reproduce_are_refused(world):
    """A stored verdict the profile cannot reproduce under the current config (here: a bound edited by hand) means
    any re-judging would be wrong: the preview says so instead of answering."""
    storage = Storage.from_uri(load_config(world["current"]).storage.uri)
    key = load_config(world["current"]).results_key(world["days"][1], "result.json")
    original = storage.read_bytes(key)
    doc = json.loads(original)
    check = next(c for c in doc["checks"] if c["id"] == "drift.ks" and c["subject"] == "x1")
    check["upper"] *= 1.01
    storage.write_json(key, doc)
    try:
        out = preview(world, "k4")
    finally:
        storage.write_bytes(key, original)
    assert out.exit_code != 0
    assert "does not reproduce the stored verdicts" in out.output
    assert "drift.ks:x1" in out.output


def test_days_judged_before_an_unrelated_setting_changed_are_still_re_judged(world):
    """Another Airflow setting (or a release adding a setting) changes the config digest stored with each day but
    no bound: the stored verdicts still reproduce, so the preview answers as before."""
    data = yaml.safe_load(Path(world["current"]).read_text())
    moved = Path(world["current"]).with_name("retried.yaml")
    moved.write_text(yaml.safe_dump({**data, "airflow": {"retries": 5}}))
    assert load_config(moved).digest() != load_config(world["current"]).digest()
    args = ["preview", "--config", str(moved), "--candidate", world["k4"], "--json"]
    out = CliRunner().invoke(main, [*args, "--start", str(world["days"][0]), "--end", str(world["days"][-1])])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rejudged"]["alert→ok"] > 0
