"""Promotion and rollback move registry aliases and are recorded (tags and history), on a real SQLite MLflow store."""

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config
from sklearn.linear_model import LogisticRegression
from watchkeeper.retraining import registry
from watchkeeper.retraining.promote import promote, rollback

pytestmark = pytest.mark.slow


@pytest.fixture
def registered(tiny, tmp_path):
    _, storage, _ = tiny
    cfg = tiny_config(tmp_path, storage.uri, model={"registered_name": "tiny_model"})
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    x = pd.DataFrame({"x1": np.linspace(-2, 2, 40), "x2": np.tile([0.0, 1.0], 20)})
    y = (x["x1"] > 0).astype(int)
    v1 = registry.register_champion(
        cfg, uri, storage, LogisticRegression().fit(x, y), x.head(5), {}, "first model"
    )
    _, v2 = registry.log_sklearn(cfg, uri, LogisticRegression(C=0.1).fit(x, y), x.head(5), "challenger",
                                 {"watchkeeper.role": "challenger"}, {}, registry.CHALLENGER)  # fmt: skip
    return cfg, uri, storage, v1, v2


def test_promote_then_roll_back_moves_aliases_and_records_who_and_why(registered):
    cfg, uri, storage, v1, v2 = registered
    c = registry.client(uri)
    assert (
        registry.by_alias(c, "tiny_model", "champion"),
        registry.by_alias(c, "tiny_model", "challenger"),
    ) == (v1, v2)
    promote(cfg, uri, storage, v2, "ana@example.org", "holdout gain beyond chance")
    assert registry.by_alias(c, "tiny_model", "champion") == v2
    assert registry.by_alias(c, "tiny_model", "previous_champion") == v1
    assert (
        registry.by_alias(c, "tiny_model", "challenger") is None
    )  # the proposal is settled: no more shadowing
    tags = c.get_model_version("tiny_model", v2).tags
    assert (
        tags["watchkeeper.promoted_by"] == "ana@example.org"
        and tags["watchkeeper.promoted_why"] == "holdout gain beyond chance"
    )
    assert registry.load(cfg, uri, "champion").C == 0.1  # loaded from the registry by alias

    rollback(cfg, uri, storage, "oncall", "complaints from the field")
    assert registry.by_alias(c, "tiny_model", "champion") == v1
    assert registry.by_alias(c, "tiny_model", "previous_champion") == v2
    assert c.get_model_version("tiny_model", v2).tags["watchkeeper.rolled_back_by"] == "oncall"
    events = [
        (e["event"], e["version"], e.get("from_version"), e["by"]) for e in registry.history(storage, cfg)
    ]
    assert events == [("registered", v1, None, "watchkeeper"), ("promoted", v2, v1, "ana@example.org"),
                      ("rolled_back", v1, v2, "oncall")]  # fmt: skip
    assert all(e["at"] and e["why"] for e in registry.history(storage, cfg))


def test_promoting_an_unknown_version_or_rolling_back_without_a_previous_champion_fails_clearly(registered):
    cfg, uri, storage, v1, _ = registered
    with pytest.raises(registry.RegistryError, match="has no version 99"):
        promote(cfg, uri, storage, 99, "x", "y")
    with pytest.raises(registry.RegistryError, match="already the champion"):
        promote(cfg, uri, storage, v1, "x", "y")
    with pytest.raises(registry.RegistryError, match="no previous_champion"):
        rollback(cfg, uri, storage, "x", "y")
