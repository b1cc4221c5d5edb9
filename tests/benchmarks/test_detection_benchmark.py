"""Smoke test of the detection benchmark at tiny size, without peers: scenarios are generated, run day by day and
scored into one table. Asserts the table's shape and that two clear-cut incidents are caught, never timings."""

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.mark.slow
def test_detection_benchmark_scores_scenarios_into_one_table(tmp_path, benchmark_script):
    bench = benchmark_script("detection")
    out = tmp_path / "detection.md"
    argv = [
        "--days",
        "6",
        "--rows",
        "500",
        "--only",
        "covariate_sudden",
        "new_category",
        "--out",
        str(out),
        "--no-peers",
    ]
    assert bench.main(argv) == 0
    text = out.read_text()
    assert "| covariate_sudden | sudden covariate drift | yes | 0 | yes | model |" in text
    assert "| new_category | new category in 0.5% of rows | yes | 0 | yes | data |" in text
    assert "2/2 incidents caught" in text and "healthy model-days" in text
