"""Operator alerts: a failed task, a run past its deadline and a broken YAML each reach the operator once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from helpers import TINY_CONFIG
from watchkeeper.alerts import read_outbox
from watchkeeper.config import load_config
from watchkeeper.delivery import read_log
from watchkeeper.storage import Storage


def write_config(tmp_path, **policy) -> str:
    owners = {"data": {"name": "data-team"}, "model": {"name": "ml"}, "operator": {"name": "ops"}}
    cfg = {**TINY_CONFIG, "storage": {"uri": str(tmp_path / "store")}, "owners": owners, "policy": policy}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_a_failed_task_is_told_to_the_operator_once_per_failure(tmp_path, monkeypatch):
    from watchkeeper_airflow.callbacks import WatchkeeperFailureNotifier

    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    path = write_config(tmp_path)
    notifier = WatchkeeperFailureNotifier(config_path=path)

    def fail(try_number: int) -> None:
        ti = SimpleNamespace(task_id="measure_drift", try_number=try_number, log_url="http://airflow/log")
        notifier.notify(
            {"ti": ti, "params": {"day": "2025-03-04"}, "exception": ValueError("boom\nTraceback")}
        )

    fail(1)
    fail(1)  # the same failure reported again (e.g. a callback retried): nothing new
    fail(2)  # cleared and failed again: a new failure
    outbox = read_outbox(tmp_path / "outbox.jsonl")
    assert [(m["destination"], m["key"]) for m in outbox] == [
        ("ops", "tiny/pipeline_failure/2025-03-04/measure_drift/try1/operator"),
        ("ops", "tiny/pipeline_failure/2025-03-04/measure_drift/try2/operator"),
    ]
    assert "task measure_drift failed: boom" in outbox[0]["payload"]["text"]
    cfg = load_config(path)
    log = read_log(cfg, Storage.from_uri(cfg.storage.uri))
    assert sorted(e["key"] for e in log) == [m["key"].removeprefix("tiny/") for m in outbox]


def test_a_run_past_its_deadline_is_told_to_the_operator_once(tmp_path, monkeypatch):
    from watchkeeper_airflow.callbacks import run_late

    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    path = write_config(tmp_path, run_deadline_hours=6)
    context = {"dag_run": {"dag_run_id": "scheduled__2025-03-05", "conf": {}, "data_interval_start": "2025-03-04T00:00:00+00:00"}}  # fmt: skip
    run_late(config_path=path, context=context)
    run_late(config_path=path, context=context)
    (msg,) = read_outbox(tmp_path / "outbox.jsonl")
    assert msg["destination"] == "ops"
    assert "has not finished 6 hour(s) after it was queued" in msg["payload"]["text"]


def test_a_late_run_names_its_day_in_the_models_timezone(tmp_path, monkeypatch):
    """Paris' 2025-03-04 starts at 23:00 UTC the day before: the operator's message names 2025-03-04."""
    from watchkeeper_airflow.callbacks import run_late

    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    path = write_config(tmp_path, run_deadline_hours=6)
    data = yaml.safe_load(Path(path).read_text())
    Path(path).write_text(yaml.safe_dump({**data, "airflow": {"timezone": "Europe/Paris"}}))
    context = {"dag_run": {"dag_run_id": "scheduled__2025-03-04", "conf": {}, "data_interval_start": "2025-03-03T23:00:00+00:00"}}  # fmt: skip
    run_late(config_path=path, context=context)
    (msg,) = read_outbox(tmp_path / "outbox.jsonl")
    assert msg["key"] == "tiny/run_late/2025-03-04/scheduled__2025-03-04/operator"
    assert "2025-03-04" in msg["payload"]["text"]


def test_the_deadline_is_on_the_dag_only_when_configured(models_dir, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    for name, policy in (("late", {"run_deadline_hours": 6}), ("plain", {})):
        cfg = {**TINY_CONFIG, "name": name, "storage": {"uri": "s3://b/p"}, "policy": policy}
        (models_dir / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    dags = DagBag().dags
    (alert,) = dags["watchkeeper_late"].deadline
    assert alert.interval.total_seconds() == 6 * 3600
    assert not dags["watchkeeper_plain"].deadline


def test_a_broken_yaml_is_told_to_the_operator_once_per_distinct_error(tmp_path, monkeypatch):
    from watchkeeper_airflow.callbacks import ConfigErrorNotifier

    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\ntask: ranking\nowners: {operator: {name: ops}}\n")
    for error in ("task: Input should be ...", "task: Input should be ...", "columns: Field required"):
        ConfigErrorNotifier(config_path=str(path), error=error).notify({})
    outbox = read_outbox(tmp_path / "outbox.jsonl")
    assert len(outbox) == 2 and all("broken.yaml is invalid" in m["payload"]["text"] for m in outbox)


def test_a_broken_yaml_is_told_once_across_workers_through_the_delivery_log_in_storage(
    tmp_path, monkeypatch, s3_stack, s3_storage
):
    """Two workers (each with its own outbox, so no shared local file) fail the same broken YAML: one message.

    With a valid `storage` section the log is the model's own on the local S3 server; a YAML that does not even
    parse uses the log at WATCHKEEPER_OPERATOR_LOG_URI."""
    import json

    from watchkeeper_airflow.callbacks import ConfigErrorNotifier

    conn = {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"endpoint_url": s3_stack.s3_endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WATCHKEEPER_S3", json.dumps(conn))
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump({"name": "broken", "task": "ranking", "storage": {"uri": s3_storage.uri}})
    )
    garbled = tmp_path / "garbled.yaml"
    garbled.write_text("name: [unclosed\n  task: x\n")
    monkeypatch.setenv("WATCHKEEPER_OPERATOR_LOG_URI", str(tmp_path / "operator-log"))
    outboxes = [tmp_path / "worker1" / "outbox.jsonl", tmp_path / "worker2" / "outbox.jsonl"]
    for path in (broken, garbled):
        for outbox, error in zip(
            outboxes * 2, ["task: Input should be", "task: Input should be"] * 2, strict=True
        ):
            monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(outbox))
            ConfigErrorNotifier(config_path=str(path), error=error).notify({})
        monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(outboxes[1]))
        ConfigErrorNotifier(config_path=str(path), error="columns: Field required").notify({})
    told = [m for o in outboxes for m in read_outbox(o)]
    assert sorted(m["payload"]["text"].split()[3] for m in told) == ["broken.yaml"] * 2 + ["garbled.yaml"] * 2
    assert not any((o.parent / "config-errors.txt").exists() for o in outboxes)
    logged = s3_storage.list("watchkeeper/broken/deliveries")
    assert len(logged) == 2 and all(s3_storage.read_json(k)["status"] == "sent" for k in logged)
    operator_log = Storage.from_uri(str(tmp_path / "operator-log"))
    assert [operator_log.read_json(k)["key"].split("/")[1] for k in operator_log.list("deliveries")] == [
        "garbled"
    ] * 2


def test_a_failed_task_names_the_day_in_the_models_timezone(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from watchkeeper_airflow.callbacks import WatchkeeperFailureNotifier

    monkeypatch.setenv("WATCHKEEPER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    path = write_config(tmp_path)
    cfg = yaml.safe_load((tmp_path / "tiny.yaml").read_text())
    cfg["airflow"] = {"timezone": "Europe/Paris"}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    ti = SimpleNamespace(task_id="measure_drift", try_number=1, log_url="http://airflow/log")
    start = datetime(2025, 3, 3, 23, tzinfo=UTC)  # Paris midnight of 2025-03-04, as Airflow hands it over
    WatchkeeperFailureNotifier(config_path=path).notify(
        {"ti": ti, "params": {}, "data_interval_start": start, "exception": ValueError("boom")}
    )
    (msg,) = read_outbox(tmp_path / "outbox.jsonl")
    assert msg["key"] == "tiny/pipeline_failure/2025-03-04/measure_drift/try1/operator"
