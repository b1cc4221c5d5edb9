"""The lease helper under races: separate processes take one lease at once against the local S3 server over HTTP
(conditional PutObject) and on local disk; exactly one wins, and a lapsed lease is taken over exactly once."""

import json
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError
from watchkeeper import lease_object
from watchkeeper.storage import Storage, s3_client

RACERS = 6
RACE = """
import json, sys, time
from watchkeeper import lease_object
from watchkeeper.storage import S3Credentials, Storage
uri, endpoint, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=endpoint) if endpoint else None
storage = Storage.from_uri(uri, creds)
token = lease_object.new_token()
doc = {"owner": token, "token": token, "expires": time.time() + 60}
lease_object.read(storage, "x")  # clients made and connections open before the start
time.sleep(max(0.0, start - time.time()))
holder = lease_object.take(storage, "lease.json", doc, lambda d: d.get("expires", 0) > time.time(), settle=0.2)
print(json.dumps({"won": holder is None, "token": token}))
"""


def _race(uri: str, endpoint: str = "") -> list[dict]:
    start = time.time() + 8  # every racer has imported and connected by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, uri, endpoint, str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(RACERS)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    return [json.loads(o) for o in outs]


def _exactly_one_holds(storage: Storage, outcomes: list[dict]) -> None:
    winners = [o["token"] for o in outcomes if o["won"]]
    assert len(winners) == 1, outcomes
    assert storage.read_json("lease.json")["token"] == winners[0]


@pytest.mark.slow
def test_racing_processes_one_wins_over_s3_then_one_takes_over_the_lapsed_lease(s3_stack, s3_storage):
    _exactly_one_holds(s3_storage, _race(s3_storage.uri, s3_stack.s3_endpoint))
    s3_storage.write_json(
        "lease.json", {"owner": "a crashed run", "token": "old", "expires": time.time() - 1}
    )
    _exactly_one_holds(s3_storage, _race(s3_storage.uri, s3_stack.s3_endpoint))


@pytest.mark.slow
def test_racing_processes_one_wins_on_local_disk_then_one_takes_over(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "results"))
    _exactly_one_holds(storage, _race(storage.uri))
    storage.write_json("lease.json", {"owner": "a crashed run", "token": "old", "expires": time.time() - 1})
    _exactly_one_holds(storage, _race(storage.uri))


def test_takeover_needs_the_version_read_and_release_needs_the_token(s3_storage):
    lapsed = {"token": "old", "expires": time.time() - 1}
    s3_storage.write_json("lease.json", lapsed)
    _, etag = lease_object.read(s3_storage, "lease.json")
    s3_storage.write_json("lease.json", lapsed | {"token": "newer"})  # replaced after we read it
    mine = {"token": "mine", "expires": time.time() + 60}
    assert not lease_object._s3_write(s3_storage, "lease.json", json.dumps(mine).encode(), etag)
    assert lease_object.take(s3_storage, "lease.json", mine, lambda d: d["expires"] > time.time()) is None
    lease_object.give_back(s3_storage, "lease.json", "not-mine")
    assert s3_storage.read_json("lease.json")["token"] == "mine"
    lease_object.give_back(s3_storage, "lease.json", "mine")
    assert not s3_storage.exists("lease.json")


def test_a_store_without_conditional_writes_falls_back_to_settle_and_read_back(
    s3_storage, monkeypatch, caplog
):
    client = s3_client(s3_storage.credentials)
    refused = ClientError({"Error": {"Code": "NotImplemented"}}, "PutObject")
    monkeypatch.setattr(type(client), "put_object", lambda *a, **k: (_ for _ in ()).throw(refused))
    monkeypatch.setattr(lease_object, "_warned", set())
    docs = [{"token": t, "expires": time.time() + 60} for t in ("a", "b")]
    assert lease_object.take(s3_storage, "lease.json", docs[0], lambda d: True, settle=0) is None
    assert lease_object.take(s3_storage, "lease.json", docs[1], lambda d: True, settle=0) == docs[0]
    s3_storage.delete("lease.json")
    assert lease_object.take(s3_storage, "lease.json", docs[1], lambda d: True, settle=0) is None
    warnings = [r for r in caplog.records if "refuses conditional writes" in r.message]
    assert len(warnings) == 1 and "NotImplemented" in warnings[0].message
