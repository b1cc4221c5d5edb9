"""MLflow logging of a day's result: one experiment per model, one run per (model, day), replaced on re-runs.

Metrics carry `step` = the day's ordinal and `timestamp` = the day (not the wall clock), so backfilled days land
on their own date; realized metrics of past days are logged into those days' runs as their labels arrive.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from watchkeeper.result import DayResult, Status

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from watchkeeper.pipeline import Day

_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def experiment_name(model: str) -> str:
    return f"watchkeeper/{model}"


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _client(tracking_uri: str) -> MlflowClient:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _artifact_root(tracking_uri: str, model: str) -> str | None:
    """Next to a SQLite database, so artifacts never land in the current directory."""
    if tracking_uri.startswith("sqlite:///"):
        db = tracking_uri.removeprefix("sqlite:///")
        db = db if db.startswith("/") else os.path.abspath(db)
        return f"file://{os.path.dirname(db)}/artifacts/{model}"
    return None


def experiment_id(client: MlflowClient, model: str, tracking_uri: str) -> str:
    name = experiment_name(model)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(
        name, artifact_location=_artifact_root(tracking_uri, model), tags={"watchkeeper.model": model}
    )


def day_run(client: MlflowClient, exp_id: str, model: str, day: date) -> str:
    """The run of (model, day), created once; later calls return the same run."""
    found = client.search_runs(
        [exp_id], filter_string=f"tags.`watchkeeper.day` = '{day.isoformat()}'", max_results=1
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(
        exp_id,
        run_name=f"{model} {day.isoformat()}",
        start_time=_ms(day),
        tags={"watchkeeper.model": model, "watchkeeper.day": day.isoformat()},
    )
    return run.info.run_id


def metric_key(stage: str, name: str, subject: str, segment: str | None = None) -> str:
    key = f"{stage}.{name}" if subject in (name, "table") else f"{stage}.{name}.{subject}"
    return _BAD.sub("_", f"{key}.{segment}" if segment else key)


def log_day(result: DayResult, tracking_uri: str, d: Day | None = None) -> tuple[str, str]:
    """Log (or re-log) the day's metrics, verdicts and result document; return (experiment id, run id)."""
    from mlflow.entities import Metric, RunTag

    client = _client(tracking_uri)
    exp_id = experiment_id(client, result.model, tracking_uri)
    run_id = day_run(client, exp_id, result.model, result.day)
    result.mlflow_experiment_id, result.mlflow_run_id = exp_id, run_id
    ts, step = _ms(result.day), result.day.toordinal()
    metrics: dict[str, float] = {"rows": float(result.rows)}
    for c in result.checks:
        if c.value is None or c.subject.count("@"):
            continue  # past prediction days go to their own runs below
        metrics[metric_key(c.stage, c.name, c.subject, c.segment)] = float(c.value)
    for s in result.stages:
        metrics[f"alerts.{s.stage}"] = float(s.alerts + s.warnings)
    metrics["alerts.total"] = float(sum(c.status == Status.ALERT for c in result.checks))
    metrics.update(estimate_bands(result))
    tags = {
        "watchkeeper.status": result.status,
        "watchkeeper.headline": result.headline[:500],
        "watchkeeper.actions": ",".join(f"{a.kind}:{a.owner}" for a in result.actions) or "none",
        "watchkeeper.top_drifted_features": ",".join(result.top_drifted_features),
        **{f"watchkeeper.stage.{s.stage}": s.status for s in result.stages},
    }
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, ts, step) for k, v in metrics.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    client.log_dict(run_id, result.model_dump(mode="json"), "result.json")  # ids included, as stored
    client.log_text(run_id, render_summary(result), "summary.md")
    if d is not None:
        _log_realized(client, exp_id, result, d)
        log_quality(client, run_id, result, d)
    client.set_terminated(run_id, "FINISHED", end_time=ts + 86_399_000)
    return exp_id, run_id


def estimate_bands(result: DayResult) -> dict[str, float]:
    """The ±3σ sampling-error band beside each estimated metric, as `performance.estimated_<m>.band_lower/upper`."""
    out = {}
    for c in result.checks:
        if c.details.get("estimated") and "band_lower" in c.details and c.segment is None:
            for side in ("band_lower", "band_upper"):
                out[metric_key(c.stage, c.name, c.subject) + f".{side}"] = float(c.details[side])
    return out


def _log_realized(client: MlflowClient, exp_id: str, result: DayResult, d: Day) -> None:
    """Realized metrics of each prediction day that got labels today, into that day's run, as of today."""
    from mlflow.entities import Metric

    key = d.key("stages/performance.json")
    if not d.results.exists(key):
        return
    as_of = _ms(result.day)
    for pday_s, record in d.results.read_json(key).get("realized", {}).items():
        pday = date.fromisoformat(pday_s)
        run_id = day_run(client, exp_id, result.model, pday)
        step = pday.toordinal()
        values = {f"realized.{k}": v for k, v in record["metrics"].items() if v is not None}
        values["realized.label_coverage"] = record["coverage"]
        values.update({f"estimation_error.{k}": v for k, v in record.get("estimation_error", {}).items()})
        for segment, seg in record.get("segments", {}).items():
            values.update(
                {
                    _BAD.sub("_", f"realized.{k}.{segment}"): v
                    for k, v in seg["metrics"].items()
                    if v is not None
                }
            )
        client.log_batch(run_id, metrics=[Metric(k, float(v), as_of, step) for k, v in values.items()])


def log_quality(client: MlflowClient, run_id: str, result: DayResult, d: Day) -> None:
    """The day's data-quality view: GX's result JSON, the HTML page, a table per expectation and summary metrics.

    The table is written with `log_table` once, then replaced in the same format on re-runs (it would append).
    """
    from mlflow.entities import Metric

    from watchkeeper.pipeline import load_checks
    from watchkeeper.quality.report import table

    checks = load_checks(d, "quality")
    if not checks:
        return
    for name in ("quality/gx_validation_result.json", "quality/report.html"):
        if d.results.exists(d.key(name)):
            client.log_text(run_id, d.results.read_bytes(d.key(name)).decode(), name)
    data, path = table(checks), "quality/expectations.json"
    if any(f.path == path for f in client.list_artifacts(run_id, "quality")):
        client.log_dict(
            run_id, {"columns": list(data), "data": [list(r) for r in zip(*data.values(), strict=True)]}, path
        )
    else:
        client.log_table(run_id, data=data, artifact_file=path)
    failed = [c for c in checks if c.status == Status.ALERT]
    summary = {
        "quality.expectations": len(checks),
        "quality.failed_critical": sum(c.severity == "critical" for c in failed),
        "quality.failed_warning": sum(c.severity == "warning" for c in failed),
    }
    ts, step = _ms(result.day), result.day.toordinal()
    client.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in summary.items()])


def render_summary(result: DayResult) -> str:
    lines = [
        f"# {result.headline}",
        "",
        "| stage | status | alerts | warnings | note |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s.stage} | {s.status} | {s.alerts} | {s.warnings} | {s.note} |" for s in result.stages]
    lines += ["", "## Alerts", ""]
    alerts = [c for c in result.checks if c.status == Status.ALERT]
    lines += [f"- **{c.id}** `{c.subject}` ({c.severity}): {c.reason}" for c in alerts] or ["none"]
    lines += ["", "## Actions", ""]
    lines += [f"- {a.kind} → {a.owner}: {a.reason}" for a in result.actions] or ["none"]
    return "\n".join(lines) + "\n"
