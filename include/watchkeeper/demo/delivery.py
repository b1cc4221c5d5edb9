"""The second demo world: a delivery-time regressor, its reference, daily predictions, late labels and incidents.

Defaults (60 days from 2026-01-01; positions scale with `days`): day 17 `prep_minutes` is 40 % null (data quality);
days 29-35 orders come from further away (`distance_km` ×1.7: covariate drift that raises the error, which direct
loss estimation sees before any label); days 44-53 traffic slows every kilometre with inputs unchanged (concept
drift, only labels show it); day 9's label file re-sends the labels of day 5, some with a different value
(conflicting labels). Actual times arrive 1-3 days late, 3 % never. Deterministic for a seed; no clock is read.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from watchkeeper.demo.world import _parquet, _scaled, healthy_days, write_label_files

NUMERIC = ["distance_km", "items", "prep_minutes", "courier_load", "hour"]
CATEGORICAL = ["zone", "weather", "vehicle"]
ZONES = ["centre", "docks", "hills", "market", "university"]
WEATHER = ["clear", "rain", "snow"]
VEHICLES = ["bike", "scooter", "car"]
LABEL = "delivery_minutes"
PREDICTION = "predicted_minutes"


def features(rng: np.random.Generator, n: int, day: date, distance_factor: float = 1.0) -> pd.DataFrame:
    """n orders of one day, sorted by time; `distance_factor` scales how far they go (the covariate shift)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400, n))
    ts = pd.to_datetime(seconds, unit="s", utc=True) + (start - datetime(1970, 1, 1, tzinfo=UTC))
    return pd.DataFrame(
        {
            "event_ts": ts.astype("datetime64[us, UTC]"),
            "distance_km": np.clip(rng.lognormal(np.log(3.5), 0.5, n) * distance_factor, 0.3, 30).round(2),
            "items": rng.integers(1, 9, n),
            "prep_minutes": np.clip(rng.gamma(4, 3, n), 2, 60).round(1),
            "courier_load": rng.poisson(2, n),
            "hour": seconds // 3600,
            "zone": rng.choice(ZONES, n, p=[0.3, 0.15, 0.15, 0.25, 0.15]),
            "weather": rng.choice(WEATHER, n, p=[0.7, 0.25, 0.05]),
            "vehicle": rng.choice(VEHICLES, n, p=[0.4, 0.4, 0.2]),
        }
    )


def delivery_minutes(x: pd.DataFrame, rng: np.random.Generator, slow_traffic: bool = False) -> np.ndarray:
    """The true time: linear in distance (slower per km under the concept change) plus rush hours and weather;
    the noise grows with distance, so longer trips are harder to predict."""
    per_km = (
        3.2 * (1.35 if slow_traffic else 1.0) / x["vehicle"].map({"bike": 1.0, "scooter": 1.3, "car": 1.5})
    )
    rush = x["hour"].isin([11, 12, 18, 19]) * 6.0
    weather = x["weather"].map({"clear": 0.0, "rain": 4.0, "snow": 10.0})
    mean = 8 + per_km * x["distance_km"] + 0.6 * x["items"] + 0.9 * x["prep_minutes"] + 3 * x["courier_load"]
    noise = rng.normal(0, 1, len(x)) * (1.5 + 1.2 * x["distance_km"])
    return np.clip((mean + rush + weather + noise).to_numpy(dtype=float), 3, None).round(1)


def train_model(rng: np.random.Generator) -> Pipeline:
    x = features(rng, 20_000, date(2025, 10, 1))
    y = delivery_minutes(x, rng)
    pre = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    return Pipeline([("pre", pre), ("reg", Ridge(alpha=1.0))]).fit(x[NUMERIC + CATEGORICAL], y)


def _records(model: Pipeline, x: pd.DataFrame, day: date) -> pd.DataFrame:
    out = pd.DataFrame({"order_id": [f"{day.isoformat()}-{i:06d}" for i in range(len(x))]})
    out = pd.concat([out, x.reset_index(drop=True)], axis=1)
    out[PREDICTION] = np.clip(model.predict(x[NUMERIC + CATEGORICAL]), 1, None).round(1)
    return out


def incident_plan(start: date, days: int) -> dict:
    day = lambda i: start + timedelta(days=_scaled(i, days))  # noqa: E731
    return {
        "dq": day(16),
        "covariate": (day(28), day(34)),
        "concept": (day(43), day(52)),
        "resend": (day(4), day(4) + timedelta(days=4)),  # labels of one day sent again once all have arrived
    }


def generate_delivery_world(
    write: Callable[[str, bytes], None],
    *,
    start: date = date(2026, 1, 1),
    days: int = 60,
    rows_per_day: int = 1500,
    reference_days: int = 20,
    seed: int = 11,
) -> dict:
    """Write the world through `write(key, bytes)`; return (and write) the incidents manifest."""
    rng = np.random.default_rng(seed)
    model = train_model(rng)
    plan = incident_plan(start, days)
    reference = []
    for i in range(reference_days):
        day = start - timedelta(days=reference_days - i)
        x = features(rng, rows_per_day, day)
        rec = _records(model, x, day)
        rec[LABEL] = delivery_minutes(x, rng)
        reference.append(rec)
    write("reference/reference.parquet", _parquet(pd.concat(reference, ignore_index=True)))

    last = start + timedelta(days=days - 1)
    arrivals: dict[date, list[pd.DataFrame]] = {}
    truth: dict[date, pd.DataFrame] = {}
    for i in range(days):
        day = start + timedelta(days=i)
        n = int(rows_per_day * (1 + rng.uniform(-0.05, 0.05)))
        covariate = plan["covariate"][0] <= day <= plan["covariate"][1]
        concept = plan["concept"][0] <= day <= plan["concept"][1]
        x = features(rng, n, day, distance_factor=1.7 if covariate else 1.0)
        y = delivery_minutes(x, rng, slow_traffic=concept)
        rec = _records(model, x, day)
        if day == plan["dq"]:
            rec.loc[rng.random(n) < 0.4, "prep_minutes"] = np.nan
        write(f"predictions/{day.isoformat()}.parquet", _parquet(rec))
        labels = pd.DataFrame({"order_id": rec["order_id"], LABEL: y})
        delay = rng.integers(1, 4, n)
        never = rng.random(n) < 0.03
        truth[day] = labels.assign(never=never)
        for offset, group in labels[~never].groupby(delay[~never]):
            arrival = day + timedelta(days=int(offset))
            if arrival <= last:
                arrivals.setdefault(arrival, []).append(group)
    # A resend: the whole label set of one day arrives again later, 5 % of it with a value changed by 1-4 minutes.
    source, resend_day = plan["resend"]
    again = truth[source].copy()
    changed = rng.random(len(again)) < 0.05
    conflicts = int((changed & ~again.pop("never")).sum())  # a first label that never came is no conflict
    step = rng.uniform(1, 4, changed.sum()) * rng.choice([-1, 1], changed.sum())
    again.loc[changed, LABEL] = (again.loc[changed, LABEL] + step).clip(lower=3).round(1)
    arrivals.setdefault(resend_day, []).append(again)
    empty = pd.DataFrame({"order_id": pd.Series(dtype=str), LABEL: pd.Series(dtype=float)})
    write_label_files(write, arrivals, start, days, empty)
    write("model/model.pkl", pickle.dumps(model))
    manifest = _manifest(plan, start, days, rows_per_day, seed, conflicts)
    write("incidents.json", json.dumps(manifest, indent=2).encode())
    return manifest


def _manifest(plan: dict, start: date, days: int, rows_per_day: int, seed: int, conflicts: int) -> dict:
    iso = date.isoformat
    incidents = [
        {"id": "dq-prep-nulls", "type": "data_quality", "start": iso(plan["dq"]), "end": iso(plan["dq"]),
         "columns": ["prep_minutes"], "owner": "data", "affects": ["quality"],
         "description": "prep_minutes is 40% null for one day"},
        {"id": "covariate-distance", "type": "covariate_drift", "start": iso(plan["covariate"][0]),
         "end": iso(plan["covariate"][1]), "columns": ["distance_km"], "owner": "model",
         "affects": ["inputs", "predictions", "performance"],
         "description": "orders go 1.7x further; errors grow with distance, so MAE rises before any label"},
        {"id": "concept-slow-traffic", "type": "concept_drift", "start": iso(plan["concept"][0]),
         "end": iso(plan["concept"][1]), "columns": [], "owner": "model", "affects": ["labels", "performance"],
         "description": "inputs unchanged; every kilometre takes 35% longer (traffic)"},
        {"id": "label-resend-conflicts", "type": "label_conflicts", "start": iso(plan["resend"][1]),
         "end": iso(plan["resend"][1]), "columns": [], "owner": "data", "affects": ["labels"],
         "prediction_day": iso(plan["resend"][0]), "conflicting_labels": conflicts,
         "description": "the labels of an earlier day are sent again, 5% of them with a different value"},
    ]  # fmt: skip
    healthy = healthy_days(incidents, start, days, label_only="label_conflicts")
    return {
        "model": "delivery_time",
        "seed": seed,
        "start": iso(start),
        "days": days,
        "rows_per_day": rows_per_day,
        "label_column": LABEL,
        "incidents": incidents,
        "healthy_days": healthy,
    }
