"""Both demo models through the real pipeline on shortened worlds, every day's messages delivered through the log.

Each scripted incident reaches its owner in an incident that opened with one message; healthy days send nothing;
incidents are not re-announced while they last (no storm); re-running days sends nothing twice and leaves the
incidents as they were; `preview`'s replay of the policy matches the delivery log.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from helpers import demo_world
from watchkeeper.alerts import read_outbox, write_outbox
from watchkeeper.delivery import read_log, send_day
from watchkeeper.history import model_key, replay_stored
from watchkeeper.pipeline import run_day
from watchkeeper.preview import compare_with_log, summarize

pytestmark = pytest.mark.slow
DAYS = 24
RULES = {"data_quality": "data_quality", "covariate_drift": "drift", "concept_drift": "realized_performance",
         "label_conflicts": "label_records"}  # fmt: skip
"""The policy rule whose incident should carry each kind of scripted incident."""


@pytest.fixture(scope="module", params=[("credit_default", 1000), ("delivery_time", 800)], ids=lambda p: p[0])
def run(request, tmp_path_factory):
    model, rows = request.param
    root = tmp_path_factory.mktemp(model)
    cfg, storage, manifest, first = demo_world(model, root, DAYS, rows)
    outbox = root / "outbox.jsonl"

    def send(role: str, key: str, payload: dict) -> str:
        return f"outbox:{write_outbox(key, role, payload, outbox)}"

    days = [first + timedelta(days=i) for i in range(DAYS)]
    for day in days:
        run_day(cfg, day, storage)
        send_day(cfg, storage, replay_stored(cfg, storage), day, send)
    return cfg, storage, manifest, days, outbox, send


def test_each_scripted_incident_reaches_its_owner_in_an_announced_incident(run):
    cfg, storage, manifest, *_ = run
    done = replay_stored(cfg, storage)
    sent = {e["key"] for e in read_log(cfg, storage) if e["status"] == "sent"}
    for scripted in manifest["incidents"]:
        if scripted["type"] not in RULES:
            continue
        start, end = date.fromisoformat(scripted["start"]), date.fromisoformat(scripted["end"])
        carriers = [
            i for i in done.incidents.values()
            if i.rule == RULES[scripted["type"]] and scripted["owner"] in i.owners
            and i.opened <= end + timedelta(days=6) and i.last_seen >= start
        ]  # fmt: skip
        assert carriers, (scripted, sorted(done.incidents))
        assert all(f"{i.id}/opened/{scripted['owner']}" in sent for i in carriers), (scripted, sent)
    dq = next(s for s in manifest["incidents"] if s["type"] == "data_quality")
    assert f"data_quality._.{dq['start']}/opened/data" in sent
    assert f"data_quality._.{dq['start']}/recovered/data" in sent


def test_healthy_days_send_nothing_and_incidents_are_not_re_announced(run):
    cfg, storage, manifest, days, *_ = run
    log = read_log(cfg, storage)
    first_incident = min(s["start"] for s in manifest["incidents"])
    assert [e for e in log if e["day"] < first_incident] == []
    done = replay_stored(cfg, storage)
    per_incident = Counter(e["key"].split("/")[0] for e in log)
    for inc in done.incidents.values():
        if not inc.owners:
            continue
        expected = len(inc.owners) * (1 + inc.reminders + inc.recoveries)
        assert per_incident[inc.id] == expected, (inc.id, per_incident[inc.id], inc.length)
        assert inc.reminders == max(0, (inc.length - 1) // cfg.policy.remind_after_days)
    per_owner_day = Counter((e["owner"], e["day"]) for e in {e["message"]: e for e in log}.values())
    assert max(per_owner_day.values()) <= cfg.policy.max_messages_per_owner_per_day
    longest = max(done.incidents.values(), key=lambda i: i.length if i.owners else 0)
    assert longest.length >= 7 and per_incident[longest.id] <= 3


def test_rerunning_days_sends_nothing_twice_and_rebuilds_the_same_incidents(run):
    cfg, storage, manifest, days, outbox, send = run
    incidents = {k: storage.read_json(k) for k in storage.list(model_key(cfg, "incidents"))}
    before = read_outbox(outbox)
    log = sorted(map(str, read_log(cfg, storage)))
    dq = date.fromisoformat(next(s for s in manifest["incidents"] if s["type"] == "data_quality")["start"])
    for day in (dq, days[-1], days[len(days) // 2]):
        run_day(cfg, day, storage)
        assert set(send_day(cfg, storage, replay_stored(cfg, storage), day, send)) <= {"already sent"}
    assert read_outbox(outbox) == before
    assert sorted(map(str, read_log(cfg, storage))) == log
    assert {k: storage.read_json(k) for k in storage.list(model_key(cfg, "incidents"))} == incidents


def test_preview_of_the_current_policy_matches_the_delivery_log(run):
    cfg, storage, manifest, days, *_ = run
    summary = summarize(replay_stored(cfg, storage), days[0], days[-1])
    assert compare_with_log(summary, read_log(cfg, storage), days[0], days[-1]) == {
        "missing_from_log": [], "not_replayed": []}  # fmt: skip
    assert summary["messages"] == len({e["message"] for e in read_log(cfg, storage)})


def test_preview_shows_fewer_alerts_when_tightened_and_more_when_loosened(run, tmp_path):
    """`watchkeeper preview` with candidate policies: persistence 2 of 3 and 3 of 3 (tightened) hold back one-day
    breaches, so fewer incidents and messages, each still carried by an incident of the current policy; notifying
    quality warnings (the data owner's severity threshold loosened) adds the warning days, and nothing else."""
    from click.testing import CliRunner
    from watchkeeper.cli import main

    cfg, storage, manifest, days, *_ = run
    config = Path(cfg.storage.uri).parent / "model.yaml"

    def preview(policy: dict) -> dict:
        path = tmp_path / "candidate.yaml"
        path.write_text(yaml.safe_dump({"policy": cfg.policy.model_dump(mode="json") | policy}))
        args = ["preview", "--config", str(config), "--policy", str(path), "--json"]
        out = CliRunner().invoke(main, [*args, "--start", str(days[0]), "--end", str(days[-1])])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    loose = preview({"notify_warnings": True})
    current = loose["current"]
    assert loose["delivery_log"] == {"missing_from_log": [], "not_replayed": []}
    opened = {(i["rule"], i["subject"]): i["opened"] for i in reversed(current["incidents"])}
    previous = current
    for breaches in (2, 3):
        tight = preview({"persistence": {"breaches": breaches, "days": 3}})["candidate"]
        assert tight["messages"] <= previous["messages"] and len(tight["incidents"]) <= len(
            previous["incidents"]
        )
        for inc in tight[
            "incidents"
        ]:  # opened later than (or with) the current policy's incident, never alone
            assert opened[(inc["rule"], inc["subject"])] <= inc["opened"]
        previous = tight
    assert previous["messages"] < current["messages"], "the demo's one-day breaches should be held back"
    more = loose["candidate"]
    added = set(more["per_owner_rule"]) - set(current["per_owner_rule"])
    assert added <= {"data quality_warnings"} and more["messages"] >= current["messages"]
    for who, when in current["per_owner_rule"].items():
        assert set(when) <= set(more["per_owner_rule"][who])


def test_preview_of_other_drift_thresholds_moves_alert_days_the_expected_way(run, tmp_path):
    """`watchkeeper preview --candidate` with the drift threshold's k lowered by one and raised by one and two: a
    lower k only adds drift alert days (checks only go ok → alert), a higher one only removes them, and some day
    moves; the current config as the candidate changes nothing, and the current policy's replay still matches the
    delivery log. (A strong incident stays above the bound at k+1: which day moves first depends on the world.)"""
    from click.testing import CliRunner
    from watchkeeper.cli import main

    cfg, storage, manifest, days, *_ = run
    config = Path(cfg.storage.uri).parent / "model.yaml"
    data = yaml.safe_load(config.read_text())
    k = cfg.drift.threshold.k

    def preview(threshold: dict | None) -> dict:
        path = tmp_path / "candidate.yaml"
        drift = data.get("drift", {}) | ({"threshold": threshold} if threshold else {})
        path.write_text(yaml.safe_dump(data | {"drift": drift}))
        args = ["preview", "--config", str(config), "--candidate", str(path), "--json"]
        out = CliRunner().invoke(main, [*args, "--start", str(days[0]), "--end", str(days[-1])])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    def drift_days(summary: dict) -> set[str]:
        return {d for who, when in summary["alert_days"].items() if who.endswith(" drift") for d in when}

    same = preview(None)
    assert same["candidate"] == same["current"]
    assert same["delivery_log"] == {"missing_from_log": [], "not_replayed": []}
    spec = cfg.drift.threshold.model_dump(mode="json")
    ladder = {step: preview(spec | {"k": k + step}) for step in (-1, 1, 2)}
    assert ladder[1]["changes"] == [f"drift.threshold.k {k:g} → {k + 1:g}"]
    assert ladder[-1]["rejudged"]["alert→ok"] == 0 and ladder[-1]["rejudged"]["ok→alert"] > 0
    assert ladder[1]["rejudged"]["ok→alert"] == 0 and ladder[1]["rejudged"]["alert→ok"] > 0
    chain = [drift_days(ladder[-1]["candidate"]), drift_days(same["current"])]
    chain += [drift_days(ladder[1]["candidate"]), drift_days(ladder[2]["candidate"])]
    assert all(a >= b for a, b in zip(chain, chain[1:], strict=False)) and chain[0] > chain[-1]
    print(f"{cfg.name}: drift alert days at k={k - 1:g}/{k:g}/{k + 1:g}/{k + 2:g}: {[len(c) for c in chain]}; "
          f"messages {[ladder[-1]['candidate']['messages'], same['current']['messages'], ladder[1]['candidate']['messages'], ladder[2]['candidate']['messages']]}")  # fmt: skip
