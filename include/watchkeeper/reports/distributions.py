"""Binned distributions of the top drifted features, today against the reference, for the report's plots.

Computed in the drift stage from the fitted reference states (sorted values or category shares) and the day's
column, then stored in the `DayResult` as shares per bin: a few hundred numbers, never raw rows. Columns marked
`pii` in the config are left out; a categorical column's category names are raw values, so they are shown only for
columns in `columns.show_values`, segment columns and the model's own classes (prediction, target), and replaced
by `category 1..n` (ranked by reference share) for every other column.
"""

from __future__ import annotations

import numpy as np

from watchkeeper.config import ModelConfig
from watchkeeper.disclosure import coarse_bounds
from watchkeeper.drift.day import DayColumns
from watchkeeper.result import Check, Distribution, Status

BINS = 30
CATEGORIES = 12
OTHER = "(other)"
MAX_FEATURES = 6


def drifted_columns(checks: list[Check], top: list[str]) -> list[str]:
    """The top drifted features, then drifted model outputs (score, prediction) whole-day."""
    outputs = [
        c.subject
        for c in checks
        if c.stage == "drift" and c.status == Status.ALERT and c.segment is None
        and c.details.get("role") == "prediction"
    ]  # fmt: skip
    return list(dict.fromkeys([*top[:MAX_FEATURES], *outputs]))


def distributions(
    cfg: ModelConfig, day: DayColumns, profile: dict, states: dict, top: list[str], checks: list[Check]
) -> list[Distribution]:
    """One `Distribution` per drifted column of `drifted_columns` the reference state can describe."""
    kinds = {c["column"]: c["kind"] for c in profile["columns"]}
    private = set(getattr(cfg.columns, "pii", []))
    out = []
    for column in drifted_columns(checks, top):
        if column not in day or column not in kinds or column in private:
            continue
        ref = _reference(column, states)
        today, rows = day.read(column, kinds[column]).summary()
        if ref is None or rows == 0:
            continue
        if kinds[column] == "numeric" and isinstance(ref, np.ndarray) and ref.size:
            out.append(numeric(column, ref, today, coarse=not _may_show_values(cfg, column)))
        elif kinds[column] != "numeric" and isinstance(ref, dict):
            shown = categorical(column, ref, today, int(profile.get("reference_rows", 0)))
            out.append(shown if _may_show_values(cfg, column) else anonymized(shown, ref))
    return out


def _may_show_values(cfg: ModelConfig, column: str) -> bool:
    listed = getattr(cfg.columns, "show_values", None)
    if listed is None:  # a config without the show-values setting names categories as before
        return True
    own = {cfg.columns.prediction, cfg.columns.target, *cfg.segments.columns}
    return column in set(listed) | own


def anonymized(dist: Distribution, ref_shares: dict[str, float]) -> Distribution:
    """The same bars with each category named by its rank in the reference (`category 1` most frequent)."""
    rank = {k: i + 1 for i, k in enumerate(sorted(ref_shares, key=lambda k: (-ref_shares[k], k)))}
    unseen = iter(range(len(rank) + 1, len(rank) + 1 + len(dist.labels)))
    labels = [
        label
        if label == OTHER
        else f"category {rank[label]}"
        if label in rank
        else f"new category {next(unseen)}"
        for label in dist.labels
    ]
    return dist.model_copy(update={"labels": labels})


def _reference(column: str, states: dict) -> np.ndarray | dict | None:
    """The whole reference's sorted values (numeric) or category shares, from any fitted state of the column."""
    for key, state in states.items():
        if not key.startswith(f"{column}|"):
            continue
        if isinstance(state, dict):
            return state
        if isinstance(state, np.ndarray):
            return state
        if isinstance(state, tuple) and isinstance(state[0], np.ndarray) and isinstance(state[1], float):
            return state[0]  # Wasserstein: (sorted values, scale)
    return None


def _shares(sorted_values: np.ndarray, edges: np.ndarray) -> list[float]:
    """Share of the values in each bin; values beyond the outer edges count in the outer bins."""
    cuts = np.searchsorted(sorted_values, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], cuts, [sorted_values.size]]))
    return [round(float(c) / max(sorted_values.size, 1), 5) for c in counts]


def numeric(
    column: str, ref_sorted: np.ndarray, today_sorted: np.ndarray, coarse: bool = False
) -> Distribution:
    """Equal-width bins over the central 99 % of both samples together, so one outlier does not flatten the plot.

    `coarse` (a column whose values are not shown): that range's ends, two quantiles of the data, are widened
    to round numbers (`disclosure.coarse_bounds`)."""
    lo = min(np.quantile(ref_sorted, 0.005), np.quantile(today_sorted, 0.005))
    hi = max(np.quantile(ref_sorted, 0.995), np.quantile(today_sorted, 0.995))
    if coarse:
        lo, hi = coarse_bounds(float(lo), float(hi))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    return Distribution(
        column=column,
        kind="numeric",
        edges=[float(f"{e:.6g}") for e in edges],
        reference=_shares(ref_sorted, edges),
        today=_shares(today_sorted, edges),
        reference_rows=int(ref_sorted.size),
        today_rows=int(today_sorted.size),
    )


def categorical(
    column: str, ref_shares: dict[str, float], today: dict[str, int], ref_rows: int
) -> Distribution:
    """The categories most frequent in either sample, the rest pooled as `(other)`."""
    total = sum(today.values())
    now = {k: v / total for k, v in today.items()}
    ranked = sorted(set(ref_shares) | set(now), key=lambda k: -max(ref_shares.get(k, 0.0), now.get(k, 0.0)))
    shown = ranked[:CATEGORIES]
    ref = [ref_shares.get(k, 0.0) for k in shown]
    cur = [now.get(k, 0.0) for k in shown]
    if len(ranked) > CATEGORIES:
        shown, ref, cur = [*shown, OTHER], [*ref, max(0.0, 1 - sum(ref))], [*cur, max(0.0, 1 - sum(cur))]
    return Distribution(
        column=column,
        kind="categorical",
        labels=[str(k) for k in shown],
        reference=[round(v, 5) for v in ref],
        today=[round(v, 5) for v in cur],
        reference_rows=ref_rows,
        today_rows=total,
    )
