"""Smoke test of the store-requests benchmark at two days: both servers started and stopped, every request counted
by kind, the table written. Never asserts timings."""

import os

import pytest

pytestmark = pytest.mark.slow


def test_store_requests_counts_each_servers_requests(tmp_path, benchmark_script):
    bench = benchmark_script("store_requests")
    (run,) = bench.main(["--days", "2", "--rows", "300", "--out", str(tmp_path / "requests")])
    s3, mlflow = run["requests"]["s3"], run["requests"]["mlflow"]
    assert s3["total"] > 0 and mlflow["total"] > 0 and s3["per_day"] == s3["total"] / 2
    assert sum(s3["by_method"].values()) == s3["total"]
    assert not set(s3["by_method"]) - {"GET", "HEAD", "PUT", "POST", "DELETE"}
    # Results and stages are written as single PUTs (no multipart upload: no POST) and read with single GETs.
    assert "POST" not in s3["by_method"]
    table = (tmp_path / "requests.md").read_text()
    assert "| working tree | s3 |" in table and "| working tree | mlflow |" in table
    assert run["server_cpu_s"]["s3"] > 0 and run["client_cpu_s"] > 0
    assert len(run["server_pids"]) == 2  # stopped by PID
    assert not any(os.path.exists(f"/proc/{pid}") for pid in run["server_pids"].values())
