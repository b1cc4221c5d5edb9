"""The reference profile's fast path: sample summaries from one sort equal summarizing each sample from scratch."""

import numpy as np
import pandas as pd
import pytest
from watchkeeper.drift.methods import summarize
from watchkeeper.reference import _ColumnSampler


def test_sampler_splits_equal_fresh_summaries_with_nulls_and_ties():
    rng = np.random.default_rng(2)
    numeric = pd.Series(rng.integers(0, 50, 5000).astype(float))
    numeric[rng.random(5000) < 0.05] = np.nan
    categorical = pd.Series(rng.choice(["a", "b", "c", None], 5000))
    mask = rng.random(5000) < 0.1
    for series, kind in ((numeric, "numeric"), (categorical, "categorical")):
        rest, cur, n_rest, n_cur = _ColumnSampler(series, kind).split(mask)
        present = series.notna().to_numpy()
        expected_rest = summarize(series[~mask & present].to_numpy(), kind)
        expected_cur = summarize(series[mask & present].to_numpy(), kind)
        if kind == "numeric":
            assert np.array_equal(rest, expected_rest) and np.array_equal(cur, expected_cur)
            assert (n_rest, n_cur) == (expected_rest.size, expected_cur.size)
        else:
            assert rest == expected_rest and cur == expected_cur
            assert (n_rest, n_cur) == (sum(expected_rest.values()), sum(expected_cur.values()))


@pytest.mark.parametrize(
    "series,label",
    [
        (pd.Series([1, 0, 1]), 1),
        (pd.Series([1, 0, 1]), "1"),
        (pd.Series([1, 0, 1]), "01"),
        (pd.Series([1, 0, None], dtype="Int64"), 1),
        (pd.Series([True, False]), True),
        (pd.Series(["yes", "no"]), "yes"),
        (pd.Series([1.0, 0.0]), 1),
    ],
)
def test_positive_label_matches_as_its_text_does(series, label):
    from watchkeeper.reference import is_label

    assert is_label(series, label).tolist() == (series.astype(str) == str(label)).tolist()
