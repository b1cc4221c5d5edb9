"""A suite generated for a dataset the team has never seen validates that dataset's own reference days cleanly.

A synthetic dataset unlike the demo (other names, nullable ints, float32, booleans, naive timestamps, skew, heavy
missingness, a regression task) and, when present beside the project, the third-party devkit: each reference day
goes through `load_day` → `check_quality` as a production day would, and no expectation may fail.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import parquet_bytes
from watchkeeper.config import load_config
from watchkeeper.pipeline import Day, check_quality, load_checks, load_day
from watchkeeper.reference import chunks
from watchkeeper.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the project; a git worktree under wt/ has it one level further up.
DEVKIT = next(
    (
        p / "shared" / "devkit" / "work_from_home"
        for p in ROOT.parents[:2]
        if (p / "shared" / "devkit").is_dir()
    ),
    ROOT.parent / "shared" / "devkit" / "work_from_home",
)


def unseen_dataset(days: int = 12, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(days):
        n = int(rng.integers(700, 1300))
        day = date(2030, 6, 1) + timedelta(days=i)
        df = pd.DataFrame(
            {
                "request_key": np.arange(n, dtype=np.int64) + i * 10_000,
                "served_at": pd.Timestamp(day)
                + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s"),
                "basket_value": rng.lognormal(3, 1.2, n),
                "items": pd.array(rng.poisson(3, n), dtype="Int64"),
                "discount": rng.uniform(0, 0.3, n).astype("float32"),
                "is_member": rng.random(n) < 0.4,
                "country": rng.choice(
                    ["DE", "FR", "NL", "IT", "ES", "PL"], n, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05]
                ),
                "channel": rng.choice(["app", "web", "store"], n),
                "predicted_spend": rng.gamma(2, 30, n),
                "spend": rng.gamma(2, 30, n),
            }
        )
        df.loc[rng.random(n) < 0.25, "discount"] = np.nan  # heavy, stable missingness
        df.loc[rng.random(n) < 0.03, "items"] = pd.NA
        df.loc[rng.random(n) < 0.05, "channel"] = None
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def config_for(tmp: Path, doc: dict):
    path = tmp / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def failures_on_reference_days(cfg, storage: Storage, ref: pd.DataFrame) -> dict[str, list[str]]:
    """Each reference day staged and validated like a production day; the failing checks per day."""
    failing = {}
    for part in chunks(cfg, ref):
        day = pd.to_datetime(part[cfg.columns.timestamp], utc=True).dt.date.iloc[0]
        storage.write_bytes(cfg.paths.for_day(cfg.paths.predictions, day), parquet_bytes(part))
        d = Day(cfg, day, storage, storage)
        load_day(d)
        check_quality(d)
        checks = load_checks(d, "quality")
        assert len(checks) > 10
        failing[str(day)] = [f"{c.id} {c.subject}: {c.reason}" for c in checks if c.status != "ok"]
    return {day: bad for day, bad in failing.items() if bad}


def test_suite_for_an_unseen_dataset_passes_its_reference_days(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    ref = unseen_dataset()
    storage.write_bytes("reference.parquet", parquet_bytes(ref))
    cfg = config_for(tmp_path, {
        "name": "baskets", "task": "regression", "storage": {"uri": str(tmp_path / "data")},
        "paths": {"reference": "reference.parquet", "predictions": "days/{ds}.parquet"},
        "columns": {"id": "request_key", "timestamp": "served_at", "prediction": "predicted_spend",
                    "target": "spend", "features": ["basket_value", "items", "discount", "is_member", "country",
                                                    {"name": "channel", "kind": "categorical"}]},
        "owners": {"data": {"name": "d"}, "model": {"name": "m"}},
    })  # fmt: skip
    assert failures_on_reference_days(cfg, storage, ref) == {}


@pytest.mark.skipif(not DEVKIT.is_dir(), reason="the shared devkit is not beside the project")
def test_suite_for_the_devkit_passes_its_reference_days(tmp_path):
    doc = yaml.safe_load((ROOT / "docs" / "examples" / "work_from_home.yaml").read_text())
    doc["storage"] = {"uri": str(tmp_path / "data")}
    ref = pd.read_parquet(DEVKIT / "reference.parquet")
    storage = Storage.from_uri(str(tmp_path / "data"))
    storage.write_bytes(doc["paths"]["reference"], parquet_bytes(ref))
    cfg = config_for(tmp_path, doc)
    assert failures_on_reference_days(cfg, storage, ref) == {}
