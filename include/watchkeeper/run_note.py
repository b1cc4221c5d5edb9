"""The one-line verdict of a day shown as its Airflow run's note: "ALERT <day>: ..." or "ok <day>: ...", with links.

Built from the day's `DayResult` in the task that stores it, passed through XCom (a short string), and written on
the DAG run by the listener in `plugins/watchkeeper_airflow/run_notes.py`, so the run list shows which days alerted.
The note names the day: Airflow's backfill and `dag.test()` run ids name another moment.
"""

from __future__ import annotations

from watchkeeper.config import ModelConfig
from watchkeeper.result import DayResult, Severity
from watchkeeper.text import clip

NOTE_LIMIT = 1000
"""Characters Airflow's `dag_run_note.content` holds."""


def run_note(cfg: ModelConfig, result: DayResult) -> str:
    """'ALERT 2026-11-29: 2 critical, 1 warning — drift in x, y; to the model owner · MLflow run: URL' or 'ok ...'."""
    from watchkeeper.alerts import links_for
    from watchkeeper.policy import day_signals

    what = result.headline.removeprefix(f"{result.model} {result.day.isoformat()}: ")
    if result.status == "ok":
        text = f"ok {result.day}: {what}"
    else:
        counts = [
            f"{n} {s.value}"
            for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
            if (n := sum(c.severity == s for c in result.alerts))
        ]
        owners = sorted({str(a.owner) for a in result.actions if a.kind == "notify"})
        told = f"; to the {' and '.join(owners)} owner" if owners else ""
        text = f"ALERT {result.day}: {', '.join(counts) or 'alert'} — {what}{told}"
    links = links_for(cfg, day_signals(result))
    text += "".join(f" · {name}: {url}" for name, url in links.items())
    return clip(text, NOTE_LIMIT)
