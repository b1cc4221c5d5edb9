"""The local outbox: alert messages as JSON lines, one per key, used when an owner has no Slack connection.

Writers in several processes (parallel Airflow tasks, a backfill) share one file: every read-modify-write holds an
exclusive `fcntl` lock on a lock file beside it, and the new content replaces the file atomically, so no message
is lost to a concurrent writer and readers never see a partial file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path


def outbox_path() -> Path:
    return Path(os.environ.get("WATCHKEEPER_OUTBOX", ".watchkeeper/outbox.jsonl"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line] if path.exists() else []


def write_outbox(key: str, destination: str, payload: dict, path: Path | str | None = None) -> Path:
    """Append one message, replacing an earlier one with the same key."""
    path = Path(path or outbox_path())
    line = json.dumps({"key": key, "destination": destination, "payload": payload}, sort_keys=True)
    with _locked(path):
        kept = [x for x in _lines(path) if json.loads(x).get("key") != key]
        kept.append(line)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_text("\n".join(kept) + "\n")
        tmp.replace(path)
    return path


def read_outbox(path: Path | str | None = None) -> list[dict]:
    path = Path(path or outbox_path())
    return [json.loads(line) for line in _lines(path)]
