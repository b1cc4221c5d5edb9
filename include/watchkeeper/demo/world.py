"""The demo world: a credit-default classifier, its reference, daily predictions, late labels and scripted incidents.

Defaults (60 days from 2026-01-01; positions scale with `days`): day 12 `income` is 40 % null (data quality, data
owner); days 25-31 `credit_utilization` shifts up (covariate drift, model owner); days 40-49 the input→label relation
changes with inputs unchanged (concept drift, only labels show it); labels arrive 1-5 days late, 8 % never, and those
of days 52-56 ten days late (past the world's end). Everything is deterministic for a seed; no clock is read.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = [
    "age",
    "income",
    "debt_ratio",
    "credit_utilization",
    "num_late_payments",
    "loan_amount",
    "employment_years",
]
CATEGORICAL = ["region", "product", "home_ownership"]
REGIONS = ["north", "south", "east", "west", "central"]
PRODUCTS = ["card", "personal", "auto"]
HOMES = ["rent", "own", "mortgage"]
LABEL = "defaulted"


def features(rng: np.random.Generator, n: int, utilization_shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.clip(rng.normal(42, 12, n), 21, 80).round(),
            "income": np.round(rng.lognormal(np.log(60_000), 0.45, n), -2),
            "debt_ratio": rng.beta(2, 5, n),
            "credit_utilization": np.clip(rng.beta(2, 3, n) * 1.1 + utilization_shift, 0, 1.2),
            "num_late_payments": rng.poisson(0.6, n),
            "loan_amount": np.round(rng.lognormal(np.log(15_000), 0.6, n), -1),
            "employment_years": np.clip(rng.gamma(2, 4, n), 0, 45).round(1),
            "region": rng.choice(REGIONS, n, p=[0.25, 0.2, 0.2, 0.2, 0.15]),
            "product": rng.choice(PRODUCTS, n, p=[0.5, 0.3, 0.2]),
            "home_ownership": rng.choice(HOMES, n, p=[0.4, 0.2, 0.4]),
        }
    )


def default_probability(x: pd.DataFrame, concept_changed: bool = False) -> np.ndarray:
    """The true P(default); after the concept change debt and income stop mattering and late payments count less."""
    debt, late, income = (0.0, 0.3, 0.0) if concept_changed else (2.2, 0.55, -0.6)
    logit = (
        -2.0
        + 3.0 * (x["credit_utilization"] - 0.45)
        + late * x["num_late_payments"]
        + debt * (x["debt_ratio"] - 0.28) * 3
        + income * np.log(x["income"] / 60_000)
        - 0.01 * (x["age"] - 42)
        + 0.25 * (x["product"] == "card")
        + 0.15 * (x["region"] == "south")
    )
    return 1 / (1 + np.exp(-logit.to_numpy()))


def train_model(rng: np.random.Generator) -> Pipeline:
    x = features(rng, 30_000)
    y = (rng.random(len(x)) < default_probability(x)).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))]).fit(x, y)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _records(
    model: Pipeline, x: pd.DataFrame, day: date, rng: np.random.Generator, threshold: float
) -> pd.DataFrame:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    score = model.predict_proba(x[NUMERIC + CATEGORICAL])[:, 1]
    ids = [f"{day.isoformat()}-{i:06d}" for i in range(len(x))]
    ts = pd.to_datetime(np.sort(rng.integers(0, 86_400_000_000, len(x))), unit="us", utc=True) + (
        start - datetime(1970, 1, 1, tzinfo=UTC)
    )
    out = pd.DataFrame({"prediction_id": ids, "event_ts": ts.astype("datetime64[us, UTC]")})
    out = pd.concat([out, x.reset_index(drop=True)], axis=1)
    out["score"] = score.round(6)
    out["predicted_default"] = (score >= threshold).astype(int)
    return out


def _scaled(position: int, days: int) -> int:
    return min(days - 1, round(position * days / 60))


def write_label_files(
    write: Callable[[str, bytes], None], arrivals: dict, start: date, days: int, empty: pd.DataFrame
) -> None:
    """One label file per day: the labels arriving that day (an empty file on days none arrive)."""
    for i in range(days):
        write_labels_of(write, arrivals, start + timedelta(days=i), empty)


def write_labels_of(
    write: Callable[[str, bytes], None], arrivals: dict, day: date, empty: pd.DataFrame
) -> None:
    """The label file of `day` (its arrivals taken out of `arrivals`, so their memory is freed)."""
    frames = arrivals.pop(day, [])
    write(
        f"labels/{day.isoformat()}.parquet",
        _parquet(pd.concat(frames, ignore_index=True) if frames else empty),
    )


def healthy_days(incidents: list[dict], start: date, days: int, label_only: str) -> list[str]:
    """Days no incident touches; incidents of type `label_only` concern labels alone and leave days healthy."""
    busy = set()
    for inc in incidents:
        if inc["type"] == label_only:
            continue
        d = date.fromisoformat(inc["start"])
        while d <= date.fromisoformat(inc["end"]):
            busy.add(d)
            d += timedelta(days=1)
    return [
        date.isoformat(start + timedelta(days=i))
        for i in range(days)
        if start + timedelta(days=i) not in busy
    ]


def incident_plan(start: date, days: int) -> dict:
    day = lambda i: start + timedelta(days=_scaled(i, days))  # noqa: E731
    return {
        "dq": day(11),
        "covariate": (day(24), day(30)),
        "concept": (day(39), day(48)),
        "late": (day(51), day(55)),
    }


def generate_world(
    write: Callable[[str, bytes], None],
    *,
    start: date = date(2026, 1, 1),
    days: int = 60,
    rows_per_day: int = 4000,
    reference_days: int = 20,
    seed: int = 7,
) -> dict:
    """Write the world through `write(key, bytes)`; return (and write) the incidents manifest."""
    rng = np.random.default_rng(seed)
    model = train_model(rng)
    plan = incident_plan(start, days)

    ref_frames = []
    for i in range(reference_days):
        day = start - timedelta(days=reference_days - i)
        x = features(rng, rows_per_day)
        ref_frames.append((day, x))
    ref_scores = model.predict_proba(pd.concat([x for _, x in ref_frames])[NUMERIC + CATEGORICAL])[:, 1]
    threshold = round(float(np.quantile(ref_scores, 0.8)), 2)
    reference = []
    for day, x in ref_frames:
        rec = _records(model, x, day, rng, threshold)
        rec[LABEL] = (rng.random(len(x)) < default_probability(x)).astype(int)
        reference.append(rec)
    write("reference/reference.parquet", _parquet(pd.concat(reference, ignore_index=True)))

    last = start + timedelta(days=days - 1)
    arrivals: dict[date, list[pd.DataFrame]] = {}
    empty = pd.DataFrame({"prediction_id": pd.Series(dtype=str), LABEL: pd.Series(dtype="int64")})
    for i in range(days):
        day = start + timedelta(days=i)
        n = int(rows_per_day * (1 + rng.uniform(-0.05, 0.05)))
        covariate = plan["covariate"][0] <= day <= plan["covariate"][1]
        concept = plan["concept"][0] <= day <= plan["concept"][1]
        x = features(rng, n, utilization_shift=0.25 if covariate else 0.0)
        y = (rng.random(n) < default_probability(x, concept_changed=concept)).astype(int)
        rec = _records(model, x, day, rng, threshold)
        if day == plan["dq"]:
            rec.loc[rng.random(n) < 0.4, "income"] = np.nan
        write(f"predictions/{day.isoformat()}.parquet", _parquet(rec))
        delay = rng.integers(1, 6, n)
        if plan["late"][0] <= day <= plan["late"][1]:
            delay[:] = 10
        never = rng.random(n) < 0.08
        labels = pd.DataFrame(
            {
                "prediction_id": rec["prediction_id"],
                LABEL: y,
                "arrives": [day + timedelta(days=int(d)) for d in delay],
            }
        )
        for arrival, group in labels[~never].groupby("arrives"):
            if arrival <= last:
                arrivals.setdefault(arrival, []).append(group[["prediction_id", LABEL]])
        # Labels come at least a day late, so today's arrivals are complete: written now, a year at 1M rows a day
        # never holds more than the labels still in flight.
        write_labels_of(write, arrivals, day, empty)

    write("model/model.pkl", pickle.dumps(model))
    manifest = _manifest(plan, start, days, rows_per_day, seed, threshold)
    write("incidents.json", json.dumps(manifest, indent=2).encode())
    return manifest


def _manifest(plan: dict, start: date, days: int, rows_per_day: int, seed: int, threshold: float) -> dict:
    iso = date.isoformat
    incidents = [
        {"id": "dq-income-nulls", "type": "data_quality", "start": iso(plan["dq"]), "end": iso(plan["dq"]),
         "columns": ["income"], "owner": "data", "affects": ["quality"],
         "description": "income is 40% null for one day"},
        {"id": "covariate-utilization", "type": "covariate_drift", "start": iso(plan["covariate"][0]),
         "end": iso(plan["covariate"][1]), "columns": ["credit_utilization"], "owner": "model",
         "affects": ["inputs", "predictions", "performance"],
         "description": "credit_utilization shifts up by 0.25; scores and defaults rise with it"},
        {"id": "concept-debt-income", "type": "concept_drift", "start": iso(plan["concept"][0]),
         "end": iso(plan["concept"][1]), "columns": [], "owner": "model", "affects": ["labels", "performance"],
         "description": "inputs unchanged; debt_ratio and income no longer drive default"},
        {"id": "late-labels", "type": "late_labels", "start": iso(plan["late"][0]), "end": iso(plan["late"][1]),
         "columns": [], "owner": "model", "affects": ["labels"],
         "description": "labels of these days arrive 10 days late, after the world ends; 8% of all labels never arrive"},
    ]  # fmt: skip
    healthy = healthy_days(incidents, start, days, label_only="late_labels")
    return {
        "seed": seed,
        "start": iso(start),
        "days": days,
        "rows_per_day": rows_per_day,
        "decision_threshold": threshold,
        "label_column": LABEL,
        "incidents": incidents,
        "healthy_days": healthy,
    }
