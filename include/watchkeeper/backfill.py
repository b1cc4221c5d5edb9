"""Backfills: a stretch of days run in order, in this process (`run_local`) or as an Airflow backfill (`airflow`).

`run_local` calls `pipeline.run_day` for each day, so imports and the reference profile are paid once; each day's
results are keyed by (model, day), so a second backfill of the same stretch replaces them rather than adding to
them. `on_day` receives every finished day (for a progress bar). `airflow` creates the backfill with Airflow's own
command (`airflow backfill create --reprocess-behavior completed`) and polls the DAG's runs until they are done.
`run_one_airflow_run` triggers the model's backfill DAG (`watchkeeper_backfill_<model>`: the stretch in one task,
as `run_local` does it) and waits for that one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from watchkeeper.config import ModelConfig
from watchkeeper.storage import Storage


def days(start: date, end: date) -> Iterator[date]:
    for i in range((end - start).days + 1):
        yield start + timedelta(days=i)


@dataclass
class DayOutcome:
    """One backfilled day: its status ('ok', 'alert', or 'failed' when it could not be processed)."""

    day: date
    status: str
    message: str = ""


READ_BACK = ("result.json", "stages/drift.json", "labels/step.json")
"""A day's small results that later days read back (the report's history, drift detection's earlier days, the
labels step's catch-up check): a stretch keeps those it wrote in memory (`Storage.remembering`)."""


def run_local(
    cfg: ModelConfig,
    start: date,
    end: date,
    storage: Storage,
    results: Storage,
    tracking_uri: str | None = None,
    on_day: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """Run every day from `start` to `end` in order; a day that cannot be processed is recorded, not fatal.

    The days' `READ_BACK` objects are read back from memory within the stretch: a day rewritten meanwhile by
    another run (the daily DAG re-running an earlier day) is seen by the next stretch, not by this one."""
    from watchkeeper.loading import InputError
    from watchkeeper.pipeline import run_day

    prefix = cfg.results_key("").rsplit("/", 1)[0] + "/"  # <results>/<model>/days/
    outcomes = []
    with results.remembering(
        lambda key: key.startswith(prefix) and key[len(prefix) :].partition("/")[2] in READ_BACK
    ):
        for day in days(start, end):
            try:
                outcome = DayOutcome(day, run_day(cfg, day, storage, results, tracking_uri).status)
            except InputError as exc:
                outcome = DayOutcome(day, "failed", str(exc))
            outcomes.append(outcome)
            if on_day:
                on_day(outcome)
    return outcomes


def _quiet(env: dict[str, str] | None = None) -> dict[str, str]:
    """Airflow's CLI without its info lines, so the progress bar is what the person sees."""
    return {**(os.environ if env is None else env), "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}


def _airflow() -> str:
    """The project's Airflow CLI, even when its virtualenv is not on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else "airflow"


def airflow_command(cfg: ModelConfig, start: date, end: date, reprocess: str = "completed") -> list[str]:
    """`airflow backfill create` for the model's DAG; with `completed`, finished runs are reprocessed (results
    replace, keyed by day). Its concurrency comes from the YAML (`airflow.max_active_runs`): Airflow takes a
    backfill's concurrency from the backfill itself, not from the DAG's `max_active_runs`."""
    return [
        _airflow(), "backfill", "create", "--dag-id", f"watchkeeper_{cfg.name}",
        "--from-date", start.isoformat(), "--to-date", end.isoformat(),
        "--max-active-runs", str(cfg.airflow.max_active_runs), "--reprocess-behavior", reprocess,
    ]  # fmt: skip


def _json_lines(stdout: str) -> list[dict]:
    """The JSON document of an Airflow CLI `-o json` command, which may print log lines before it."""
    document = next((line for line in reversed(stdout.splitlines()) if line.startswith("[")), "[]")
    return json.loads(document)


def _dag_runs(dag_id: str, env: dict[str, str] | None = None, check: bool = False) -> list[dict]:
    """`airflow dags list-runs` of the DAG, one dict per run (`run_id`, `state`, `logical_date`, ...)."""
    out = subprocess.run([_airflow(), "dags", "list-runs", dag_id, "-o", "json"],
                         capture_output=True, text=True, check=check, env=_quiet(env))  # fmt: skip
    return _json_lines(out.stdout)


def airflow_runs(cfg: ModelConfig, start: date, end: date) -> dict[str, str]:
    """State of the DAG's runs whose logical date falls in the stretch, by day."""
    runs = {}
    for run in _dag_runs(f"watchkeeper_{cfg.name}", check=True):
        day = (run.get("logical_date") or "")[:10]
        if day and start.isoformat() <= day <= end.isoformat():
            runs[day] = run.get("state", "")
    return runs


def create_backfill(
    cfg: ModelConfig,
    start: date,
    end: date,
    poll_seconds: float = 10,
    wait: float = 900,
    reprocess: str = "completed",
    env: dict[str, str] | None = None,
) -> None:
    """`airflow backfill create`, waiting while another backfill of the DAG is still running (Airflow allows one a
    DAG, and marks a backfill complete a little after its last run ends); any other refusal is raised as it is."""
    deadline = time.monotonic() + wait
    while True:
        out = subprocess.run(
            airflow_command(cfg, start, end, reprocess), capture_output=True, text=True, env=_quiet(env)
        )
        if out.returncode == 0:
            return
        if "AlreadyRunningBackfill" not in out.stderr or time.monotonic() > deadline:
            raise RuntimeError(f"airflow backfill create failed ({out.returncode}):\n{out.stderr[-2000:]}")
        print(f"another backfill of watchkeeper_{cfg.name} is still running; waiting for it", file=sys.stderr)
        time.sleep(poll_seconds)


def run_airflow(
    cfg: ModelConfig,
    start: date,
    end: date,
    on_poll: Callable[[dict[str, str]], None],
    poll_seconds: float = 10,
) -> dict[str, str]:
    """Create the backfill in Airflow and poll its runs until every day is finished (success or failed)."""
    create_backfill(cfg, start, end, poll_seconds)
    wanted = {d.isoformat() for d in days(start, end)}
    while True:
        runs = airflow_runs(cfg, start, end)
        on_poll(runs)
        if wanted <= {d for d, state in runs.items() if state in ("success", "failed")}:
            return runs
        time.sleep(poll_seconds)


def poll_wait(poll_seconds: float, elapsed: float, longest: float = 60.0) -> float:
    """Seconds to wait before asking Airflow again: each `airflow` CLI call spends seconds of CPU importing
    Airflow, so a long run is asked less often (a twentieth of the time it has taken, at most once a minute),
    and watching a year-long backfill does not compete with it for the cores."""
    return min(longest, max(poll_seconds, elapsed / 20))


def dag_run(dag_id: str, run_id: str, env: dict[str, str] | None = None) -> dict:
    """Airflow's record of one DAG run (state, start_date, end_date, ...); empty if not listed."""
    return next((r for r in _dag_runs(dag_id, env) if r.get("run_id") == run_id), {})


def run_one_airflow_run(
    cfg: ModelConfig,
    start: date,
    end: date,
    poll_seconds: float = 10,
    env: dict[str, str] | None = None,
    timeout: float = 24 * 3600,
) -> tuple[str, str]:
    """Trigger `watchkeeper_backfill_<model>` for the stretch and wait for that run; (run id, final state).

    The DAG is unpaused first: a run of a paused DAG would sit queued, silently."""
    dag_id = f"watchkeeper_backfill_{cfg.name}"
    airflow = _airflow()
    subprocess.run([airflow, "dags", "unpause", dag_id], capture_output=True, env=_quiet(env))
    conf = json.dumps({"start": start.isoformat(), "end": end.isoformat()})
    out = subprocess.run([airflow, "dags", "trigger", dag_id, "--conf", conf, "-o", "json"],
                         capture_output=True, text=True, env=_quiet(env))  # fmt: skip
    triggered = _json_lines(out.stdout) if out.returncode == 0 else []
    if not triggered:
        raise RuntimeError(f"airflow dags trigger {dag_id} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    run_id = triggered[0]["dag_run_id"]
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        state = dag_run(dag_id, run_id, env).get("state")
        if state in ("success", "failed"):
            return run_id, state
        time.sleep(poll_wait(poll_seconds, time.monotonic() - started))
    raise RuntimeError(f"{dag_id} run {run_id} not finished within {timeout:.0f} s")
