"""The period report from stored day results, incidents and the delivery log, through `watchkeeper report`."""

import json
from datetime import timedelta

from click.testing import CliRunner
from helpers import tiny_config
from test_daily_report import DAY, _day, _today
from watchkeeper.cli import main
from watchkeeper.result import Decision, Signal
from watchkeeper.storage import Storage


def test_report_command_writes_the_timeline_incidents_and_alerts_sent(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path / "data"), name="m", description="Default risk model")
    results = Storage.from_uri(str(tmp_path / "data"))
    quiet = _day(DAY - timedelta(days=1), 0.85)
    quiet.decisions = [Decision(rule="drift-rule", signal=Signal.FEATURE_DRIFT, fired=False, why="held back")]
    loud = _today()
    loud.decisions = [Decision(rule="drift-rule", signal=Signal.FEATURE_DRIFT, fired=True, why="3 days")]
    for r in (quiet, loud, _day(DAY + timedelta(days=5), 0.9)):  # the last one is outside the range
        results.write_json(cfg.results_key(r.day, "result.json"), r.model_dump(mode="json"))
    base = f"{cfg.storage.results_prefix}/m"
    results.write_json(
        f"{base}/incidents/inc-1.json", {"id": "inc-1", "signal": "feature_drift", "opened": str(DAY)}
    )
    results.write_bytes(
        f"{base}/incidents/deliveries.jsonl",
        (json.dumps({"day": str(DAY), "key": "m/2026-02-10/notify:model", "status": "sent"}) + "\n").encode(),
    )
    out = tmp_path / "period.html"
    done = CliRunner().invoke(
        main,
        ["report", "--config", str(tmp_path / "tiny.yaml"), "--start", str(DAY - timedelta(days=1)),
         "--end", str(DAY), "--output", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    html = out.read_text()
    assert done.output.strip().endswith(f"reports/period_{DAY - timedelta(days=1)}_{DAY}.html")
    assert "2 monitored day(s) with a stored result, 1 with alerts" in html
    assert "signal: feature_drift" in html  # a timeline row for the policy signal
    assert html.count("<svg") >= 2  # the timeline and the metric chart
    assert f"../days/{DAY}/report.html" in html and str(DAY + timedelta(days=5)) not in html
    incidents = html[html.index("Incidents (1)") :]
    assert "inc-1" in incidents and "deliveries" not in incidents[: incidents.index("Alerts sent")]
    assert "Alerts sent (1)" in html and "m/2026-02-10/notify:model" in html


def test_report_command_rejects_a_reversed_range(tmp_path):
    tiny_config(tmp_path, str(tmp_path / "data"))
    done = CliRunner().invoke(
        main,
        ["report", "--config", str(tmp_path / "tiny.yaml"), "--start", "2026-02-10", "--end", "2026-02-01"],
    )
    assert done.exit_code == 2 and "before --start" in done.output
