"""Realized metrics of many prediction days find those days' runs in one search: the same runs `day_run` finds one
by one, a run started at another time still found (never created twice), a day without a run given one."""

from datetime import timedelta

from helpers import FIRST_DAY
from mlflow import MlflowClient
from watchkeeper.tracking import day_run, day_runs, experiment_name


def test_day_runs_finds_what_day_run_finds_and_creates_each_missing_run_once(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.create_experiment(experiment_name("tiny"))
    days = [FIRST_DAY + timedelta(days=i) for i in range(5)]
    made = {d: day_run(client, exp, "tiny", d) for d in days[:3]}
    other = client.create_run(exp, start_time=0, tags={"watchkeeper.day": days[3].isoformat(),
                                                       "watchkeeper.kind": "day"})  # fmt: skip
    found = day_runs(client, exp, "tiny", reversed(days))
    assert list(found) == days
    assert {d: found[d] for d in days[:3]} == made and found[days[3]] == other.info.run_id
    assert found == {d: day_run(client, exp, "tiny", d) for d in days}  # the fifth was created, once
    assert len(client.search_runs([exp])) == 5
