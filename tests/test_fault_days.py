"""Well-formed but unusual days, and configurations that do not match the data: each gives a named result
(or a named configuration error), never a crash and never a quiet "all checks ok"."""

import io
import subprocess
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from faults_helpers import WATCHKEEPER
from helpers import FIRST_DAY, TINY_CONFIG, parquet_bytes, tiny_config
from watchkeeper.config import ConfigError
from watchkeeper.config_check import check
from watchkeeper.decisions import summarize
from watchkeeper.loading import InputError
from watchkeeper.performance.metrics import compute, get_metric
from watchkeeper.pipeline import run_day
from watchkeeper.reference import load_reference
from watchkeeper.result import Check, NotMeasured, Status

DAY = str(FIRST_DAY)


def _day(frames) -> "pd.DataFrame":  # noqa: F821
    return frames[DAY].drop(columns=["label"])


def _stages(result) -> dict[str, str]:
    return {s.stage: s.status for s in result.stages}


# --- pure logic: 0/0 metrics and stage verdicts -------------------------------------------------------------------


def test_recall_and_precision_of_0_over_0_are_undefined_not_0():
    y, p = np.zeros(50, dtype=int), np.zeros(50, dtype=int)
    for name in ("recall", "precision", "f1"):
        assert compute(get_metric(name, "binary_classification"), y, p, None) is None
    assert compute(get_metric("specificity", "binary_classification"), 1 - y, 1 - p, None) is None
    y[:10], p[:5] = 1, 1
    assert compute(get_metric("recall", "binary_classification"), y, p, None) == 0.5


def test_a_performance_stage_with_only_label_record_checks_could_not_be_measured():
    records = Check(id="performance.label_join", stage="performance", name="label_join", subject="labels",
                    status=Status.OK, owner="data")  # fmt: skip
    recall = Check(id="performance.recall", stage="performance", name="recall", subject="recall@2025-03-01",
                   status=Status.SKIPPED, not_measured=NotMeasured.UNDEFINED,
                   reason="recall is undefined on these labels (0/0, or a single class)", owner="model")  # fmt: skip
    (stage,) = summarize([records, recall])
    assert stage.status == "could_not_measure" and "recall is undefined" in stage.note


def test_config_check_names_every_mismatch(tiny, tmp_path):
    cfg, storage, _ = tiny
    ref = load_reference(cfg, storage)
    bad = tiny_config(
        mk(tmp_path / "bad"),
        storage.uri,
        columns={
            **TINY_CONFIG["columns"],
            "features": ["x1", "x_2", "c"],
            "score": "scor",
            "positive_label": "yes",
        },
        segments={"columns": ["regio"]},
        drift={"numeric_methods": ["ks", "kss"], "threshold": {"type": "std", "k": float("inf")}},
        performance={"metrics": ["recall", "recal"], "decision_threshold": 1.5},
        airflow={"timezone": "Mars/Olympus"},
    )
    problems = "\n".join(check(bad, ref))
    for words in (
        "columns.features: column 'x_2' is not in the reference (did you mean 'x2'?)",
        "columns.score: column 'scor' is not in the reference (did you mean 'score'?)",
        "segments.columns: column 'regio' is not in the reference",
        "drift.numeric_methods: unknown numeric drift method 'kss'",
        "performance.metrics: unknown binary_classification metric 'recal'",
        "drift.threshold.k: must be a finite number above 0, got inf",
        "columns.positive_label: 'yes' is not a value of the target 'label' in the reference (it takes 0, 1)",
        "airflow.timezone: 'Mars/Olympus' is not a known time zone",
    ):
        assert words in problems, words
    ok = tiny_config(mk(tmp_path / "ok"), storage.uri, performance={"decision_threshold": 1.5})
    assert check(ok, ref) == [
        "performance.decision_threshold: 1.5 is outside the reference scores' range "
        f"[{ref.score.min():.4g}, {ref.score.max():.4g}] of 'score': every prediction would be one class"
    ]
    assert check(cfg, ref) == []


# --- whole days through the pipeline --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_one_row_day_could_not_be_measured_and_alerts_the_data_owner(tiny):
    cfg, storage, frames = tiny
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(_day(frames).head(1)))
    result = run_day(cfg, FIRST_DAY, storage)
    assert _stages(result)["drift"] == "could_not_measure"
    assert "all checks ok" not in result.headline and "drift could not be measured" in result.headline
    volume = next(c for c in result.checks if c.id == "load.too_few_rows")
    assert volume.status == "alert" and volume.severity == "critical" and volume.value == 1
    assert [(a.kind, a.owner) for a in result.actions] == [("notify", "data")]


@pytest.mark.slow
def test_iso_text_timestamps_are_parsed_and_the_day_is_judged(tiny):
    cfg, storage, frames = tiny
    day = _day(frames)
    day["ts"] = day["ts"].map(lambda t: t.isoformat())
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(day))
    result = run_day(cfg, FIRST_DAY, storage)
    ts = next(c for c in result.checks if c.id == "quality.timestamps_in_day")
    assert ts.status == "ok" and _stages(result)["drift"] == "ok"
    load = storage.read_json(cfg.results_key(FIRST_DAY, "stages/load.json"))
    assert load["timestamps_parsed_from_text"] == "ts"
    day["ts"] = "not a time"  # text that is no timestamp: a named quality alert, not a crash
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(day))
    result = run_day(cfg, FIRST_DAY, storage)
    ts = next(c for c in result.checks if c.id == "quality.timestamps_in_day")
    assert ts.status == "alert" and ts.severity == "critical" and "could not evaluate" in ts.reason
    assert _stages(result)["drift"] == "could_not_measure"


def test_a_reference_with_iso_text_timestamps_is_read_like_one_with_timestamps(tiny):
    from watchkeeper.quality.suite import build_suite_dict

    cfg, storage, _ = tiny
    real = load_reference(cfg, storage)
    text = real.assign(ts=real["ts"].map(lambda t: t.isoformat()))
    storage.write_bytes("ref.parquet", parquet_bytes(text))
    parsed = load_reference(cfg, storage)
    assert str(parsed["ts"].dtype).startswith("datetime64") and parsed["ts"].equals(real["ts"])
    # As text the generated suite silently lost its critical timestamps_in_day expectation.
    checks = [
        e.get("meta", {}).get("watchkeeper_check") for e in build_suite_dict(cfg, parsed)["expectations"]
    ]
    assert "timestamps_in_day" in checks
    assert build_suite_dict(cfg, parsed) == build_suite_dict(cfg, real)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_duplicate_column_names_are_a_named_load_result(tiny, tmp_path, fmt):
    cfg, storage, frames = tiny
    day = _day(frames)
    if fmt == "csv":
        cfg = tiny_config(
            tmp_path, storage.uri, paths={**TINY_CONFIG["paths"], "predictions": "days/{ds}.csv"}
        )
        storage.write_bytes(f"days/{DAY}.csv", day.to_csv(index=False).replace(",x2,", ",x1,", 1).encode())
    else:
        t = pa.Table.from_pandas(day, preserve_index=False)
        t = pa.table([*t.columns, t.column("x1")], names=[*t.column_names, "x1"])
        buf = io.BytesIO()
        pq.write_table(t, buf)
        storage.write_bytes(f"days/{DAY}.parquet", buf.getvalue())
    with pytest.raises(InputError, match="columns named more than once in the header: 'x1'"):
        run_day(cfg, FIRST_DAY, storage)
    stored = storage.read_json(cfg.results_key(FIRST_DAY, "result.json"))
    (check,) = stored["checks"]
    assert (
        check["id"] == "load.duplicate_columns"
        and check["severity"] == "critical"
        and check["owner"] == "data"
    )
    assert [(a["kind"], a["owner"]) for a in stored["actions"]] == [("notify", "data")]


@pytest.mark.slow
def test_labels_without_positives_give_undefined_recall_and_no_retrain(tiny):
    cfg, storage, frames = tiny
    nxt = FIRST_DAY + timedelta(days=1)
    labels = frames[DAY][["pid", "label"]].assign(label=0)
    day = _day(frames).assign(pred=0)
    storage.write_bytes(f"days/{DAY}.parquet", parquet_bytes(day))
    storage.write_bytes(f"labels/{nxt}.parquet", parquet_bytes(labels))
    run_day(cfg, FIRST_DAY, storage)
    result = run_day(cfg, nxt, storage)
    recall = next(c for c in result.checks if c.id == "performance.recall" and c.subject.endswith(DAY))
    assert recall.status == "skipped" and recall.not_measured == "undefined" and recall.value is None
    assert "retrain" not in {a.kind for a in result.actions}


@pytest.mark.slow
def test_a_misspelled_feature_stops_the_first_run_and_validate_config_names_it(tiny, tmp_path):
    cfg, storage, _ = tiny
    bad = {**TINY_CONFIG, "storage": {"uri": storage.uri},
           "columns": {**TINY_CONFIG["columns"], "features": ["x1", "x_2", "c"]}}  # fmt: skip
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(bad))
    from watchkeeper.config import load_config

    with pytest.raises(ConfigError, match="columns.features: column 'x_2' is not in the reference"):
        run_day(load_config(path), FIRST_DAY, storage)
    assert not storage.exists(cfg.results_key(FIRST_DAY, "result.json"))  # no day reading "all checks ok"
    out = subprocess.run([WATCHKEEPER, "validate-config", str(path)], capture_output=True, text=True)
    assert out.returncode == 1 and "1 problem(s), checked against the reference" in out.stderr
    assert "column 'x_2' is not in the reference (did you mean 'x2'?)" in out.stderr
    out = subprocess.run(
        [WATCHKEEPER, "run-day", "--config", str(path), "--day", DAY], capture_output=True, text=True
    )
    assert out.returncode == 2 and out.stdout == "" and "configuration does not match the data" in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("value", ["20250301", "2025-W09-6", "2025-3-1"])
def test_run_day_accepts_only_yyyy_mm_dd(tiny, value):
    cfg, _, _ = tiny
    out = subprocess.run(
        [WATCHKEEPER, "run-day", "--config", cfg.source, "--day", value], capture_output=True, text=True
    )
    assert out.returncode == 2 and f"'{value}' is not a day in YYYY-MM-DD form" in out.stderr


@pytest.mark.slow
def test_run_day_exits_2_when_the_day_could_not_be_processed(tiny):
    cfg, _, _ = tiny
    out = subprocess.run([WATCHKEEPER, "run-day", "--config", cfg.source, "--day", "2030-01-01"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "could not process the day: file has not arrived" in out.stderr


def mk(path):
    path.mkdir(exist_ok=True)
    return path
