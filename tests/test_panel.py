from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skfactor import CrossSectionalZScore, Winsorizer
from skfactor.datasets import make_factor_panel
from skfactor.panel import forward_returns
from skfactor.panel._order_stats import (
    _lexsort_order_statistics,
    _partition_order_statistics,
    _tail_order_statistics,
    median,
    order_statistics,
)
from skfactor.panel._ranks import _grid_rank, _lexsort_rank, rank
from skfactor.panel._segments import Segments
from skfactor.panel._validation import date_codes
from tests.conftest import shuffled


# ------------------------------------------------------------ the kernels
def _random_segments(seed, n_segments=30, max_size=50):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size, n_segments)
    codes = rng.permutation(np.repeat(np.arange(n_segments), sizes))
    values = rng.standard_normal(len(codes)).round(1)  # ties on purpose
    values[rng.random(len(codes)) < 0.15] = np.nan
    return Segments(codes, n_segments), codes, values


@pytest.mark.parametrize("seed", range(3))
def test_segments_reductions_equal_a_loop(seed):
    seg, codes, values = _random_segments(seed)
    v = seg.sort(values)
    n = seg.count(v)
    with np.errstate(invalid="ignore"):
        mean = seg.nansum(v) / n
    for s in range(seg.n_segments):
        block = values[codes == s]
        assert n[s] == np.sum(~np.isnan(block))
        np.testing.assert_allclose(
            mean[s], np.nanmean(block) if n[s] else np.nan, rtol=1e-14, atol=1e-15
        )
        np.testing.assert_equal(seg.nanmin(v)[s], np.nanmin(block) if n[s] else np.nan)
        np.testing.assert_equal(seg.nanmax(v)[s], np.nanmax(block) if n[s] else np.nan)
    np.testing.assert_array_equal(seg.unsort(v), values)


@pytest.mark.parametrize("layout", ["grid", "one_wide_date"])
@pytest.mark.parametrize("seed", range(3))
def test_segments_order_statistics_and_rank_equal_a_loop(seed, layout):
    # "one_wide_date": the padded (date x asset) grid would be mostly padding,
    # so the kernels sort the whole column once instead.
    seg, codes, values = _random_segments(seed)
    if layout == "one_wide_date":
        rng = np.random.default_rng(seed)
        codes = np.r_[codes, np.full(20 * len(codes), seg.n_segments)]
        values = np.r_[values, rng.standard_normal(20 * len(values)).round(1)]
        seg = Segments(codes, seg.n_segments + 1)
    assert seg.grid_fits == (layout == "grid")
    v = seg.sort(values)
    n = seg.count(v)
    low_k = np.minimum(n // 3, np.maximum(n - 1, 0))
    high_k = n // 4
    lo, hi = order_statistics(seg, v, low_k, high_k)
    med = median(seg, v)
    ranks = seg.unsort(rank(seg, v))
    for s in range(seg.n_segments):
        block = values[codes == s]
        ordered = np.sort(block[~np.isnan(block)])
        if len(ordered):
            assert lo[s] == ordered[low_k[s]]
            assert hi[s] == ordered[len(ordered) - 1 - high_k[s]]
            assert med[s] == np.median(ordered)
        else:
            assert np.isnan(lo[s]) and np.isnan(hi[s]) and np.isnan(med[s])
        expected_rank = pd.Series(block).rank(method="average").to_numpy()
        np.testing.assert_array_equal(ranks[codes == s], expected_rank)


@pytest.mark.parametrize("seed", range(3))
def test_segments_grid_kernels_equal_the_one_sort_kernels(seed):
    # The special paths (padded grid, block extremes) against the plain one.
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(5), rng.integers(600, 900, 5))
    values = rng.standard_t(3, len(codes)).round(2)
    values[rng.random(len(codes)) < 0.1] = np.nan
    seg = Segments(rng.permutation(codes), 5)
    v = seg.sort(values)
    n = seg.count(v)
    k = (0.01 * n).astype(np.intp)
    plain = _lexsort_order_statistics(seg, v, k, k + 1, n)
    tails = _tail_order_statistics(seg, v, k, k + 1, n)
    assert tails is not None  # wide dates, positions near the ends
    for special in (tails, _partition_order_statistics(seg, v, k, k + 1, n)):
        np.testing.assert_array_equal(special[0], plain[0])
        np.testing.assert_array_equal(special[1], plain[1])
    np.testing.assert_array_equal(_grid_rank(seg, v), _lexsort_rank(seg, v))


def test_segments_sorted_input_needs_no_permutation():
    seg = Segments(np.repeat(np.arange(4), 3), 4)
    assert seg.order is None
    np.testing.assert_array_equal(seg.bounds, [0, 3, 6, 9, 12])


def test_date_codes_follow_sorted_dates_and_ignore_unused_levels():
    idx = pd.MultiIndex.from_tuples(
        [
            ("2020-01-03", "a"),
            ("2020-01-01", "a"),
            ("2020-01-03", "b"),
            ("2020-01-02", "b"),
        ]
    )[[0, 1, 2]]  # "2020-01-02" stays an unused level value
    codes, dates = date_codes(idx)
    assert list(dates) == ["2020-01-01", "2020-01-03"]
    np.testing.assert_array_equal(codes, [1, 0, 1])


# ---------------------------------------------------------- the validator
@pytest.fixture
def small_panel():
    return make_factor_panel(n_dates=4, n_assets=10, random_state=0).X


@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
def test_validator_rejects_three_level_index(small_panel, transformer):
    X = small_panel.assign(region="eu").set_index("region", append=True)
    with pytest.raises(ValueError, match="MultiIndex with 3 levels.*droplevel"):
        transformer.fit_transform(X)


@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
def test_validator_rejects_duplicated_rows(small_panel, transformer):
    X = pd.concat([small_panel, small_panel.iloc[:2]])
    with pytest.raises(
        ValueError, match="duplicated \\(date, asset\\) rows.*duplicated"
    ):
        transformer.fit_transform(X)


@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
def test_validator_rejects_non_numeric_columns(small_panel, transformer):
    X = small_panel.assign(sector="tech")
    with pytest.raises(
        ValueError, match="non-numeric columns \\['sector'\\].*`groups` or `pass"
    ):
        transformer.fit_transform(X)


@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
def test_validator_rejects_inf(small_panel, transformer):
    X = small_panel.copy()
    X.iloc[3, 1] = -np.inf
    with pytest.raises(
        ValueError, match="inf or -inf in column\\(s\\) \\['size'\\].*NaN"
    ):
        transformer.fit_transform(X)


def test_validator_rejects_missing_index_labels(small_panel):
    X = small_panel.copy()
    X.index = pd.MultiIndex.from_arrays(
        [
            X.index.get_level_values(0),
            X.index.get_level_values(1).where(np.arange(len(X)) != 2),
        ]
    )
    with pytest.raises(ValueError, match="missing \\(NaN\\) labels in its asset level"):
        Winsorizer().fit_transform(X)


def test_validator_rejects_other_feature_count(small_panel):
    w = Winsorizer().fit(small_panel)
    with pytest.raises(ValueError, match="feature names"):
        w.transform(small_panel.iloc[:, :2])


# ------------------------------------------------------- forward_returns
def _forward_loop(returns, periods):
    """Slow reference: walk the panel's dates for each row."""
    dates = np.sort(returns.index.get_level_values(0).unique())
    pos = {d: i for i, d in enumerate(dates)}
    lookup = returns.to_dict()
    out = []
    for date, asset in returns.index:
        i = pos[date]
        if i + periods >= len(dates):
            out.append(np.nan)
            continue
        growth = 1.0
        for s in range(1, periods + 1):
            growth *= 1.0 + lookup.get((dates[i + s], asset), np.nan)
        out.append(growth - 1.0)
    return pd.Series(out, index=returns.index, name=returns.name)


@pytest.mark.parametrize("periods", [1, 3])
def test_forward_returns_equals_a_loop_on_an_unbalanced_shuffled_panel(periods):
    data = make_factor_panel(n_dates=15, n_assets=20, missing_rows=0.2, random_state=3)
    y = shuffled(data.y, seed=4)
    y.iloc[::17] = np.nan
    result = forward_returns(y, periods=periods)
    assert result.index.equals(y.index)
    pd.testing.assert_series_equal(result, _forward_loop(y, periods), rtol=1e-14)


def test_forward_returns_does_not_skip_a_missing_date():
    idx = pd.MultiIndex.from_tuples(
        [(1, "a"), (1, "b"), (2, "b"), (3, "a"), (3, "b")], names=["date", "asset"]
    )
    r = pd.Series([0.1, 0.2, 0.3, 0.4, 0.5], index=idx)
    result = forward_returns(r)
    # "a" has no row on date 2: its return from 1 to 2 is unknown, not date 3's.
    assert np.isnan(result[(1, "a")])
    assert result[(1, "b")] == pytest.approx(0.3)


def test_forward_returns_wide_and_frame_inputs():
    data = make_factor_panel(n_dates=12, n_assets=5, random_state=0)
    wide = data.y.unstack("asset")
    long = forward_returns(data.y, periods=2)
    pd.testing.assert_frame_equal(
        forward_returns(wide, periods=2), long.unstack("asset")
    )
    frame = forward_returns(data.y.to_frame(), periods=2)
    pd.testing.assert_series_equal(frame["return"], long)
    # Several columns, unbalanced and shuffled: each is that column alone.
    holed = make_factor_panel(n_dates=12, n_assets=5, missing_rows=0.2, random_state=1)
    two = pd.DataFrame(
        {"a": holed.y, "b": holed.y[::-1].to_numpy() * 0.5}, index=holed.y.index
    ).sample(frac=1, random_state=0)
    both = forward_returns(two, periods=3)
    for column in two:
        pd.testing.assert_series_equal(both[column], forward_returns(two[column], 3))


@pytest.mark.parametrize("periods", [0, -1, 1.5, True])
def test_forward_returns_rejects_bad_periods(periods):
    with pytest.raises(ValueError, match="`periods` must be an integer >= 1"):
        forward_returns(pd.Series([0.1]), periods=periods)


def test_forward_returns_rejects_unsorted_wide_and_arrays():
    with pytest.raises(ValueError, match="increasing order.*sort_index"):
        forward_returns(pd.DataFrame({"a": [0.1, 0.2]}, index=[2, 1]))
    with pytest.raises(TypeError, match="pandas Series or DataFrame"):
        forward_returns(np.zeros(3))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(0, 10_000))
def test_forward_returns_property_no_look_back(periods, seed):
    # Changing returns on or before date t changes no forward return after t.
    data = make_factor_panel(
        n_dates=10, n_assets=4, missing_rows=0.2, random_state=seed
    )
    y = data.y
    dates = y.index.get_level_values(0)
    unique = dates.unique()
    cut = unique[seed % len(unique)]
    base = forward_returns(y, periods)
    changed = forward_returns(y.where(dates > cut, 0.5), periods)
    pd.testing.assert_series_equal(base[dates >= cut], changed[dates >= cut])


@pytest.mark.parametrize("one_date_per_block", [False, True])
@pytest.mark.parametrize(
    "arrangement", ["random", "tails_in_few_blocks", "ties_at_the_caps", "nan_heavy"]
)
def test_segments_tail_order_statistics_are_exact_on_wide_dates(
    arrangement, one_date_per_block, monkeypatch
):
    # Dates wide enough (>= 512 rows) for the block-extremes path. Its
    # threshold (the k-th block extreme) must hold whatever the arrangement:
    # the extremes dealt into a few blocks, long runs of ties at the caps, and
    # dates with fewer non-NaN blocks than k + 1 (sorted whole instead). The
    # dates are worked on in blocks of rows: one date per block here too.
    if one_date_per_block:
        monkeypatch.setattr("skfactor.panel._order_stats.CACHE_CELLS", 1)
    rng = np.random.default_rng(11)
    n_dates, width = 6, 2000
    values = rng.standard_t(3, size=(n_dates, width))
    nan_fraction = 0.03
    if arrangement == "tails_in_few_blocks":
        # 256 interleaved blocks: positions 0, 256, 512, ... are block 0.
        ordered = np.sort(values, axis=1)
        block0 = np.arange(0, width, 256)
        block1 = np.arange(1, width, 256)
        rest = np.setdiff1d(np.arange(width), np.r_[block0, block1])
        values[:, block0] = ordered[:, : len(block0)]
        values[:, block1] = ordered[:, width - len(block1) :]
        values[:, rest] = ordered[:, len(block0) : width - len(block1)]
    elif arrangement == "ties_at_the_caps":
        values = np.round(values, 0)
    elif arrangement == "nan_heavy":
        nan_fraction = 0.9
    values[rng.random(values.shape) < nan_fraction] = np.nan
    codes = np.repeat(np.arange(n_dates), width)
    seg = Segments(codes, n_dates)
    col = values.reshape(-1)
    n = seg.count(col)
    low_k, high_k = (0.01 * n).astype(np.intp), (0.02 * n).astype(np.intp)
    lo, hi = order_statistics(seg, col, low_k, high_k, n)
    for d in range(n_dates):
        row = np.sort(values[d][~np.isnan(values[d])])
        assert lo[d] == row[low_k[d]]
        assert hi[d] == row[len(row) - 1 - high_k[d]]


def test_segments_tail_order_statistics_sort_dates_with_few_non_nan_blocks():
    # One date is wide but holds values in only 20 of its 256 interleaved
    # blocks: fewer non-NaN blocks than k + 1 = 30, so that date is sorted
    # whole; the others take the block-extremes path.
    rng = np.random.default_rng(5)
    width = 8192  # 32 values per block: date 1 keeps 640 >= 20 (k + 1) values
    values = rng.standard_normal((3, width))
    values[1, (np.arange(width) % 256) >= 20] = np.nan
    seg = Segments(np.repeat(np.arange(3), width), 3)
    k = np.array([29, 29, 29])
    lo, hi = order_statistics(seg, values.reshape(-1), k, k)
    for d in range(3):
        row = np.sort(values[d][~np.isnan(values[d])])
        assert lo[d] == row[29]
        assert hi[d] == row[len(row) - 30]


@pytest.mark.parametrize("rows", ["sorted", "shuffled"])
def test_transformers_equal_scipy_and_a_loop(panel, rows):
    from scipy.stats import mstats

    if rows == "shuffled":
        panel = shuffled(panel)
    Xw = Winsorizer(limits=0.05).fit_transform(panel)
    Z = CrossSectionalZScore().fit_transform(panel)
    for _, rows in panel.groupby(level=0):
        for col in panel.columns:
            values = rows[col].dropna()
            if len(values):
                expected = np.asarray(mstats.winsorize(values.to_numpy(), limits=0.05))
                np.testing.assert_array_equal(Xw.loc[values.index, col], expected)
                x = values.to_numpy()
                z = (x - x.mean()) / x.std() if x.std() > 0 else np.zeros_like(x)
                np.testing.assert_allclose(
                    Z.loc[values.index, col], z, rtol=1e-12, atol=1e-12
                )
