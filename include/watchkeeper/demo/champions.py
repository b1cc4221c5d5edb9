"""The demo models as they went to production: refitted from each world's seed, registered as `champion` v1.

Each world trains its model first from its seed's generator, so the same seed gives the same fitted pipeline; the
registry copy (skops) is what Watchkeeper loads, never the pickle a world leaves in its bucket.
"""

from __future__ import annotations

import inspect
from datetime import date, timedelta

import numpy as np
import pandas as pd

from watchkeeper.demo import WORLDS, delivery, world

TRAINERS = {
    "credit_default": (world.train_model, 30_000, world.features, world.NUMERIC + world.CATEGORICAL),
    "delivery_time": (delivery.train_model, 20_000, None, delivery.NUMERIC + delivery.CATEGORICAL),
}
"""Demo model → (trainer, its training rows, a feature sampler (None: fixed-day sampler), input columns)."""


def champion(model: str) -> tuple[object, pd.DataFrame, dict[str, str]]:
    """(fitted pipeline, a few input rows for its signature, run tags with its training data window)."""
    trainer, rows, sampler, columns = TRAINERS[model]
    params = inspect.signature(WORLDS[model]).parameters
    seed = params["seed"].default
    start, ref_days = params["start"].default, params["reference_days"].default
    fitted = trainer(np.random.default_rng(seed))
    rng = np.random.default_rng(0)
    sample = sampler(rng, 50) if sampler else delivery.features(rng, 50, date(2025, 10, 1))
    before = start - timedelta(days=ref_days + 1)
    tags = {
        "watchkeeper.data_window": f"..{before.isoformat()} (synthetic sample drawn before the reference)",
        "watchkeeper.train_rows": str(rows),
        "watchkeeper.trained_by": f"watchkeeper.demo {model} world, seed {seed}",
    }
    return fitted, sample[columns], tags
