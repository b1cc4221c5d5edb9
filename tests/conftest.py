"""Shared fixtures: a real S3 API over HTTP (moto server, stopped by its PID) and the tiny world on local disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from helpers import tiny_config, write_tiny_world  # noqa: E402
from watchkeeper.config import ModelConfig  # noqa: E402
from watchkeeper.stack import Stack  # noqa: E402
from watchkeeper.storage import S3Credentials, Storage  # noqa: E402
from webhook_receiver import WebhookReceiver  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """`long` tests run only with WATCHKEEPER_LONG_TESTS=1 (see pyproject's markers); the skip says so."""
    import os

    if os.environ.get("WATCHKEEPER_LONG_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="long end-to-end run: set WATCHKEEPER_LONG_TESTS=1 to run it")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def s3_stack(tmp_path_factory) -> Stack:
    stack = Stack(state_dir=str(tmp_path_factory.mktemp("stack")))
    stack.start_s3()
    yield stack
    stack.stop()


@pytest.fixture
def s3_credentials(s3_stack) -> S3Credentials:
    return S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)


@pytest.fixture
def s3_storage(s3_credentials, request) -> Storage:
    bucket = "wk-" + request.node.name.lower().replace("_", "-")[:40].strip("-[]")
    storage = Storage.from_uri(f"s3://{bucket}/data", s3_credentials)
    storage.ensure_root()
    return storage


@pytest.fixture
def tiny(tmp_path) -> tuple[ModelConfig, Storage, dict]:
    """A tiny world on local disk, with its config."""
    storage = Storage.from_uri(str(tmp_path / "data"))
    frames = write_tiny_world(storage)
    return tiny_config(tmp_path, str(tmp_path / "data")), storage, frames


@pytest.fixture
def webhook():
    """A real HTTP webhook receiver (see webhook_receiver.py), shut down after the test."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
