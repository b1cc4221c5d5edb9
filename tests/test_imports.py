"""DAG parsing stays light: importing the DAG file loads none of the heavy libraries the tasks use."""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from helpers import TINY_CONFIG

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["scipy", "pandas", "great_expectations", "mlflow", "sklearn"]


def test_parsing_the_dag_file_imports_nothing_heavy(tmp_path):
    (tmp_path / "good.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "good", "storage": {"uri": "/x"}})
    )
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('dagfile', {str(ROOT / 'dags' / 'watchkeeper_monitoring.py')!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {"WATCHKEEPER_MODELS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    env["PYTHONPATH"] = f"{ROOT / 'include'}:{ROOT / 'plugins'}"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_cli_help_imports_nothing_heavy():
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from watchkeeper.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(json.dumps([m for m in {HEAVY + ['pyarrow', 'pydantic']!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
