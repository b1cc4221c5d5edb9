"""Smoke test of the year-backfill benchmark at a few days: the demo world written, one backfill process timed,
every day stored and tabled; then the history benchmark over those days on moto S3, before and with the signals
ledger, leaving the same incidents. Never asserts timings."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_backfill_benchmark_backfills_every_day_of_the_world(tmp_path, benchmark_script):
    bench = benchmark_script("backfill")
    argv = ["--days", "4", "--rows-per-day", "400", "--work", str(tmp_path / "work")]
    report = bench.main([*argv, "--out", str(tmp_path / "backfill")])
    assert report["days"] == 4 and report["result_files"] == 4
    assert report["summary"].startswith("credit_default: 4 days,")
    assert report["summary"].endswith("0 could not be processed")
    assert report["backfill"]["cpu"] > 0 and report["backfill"]["peak_rss_mb"] > 0
    assert json.loads((tmp_path / "backfill.json").read_text())["days"] == 4
    assert "| 4 | 400 | 30 |" in (tmp_path / "backfill.md").read_text()

    history = benchmark_script("backfill_history").main(
        ["--days", "4", "--backfill", str(tmp_path / "work" / "4-400")]
    )
    assert history["days"] == 4 and history["same_incidents"]
    assert history["before_commit"] == "9650af4" and history["ledger"]["moto_cpu"] > 0
