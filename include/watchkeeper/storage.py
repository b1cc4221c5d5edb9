"""Object storage rooted at one location: an S3 URI (any S3-compatible endpoint) or a local directory.

One class over pyarrow filesystems serves both, so the engine reads columns straight from S3 without a second code path.
"""

from __future__ import annotations

import json
import os
import uuid
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
        kwargs: dict[str, Any] = {"region": self.region, "allow_bucket_creation": True}
        if self.access_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        if self.endpoint_url:
            url = urlparse(self.endpoint_url)
            kwargs.update(endpoint_override=url.netloc or url.path, scheme=url.scheme or "https")
        return pafs.S3FileSystem(**kwargs)


class Storage:
    """Keys are '/'-separated paths relative to the root location (bucket/prefix or directory)."""

    def __init__(self, fs: pafs.FileSystem, root: str, uri: str, credentials: S3Credentials | None = None):
        self.fs = fs
        self.credentials = credentials
        """The S3 credentials behind `fs` (None on local disk); leases use them for conditional writes."""
        self.root = root.rstrip("/")
        self.uri = uri.rstrip("/")

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

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def size(self, key: str) -> int:
        info = self.fs.get_file_info(self.path(key))
        if info.type != pafs.FileType.File:
            raise ObjectNotFound(f"{self.url(key)} does not exist")
        return info.size

    def read_bytes(self, key: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.path(key)) as f:
                return f.read()
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
        except OSError as exc:
            if not self.exists(key):
                raise ObjectNotFound(f"{self.url(key)} does not exist") from exc
            raise StorageError(f"could not read {self.url(key)}: {exc}") from exc

    def open_output(self, key: str) -> pa.NativeFile:
        """A stream that writes (replaces) one object; parent 'directories' are created on local disk."""
        path = self.path(key)
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        return self.fs.open_output_stream(path)

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.open_output(key) as f:
            f.write(data)

    def write_bytes_atomic(self, key: str, data: bytes, durable: bool = True) -> None:
        """Replace one object so readers see the old bytes or the new ones, never a part.

        On local disk: a temporary file beside it, then `os.replace`. On S3 an object becomes visible only when its
        upload completes, so one write is atomic; it is read back to verify what was stored. `durable=False`, for
        derived objects written often, skips the local sync to disk and the S3 read-back.
        """
        if isinstance(self.fs, pafs.LocalFileSystem):
            path = self.path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    if durable:
                        f.flush()
                        os.fsync(f.fileno())
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return
        self.write_bytes(key, data)
        if durable and self.read_bytes(key) != data:
            raise StorageError(f"{self.url(key)} did not read back as written")

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

    def write_json(self, key: str, obj: Any) -> None:
        self.write_bytes(key, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())

    def list(self, prefix: str) -> list[str]:
        """Keys below a prefix, sorted; empty when the prefix does not exist."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        start = len(self.root) + 1
        infos = self.fs.get_file_info(selector)
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)

    def delete(self, key: str) -> None:
        """Remove one key if it exists."""
        if self.exists(key):
            self.fs.delete_file(self.path(key))

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key below a prefix (used to replace a day's results on re-runs)."""
        for key in self.list(prefix):
            self.fs.delete_file(self.path(key))

    def ensure_root(self) -> None:
        """Create the bucket (S3) or directory (local) when it is missing."""
        self.fs.create_dir(self.root, recursive=True)


def open_storages(
    uri: str, results_uri: str | None, credentials: S3Credentials | None = None
) -> tuple[Storage, Storage]:
    """(data storage, results storage); the same object when results live with the data."""
    data = Storage.from_uri(uri, credentials)
    return data, (Storage.from_uri(results_uri, credentials) if results_uri else data)
