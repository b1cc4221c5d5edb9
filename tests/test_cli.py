"""The `watchkeeper` CLI as a user runs it: a real subprocess, JSON on stdout, clear errors and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from helpers import FIRST_DAY, TINY_CONFIG

WATCHKEEPER = str(Path(sys.executable).parent / "watchkeeper")  # the installed console script


def wk(*args: str, cwd=None) -> subprocess.CompletedProcess:
    # A user's shell without MLflow configured (`mlflow.set_tracking_uri` in other tests exports the variable).
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([WATCHKEEPER, *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_help_lists_the_commands():
    out = wk("--help")
    assert out.returncode == 0
    for cmd in ("run-day", "validate-config", "suggest-expectations", "methods", "schema", "demo"):
        assert cmd in out.stdout


def test_run_day_prints_one_json_document(tiny, tmp_path):
    cfg, _, _ = tiny
    out = wk(
        "run-day", "--config", cfg.source, "--day", str(FIRST_DAY), "--outbox", str(tmp_path / "o.jsonl")
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["model"] == "tiny" and doc["day"] == str(FIRST_DAY) and doc["schema_version"] == 2
    check = doc["checks"][0]
    assert set(check) >= {
        "id",
        "name",
        "subject",
        "value",
        "lower",
        "upper",
        "status",
        "severity",
        "owner",
        "reason",
    }
    assert doc["actions"] == [] and doc["mlflow_run_id"] is None


def test_run_day_on_a_missing_day_exits_2_with_a_clear_message(tiny):
    cfg, _, _ = tiny
    out = wk("run-day", "--config", cfg.source, "--day", "2030-01-01")
    assert out.returncode != 0 and out.stdout == ""
    assert "could not process the day: file has not arrived" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_day_and_bad_config_are_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": "/x"}, "task": "ranking"}))
    out = wk("validate-config", str(bad))
    assert (
        out.returncode == 1 and f"{bad}: invalid model configuration" in out.stderr and "task:" in out.stderr
    )
    out = wk("run-day", "--config", str(bad), "--day", "yesterday")
    assert out.returncode == 2 and "'yesterday' is not a day in YYYY-MM-DD form" in out.stderr


def test_suggest_expectations_writes_then_refuses_to_overwrite_hand_edits(tiny, tmp_path):
    cfg, _, _ = tiny
    (tmp_path / "expectations").mkdir()
    out = wk("suggest-expectations", "--config", cfg.source)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "expectations" / "tiny" / "default.json"
    suite = json.loads(path.read_text())
    assert suite["name"] == "tiny.default"
    assert {e["severity"] for e in suite["expectations"]} == {"critical", "warning"}
    path.write_text(path.read_text().replace('"mostly": 0.99', '"mostly": 0.95', 1))
    out = wk("suggest-expectations", "--config", cfg.source)
    assert out.returncode == 1 and "differs from the suggestion" in out.stderr and "-      " in out.stdout
    assert '"mostly": 0.95' in path.read_text()  # the hand edit survived


def test_methods_and_schema():
    assert "drift  ks" in wk("methods").stdout
    schema = json.loads(wk("schema").stdout)
    assert "checks" in schema["properties"]


def test_unreachable_storage_is_a_message_not_a_traceback(tmp_path):
    # A closed loopback port: the S3 endpoint refuses at once, as a store that is down would.
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": "s3://wk-down/data"}}))
    env_cmd = [
        "env",
        "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID=x",
        "AWS_SECRET_ACCESS_KEY=x",
    ]
    for args in (
        ["run-day", "--config", str(path), "--day", str(FIRST_DAY)],
        ["suggest-expectations", "--config", str(path)],
    ):
        out = subprocess.run([*env_cmd, WATCHKEEPER, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and out.stdout == ""
        assert "could not reach storage s3://wk-down/data" in out.stderr
        assert "Traceback" not in out.stderr


QUICK_EXIT_SCRIPT = """
import atexit, sys, threading, time
from watchkeeper import cli

class TornDown:
    def __del__(self):
        print("torn down")

kept = TornDown()
atexit.register(lambda: print("exit handler ran"))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread finished"))).start()
sys.argv = ["watchkeeper", *sys.argv[1:]]
cli.{entry}()
"""


def test_the_console_script_skips_only_the_interpreter_teardown():
    """A user sees what Python's own exit gives (output, exit handlers, threads finished, exit code), without the
    ~1 s of CPU that tearing down GX, MLflow and a day's arrays object by object costs."""

    def run(*args: str, entry: str = "run") -> subprocess.CompletedProcess:
        script = QUICK_EXIT_SCRIPT.format(entry=entry)
        return subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60
        )

    out = run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == ["thread finished", "exit handler ran"]
    assert "version" in out.stdout.splitlines()[0]
    # The same script through click's own entry does tear down: what `run` leaves out is real.
    assert "torn down" in run("--version", entry="main").stdout

    missing = run("run-day", "--config", "no-such.yaml", "--day", "2030-01-01")
    assert missing.returncode == 2 and "no-such.yaml" in missing.stderr
    assert missing.stdout.splitlines() == ["thread finished", "exit handler ran"]


def test_quick_exit_reads_the_code_as_sys_exit_does():
    def code_of(arg: str) -> subprocess.CompletedProcess:
        script = f"from watchkeeper.cli import quick_exit; quick_exit({arg})"
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    assert code_of("None").returncode == 0
    assert code_of("3").returncode == 3
    message = code_of("'the day could not be read'")
    assert message.returncode == 1 and message.stderr.strip() == "the day could not be read"
