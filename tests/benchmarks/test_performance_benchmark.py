"""The performance benchmark runs at a tiny size and its estimates agree with NannyML's (when its venv exists).

Never asserts timings: the machine is shared and the sizes are toy sizes.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NANNYML = ROOT / ".bench" / "venvs" / "nannyml" / "bin" / "python"


def test_benchmark_runs_and_estimates_agree(tmp_path):
    argv = [sys.executable, str(ROOT / "benchmarks" / "performance.py"), "--rows", "2000",
            "--reference-rows", "6000", "--data", str(tmp_path / "data"), "--results", str(tmp_path)]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    runs = json.loads((tmp_path / "performance.json").read_text())["runs"]
    ours = {r["estimator"]: r for r in runs if r["tool"] == "watchkeeper"}
    assert set(ours) == {"CBPE", "DLE"}
    assert set(ours["CBPE"]["estimates"]) == {"roc_auc", "f1", "precision", "recall", "accuracy"}
    assert 0.5 < ours["CBPE"]["estimates"]["roc_auc"] < 1 and ours["DLE"]["estimates"]["mae"] > 0
    assert "| CBPE | 2,000 | watchkeeper |" in (tmp_path / "performance.md").read_text()
    peers = [r for r in runs if r["tool"] == "nannyml"]
    if NANNYML.exists():
        assert len(peers) == 2 and not any("DISAGREE" in r["difference"] for r in peers)
    else:
        assert peers == []
