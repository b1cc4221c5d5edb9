"""Any error in one model YAML (encoding, YAML syntax, wrong types, a failure while building its DAG) breaks only
that model's DAG: the others parse, and the broken one is a `config-error` DAG naming the file and the cause."""

import yaml
from helpers import TINY_CONFIG


def test_each_kind_of_bad_yaml_breaks_only_its_own_dag(models_dir):
    from airflow.dag_processing.dagbag import DagBag

    good = {**TINY_CONFIG, "name": "good", "storage": {"uri": "s3://b/p"}}
    (models_dir / "good.yaml").write_text(yaml.safe_dump(good))
    (models_dir / "latin1.yaml").write_bytes(
        yaml.safe_dump({**good, "name": "latin1"}).encode() + b"# caf\xe9\n"
    )
    (models_dir / "syntax.yaml").write_text("name: [unclosed\n  task: x\n")
    (models_dir / "types.yaml").write_text(yaml.safe_dump({**good, "name": "types", "columns": "pid"}))
    bad_cron = {**good, "name": "cron", "airflow": {"schedule": "every tuesday"}}
    (models_dir / "cron.yaml").write_text(yaml.safe_dump(bad_cron))
    (models_dir / "zz_again.yaml").write_text(yaml.safe_dump(good))  # a second YAML with the same model name
    bag = DagBag()
    assert bag.import_errors == {}
    assert set(bag.dags) == {
        "watchkeeper_good", "watchkeeper_latin1", "watchkeeper_syntax", "watchkeeper_types", "watchkeeper_cron",
        "watchkeeper_zz_again", "watchkeeper_promote", "watchkeeper_backfill_good",
        "watchkeeper_backfill_cron",  # a backfill names its days: the bad schedule breaks only the daily DAG
    }  # fmt: skip
    assert "config-error" not in bag.dags["watchkeeper_good"].tags
    expected = {
        "latin1": "not UTF-8 text",
        "syntax": "not valid YAML",
        "types": "columns: Input should be",
        "cron": "every tuesday",
        "zz_again": "model name 'good' is already used by",
    }
    for stem, words in expected.items():
        dag = bag.dags[f"watchkeeper_{stem}"]
        assert "config-error" in dag.tags, stem
        assert f"{stem}.yaml" in dag.doc_md and words in dag.doc_md, (stem, dag.doc_md)
        assert [t.task_id for t in dag.tasks] == ["config_error"]
