"""Models named by `drift.importance_model_uri` load only through skops with scikit-learn types; pickles are refused."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from watchkeeper.safe_cache import load_mlflow_sklearn

pytestmark = pytest.mark.slow  # MLflow model logging: minutes on a shared machine


class Boom(LogisticRegression):
    """A model whose unpickling runs code (creates the directory `WK_BOOM`)."""

    def __reduce__(self):
        return (os.makedirs, (os.environ["WK_BOOM"],))


def test_only_skops_models_of_scikit_learn_types_are_loaded(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    marker = tmp_path / "pwned"
    monkeypatch.setenv("WK_BOOM", str(marker))
    x, y = np.random.default_rng(0).normal(size=(60, 2)), np.arange(60) % 2
    good = LogisticRegression().fit(x, y)
    # Requirements given, so MLflow does not infer them by loading the model in a subprocess (which would
    # unpickle Boom itself, outside the loader under test).
    requirements = ["scikit-learn"]
    with mlflow.start_run():
        skops_uri = mlflow.sklearn.log_model(good, name="good", pip_requirements=requirements).model_uri
        pickled_uri = mlflow.sklearn.log_model(
            Boom().fit(x, y), name="bad", serialization_format="cloudpickle", pip_requirements=requirements
        ).model_uri
    assert not marker.exists(), "MLflow's logging unpickled the model, so this test cannot judge the loader"

    assert np.allclose(load_mlflow_sklearn(skops_uri).coef_, good.coef_)
    with pytest.raises(ValueError, match="stored as cloudpickle; Watchkeeper does not unpickle models"):
        load_mlflow_sklearn(pickled_uri)
    assert not marker.exists()


class Custom:
    """A type outside scikit-learn, numpy and scipy."""


def test_models_with_types_outside_scikit_learn_are_refused(tmp_path, monkeypatch):
    import mlflow
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    x, y = np.random.default_rng(0).normal(size=(60, 2)), np.arange(60) % 2
    model = make_pipeline(FunctionTransformer(np.negative), LogisticRegression()).fit(x, y)
    model.extra = Custom()
    with mlflow.start_run():
        uri = mlflow.sklearn.log_model(
            model, name="m", skops_trusted_types=[f"{__name__}.Custom", "numpy.negative"]
        ).model_uri
    with pytest.raises(ValueError, match="outside scikit-learn/numpy/scipy"):
        load_mlflow_sklearn(uri)
