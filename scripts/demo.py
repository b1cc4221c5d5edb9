"""The demo: start the embedded stack, write both demo worlds to the local S3 server, run the real DAGs for each day.

Each model's DAG runs through Airflow itself, day by day with `dag.test()` in one process (see README for why), then
this prints per model what was caught against its world's ground truth, the alerts in the outbox, and how to open
the MLflow UI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from watchkeeper.alerts import read_outbox  # noqa: E402
from watchkeeper.config import load_config  # noqa: E402
from watchkeeper.delivery import read_log  # noqa: E402
from watchkeeper.demo import WORLDS  # noqa: E402
from watchkeeper.demo.score import render, score  # noqa: E402
from watchkeeper.result import DayResult  # noqa: E402
from watchkeeper.stack import Stack  # noqa: E402
from watchkeeper.storage import Storage  # noqa: E402

MODELS = ROOT / "include" / "models"
STATE = ROOT / ".watchkeeper" / "demo"
NOISE = re.compile(r"^(\s|\d{4}-\d\d-\d\dT)")
"""Runner output lines that are Airflow's captured warnings (timestamped, or their indented continuations)."""
ROWS = {"credit_default": 4000, "delivery_time": 1500}
"""Predictions per day of each demo model (the regressor's days are smaller to keep the demo's runtime down)."""


def run(argv: list[str], log: Path) -> None:
    with open(log, "a") as out:
        subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())


def alert_summary(cfg, storage: Storage) -> str:
    """Messages sent per owner (from the delivery log) and the incidents with their open and close days."""
    from watchkeeper.history import load_days, replay_stored
    from watchkeeper.preview import without_incidents

    log = read_log(cfg, storage)
    sent = {e["message"]: e for e in log if e["status"] == "sent"}
    # Retraining verdicts and refusals (`<day>/model/retrain[-refused]`) and champion moves (`champion/...`) are not incident messages:
    # counted apart, so the incident messages compare with what the same routing sent before incidents existed.
    retraining = [k for k in sent if "/model/retrain" in k or k.startswith("champion/")]
    messages = {k: e for k, e in sent.items() if k not in retraining}
    per_owner = dict(sorted(Counter(e["owner"] for e in messages.values()).items()))
    before = without_incidents(cfg.policy, load_days(cfg, storage))
    lines = [
        f"{len(messages)} message(s) on monitoring signals, per owner {per_owner} (without incidents and "
        f"persistence, one message per owner per alerting day: {before['messages']}, per owner "
        f"{before['per_owner']}); {len(retraining)} on retraining to the model owner; incidents:"
    ]
    for inc in sorted(replay_stored(cfg, storage).incidents.values(), key=lambda i: (i.opened, i.id)):
        closed = f"closed {inc.closed}" if inc.closed else "still open"
        to = ",".join(inc.owners) or "nobody (recorded only)"
        lines.append(
            f"  {inc.rule:22s} {inc.subject:6s} opened {inc.opened}  {closed:17s} {inc.length:3d} day(s)  to {to}"
        )
    return "\n".join(lines)


def manifest_days(first: date, days: int) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


def register_champion(cfg, tracking_uri: str, storage: Storage) -> None:
    """The demo model in production: version 1 of its registered model, alias `champion` (skops, not a pickle)."""
    from watchkeeper.demo.champions import champion
    from watchkeeper.retraining.registry import register_champion as register

    model, sample, tags = champion(cfg.name)
    version = register(cfg, tracking_uri, storage, model, sample, tags, "the demo model in production")
    print(f"registered {cfg.model.registered_name} version {version} as champion in MLflow")


def retraining_story(worlds: dict, stack: Stack, log: Path, approve: bool) -> None:
    """Each model's retraining requests, verdicts and registry aliases; with `approve`, promote the proposals."""
    from watchkeeper.retraining.story import latest_proposal, render

    for model, (cfg, storage, _) in worlds.items():
        print("\n" + render(cfg, storage, stack.tracking_uri))
        proposals = [
            m
            for m in read_outbox(Path(stack.outbox))
            if m["key"].startswith(f"{model}/") and "/model/retrain" in m["key"]
        ]
        for m in proposals[-2:]:
            print("  message to the model owner: " + m["payload"]["text"][:400])
        version = latest_proposal(cfg, storage)
        if approve and version:
            print(f"  approving {model} version {version} through the watchkeeper_promote DAG ...")
            run(
                [
                    sys.executable,
                    "-m",
                    "watchkeeper_airflow.retrain_runner",
                    "--promote",
                    model,
                    version,
                    "demo --approve",
                ],
                log,
            )
            print("\n".join(render(cfg, storage, stack.tracking_uri).splitlines()[-1:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60, help="production days in each world (default 60)")
    parser.add_argument(
        "--models", default=",".join(WORLDS), help=f"comma-separated demo models (default {','.join(WORLDS)})"
    )
    parser.add_argument(
        "--rows-per-day",
        type=int,
        default=None,
        help="predictions per day for every model (default: 4000, 1500)",
    )
    parser.add_argument(
        "--approve",
        action="store_true",
        help="approve each model's latest proposed challenger (watchkeeper_promote)",
    )
    parser.add_argument(
        "--state-dir",
        default=str(STATE),
        help=f"where the stack, logs and Airflow home live (default {STATE.relative_to(ROOT)}); removed first",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the S3 server up (stop: watchkeeper stack down)"
    )
    args = parser.parse_args()
    state = Path(args.state_dir).resolve()
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(WORLDS))
    if unknown:
        parser.error(f"unknown demo model(s) {unknown}; valid: {', '.join(WORLDS)}")

    Stack.load(str(state)).stop()  # leftovers of an earlier demo, by their recorded PIDs
    shutil.rmtree(state, ignore_errors=True)
    stack = Stack(state_dir=str(state))
    try:
        print(f"starting the local S3 server ... {stack.start_s3()}")
        os.environ.update(stack.environment(ROOT))
        worlds = {}
        for model in models:
            cfg = load_config(MODELS / f"{model}.yaml")
            storage = Storage.from_uri(cfg.storage.uri)
            storage.ensure_root()
            rows = args.rows_per_day or ROWS[model]
            manifest = WORLDS[model](storage.write_bytes, days=args.days, rows_per_day=rows)
            worlds[model] = (cfg, storage, manifest)
            register_champion(cfg, stack.tracking_uri, storage)
            print(f"wrote the {model} world to {cfg.storage.uri}: {args.days} days x ~{rows} predictions")
        first = date.fromisoformat(next(iter(worlds.values()))[2]["start"])
        last = first + timedelta(days=args.days - 1)
        log = state / "logs" / "airflow.log"
        print(f"migrating Airflow's metadata database (SQLite) in {stack.airflow_home} ...")
        run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], log)
        dags = ",".join(f"watchkeeper_{m}" for m in models)
        print(f"running DAGs {dags} for {first}..{last} through Airflow (log: {log}) ...")
        # Monitoring day by day; after a day that asked for a retraining, the model's retraining DAG with that request.
        runner = [
            sys.executable,
            "-m",
            "watchkeeper_airflow.retrain_runner",
            ",".join(models),
            f"{first}..{last}",
        ]
        with open(log, "a") as out:
            proc = subprocess.Popen(
                runner, stdout=subprocess.PIPE, stderr=out, text=True, env=os.environ.copy()
            )
            for line in proc.stdout:
                if NOISE.match(line):  # Airflow's captured warnings: to the log, not the screen
                    out.write(line)
                else:
                    print("  " + line.rstrip(), flush=True)
            runner_failed = proc.wait() != 0
        missing, reports = [], {}
        for model, (cfg, storage, manifest) in worlds.items():
            results = {}
            for day in manifest_days(first, args.days):
                key = cfg.results_key(day, "result.json")
                if storage.exists(key):
                    results[day] = DayResult.model_validate(storage.read_json(key))
            reports[model] = score(results, manifest, read_log(cfg, storage))
            missing += [f"{model} {d}" for d in manifest_days(first, args.days) if d not in results]
            print(f"\n{model}: what was caught (ground truth: incidents.json in {cfg.storage.uri}):")
            print(render(reports[model]))
        (state / "detection.json").write_text(json.dumps(reports, indent=2))
        for model, (cfg, storage, _) in worlds.items():
            print(f"\n{model}: " + alert_summary(cfg, storage))
        retraining_story(worlds, stack, log, args.approve)
        outbox = read_outbox(Path(stack.outbox))
        print(f"\n{len(outbox)} message(s) in the outbox {stack.outbox} (no Slack connection configured)")
        print(
            f"\nMLflow history (one experiment per model, one run per day): {stack.mlflow_ui_command()}  "
            "then open http://127.0.0.1:5000"
        )
        for model, (cfg, _, _) in worlds.items():
            print(
                f"{model} day results: {cfg.storage.uri}/{cfg.storage.results_prefix}/ (on the S3 server while it runs)"
            )
        print(f"detection summary: {state / 'detection.json'}")
        if runner_failed or missing:
            print(f"\nFAILED: {len(missing)} day(s) have no result ({', '.join(missing[:5])} ...); see {log}")
            return 1
    finally:
        if not args.keep_running:
            print("stopped: " + (", ".join(stack.stop()) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
