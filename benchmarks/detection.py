"""Detection benchmark: the scenario suite (`benchmarks/scenarios.py`) through Watchkeeper, NannyML and Evidently.

Per incident: caught or not, days from its first evidence to the first alert to the right owner, that owner and the
actions; per healthy model-day: whether anything alerted. Each scenario's day-by-day alerts go to
benchmarks/results/detection.json (runs merge by scenario, so slow scenarios can run apart); the one table over
all scenarios stored there is written to benchmarks/results/detection.md:

    uv run --frozen python benchmarks/detection.py --jobs 2          # full sizes
    uv run --frozen python benchmarks/detection.py --days 12 --rows 800 --large-rows 5000 --out /tmp/d.md

Watchkeeper runs `watchkeeper.pipeline.run_day` in-process on local storage, from the scenario's configuration
alone. The peers run on the same files in their own virtualenvs (`.bench/venvs/<tool>`), through
`detection_peers.py` (NannyML) and `detection_evidently.py` (Evidently); their docstrings give the owner mapping.
The demo worlds run through Watchkeeper only (the peer workers read the generic scenarios' layout).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

import scenarios as sc  # noqa: E402
from day import commit  # noqa: E402
from watchkeeper.config import parse_config  # noqa: E402
from watchkeeper.loading import InputError  # noqa: E402
from watchkeeper.pipeline import run_day  # noqa: E402
from watchkeeper.storage import Storage  # noqa: E402

HERE = Path(__file__).resolve().parent
VENVS = HERE.parent / ".bench" / "venvs"
PEERS = {
    "nannyml": ("NannyML", HERE / "detection_peers.py"),
    "evidently": ("Evidently", HERE / "detection_evidently.py"),
}
"""Peer → its display name and the worker run with `.bench/venvs/<peer>/bin/python`."""
TOOLS = ["watchkeeper", *PEERS]
BOUND_RULES: dict[str, dict] = {
    "std k=3, split over the day's checks (default)": {},
    "std k=2.5": {"drift": {"threshold": {"type": "std", "k": 2.5}},
                  "performance": {"threshold": {"type": "std", "k": 2.5}}},
    "std k=3.5": {"drift": {"threshold": {"type": "std", "k": 3.5}},
                  "performance": {"threshold": {"type": "std", "k": 3.5}}},
    "std k=4": {"drift": {"threshold": {"type": "std", "k": 4}},
                "performance": {"threshold": {"type": "std", "k": 4}}},
    "std k=3, normal (no gamma)": {"drift": {"threshold": {"type": "std", "k": 3, "distribution": "normal"}}},
    "std k=3, per check (family_wise off)": {"drift": {"family_wise": False}},
}  # fmt: skip
"""Candidate bound rules (`--rules`): configuration overrides under which the stored days are re-judged (the same
profile's reference values, `watchkeeper.rejudge`), for gap 5: which rule is tightest within the healthy budget."""


def run_peer(tool: str, s: sc.Scenario, root: Path, start: date) -> list[dict] | None:
    """A peer on the same files (its own virtualenv and worker), as per-day notifications; None if not run."""
    python = VENVS / tool / "bin" / "python"
    if not python.exists() or s.world:
        return None
    spec = {"data": str(root / "data"), "task": s.task, "features": ["x1", "x2", "visits", "plan"],
            "categorical": ["plan"]}  # fmt: skip
    proc = subprocess.run(
        [str(python), str(PEERS[tool][1]), json.dumps(spec)], capture_output=True, text=True, timeout=3600
    )
    if proc.returncode != 0:
        print(f"{tool} failed on {s.name}: {proc.stderr[-800:]}", file=sys.stderr)
        return None
    by_owner = json.loads(proc.stdout.strip().splitlines()[-1])
    out = []
    for t in range(s.days):
        day = str(start + timedelta(days=t))
        owners = sorted(o for o, days in by_owner.items() if day in days)
        checks = sorted({c for o in owners for c in by_owner[o][day]})
        out.append({"day": t, "notify": owners, "actions": [f"notify:{o}" for o in owners], "checks": checks})
    return out


def run_watchkeeper(s: sc.Scenario, cfg: dict, storage: Storage, start: date) -> list[dict]:
    """Per production day: who was notified, what else was asked, and the alerting checks."""
    model = parse_config(cfg)
    out = []
    for t in range(s.days):
        try:
            result = run_day(model, start + timedelta(days=t), storage)
        except InputError as exc:
            out.append({"day": t, "notify": ["data"], "actions": ["notify:data"], "checks": [f"load: {exc}"]})
            continue
        out.append(
            {
                "day": t,
                # an alert is a message about today's checks; "recovered" messages carry none
                "notify": sorted({a.owner for a in result.actions if a.kind == "notify" and a.checks}),
                "actions": sorted({f"{a.kind}:{a.owner}" for a in result.actions}),
                "checks": sorted({f"{c.id}:{c.subject}" for c in result.alerts}),
            }
        )
    return out


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merged(base.get(key) or {}, value) if isinstance(value, dict) and key != "threshold" else value
        )
    return out


def rejudge_rules(s: sc.Scenario, cfg: dict, storage: Storage, start: date) -> dict[str, list[dict]]:
    """Per candidate bound rule, the stored days re-judged under it: per day, the owners a default rule would tell
    (a raised signal of a rule that notifies; `watchkeeper.preview.alert_days`)."""
    from watchkeeper.preview import alert_days
    from watchkeeper.rejudge import rejudged_signals

    current = parse_config(cfg)
    end = start + timedelta(days=s.days - 1)
    out = {}
    for name, override in BOUND_RULES.items():
        candidate = parse_config(_merged(cfg, override))
        days, _ = rejudged_signals(current, candidate, storage, storage, start, end)
        by_owner = alert_days(candidate.policy, days, start, end)
        per_day = []
        for t in range(s.days):
            day = str(start + timedelta(days=t))
            told = sorted(k for k, v in by_owner.items() if day in v and not k.startswith("- "))
            owners = sorted({k.split(" ", 1)[0] for k in told})
            per_day.append(
                {"day": t, "notify": owners, "actions": [f"notify:{o}" for o in owners], "checks": told}
            )
        out[name] = per_day
    return out


def overrides(settings: list[str]) -> dict:
    """`--set drift.evidence_days=30` → {"drift": {"evidence_days": 30}} (values read as YAML)."""
    out: dict = {}
    for setting in settings:
        path, _, value = setting.partition("=")
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = yaml.safe_load(value)
    return out


def run_scenario(
    name: str,
    sizes: tuple[int, int, int, int],
    peers: bool,
    command: str,
    rules: bool = False,
    override: dict | None = None,
) -> dict:
    """One scenario (by name: scenarios hold functions, which cannot cross to a worker process) through every
    tool, on one set of files: its stored entry."""
    s = next(s for s in sc.suite(*sizes) if s.name == name)
    t0 = time.process_time()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        storage = Storage.from_uri(str(root / "data"))
        if s.world:
            cfg, start, seed = sc.write_world(s, storage)
        else:
            sc.write(s, storage)
            cfg, start, seed = sc.config(s, str(root / "data"), "no-suite"), sc.START, s.seed
        cfg = _merged(cfg, override or {})
        entry = {"scenario": s.name, "task": s.task, "seed": seed, "days": s.days, "rows": s.rows,
                 "command": command, "incidents": [asdict(i) for i in s.incidents]}  # fmt: skip
        entry["watchkeeper"] = run_watchkeeper(s, cfg, storage, start)
        entry["watchkeeper_cpu_seconds"] = round(time.process_time() - t0, 1)
        entry["tool_seconds"] = {"watchkeeper": round(time.perf_counter() - started, 1)}
        if rules:
            entry["rules"] = rejudge_rules(s, cfg, storage, start)
        for tool in PEERS:
            t1 = time.perf_counter()
            entry[tool] = run_peer(tool, s, root, start) if peers else None
            entry["tool_seconds"][tool] = round(time.perf_counter() - t1, 1)
    entry["seconds"] = round(time.perf_counter() - started, 1)
    entry["commit"] = commit()
    print(f"{s.name}: {entry['tool_seconds']} s wall", file=sys.stderr, flush=True)
    return entry


def _alerted(day: dict) -> list[str]:
    """Owners alerted that day: told of an alerting check (a day without one sent only "recovered" messages)."""
    return day["notify"] if day["checks"] else []


def score(entry: dict, days: list[dict]) -> tuple[list[dict], dict]:
    """Per incident: caught by its owner, delay from first evidence, on time; healthy days with any alert."""
    n = entry["days"]
    incident_days: set[int] = set()
    rows = []
    for inc in map(lambda i: sc.Incident(**i), entry["incidents"]):
        window = range(inc.start, min(inc.end + 1 + inc.tail, n))
        incident_days |= set(window)
        evidence = inc.start + inc.evidence_lag
        hits = [d for d in days if d["day"] in window and inc.owner in _alerted(d)]
        first = hits[0] if hits else None
        delay = None if first is None else max(first["day"] - evidence, 0)
        rows.append(
            {
                "incident": inc.kind,
                "caught": first is not None,
                "delay": delay,
                "on_time": delay is not None and delay <= inc.within,
                "owner": inc.owner,
                "actions": ", ".join(first["actions"]) if first else "–",
                "checks": ", ".join(first["checks"][:3]) if first else "",
            }
        )
    healthy = [d for d in days if d["day"] not in incident_days]
    false = [d for d in healthy if _alerted(d)]
    counts: dict[str, int] = {}
    for d in false:
        for c in d["checks"]:
            counts[c] = counts.get(c, 0) + 1
    top = sorted(counts, key=lambda c: (-counts[c], c))[:4]
    return rows, {
        "healthy_days": len(healthy),
        "false_alerts": len(false),
        "false_checks": [f"{c} ×{counts[c]}" for c in top],
    }


def _caught(r: dict | None) -> str:
    if r is None:
        return "not run"
    return f"yes, {r['delay']}" if r["caught"] else "**no**"


def table(entries: list[dict]) -> str:
    """The one table over every stored scenario, with the commands that produced it."""
    commits = sorted({e["commit"] for e in entries if e.get("commit")})
    commands = sorted({e["command"] for e in entries})
    names = {"watchkeeper": "Watchkeeper", **{t: n for t, (n, _) in PEERS.items()}}
    lines = [
        "# Detection benchmark: scenario suite",
        "",
        "Regenerate (one command per line; every scenario's entry in `detection.json` records its command):",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Watchkeeper CPU seconds over all scenarios: {sum(e['watchkeeper_cpu_seconds'] for e in entries):.0f}; "
        f"scenarios' wall clock with peers, summed: {sum(e['seconds'] for e in entries) / 60:.0f} min (shared 2-core "
        "machine; `--jobs` runs scenarios side by side, so the command takes less)."
        + (f" Engine commit(s): {', '.join(commits)}." if commits else ""),
        "Generated by `benchmarks/scenarios.py`; each day through `run_day`. Cells: caught by the right owner, days "
        "from first evidence to the first alert (**no**: never within the incident).",
        "",
        "## Incidents",
        "",
        "| scenario | incident | owner | Watchkeeper | on time | actions | first alerting checks | NannyML | "
        "NannyML checks | Evidently | Evidently checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    scored = []
    for e in entries:
        per_tool = {t: score(e, e[t]) if e.get(t) else None for t in TOOLS}
        scored.append((e, per_tool))
        for i, r in enumerate(per_tool["watchkeeper"][0]):
            peer = {t: per_tool[t][0][i] if per_tool[t] else None for t in PEERS}
            lines.append(
                f"| {e['scenario']} | {r['incident']} | {r['owner']} | {_caught(r)} | "
                f"{'yes' if r['on_time'] else '**no**'} | {r['actions']} | {r['checks']} | "
                f"{_caught(peer['nannyml'])} | {peer['nannyml']['checks'] if peer['nannyml'] else ''} | "
                f"{_caught(peer['evidently'])} | {peer['evidently']['checks'] if peer['evidently'] else ''} |"
            )
    lines += [
        "",
        "## Healthy model-days",
        "",
        "Days outside every incident (and outside the days its labels arrive). Checks: the most frequent, with the "
        "number of healthy days each alerted.",
        "",
        "| scenario | seed | days × rows | healthy days | Watchkeeper alert days | checks | NannyML | NannyML checks "
        "| Evidently | Evidently checks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e, per_tool in scored:
        h = {t: per_tool[t][1] if per_tool[t] else None for t in TOOLS}
        cells = [
            f"{'not run' if h[t] is None else h[t]['false_alerts']} | {', '.join(h[t]['false_checks']) if h[t] else ''}"
            for t in TOOLS
        ]
        lines.append(
            f"| {e['scenario']} | {e['seed']} | {e['days']} × {e['rows']} | {h['watchkeeper']['healthy_days']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "## Totals", ""]
    lines += [
        "| tool | scenarios | incidents caught | on time | healthy model-days | false alert days | per 90 |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for t in TOOLS:
        ran = [(e, p[t]) for e, p in scored if p[t]]
        incidents = [r for _, (rows, _) in ran for r in rows]
        healthy = sum(h["healthy_days"] for _, (_, h) in ran)
        false = sum(h["false_alerts"] for _, (_, h) in ran)
        lines.append(
            f"| {names[t]} | {len(ran)} | {sum(r['caught'] for r in incidents)}/{len(incidents)} | "
            f"{sum(r['on_time'] for r in incidents)} | {healthy} | {false} | {90 * false / max(healthy, 1):.2f} |"
        )
    lines += targets(scored)
    lines += MAPPING
    lines += rules_table(entries)
    lines.append("")
    return "\n".join(lines)


MAPPING = [
    "",
    "## How the peers' alerts are scored",
    "",
    "Each tool runs with its defaults on the same files; an alert counts for the owner it maps to, on the day it is "
    "raised (realized performance on the day the labels arrive, the day after the predictions).",
    "",
    "- **NannyML 0.13.1** (`detection_peers.py`, one chunk per day): univariate drift of features and outputs, data "
    "reconstruction (multivariate) drift, CBPE (classifier) or DLE (regressor), realized performance → model owner; "
    "unseen values and missing values → data owner.",
    "- **Evidently 0.7.23** (`detection_evidently.py`, `Report(..., include_tests=True)`, one report per day): "
    "`DataDriftPreset` (the dataset-drift test, share of drifted columns ≥ 0.5, and each column's value-drift test) "
    "and `ClassificationPreset` / `RegressionPreset` on the day's arriving labels (each metric's default test "
    "against the reference) → model owner; `MissingValueCount` per feature (default test: equal to the reference's "
    "± 10 %) → data owner. Evidently 0.7 has no unseen-category test: a new category can only show as drift.",
    "- **Watchkeeper**: the owners named in the day's notify actions that carry alerting checks (its own policy "
    'defaults; a "recovered" message is not an alert).',
    "- The demo worlds run through Watchkeeper only: the peer workers read the generic scenarios' file layout.",
]


def targets(scored: list[tuple[dict, dict]]) -> list[str]:
    """The issue's targets against the numbers above: on time, the healthy-day budget, and the peers compared on
    the scenarios all three ran."""
    wk = [(e, p["watchkeeper"]) for e, p in scored]
    late = [
        f"{e['scenario']} / {r['incident']} ({'not caught' if not r['caught'] else str(r['delay']) + ' days'})"
        for e, (rows, _) in wk
        for r in rows
        if not r["on_time"]
    ]
    healthy = sum(h["healthy_days"] for _, (_, h) in wk)
    false = sum(h["false_alerts"] for _, (_, h) in wk)
    lines = [
        "",
        "## Targets",
        "",
        f"- Every incident within its target (1 day from first evidence; 7 for a small persistent shift or gradual "
        f"drift): {sum(r['on_time'] for _, (rows, _) in wk for r in rows)}/{sum(len(rows) for _, (rows, _) in wk)}"
        + (f"; missed: {'; '.join(late)}." if late else "."),
        f"- At most 1 false alert per 90 healthy model-days: {90 * false / max(healthy, 1):.2f} per 90 "
        f"({false} in {healthy}).",
    ]
    common = [(e, p) for e, p in scored if all(p[t] for t in TOOLS)]
    if common:
        cells = []
        for t in TOOLS:
            rows = [r for _, p in common for r in p[t][0]]
            f = sum(p[t][1]["false_alerts"] for _, p in common)
            cells.append(f"{PEERS[t][0] if t in PEERS else 'Watchkeeper'} {sum(r['caught'] for r in rows)}/"
                         f"{len(rows)} caught, {sum(r['on_time'] for r in rows)} on time, {f} false alert days")  # fmt: skip
        days = sum(p["watchkeeper"][1]["healthy_days"] for _, p in common)
        lines.append(f"- Against the peers, on the {len(common)} scenarios all three ran ({days} healthy model-days): "
                     + "; ".join(cells) + ".")  # fmt: skip
    return lines


def rules_table(entries: list[dict]) -> list[str]:
    """Watchkeeper's days re-judged under each candidate bound rule, scored like the tools (when run with --rules)."""
    ruled = [e for e in entries if e.get("rules")]
    if not ruled:
        return []
    lines = [
        "",
        f"## Bound rules (re-judged, {len(ruled)} scenarios)",
        "",
        "The stored days re-judged from the same reference profile under each rule (`--rules`); a day alerts an "
        "owner when a re-judged check raises a signal of a default rule notifying that owner.",
        "",
        "| rule | incidents caught | on time | days from evidence to alert, summed | healthy model-days | "
        "false alert days | per 90 |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in BOUND_RULES:
        scored = [score(e, e["rules"][rule]) for e in ruled if rule in e["rules"]]
        incidents = [r for rows, _ in scored for r in rows]
        healthy = sum(h["healthy_days"] for _, h in scored)
        false = sum(h["false_alerts"] for _, h in scored)
        lines.append(
            f"| {rule} | {sum(r['caught'] for r in incidents)}/{len(incidents)} | "
            f"{sum(r['on_time'] for r in incidents)} | {sum(r['delay'] or 0 for r in incidents)} | {healthy} | "
            f"{false} | {90 * false / max(healthy, 1):.2f} |"
        )
    return lines


NOTES = "<!-- notes: kept when the table is regenerated -->"


def notes(out: Path) -> str:
    """The hand-written analysis under the table (after the NOTES marker), kept across regenerations."""
    text = out.read_text() if out.exists() else ""
    return "\n" + NOTES + text.split(NOTES, 1)[1] if NOTES in text else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--large-rows", type=int, default=200_000)
    parser.add_argument("--large-days", type=int, default=6)
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    parser.add_argument("--no-peers", action="store_true", help="Watchkeeper only")
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel")
    parser.add_argument(
        "--rules", action="store_true", help="also re-judge every day under BOUND_RULES (gap 5)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a configuration setting for every scenario's model (dotted path, YAML value), e.g. "
        "drift.evidence_days=30",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "detection.md"))
    parser.add_argument("--json", help="stored entries to merge into (default: --out with .json)")
    parser.add_argument(
        "--merge",
        nargs="+",
        help="only merge these runs' JSON entries (made apart, e.g. in parallel) into the table",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    store = Path(args.json or Path(args.out).with_suffix(".json"))
    sizes = (args.days, args.rows, args.large_rows, args.large_days)
    command = (
        f"python benchmarks/detection.py --days {args.days} --rows {args.rows} --large-rows {args.large_rows} "
        f"--large-days {args.large_days} --jobs {args.jobs}"
        + (" --no-peers" if args.no_peers else "")
        + (" --rules" if args.rules else "")
        + "".join(f" --set {s}" for s in args.set)
        + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    suite = sc.suite(*sizes)
    # the biggest first, so parallel jobs end together
    chosen = [
        s.name for s in sorted(suite, key=lambda s: -s.days * s.rows) if not args.only or s.name in args.only
    ]
    stored = {e["scenario"]: e for e in json.loads(store.read_text())} if store.exists() else {}

    def keep(entry: dict) -> str:
        """Store a finished scenario at once (a long run stopped early keeps what finished) and redo the table."""
        stored[entry["scenario"]] = entry
        entries = [stored[s.name] for s in suite if s.name in stored]
        store.write_text(json.dumps(entries, indent=1))
        text = table(entries) + notes(Path(args.out))
        Path(args.out).write_text(text)
        return text

    if args.merge:  # no run: their scenarios replace ours
        for other in args.merge:
            for entry in json.loads(Path(other).read_text()):
                text = keep(entry)
        print(text)
        return 0
    text = ""
    work = [(name, sizes, not args.no_peers, command, args.rules, overrides(args.set)) for name in chosen]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for done in as_completed([pool.submit(run_scenario, *w) for w in work]):
                text = keep(done.result())
    else:
        for w in work:
            text = keep(run_scenario(*w))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
