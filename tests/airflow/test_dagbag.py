"""DAG integrity: every model YAML gives a DAG with the expected shape; a broken YAML breaks only its own DAG."""

from datetime import UTC, date, datetime

import pytest
import yaml
from helpers import TINY_CONFIG

ROOT_MODELS = __import__("pathlib").Path(__file__).resolve().parents[2] / "include" / "models"


def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


def test_each_model_yaml_gives_a_dag_and_a_broken_one_only_breaks_itself(models_dir):
    (models_dir / "good.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "good", "storage": {"uri": "s3://b/p"}})
    )
    (models_dir / "broken.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "task": "ranking", "storage": {"uri": "/x"}})
    )
    b = bag()
    assert b.import_errors == {}
    assert set(b.dags) == {
        "watchkeeper_good", "watchkeeper_broken", "watchkeeper_promote", "watchkeeper_backfill_good"
    }  # fmt: skip
    broken = b.dags["watchkeeper_broken"]
    assert "config-error" in broken.tags and "task: Input should be" in broken.doc_md
    assert [t.task_id for t in broken.tasks] == ["config_error"]
    assert broken.tasks[0].on_failure_callback  # the operator hears of the broken YAML


def test_monitoring_dag_shape_retries_and_callbacks(models_dir):
    (models_dir / "good.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "good", "storage": {"uri": "s3://b/p"}})
    )
    dag = bag().dags["watchkeeper_good"]
    assert dag.catchup is False
    assert {t.task_id for t in dag.tasks} == {
        "resolve_day", "wait_for_data", "load_day", "check_quality", "prepare_profile", "update_labels", "measure_drift", "measure_performance", "log_results",
        "choose_actions", "send_messages", "request_retraining", "all_clear", "release_day",
    }  # fmt: skip
    assert dag.get_task("choose_actions").downstream_task_ids == {"request_retraining", "all_clear"}
    assert dag.get_task("send_messages").upstream_task_ids == {"resolve_day", "log_results"}
    assert dag.get_task("measure_drift").upstream_task_ids == {
        "check_quality",
        "prepare_profile",
        "update_labels",
        "resolve_day",
    }
    assert dag.get_task("measure_performance").upstream_task_ids == {
        "check_quality",
        "prepare_profile",
        "update_labels",
        "resolve_day",
    }
    assert dag.get_task("load_day").upstream_task_ids == {"resolve_day", "wait_for_data"}
    release = dag.get_task("release_day")  # gives the day's lease back however the run ended
    assert release.is_teardown and release.upstream_task_ids == {
        "send_messages",
        "request_retraining",
        "all_clear",
    }
    sensor = dag.get_task("wait_for_data")
    assert sensor.mode == "reschedule" and sensor.timeout == 360 * 60
    for t in dag.tasks:
        assert t.retries == 0  # from the YAML's airflow.retries
        assert t.on_failure_callback, t.task_id
    assert "day" in dag.params


def test_shipped_model_configs_give_dags_without_io_at_parse(monkeypatch):
    # No S3 endpoint or credentials exist here: parsing must not touch storage, MLflow or the network.
    monkeypatch.setenv("WATCHKEEPER_MODELS_DIR", str(ROOT_MODELS))
    b = bag()
    assert b.import_errors == {}
    stems = [p.stem for p in ROOT_MODELS.glob("*.yaml")]
    retrain = {f"watchkeeper_retrain_{s}" for s in stems}  # the shipped models all name a registered model
    backfill = {f"watchkeeper_backfill_{s}" for s in stems}
    assert set(b.dags) == {f"watchkeeper_{s}" for s in stems} | retrain | backfill | {"watchkeeper_promote"}


def test_scheduled_runs_cover_the_previous_day():
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    core = coerce_to_core_timetable(CronDataIntervalTimetable("@daily", timezone="UTC"))
    last = DataInterval(datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))
    nxt = core.next_dagrun_info(
        last_automated_data_interval=last, restriction=TimeRestriction(None, None, True)
    )
    assert (nxt.data_interval.start, nxt.data_interval.end) == (
        datetime(2026, 1, 5, tzinfo=UTC),
        datetime(2026, 1, 6, tzinfo=UTC),
    )
    assert nxt.run_after == datetime(2026, 1, 6, tzinfo=UTC)  # the day is monitored once it is over
    manual = core.infer_manual_data_interval(run_after=datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    assert manual.start == datetime(2026, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "param,start,run_after,expected",
    [
        ("2026-01-03", datetime(2026, 1, 5, tzinfo=UTC), None, date(2026, 1, 3)),  # manual "run day X" wins
        (
            None,
            datetime(2026, 1, 5, tzinfo=UTC),
            datetime(2026, 1, 6, tzinfo=UTC),
            date(2026, 1, 5),
        ),  # scheduled/backfill
        (
            None,
            None,
            datetime(2026, 1, 6, 10, tzinfo=UTC),
            date(2026, 1, 5),
        ),  # manual run without logical date
    ],
)
def test_monitored_day(param, start, run_after, expected):
    from watchkeeper_airflow.days import monitored_day

    assert monitored_day(param, start, run_after) == expected


def test_monitored_day_errors_are_clear():
    from watchkeeper_airflow.days import DayNotGiven, monitored_day

    with pytest.raises(DayNotGiven, match="YYYY-MM-DD"):
        monitored_day("03/01/2026", None)
    with pytest.raises(DayNotGiven, match="trigger it with conf"):
        monitored_day(None, None, None)


def test_a_models_queue_routes_all_its_monitoring_and_retraining_tasks(models_dir):
    """`airflow.queue` sends every task of the model's DAGs to its Celery queue; other models keep the default."""
    (models_dir / "big.yaml").write_text(yaml.safe_dump({**TINY_CONFIG, "name": "big", "storage": {"uri": "s3://b/p"},
                                                         "airflow": {"queue": "big_days"},
                                                         "model": {"registered_name": "big_model"}}))  # fmt: skip
    (models_dir / "small.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "small", "storage": {"uri": "s3://b/q"}})
    )
    b = bag()
    assert b.import_errors == {}
    for dag_id in ("watchkeeper_big", "watchkeeper_retrain_big"):
        assert {t.queue for t in b.dags[dag_id].tasks} == {"big_days"}, dag_id
    assert "big_days" not in {t.queue for t in b.dags["watchkeeper_small"].tasks}


def test_a_queue_name_a_worker_cannot_listen_on_is_refused_with_its_field(tmp_path):
    from watchkeeper.config import ConfigError, load_config

    path = tmp_path / "m.yaml"
    path.write_text(
        yaml.safe_dump({**TINY_CONFIG, "storage": {"uri": "/x"}, "airflow": {"queue": "big days, small"}})
    )
    with pytest.raises(
        ConfigError, match=r"(?s)m\.yaml: invalid model configuration.*- airflow\.queue: String should"
    ):
        load_config(path)
