"""Credentials never show: not embedded in storage URIs (any scheme case), not in reprs, not in messages."""

from __future__ import annotations

import logging

import pytest
from helpers import TINY_CONFIG
from watchkeeper.config import ConfigError, parse_config
from watchkeeper.redact import redact_uri, redact_urls, redacting_logger
from watchkeeper.storage import S3Credentials, Storage, StorageError

SECRET = "SENTINELSECRET123"


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://AKIAKEY:{SECRET}@bucket/prefix",
        f"S3://AKIAKEY:{SECRET}@bucket/prefix",
        f"S3A://AKIAKEY:{SECRET}@bucket/prefix",
        f"Https://user:{SECRET}@minio.local/bucket",
        f"s3://{SECRET}@bucket",
    ],
)
@pytest.mark.parametrize("field", ["uri", "results_uri"])
def test_credentials_in_a_storage_uri_are_rejected_without_echoing_them(uri, field):
    storage = {"uri": "s3://bucket/prefix", field: uri}
    with pytest.raises(ConfigError) as err:
        parse_config({**TINY_CONFIG, "storage": storage}, "m.yaml")
    assert f"storage.{field}: Value error, credentials must not be embedded" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    with pytest.raises(StorageError) as err:
        Storage.from_uri(uri, S3Credentials(access_key="k", secret_key="s"))
    assert SECRET not in str(err.value) and "***@" in str(err.value)


def test_s3_credentials_repr_hides_the_secret_and_session_token():
    creds = S3Credentials(access_key="AKIAKEY", secret_key=SECRET, session_token=SECRET + "TOKEN")
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}"):
        assert SECRET not in text and "AKIAKEY" in text
    assert creds.secret_key == SECRET  # still usable


def test_uri_and_url_redaction():
    assert redact_uri(f"S3://KEY:{SECRET}@bucket/x") == "S3://***@bucket/x"
    hook = f"Going to retry the same request: POST https://hooks.slack.com/services/T0/B0/{SECRET} now"
    assert redact_urls(hook) == "Going to retry the same request: POST https://hooks.slack.com/*** now"
    assert SECRET not in redact_urls(f"http://u:{SECRET}@127.0.0.1:8080/hook")


def test_the_slack_logger_never_records_the_webhook_url(caplog):
    log = redacting_logger("watchkeeper.slack")
    with caplog.at_level(logging.DEBUG, logger="watchkeeper.slack"):
        log.info("Going to retry the same request: %s %s", "POST", f"http://127.0.0.1:9/hook/{SECRET}")
        log.debug(f"Sending a request - url: https://hooks.slack.com/services/{SECRET}, body: {{}}")
    assert SECRET not in caplog.text and "http://127.0.0.1:9/***" in caplog.text
