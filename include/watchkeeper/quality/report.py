"""The day's data-quality view for people: a self-contained HTML page and a flat table, from the day's quality checks.

GX Data Docs need a file-backed context, a validation-results store and a site of many files; one page with no
external assets is what the MLflow UI previews and what can sit next to the day's other results.
"""

from __future__ import annotations

from html import escape
from typing import Any

from watchkeeper.result import Check

COLUMNS = ["check", "subject", "severity", "status", "observed", "unexpected_percent", "bounds", "reason"]


def rows(checks: list[Check]) -> list[dict[str, Any]]:
    """One row per expectation: failures first (critical before warning), then the rest in suite order."""
    order = {("alert", "critical"): 0, ("alert", "warning"): 1}
    ranked = sorted(enumerate(checks), key=lambda ic: (order.get((ic[1].status, ic[1].severity), 2), ic[0]))
    out = []
    for _, c in ranked:
        observed = c.details.get("observed_value", c.value)
        out.append(
            {
                "check": c.name,
                "subject": c.subject,
                "severity": str(c.severity),
                "status": str(c.status),
                "observed": "" if observed is None else str(observed),
                "unexpected_percent": c.details.get("unexpected_percent"),
                "bounds": c.threshold_rule.removeprefix("suite: ").removeprefix("suite"),
                "reason": c.reason or "",
            }
        )
    return out


def table(checks: list[Check]) -> dict[str, list]:
    """Column-oriented, as `MlflowClient.log_table` takes it."""
    body = rows(checks)
    return {k: [r[k] for r in body] for k in COLUMNS}


def render_html(model: str, day: str, checks: list[Check], suite: str, engine: str) -> str:
    failed = [c for c in checks if c.status == "alert"]
    critical = sum(c.severity == "critical" for c in failed)
    verdict = (
        "all expectations met"
        if not failed
        else f"{critical} critical, {len(failed) - critical} warning expectation(s) failed"
    )
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in COLUMNS)
    body = []
    for r in rows(checks):
        cls = "ok" if r["status"] == "ok" else r["severity"]
        cells = "".join(f"<td>{escape('' if r[k] is None else str(r[k]))}</td>" for k in COLUMNS)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    unseen = [
        f"<li><b>{escape(c.subject)}</b>: "
        + ", ".join(
            f"{escape(v['value'])} ({v['count']} rows, {100 * v['share']:.2f}%)"
            for v in c.details["unexpected_values"]
        )
        + "</li>"
        for c in checks
        if c.details.get("unexpected_values")
    ]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Data quality: {escape(model)} {escape(day)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }}
tr.critical td {{ background: #fbe3e3; }} tr.warning td {{ background: #fff4d6; }}
</style></head><body>
<h1>Data quality: {escape(model)} on {escape(day)}</h1>
<p><b>{escape(verdict)}</b> &middot; {len(checks)} expectations from suite <code>{escape(suite)}</code>
 &middot; validated by {escape(engine)}</p>
{"<h2>Values unseen in the reference</h2><ul>" + "".join(unseen) + "</ul>" if unseen else ""}
<table><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table>
</body></html>
"""
