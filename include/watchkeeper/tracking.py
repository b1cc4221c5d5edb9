"""MLflow as the model's monitoring history, rendered from the day's `DayResult` alone (see docs/mlflow.md).

One experiment per model (its description in the experiment note); one run per monitored day, named `<model> <day>`,
whose tags and note carry the verdict; one `<model> timeline` run holding every day's day-level metrics at that day's
step, so the UI charts them across days. Metrics carry `step` = days since the model's `start_date` and `timestamp`
= the monitored day (not the wall clock); bounds sit beside values as `<key>.lower` / `<key>.upper`. Realized metrics
of a prediction day go into that day's run (and the timeline at its step), stamped with the day the labels counted.
Everything is sent in batches and the day's files in one artifact upload; a run is never left RUNNING.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper.reports.ranking import breached, excess
from watchkeeper.result import Check, DayResult, Status, num
from watchkeeper.text import clip

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from watchkeeper.pipeline import Day

_BAD = re.compile(r"[^\w.\- ]")
"""What MLflow accepts in a key (\\w is Unicode: `é` stays `é`), less `/` and `:` which we keep for grouping/Windows."""
EPOCH = date(1970, 1, 1)
BATCH = 1000
"""MLflow's limit of metrics per `log_batch` request."""


def experiment_name(model: str) -> str:
    return f"watchkeeper/{model}"


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _client(tracking_uri: str) -> MlflowClient:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # `set_terminated` would fetch each run to print its URL: a request per run and lines in every task log.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _artifact_root(tracking_uri: str, model: str) -> str | None:
    """Next to a SQLite database, so artifacts never land in the current directory."""
    if tracking_uri.startswith("sqlite:///"):
        db = tracking_uri.removeprefix("sqlite:///")
        db = db if db.startswith("/") else os.path.abspath(db)
        return f"file://{os.path.dirname(db)}/artifacts/{model}"
    return None


def experiment_id(client: MlflowClient, model: str, tracking_uri: str, description: str = "") -> str:
    """The model's experiment, created once; its note (shown atop the experiment page) is the model's description."""
    name = experiment_name(model)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(
            name,
            artifact_location=_artifact_root(tracking_uri, model),
            tags={"watchkeeper.model": model, "mlflow.note.content": description},
        )
    if description and exp.tags.get("mlflow.note.content") != description:
        client.set_experiment_tag(exp.experiment_id, "mlflow.note.content", description)
    return exp.experiment_id


def _find_run(client: MlflowClient, exp_id: str, tag: str, value: str) -> str | None:
    found = client.search_runs([exp_id], filter_string=f"tags.`{tag}` = '{value}'", max_results=1)
    return found[0].info.run_id if found else None


def day_run(client: MlflowClient, exp_id: str, model: str, day: date) -> str:
    """The run of (model, day), created once; later calls return the same run."""
    found = _find_run(client, exp_id, "watchkeeper.day", day.isoformat())
    if found:
        return found
    run = client.create_run(
        exp_id,
        run_name=f"{model} {day.isoformat()}",
        start_time=_ms(day),
        tags={"watchkeeper.model": model, "watchkeeper.day": day.isoformat(), "watchkeeper.kind": "day"},
    )
    return run.info.run_id


def day_runs(
    client: MlflowClient,
    exp_id: str,
    model: str,
    days: Iterable[date],
    finished: dict[str, int | None] | None = None,
) -> dict[date, str]:
    """The runs of several days: one search for the runs started on those days (as `day_run` creates them), then
    `day_run` for any not found that way, so a run is still found (never made twice) whatever its start time.
    `finished`, when given, receives the end time of each found run that is FINISHED."""
    days = sorted(set(days))
    found: dict[str, str] = {}
    if days:
        span = f"attributes.start_time >= {_ms(days[0])} and attributes.start_time <= {_ms(days[-1])}"
        for run in client.search_runs(
            [exp_id], f"tags.`watchkeeper.kind` = 'day' and {span}", max_results=1000
        ):
            day = run.data.tags.get("watchkeeper.day", "")
            if day not in found and finished is not None and run.info.status == "FINISHED":
                finished[run.info.run_id] = run.info.end_time
            found.setdefault(day, run.info.run_id)  # the first, as _find_run
    return {d: found.get(d.isoformat()) or day_run(client, exp_id, model, d) for d in days}


def timeline_run(client: MlflowClient, exp_id: str, model: str, start: date) -> str:
    """The model's timeline run: one point per monitored day for every day-level metric."""
    found = _find_run(client, exp_id, "watchkeeper.kind", "timeline")
    if found:
        return found
    run = client.create_run(
        exp_id,
        run_name=f"{model} timeline",
        start_time=_ms(start),
        tags={
            "watchkeeper.model": model,
            "watchkeeper.kind": "timeline",
            "mlflow.note.content": f"Every monitored day of {model} at step = days since {start.isoformat()}.",
        },
    )
    return run.info.run_id


def metric_key(stage: str, name: str, subject: str, segment: str | None = None) -> str:
    """`<stage>.<name>[.<subject>][.<segment>]`, safe for MLflow and distinct for distinct inputs.

    Characters MLflow refuses become `_`; when any had to be replaced (or the key would read as a path), a short hash
    of the original is appended, so `a+b` and `a%b`, or two names differing in such characters, never share a key.
    A segment `column=value` reads `column_value`.
    """
    raw = f"{stage}.{name}" if subject in (name, "table") else f"{stage}.{name}.{subject}"
    raw = f"{raw}.{segment.replace('=', '_', 1)}" if segment else raw  # `region=north` reads `region_north`
    key = _BAD.sub("_", raw)
    if key != raw or posixpath.normpath(key) != key:
        key = f"{key}-{hashlib.sha1(raw.encode()).hexdigest()[:6]}"
    return key


def day_index(day: date, start: date) -> int:
    """The readable step of a day: days since the model's start date (0 on the start date)."""
    return (day - start).days


def day_metrics(result: DayResult) -> dict[str, float]:
    """The day's metrics, keys sorted: values and their bounds, stage alert counts, estimate bands."""
    out: dict[str, float] = {"rows": float(result.rows)}
    for c in result.checks:
        if c.value is None or "@" in c.subject:
            continue  # a past prediction day's realized metrics go to that day's run
        key = metric_key(c.stage, c.name, c.subject, c.segment)
        out[key] = float(c.value)
        for side in ("lower", "upper"):
            if (bound := getattr(c, side)) is not None:
                out[f"{key}.{side}"] = float(bound)
    for s in result.stages:
        out[f"alerts.{s.stage}"] = float(s.alerts + s.warnings)
    out["alerts.total"] = float(len(result.alerts))
    out["status.alert"] = float(result.status == "alert")
    quality = [c for c in result.checks if c.stage == "quality"]
    if quality:
        out["quality.expectations"] = float(len(quality))
        for sev in ("critical", "warning"):
            out[f"quality.failed_{sev}"] = float(
                sum(c.status == Status.ALERT and c.severity == sev for c in quality)
            )
    out.update(estimate_bands(result))
    return dict(sorted(out.items()))


def estimate_bands(result: DayResult) -> dict[str, float]:
    """The sampling-error band beside each estimated metric, as `performance.estimated_<m>.band_lower/upper`."""
    out = {}
    for e in result.estimates:
        if e.segment is None and e.band_lower is not None and e.band_upper is not None:
            key = metric_key("performance", f"estimated_{e.metric}", f"estimated_{e.metric}")
            out[f"{key}.band_lower"], out[f"{key}.band_upper"] = float(e.band_lower), float(e.band_upper)
    return out


def realized_metrics(result: DayResult) -> dict[date, dict[str, float]]:
    """Per prediction day whose labels were counted today: realized metrics, coverage, estimation error, segments."""
    out = {}
    for rec in result.realized:
        values = {f"realized.{k}": v for k, v in rec.metrics.items() if v is not None}
        values["realized.label_coverage"] = rec.coverage
        values.update({f"estimation_error.{k}": v for k, v in rec.estimation_error.items()})
        for segment, seg in rec.segments.items():
            values.update(
                {
                    metric_key("realized", k, k, segment): v
                    for k, v in seg.get("metrics", {}).items()
                    if v is not None
                }
            )
        out[rec.prediction_day] = {k: float(v) for k, v in sorted(values.items())}
    return out


def _send(
    client: MlflowClient, run_id: str, metrics: list[Metric], tags: dict[str, str] | None = None
) -> None:
    from mlflow.entities import RunTag

    tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
    for i in range(0, max(len(metrics), 1), BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + BATCH], tags=tag_list if i == 0 else [])


def _points(values: dict[str, float], ts: int, step: int) -> list[Metric]:
    from mlflow.entities import Metric

    return [Metric(k, v, ts, step) for k, v in values.items()]


def log_day(result: DayResult, tracking_uri: str, d: Day | None = None) -> tuple[str, str]:
    """Log (or re-log) the day: its run, the timeline, realized metrics of past prediction days; (experiment, run).

    `d` gives the model's start date and description (config) and the stored files of the day to upload.
    """
    client = _client(tracking_uri)
    start = d.cfg.start_date if d is not None else EPOCH
    exp_id = experiment_id(client, result.model, tracking_uri, d.cfg.description if d is not None else "")
    run_id = day_run(client, exp_id, result.model, result.day)
    result.mlflow_experiment_id, result.mlflow_run_id = exp_id, run_id
    ts, step = _ms(result.day), day_index(result.day, start)
    status = "FAILED"
    try:
        metrics = day_metrics(result)
        _send(client, run_id, _points(metrics, ts, step), run_tags(result))
        with tempfile.TemporaryDirectory(prefix="watchkeeper-mlflow-") as tmp:
            write_artifacts(result, Path(tmp), d)
            client.log_artifacts(run_id, tmp)
        timeline = timeline_run(client, exp_id, result.model, start)
        points = _points(metrics, ts, step)
        realized = realized_metrics(result)
        finished: dict[str, int | None] = {}
        runs = day_runs(client, exp_id, result.model, realized, finished)
        for pday, values in realized.items():
            pstep = day_index(pday, start)
            points += _points(values, ts, pstep)
            run = runs[pday]
            _log_past_day(
                client, exp_id, result.model, pday, _points(values, ts, pstep), run, finished.get(run)
            )
        _send(client, timeline, points)
        client.set_terminated(timeline, "FINISHED")
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status, end_time=ts + 86_399_000)
    return exp_id, run_id


def _log_past_day(
    client: MlflowClient,
    exp_id: str,
    model: str,
    pday: date,
    points: list[Metric],
    run_id: str | None = None,
    ended: int | None = None,
) -> None:
    """Realized metrics into the prediction day's run (created if that day was never run), left FINISHED.

    `ended`: the run's end time when it is known FINISHED already; at that end time it is not set again (one
    write less per re-scored day of a label window)."""
    run_id = run_id or day_run(client, exp_id, model, pday)
    end_time = _ms(pday) + 86_399_000
    try:
        _send(client, run_id, points)
    finally:
        if ended != end_time:
            client.set_terminated(run_id, "FINISHED", end_time=end_time)


def run_tags(result: DayResult) -> dict[str, str]:
    """The verdict as the runs list shows it: status and severity columns, and the run's note (description)."""
    return {
        "watchkeeper.status": result.status,
        "watchkeeper.severity": str(result.severity or "none"),
        "watchkeeper.alerts": str(len(result.alerts)),
        "watchkeeper.headline": result.headline[:500],
        "watchkeeper.actions": ",".join(f"{a.kind}:{a.owner}" for a in result.actions) or "none",
        "watchkeeper.top_drifted_features": ",".join(result.top_drifted_features)[:500],
        **{f"watchkeeper.stage.{s.stage}": s.status for s in result.stages},
        "mlflow.note.content": render_summary(result),
        "mlflow.runName": run_name(result),
    }


def run_name(result: DayResult, limit: int = 120) -> str:
    """'<day> ok · <model>' or '<day> CRITICAL · <what> · <model>' (WARNING, INFO): MLflow's runs list shows only
    the first ~22 characters of a name, so the day and verdict come first (the experiment already names the model;
    runs are found by their `watchkeeper.day` tag, not by name)."""
    day = result.day.isoformat()
    if result.status == "ok":
        return f"{day} ok · {result.model}"
    what = result.headline.removeprefix(f"{result.model} {day}: ")
    return clip(f"{day} {str(result.severity or 'alert').upper()} · {what} · {result.model}", limit)


def write_artifacts(result: DayResult, folder: Path, d: Day | None = None) -> None:
    """The day's folder as MLflow shows it: the result, its summary, the quality table, the report's figures (SVG,
    which MLflow's artifact view shows as images), and the stored files the result lists (report, GX validation
    result) copied as they are."""
    import json

    from watchkeeper.quality.report import table

    (folder / "result.json").write_text(json.dumps(result.model_dump(mode="json"), indent=1))
    # Column names may not be ASCII.
    (folder / "summary.md").write_text(render_summary(result), encoding="utf-8")
    quality = [c for c in result.checks if c.stage == "quality"]
    if quality:
        data = table(quality)
        (folder / "quality").mkdir()
        (folder / "quality" / "expectations.json").write_text(
            json.dumps({"columns": list(data), "data": [list(r) for r in zip(*data.values(), strict=True)]})
        )
    if result.distributions:
        from watchkeeper.reports.daily import drift_figures

        (folder / "figures").mkdir()
        for i, (column, svg) in enumerate(drift_figures(result)):
            name = f"{i + 1:02d}_drift_{re.sub(r'[^A-Za-z0-9_.-]', '_', column)}.svg"
            (folder / "figures" / name).write_text(svg, encoding="utf-8")
    if d is not None:
        for name in _stored_files(result):
            data = d.results.read_bytes_if_any(d.key(name))
            if data is not None:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)


def _stored_files(result: DayResult) -> Iterable[str]:
    """The day's stored files named in `result.artifacts` besides the result itself, as paths in the day folder."""
    return (name for name in result.artifacts if name != "result.json" and not name.startswith(("/", "..")))


def _line(c: Check) -> str:
    where = f"`{c.subject}`" + (f" [{c.segment}]" if c.segment else "")
    past = excess(c)
    how = "" if past == float("inf") else f", {100 * past:.0f} % past its bound"
    return f"- **{c.severity}** {c.id} {where}: {c.reason or num(c.value)}{how}"


def render_summary(result: DayResult, limit: int = 12) -> str:
    """The day in Markdown (the run's description): verdict, stages, worst breaches first, actions."""
    lines = [
        f"**{result.status.upper()}** · {result.headline}",
        "",
        "| stage | status | alerts | warnings | note |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s.stage} | {s.status} | {s.alerts} | {s.warnings} | {s.note} |" for s in result.stages]
    ranked = breached(result)
    lines += ["", f"## Alerts ({len(ranked)})", ""]
    lines += [_line(c) for c in ranked[:limit]] or ["none"]
    if len(ranked) > limit:
        lines.append(f"- … and {len(ranked) - limit} more (see result.json)")
    lines += ["", "## Actions", ""]
    lines += [f"- {a.kind} → {a.owner}: {a.reason}" for a in result.actions] or ["none"]
    return "\n".join(lines) + "\n"
