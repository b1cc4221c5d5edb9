"""Smoke test of the whole-day benchmark at tiny size: run-day end to end with and without a label window, stage
timings recorded and tabled. Never asserts timings."""

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.mark.slow
def test_day_benchmark_runs_with_and_without_a_label_window(tmp_path, benchmark_script):
    bench = benchmark_script("day")
    argv = ["--rows", "3000", "--reference-rows", "6000", "--windows", "0", "2", "--no-peers"]
    report = bench.main([*argv, "--work", str(tmp_path / "work"), "--out", str(tmp_path / "day")])
    assert [(r["rows"], r["window"]) for r in report["runs"]] == [(3000, 0), (3000, 2)]
    for run in report["runs"]:
        stages = run["watchkeeper"]["stages"]
        assert {"startup", "load", "quality", "drift", "performance", "finish"} <= set(stages)
        assert run["watchkeeper"]["cpu"] > 0 and run["watchkeeper"]["peak_rss_mb"] > 0
    assert "labels" in report["runs"][1]["watchkeeper"]["stages"]
    assert json.loads((tmp_path / "day.json").read_text())["runs"][0]["rows"] == 3000
    assert "| 3,000 | str | 2 |" in (tmp_path / "day.md").read_text()
