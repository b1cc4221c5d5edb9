"""The day's stages as functions shared by the CLI and the DAG tasks: load → quality → drift → performance → finish.

Each stage reads its inputs from storage and writes its checks to `<results>/<model>/days/<day>/stages/<stage>.json`,
returning that key, so DAG tasks pass only keys; re-running a day replaces its stored results.
"""

from __future__ import annotations

import functools
import logging
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pyarrow as pa

from watchkeeper import decisions
from watchkeeper.config import ModelConfig
from watchkeeper.disclosure import (
    coarsen_generated_bounds,
    drop_pii_batches,
    shown,
    stored_result,
    suite_without_pii,
)
from watchkeeper.drift.day import DayColumns
from watchkeeper.drift.labels import label_checks
from watchkeeper.drift.stage import apply_persistence, drift_checks, top_drifted
from watchkeeper.history import apply_policy, store_signals
from watchkeeper.loading import InputError, day_key, read_table, stream_table
from watchkeeper.performance.stage import estimation_checks, performance_checks
from watchkeeper.projections import project_mlflow, store_result
from watchkeeper.reference import dle_estimator, drift_state, get_profile, load_reference, profile_key
from watchkeeper.result import Check, DayResult, Estimate, Realized, Severity, Status
from watchkeeper.staged import (
    IPC_NAME,
    PARQUET_NAME,
    TEXT,
    StagedFile,
    StagedWriter,
    open_staged,
    staged_name,
)
from watchkeeper.stamps import parse_text_timestamps
from watchkeeper.storage import Storage
from watchkeeper.volume import RECENT_DAYS, day_size_check, volume_check

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Day:
    """One model on one day, with the storage its data and results live in."""

    cfg: ModelConfig
    day: date
    storage: Storage
    """Where the model's input data is read from."""
    results: Storage
    """Where results are written (often the same storage)."""

    def key(self, name: str) -> str:
        return self.cfg.results_key(self.day, name)

    @property
    def staged_key(self) -> str:
        """The staged copy: Arrow IPC on local disk, Parquet on object storage (`staged`)."""
        return self.key(staged_name(self.results))

    def staged(self, dictionary: Sequence[str] | str = ()) -> StagedFile:
        return open_staged(self.results, self.staged_key, dictionary)

    @functools.cached_property
    def profile(self) -> dict:
        """The reference profile (`get_profile`), read once per `Day`: stages run in one process share it."""
        return get_profile(self.cfg, self.storage, self.results)


def save_checks(d: Day, stage: str, checks: list[Check], extra: dict | None = None) -> str:
    key = d.key(f"stages/{stage}.json")
    # Whole or absent for a reader: later days read a day's drift while its run may be writing it.
    d.results.write_json(
        key, {"checks": [c.model_dump(mode="json") for c in checks], **(extra or {})}, whole=True
    )
    return key


def load_checks(d: Day, stage: str) -> list[Check]:
    doc = d.results.read_json_if_any(d.key(f"stages/{stage}.json"))
    return [] if doc is None else [Check.model_validate(c) for c in doc["checks"]]


def load_day(d: Day) -> dict:
    """Copy the day's prediction records to staging (`staged`), batch by batch (bounded memory).

    Raises InputError when the file is missing, empty or corrupt; a partly written staged copy is then removed.
    """
    # Being recomputed: no earlier result stays visible beside the new stage files. The earlier run's stage files
    # stay until each stage replaces its own: later days read this day's drift facts and quality verdict, and a
    # later day judged meanwhile (a backfill re-running neighbouring days at once) must not find them missing.
    d.results.delete(d.key("result.json"))
    source = day_key(d.cfg, d.day)
    rows = 0
    try:
        schema, batches = drop_pii_batches(d.cfg, *stream_table(d.storage, source, d.cfg.paths.csv))
        schema, batches, parsed = parse_text_timestamps(schema, batches, d.cfg.columns.timestamp)
        with StagedWriter(d.results, d.staged_key, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
    except InputError as exc:
        d.results.delete_prefix(d.staged_key)
        record_load_failure(d, exc.kind, str(exc))
        raise
    for other in (IPC_NAME, PARQUET_NAME):  # a copy in the other format, staged by an earlier version
        if d.key(other) != d.staged_key:
            d.results.delete(d.key(other))
    info = {
        "day": d.day.isoformat(),
        "rows": rows,
        "source": d.storage.url(source),
        "staged_key": d.staged_key,
        **({"timestamps_parsed_from_text": d.cfg.columns.timestamp} if parsed else {}),
    }
    volume = volume_check(d.cfg, rows)
    checks = [volume.model_dump(mode="json")] if volume else []
    d.results.write_json(d.key("stages/load.json"), {"checks": checks, **info}, whole=True)
    return info


def record_load_failure(d: Day, kind: str, message: str) -> None:
    """Store why the day could not be read (not_arrived, empty, corrupt, ...) as a critical data check.

    `finish` then reports, stores and logs the day like any other, so its history shows what went wrong.
    """
    d.results.delete_prefix(d.key("stages"))
    check = Check(
        id=f"load.{kind}",
        stage="load",
        name=kind,
        subject="table",
        status=Status.ALERT,
        reason=message,
        severity=Severity.CRITICAL,
        owner="data",
        details={"source": d.storage.url(day_key(d.cfg, d.day))},
    )
    d.results.write_json(
        d.key("stages/load.json"),
        {"checks": [check.model_dump(mode="json")], "day": d.day.isoformat(), "rows": 0},
        whole=True,
    )


def staged_frame(d: Day, columns: list[str] | None = None) -> pd.DataFrame:
    """The staged day as pandas; only `columns` (those present) when given, so a stage reads what it needs."""
    staged = d.staged()
    if columns is not None:
        present = set(staged.schema.names)
        columns = [c for c in columns if c in present]
    return staged.read(columns).to_pandas()


def check_quality(d: Day, frame: pd.DataFrame | None = None, ref: pd.DataFrame | None = None) -> str:
    """Validate the staged day against the model's GX suite, from Arrow column summaries (`quality.fast`).

    Expectations the fast path does not serve exactly run through GX on pandas (`frame`, or the staged day). The
    target column, which some prediction files carry, is not part of the records validated (labels are checked
    where they are joined).
    """
    from watchkeeper.quality.fast import read_batch, validate_arrow
    from watchkeeper.quality.report import render_html
    from watchkeeper.quality.suite import load_suite_dict
    from watchkeeper.quality.validate import run_suite, stored, to_checks

    suite, suite_source = load_suite_dict(
        d.cfg, lambda: ref if ref is not None else load_reference(d.cfg, d.storage)
    )
    suite = coarsen_generated_bounds(d.cfg, suite_without_pii(d.cfg, suite))
    name = f"{d.cfg.name}-{d.day.isoformat()}"
    target = d.cfg.columns.target
    batch = read_batch(d.staged, suite, ignore=(target,))
    params = quality_parameters(d, batch.table.schema)

    def on_pandas(sub: dict, parameters: dict | None) -> object:
        day = staged_frame(d) if frame is None else frame
        return run_suite(sub, day.drop(columns=[target], errors="ignore"), name, parameters)

    result = validate_arrow(suite, batch, params, fallback=on_pandas)
    d.results.write_json(
        d.key("quality/gx_validation_result.json"), stored_result(stored(result), shown(d.cfg))
    )
    from watchkeeper.quality.escalation import escalate

    checks = escalate(to_checks(result, shown(d.cfg)), d.cfg.quality.critical_share)
    engine = result.meta["validation_engine"] + f", {result.meta['gx_pandas_fallback']} via GX on pandas"
    html = render_html(d.cfg.name, d.day.isoformat(), checks, suite["name"], engine)
    d.results.write_bytes(d.key("quality/report.html"), html.encode())
    return save_checks(d, "quality", checks, {"suite": suite["name"], "suite_source": suite_source})


def quality_parameters(d: Day, schema: pa.Schema) -> dict[str, str]:
    """GX suite parameters of the day: its start and end in the configured timezone, as the timestamps are stored.

    Naive timestamp columns get naive bounds (local day), aware ones UTC-aware bounds; GX cannot compare the two.
    """
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(d.cfg.airflow.timezone)
    start = datetime.combine(d.day, time.min, tzinfo=tz)
    end = start + timedelta(days=1)
    col = d.cfg.columns.timestamp
    naive = (
        col in schema.names
        and pa.types.is_timestamp(schema.field(col).type)
        and schema.field(col).type.tz is None
    )
    if naive:
        return {
            "day_start": start.replace(tzinfo=None).isoformat(),
            "day_end": end.replace(tzinfo=None).isoformat(),
        }
    return {"day_start": start.astimezone(UTC).isoformat(), "day_end": end.astimezone(UTC).isoformat()}


def staged_columns(d: Day) -> DayColumns:
    """The staged day for column-by-column reads with pyarrow (text columns dictionary-encoded)."""
    return DayColumns(d.staged(TEXT))


def prepare_profile(d: Day) -> str:
    """Build the reference profile if this reference version and config have none yet; its key.

    A task of its own in the DAG, upstream of drift and performance, so the two never build it at once; a lease
    beside the profile makes days running at once (a backfill) wait for one build instead of each building it.
    Before the first build the configuration is checked against the reference (`config_check`): a ConfigError
    names every configured column, method or setting the data cannot honour, instead of a day that reads "all
    checks ok".
    """
    from watchkeeper.build_lease import build_lease
    from watchkeeper.safe_cache import read_profile

    key = profile_key(d.cfg, d.storage)
    if (stored := read_profile(d.results, key)) is not None:
        vars(d)["profile"] = (
            stored  # `Day.profile` for the stages after this one in the process: not read again
        )
        return key
    with build_lease(d.results, key.removesuffix(".json") + ".lease", lambda: d.results.exists(key)):
        ref = None
        if not d.results.exists(key):
            from watchkeeper.config_check import require

            ref = load_reference(d.cfg, d.storage)
            require(d.cfg, ref)
        get_profile(d.cfg, d.storage, d.results, ref)  # `Day.profile` then reads it as stored (key order)
    return key


def update_labels(d: Day) -> str:
    """The day's labels step: join only today's label file to its prediction days and store the result, which
    label drift and performance then read (`performance.joined`); re-running the day replaces its contribution."""
    from watchkeeper.performance.joined import step_key
    from watchkeeper.performance.joined import update_labels as update

    if d.cfg.paths.labels:
        update(d.cfg, d.storage, d.results, d.day)
    return step_key(d.cfg, d.day)


def measure_drift(d: Day) -> str:
    """Drift of the staged day against the cached reference profile, reading one column at a time."""
    profile = d.profile
    blocked = decisions.critical_quality_failure(load_checks(d, "quality"))
    states = drift_state(profile, d.results)
    checks = drift_checks(d.cfg, staged_columns(d), profile, states, blocked)
    checks += label_checks(d.cfg, d.storage, d.day, profile, states, blocked, d.results)
    rule = d.cfg.drift.persistence
    earlier = functools.cache(
        functools.partial(earlier_drift, d, deadline=clock.monotonic() + EARLIER_WAIT_SECONDS)
    )
    if rule.breaches > 1:
        history = [
            [Check.model_validate(c) for c in earlier(i).get("checks", [])] for i in range(1, rule.days)
        ]
        apply_persistence(checks, rule.breaches, history)
    top = top_drifted(checks, d.cfg.drift.top_features, profile.get("importance"))
    from watchkeeper.reports.distributions import distributions

    extra = {"top_drifted_features": top, **detection_checks(d, profile, blocked, checks, earlier)}
    extra["distributions"] = [
        x.model_dump(mode="json")
        for x in distributions(d.cfg, staged_columns(d), profile, states, top, checks)
    ]
    return save_checks(d, "drift", checks, extra)


EARLIER_WAIT_SECONDS = 300.0
"""How long a day's drift stage waits, in all, for earlier days that other runs are judging at that moment."""
AT_WORK_SECONDS = 900.0
"""A run that took or renewed its day's lease this recently is at work on it (its every task renews it)."""


def earlier_drift(d: Day, i: int, deadline: float, poll: float = 2.0) -> dict:
    """The stored drift document of the day `i` days before `d` (empty when there is none).

    Later days read their history from it (volume, unseen values, CUSUM evidence, persistence). When another
    run is judging that day right now (an Airflow backfill runs days at once), has loaded its data and not yet
    stored its drift, it is waited for, until `deadline`: what a day reads of its past must not depend on which
    run finished first. A run still waiting for its data is not waited for."""
    from watchkeeper.lease import judging_now

    other = Day(d.cfg, d.day - timedelta(days=i), d.storage, d.results)

    def being_judged() -> bool:
        return other.results.exists(other.key("stages/load.json")) and judging_now(other, AT_WORK_SECONDS)

    doc = _doc(other, "stages/drift.json")
    while not doc and clock.monotonic() < deadline and being_judged():
        clock.sleep(poll)
        doc = _doc(other, "stages/drift.json")
    if not doc and clock.monotonic() >= deadline and being_judged():
        log.warning("%s %s: judged without the drift of %s, still being judged", d.cfg.name, d.day, other.day)
    return doc


def detection_checks(
    d: Day, profile: dict, blocked: str | None, checks: list[Check], earlier: Callable[[int], dict]
) -> dict:
    """Unseen categories (and the other `drift.detection_profile` checks) appended to `checks`; the facts to store
    with the day's drift results, read back by later days (`earlier(i)`: the stored document `i` days before)."""
    from watchkeeper.drift.evidence import evidence_checks
    from watchkeeper.drift.unseen import unseen_checks

    detection = profile.get("detection") or {}
    day = staged_columns(d)
    cusum, evidence = ([], {})
    if detection.get("cusum") and not blocked:
        cusum, evidence = evidence_checks(
            checks,
            detection["cusum"],
            earlier,
            d.cfg.drift.evidence_days,
            day.num_rows,
            profile.get("sample_rows"),
        )
    unseen, prints = unseen_checks(d.cfg, day, detection, earlier, blocked)
    recent = [earlier(i).get("rows", 0) for i in range(1, RECENT_DAYS + 1)]
    volume = day_size_check(d.cfg, day.num_rows, detection.get("volume") or {}, blocked, recent)
    checks += cusum + unseen + ([volume] if volume else [])
    if "domain_classifier" in detection:
        from watchkeeper.drift.domain import domain_check

        checks.append(domain_check(d.cfg, day, detection["domain_classifier"], blocked))
    return {"unseen": prints, "evidence": evidence, "rows": day.num_rows}


LATER_ESTIMATE = "performance/estimated_when_labelled.json"
"""A prediction day's estimate made by a label day that ran before it (see `estimate_of`)."""


def _performance_columns(cfg: ModelConfig, profile: dict) -> list[str]:
    """The columns the day's estimates read: the model's outputs and segments, and the features only for direct
    loss estimation (CBPE needs none; at 1M rows × 30 features they were 280 MB of the day's peak memory)."""
    cols = cfg.columns
    dle = (profile.get("estimation") or {}).get("kind") == "dle"
    features = [f.name for f in cols.features] if dle else []
    return [c for c in dict.fromkeys([cols.score, cols.prediction, *features, *cfg.segments.columns]) if c]


def _estimate_doc(
    cfg: ModelConfig, day: date, frame: pd.DataFrame, profile: dict, blocked: str | None
) -> tuple[list[Check], dict]:
    """The day's label-free estimate checks, and the document stored beside the day for when its labels come."""
    estimated, estimates = estimation_checks(cfg, frame, profile, blocked, dle_estimator(profile))
    bands = {
        c.name.removeprefix("estimated_"): [c.details["band_lower"], c.details["band_upper"]]
        for c in estimated
        if "band_lower" in c.details and c.segment is None
    }
    return estimated, {"day": day.isoformat(), "metrics": estimates, "bands": bands}


def estimate_of(d: Day, pday: date, profile: dict) -> dict:
    """The estimate made for prediction day `pday` before its labels, which its realized metrics are set beside.

    Days of a backfill run at once, so labels for `pday` can be counted before `pday`'s own run has estimated it
    (or `pday` was never monitored: monitoring started after it). The estimate is then made here, by the same
    function on the same source records (with `pday`'s quality verdict when it is stored), so a day's result does
    not depend on which day finished first. It is kept beside `pday`'s results under its own name, for the next
    label day; `pday`'s own run stores `performance/estimated.json`, which is read first."""
    for name in ("performance/estimated.json", LATER_ESTIMATE):
        stored = d.results.read_json_if_any(d.cfg.results_key(pday, name))
        if stored is not None:
            return stored
    try:
        table = read_table(
            d.storage, day_key(d.cfg, pday), d.cfg.paths.csv, _performance_columns(d.cfg, profile)
        )
    except InputError:
        return {}
    blocked = decisions.critical_quality_failure(
        load_checks(Day(d.cfg, pday, d.storage, d.results), "quality")
    )
    doc = _estimate_doc(d.cfg, pday, table.to_pandas(), profile, blocked)[1]
    d.results.write_json(d.cfg.results_key(pday, LATER_ESTIMATE), doc, whole=True)
    return doc


def measure_performance(d: Day, frame: pd.DataFrame | None = None) -> str:
    profile = d.profile
    frame = staged_frame(d, _performance_columns(d.cfg, profile)) if frame is None else frame
    blocked = decisions.critical_quality_failure(load_checks(d, "quality"))
    estimated, doc = _estimate_doc(d.cfg, d.day, frame, profile, blocked)
    d.results.write_json(d.key("performance/estimated.json"), doc)
    checks, realized = performance_checks(d.cfg, d.storage, d.day, frame, profile, blocked, d.results)
    # Each prediction day's realized result is replaced in place as its labels fill in, beside its estimate.
    for pday, record in realized.items():
        stored = estimate_of(d, date.fromisoformat(pday), profile)
        est, bands = stored.get("metrics", {}), stored.get("bands", {})
        record["estimated"], record["estimated_band"] = est, bands
        record["estimation_error"] = {
            m: record["metrics"][m] - est[m]
            for m in est
            if est[m] is not None and record["metrics"].get(m) is not None
        }
        record["within_band"] = {
            m: bands[m][0] <= record["metrics"][m] <= bands[m][1]
            for m in bands
            if record["metrics"].get(m) is not None
        }
        d.results.write_json(d.cfg.results_key(pday, "performance/realized.json"), record, whole=True)
    for c in checks:
        record = realized.get(c.details.get("prediction_day", ""), {})
        if c.name in record.get("estimation_error", {}):
            c.details["estimated_value"] = record["estimated"][c.name]
    return save_checks(d, "performance", estimated + checks, {"realized": realized})


def finish(d: Day, tracking_uri: str | None = None) -> DayResult:
    """Combine the stages' checks, decide actions, store `result.json` atomically, then log to MLflow when
    configured (an MLflow failure leaves the projection pending, see `projections`)."""
    load_info = _doc(d, "stages/load.json")
    checks = []
    for stage in ("load", "quality", "drift", "performance"):
        checks += load_checks(d, stage)
    top = _doc(d, "stages/drift.json").get("top_drifted_features", [])
    realized = _doc(d, "stages/performance.json").get("realized", {})
    stages = decisions.summarize(checks)
    rows = int(load_info.get("rows", 0))
    shadow = None
    if d.cfg.model is not None and tracking_uri:  # the registry's challenger, scored beside the champion
        from watchkeeper.retraining.shadow import shadow_day

        try:
            shadow = shadow_day(d, tracking_uri, realized)
        except Exception as exc:  # a registry outage must not lose the day: shadow scoring is extra evidence
            log.warning("%s %s: shadow scoring skipped: %s", d.cfg.name, d.day, exc)
    result = DayResult(
        model=d.cfg.name,
        task=d.cfg.task,
        day=d.day,
        rows=rows,
        status="alert" if any(c.status == "alert" for c in checks) else "ok",
        stages=stages,
        checks=checks,
        actions=[],
        headline=decisions.headline(d.cfg.name, d.day.isoformat(), stages, top, rows, checks),
        top_drifted_features=top,
        distributions=_doc(d, "stages/drift.json").get("distributions", []),
        estimates=estimates_of(checks),
        realized=[Realized.model_validate(r) for _, r in sorted(realized.items())],
        config_digest=d.cfg.digest(),
        shadow=shadow,
        artifacts={
            name: d.results.url(d.key(name))
            for name in (
                "result.json",
                "report.html",
                "quality/gx_validation_result.json",
                "quality/report.html",
            )
            if name in ("result.json", "report.html") or d.results.exists(d.key(name))
        },
    )
    apply_policy(d.cfg, d.results, result)  # decisions, incidents and actions from the stored history
    if d.cfg.model is not None:  # a retraining that came to nothing is asked again while performance alerts
        from watchkeeper.retraining.follow_up import follow_up

        follow_up(d.cfg, d.results, result)
    # The stored result comes first; the report and MLflow are projections of it (`watchkeeper replay`
    # completes a pending MLflow projection), so neither can lose the day.
    from watchkeeper.reports.daily import store_report

    store_result(d, result)
    try:
        store_report(d, result)  # report.html beside result.json, from today's and earlier days' results
    except Exception:
        log.exception(
            "%s %s: the day's HTML report could not be written; the result is stored", d.cfg.name, d.day
        )
    if tracking_uri and project_mlflow(d, result, tracking_uri):
        store_signals(d.cfg, d.results, result)  # now with the MLflow run its messages link to
        if shadow is not None:
            from watchkeeper.retraining.shadow import log_shadow

            try:
                log_shadow(result, tracking_uri, d.cfg.start_date)
            except Exception as exc:  # the champion's day is logged; the shadow metrics are extra
                log.warning("%s %s: shadow metrics not logged: %s", d.cfg.name, d.day, exc)
    return result


def estimates_of(checks: list[Check]) -> list[Estimate]:
    """The day's estimated metrics (whole day and segments) with their bands, from the estimated checks."""
    return [
        Estimate(
            metric=c.name.removeprefix("estimated_"),
            value=c.value,
            band_lower=c.details.get("band_lower"),
            band_upper=c.details.get("band_upper"),
            lower=c.lower,
            upper=c.upper,
            method=c.details.get("method", ""),
            segment=c.segment,
        )
        for c in checks
        if c.stage == "performance" and c.details.get("estimated")
    ]


def _doc(d: Day, name: str) -> dict:
    key = d.key(name)
    return d.results.read_json_if_any(key) or {}


def run_day(
    cfg: ModelConfig,
    day: date,
    storage: Storage,
    results: Storage | None = None,
    tracking_uri: str | None = None,
) -> DayResult:
    """All stages in one process, on the same functions the DAG's tasks call; each reads what it needs.

    Holds the model-day's lease throughout (`lease.AlreadyRunning` when another run has it).
    """
    from watchkeeper.lease import held
    from watchkeeper.timings import mark_startup, timed

    mark_startup()
    d = Day(cfg, day, storage, results or storage)
    with held(d):
        try:
            with timed("load"):
                load_day(d)
        except InputError:
            finish(d, tracking_uri)  # the day's result and MLflow run say why it could not be read
            raise
        with timed("quality"):
            check_quality(d)
        with timed("profile"):
            prepare_profile(d)
        with timed("labels"):
            update_labels(d)
        with timed("drift"):
            measure_drift(d)
        with timed("performance"):
            measure_performance(d)
        with timed("finish"):
            return finish(d, tracking_uri)
