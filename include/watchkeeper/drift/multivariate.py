"""Multivariate drift: the data reconstruction error after a PCA fitted on the reference.

Categoricals are frequency-encoded, missing values imputed (mean / most frequent), columns standardized, and a PCA
keeps enough components for `variance` of the reference's variance. A day's error is the mean Euclidean distance
between its rows and their reconstructions: it rises when the joint structure of the inputs changes, even where
each column alone looks unchanged. The fitted state is plain lists, so it is cached in the JSON reference profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def _matrix(state: dict, frame: pd.DataFrame) -> np.ndarray:
    cols = []
    for col in state["numeric"]:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan).copy()
        values[~np.isfinite(values)] = np.nan
        cols.append(np.where(np.isnan(values), state["impute"][col], values))
    for col in state["categorical"]:
        freq = state["freq"][col]
        filled = frame[col].astype(object).where(frame[col].notna(), state["impute"][col]).astype(str)
        cols.append(filled.map(freq).fillna(0.0).to_numpy(dtype=float))  # unseen categories have frequency 0
    x = np.column_stack(cols)
    return (x - np.asarray(state["mean"])) / np.asarray(state["scale"])


def fit(reference: pd.DataFrame, numeric: list[str], categorical: list[str], variance: float = 0.65) -> dict:
    state: dict = {"numeric": numeric, "categorical": categorical, "impute": {}, "freq": {}}
    for col in numeric:
        values = pd.to_numeric(reference[col], errors="coerce")
        state["impute"][col] = float(values[np.isfinite(values)].mean())
    for col in categorical:
        counts = reference[col].dropna().astype(str).value_counts(normalize=True)
        state["freq"][col] = counts.to_dict()
        state["impute"][col] = str(counts.index[0])
    state["mean"], state["scale"] = [0.0] * len(numeric + categorical), [1.0] * len(numeric + categorical)
    raw = _matrix(state, reference)
    state["mean"] = raw.mean(axis=0).tolist()
    state["scale"] = [s if s > 0 else 1.0 for s in raw.std(axis=0).tolist()]
    x = _matrix(state, reference)
    pca = PCA(n_components=variance, svd_solver="full", random_state=0).fit(x)
    state["components"] = pca.components_.tolist()
    state["pca_mean"] = pca.mean_.tolist()
    state["reference_residual"] = _residual(state, x).mean(axis=0).tolist()
    return state


def _residual(state: dict, x: np.ndarray) -> np.ndarray:
    comp, mean = np.asarray(state["components"]), np.asarray(state["pca_mean"])
    recon = (x - mean) @ comp.T @ comp + mean
    return (x - recon) ** 2


def row_errors(state: dict, frame: pd.DataFrame) -> np.ndarray:
    """Each row's reconstruction error (the reference profile averages them over chunks and samples)."""
    return np.sqrt(_residual(state, _matrix(state, frame)).sum(axis=1))


def score(state: dict, frame: pd.DataFrame) -> tuple[float, dict[str, float]]:
    """(mean reconstruction error, each column's share of the rise in squared residual over the reference)."""
    residual = _residual(state, _matrix(state, frame))
    error = float(np.sqrt(residual.sum(axis=1)).mean())
    rise = np.clip(residual.mean(axis=0) - np.asarray(state["reference_residual"]), 0, None)
    names = state["numeric"] + state["categorical"]
    total = rise.sum()
    shares = {n: float(r / total) for n, r in zip(names, rise, strict=True)} if total > 0 else {}
    return error, dict(sorted(shares.items(), key=lambda kv: -kv[1]))
