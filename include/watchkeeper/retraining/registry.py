"""The MLflow Model Registry side: aliases `champion`, `challenger`, `previous_champion`, and the model's history.

Models are only ever loaded from the registry (skops format, never a pickle from the bucket); every alias move is
recorded as version tags and appended to `<results>/<prefix>/<model>/model/history.json`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.config import ModelConfig, RegistryModelConfig
from watchkeeper.storage import Storage

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"


class RegistryError(Exception):
    """The registry cannot do what was asked (no such version, no previous champion, no registered model)."""


def model_section(cfg: ModelConfig) -> RegistryModelConfig:
    if cfg.model is None:
        raise RegistryError(f"{cfg.name}: the config has no `model:` section naming its registered model")
    return cfg.model


def client(tracking_uri: str) -> MlflowClient:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def by_alias(c: MlflowClient, name: str, alias: str) -> str | None:
    """The version (as text) an alias points to, or None when the alias (or the registered model) is absent."""
    from mlflow.exceptions import MlflowException

    try:
        return str(c.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def model_uri(cfg: ModelConfig, alias_or_version: str | int) -> str:
    name = model_section(cfg).registered_name
    if isinstance(alias_or_version, int) or str(alias_or_version).isdigit():
        return f"models:/{name}/{alias_or_version}"
    return f"models:/{name}@{alias_or_version}"


def load(cfg: ModelConfig, tracking_uri: str, alias_or_version: str | int) -> Any:
    """The scikit-learn model behind an alias or version, from the registry (skops: no pickle is executed)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return mlflow.sklearn.load_model(model_uri(cfg, alias_or_version))


def experiment(c: MlflowClient, cfg: ModelConfig, tracking_uri: str) -> str:
    """The model's retraining experiment (`watchkeeper/<model>/retraining`), beside its daily history."""
    from watchkeeper.tracking import _artifact_root

    name = f"watchkeeper/{cfg.name}/retraining"
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = _artifact_root(tracking_uri, f"{cfg.name}-retraining")
    return c.create_experiment(name, artifact_location=root, tags={"watchkeeper.model": cfg.name})


def log_sklearn(
    cfg: ModelConfig,
    tracking_uri: str,
    model: Any,
    sample: Any,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
    alias: str | None,
) -> tuple[str, str]:
    """Log a fitted model in its own run, register it as a new version, set `alias` on it; (run id, version)."""
    import mlflow
    import sklearn
    import skops
    from mlflow.models import infer_signature

    c = client(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    name = model_section(cfg).registered_name
    signature = infer_signature(sample, _outputs(model, sample))
    # Pinned requirements: MLflow would otherwise load the model in a subprocess to infer them.
    requirements = [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]
    with mlflow.start_run(
        experiment_id=experiment(c, cfg, tracking_uri), run_name=run_name, tags=tags
    ) as run:
        mlflow.log_params(params)
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=name, signature=signature,
            pip_requirements=requirements, serialization_format="skops",
        )  # fmt: skip
    version = str(info.registered_model_version)
    for key, value in tags.items():
        c.set_model_version_tag(name, version, key, value)
    if alias:
        c.set_registered_model_alias(name, alias, version)
    return run.info.run_id, version


def _outputs(model: Any, sample: Any) -> Any:
    return model.predict_proba(sample) if hasattr(model, "predict_proba") else model.predict(sample)


def history_key(cfg: ModelConfig) -> str:
    return f"{cfg.storage.results_prefix}/{cfg.name}/model/history.json"


def record(results: Storage, cfg: ModelConfig, event: dict[str, Any]) -> dict[str, Any]:
    """Append an event (what, version, by, why, ...) to the model's history document, stamped with when."""
    key = history_key(cfg)
    events = history(results, cfg)
    event = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **event}
    # Whole and synced: a torn document would lose every promotion and rollback recorded before this one.
    results.write_json_atomic(key, {"model": cfg.name, "events": [*events, event]})
    return event


def history(results: Storage, cfg: ModelConfig) -> list[dict[str, Any]]:
    doc = results.read_json_if_any(history_key(cfg))
    return [] if doc is None else doc["events"]


def register_champion(
    cfg: ModelConfig,
    tracking_uri: str,
    results: Storage,
    model: Any,
    sample: Any,
    tags: dict[str, str],
    why: str,
) -> str:
    """Register a production model as a new version with the alias `champion` (first registration); its version."""
    tags = {"watchkeeper.model": cfg.name, "watchkeeper.role": "champion", **tags}
    run_id, version = log_sklearn(
        cfg, tracking_uri, model, sample, f"{cfg.name} champion", tags, {}, CHAMPION
    )
    record(
        results,
        cfg,
        {"event": "registered", "version": version, "by": "watchkeeper", "why": why, "run_id": run_id},
    )
    return version
