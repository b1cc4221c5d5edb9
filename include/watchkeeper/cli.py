"""The `watchkeeper` command line: run a day, check configs, suggest GX suites, list methods, run the demo world.

`run-day` calls the same pipeline functions as the DAG's tasks and prints the day's result as one JSON document.
"""

from __future__ import annotations

import difflib
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the engine's modules are imported by the commands that use them: `--help` stays instant
    from watchkeeper.config import ModelConfig


def _config(path: str) -> ModelConfig:
    from watchkeeper.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day in YYYY-MM-DD form") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="watchkeeper")
def main() -> None:
    """Watchkeeper: daily data-quality, drift and performance checks for ML models in production."""


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

    Exit 0 when the day was processed, with or without alerts; 2 when it could not be (message on stderr).
    """
    if timings:
        import os

        os.environ["WATCHKEEPER_TIMINGS"] = timings
    from watchkeeper.loading import InputError
    from watchkeeper.pipeline import run_day
    from watchkeeper.storage import StorageError, open_storages

    cfg = _config(config_path)
    try:
        data, results = open_storages(cfg.storage.uri, cfg.storage.results_uri)
        result = run_day(cfg, day, data, results, tracking_uri)
    except InputError as exc:
        raise click.ClickException(f"{cfg.name} {day}: could not process the day: {exc}") from None
    except StorageError as exc:
        raise click.ClickException(f"{cfg.name} {day}: storage error: {exc}") from None
    except OSError as exc:  # the store itself unreachable (DNS, refused connection, credentials)
        raise click.ClickException(
            f"{cfg.name} {day}: could not reach storage {cfg.storage.uri}: {exc}"
        ) from None
    if outbox:
        from watchkeeper.alerts import build_message, dedupe_key, write_outbox

        for action in result.actions:
            if action.kind == "notify":
                owner = getattr(cfg.owners, action.owner)
                write_outbox(
                    dedupe_key(result, action), owner.name, build_message(cfg, result, action), Path(outbox)
                )
    click.echo(result.model_dump_json(indent=2))


@main.command("backfill")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Model YAML.")
@click.option("--start", required=True, callback=_day, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last day, YYYY-MM-DD (included).")
@click.option("--local", is_flag=True, help="Run the days here, in order, in this one process.")
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, help="MLflow tracking URI (optional)."
)
def backfill_cmd(config_path: str, start: date, end: date, local: bool, tracking_uri: str | None) -> None:
    """Monitor every day from START to END again; each day's stored results and MLflow run are replaced.

    Without --local the backfill is created in Airflow (the model's DAG, completed runs reprocessed, at most
    `airflow.max_active_runs` at once) and watched until it is done.
    """
    from watchkeeper import backfill
    from watchkeeper.storage import open_storages

    cfg = _config(config_path)
    if end < start:
        raise click.BadParameter("--end is before --start")
    total = (end - start).days + 1
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

        runs = backfill.run_airflow(cfg, start, end, show)
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
def validate_config_cmd(configs: tuple[str, ...]) -> None:
    """Check model YAML files against the schema; name every bad field."""
    from watchkeeper.config import ConfigError, load_config

    failed = 0
    for path in configs:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        click.echo(f"{path}: ok ({cfg.name}, {cfg.task}, {len(cfg.columns.features)} features)")
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
    from watchkeeper.drift.methods import REGISTRY as DRIFT
    from watchkeeper.performance.metrics import REGISTRY as METRICS

    for (name, kind), m in sorted(DRIFT.items()):
        click.echo(f"drift  {name:15s} {kind:12s} {m.description}")
    for (name, task), m in sorted(METRICS.items()):
        click.echo(f"metric {name:15s} {task:22s} {'higher' if m.higher_is_better else 'lower'} is better")


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
