"""Configured paths cannot leave the storage root: each bad value is a validation error naming the field."""

from __future__ import annotations

import pytest
import yaml
from helpers import TINY_CONFIG
from watchkeeper.config import ConfigError, load_config, parse_config
from watchkeeper.quality.suite import suite_path
from watchkeeper.storage import Storage, StorageError


def _config(**changes: dict) -> dict:
    data = {**TINY_CONFIG, "storage": {"uri": "s3://bucket/model"}}
    for section, values in changes.items():
        data[section] = {**data.get(section, {}), **values}
    return data


ESCAPES = {
    "parent segment": "../other-model/x",
    "deep parent": "a/../../b",
    "absolute": "/etc/passwd",
    "home": "~/secrets",
    "url": "s3://other-bucket/x",
    "file url": "file:///etc/passwd",
    "backslash parent": "..\\x",
    "percent-encoded parent": "%2e%2e/x",
    "windows drive": "C:/x",
    "control character": "a\nb",
    "empty": "",
}


@pytest.mark.parametrize("value", ESCAPES.values(), ids=list(ESCAPES))
@pytest.mark.parametrize(
    ("section", "field", "template"),
    [
        ("storage", "results_prefix", "{}"),
        ("paths", "reference", "{}"),
        ("paths", "predictions", "{}/{{ds}}.parquet"),
        ("paths", "labels", "{}/{{ds}}.parquet"),
    ],
)
def test_paths_outside_the_storage_root_are_rejected_naming_the_field(section, field, template, value):
    with pytest.raises(ConfigError) as err:
        parse_config(_config(**{section: {field: template.format(value)}}), "m.yaml")
    assert f"{section}.{field}: Value error, must be a" in str(err.value)


@pytest.mark.parametrize("suite", ["../../x", "a/b", "/abs", "..", ".hidden"])
def test_a_suite_is_a_plain_name(suite):
    with pytest.raises(ConfigError, match="quality.suite: Value error, must be a plain file name"):
        parse_config(_config(quality={"suite": suite}), "m.yaml")


@pytest.mark.parametrize("where", ESCAPES.values(), ids=list(ESCAPES))
def test_expectations_dir_stays_in_the_project_of_the_yaml(where, tmp_path):
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(_config(quality={"expectations_dir": where})))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "m.yaml")
    # The message names the file and the field, as for every other configured path.
    assert str(err.value).startswith(f"{tmp_path / 'm.yaml'}: invalid model configuration")
    assert "quality.expectations_dir: Value error, must be a directory relative to the model YAML" in str(
        err.value
    )


def test_the_suite_is_found_upward_from_the_yaml(tmp_path):
    suite = tmp_path / "project" / "suites" / "tiny" / "default.json"
    suite.parent.mkdir(parents=True)
    suite.write_text("{}")
    (tmp_path / "project" / "models").mkdir()
    (tmp_path / "project" / "models" / "m.yaml").write_text(
        yaml.safe_dump(_config(quality={"expectations_dir": "suites"}))
    )
    assert suite_path(load_config(tmp_path / "project" / "models" / "m.yaml")) == suite


def test_ordinary_paths_still_pass(tmp_path):
    cfg = parse_config(
        _config(
            storage={"results_prefix": "monitoring/watchkeeper-v2"},
            paths={"reference": "ref/reference.v1.parquet", "predictions": "days/{ds_nodash}.csv"},
            quality={"suite": "default.v2", "expectations_dir": "config/expectations"},
        )
    )
    assert cfg.results_key("2025-03-01", "result.json").startswith("monitoring/watchkeeper-v2/tiny/")


def test_storage_keys_cannot_climb_out_of_the_root(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "root"))
    (tmp_path / "secret.txt").write_text("x")
    with pytest.raises(StorageError, match="would leave the storage root"):
        storage.read_bytes("../secret.txt")
    with pytest.raises(StorageError, match="would leave the storage root"):
        storage.write_bytes("a/../../escaped.txt", b"x")
    assert not (tmp_path / "escaped.txt").exists()
