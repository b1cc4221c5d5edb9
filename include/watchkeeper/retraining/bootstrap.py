"""The paired bootstrap of a metric's difference between two models on the same rows, vectorised over resamples.

A resample of n rows drawn with replacement is the same as a weight per row (how often it was drawn), so a batch
of resamples is a (resamples × rows) count matrix and metrics that are sums over rows become matrix products.
`WEIGHTED` holds those metrics, one function each taking the counts; any other registered metric falls back to
recomputing it on each resample. Both paths draw the same resamples from the seed, so they give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from watchkeeper.performance.metrics import compute, get_metric

BATCH_CELLS = 4_000_000
"""Count-matrix cells per batch of resamples (32 MB of float64), whatever the holdout's size."""

Outputs = tuple[np.ndarray, np.ndarray | None]
Weighted = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray], np.ndarray]
WEIGHTED: dict[str, Weighted] = {}
"""Metric name → f(y, prediction, score, counts (B × n)) -> (B,) values, NaN where undefined."""


def weighted(*names: str):
    def wrap(fn: Weighted) -> Weighted:
        for name in names:
            WEIGHTED[name] = fn
        return fn

    return wrap


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


@weighted("roc_auc")
def _roc_auc(y, p, s, w):
    """Mann-Whitney with weights: each positive counts the negatives scored below it (ties count half)."""
    order = np.argsort(s, kind="stable")
    s, pos = s[order], y[order].astype(bool)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # one group per distinct score
    wp = np.add.reduceat(w[:, order] * pos, starts, axis=1)
    wn = np.add.reduceat(w[:, order] * ~pos, starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn
    return _ratio((wp * (below + 0.5 * wn)).sum(axis=1), wp.sum(axis=1) * wn.sum(axis=1))


def _confusion(y, p, w):
    y, p = y.astype(bool), p.astype(bool)
    return w @ (y & p), w @ (~y & p), w @ (y & ~p), w @ (~y & ~p)


@weighted("precision")
def _precision(y, p, s, w):
    tp, fp, _, _ = _confusion(y, p, w)
    return _ratio(tp, tp + fp)


@weighted("recall")
def _recall(y, p, s, w):
    tp, _, fn, _ = _confusion(y, p, w)
    return _ratio(tp, tp + fn)


@weighted("f1")
def _f1(y, p, s, w):
    tp, fp, fn, _ = _confusion(y, p, w)
    return _ratio(2 * tp, 2 * tp + fp + fn)


@weighted("accuracy")
def _accuracy(y, p, s, w):
    return w @ (y == p).astype(float) / w.sum(axis=1)


@weighted("log_loss")
def _log_loss(y, p, s, w):
    eps = np.finfo(np.asarray(s).dtype if np.asarray(s).dtype.kind == "f" else float).eps
    s = np.clip(s, eps, 1 - eps)  # as scikit-learn's log_loss
    return w @ -(y * np.log(s) + (1 - y) * np.log(1 - s)) / w.sum(axis=1)


@weighted("mae")
def _mae(y, p, s, w):
    return w @ np.abs(y - p) / w.sum(axis=1)


@weighted("mse", "rmse")
def _mse(y, p, s, w):
    return w @ (y - p) ** 2 / w.sum(axis=1)


@weighted("r2")
def _r2(y, p, s, w):
    n = w.sum(axis=1)
    mean = w @ y / n
    total = w @ y**2 - n * mean**2
    return 1 - _ratio(w @ (y - p) ** 2, total)


def _values(name: str, y: np.ndarray, out: Outputs, w: np.ndarray) -> np.ndarray:
    values = WEIGHTED[name](y, out[0], out[1], w)
    return np.sqrt(values) if name == "rmse" else values


def resamples(n: int, samples: int, seed: int, batch: int = 1) -> Iterator[np.ndarray]:
    """The row indices of the resamples, `batch` at a time (batch × n), drawn as the bootstrap always drew them."""
    rng = np.random.default_rng(seed)
    for lo in range(0, samples, batch):
        yield np.stack([rng.integers(0, n, n) for _ in range(min(batch, samples - lo))])


def paired_bootstrap(
    metric_name: str,
    task: str,
    y: np.ndarray,
    a: Outputs,
    b: Outputs,
    samples: int,
    confidence: float,
    seed: int = 0,
) -> tuple[float, list[float]]:
    """(difference b − a signed so positive is better, its percentile interval) over paired resamples of rows."""
    metric = get_metric(metric_name, task)
    sign = 1.0 if metric.higher_is_better else -1.0
    y = np.asarray(y)
    point = sign * (compute(metric, y, *b) - compute(metric, y, *a))
    if metric_name in WEIGHTED and not (metric.needs_score and (a[1] is None or b[1] is None)):
        a = (np.asarray(a[0], float), None if a[1] is None else np.asarray(a[1], float))
        b = (np.asarray(b[0], float), None if b[1] is None else np.asarray(b[1], float))
        yf, n = y.astype(float), len(y)
        step = max(1, BATCH_CELLS // max(n, 1))
        diffs = []
        for rows in resamples(n, samples, seed, step):
            flat = (rows + (np.arange(len(rows)) * n)[:, None]).ravel()
            w = np.bincount(flat, minlength=len(rows) * n).reshape(len(rows), n).astype(float)
            diffs.append(sign * (_values(metric_name, yf, b, w) - _values(metric_name, yf, a, w)))
        d = np.concatenate(diffs) if diffs else np.empty(0)
        d = d[np.isfinite(d)]
    else:
        batches = resamples(len(y), samples, seed)
        d = np.array([v for i in batches if (v := _difference(metric, y, a, b, i[0])) is not None]) * sign
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(d, [tail, 100 - tail])
    return point, [float(lo), float(hi)]


def _difference(metric, y: np.ndarray, a: Outputs, b: Outputs, i: np.ndarray) -> float | None:
    va = compute(metric, y[i], a[0][i], None if a[1] is None else a[1][i])
    vb = compute(metric, y[i], b[0][i], None if b[1] is None else b[1][i])
    return None if va is None or vb is None else vb - va
