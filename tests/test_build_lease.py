"""The build lease: days starting together build the shared profile once, on local disk and over S3."""

from __future__ import annotations

import threading
import time

from watchkeeper.build_lease import build_lease
from watchkeeper.storage import Storage


def contend(storage: Storage, workers: int = 4) -> list[bool]:
    """`workers` threads each build the artifact unless it exists; return who built."""
    built: list[bool] = []

    def day():
        with build_lease(
            storage, "profile.lease", lambda: storage.exists("profile.json"), settle=0.3, poll=0.1
        ) as held:
            if held and not storage.exists("profile.json"):
                time.sleep(0.5)  # the build
                storage.write_json("profile.json", {"built": True})
            built.append(held)

    threads = [threading.Thread(target=day) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return built


def test_concurrent_days_build_once_on_disk(tmp_path):
    storage = Storage.from_uri(str(tmp_path))
    assert sorted(contend(storage)) == [False, False, False, True]
    assert storage.exists("profile.json") and not storage.exists("profile.lease")


def test_concurrent_days_build_once_over_s3(s3_storage):
    storage = s3_storage
    built = contend(storage)
    assert sorted(built) == [False, False, False, True]
    assert storage.exists("profile.json") and not storage.exists("profile.lease")


def test_an_expired_lease_is_taken_over(tmp_path):
    storage = Storage.from_uri(str(tmp_path))
    storage.write_json("profile.lease", {"owner": "a-crashed-task", "expires": time.time() - 1})
    with build_lease(storage, "profile.lease", lambda: False, settle=0.1) as held:
        assert held and storage.read_json("profile.lease")["owner"] != "a-crashed-task"
    assert not storage.exists("profile.lease")
