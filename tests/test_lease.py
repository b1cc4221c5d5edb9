"""One consistent day under faults: a run killed with SIGKILL mid-run, and two runs of the same day at once.

The slow tests run the `watchkeeper` CLI as subprocesses against the local S3 server.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from faults_helpers import s3_env, wk, wk_start
from helpers import FIRST_DAY, parquet_bytes, tiny_config, write_tiny_world
from watchkeeper.lease import AlreadyRunning, acquire, release
from watchkeeper.outbox import read_outbox
from watchkeeper.pipeline import Day, load_checks


def _day(tiny) -> Day:
    cfg, storage, _ = tiny
    return Day(cfg, FIRST_DAY, storage, storage)


def test_a_held_lease_refuses_a_second_run_and_is_released(tiny):
    d = _day(tiny)
    lease = acquire(d, settle=0)
    with pytest.raises(AlreadyRunning, match=r"tiny 2025-03-01: already running \(pid \d+ on .*lease until"):
        acquire(d, settle=0)
    release(d, lease)
    release(d, acquire(d, settle=0))


def test_stale_leases_expire(tiny):
    d = _day(tiny)
    acquire(d, ttl_minutes=-1, settle=0)  # already expired
    lease = acquire(d, settle=0)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    doc = json.loads(d.results.read_bytes(lease.key))
    d.results.write_bytes(lease.key, json.dumps({**doc, "pid": int(dead.stdout), "nonce": "x"}).encode())
    release(d, acquire(d, settle=0))  # its holder is gone: taken over at once, not after the expiry


def _break_quality(storage, frames) -> None:
    day = frames[str(FIRST_DAY)].drop(columns=["label"]).copy()
    day.loc[np.random.default_rng(0).random(len(day)) < 0.4, "x1"] = np.nan
    storage.write_bytes(f"days/{FIRST_DAY}.parquet", parquet_bytes(day))


def _consistent(storage, cfg, outbox) -> dict:
    """The stored day agrees with its stage files, and the outbox holds one message per notify action."""
    result = storage.read_json(cfg.results_key(FIRST_DAY, "result.json"))
    d = Day(cfg, FIRST_DAY, storage, storage)
    stage_checks = [
        c.model_dump(mode="json")
        for s in ("load", "quality", "drift", "performance")
        for c in load_checks(d, s)
    ]
    assert result["checks"] == stage_checks and result["rows"] == 600
    keys = [m["key"] for m in read_outbox(outbox)]
    notify = [a for a in result["actions"] if a["kind"] == "notify"]
    # One message per announced incident and owner (keys `<model>/<incident>/<transition>/<owner>`), none twice.
    assert notify and len(keys) == len(set(keys)) == len(notify)
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted(a["owner"] for a in notify)
    assert not storage.exists(cfg.results_key(FIRST_DAY, "lease.json"))
    return result


@pytest.mark.slow
def test_a_run_killed_mid_run_leaves_no_stale_result_and_a_rerun_gives_one_day(
    s3_stack, s3_storage, tmp_path
):
    frames = write_tiny_world(s3_storage, days=2)
    _break_quality(s3_storage, frames)
    cfg = tiny_config(tmp_path, s3_storage.uri)
    env, outbox = s3_env(s3_stack.s3_endpoint), str(tmp_path / "outbox.jsonl")
    args = ("run-day", "--config", cfg.source, "--day", str(FIRST_DAY), "--outbox", outbox)
    first = wk(env, *args)
    assert first.returncode == 0, first.stderr
    before = _consistent(s3_storage, cfg, outbox)

    lease, load, quality = (
        cfg.results_key(FIRST_DAY, k) for k in ("lease.json", "stages/load.json", "stages/quality.json")
    )

    def written(key: str):  # S3's modification time, to the second
        return s3_storage.fs.get_file_info(s3_storage.path(key)).mtime

    first_load, first_quality = written(load), written(quality)
    time.sleep(1.1)  # the re-run's writes fall in a later second than the first run's
    proc = wk_start(env, *args)
    deadline = time.monotonic() + 900
    # Killed once this run holds the lease and has stored its load stage, before its quality stage replaces the
    # first run's (a re-run keeps the earlier stage files until each stage writes its own).
    while not (s3_storage.exists(lease) and written(load) > first_load and written(quality) == first_quality):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Killed after loading: the earlier result is gone (no stale day beside new stages), a lease is left behind.
    assert not s3_storage.exists(cfg.results_key(FIRST_DAY, "result.json"))
    assert json.loads(s3_storage.read_bytes(lease))["pid"] == proc.pid

    again = wk(env, *args)  # the killed holder is gone: its lease does not block the re-run
    assert again.returncode == 0, again.stderr
    after = _consistent(s3_storage, cfg, outbox)
    assert after["checks"] == before["checks"] and after["actions"] == before["actions"]


@pytest.mark.slow
def test_two_runs_of_the_same_day_at_once(s3_stack, s3_storage, tmp_path):
    frames = write_tiny_world(s3_storage, days=2)
    _break_quality(s3_storage, frames)
    cfg = tiny_config(tmp_path, s3_storage.uri)
    env, outbox = s3_env(s3_stack.s3_endpoint), str(tmp_path / "outbox.jsonl")
    args = ("run-day", "--config", cfg.source, "--day", str(FIRST_DAY), "--outbox", outbox)
    procs = [wk_start(env, *args), wk_start(env, *args)]
    outs = [(p.wait(1200), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in outs) == [0, 3], outs
    code, stdout, stderr = next(o for o in outs if o[0] == 3)
    assert stdout == "" and f"tiny {FIRST_DAY}: already running (pid" in stderr and "Traceback" not in stderr
    _consistent(s3_storage, cfg, outbox)
