"""Smoke test of the whole-day benchmark at tiny size: run-day end to end with a label window, the cold profile
build and every stage timed, the results tabled and mergeable. Never asserts timings."""

import json
import sqlite3

import pytest

pytestmark = pytest.mark.slow


def test_day_benchmark_runs_a_day_with_a_label_window(tmp_path, benchmark_script):
    bench = benchmark_script("day")
    argv = ["--rows", "2000", "--reference-rows", "4000", "--windows", "2", "--no-peers", "--repeat", "2"]
    report = bench.main([*argv, "--work", str(tmp_path / "work"), "--out", str(tmp_path / "day")])
    assert [(r["rows"], r["ids"], r["window"]) for r in report["runs"]] == [(2000, "str", 2)]
    wk = report["runs"][0]["watchkeeper"]
    assert {"startup", "load", "quality", "labels", "drift", "performance", "finish"} <= set(wk["stages"])
    assert wk["cpu"] > 0 and wk["peak_rss_mb"] > 0 and wk["cold_profile"]["cpu"] > 0
    assert len(wk["cpu_runs"]) == 2 and wk["cpu"] == min(wk["cpu_runs"]) and report["runs"][0]["repeat"] == 2
    assert "peers" not in report["runs"][0]
    # Every timed run started from the store the day before left: the measured day's first run, each time.
    day = report["runs"][0]["day"]
    kept = tmp_path / "work" / "2000-str-2" / "pre-day"
    assert (kept / "mlflow.db").exists() and list(kept.glob(f"results/watchkeeper/*/days/{day}")) == []
    assert list(kept.glob("results/watchkeeper/*/days/*/result.json"))  # the day before's
    with sqlite3.connect(kept / "mlflow.db") as db:
        days = {v for (v,) in db.execute("select value from tags where key = 'watchkeeper.day'")}
    assert days and day not in days  # no MLflow run of the measured day yet
    stored = json.loads((tmp_path / "day.json").read_text())
    assert stored["runs"] == report["runs"]
    table = (tmp_path / "day.md").read_text()
    assert "| 2,000 | str | 2 |" in table and "cold profile build CPU s" in table
    assert "- 2,000 rows, str ids, window 2: CPU s of each run" in table
    # --merge keeps a stored run unless this invocation measures the same (rows, ids, window, label spread)
    assert bench.kept_runs(tmp_path / "day.json", {(2000, "str", 2, 2)}) == []
    assert bench.kept_runs(tmp_path / "day.json", {(2000, "int", 2, 2)}) == stored["runs"]
    assert bench.kept_runs(tmp_path / "day.json", {(2000, "str", 2, 1)}) == stored["runs"]
    older = {**stored["runs"][0], "window": 90}
    del older["spread"]  # a run stored before the spread was recorded had labels over the whole window
    assert bench.kept_runs_of([older], {(2000, "str", 90, 90)}) == []
    assert (
        bench.markdown({**stored, "runs": [{**older, "spread": 30}]}).count(
            "| 2,000 | str | 90 (labels over 30) |"
        )
        == 2
    )


def test_import_seconds_add_up_top_level_imports_only(benchmark_script):
    bench = benchmark_script("day")
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       310 |        310 |   pandas.util._tester\n"
        "import time:      7674 |    2276963 | pandas\n"
        "import time:       100 |       1000 | json\n"
        "a warning line | with | bars\n"
    )
    assert bench.import_seconds(stderr) == 2.277963


def test_repeated_runs_report_the_median_run(benchmark_script):
    bench = benchmark_script("day")
    runs = [{"cpu": 3.0, "stages": "c"}, {"cpu": 1.0, "stages": "a"}, {"cpu": 2.0, "stages": "b"}]
    assert bench.median_run(runs) == {"cpu": 2.0, "stages": "b", "cpu_runs": [3.0, 1.0, 2.0]}
    assert bench.median_run(runs[:1]) == runs[0]
    timed = [{**r, "imports_s": 0.5} for r in runs]
    assert bench.median_run(timed)["excluding_imports_runs"] == [2.5, 0.5, 1.5]


def test_each_peer_tool_reports_its_median_run_and_every_runs_cpu(benchmark_script):
    bench = benchmark_script("day")
    rounds = [
        {
            "gx": {"cpu": 9.0, "imports_s": 1.0},
            "nannyml": {"cpu": 4.0},
            "evidently": {"skipped": "no interpreter"},
        },
        {
            "gx": {"cpu": 7.0, "imports_s": 1.0},
            "nannyml": {"cpu": 6.0},
            "evidently": {"skipped": "no interpreter"},
        },
        {
            "gx": {"cpu": 8.0, "imports_s": 2.0},
            "nannyml": {"cpu": 5.0},
            "evidently": {"skipped": "no interpreter"},
        },
    ]
    assert bench.median_peers(rounds) == {
        "gx": {
            "cpu": 8.0,
            "imports_s": 2.0,
            "cpu_runs": [9.0, 7.0, 8.0],
            "excluding_imports_runs": [8.0, 6.0, 6.0],
        },
        "nannyml": {"cpu": 5.0, "cpu_runs": [4.0, 6.0, 5.0]},
        "evidently": {"skipped": "no interpreter"},
    }
    wk = {
        "cpu": 1.0,
        "cpu_runs": [1.0, 2.0],
        "wall": 1.0,
        "peak_rss_mb": 1.0,
        "stages": {"startup": {"cpu": 0.5}},
    }
    run = {"rows": 10, "ids": "int", "window": 0, "watchkeeper": wk}
    run["peers"] = bench.median_peers(rounds)
    table = bench.markdown({"machine": {"python": "3.11", "cpus": 2, "date": "2026-12-03"}, "runs": [run]})
    each = "CPU s of each run 1.0, 2.0; the peers' (gx 9.0, 7.0, 8.0 (8.0, 6.0, 6.0); nannyml 4.0, 6.0, 5.0)"
    assert f"- 10 rows, int ids, window none: {each}" in table
