"""Training the challenger: a refit of a clone of the champion's scikit-learn pipeline, or the YAML's own hook.

The challenger is logged to the model's retraining experiment with its data window, row counts, file checksums and
the config hash, registered as a new version and given the alias `challenger`.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.retraining import registry
from watchkeeper.retraining.training_set import TrainingSet


def input_columns(cfg: ModelConfig, champion: Any) -> list[str]:
    """The columns the champion was fitted on (scikit-learn's `feature_names_in_`), else the YAML's features."""
    names = getattr(champion, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f.name for f in cfg.columns.features]


def fit(cfg: ModelConfig, champion: Any, x: pd.DataFrame, y: Any) -> Any:
    """A new model fitted on (x, y): the YAML hook when set, else `sklearn.base.clone(champion).fit`."""
    hook = cfg.model.train_fn
    if hook:
        module, _, name = hook.partition(":")
        return getattr(importlib.import_module(module), name)(x, y, champion)
    from sklearn.base import clone

    return clone(champion).fit(x, y)


def train_challenger(cfg: ModelConfig, tracking_uri: str, ts: TrainingSet) -> dict[str, Any]:
    """Fit, log and register the challenger; return its version, run id and the champion version it challenges."""
    c = registry.client(tracking_uri)
    name = registry.model_section(cfg).registered_name
    champion_version = registry.by_alias(c, name, registry.CHAMPION)
    if champion_version is None:
        raise registry.RegistryError(f"{name} has no `champion` alias: register the production model first")
    champion = registry.load(cfg, tracking_uri, registry.CHAMPION)
    columns = input_columns(cfg, champion)
    model = fit(cfg, champion, ts.train[columns], ts.train[cfg.columns.target].to_numpy())
    f = ts.facts
    tags = {
        "watchkeeper.model": cfg.name,
        "watchkeeper.role": "challenger",
        "watchkeeper.request_day": f["request_day"],
        "watchkeeper.data_window": f"{f['window'][0]}..{f['window'][1]}",
        "watchkeeper.train_days": ",".join(f["train_days"])
        + (",reference" if f["reference_included"] else ""),
        "watchkeeper.holdout_days": ",".join(f["holdout_days"]),
        "watchkeeper.config_digest": cfg.digest(),
        "watchkeeper.challenges_version": champion_version,
        "watchkeeper.trained_by": cfg.model.train_fn or "sklearn.base.clone(champion).fit",
    }
    params = {"train_rows": f["train_rows"], "holdout_rows": f["holdout_rows"], "features": len(columns)}
    run_name = f"{cfg.name} challenger {f['request_day']}"
    run_id, version = registry.log_sklearn(
        cfg, tracking_uri, model, ts.train[columns].head(50), run_name, tags, params, registry.CHALLENGER
    )
    import mlflow

    with mlflow.start_run(run_id=run_id):
        mlflow.log_dict({**f, "columns": columns}, "training_set.json")
        mlflow.log_text(json.dumps(f["checksums"], indent=2), "checksums.json")
    return {"version": version, "run_id": run_id, "champion_version": champion_version}
