"""The block-of-dates sweep of Winsorizer and CrossSectionalZScore.

Wide dates (>= 512 assets) take the block-extremes caps; every layout (sorted
and balanced, sorted with missing rows, shuffled) and NaN-heavy dates must
give scipy's caps and numpy's z-scores, whatever the block size.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mstats

import skfactor.panel._order_stats as order_stats
from skfactor import CrossSectionalZScore, Winsorizer
from skfactor.panel._order_stats import row_order_statistics
from skfactor.panel._segments import Segments, row_counts
from skfactor.panel._validation import date_codes
from tests.conftest import shuffled

LAYOUTS = ["balanced", "missing_rows", "shuffled"]


def _wide_panel(layout, seed=0, n_dates=5, n_assets=700):
    """Fat-tailed values, NaN-heavy dates (up to 50% NaN), ties on one column."""
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product(
        [pd.bdate_range("2024-01-01", periods=n_dates), range(n_assets)],
        names=["date", "asset"],
    )
    values = rng.standard_t(3, size=(len(index), 3))
    values[:, 2] = np.round(values[:, 2])  # long runs of ties at the caps
    date = index.codes[0]
    nan_share = np.linspace(0.0, 0.5, n_dates)[date]
    values[rng.random(values.shape) < nan_share[:, None]] = np.nan
    X = pd.DataFrame(values, index=index, columns=["a", "b", "c"])
    if layout != "balanced":
        X = X[rng.random(len(X)) >= 0.2]  # about 560 of 700 assets a date
    return shuffled(X, seed) if layout == "shuffled" else X


def _per_date(X, fn):
    """The slow, obvious reference: ``fn`` on each date's non-NaN values."""
    out = X.copy()
    for _, rows in X.groupby(level="date"):
        for col in X.columns:
            values = rows[col].dropna()
            out.loc[values.index, col] = fn(values.to_numpy())
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "limits, tails",  # whether the caps come from block extremes
    [(0.01, True), ((0.02, 0.0), True), ((0.0, 0.015), True), (0.1, False)],
)
def test_winsorizer_sweep_equals_scipy_on_wide_nan_heavy_dates(
    layout, limits, tails, monkeypatch
):
    X = _wide_panel(layout)
    calls = []
    tail_rows = order_stats._tail_rows
    monkeypatch.setattr(
        order_stats, "_tail_rows", lambda *a: calls.append(1) or tail_rows(*a)
    )
    result = Winsorizer(limits=limits).fit_transform(X)
    assert bool(calls) == tails
    expected = _per_date(
        X, lambda v: np.asarray(mstats.winsorize(v, limits=limits)).astype(float)
    )
    assert result.index.equals(X.index)
    np.testing.assert_array_equal(result.to_numpy(), expected.to_numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zscore_sweep_equals_numpy_on_wide_nan_heavy_dates(layout):
    X = _wide_panel(layout, seed=1)
    result = CrossSectionalZScore().fit_transform(X)
    expected = _per_date(X, lambda v: (v - v.mean()) / v.std())
    assert result.index.equals(X.index)
    np.testing.assert_allclose(
        result.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_winsorizer_in_blocks_of_one_date_equals_the_whole_panel(layout, monkeypatch):
    # The caps and the clip are computed a block of dates at a time: with
    # blocks of one date the numbers are the same, to the bit.
    X = _wide_panel(layout, seed=2)
    pipe = [Winsorizer(limits=0.01), CrossSectionalZScore()]
    whole = [step.fit_transform(X) for step in pipe]
    monkeypatch.setattr("skfactor.panel._segments.CACHE_CELLS", 1)
    monkeypatch.setattr("skfactor.panel._order_stats.CACHE_CELLS", 1)
    blocks = [step.fit_transform(X) for step in pipe]
    for one, other in zip(blocks, whole, strict=True):
        pd.testing.assert_frame_equal(one, other, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 6),
    width=st.sampled_from([5, 40, 600, 1100]),
    nan_share=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
    decimals=st.sampled_from([0, 1, 6]),
    lower=st.floats(0.0, 0.1),
    upper=st.floats(0.0, 0.1),
    seed=st.integers(0, 2**31 - 1),
)
def test_row_order_statistics_property_equal_a_sort(
    n_rows, width, nan_share, decimals, lower, upper, seed
):
    # Padded grid rows (NaN: missing or padding), ties, rows without a value.
    rng = np.random.default_rng(seed)
    grid = np.round(rng.standard_t(3, size=(n_rows, width)), decimals)
    grid[rng.random(grid.shape) < nan_share] = np.nan
    before = grid.copy()
    n = row_counts(grid)
    low_k, high_k = (lower * n).astype(np.intp), (upper * n).astype(np.intp)
    lo, hi = row_order_statistics(grid, low_k, high_k, n)
    np.testing.assert_array_equal(grid, before)  # read only
    for r in range(n_rows):
        ordered = np.sort(grid[r][~np.isnan(grid[r])])
        assert n[r] == len(ordered)
        if len(ordered):
            assert lo[r] == ordered[low_k[r]]
            assert hi[r] == ordered[len(ordered) - 1 - high_k[r]]
        else:
            assert np.isnan(lo[r]) and np.isnan(hi[r])


@pytest.mark.parametrize("layout", ["balanced", "shuffled"])
@pytest.mark.parametrize("n_assets", [700, 30])  # block extremes / partition
@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
@pytest.mark.parametrize("where", ["b", "c"])
def test_transformers_name_the_inf_column_their_kernel_meets(
    transformer, layout, n_assets, where
):
    # The kernels look for +-inf in the blocks they read (validation does
    # not read the panel once more for it); the error names the column, in
    # fit_transform and transform, a passthrough column ("c") included.
    X = _wide_panel(layout, n_assets=n_assets)
    X.loc[X.index[len(X) // 2], where] = np.inf
    X.loc[X.index[-1], where] = -np.inf
    step = transformer.set_params(passthrough=["c"] if where == "c" else None)
    match = f"`X` contains inf or -inf in column\\(s\\) \\['{where}'\\]"
    with pytest.raises(ValueError, match=match):
        step.fit_transform(X)
    with pytest.raises(ValueError, match=match):
        step.transform(X)


def test_zscore_sum_that_overflows_is_not_taken_for_inf():
    # A date whose sum overflows (no inf in it) must not raise the inf error:
    # the kernel checks such a date's values before it blames them.
    x = np.array([1.0, 2.0, 3.0, 5.0, np.nan] * 120) * 1.5e306
    index = pd.MultiIndex.from_product([[0], range(len(x))], names=["date", "asset"])
    X = pd.DataFrame({"x": x}, index=index)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        z = CrossSectionalZScore().fit_transform(X)
    assert z.index.equals(X.index)


def test_segments_of_sorted_codes_equal_the_counted_ones():
    # Sorted codes find each segment's bounds by bisection, without a count.
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(7), rng.integers(1, 9, 7))
    fast = Segments(codes, 7)
    counted = Segments(rng.permutation(codes), 7)
    assert fast.order is None and counted.order is not None
    np.testing.assert_array_equal(fast.sizes, counted.sizes)
    np.testing.assert_array_equal(fast.bounds, counted.bounds)


def test_date_codes_of_sorted_rows_renumber_an_unused_date():
    # Rows sorted by date but a level value without rows: the codes are
    # renumbered (the check of sorted, gapless codes must not take it).
    idx = pd.MultiIndex.from_tuples(
        [("2020-01-01", "a"), ("2020-01-02", "a"), ("2020-01-03", "a")],
        names=["date", "asset"],
    )[[0, 2]]
    codes, dates = date_codes(idx)
    np.testing.assert_array_equal(codes, [0, 1])
    assert list(dates) == ["2020-01-01", "2020-01-03"]
