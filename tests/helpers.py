"""Helpers shared by tests: a tiny synthetic model world (generic, not the demo's) and its config; a demo world.

Two numeric features, one categorical and a score; labels of each day arrive the next day.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from watchkeeper.config import ModelConfig, load_config
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[1]

FIRST_DAY = date(2025, 3, 1)


def rows(rng: np.random.Generator, n: int, day: date, shift: float = 0.0, flip: bool = False) -> pd.DataFrame:
    """n prediction records of one day; `shift` moves x1, `flip` changes how the label depends on x2."""
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    c = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    logit = 1.5 * x1 + 1.0 * x2 + (c == "a") * 0.5
    score = 1 / (1 + np.exp(-logit))
    true_logit = logit if not flip else 1.5 * x1 - 1.0 * x2
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return pd.DataFrame(
        {
            "pid": [f"{day.isoformat()}-{i}" for i in range(n)],
            "ts": [start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)],
            "x1": x1,
            "x2": x2,
            "c": c,
            "score": score,
            "pred": (score >= 0.5).astype(int),
            "label": y,
        }
    )


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


TINY_CONFIG = {
    "name": "tiny",
    "task": "binary_classification",
    "paths": {
        "reference": "ref.parquet",
        "predictions": "days/{ds}.parquet",
        "labels": "labels/{ds}.parquet",
    },
    "columns": {
        "id": "pid",
        "timestamp": "ts",
        "features": ["x1", "x2", "c"],
        "score": "score",
        "prediction": "pred",
        "target": "label",
    },  # fmt: skip
    "owners": {"data": {"name": "data-team"}, "model": {"name": "ml-team"}},
    "performance": {"label_window_days": 5, "min_labels": 50},
    "airflow": {"retries": 0},
}


def write_tiny_world(storage: Storage, days: int = 4, n: int = 600, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Reference of 12 days; production days from FIRST_DAY: labels of each day arrive the next day."""
    rng = np.random.default_rng(seed)
    ref = pd.concat([rows(rng, n, FIRST_DAY - timedelta(days=12 - i)) for i in range(12)], ignore_index=True)
    storage.write_bytes("ref.parquet", parquet_bytes(ref))
    out = {}
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        df = rows(rng, n, day)
        out[day.isoformat()] = df
        storage.write_bytes(f"days/{day.isoformat()}.parquet", parquet_bytes(df.drop(columns=["label"])))
        if i > 0:
            prev = out[(day - timedelta(days=1)).isoformat()]
            storage.write_bytes(f"labels/{day.isoformat()}.parquet", parquet_bytes(prev[["pid", "label"]]))
    return out


def tiny_config(tmp_path: Path, uri: str, **overrides) -> ModelConfig:
    data = {**TINY_CONFIG, "storage": {"uri": uri}, **overrides}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def stored_frame(store: dict[str, bytes], key: str) -> pd.DataFrame:
    """A Parquet object a demo world wrote into an in-memory store, as a DataFrame."""
    return pd.read_parquet(io.BytesIO(store[key]))


def incident(doc: dict, kind: str) -> dict:
    """The first incident of a type in a world's manifest or a detection report."""
    return next(i for i in doc["incidents"] if i["type"] == kind)


def demo_world(model: str, root: Path, days: int, rows: int) -> tuple[ModelConfig, Storage, dict, date]:
    """Write `model`'s demo world under `root/data` and point the model's own YAML at it (with a quality suite
    generated from this world's reference), also written to `root/model.yaml`; return the config, the storage,
    the world's manifest and its first production day."""
    from watchkeeper.config import parse_config
    from watchkeeper.demo import WORLDS

    storage = Storage.from_uri(str(root / "data"))
    manifest = WORLDS[model](storage.write_bytes, days=days, rows_per_day=rows)
    data = yaml.safe_load((ROOT / "include" / "models" / f"{model}.yaml").read_text())
    data["storage"]["uri"] = str(root / "data")
    data["quality"] = {"expectations_dir": "no-suite"}
    (root / "model.yaml").write_text(yaml.safe_dump(data))
    return parse_config(data), storage, manifest, date.fromisoformat(manifest["start"])


def run_at_once(work: Callable[[int], None], n: int, timeout: float = 120) -> list[BaseException]:
    """`work(0)` .. `work(n - 1)` in n threads released together (like workers running days at once); the
    exceptions they raised."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


def killed_while_writing(monkeypatch, matches: Callable[[str], bool]) -> None:
    """From now on a local write of a key that `matches` kills the process (SystemExit) before it completes,
    whichever way it is written: a plain write leaves half the bytes in place, a replacing one is cut before
    its rename. `monkeypatch.undo()` brings the next process."""

    def killed() -> None:
        raise SystemExit("killed while writing")

    def replace(src: str, dst: str) -> None:
        if matches(dst):
            killed()
        os.rename(src, dst)

    plain_write = Storage.write_bytes

    def torn(self: Storage, key: str, data: bytes) -> None:
        if not matches(key):
            return plain_write(self, key, data)
        with self.open_output(key) as f:
            f.write(data[: len(data) // 2])
        killed()

    monkeypatch.setattr("watchkeeper.storage.os.replace", replace)
    monkeypatch.setattr(Storage, "write_bytes", torn)
