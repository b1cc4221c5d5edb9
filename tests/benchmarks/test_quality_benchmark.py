"""Smoke test of the data-quality benchmark: a tiny day, every method, the table produced and results agreeing."""

from __future__ import annotations


def test_benchmark_table_and_agreement(benchmark_script):
    bench = benchmark_script("quality")
    results = bench.measure([3000], list(bench.METHODS), in_process=True)
    assert [r["method"] for r in results] == list(bench.METHODS)
    assert bench.agreement(results, 3000) == "identical"
    gx, fast, floor = (r["outcome"] for r in results)
    assert [ok for ok, _ in floor] == [ok for ok, _ in gx]  # the hand-written floor judges the same
    assert results[1]["gx_pandas_fallback"] == 0 and results[1]["expectations"] > 100
    assert 0 < results[1]["failed"] < results[1]["expectations"]  # the injected incident, and only it
    text = bench.table(results)
    assert text.count("| 3,000 |") == 3 and "identical" in text
