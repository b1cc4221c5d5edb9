"""The detection scenario suite: synthetic model worlds with ground truth, written as a user keeps their data.

Each scenario is one model (binary classifier or regressor) with a reference of `REF_DAYS` days and `days`
production days (predictions per day, each day's labels arriving the next day). Incidents say when the change
starts and ends, which owner should hear (`data` or `model`) and from which day evidence exists (for concept drift
and performance changes: the day its labels arrive). Days outside every incident (and outside a label day after
it) are healthy model-days. The generator is generic: the same features, model and noise for every scenario, with
one change applied per scenario; nothing in Watchkeeper knows these names.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

START = date(2025, 6, 2)  # a Monday
REF_DAYS = 14
MODELS = Path(__file__).resolve().parents[1] / "include" / "models"
LABEL_DELAY = 5
DEMO_DAYS = 60
"""The demo worlds' own length: shorter worlds squeeze their scripted incidents onto the same days."""
"""The demo worlds' longest label delay (days): realized alerts about an incident's days can come this late."""


@dataclass(frozen=True)
class Incident:
    kind: str
    start: int
    """First affected production day (0-based)."""
    end: int
    """Last affected day (inclusive)."""
    owner: str
    evidence_lag: int = 0
    """Days from the change to the first data that can show it (1 when only labels can)."""
    within: int = 1
    """Target: days from first evidence to alert (7 for a small persistent shift)."""
    tail: int = 1
    """Days after `end` whose alerts still belong to the incident (its labels arriving late)."""


@dataclass
class Scenario:
    name: str
    task: str
    days: int
    rows: int
    change: Callable[[int, pd.DataFrame, np.random.Generator], pd.DataFrame] | None = None
    incidents: list[Incident] = field(default_factory=list)
    seasonal: bool = False
    concept: Callable[[int], float] | None = None
    """Day → how far the label relation moved (0 unchanged)."""
    noise: Callable[[int], float] | None = None
    """Day → the regressor's target-noise factor (1 unchanged)."""
    prior: Callable[[int], float] | None = None
    """Day → extra logit on the label (label prior shift)."""
    world: str | None = None
    """A demo world (`watchkeeper.demo.WORLDS`) instead of the generic generator; incidents from its manifest."""

    @property
    def seed(self) -> int:
        """The scenario's own random seed, stable across runs and Python versions (CRC-32 of its name), so healthy
        days of different scenarios are independent draws rather than the same days replayed."""
        return zlib.crc32(self.name.encode())


def _rows(task: str, n: int, day: date, rng: np.random.Generator, s: Scenario, t: int | None) -> pd.DataFrame:
    """Generic records: four inputs, the model's output and the label. `t` is the production day (None: reference)."""
    weekend = day.weekday() >= 5 if s.seasonal else False
    x1 = rng.normal(0.6 if weekend else 0.0, 1.0, n)  # the important feature; weekends differ when seasonal
    x2 = rng.normal(0.0, 1.0, n)
    visits = rng.poisson(1.2, n)
    plan = rng.choice(["basic", "plus", "pro", "team"], n, p=[0.4, 0.3, 0.2, 0.1])
    frame = pd.DataFrame({"x1": x1, "x2": x2, "visits": visits, "plan": plan})
    frame = s.change(t, frame, rng) if (s.change and t is not None) else frame
    x1v, x2v = frame["x1"].to_numpy(dtype=float), frame["x2"].to_numpy(dtype=float)
    x1v, x2v = np.nan_to_num(x1v), np.nan_to_num(x2v)
    moved = s.concept(t) if (s.concept and t is not None) else 0.0
    pro = (frame["plan"] == "pro").to_numpy()
    model_out = 1.2 * np.clip(x1v, -5, 5) + 0.8 * x2v + 0.3 * frame["visits"].to_numpy() + 0.4 * pro
    truth = (
        1.2 * np.clip(x1v, -5, 5) + (0.8 - 1.6 * moved) * x2v + 0.3 * frame["visits"].to_numpy() + 0.4 * pro
    )
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    out = frame.assign(
        pid=[f"{day:%Y%m%d}-{i}" for i in range(len(frame))],
        ts=[start + timedelta(seconds=int(x)) for x in rng.integers(0, 86_400, len(frame))],
    )
    if task == "binary_classification":
        extra = s.prior(t) if (s.prior and t is not None) else 0.0
        score = 1 / (1 + np.exp(-(model_out - 1.0)))
        p = 1 / (1 + np.exp(-(truth - 1.0 + extra)))
        return out.assign(
            score=score, pred=(score >= 0.5).astype(int), label=(rng.random(len(frame)) < p).astype(int)
        )
    factor = s.noise(t) if (s.noise and t is not None) else 1.0
    y = 20 + 3 * truth + rng.normal(0, 2.0 * factor, len(frame))
    return out.assign(pred=20 + 3 * model_out, label=y)


def write(s: Scenario, storage) -> None:
    """Reference, production days and label files of a scenario into `storage` (keys as in `config`)."""
    rng = np.random.default_rng(s.seed)
    ref_rows = max(s.rows // 2, 1000)
    ref = pd.concat(
        [
            _rows(s.task, ref_rows, START - timedelta(days=REF_DAYS - i), rng, s, None)
            for i in range(REF_DAYS)
        ],
        ignore_index=True,
    )
    storage.write_bytes("ref.parquet", _parquet(ref))
    previous = None
    for t in range(s.days):
        day = START + timedelta(days=t)
        frame = _rows(s.task, s.rows, day, rng, s, t)
        storage.write_bytes(f"days/{day}.parquet", _parquet(frame.drop(columns=["label"])))
        if previous is not None:
            storage.write_bytes(f"labels/{day}.parquet", _parquet(previous[["pid", "label"]]))
        previous = frame


def write_world(s: Scenario, storage) -> tuple[dict, date, int]:
    """A demo world's files, with the model's own YAML pointed at them (no committed suite: generated from this
    world's reference); its incidents (those a monitor can see: quality, drift, performance and label records)
    become the scenario's ground truth. Returns the config, the first production day and the world's seed."""
    import yaml
    from watchkeeper.demo import WORLDS
    from watchkeeper.demo.score import STAGE_OF

    manifest = WORLDS[s.world](storage.write_bytes, days=s.days, rows_per_day=s.rows)  # the demo's own seed
    first = date.fromisoformat(manifest["start"])
    data = yaml.safe_load((MODELS / f"{s.world}.yaml").read_text())
    data["storage"] = {"uri": storage.uri}
    data["quality"] = {"expectations_dir": "no-suite"}
    s.incidents = [
        Incident(
            inc["description"],
            (date.fromisoformat(inc["start"]) - first).days,
            (date.fromisoformat(inc["end"]) - first).days,
            inc["owner"],
            # labels arrive one to five days after their prediction day (`watchkeeper.demo` worlds): realized
            # alerts about an incident that changed performance can come that long after it ends
            evidence_lag=1 if inc["type"] == "concept_drift" else 0,
            tail=LABEL_DELAY if "performance" in inc["affects"] else 1,
        )
        for inc in manifest["incidents"]
        if inc["type"] in STAGE_OF
    ]
    return data, first, manifest["seed"]


def config(s: Scenario, uri: str, expectations_dir: str) -> dict:
    cols = {"id": "pid", "timestamp": "ts", "features": ["x1", "x2", "visits", "plan"], "prediction": "pred",
            "target": "label"}  # fmt: skip
    if s.task == "binary_classification":
        cols["score"] = "score"
    return {
        "name": s.name.replace("_", "-"),
        "task": s.task,
        "storage": {"uri": uri},
        "paths": {
            "reference": "ref.parquet",
            "predictions": "days/{ds}.parquet",
            "labels": "labels/{ds}.parquet",
        },
        "columns": cols,
        "owners": {"data": {"name": "data"}, "model": {"name": "model"}},
        "quality": {"expectations_dir": expectations_dir},
        "performance": {"label_window_days": 3},
    }


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _shift(column: str, size: Callable[[int], float]):
    def change(t, frame, rng):
        return frame.assign(**{column: frame[column] + size(t)})

    return change


def suite(days: int = 35, rows: int = 3000, large_rows: int = 200_000, large_days: int = 6) -> list[Scenario]:
    """The scenarios; incidents start at day `at` (halfway through production)."""
    at = days // 2
    clf, reg = "binary_classification", "regression"

    def nulls(t, frame, rng):
        if t == at:
            frame = frame.assign(x2=frame["x2"].where(rng.random(len(frame)) > 0.2))
        return frame

    def unit(t, frame, rng):
        return frame.assign(x1=frame["x1"] * 1000) if at <= t < at + 3 else frame

    def new_category(t, frame, rng):
        if t >= at:
            frame = frame.assign(plan=np.where(rng.random(len(frame)) < 0.005, "enterprise", frame["plan"]))
        return frame

    def volume(t, frame, rng):
        return frame.iloc[: max(len(frame) // 20, 1)] if t == at else frame

    return [
        Scenario("covariate_sudden", clf, days, rows, _shift("x1", lambda t: 0.5 if t >= at else 0.0),
                 [Incident("sudden covariate drift", at, days - 1, "model")]),
        Scenario("gradual_drift", reg, days, rows, _shift("x2", lambda t: max(0, t - at + 1) * 0.04),
                 [Incident("gradual drift", at, days - 1, "model", within=7)]),
        Scenario("small_persistent", clf, days, rows, _shift("x2", lambda t: 0.08 if t >= at else 0.0),
                 [Incident("small persistent shift", at, days - 1, "model", within=7)]),
        Scenario("weekly_seasonality", clf, days, rows, seasonal=True),
        Scenario("one_day_spike", reg, days, rows, _shift("x1", lambda t: 1.5 if t == at else 0.0),
                 [Incident("one-day spike", at, at, "model")]),
        Scenario("concept_drift", clf, days, rows, concept=lambda t: 1.0 if t >= at else 0.0,
                 incidents=[Incident("concept drift", at, days - 1, "model", evidence_lag=1)]),
        Scenario("label_prior_shift", clf, days, rows, prior=lambda t: 1.2 if t >= at else 0.0,
                 incidents=[Incident("label prior shift", at, days - 1, "model", evidence_lag=1)]),
        Scenario("errors_fall", reg, days, rows, noise=lambda t: 0.3 if t >= at else 1.0,
                 incidents=[Incident("regressor errors fall", at, days - 1, "model", evidence_lag=1)]),
        Scenario("null_spike", clf, days, rows, nulls, [Incident("null spike", at, at, "data")]),
        Scenario("unit_change", reg, days, rows, unit, [Incident("unit change x1000", at, at + 2, "data")]),
        Scenario("new_category", clf, days, rows, new_category, [Incident("new category in 0.5% of rows", at, days - 1, "data")]),
        Scenario("volume_drop", reg, days, rows, volume, [Incident("volume drop", at, at, "data")]),
        Scenario("large_healthy", clf, large_days, large_rows),
        Scenario("demo_credit_default", clf, DEMO_DAYS, rows, world="credit_default"),
        Scenario("demo_delivery_time", reg, DEMO_DAYS, rows, world="delivery_time"),
    ]  # fmt: skip
