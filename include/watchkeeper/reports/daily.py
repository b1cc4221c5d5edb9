"""The daily HTML report: one self-contained page per model-day, rendered from the day's `DayResult` alone.

Earlier days come from their stored `result.json` (`reports.history`) for the metric-over-days charts and label
coverage. The page has inline CSS and inline SVG figures, no script and no external asset, so it opens offline, in
the MLflow artifact viewer, and from object storage; it is stored as `<results>/<model>/days/<day>/report.html`.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING

from watchkeeper.reports import figures
from watchkeeper.reports.history import stored_results
from watchkeeper.reports.ranking import SEVERITY_ORDER, breached, excess
from watchkeeper.result import Check, DayResult, Realized, Status, num

if TYPE_CHECKING:
    from watchkeeper.pipeline import Day

WINDOW_DAYS = 28
"""How many days the metric charts and the coverage table look back (today included)."""
COVERAGE_DAYS = 14


def store_report(d: Day, result: DayResult) -> str:
    """Render the day's report from its result and the stored results of the last weeks; store it; its key."""
    start = result.day - timedelta(days=WINDOW_DAYS - 1)
    earlier = [r for r in stored_results(d.cfg, d.results, start, result.day) if r.day < result.day]
    key = d.key("report.html")
    d.results.write_bytes(key, render(result, earlier, d.cfg.description).encode())
    return key


def metric_series(
    results: list[DayResult], today: date, window: int = WINDOW_DAYS
) -> list[figures.MetricSeries]:
    """Each performance metric over the window: the day's estimate, band and bounds; realized values of each
    prediction day (the latest known); and the days its estimated or realized check alerted."""
    days = [today - timedelta(days=i) for i in range(window - 1, -1, -1)]
    by_day = {r.day: r for r in results}
    names: dict[str, None] = {}
    for r in results:
        names.update({e.metric: None for e in r.estimates if e.segment is None})
        for rec in r.realized:
            names.update({m: None for m, v in rec.metrics.items() if v is not None})
    out = []
    for m in names:
        s = figures.MetricSeries(m, days)
        realized_bounds: dict[date, tuple[float | None, float | None]] = {}
        for r in sorted(results, key=lambda r: r.day):
            for rec in r.realized:
                if (value := rec.metrics.get(m)) is not None:
                    s.realized[rec.prediction_day] = value
                    (s.provisional.add if rec.provisional else s.provisional.discard)(rec.prediction_day)
            for c in r.checks:
                if c.stage != "performance" or c.segment is not None:
                    continue
                if c.name == m and c.subject.startswith(f"{m}@"):
                    pday = date.fromisoformat(c.subject.split("@", 1)[1])
                    realized_bounds[pday] = (c.lower, c.upper)
                    if c.status == Status.ALERT:
                        s.alerts.add(pday)
                elif c.name == f"estimated_{m}" and c.status == Status.ALERT:
                    s.alerts.add(r.day)
        for day in days:
            r = by_day.get(day)
            e = next((e for e in r.estimates if e.metric == m and e.segment is None), None) if r else None
            rb = realized_bounds.get(day, (None, None))
            s.estimated.append(e.value if e else None)
            s.band_lower.append(e.band_lower if e else None)
            s.band_upper.append(e.band_upper if e else None)
            s.lower.append(e.lower if e and e.lower is not None else rb[0])
            s.upper.append(e.upper if e and e.upper is not None else rb[1])
            s.challenger.append(r.shadow.estimated.get(m) if r and r.shadow else None)
        # The challenger's realized value of each prediction day: the latest labelling wins.
        for r in sorted(results, key=lambda r: r.day):
            for pday, roles in (r.shadow.realized if r.shadow else {}).items():
                if (value := roles.get("challenger", {}).get(m)) is not None:
                    s.challenger_realized[date.fromisoformat(pday)] = value
        s.challenger_realized = {k: v for k, v in s.challenger_realized.items() if k >= days[0]}
        s.realized = {k: v for k, v in s.realized.items() if k >= days[0]}
        s.alerts = {k for k in s.alerts if k >= days[0]}
        out.append(s)
    return out


def coverage(results: list[DayResult], limit: int = COVERAGE_DAYS) -> list[Realized]:
    """The latest label record of each prediction day seen in the results, newest prediction day first."""
    latest: dict[date, Realized] = {}
    for r in sorted(results, key=lambda r: r.day):
        latest.update({rec.prediction_day: rec for rec in r.realized})
    return [latest[k] for k in sorted(latest, reverse=True)[:limit]]


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _pill(status: str, severity: str | None = None) -> str:
    cls = severity if status == "alert" and severity else status
    return f'<span class="pill {escape(cls)}">{escape(status.replace("_", " "))}</span>'


def _bound(value: float | None) -> float | None:
    """A bound worth showing: none when absent or at the float limits (a suite's "any finite value")."""
    return None if value is None or not abs(value) < 1e300 else value


def _bounds(c: Check) -> str:
    """`≥ lower`, `≤ upper` or `lower – upper` when the check has real bounds, else the suite's arguments, else ''."""
    lower, upper = _bound(c.lower), _bound(c.upper)
    if lower is not None and upper is not None:
        return f"{num(lower)} – {num(upper)}"
    if lower is not None or upper is not None:
        return f"≥ {num(lower)}" if lower is not None else f"≤ {num(upper)}"
    if c.lower is not None or c.upper is not None:
        return ""
    rule = c.threshold_rule.removeprefix("suite").removeprefix(": ").strip()
    return rule if rule and len(rule) < 60 else ""


def _observed(c: Check) -> str:
    observed = c.details.get("observed_value", c.value)
    if isinstance(observed, bool) or observed is None:
        return "" if observed is None else str(observed)
    if isinstance(observed, int | float):
        return num(float(observed))
    text = str(observed)
    return text if len(text) <= 40 else text[:39] + "…"


def _head(result: DayResult) -> str:
    verdict = result.status if result.status == "ok" else f"{result.severity} alert"
    first = sorted(result.actions, key=lambda a: (SEVERITY_ORDER[a.severity], a.kind != "notify"))
    todo = (
        f"<p class='todo'><b>Do first:</b> {_e(first[0].kind)} → <b>{_e(first[0].owner)}</b> owner: "
        f"{_e(first[0].reason)}</p>"
        if first
        else "<p class='todo'>Nothing to do: every measured check is within its bounds.</p>"
    )
    rest = "".join(
        f"<li>{_e(a.kind)} → {_e(a.owner)}{f' (rule {_e(a.rule)})' if a.rule else ''}: {_e(a.reason)}</li>"
        for a in first[1:]
    )
    stages = " ".join(
        f"<span class='stage'>{_e(s.stage)} {_pill(s.status)}"
        f"{f' {s.alerts + s.warnings} alert(s)' if s.alerts + s.warnings else ''}</span>"
        for s in result.stages
    )
    return (
        f"<header class='{escape(result.status)}'><div class='verdict'>{escape(verdict.upper())}</div>"
        f"<div><h1>{_e(result.model)} · {result.day.isoformat()}</h1><p class='headline'>{_e(result.headline)}</p>"
        f"</div></header>{todo}{f'<ul>{rest}</ul>' if rest else ''}<p class='stages'>{stages}"
        f" · {result.rows:,} rows</p>"
    )


def _breaches(result: DayResult) -> str:
    rows = []
    for c in breached(result):
        past = excess(c)
        how = "" if math.isinf(past) or past <= 0 else f"{100 * past:.0f} % past"
        where = f"{c.subject}{f' [{c.segment}]' if c.segment else ''}"
        bound = (
            num(c.upper)
            if c.value is not None and c.upper is not None and c.value > c.upper
            else num(c.lower)
        )
        rows.append(
            f"<tr class='{escape(c.severity)}'><td><span class='pill {escape(c.severity)}'>{escape(c.severity)}</span></td>"
            f"<td><code>{_e(c.id)}</code></td><td>{_e(where)}</td><td>{num(c.value)}</td>"
            f"<td>{bound if c.value is not None else ''}</td><td>{how}</td><td>{_e(c.reason)}</td></tr>"
        )
    if not rows:
        return "<h2>Breached checks</h2><p>None.</p>"
    return (
        f"<h2>Breached checks ({len(rows)})</h2><table><thead><tr><th>severity</th><th>check</th><th>subject</th>"
        "<th>value</th><th>bound</th><th>past&nbsp;bound</th><th>why</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _decisions(result: DayResult) -> str:
    fired = [x for x in result.decisions if x.fired]
    items = "".join(
        f"<li><b>{_e(x.rule)}</b> ({_e(x.signal)}{f' on {_e(x.subject)}' if x.subject != '*' else ''}): "
        f"{_e(x.why)}{f' — <i>{_e(x.suppressed)}</i>' if x.suppressed else ''}</li>"
        for x in fired
    )
    incidents = "".join(
        f"<li><code>{_e(i.id)}</code> {_e(i.transition)}: {_e(i.signal)} on {_e(i.subject)} "
        f"(owner {_e(i.owner)}, open since {i.opened.isoformat()})</li>"
        for i in result.incidents
    )
    out = f"<h2>Rules that fired</h2><ul>{items}</ul>" if items else ""
    return out + (f"<h2>Incidents</h2><ul>{incidents}</ul>" if incidents else "")


def drift_figures(result: DayResult) -> list[tuple[str, str]]:
    """(column, SVG) of each drifted column's distribution today against the reference, captioned with its worst
    alerting drift check: the daily report's figures, and the day's MLflow run's."""
    worst = {}
    for c in result.checks:
        alerting = c.stage == "drift" and c.status == Status.ALERT and c.segment is None
        if alerting and (c.subject not in worst or excess(c) > excess(worst[c.subject])):
            worst[c.subject] = c
    drawn = []
    for dist in result.distributions:
        c = worst.get(dist.column)
        caption = f"{c.name} {num(c.value)} > {num(c.upper)}" if c and c.upper is not None else ""
        drawn.append((dist.column, figures.distribution_svg(dist, caption)))
    return drawn


def _drift(result: DayResult) -> str:
    if not result.distributions:
        if result.top_drifted_features:
            return f"<h2>Drifted features</h2><p>{_e(', '.join(result.top_drifted_features))}</p>"
        return ""
    cells = [f"<figure>{svg}</figure>" for _, svg in drift_figures(result)]
    return (
        "<h2>Drifted features: today against the reference</h2><div class='grid'>" + "".join(cells) + "</div>"
    )


def _metrics(series: list[figures.MetricSeries], today: date) -> str:
    shown = [s for s in series if any(v is not None for v in s.estimated) or s.realized]
    if not shown:
        return ""
    body = "".join(f"<figure>{figures.svg(figures.metric_over_days(s, today))}</figure>" for s in shown)
    return (
        f"<h2>Monitored metrics over the last {WINDOW_DAYS} days</h2><p class='note'>Estimated before labels "
        "(line, with its sampling band), realized once labels arrive (dots; hollow while provisional), alert "
        "bounds dashed, alert days shaded; a challenger scored in shadow dotted (estimate) and as diamonds "
        f"(realized).</p><div class='grid'>{body}</div>"
    )


def _coverage(records: list[Realized]) -> str:
    if not records:
        return ""
    rows = "".join(
        f"<tr><td>{r.prediction_day.isoformat()}</td><td>{r.as_of.isoformat()}</td>"
        f"<td>{r.labelled:,} / {r.predictions:,}</td><td><div class='bar'><span style='width:"
        f"{100 * min(max(r.coverage, 0.0), 1.0):.0f}%'></span></div> {100 * r.coverage:.1f} %</td>"
        f"<td>{'provisional' if r.provisional else 'final'}</td></tr>"
        for r in records
    )
    return (
        "<h2>Label coverage per prediction day</h2><table><thead><tr><th>prediction day</th><th>as of</th>"
        f"<th>labelled</th><th>coverage</th><th>state</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _quality_rows(checks: list[Check]) -> str:
    rows = []
    for c in checks:
        pct = c.details.get("unexpected_percent")
        rows.append(
            f"<tr class='{escape(c.severity) if c.status == Status.ALERT else ''}'>"
            f"<td>{_pill(c.status, c.severity)}</td><td>{_e(c.name)}</td><td>{_e(c.subject)}</td>"
            f"<td>{_e(c.severity)}</td><td>{_e(_observed(c))}</td>"
            f"<td>{'' if pct is None else f'{pct:.2f} %'}</td><td>{_e(_bounds(c))}</td><td>{_e(c.reason)}</td></tr>"
        )
    head = (
        "<tr><th>status</th><th>check</th><th>subject</th><th>severity</th><th>observed</th><th>unexpected</th>"
        "<th>expected</th><th>why</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _quality(result: DayResult) -> str:
    """Failed and unmeasured expectations in a table; the passing ones folded below it."""
    checks = [c for c in result.checks if c.stage in ("load", "quality")]
    if not checks:
        return ""
    order = {Status.ALERT: 0, Status.SKIPPED: 1, Status.OK: 2}
    ranked = sorted(checks, key=lambda c: (order[c.status], SEVERITY_ORDER[c.severity]))
    open_ = [c for c in ranked if c.status != Status.OK]
    passed = [c for c in ranked if c.status == Status.OK]
    failed = sum(c.status == Status.ALERT for c in checks)
    return (
        f"<h2>Data quality ({failed} of {len(checks)} failed)</h2>"
        + (_quality_rows(open_) if open_ else "")
        + (
            f"<details><summary>{len(passed)} passed</summary>{_quality_rows(passed)}</details>"
            if passed
            else ""
        )
    )


def _not_measured(result: DayResult) -> str:
    by_reason: dict[str, int] = {}
    for c in result.checks:
        if c.status == Status.SKIPPED and c.not_measured:
            by_reason[c.not_measured] = by_reason.get(c.not_measured, 0) + 1
    if not by_reason:
        return ""
    items = "".join(f"<li>{_e(k.replace('_', ' '))}: {n} check(s)</li>" for k, n in sorted(by_reason.items()))
    return f"<h2>Could not measure</h2><ul>{items}</ul>"


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:0 1.2em 2em;
color:#202124;font-size:14px}
header{display:flex;gap:1em;align-items:center;margin:1em 0 .4em;padding:.6em 1em;border-radius:8px}
header.ok{background:#e6f4ea}header.alert{background:#fce8e6}
.verdict{font-weight:700;font-size:1.1em;padding:.4em .7em;border-radius:6px;color:#fff;background:#188038}
header.alert .verdict{background:#c5221f}
h1{font-size:1.3em;margin:0}h2{font-size:1.05em;margin:1.4em 0 .4em;border-bottom:1px solid #dadce0}
.headline{margin:.2em 0}.todo{font-size:1.05em}.note{color:#5f6368;margin:.2em 0}.desc{color:#5f6368}
table{border-collapse:collapse;font-size:.88em;width:100%}
th,td{border-bottom:1px solid #e8eaed;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f8f9fa}tr.critical td{background:#fce8e6}tr.warning td{background:#fef7e0}
.pill{display:inline-block;border-radius:9px;padding:0 7px;font-size:.85em;background:#e8eaed}
.pill.ok{background:#ceead6}.pill.critical,.pill.alert{background:#f28b82}.pill.warning{background:#fdd663}
.pill.could_not_measure,.pill.skipped{background:#dadce0}
.stage{margin-right:1em;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:.5em}figure{margin:0}svg{max-width:100%;height:auto}
summary{cursor:pointer;color:#1a73e8;margin:.4em 0}
.bar{display:inline-block;width:110px;height:9px;background:#e8eaed;border-radius:4px;vertical-align:middle}
.bar span{display:block;height:100%;background:#188038;border-radius:4px}
"""


def render(result: DayResult, earlier: list[DayResult], description: str = "") -> str:
    """The page for `result`, with `earlier` days' results (any order) for the charts over days."""
    everything = [*earlier, result]
    series = metric_series(everything, result.day)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(result.model)} {result.day.isoformat()}: {escape(result.status)}</title>"
        f"<style>{CSS}</style></head><body>"
        + _head(result)
        + (f"<p class='desc'>{_e(description)}</p>" if description else "")
        + _breaches(result)
        + _decisions(result)
        + _drift(result)
        + _metrics(series, result.day)
        + _coverage(coverage(everything))
        + _quality(result)
        + _not_measured(result)
        + f"<p class='note'>Watchkeeper result schema v{result.schema_version} · config {_e(result.config_digest[:12])}"
        "</p></body></html>\n"
    )
