"""Run ids name the monitored day: the real monitoring DAG, serialized and loaded back as the scheduler does,
names its scheduled run of day D `scheduled__D`; other run types keep Airflow's ids."""

import json
from datetime import date, datetime, timedelta

import pendulum
import pytest
import yaml
from helpers import TINY_CONFIG

DAY = date(2026, 11, 29)


def scheduler_view(models_dir, **airflow):
    """The `watchkeeper_good` DAG as the scheduler sees it: parsed, serialized to JSON and deserialized."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    cfg = {**TINY_CONFIG, "name": "good", "storage": {"uri": "s3://b/p"}, "airflow": airflow}
    (models_dir / "good.yaml").write_text(yaml.safe_dump(cfg))
    bag = DagBag()
    assert bag.import_errors == {}
    stored = json.dumps(DagSerialization.to_dict(bag.dags["watchkeeper_good"]))
    return json.loads(stored), DagSerialization.from_dict(json.loads(stored))


def scheduled_run(timetable, start: datetime):
    """The scheduled run after the one that ended at `start`: its data interval and the id Airflow gives it."""
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.utils.types import DagRunType

    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(start - timedelta(days=1), start),
        restriction=TimeRestriction(None, None, True),
    )
    run_id = timetable.generate_run_id(
        run_type=DagRunType.SCHEDULED, run_after=info.run_after, data_interval=info.data_interval
    )
    return info, run_id


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_the_scheduled_run_of_a_day_is_named_after_that_day(models_dir, zone):
    from watchkeeper_airflow.timetable import MonitoredDayTimetable

    stored, dag = scheduler_view(models_dir, timezone=zone)
    assert stored["dag"]["timetable"] == {
        "__type": "watchkeeper_airflow.timetable.MonitoredDayTimetable",
        "__var": {"expression": "0 0 * * *", "timezone": zone},
    }
    assert type(dag.timetable) is MonitoredDayTimetable
    midnight = pendulum.datetime(DAY.year, DAY.month, DAY.day, tz=zone)
    info, run_id = scheduled_run(dag.timetable, midnight)
    assert (info.data_interval.start, info.data_interval.end) == (midnight, midnight.add(days=1))
    assert info.run_after == midnight.add(days=1)  # it still runs once the day is over
    assert run_id == "scheduled__2026-11-29"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Los_Angeles"])
def test_the_run_monitors_the_day_its_id_names(models_dir, zone):
    from watchkeeper_airflow.days import monitored_day

    _, dag = scheduler_view(models_dir, timezone=zone)
    info, run_id = scheduled_run(dag.timetable, pendulum.datetime(2026, 11, 29, tz=zone))
    in_utc = info.data_interval.start.in_timezone("UTC")  # as the task's context hands it over
    assert monitored_day(None, in_utc, info.run_after, zone) == DAY and run_id.endswith(DAY.isoformat())


def test_a_schedule_off_midnight_names_the_start_of_its_interval(models_dir):
    _, dag = scheduler_view(models_dir, schedule="30 6 * * *")
    start = pendulum.datetime(2026, 11, 29, 6, 30, tz="UTC")
    info, run_id = scheduled_run(dag.timetable, start)
    assert info.data_interval.start == start
    assert run_id == "scheduled__2026-11-29T06:30:00+00:00"  # still unique if it ran several times a day


def test_other_run_types_keep_airflows_ids(models_dir):
    from airflow.timetables.base import DataInterval
    from airflow.utils.types import DagRunType

    _, dag = scheduler_view(models_dir)
    after = datetime(2026, 11, 30, 9, 15, tzinfo=pendulum.UTC)
    interval = DataInterval(after - timedelta(hours=33, minutes=15), after - timedelta(hours=9, minutes=15))
    # Several manual runs may cover one day: Airflow's run_after suffix keeps them apart.
    assert dag.timetable.generate_run_id(
        run_type=DagRunType.MANUAL, run_after=after, data_interval=interval
    ) == ("manual__2026-11-30T09:15:00+00:00")
    assert dag.timetable.generate_run_id(
        run_type=DagRunType.SCHEDULED, run_after=after, data_interval=None
    ) == ("scheduled__2026-11-30T09:15:00+00:00")
