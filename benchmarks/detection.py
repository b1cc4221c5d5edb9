"""Detection benchmark: the scenario suite (`benchmarks/scenarios.py`) through Watchkeeper, scored on ground truth.

Per incident: caught or not, days from its first evidence to the first alert to the right owner, that owner and the
actions; per healthy model-day: whether anything alerted. One table, written to benchmarks/results/detection.md:

    uv run --frozen python benchmarks/detection.py            # full sizes (~20 min on 2 cores)
    uv run --frozen python benchmarks/detection.py --days 12 --rows 800 --large-rows 5000 --out /tmp/d.md

Every day runs `watchkeeper.pipeline.run_day` in-process on local storage, from the scenario's configuration alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import scenarios as sc  # noqa: E402
from watchkeeper.config import parse_config  # noqa: E402
from watchkeeper.loading import InputError  # noqa: E402
from watchkeeper.pipeline import run_day  # noqa: E402
from watchkeeper.storage import Storage  # noqa: E402

NANNYML = Path(__file__).resolve().parents[1] / ".bench" / "venvs" / "nannyml" / "bin" / "python"


def run_nannyml(s: sc.Scenario, root: Path) -> list[dict] | None:
    """NannyML on the same files (its own virtualenv, `benchmarks/detection_peers.py`), as per-day notifications."""
    if not NANNYML.exists():
        return None
    spec = {"data": str(root / "data"), "task": s.task, "features": ["x1", "x2", "visits", "plan"],
            "categorical": ["plan"]}  # fmt: skip
    worker = Path(__file__).parent / "detection_peers.py"
    proc = subprocess.run(
        [str(NANNYML), str(worker), json.dumps(spec)], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        print(f"nannyml failed on {s.name}: {proc.stderr[-800:]}", file=sys.stderr)
        return None
    by_owner = json.loads(proc.stdout.strip().splitlines()[-1])
    out = []
    for t in range(s.days):
        day = str(sc.START + timedelta(days=t))
        owners = {o for o, days in by_owner.items() if day in days}
        checks = sorted({c for o in owners for c in by_owner[o][day]})
        out.append(
            {"day": t, "notify": owners, "actions": [f"notify:{o}" for o in sorted(owners)], "checks": checks}
        )
    return out


def run_scenario(s: sc.Scenario, root: Path) -> list[dict]:
    """Per production day: who was notified, what else was asked, and the alerting checks."""
    storage = Storage.from_uri(str(root / "data"))
    sc.write(s, storage)
    cfg = parse_config(sc.config(s, str(root / "data"), "no-suite"))  # no committed suite: generated
    out = []
    for t in range(s.days):
        day = sc.START + timedelta(days=t)
        try:
            result = run_day(cfg, day, storage)
        except InputError as exc:
            out.append({"day": t, "notify": {"data"}, "actions": ["notify:data"], "checks": [f"load: {exc}"]})
            continue
        out.append(
            {
                "day": t,
                "notify": {a.owner for a in result.actions if a.kind == "notify"},
                "actions": sorted({f"{a.kind}:{a.owner}" for a in result.actions}),
                "checks": sorted({f"{c.id}:{c.subject}" for c in result.alerts}),
            }
        )
    return out


def score(s: sc.Scenario, days: list[dict]) -> tuple[list[dict], dict]:
    incident_days: set[int] = set()
    rows = []
    for inc in s.incidents:
        window = range(inc.start, min(inc.end + 2, s.days))  # +1: labels of the last day arrive the next day
        incident_days |= set(window)
        evidence = inc.start + inc.evidence_lag
        hits = [d for d in days if d["day"] in window and inc.owner in d["notify"]]
        first = hits[0] if hits else None
        delay = None if first is None else max(first["day"] - evidence, 0)
        rows.append(
            {
                "scenario": s.name,
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
    false = [d for d in healthy if d["notify"]]
    return rows, {
        "scenario": s.name,
        "healthy_days": len(healthy),
        "false_alerts": len(false),
        "false_checks": sorted({c for d in false for c in d["checks"]})[:4],
    }


def table(incidents: list[dict], healthy: list[dict], seconds: float, args) -> str:
    lines = [
        "# Detection benchmark: scenario suite",
        "",
        f"`python benchmarks/detection.py --days {args.days} --rows {args.rows} --large-rows {args.large_rows}` "
        f"({seconds / 60:.1f} min). Generated by `benchmarks/scenarios.py`; each day through `run_day`.",
        "",
        "## Incidents",
        "",
        "| scenario | incident | caught | days from first evidence | on time | owner | actions | first alerting checks "
        "| NannyML: caught, days | NannyML: first alerting checks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in incidents:
        p = r.get("nannyml")
        peer = "not run" if p is None else ("no" if not p["caught"] else f"yes, {p['delay']}")
        lines.append(
            f"| {r['scenario']} | {r['incident']} | {'yes' if r['caught'] else '**no**'} | "
            f"{'–' if r['delay'] is None else r['delay']} | {'yes' if r['on_time'] else 'no'} | {r['owner']} | "
            f"{r['actions']} | {r['checks']} | {peer} | {p['checks'] if p else ''} |"
        )
    total_days = sum(h["healthy_days"] for h in healthy)
    total_false = sum(h["false_alerts"] for h in healthy)
    caught = sum(r["caught"] for r in incidents)
    on_time = sum(r["on_time"] for r in incidents)
    lines += [
        "",
        "## Healthy model-days",
        "",
        "| scenario | healthy days | days with an alert | alerting checks | NannyML: days with an alert | NannyML: checks |",
        "|---|---|---|---|---|---|",
    ]
    for h in healthy:
        p = h.get("nannyml")
        lines.append(
            f"| {h['scenario']} | {h['healthy_days']} | {h['false_alerts']} | {', '.join(h['false_checks'])} | "
            f"{'not run' if p is None else p['false_alerts']} | {', '.join(p['false_checks']) if p else ''} |"
        )
    lines += [
        "",
        f"**Total**: {caught}/{len(incidents)} incidents caught, {on_time} on time; "
        f"{total_false} false alert days in {total_days} healthy model-days "
        f"({90 * total_false / max(total_days, 1):.2f} per 90).",
    ]
    if all(r.get("nannyml") for r in incidents) and all(h.get("nannyml") for h in healthy):
        peer_false = sum(h["nannyml"]["false_alerts"] for h in healthy)
        lines.append(
            f"**NannyML** (defaults; univariate and multivariate drift, CBPE/DLE, realized performance, unseen and "
            f"missing values): {sum(r['nannyml']['caught'] for r in incidents)}/{len(incidents)} caught, "
            f"{sum(r['nannyml']['on_time'] for r in incidents)} on time; {peer_false} false alert days "
            f"({90 * peer_false / max(total_days, 1):.2f} per 90). Evidently: not run yet."
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--large-rows", type=int, default=200_000)
    parser.add_argument("--large-days", type=int, default=6)
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    parser.add_argument("--no-peers", action="store_true", help="Watchkeeper only")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "detection.md"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    incidents, healthy = [], []
    for s in sc.suite(args.days, args.rows, args.large_rows, args.large_days):
        if args.only and s.name not in args.only:
            continue
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            days = run_scenario(s, Path(tmp))
            peer = None if args.no_peers else run_nannyml(s, Path(tmp))
        rows, h = score(s, days)
        if peer is not None:
            peer_rows, peer_h = score(s, peer)
            for r, p in zip(rows, peer_rows, strict=True):
                r["nannyml"] = p
            h["nannyml"] = peer_h
        incidents += rows
        healthy.append(h)
        print(f"{s.name}: {time.perf_counter() - t0:.0f} s, {rows}, {h}", file=sys.stderr, flush=True)
    text = table(incidents, healthy, time.perf_counter() - started, args)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
