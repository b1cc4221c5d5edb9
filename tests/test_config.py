"""Model YAML validation: what a user sees for good and bad files."""

from pathlib import Path

import pytest
import yaml
from helpers import TINY_CONFIG
from watchkeeper.config import ConfigError, load_config
from watchkeeper.thresholds import ConstantThreshold


def write(tmp_path: Path, data: dict, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_config_parses_with_defaults_and_plain_feature_names(tmp_path):
    cfg = load_config(write(tmp_path, {**TINY_CONFIG, "storage": {"uri": "s3://bucket/prefix"}}))
    assert cfg.name == "tiny"
    assert [f.name for f in cfg.columns.features] == ["x1", "x2", "c"]
    assert cfg.columns.features[0].kind is None  # inferred later from the reference
    assert cfg.drift.threshold.type == "std" and cfg.drift.threshold.k == 3.0
    assert cfg.results_key("2025-01-02", "result.json") == "watchkeeper/tiny/days/2025-01-02/result.json"


def test_error_names_file_and_every_bad_field(tmp_path):
    bad = {**TINY_CONFIG, "task": "ranking", "storage": {"uri": "s3://b/p"}}
    bad["columns"] = {k: v for k, v in TINY_CONFIG["columns"].items() if k != "id"}
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "task:" in msg and "columns.id:" in msg


def test_credentials_in_uri_are_refused(tmp_path):
    path = write(tmp_path, {**TINY_CONFIG, "storage": {"uri": "s3://key:secret@bucket/prefix"}})
    with pytest.raises(ConfigError, match=r"storage.uri: .*credentials must not be embedded"):
        load_config(path)


def test_templates_must_be_per_day(tmp_path):
    paths = {**TINY_CONFIG["paths"], "predictions": "days/all.parquet"}
    with pytest.raises(ConfigError, match=r"paths.predictions: .*\{ds\}"):
        load_config(write(tmp_path, {**TINY_CONFIG, "paths": paths, "storage": {"uri": "/x"}}))


def test_unknown_field_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"drift.threshhold: Extra inputs"):
        load_config(write(tmp_path, {**TINY_CONFIG, "storage": {"uri": "/x"}, "drift": {"threshhold": {}}}))


def test_feature_cannot_also_be_a_role(tmp_path):
    cols = {**TINY_CONFIG["columns"], "features": ["x1", "score"]}
    with pytest.raises(ConfigError, match="both a feature and a role"):
        load_config(write(tmp_path, {**TINY_CONFIG, "columns": cols, "storage": {"uri": "/x"}}))


def test_threshold_rules_parse_by_type(tmp_path):
    drift = {"features": {"x1": {"methods": ["psi"], "threshold": {"type": "constant", "upper": 0.2}}}}
    cfg = load_config(write(tmp_path, {**TINY_CONFIG, "storage": {"uri": "/x"}, "drift": drift}))
    assert cfg.drift.features["x1"].threshold == ConstantThreshold(upper=0.2)


def test_relative_local_locations_are_relative_to_the_yaml(tmp_path):
    sub = tmp_path / "configs"
    sub.mkdir()
    cfg = load_config(write(sub, {**TINY_CONFIG, "storage": {"uri": "../data", "results_uri": "out"}}))
    assert cfg.storage.uri == str(tmp_path / "data")
    assert cfg.storage.results_uri == str(sub / "out")


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_shipped_configs_are_valid():
    root = Path(__file__).resolve().parents[1]
    for path in [
        *sorted((root / "include" / "models").glob("*.yaml")),
        root / "docs/examples/work_from_home.yaml",
    ]:
        assert load_config(path).name
