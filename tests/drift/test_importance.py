"""Feature importance from a surrogate of the model's output, and drift ranking weighted by it."""

from datetime import timedelta

import numpy as np
import pandas as pd
from helpers import FIRST_DAY, rows
from watchkeeper.drift.importance import feature_importance
from watchkeeper.drift.stage import top_drifted
from watchkeeper.result import Check


def test_importance_follows_what_drives_the_score():
    rng = np.random.default_rng(3)
    ref = pd.concat([rows(rng, 800, FIRST_DAY - timedelta(days=i)) for i in range(10)], ignore_index=True)
    ref["noise"] = rng.normal(0, 1, len(ref))  # not an input of the score at all
    weights = feature_importance(ref, ["x1", "x2", "noise"], ["c"], "score")
    assert abs(sum(weights.values()) - 1) < 1e-3
    assert weights["x1"] > weights["x2"] > weights["c"] > weights["noise"]
    assert weights["noise"] < 0.01


def drift(subject: str, value: float, upper: float = 1.0) -> Check:
    return Check(id="drift.ks", stage="drift", name="ks", subject=subject, value=value, upper=upper,
                 status="alert", owner="model", details={"role": "feature"})  # fmt: skip


def test_ranking_weighs_how_far_past_the_bound_by_importance():
    checks = [drift("unused", 3.0), drift("key", 1.5), drift("minor", 2.0)]
    assert top_drifted(checks, 3) == ["unused", "minor", "key"]  # by magnitude alone
    importance = {"unused": 0.0, "key": 0.7, "minor": 0.3}
    assert top_drifted(checks, 3, importance) == ["key", "minor", "unused"]
    # A feature the model ignores still shows when it moves a lot (importance floored at half an equal share).
    assert top_drifted([drift("unused", 30.0), drift("key", 1.2)], 2, importance)[0] == "unused"


def test_importance_from_a_registered_mlflow_model(tmp_path, monkeypatch):
    import mlflow
    from helpers import tiny_config
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from watchkeeper.reference import build_profile

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    rng = np.random.default_rng(8)
    ref = pd.concat([rows(rng, 600, FIRST_DAY - timedelta(days=i)) for i in range(10)], ignore_index=True)
    # The real model ignores x1, which drives the logged `score` column: a surrogate of `score` would rank x1 first.
    encode = make_column_transformer((OneHotEncoder(), ["c"]), ("passthrough", ["x2"]))
    model = make_pipeline(encode, LogisticRegression()).fit(ref[["x1", "x2", "c"]], ref["label"])
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name="tiny")
    mlflow.MlflowClient().set_registered_model_alias("tiny", "champion", "1")
    cfg = tiny_config(tmp_path, str(tmp_path), drift={"importance_model_uri": "models:/tiny@champion"})
    profile = build_profile(cfg, ref)
    assert profile["importance_source"] == "model models:/tiny@champion"
    weights = profile["importance"]
    assert weights["x1"] == 0.0 and weights["x2"] > weights["c"] > 0
    broken = tiny_config(tmp_path, str(tmp_path), drift={"importance_model_uri": "models:/absent@champion"})
    fallback = build_profile(broken, ref)  # an unreachable model falls back to the surrogate, and says so
    assert fallback["importance_source"] == "surrogate of score" and fallback["importance"]["x1"] > 0.3
