"""Performance metrics, one small function each, registered by (name, task) with their better direction.

Each takes `y_true`, `y_pred` (class or value) and `y_score` (classifier probability or None) as numpy arrays.
A metric's bounds are one-sided (only its bad side alerts) or two-sided where a sudden improvement is as much a
symptom as a decline: a regressor's errors falling far below their reference range mean the population or the
labels changed (NannyML's defaults agree). Classification metrics stay one-sided: a classifier that suddenly scores
better than its reference is rarer and usually shows up in prediction or label drift first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class Metric:
    """A registered metric: name, task, whether higher is better, and whether it needs scores."""

    name: str
    task: str
    higher_is_better: bool
    needs_score: bool
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
    two_sided: bool = False
    directional: bool = True
    """False for metrics with no better side (rates, bias): a breach is a change either way."""
    from_ranks: Callable[[np.ndarray, np.ndarray], float] | None = None
    """The same value from 0/1 labels and each row's dense rank among its prediction day's scores (`ranked`)."""
    from_confusion: Callable[[int, int, int, int], float] | None = None
    """The same value from the (tp, fp, fn, tn) counts of 0/1 labels and predictions (`counted`)."""

    def breach_wording(self, value: float, lower: float | None) -> str:
        """How an out-of-bounds value reads: worse than the reference allows, better than it can explain, or (for
        metrics with no better side) outside its range."""
        if not self.directional:
            return "outside the reference range"
        below = lower is not None and value < lower
        if below == self.higher_is_better:
            return "worse than the reference allows"
        return "better than the reference can explain (the population or the labels may have changed)"

    @property
    def direction(self) -> str:
        """Which side of the bounds is bad."""
        if self.two_sided:
            return "both"
        return "lower" if self.higher_is_better else "upper"


REGISTRY: dict[tuple[str, str], Metric] = {}
DEFAULTS = {
    "binary_classification": ["roc_auc", "f1", "precision", "recall", "accuracy"],
    "regression": ["mae", "rmse", "r2"],
}


def register(
    name: str,
    task: str,
    higher_is_better: bool,
    needs_score: bool = False,
    two_sided: bool = False,
    directional: bool = True,
):
    def wrap(fn: Callable) -> Callable:
        REGISTRY[(name, task)] = Metric(name, task, higher_is_better, needs_score, fn, two_sided, directional)
        return fn

    return wrap


def counted(name: str, task: str, higher_is_better: bool):
    """Register a metric of the confusion counts (tp, fp, fn, tn) of 0/1 labels and predictions: given the counts,
    several such metrics of one set of rows count them once (`compute(..., counts=)`)."""

    def wrap(fn: Callable[[int, int, int, int], float]) -> Callable:
        REGISTRY[(name, task)] = Metric(
            name, task, higher_is_better, False, lambda y, p, s: fn(*confusion(y, p)), from_confusion=fn
        )
        return fn

    return wrap


def also_counted(name: str, task: str):
    """Register a metric's computation from the confusion counts beside its own (`counted` metrics have only that)."""

    def wrap(fn: Callable[[int, int, int, int], float]) -> Callable:
        REGISTRY[(name, task)] = replace(REGISTRY[(name, task)], from_confusion=fn)
        return fn

    return wrap


def ranked(name: str, task: str):
    """Register a metric's computation from score ranks (an order-only metric, such as ROC AUC)."""

    def wrap(fn: Callable) -> Callable:
        REGISTRY[(name, task)] = replace(REGISTRY[(name, task)], from_ranks=fn)
        return fn

    return wrap


def get_metric(name: str, task: str) -> Metric:
    try:
        return REGISTRY[(name, task)]
    except KeyError:
        valid = sorted(n for n, t in REGISTRY if t == task)
        raise KeyError(f"unknown metric {name!r} for {task}; valid: {', '.join(valid)}") from None


def compute(
    metric: Metric,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    score_rank: np.ndarray | None = None,
    counts: tuple[int, int, int, int] | None = None,
) -> float | None:
    """The metric's value, or None where it is undefined (ROC AUC on one class; recall, precision, F1 or
    specificity of 0/0): never a 0 that would read as a collapse and ask for a retrain. `score_rank` (each row's
    dense rank among its prediction day's scores, when stored) serves the metrics registered `ranked`; `counts`
    (`confusion(y_true, y_pred)`, when already counted) those registered `counted`."""
    if metric.needs_score and y_score is None:
        return None
    if metric.task == "binary_classification" and metric.needs_score and _one_class(y_true):
        return None
    if score_rank is not None and metric.from_ranks is not None and ((y_true == 0) | (y_true == 1)).all():
        value = float(metric.from_ranks(y_true, score_rank))
    elif counts is not None and metric.from_confusion is not None:
        value = float(metric.from_confusion(*counts))
    else:
        value = float(metric.fn(y_true, y_pred, y_score))
    return value if np.isfinite(value) else None


def _one_class(y: np.ndarray) -> bool:
    """`np.unique(y).size < 2` without its sort (a labelled day of a label window can have 1M rows)."""
    y = np.asarray(y)
    if y.size == 0:
        return True
    if y.dtype.kind in "fc" and np.isnan(y).any():
        return bool(np.unique(y).size < 2)
    return bool((y == y[0]).all())


BC = "binary_classification"


@register("roc_auc", BC, True, needs_score=True)
def roc_auc(y, p, s):
    """The area under the ROC curve as scikit-learn's trapezoids give it (ties count half), from one sort: the
    share of (positive, negative) pairs the score orders right. A labelled day of 1M rows is scored for each
    prediction day of the label window, where scikit-learn's validation and curve building doubled the cost."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    if not np.isfinite(s).all() or not ((y == 0) | (y == 1)).all():
        return skm.roc_auc_score(y, s)  # its error for NaN scores, its handling of other labels
    # Tied scores are summed as one group, so their order inside it does not matter: no stable sort (~3x dearer).
    return _auc_of_sorted(s, y)


def _auc_of_sorted(keys: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of 0/1 labels `y` ordered by `keys` (scores or ranks), equal keys one group of ties: one sort."""
    order = np.argsort(keys)
    ranked, truth = keys[order], np.asarray(y, dtype=np.int64)[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # groups of tied keys
    positives = np.add.reduceat(truth, starts) if truth.size else truth
    negatives = np.diff(np.r_[starts, len(truth)]) - positives
    return _auc_of_groups(positives, negatives)


def _auc_of_groups(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC from the positives and negatives of each group of tied scores, in score order (empty groups add
    nothing): right pairs plus half the tied ones, counted in integers, over all pairs."""
    below = np.cumsum(negatives) - negatives  # negatives scored lower than each group
    below *= 2
    below += negatives
    pairs = int(positives.sum()) * int(negatives.sum())
    return float(int(np.dot(positives, below)) / (2 * pairs)) if pairs else np.nan


@ranked("roc_auc", BC)
def roc_auc_ranked(y, rank):
    """`roc_auc` from each labelled row's dense rank among its whole prediction day's scores (`joined.SCORE_RANK`,
    stored once with the day): the same groups of tied scores in the same order. A day most of whose rows are
    labelled is counted by one `bincount` of (rank, label) over all its ranks, without a sort; a day with few
    labels so far (fewer than an eighth of its ranks) sorts just those. Either way ~2x less than before, where a
    prediction day re-scored each day of its label window counted every rank two and three times."""
    rank = np.asarray(rank, dtype=np.int64)
    if not rank.size:
        return np.nan
    size = int(rank.max()) + 1
    if rank.size * 8 < size:
        return _auc_of_sorted(rank, y)
    counts = np.bincount(2 * rank + np.asarray(y, dtype=np.int64), minlength=2 * size).reshape(-1, 2)
    return _auc_of_groups(counts[:, 1], counts[:, 0])


@register("pr_auc", BC, True, needs_score=True)
def pr_auc(y, p, s):
    return skm.average_precision_score(y, s)


def _ratio(top: int, bottom: int) -> float:
    return top / bottom if bottom else np.nan  # as scikit-learn's zero_division=np.nan


def confusion(y: np.ndarray, p: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of 0/1 arrays, counted on one-byte masks, where scikit-learn's scorers re-validate and
    re-label the arrays on each call (the profile build scores each metric on every reference chunk and sample),
    and a `bincount` of `2y + p` made three 8-byte copies of a re-scored prediction day."""
    positive, predicted = np.asarray(y) == 1, np.asarray(p) == 1
    tp = int(np.count_nonzero(positive & predicted))
    positives, predictions = int(np.count_nonzero(positive)), int(np.count_nonzero(predicted))
    return tp, predictions - tp, positives - tp, positive.size - positives - predictions + tp


@counted("f1", BC, True)
def f1(tp, fp, fn, tn):
    return _ratio(2 * tp, 2 * tp + fp + fn)


@counted("precision", BC, True)
def precision(tp, fp, fn, tn):
    return _ratio(tp, tp + fp)


@counted("recall", BC, True)
def recall(tp, fp, fn, tn):
    return _ratio(tp, tp + fn)


@counted("specificity", BC, True)
def specificity(tp, fp, fn, tn):
    return _ratio(tn, tn + fp)


@register("accuracy", BC, True)
def accuracy(y, p, s):
    return float(np.mean(np.asarray(y) == np.asarray(p))) if len(y) else np.nan


@also_counted("accuracy", BC)
def accuracy_of_counts(tp: int, fp: int, fn: int, tn: int) -> float:
    """`accuracy` exactly, given the counts of 0/1 labels and predictions: its mean of 0/1 is this ratio."""
    rows = tp + fp + fn + tn
    return (tp + tn) / rows if rows else np.nan


@register("log_loss", BC, False, needs_score=True)
def log_loss(y, p, s):
    return skm.log_loss(y, s, labels=[0, 1])


@register("brier", BC, False, needs_score=True)
def brier(y, p, s):
    return skm.brier_score_loss(y, s)


@register("ece", BC, False, needs_score=True)
def ece(y, p, s):
    """Expected calibration error over 10 equal-width score bins."""
    bins = np.minimum((s * 10).astype(int), 9)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.sum() * abs(s[m].mean() - y[m].mean())
    return total / max(len(y), 1)


@register("predicted_positive_rate", BC, True, two_sided=True, directional=False)
def predicted_positive_rate(y, p, s):
    return float(np.mean(p))


@register("actual_positive_rate", BC, True, two_sided=True, directional=False)
def actual_positive_rate(y, p, s):
    return float(np.mean(y))


@register("mae", "regression", False, two_sided=True)
def mae(y, p, s):
    return skm.mean_absolute_error(y, p)


@register("mse", "regression", False, two_sided=True)
def mse(y, p, s):
    return skm.mean_squared_error(y, p)


@register("rmse", "regression", False, two_sided=True)
def rmse(y, p, s):
    return skm.root_mean_squared_error(y, p)


@register("mape", "regression", False, two_sided=True)
def mape(y, p, s):
    return skm.mean_absolute_percentage_error(y, p)


@register("msle", "regression", False, two_sided=True)
def msle(y, p, s):
    if (y < 0).any() or (p < 0).any():
        return float("nan")  # undefined for negative values: reported as skipped
    return skm.mean_squared_log_error(y, p)


@register("rmsle", "regression", False, two_sided=True)
def rmsle(y, p, s):
    if (y < 0).any() or (p < 0).any():
        return float("nan")  # undefined for negative values: reported as skipped
    return skm.root_mean_squared_log_error(y, p)


@register("r2", "regression", True)
def r2(y, p, s):
    return skm.r2_score(y, p)


@register("bias", "regression", False, two_sided=True, directional=False)
def bias(y, p, s):
    return float(np.mean(p - y))
