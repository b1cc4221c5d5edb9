"""The period report: every signal of a model day by day over a range, its incidents and the alerts sent.

Rendered from the stored `DayResult`s of the range, plus what the incidents stage stored, when present: incident
documents under `<results_prefix>/<model>/incidents/` and the delivery log (JSON or JSON-lines files whose name
says `deliver`). Stored as `<results_prefix>/<model>/reports/period_<start>_<end>.html`, self-contained like the
daily report, linking to each day's report.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from typing import Any

from watchkeeper.config import ModelConfig
from watchkeeper.reports import figures
from watchkeeper.reports.daily import CSS, metric_series
from watchkeeper.reports.history import stored_results
from watchkeeper.result import DayResult, Status
from watchkeeper.storage import Storage


def period_key(cfg: ModelConfig, start: date, end: date) -> str:
    return (
        f"{cfg.storage.results_prefix}/{cfg.name}/reports/period_{start.isoformat()}_{end.isoformat()}.html"
    )


def signal_rows(results: list[DayResult]) -> tuple[list[str], dict[tuple[str, date], str]]:
    """Rows of the timeline and each (row, day) cell's state: the stages' verdicts, then every policy signal seen
    (fired: alert; evaluated and held back: ok), then the actions taken."""
    cells: dict[tuple[str, date], str] = {}
    stages, signals, actions = {}, {}, {}
    for r in results:
        for s in r.stages:
            row = f"stage: {s.stage}"
            stages[row] = None
            cells[(row, r.day)] = ("alert" if s.alerts else "warning") if s.status == "alert" else s.status
        for x in r.decisions:
            row = f"signal: {x.signal}"
            signals[row] = None
            if x.fired or cells.get((row, r.day)) != "alert":
                cells[(row, r.day)] = "alert" if x.fired else "ok"
        for a in r.actions:
            row = f"action: {a.kind} {a.owner}"
            actions[row] = None
            cells[(row, r.day)] = "action"
    return [*stages, *sorted(signals), *sorted(actions)], cells


def _load_docs(results: Storage, prefix: str, match: str = "", exclude: str = "") -> list[dict[str, Any]]:
    """JSON documents (or JSON lines) below `prefix` whose file name contains `match` (and not `exclude`);
    unreadable ones are skipped."""
    docs = []
    for key in results.list(prefix):
        name = key.rsplit("/", 1)[-1]
        if match not in name or (exclude and exclude in name) or not key.endswith((".json", ".jsonl")):
            continue
        try:
            text = results.read_bytes(key).decode()
            loaded = [json.loads(line) for line in text.splitlines() if line.strip()] if key.endswith("l") else [
                json.loads(text)
            ]  # fmt: skip
        except (ValueError, UnicodeDecodeError):
            continue
        for doc in loaded:
            docs += doc if isinstance(doc, list) else [doc]
    return [d for d in docs if isinstance(d, dict)]


def _in_range(doc: dict, start: date, end: date, fields: tuple[str, ...]) -> bool:
    """Whether a document's first date-like field among `fields` falls in the range (kept when it has none)."""
    for f in fields:
        value = str(doc.get(f) or "")[:10]
        try:
            return start <= date.fromisoformat(value) <= end
        except ValueError:
            continue
    return True


def _table(docs: list[dict], preferred: list[str]) -> str:
    columns = [c for c in preferred if any(c in d for d in docs)] or sorted({k for d in docs for k in d})[:8]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_short(d.get(c)))}</td>" for c in columns) + "</tr>" for d in docs
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _short(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:159] + "…"


def render_period(
    cfg: ModelConfig,
    results: list[DayResult],
    start: date,
    end: date,
    incidents: list[dict] | None = None,
    deliveries: list[dict] | None = None,
) -> str:
    days = [r.day for r in results]
    alerted = [r for r in results if r.status == "alert"]
    parts = [
        f"<header class='{'alert' if alerted else 'ok'}'><div class='verdict'>{len(alerted)} / {len(results)}"
        f"</div><div><h1>{escape(cfg.name)} · {start.isoformat()} to {end.isoformat()}</h1>"
        f"<p class='headline'>{len(results)} monitored day(s) with a stored result, {len(alerted)} with alerts"
        f"</p></div></header>",
        f"<p class='desc'>{escape(cfg.description)}</p>" if cfg.description else "",
    ]
    if results:
        rows, cells = signal_rows(results)
        parts.append(
            "<h2>Signals day by day</h2><p class='note'>Red: critical alert or rule fired; amber: warnings only; "
            "blue: action taken; green: ok; grey: could not measure.</p>"
            + f"<figure>{figures.svg(figures.timeline(days, rows, cells))}</figure>"
        )
        series = [
            s for s in metric_series(results, end, (end - start).days + 1) if s.realized or any(s.estimated)
        ]
        charts = "".join(
            f"<figure>{figures.svg(figures.metric_over_days(s, end))}</figure>" for s in series[:6]
        )
        parts.append(f"<h2>Monitored metrics</h2><div class='grid'>{charts}</div>" if charts else "")
        table = "".join(
            f"<tr class='{'warning' if r.status == 'alert' else ''}'><td><a href='../days/{r.day.isoformat()}/"
            f"report.html'>{r.day.isoformat()}</a></td><td>{escape(r.status)}</td>"
            f"<td>{sum(c.status == Status.ALERT for c in r.checks)}</td>"
            f"<td>{escape(', '.join(f'{a.kind} {a.owner}' for a in r.actions))}</td>"
            f"<td>{escape(', '.join(x.rule for x in r.decisions if x.fired))}</td><td>{escape(r.headline)}</td></tr>"
            for r in results
        )
        parts.append(
            "<h2>Days</h2><table><thead><tr><th>day</th><th>status</th><th>alerts</th><th>actions</th>"
            f"<th>rules fired</th><th>headline</th></tr></thead><tbody>{table}</tbody></table>"
        )
    else:
        parts.append("<p>No stored results in this range.</p>")
    if incidents:
        parts.append(f"<h2>Incidents ({len(incidents)})</h2>")
        parts.append(
            _table(incidents, ["id", "signal", "subject", "owner", "state", "status", "opened", "closed"])
        )
    if deliveries:
        parts.append(f"<h2>Alerts sent ({len(deliveries)})</h2>")
        parts.append(
            _table(deliveries, ["day", "sent_at", "key", "destination", "owner", "status", "attempts"])
        )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(cfg.name)} "
        f"{start.isoformat()} to {end.isoformat()}</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )


def store_period(cfg: ModelConfig, results_storage: Storage, start: date, end: date) -> tuple[str, str]:
    """Render and store the period report; (its key, its HTML)."""
    results = stored_results(cfg, results_storage, start, end)
    base = f"{cfg.storage.results_prefix}/{cfg.name}"
    incidents = [
        d
        for d in _load_docs(results_storage, f"{base}/incidents", exclude="deliver")
        if _in_range(d, start, end, ("opened", "day", "updated"))
    ]
    deliveries = [
        d
        for d in _load_docs(results_storage, base, "deliver")
        if _in_range(d, start, end, ("day", "sent_at", "at"))
    ]
    html = render_period(cfg, results, start, end, incidents, deliveries)
    key = period_key(cfg, start, end)
    results_storage.write_bytes(key, html.encode())
    return key, html
