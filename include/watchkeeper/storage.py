"""Object storage rooted at one location: an S3 URI (any S3-compatible endpoint) or a local directory.

One class over pyarrow filesystems serves both, so the engine reads columns straight from S3 without a second code path.
"""

from __future__ import annotations

import functools
import json
import logging
import mmap
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from watchkeeper.redact import has_userinfo, redact_uri


class StorageError(Exception):
    """A storage operation failed; the message names the key and location."""


class ObjectNotFound(StorageError):
    """The requested key does not exist."""


@dataclass(frozen=True)
class S3Credentials:
    """Credentials and endpoint for an S3-compatible store; never stored in config files."""

    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> S3Credentials:
        """Read the standard AWS variables (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for the endpoint)."""
        env = os.environ if env is None else env
        return cls(
            access_key=env.get("AWS_ACCESS_KEY_ID"),
            secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
            session_token=env.get("AWS_SESSION_TOKEN"),
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
        )

    def filesystem(self) -> pafs.S3FileSystem:
        # Delayed open: a write that fits one part is one PutObject, not a three-request multipart upload.
        kwargs: dict[str, Any] = {
            "region": self.region,
            "allow_bucket_creation": True,
            "allow_delayed_open": True,
        }
        if self.access_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        if self.endpoint_url:
            url = urlparse(self.endpoint_url)
            kwargs.update(endpoint_override=url.netloc or url.path, scheme=url.scheme or "https")
        return pafs.S3FileSystem(**kwargs)


_client_lock = threading.Lock()


@functools.cache
def _s3_client(credentials: S3Credentials) -> Any:
    import boto3

    # botocore's DEBUG records print each signed request, session token included: never below INFO, even when
    # the process (or an Airflow task) logs at DEBUG.
    quiet = logging.getLogger("botocore")
    if quiet.getEffectiveLevel() < logging.INFO:
        quiet.setLevel(logging.INFO)
    return boto3.session.Session().client(
        "s3",
        endpoint_url=credentials.endpoint_url,
        region_name=credentials.region,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token,
    )


def s3_client(credentials: S3Credentials) -> Any:
    """One boto3 S3 client per credentials and process (clients are thread-safe; creating one is not)."""
    with _client_lock:
        return _s3_client(credentials)


def s3_error_code(exc: Exception) -> str:
    """The S3 error code of a botocore error ('NoSuchKey', '404', ...), or ''."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def raise_if_unreachable(credentials: S3Credentials, exc: Exception) -> None:
    """Raise boto3's connection failures as the OSError pyarrow raises for a store that is down (callers name the
    store instead of printing a traceback); return for any other error."""
    from botocore.exceptions import ConnectionError, HTTPClientError

    if isinstance(exc, ConnectionError | HTTPClientError):
        raise OSError(f"{credentials.endpoint_url or 'AWS S3'} unreachable: {exc}") from exc


_MISSING = {"NoSuchKey", "NotFound", "404"}

WHOLE_BELOW = 64 << 20
"""Objects smaller than this are fetched from S3 in one GET and read from memory by `open_file`."""


class Storage:
    """Keys are '/'-separated paths relative to the root location (bucket/prefix or directory).

    On S3, single objects are read, checked and deleted with one request each through boto3 (`s3_client`): pyarrow's
    filesystem spends a HEAD before every read, a LIST after a HEAD that finds nothing, and a directory marker after
    a delete. Listings, streamed writes and ranged reads of large objects stay with pyarrow.
    """

    def __init__(self, fs: pafs.FileSystem, root: str, uri: str, credentials: S3Credentials | None = None):
        self.fs = fs
        self.credentials = credentials
        """The S3 credentials behind `fs` (None on local disk); leases use them for conditional writes."""
        self.root = root.rstrip("/")
        self.uri = uri.rstrip("/")
        self._memo: _Memo | None = None

    @classmethod
    def from_uri(cls, uri: str, credentials: S3Credentials | None = None) -> Storage:
        """`s3://bucket/prefix` or a local directory path (created when missing)."""
        if has_userinfo(uri):
            raise StorageError(
                f"credentials must not be embedded in the storage URI {redact_uri(uri)}: use env vars or a connection"
            )
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
            credentials = credentials or S3Credentials.from_env()
            root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
            return cls(credentials.filesystem(), root, uri, credentials)
        if parsed.scheme not in ("", "file"):
            raise StorageError(
                f"unsupported storage URI {uri!r}: use s3://bucket/prefix or a local directory"
            )
        path = os.path.abspath(parsed.path if parsed.scheme == "file" else uri)
        os.makedirs(path, exist_ok=True)
        return cls(pafs.LocalFileSystem(), path, path)

    def path(self, key: str) -> str:
        """Filesystem path of a key (for pyarrow readers); a key cannot leave the root through `..`."""
        if ".." in key.replace("\\", "/").split("/"):
            raise StorageError(f"key {key!r} would leave the storage root")
        return f"{self.root}/{key.lstrip('/')}" if key else self.root

    def url(self, key: str) -> str:
        """Human-readable location of a key, for messages."""
        return f"{self.uri}/{key.lstrip('/')}"

    @property
    def _s3(self) -> Any | None:
        """The boto3 client behind an S3 store (None on local disk, or for an S3 filesystem given no credentials)."""
        if self.credentials is None or isinstance(self.fs, pafs.LocalFileSystem):
            return None
        return s3_client(self.credentials)

    def bucket_and_name(self, key: str) -> tuple[str, str]:
        """S3: the bucket and object name of a key."""
        bucket, _, name = self.path(key).partition("/")
        return bucket, name

    def _s3_failed(self, key: str, exc: Exception, doing: str) -> None:
        """Raise a botocore error as the storage layer's: ObjectNotFound, OSError for a store that cannot be reached
        (as pyarrow raises it), StorageError otherwise; anything else is re-raised as it is."""
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = s3_error_code(exc)
            if code in _MISSING:
                raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
            raise StorageError(f"could not {doing} {self.url(key)}: {code}") from exc
        raise_if_unreachable(self.credentials, exc)
        if isinstance(exc, BotoCoreError):
            raise StorageError(f"could not {doing} {self.url(key)}: {exc}") from exc
        raise exc

    def _head(self, key: str) -> dict | None:
        """S3 only: the object's HEAD response, or None when it does not exist."""
        bucket, name = self.bucket_and_name(key)
        try:
            return self._s3.head_object(Bucket=bucket, Key=name)
        except Exception as exc:
            try:
                self._s3_failed(key, exc, "check")
            except ObjectNotFound:
                return None

    def exists(self, key: str) -> bool:
        if self._memo is not None and self._memo.get(key) is not None:
            return True
        if self._s3 is not None:
            return self._head(key) is not None
        return self.fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def size(self, key: str) -> int:
        if self._s3 is not None:
            if (head := self._head(key)) is None:
                raise ObjectNotFound(f"{self.url(key)} does not exist")
            return int(head["ContentLength"])
        info = self.fs.get_file_info(self.path(key))
        if info.type != pafs.FileType.File:
            raise ObjectNotFound(f"{self.url(key)} does not exist")
        return info.size

    def open_mapped(self, key: str) -> pa.NativeFile:
        """`open_file`, memory-mapped on local disk: an Arrow IPC file read from it is not copied, and only the pages
        of the columns read are touched. Objects are replaced by renaming (never rewritten in place), so a mapped
        object stays whole while another run replaces it."""
        if self._s3 is not None:
            return self.open_file(key)
        try:
            with open(self.path(key), "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    return pa.BufferReader(b"")
                # Python's mapping, not `pa.memory_map`: first reads of pyarrow's cost ~1 ms of system CPU per page
                # fault (measured: 5.5 s to touch 33 columns of a 226 MB file, against 0.01 s through this one).
                # The mapping lives as long as any buffer read from it.
                return pa.BufferReader(pa.py_buffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)))
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"{self.url(key)} does not exist") from exc

    def open_file(self, key: str, size: int | None = None) -> pa.NativeFile:
        """A random-access file of one object, for Parquet and Arrow readers; ObjectNotFound when it is absent. On S3
        an object under `WHOLE_BELOW` bytes is fetched in one GET and read from memory, where pyarrow's S3 file
        would spend a HEAD and a ranged GET per column chunk; a larger one is read in ranges by pyarrow. Without
        `size` the GET's length decides (one request for a small object)."""
        if self._s3 is None:
            try:
                return self.fs.open_input_file(self.path(key))
            except FileNotFoundError as exc:
                raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
        if size is not None:
            return (
                self.fs.open_input_file(self.path(key))
                if size >= WHOLE_BELOW
                else pa.BufferReader(self._fetch(key))
            )
        # One GET whose length decides: read whole when small, else drop the body and read ranges through pyarrow.
        bucket, name = self.bucket_and_name(key)
        try:
            response = self._s3.get_object(Bucket=bucket, Key=name)
        except Exception as exc:
            self._s3_failed(key, exc, "read")
            raise
        if int(response["ContentLength"]) < WHOLE_BELOW:
            return pa.BufferReader(response["Body"].read())
        response["Body"].close()
        return self.fs.open_input_file(self.path(key))

    @contextmanager
    def remembering(self, keep: Callable[[str], bool], max_bytes: int = 64 << 20) -> Iterator[None]:
        """Within the block, objects whose key `keep` selects are kept in memory once written or read here, and
        read back (and found to exist) from memory: a backfill re-reads each day's small results from the days
        after it. Deletes through this object forget them. An object another process rewrites meanwhile is not
        seen again until the block ends, so this is for a stretch of days this process runs itself."""
        outer, self._memo = self._memo, _Memo(keep, max_bytes)
        try:
            yield
        finally:
            self._memo = outer

    def read_bytes(self, key: str) -> bytes:
        if self._memo is not None and (kept := self._memo.get(key)) is not None:
            return kept
        data = self._fetch(key)
        if self._memo is not None:
            self._memo.put(key, data)
        return data

    def _fetch(self, key: str) -> bytes:
        return self.read_versioned(key)[0]

    def read_versioned(self, key: str) -> tuple[bytes, str | None]:
        """The object and its version for a conditional write (its S3 ETag; None on local disk), not remembered."""
        if self._s3 is not None:
            bucket, name = self.bucket_and_name(key)
            try:
                got = self._s3.get_object(Bucket=bucket, Key=name)
                return got["Body"].read(), got["ETag"]
            except Exception as exc:
                self._s3_failed(key, exc, "read")
        try:
            with self.fs.open_input_stream(self.path(key)) as f:
                return f.read(), None
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
        except OSError as exc:
            if not self.exists(key):
                raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
            raise StorageError(f"could not read {self.url(key)}: {exc}") from exc

    def open_output(self, key: str) -> pa.NativeFile:
        """A stream that writes (replaces) one object; parent 'directories' are created on local disk."""
        path = self.path(key)
        if self._memo is not None:
            self._memo.forget(key)
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        return self.fs.open_output_stream(path)

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.open_output(key) as f:
            f.write(data)
        if self._memo is not None:
            self._memo.put(key, data)

    def write_bytes_atomic(self, key: str, data: bytes, durable: bool = True) -> None:
        """Replace one object so readers see the old bytes or the new ones, never a part.

        On local disk: a temporary file beside it, then `os.replace`. On S3 an object becomes visible only when its
        upload completes, so one write is atomic; it is read back to verify what was stored. `durable=False`, for
        derived objects written often, skips the local sync to disk and the S3 read-back.
        """
        if isinstance(self.fs, pafs.LocalFileSystem):
            with _beside(self.path(key)) as tmp, open(tmp, "wb") as f:
                f.write(data)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            if self._memo is not None:
                self._memo.put(key, data)
            return
        self.write_bytes(key, data)
        if durable and self._fetch(key) != data:
            raise StorageError(f"{self.url(key)} did not read back as written")

    @contextmanager
    def replacing(self, key: str) -> Iterator[pa.NativeFile]:
        """A stream whose bytes replace one object whole once it closes without error, unsynced (as
        `write_bytes_atomic(durable=False)`): on local disk written straight to a temporary file renamed into
        place, no copy in memory; on S3 buffered, then one upload."""
        if not isinstance(self.fs, pafs.LocalFileSystem):
            sink = pa.BufferOutputStream()
            yield sink
            self.write_bytes_atomic(key, memoryview(sink.getvalue()), durable=False)
            return
        try:
            with _beside(self.path(key)) as tmp, pa.OSFile(tmp, "wb") as f:
                yield f
        finally:
            if self._memo is not None:
                self._memo.forget(key)

    def write_json_atomic(self, key: str, obj: Any) -> None:
        self.write_bytes_atomic(key, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def read_bytes_if_any(self, key: str) -> bytes | None:
        """The object, or None when it does not exist: one read instead of a check and a read (on S3 an existence
        check of a missing key costs a HEAD and a LIST)."""
        try:
            return self.read_bytes(key)
        except ObjectNotFound:
            return None

    def read_json_if_any(self, key: str) -> Any | None:
        """The object as JSON, or None when it does not exist (`read_bytes_if_any`)."""
        data = self.read_bytes_if_any(key)
        return None if data is None else json.loads(data)

    def write_json(self, key: str, obj: Any, whole: bool = False) -> None:
        """`whole`: a reader meanwhile sees the old document or the new one, never a part (on local disk a
        temporary file renamed into place, not synced; an S3 write is whole anyway)."""
        data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
        if whole:
            self.write_bytes_atomic(key, data, durable=False)
        else:
            self.write_bytes(key, data)

    def list(self, prefix: str) -> list[str]:
        """Keys below a prefix, sorted; empty when the prefix does not exist."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        start = len(self.root) + 1
        infos = self.fs.get_file_info(selector)
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)

    def delete(self, key: str) -> None:
        """Remove one key if it exists."""
        if self._memo is not None:
            self._memo.forget(key)
        if self._s3 is not None:
            bucket, name = self.bucket_and_name(key)
            try:
                self._s3.delete_object(Bucket=bucket, Key=name)  # a missing key is no error on S3
            except Exception as exc:
                self._s3_failed(key, exc, "delete")
            return
        if self.exists(key):
            self.fs.delete_file(self.path(key))

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key below a prefix (used to replace a day's results on re-runs)."""
        if self._memo is not None:
            self._memo.forget_below(prefix)
        for key in self.list(prefix):
            self.fs.delete_file(self.path(key))

    def ensure_root(self) -> None:
        """Create the bucket (S3) or directory (local) when it is missing."""
        self.fs.create_dir(self.root, recursive=True)


@contextmanager
def _beside(path: str) -> Iterator[str]:
    """A temporary file's path beside `path`, renamed onto it when the block ends without error and removed
    otherwise: a local reader sees the old file or the new one, never a part."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Memo:
    """`Storage.remembering`'s objects: least recently used dropped first beyond `max_bytes`."""

    def __init__(self, keep: Callable[[str], bool], max_bytes: int):
        self.keep, self.max_bytes, self.size = keep, max_bytes, 0
        self.objects: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            if (data := self.objects.get(key)) is not None:
                self.objects.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        self.forget(key)
        if not self.keep(key) or len(data) > self.max_bytes:
            return
        with self.lock:
            self.objects[key] = data
            self.size += len(data)
            while self.size > self.max_bytes:
                self.size -= len(self.objects.popitem(last=False)[1])

    def forget(self, key: str) -> None:
        with self.lock:
            if (data := self.objects.pop(key, None)) is not None:
                self.size -= len(data)

    def forget_below(self, prefix: str) -> None:
        with self.lock:
            for key in [k for k in self.objects if k.startswith(prefix)]:
                self.size -= len(self.objects.pop(key))


def open_storages(
    uri: str, results_uri: str | None, credentials: S3Credentials | None = None
) -> tuple[Storage, Storage]:
    """(data storage, results storage); the same object when results live with the data."""
    data = Storage.from_uri(uri, credentials)
    return data, (Storage.from_uri(results_uri, credentials) if results_uri else data)
