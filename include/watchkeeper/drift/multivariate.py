"""Multivariate drift: the data reconstruction error after a PCA fitted on the reference.

Categoricals are frequency-encoded, missing values imputed (mean / most frequent), columns standardized, and a PCA
keeps enough components for `variance` of the reference's variance. A day's error is the mean Euclidean distance
between its rows and their reconstructions: it rises when the joint structure of the inputs changes, even where
each column alone looks unchanged. The fitted state is plain lists, so it is cached in the JSON reference profile.
Rows are encoded from Arrow batches (categoricals through their dictionary codes), so a day is scored batch by batch
in bounded memory; every quantity is a sum over rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from watchkeeper.drift.methods import category_labels, counts_of

Rows = pd.DataFrame | pa.Table | pa.RecordBatch


def _arrow(rows: Rows, columns: list[str]) -> pa.Table | pa.RecordBatch:
    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows[columns], preserve_index=False)
    return rows


def _numeric(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Floats, NaN where missing, unparseable or infinite: a fresh array, the caller's to change."""
    values = _floats(column)
    values = values.copy() if not values.flags.writeable else values
    values[~np.isfinite(values)] = np.nan
    return values


def _floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The column as floats (a read-only view of Arrow's buffer where it allows one), non-finite values as they are."""
    if not pa.types.is_floating(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return column.to_numpy(zero_copy_only=False).astype(float, copy=False)


def _encoded(column: pa.Array | pa.ChunkedArray, freq: dict[str, float], missing: float) -> np.ndarray:
    """Each row's category frequency in the reference (0 for unseen categories, `missing` for nulls)."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 0:
            return np.empty(0)
        return np.concatenate([_encoded(c, freq, missing) for c in column.chunks])
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    labels = category_labels(column.dictionary.to_numpy(zero_copy_only=False))
    lookup = np.array([freq.get(v, 0.0) for v in labels.tolist()] + [missing])
    codes = column.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
    return lookup[codes]


def _matrix(state: dict, rows: Rows) -> np.ndarray:
    """Encoded, imputed, standardized rows, filled column by column into one array."""
    table = _arrow(rows, state["numeric"] + state["categorical"])
    # Column-major, so each column is written contiguously (4-5x faster than into a row-major matrix).
    x = np.empty((table.num_rows, len(state["numeric"]) + len(state["categorical"])), order="F")
    for j, col in enumerate(state["numeric"]):
        # One copy, straight into the matrix; then missing values imputed in place.
        x[:, j] = _floats(table.column(col))
        bad = ~np.isfinite(x[:, j])
        if bad.any():
            x[bad, j] = state["impute"][col]
    for j, col in enumerate(state["categorical"], start=len(state["numeric"])):
        freq = state["freq"][col]
        x[:, j] = _encoded(table.column(col), freq, freq.get(state["impute"][col], 0.0))
    x -= np.asarray(state["mean"])
    x /= np.asarray(state["scale"])
    return x


def fit(reference: Rows, numeric: list[str], categorical: list[str], variance: float = 0.65) -> dict:
    from sklearn.decomposition import PCA  # fitting only: scoring a day needs numpy alone

    table = _arrow(reference, numeric + categorical)
    state: dict = {"numeric": numeric, "categorical": categorical, "impute": {}, "freq": {}}
    for col in numeric:
        values = _numeric(table.column(col))
        state["impute"][col] = float(np.nanmean(values))
    for col in categorical:
        labels = category_labels(pc.drop_null(table.column(col)).to_numpy(zero_copy_only=False))
        counts = counts_of(labels)
        total = sum(counts.values())
        state["freq"][col] = {k: n / total for k, n in counts.items()}
        state["impute"][col] = max(counts, key=lambda k: (counts[k], k))
    state["mean"], state["scale"] = [0.0] * len(numeric + categorical), [1.0] * len(numeric + categorical)
    raw = _matrix(state, table)
    state["mean"] = raw.mean(axis=0).tolist()
    state["scale"] = [s if s > 0 else 1.0 for s in raw.std(axis=0).tolist()]
    x = _matrix(state, table)
    # The eigendecomposition of the p×p covariance, on one BLAS thread, rather than a full SVD of the n×p matrix:
    # the same components (to 1e-12 on a 100k×30 reference) for 0.04 s of CPU instead of 0.6-2 s.
    with threadpool_limits(1):
        pca = PCA(n_components=variance, svd_solver="covariance_eigh", random_state=0).fit(x)
    state["components"] = pca.components_.tolist()
    state["pca_mean"] = pca.mean_.tolist()
    state["reference_residual"] = _residual(state, x).mean(axis=0).tolist()
    return state


def _residual(state: dict, x: np.ndarray) -> np.ndarray:
    comp, mean = np.asarray(state["components"]), np.asarray(state["pca_mean"])
    centered = x - mean
    return (centered - centered @ comp.T @ comp) ** 2


def _squared_errors(state: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each row's squared reconstruction error, the residuals' column sums of squares), without forming the
    reconstructions.

    With orthonormal components V (k of p columns), the residual of a centered row c is c·P with the projector
    P = I − VᵀV. When k is less than about half of p, the squared error is |c|² − |cVᵀ|² and the column sums are
    diag(P·CᵀC·P): one product with the k components and one p×p Gram matrix. Otherwise P = WᵀW with an orthonormal
    basis W of the p − k directions the components leave out, so the residual is (cWᵀ)·W: the squared error is
    |cWᵀ|² and the column sums diag(Wᵀ·QᵀQ·W) with Q = CWᵀ, one product with p − k directions and a (p−k)² Gram
    matrix (a 65 % variance PCA of 30 independent-ish columns keeps 20: ~3x less work, and no cancellation).
    """
    comp = np.asarray(state["components"]).reshape(-1, x.shape[1])
    x -= np.asarray(state["pca_mean"])  # in place: x is this batch's own matrix
    p, k = x.shape[1], comp.shape[0]
    if p * (p - k) + (p - k) ** 2 / 2 < k * p + p * p / 2:
        rest = _complement(comp)
        q = x @ rest.T
        return np.einsum("ij,ij->i", q, q), np.einsum("ij,jk,ki->i", rest.T, q.T @ q, rest)
    projected = x @ comp.T
    squared = np.einsum("ij,ij->i", x, x) - np.einsum("ij,ij->i", projected, projected)
    projector = np.eye(p) - comp.T @ comp
    return np.clip(squared, 0.0, None), np.diag(projector @ (x.T @ x) @ projector)


def _complement(comp: np.ndarray) -> np.ndarray:
    """An orthonormal basis (rows) of the directions orthogonal to the components: the eigenvectors of I − VᵀV
    whose eigenvalue is 1 (the others are 0)."""
    p = comp.shape[1]
    values, vectors = np.linalg.eigh(np.eye(p) - comp.T @ comp)
    return vectors[:, values > 0.5].T


def row_errors(state: dict, rows: Rows) -> np.ndarray:
    """Each row's reconstruction error (the reference profile averages them over chunks and samples)."""
    with threadpool_limits(1):  # see `score`
        return np.sqrt(_squared_errors(state, _matrix(state, rows))[0])


def score(state: dict, rows: Rows | Iterable[pa.RecordBatch]) -> tuple[float, dict[str, float]]:
    """(mean reconstruction error, each column's share of the rise in squared residual over the reference).

    `rows` may be an iterable of record batches: the day is then never held whole.
    """
    batches = [rows] if isinstance(rows, Rows) else rows
    names = state["numeric"] + state["categorical"]
    n, error_sum, residual = 0, 0.0, np.zeros(len(names))
    # One BLAS thread: these thin products (rows x 30 by 30 x k) ran 4-13x slower with OpenBLAS's two threads on
    # a busy 2-core machine (measured), and were no faster idle.
    with threadpool_limits(1):
        for batch in batches:
            squared, column_squares = _squared_errors(state, _matrix(state, batch))
            n += squared.size
            error_sum += float(np.sqrt(squared, out=squared).sum())
            residual += column_squares
    residual /= max(n, 1)
    error = error_sum / max(n, 1)
    rise = np.clip(residual - np.asarray(state["reference_residual"]), 0, None)
    total = rise.sum()
    shares = {n: float(r / total) for n, r in zip(names, rise, strict=True)} if total > 0 else {}
    return error, dict(sorted(shares.items(), key=lambda kv: -kv[1]))
