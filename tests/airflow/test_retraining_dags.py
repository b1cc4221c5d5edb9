"""Shape of the retraining and promotion DAGs: one retraining DAG per model with a `model:` section, scheduled on the
retraining-request Asset the monitoring DAG updates, startable by hand; one promotion DAG with model and version."""

import yaml
from helpers import TINY_CONFIG


def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


def test_retraining_dag_per_registered_model_wired_to_the_monitoring_request(models_dir):
    (models_dir / "good.yaml").write_text(yaml.safe_dump({**TINY_CONFIG, "name": "good", "storage": {"uri": "s3://b/p"},
                                                          "model": {"registered_name": "good_model"}}))  # fmt: skip
    (models_dir / "plain.yaml").write_text(
        yaml.safe_dump({**TINY_CONFIG, "name": "plain", "storage": {"uri": "/x"}})
    )
    b = bag()
    assert b.import_errors == {}
    assert "watchkeeper_retrain_good" in b.dags and "watchkeeper_retrain_plain" not in b.dags
    dag = b.dags["watchkeeper_retrain_good"]
    assert {t.task_id for t in dag.tasks} == {"prepare", "ready", "refused", "train_challenger", "evaluate_challenger",
                                              "propose_promotion", "release_lease"}  # fmt: skip
    assert dag.get_task("ready").downstream_task_ids == {"train_challenger", "refused"}
    assert dag.get_task("release_lease").trigger_rule == "all_done"
    assert {"day", "reason", "since"} <= set(dag.params)
    assert dag.max_active_runs == 1
    (asset,) = dag.timetable.asset_condition.objects
    monitoring = b.dags["watchkeeper_good"].get_task("request_retraining")
    assert [o.name for o in monitoring.outlets] == [asset.name] == ["watchkeeper_good_retraining_request"]
    promote = b.dags["watchkeeper_promote"]
    assert {"model", "action", "version", "reason", "requested_by"} <= set(promote.params)
    assert promote.params.get_param("model").schema["enum"] == ["good", "plain"]
    assert promote.schedule is None or promote.timetable.summary in ("None", "")
