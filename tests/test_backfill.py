"""`watchkeeper backfill --local`: the days of a stretch in order, with progress; a second backfill replaces the
first's results everywhere (stored results, MLflow runs and metric points), nothing duplicated."""

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import FIRST_DAY, TINY_CONFIG
from watchkeeper import backfill
from watchkeeper.cli import main


def stored(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def mlflow_points(uri: str) -> dict[str, int]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000)
    points = {}
    for run in runs:
        for key in run.data.metrics:
            points[f"{run.info.run_name}|{key}"] = len(client.get_metric_history(run.info.run_id, key))
    days = [r for r in runs if r.data.tags.get("watchkeeper.kind") == "day"]  # beside them: the timeline run
    return {"runs": len(days), "all_runs": len(runs), **points}


@pytest.mark.slow
def test_backfilling_a_stretch_twice_gives_identical_results_and_no_duplicates(tiny, tmp_path):
    cfg, storage, _ = tiny
    results = tmp_path / "results"
    config = tmp_path / "backfill.yaml"
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    config.write_text(
        yaml.safe_dump(
            {**TINY_CONFIG, "storage": {"uri": str(tmp_path / "data"), "results_uri": str(results)}}
        )
    )
    end = FIRST_DAY + timedelta(days=3)
    args = ["backfill", "--config", str(config), "--start", str(FIRST_DAY), "--end", str(end), "--local"]
    args += ["--tracking-uri", uri]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "tiny: 4 days" in first.output
    before, points = stored(results), mlflow_points(uri)
    assert sum(k.endswith("/result.json") for k in before) == 4 and points["runs"] == 4
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    after = stored(results)
    assert sorted(after) == sorted(before)
    changed = [
        k for k in before if before[k] != after[k] and not k.endswith((".html", "gx_validation_result.json"))
    ]
    assert changed == []
    assert mlflow_points(uri) == points


def test_backfill_rejects_an_end_before_the_start(tiny, tmp_path):
    config = tmp_path / "b.yaml"
    config.write_text(yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": str(tmp_path / "data")}}))
    out = CliRunner().invoke(
        main, ["backfill", "--config", str(config), "--start", "2025-03-05", "--end", "2025-03-01", "--local"]
    )
    assert out.exit_code == 2 and "--end is before --start" in out.output


def test_backfill_takes_its_concurrency_from_the_yaml(tiny):
    cfg = tiny[0].model_copy(update={"airflow": tiny[0].airflow.model_copy(update={"max_active_runs": 3})})
    argv = backfill.airflow_command(cfg, date(2026, 1, 1), date(2026, 1, 14), "none")
    assert argv[1:] == ["backfill", "create", "--dag-id", f"watchkeeper_{cfg.name}", "--from-date", "2026-01-01",
                        "--to-date", "2026-01-14", "--max-active-runs", "3", "--reprocess-behavior", "none"]  # fmt: skip
    assert Path(argv[0]).name == "airflow"


def test_watching_a_long_airflow_run_asks_less_often_as_it_goes():
    """Each `airflow` CLI call costs seconds of CPU: a year-long run is asked about once a minute, a short one at
    the given interval."""
    from watchkeeper.backfill import poll_wait

    waits = [poll_wait(5, elapsed) for elapsed in (0, 60, 300, 600, 1800, 7200)]
    assert waits == [5, 5, 15, 30, 60, 60]


def test_a_stretch_stores_what_its_days_store_run_one_by_one(tmp_path):
    """A stretch reads its days' `READ_BACK` results (history, earlier drift, labels steps) back from memory, not
    from the store; what it stores is what the same days store when each runs in its own process."""
    from helpers import tiny_config, write_tiny_world
    from watchkeeper.pipeline import run_day
    from watchkeeper.storage import Storage

    data = Storage.from_uri(str(tmp_path / "data"))
    write_tiny_world(data, days=6)
    cfg = tiny_config(tmp_path, str(tmp_path / "data"))
    stretch, single = Storage.from_uri(str(tmp_path / "a")), Storage.from_uri(str(tmp_path / "b"))
    fetched: list[
        str
    ] = []  # objects read from the store (not absent ones: a day's first labels step finds none)

    def fetch(key: str, real=stretch._fetch) -> bytes:
        data = real(key)
        fetched.append(key)
        return data

    stretch._fetch = fetch
    end = FIRST_DAY + timedelta(days=5)
    assert {o.status for o in backfill.run_local(cfg, FIRST_DAY, end, data, stretch)} <= {"ok", "alert"}
    for day in backfill.days(FIRST_DAY, end):
        run_day(cfg, day, data, single)
    day_and_name = [k.split("/days/", 1)[1].partition("/") for k in fetched if "/days/" in k]
    names = {"result.json", "stages/drift.json", "labels/step.json"}
    read_back = [(d, n) for d, _, n in day_and_name if n in names and d >= FIRST_DAY.isoformat()]
    assert read_back == []
    a, b = stored(tmp_path / "a"), stored(tmp_path / "b")
    assert sorted(a) == sorted(b)
    root = (
        str(tmp_path / "a").encode(),
        str(tmp_path / "b").encode(),
    )  # stored results name their own location
    differ = [k for k in a if a[k].replace(*root) != b[k] and not k.endswith("gx_validation_result.json")]
    assert differ == []
