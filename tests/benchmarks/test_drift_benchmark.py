"""Smoke test of the drift benchmark at tiny size: it runs end to end and Watchkeeper's statistics equal the floor's.

Peers run only when their virtualenvs exist (`benchmarks/setup_peers.sh`). Never asserts timings.
"""

import json


def test_drift_benchmark_runs_and_watchkeeper_equals_the_floor(tmp_path, benchmark_script):
    bench = benchmark_script("drift")
    tools = ["watchkeeper", "floor"] + [t for t, python in bench.PEER_VENVS.items() if python.exists()]
    work, out = str(tmp_path / "work"), str(tmp_path)
    argv = ["--rows", "1500", "--reference-rows", "3000", "--workdir", work, "--out", out]
    report = bench.main([*argv, "--tools", *tools])
    (size,) = report["sizes"]
    assert size["agreement"]["statistics"] == 20 * 3 + 10 * 2
    assert size["agreement"]["max_relative_difference"] <= 1e-9
    assert set(size["runs"]) == {"load_day", "watchkeeper_univariate", "watchkeeper_one_thread", *tools}
    assert all("seconds" in run and run["peak_rss_mb"] > 0 for run in size["runs"].values())
    assert json.loads((tmp_path / "drift.json").read_text())["sizes"][0]["rows"] == 1500
    assert "| 1,500 | Watchkeeper `measure_drift`" in (tmp_path / "drift.md").read_text()
