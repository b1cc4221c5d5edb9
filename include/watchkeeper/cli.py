"""The `watchkeeper` command line: run a day, check configs, suggest GX suites, list methods, run the demo world.

`run-day` calls the same pipeline functions as the DAG's tasks and prints the day's result as one JSON document.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:  # the engine's modules are imported by the commands that use them: `--help` stays instant
    from watchkeeper.config import ModelConfig
    from watchkeeper.storage import Storage


def _config(path: str) -> ModelConfig:
    from watchkeeper.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    # date.fromisoformat alone also takes 20250301 and 2025-W10-1; the help promises YYYY-MM-DD.
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day in YYYY-MM-DD form") from None


class DayNotProcessed(click.ClickException):
    """The day could not be processed (input, storage or configuration): exit code 2, as `run-day --help` says."""

    exit_code = 2


class AlreadyRunningError(click.ClickException):
    """Another run holds the model-day's lease: exit code 3."""

    exit_code = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="watchkeeper")
def main() -> None:
    """Watchkeeper: daily data-quality, drift and performance checks for ML models in production."""


def run() -> NoReturn:
    """The console script (`watchkeeper`, `python -m watchkeeper`): the command, then a quick exit.

    A day's process has imported GX, MLflow, pandas and matplotlib and holds the day's arrays; Python's own exit
    tears all of that down object by object, ~1 s of CPU after a 1M-row day (about as much as its drift stage).
    Once the command has returned, its files are closed and its output printed, so the process ends as mypy's
    does: other threads joined, exit handlers run (logging, MLflow), streams flushed, then `os._exit`. An error
    that escapes a command keeps Python's usual exit and its traceback.
    """
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    quick_exit(code)


def quick_exit(code: object) -> NoReturn:
    """End the process with `code` (as `sys.exit` reads it) without tearing the interpreter down."""
    import atexit
    import os
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what Python's exit would run; only the teardown after it is skipped
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit says so with 120
            status = status or 120
    os._exit(status)


@main.command("run-day")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--day", required=True, callback=_day, help="Day to monitor, YYYY-MM-DD.")
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, help="MLflow tracking URI (optional)."
)
@click.option(
    "--outbox", type=click.Path(dir_okay=False), default=None, help="Also write the alerts to this outbox."
)
@click.option(
    "--timings",
    type=click.Path(dir_okay=False),
    envvar="WATCHKEEPER_TIMINGS",
    default=None,
    help="Write each stage's CPU and wall seconds and the peak RSS to this JSON file.",
)
def run_day_cmd(
    config_path: str, day: date, tracking_uri: str | None, outbox: str | None, timings: str | None
) -> None:
    """Process one day and print its result (checks, verdicts, actions) as JSON.

    Exit 0 when the day was processed, with or without alerts (an MLflow outage is a warning on stderr: the
    result is stored and `watchkeeper replay` logs it later); 2 when it could not be (message on stderr); 3 when
    another run of the same model-day is in progress.
    """
    from watchkeeper.config import ConfigError
    from watchkeeper.loading import InputError
    from watchkeeper.storage import StorageError, open_storages

    if timings:
        import os

        os.environ["WATCHKEEPER_TIMINGS"] = timings
    from watchkeeper.lease import AlreadyRunning
    from watchkeeper.pipeline import run_day

    try:
        cfg = _config(config_path)
    except click.ClickException as exc:
        raise DayNotProcessed(exc.message) from None

    def send_to_outbox(results) -> None:
        """The day's incident messages (and pending ones) to the outbox file, each key once."""
        from watchkeeper.delivery import send_day
        from watchkeeper.history import replay_stored

        send_day(cfg, results, replay_stored(cfg, results), day, _outbox_sender(cfg, outbox))

    try:
        data, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
        result = run_day(cfg, day, data, results, tracking_uri)
    except AlreadyRunning as exc:
        raise AlreadyRunningError(str(exc)) from None
    except InputError as exc:
        if outbox:  # the day's result is stored with its critical load check: its data owner is told
            send_to_outbox(results)
        raise DayNotProcessed(f"{cfg.name} {day}: could not process the day: {exc}") from None
    except ConfigError as exc:
        raise DayNotProcessed(f"{cfg.name} {day}: configuration does not match the data: {exc}") from None
    except StorageError as exc:
        raise DayNotProcessed(f"{cfg.name} {day}: storage error: {exc}") from None
    except OSError as exc:  # the store itself unreachable (DNS, refused connection, credentials)
        raise DayNotProcessed(f"{cfg.name} {day}: could not reach storage {cfg.storage.uri}: {exc}") from None
    if tracking_uri and result.mlflow_run_id is None:
        click.echo(
            f"warning: {cfg.name} {day}: MLflow could not be reached; the result is stored and the MLflow run "
            f"is pending (run `watchkeeper replay --config {config_path} --start {day} --end {day}`)",
            err=True,
        )
    if outbox:
        send_to_outbox(results)
    click.echo(result.model_dump_json(indent=2))


@main.command("report")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--start", required=True, callback=_day, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last day (included), YYYY-MM-DD.")
@click.option(
    "--output", type=click.Path(dir_okay=False), default=None, help="Also write the page to this file."
)
def report_cmd(config_path: str, start: date, end: date, output: str | None) -> None:
    """Write the period report of a model: every signal day by day, incidents and alerts sent, from stored results."""
    from watchkeeper.reports.period import store_period
    from watchkeeper.storage import StorageError, open_storages

    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}")
    cfg = _config(config_path)
    try:
        _, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
        key, html = store_period(cfg, results, start, end)
    except (StorageError, OSError) as exc:
        raise click.ClickException(f"{cfg.name}: could not read stored results: {exc}") from None
    if output:
        Path(output).write_text(html)
    click.echo(results.url(key))


@main.command("replay")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--start", required=True, callback=_day, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last day (inclusive), YYYY-MM-DD.")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, help="MLflow tracking URI.")
@click.option("--force", is_flag=True, help="Re-log days whose MLflow run is already up to date.")
@click.option(
    "--outbox",
    type=click.Path(dir_okay=False),
    default=None,
    help="Send the days' messages to this outbox instead of the owners' destinations.",
)
def replay_cmd(
    config_path: str, start: date, end: date, tracking_uri: str | None, force: bool, outbox: str | None
) -> None:
    """Complete the projections of stored day results: MLflow runs, then the days' messages.

    Reads only the stored `result.json` of each day; nothing is recomputed. Messages of those days still pending
    (or due and never sent) go to the owners' destinations (Slack connections, as `test-alert` uses, else the
    outbox), each once: the delivery log skips what was sent. Exit 0 when every stored day is up to date
    afterwards, 1 when some projection is still pending (MLflow still unreachable).
    """
    from watchkeeper.replay import delivery_hook, replay
    from watchkeeper.storage import StorageError, open_storages

    cfg = _config(config_path)
    if end < start:
        raise click.BadParameter("--end is before --start")
    try:
        data, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
        done = replay(
            cfg, data, results, start, end, tracking_uri, force, [delivery_hook(_sender(cfg, outbox))]
        )
    except (StorageError, OSError) as exc:
        raise click.ClickException(f"could not reach storage {cfg.storage.uri}: {exc}") from None
    for r in done:
        click.echo(f"{cfg.name} {r.day}: mlflow {r.mlflow}" + "".join(f"; {x}" for x in r.delivered))
    click.echo(f"{len(done)} stored day(s) between {start} and {end}")
    if any(r.mlflow == "pending" for r in done):
        sys.exit(1)


def _sender(cfg, outbox: str | None):
    """Where the CLI's messages go: the outbox file given, else each owner's destination as Airflow's tasks send."""
    return _outbox_sender(cfg, outbox) if outbox else _notify().sender(cfg)


def _outbox_sender(cfg, outbox: str):
    """A sender writing each message to the outbox file, keyed `<model>/<key>`, to the owner's name."""
    from watchkeeper.outbox import write_outbox

    def to_outbox(role: str, key: str, payload: dict) -> str:
        return f"outbox:{write_outbox(f'{cfg.name}/{key}', cfg.owners.of(role).name, payload, Path(outbox))}"

    return to_outbox


def _notify():
    """The plugin's delivery module (Slack connections, else the outbox), also from a checkout outside Airflow."""
    try:
        from watchkeeper_airflow import notify
    except ImportError:  # the CLI outside Airflow's plugins folder: use this checkout's
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
        from watchkeeper_airflow import notify
    return notify


@main.command("preview")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), help="Candidate policy YAML.")
@click.option(
    "--candidate",
    "candidate_path",
    type=click.Path(dir_okay=False),
    help="Candidate model YAML: other drift/performance thresholds, family_wise, drift persistence or policy.",
)
@click.option("--start", required=True, callback=_day, help="First day to report, YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last day to report, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
def preview_cmd(
    config_path: str,
    policy_path: str | None,
    candidate_path: str | None,
    start: date,
    end: date,
    as_json: bool,
) -> None:
    """Replay the stored daily results under the current (and a candidate) policy: messages per owner and rule,
    incidents, the difference, and whether the current replay matches the delivery log. Sends nothing.

    With --candidate, the stored drift and performance checks are first re-judged under the candidate's thresholds
    (bounds re-derived from the stored reference profile)."""
    from watchkeeper.config import ConfigError
    from watchkeeper.delivery import read_log
    from watchkeeper.history import load_days, replay_stored
    from watchkeeper.incidents import replay
    from watchkeeper.preview import (
        alert_days,
        compare_with_log,
        load_policy,
        render,
        summarize,
        without_incidents,
    )
    from watchkeeper.storage import open_storages

    if policy_path and candidate_path:
        raise click.UsageError(
            "give --policy (a candidate policy) or --candidate (a candidate model YAML), not both"
        )
    cfg = _config(config_path)
    storage, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
    stored_days = load_days(cfg, results)
    current = summarize(replay_stored(cfg, results), start, end)
    current["alert_days"] = alert_days(cfg.policy, stored_days, start, end)
    candidate = None
    changes: list[str] = []
    rejudged = None
    if policy_path:
        try:
            policy = load_policy(policy_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        candidate = summarize(replay(policy, cfg.name, stored_days), start, end)
        candidate["alert_days"] = alert_days(policy, stored_days, start, end)
    if candidate_path:
        from watchkeeper.rejudge import REJUDGED, CannotPreview, config_changes, rejudged_signals

        other = _config(candidate_path)
        changes, refused = config_changes(cfg, other)
        if refused:
            raise click.ClickException(
                f"cannot preview: the candidate changes {', '.join(refused)}, which cannot be re-judged from the "
                f"stored days (only {', '.join(p.replace('*', '<column>') for p in REJUDGED)} can)"
            )
        try:
            days, rejudged = rejudged_signals(cfg, other, storage, results, start, end)
        except CannotPreview as exc:
            raise click.ClickException(f"cannot preview: {exc}") from None
        candidate = summarize(replay(other.policy, cfg.name, days), start, end)
        candidate["alert_days"] = alert_days(other.policy, days, start, end)
    check = compare_with_log(current, read_log(cfg, results), start, end)
    baseline = without_incidents(cfg.policy, stored_days, start, end)
    if as_json:
        doc = {
            "current": current,
            "candidate": candidate,
            "changes": changes,
            "rejudged": rejudged,
            "delivery_log": check,
            "without_incidents": baseline,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if candidate_path:
        click.echo("candidate changes: " + ("; ".join(changes) or "nothing"))
        click.echo(
            f"re-judged {rejudged['checks_rejudged']} drift/performance check(s) of {rejudged['days']} day(s) from "
            f"{rejudged['profile']}: {rejudged['alert→ok']} alert → ok, {rejudged['ok→alert']} ok → alert"
        )
    click.echo(render(current, candidate))
    click.echo(
        f"without incidents and persistence (one message per owner per alerting day): {baseline['messages']} "
        f"message(s), per owner {baseline['per_owner']}"
    )
    if check["missing_from_log"] or check["not_replayed"]:
        click.echo(f"delivery log differs from the current policy's replay: {check}")
    else:
        click.echo("delivery log: matches the current policy's replay")


@main.command("test-alert")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
def test_alert_cmd(config_path: str) -> None:
    """Send a sample message to every configured destination (data, model, operator) and say which worked.

    Destinations are the owners' Airflow Slack connections (`slack_conn_id`); an owner without one gets the outbox.
    """
    from watchkeeper.alerts import sample_message

    cfg = _config(config_path)
    try:
        from watchkeeper_airflow.notify import deliver
    except ImportError:  # the CLI outside Airflow's plugins folder: use this checkout's
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
        from watchkeeper_airflow.notify import deliver
    failed = 0
    for role in ("data", "model", "operator"):
        owner = cfg.owners.of(role)
        fallback = (
            " (no operator configured: the model owner's)"
            if role == "operator" and not cfg.owners.operator
            else ""
        )
        try:
            where = deliver(owner, f"{cfg.name}/test-alert/{role}", sample_message(cfg, role))
            click.echo(f"{role:8s} {owner.name}{fallback}: ok → {where}")
        except Exception as exc:  # noqa: BLE001 - report every destination, then fail
            failed += 1
            status = getattr(getattr(exc, "response", None), "status_code", None)
            click.echo(
                f"{role:8s} {owner.name}{fallback}: FAILED ({type(exc).__name__}{f', HTTP {status}' if status else ''})"
            )
    if failed:
        sys.exit(1)


@main.command("backfill")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--start", required=True, callback=_day, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last day, YYYY-MM-DD (included).")
@click.option("--local", is_flag=True, help="Run the days here, in order, in this one process.")
@click.option(
    "--one-run",
    is_flag=True,
    help="In Airflow, as one run of watchkeeper_backfill_<model> (the stretch in one task: a year in minutes).",
)
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, help="MLflow tracking URI (optional)."
)
def backfill_cmd(
    config_path: str, start: date, end: date, local: bool, one_run: bool, tracking_uri: str | None
) -> None:
    """Monitor every day from START to END again; each day's stored results and MLflow run are replaced.

    Without --local the backfill is created in Airflow (the model's DAG, completed runs reprocessed, at most
    `airflow.max_active_runs` at once) and watched until it is done; with --one-run, Airflow runs the whole
    stretch as one run of the model's backfill DAG.
    """
    from watchkeeper import backfill
    from watchkeeper.storage import open_storages

    cfg = _config(config_path)
    if end < start:
        raise click.BadParameter("--end is before --start")
    if local and one_run:
        raise click.BadParameter("--local and --one-run exclude each other")
    total = (end - start).days + 1
    if one_run:
        try:
            run_id, state = backfill.run_one_airflow_run(cfg, start, end)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{cfg.name}: {total} days in watchkeeper_backfill_{cfg.name} run {run_id}: {state}")
        if state != "success":
            sys.exit(1)
        return
    if not local:
        seen: dict[str, str] = {}

        def show(runs: dict[str, str]) -> None:
            done = sum(s in ("success", "failed") for s in runs.values())
            if runs != seen:
                click.echo(
                    f"{done}/{total} days done, {sum(s == 'failed' for s in runs.values())} failed", err=True
                )
                seen.clear()
                seen.update(runs)

        try:
            runs = backfill.run_airflow(cfg, start, end, show)
        except RuntimeError as exc:  # Airflow refused the backfill: its own words, without a traceback
            raise click.ClickException(str(exc)) from None
        failed = sorted(d for d, s in runs.items() if s == "failed")
        click.echo(f"{cfg.name}: {total} days backfilled in Airflow; failed: {', '.join(failed) or 'none'}")
        return
    data, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
    alerts = failed = 0
    with click.progressbar(
        length=total, label=f"{cfg.name} {start}..{end}", show_eta=True, file=sys.stderr
    ) as bar:

        def advance(outcome: backfill.DayOutcome) -> None:
            nonlocal alerts, failed
            alerts += outcome.status == "alert"
            failed += outcome.status == "failed"
            bar.label = f"{cfg.name} {outcome.day}: {alerts} alert day(s), {failed} failed"
            bar.update(1)

        backfill.run_local(cfg, start, end, data, results, tracking_uri, advance)
    click.echo(f"{cfg.name}: {total} days, {alerts} with alerts, {failed} could not be processed")


@main.command("validate-config")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--data/--no-data",
    default=True,
    show_default=True,
    help="Also check the configuration against the reference data and the committed quality suite.",
)
def validate_config_cmd(configs: tuple[str, ...], data: bool) -> None:
    """Check model YAML files against the schema, the registries and (with --data) the reference data and suite;
    name every bad field and every configured column the data does not have."""
    from watchkeeper.config import ConfigError, load_config
    from watchkeeper.config_check import check, committed_suite
    from watchkeeper.loading import InputError
    from watchkeeper.storage import Storage, StorageError

    failed = 0
    for path in configs:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        ref, note = None, "reference not read (--no-data)"
        if data:
            try:
                from watchkeeper.reference import load_reference

                ref, note = (
                    load_reference(cfg, Storage.from_uri(cfg.storage.uri)),
                    "checked against the reference",
                )
            except (InputError, StorageError, OSError) as exc:
                note = f"reference not read ({exc})"
        problems = check(cfg, ref, committed_suite(cfg))
        if problems:
            failed += 1
            click.echo(f"{path}: {len(problems)} problem(s), {note}", err=True)
            for p in problems:
                click.echo(f"  - {p}", err=True)
            continue
        click.echo(f"{path}: ok ({cfg.name}, {cfg.task}, {len(cfg.columns.features)} features; {note})")
    if failed:
        sys.exit(1)


@main.command("suggest-expectations")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--force", is_flag=True, help="Overwrite a committed suite that differs (after showing the diff)."
)
def suggest_expectations_cmd(config_path: str, force: bool) -> None:
    """Write expectations/<model>/<suite>.json from the reference data, for review; never silently overwrite."""
    from watchkeeper.loading import InputError
    from watchkeeper.quality.suite import build_suite_dict, suite_path, to_json
    from watchkeeper.reference import load_reference
    from watchkeeper.storage import Storage

    cfg = _config(config_path)
    try:
        ref = load_reference(cfg, Storage.from_uri(cfg.storage.uri))
    except InputError as exc:
        raise click.ClickException(f"reference data: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"could not reach storage {cfg.storage.uri}: {exc}") from None
    new = to_json(build_suite_dict(cfg, ref))
    path = suite_path(cfg)
    if path.exists() and path.read_text() != new:
        diff = difflib.unified_diff(
            path.read_text().splitlines(), new.splitlines(), str(path), "suggested", lineterm=""
        )
        click.echo("\n".join(diff))
        if not force:
            raise click.ClickException(
                f"{path} differs from the suggestion (diff above); rerun with --force to replace"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    click.echo(f"wrote {path}")


@main.command("methods")
def methods_cmd() -> None:
    """List the registered drift methods and performance metrics."""
    from watchkeeper.drift import domain  # noqa: F401  (registers the multivariate domain classifier)
    from watchkeeper.drift.methods import REGISTRY as DRIFT
    from watchkeeper.performance.metrics import REGISTRY as METRICS

    for (name, kind), m in sorted(DRIFT.items()):
        click.echo(f"drift  {name:15s} {kind:12s} {m.description}")
    for (name, task), m in sorted(METRICS.items()):
        sides = "both sides alert" if m.two_sided else "one side alerts"
        click.echo(
            f"metric {name:15s} {task:22s} {'higher' if m.higher_is_better else 'lower'} is better, {sides}"
        )


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON schema of `run-day`'s output."""
    from watchkeeper.result import DayResult

    click.echo(json.dumps(DayResult.model_json_schema(), indent=2))


@main.group()
def demo() -> None:
    """The demo worlds: a credit-default classifier and a delivery-time regressor with scripted incidents."""


@demo.command("generate")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--days", default=60, show_default=True)
@click.option("--rows-per-day", default=None, type=int, help="Default: the world's own (4000 / 1500).")
@click.option("--seed", default=None, type=int, help="Default: the world's own.")
def demo_generate_cmd(config_path: str, days: int, rows_per_day: int | None, seed: int | None) -> None:
    """Train the demo model named in the config and write its reference, days, labels and incidents to its storage."""
    from watchkeeper.demo import WORLDS
    from watchkeeper.storage import Storage

    cfg = _config(config_path)
    if cfg.name not in WORLDS:
        raise click.ClickException(f"no demo world for model {cfg.name!r}; valid: {', '.join(WORLDS)}")
    storage = Storage.from_uri(cfg.storage.uri)
    storage.ensure_root()
    options = {k: v for k, v in {"rows_per_day": rows_per_day, "seed": seed}.items() if v is not None}
    manifest = WORLDS[cfg.name](storage.write_bytes, days=days, **options)
    click.echo(f"wrote the demo world to {storage.uri}: {len(manifest['incidents'])} incidents, {days} days")


@main.group()
def stack() -> None:
    """The embedded stack (local S3 server, MLflow on SQLite, Airflow home) for demos and tests."""


@stack.command("up")
@click.option(
    "--state-dir", default=".watchkeeper/stack", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--mlflow-ui", is_flag=True, help="Also start the MLflow UI server.")
def stack_up_cmd(state_dir: str, mlflow_ui: bool) -> None:
    """Start the servers and print the environment that points Watchkeeper, Airflow and MLflow at them."""
    from watchkeeper.stack import Stack

    s = Stack(state_dir=str(Path(state_dir).resolve()))
    s.start_s3()
    if mlflow_ui:
        s.start_mlflow_ui()
    for key, value in s.environment(Path.cwd()).items():
        click.echo(f"export {key}='{value}'")


@stack.command("down")
@click.option(
    "--state-dir", default=".watchkeeper/stack", show_default=True, type=click.Path(file_okay=False)
)
def stack_down_cmd(state_dir: str) -> None:
    """Stop the servers this stack started, by their recorded PIDs."""
    from watchkeeper.stack import Stack

    stopped = Stack.load(str(Path(state_dir).resolve())).stop()
    click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))


def _registry_target(config_path: str, tracking_uri: str | None) -> tuple[ModelConfig, str, Storage]:
    from watchkeeper.storage import open_storages

    cfg = _config(config_path)
    if cfg.model is None:
        raise click.ClickException(f"{config_path}: no `model:` section naming the registered model")
    if not tracking_uri:
        raise click.ClickException("no MLflow tracking URI: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    _, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
    return cfg, tracking_uri, results


_TELL_OWNER = (
    "Write the model owner's message to this outbox now; default: keep it pending in the delivery log for the "
    "next delivery (the monitoring DAG's send_messages, run-day --outbox, replay)."
)


def _tell_owner(cfg: ModelConfig, uri: str, results: Storage, event: dict, outbox: str | None) -> str:
    """The champion move's message to the model owner, once (`retraining.announce`)."""
    from watchkeeper.retraining.announce import announce

    return announce(cfg, uri, results, event, _outbox_sender(cfg, outbox) if outbox else None)


@main.command("promote")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--version", "version", required=True, type=int, help="Registered version to make the champion."
)
@click.option(
    "--reason", default="approved by the model owner", show_default=True, help="Recorded with the move."
)
@click.option("--by", default=None, help="Who approves (default: the OS user).")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None)
@click.option("--outbox", type=click.Path(dir_okay=False), default=None, help=_TELL_OWNER)
def promote_cmd(
    config_path: str, version: int, reason: str, by: str | None, tracking_uri: str | None, outbox: str | None
) -> None:
    """Move the `champion` alias to VERSION; the replaced champion becomes `previous_champion`."""
    import getpass

    from watchkeeper.retraining.evidence import describe, shadow_evidence
    from watchkeeper.retraining.promote import promote
    from watchkeeper.retraining.registry import RegistryError

    cfg, uri, results = _registry_target(config_path, tracking_uri)
    try:
        event = promote(cfg, uri, results, version, by or getpass.getuser(), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{cfg.name}: version {event['version']} is the champion (was {event['from_version']})")
    click.echo(f"  shadow days: {describe(shadow_evidence(cfg, results, event['version']))}")
    click.echo(f"  model owner: {_tell_owner(cfg, uri, results, event, outbox)}")


@main.command("rollback")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--reason", default="rolled back by the model owner", show_default=True)
@click.option("--by", default=None, help="Who rolls back (default: the OS user).")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None)
@click.option("--outbox", type=click.Path(dir_okay=False), default=None, help=_TELL_OWNER)
def rollback_cmd(
    config_path: str, reason: str, by: str | None, tracking_uri: str | None, outbox: str | None
) -> None:
    """Move the `champion` alias back to `previous_champion`."""
    import getpass

    from watchkeeper.retraining.promote import rollback
    from watchkeeper.retraining.registry import RegistryError

    cfg, uri, results = _registry_target(config_path, tracking_uri)
    try:
        event = rollback(cfg, uri, results, by or getpass.getuser(), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{cfg.name}: version {event['version']} is the champion again (was {event['from_version']})")
    click.echo(f"  model owner: {_tell_owner(cfg, uri, results, event, outbox)}")


@main.command("retrain")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--day", required=True, callback=_day, help="Request day, YYYY-MM-DD.")
@click.option("--reason", default="manual request", show_default=True)
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None)
def retrain_cmd(config_path: str, day: date, reason: str, tracking_uri: str | None) -> None:
    """Run a retraining request in this process and print its outcome (refusals are outcomes, exit 0)."""
    from watchkeeper.retraining.run import retrain
    from watchkeeper.storage import open_storages

    cfg, uri, results = _registry_target(config_path, tracking_uri)
    data, _ = open_storages(cfg.storage.uri, cfg.storage.results_uri)
    outcome, message = retrain(cfg, data, results, uri, day, reason)
    if message is not None and outcome.get("message_key"):
        from watchkeeper.delivery import queue  # the next delivery sends it to the model owner once

        queue(cfg, results, outcome["message_key"], "model", day.isoformat(), message)
    click.echo(json.dumps(outcome, indent=2, default=str))
