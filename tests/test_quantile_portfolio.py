from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalZScore, QuantilePortfolioFactor
from skfactor.panel._buckets import (
    _rank_buckets,
    _threshold_buckets,
    fraction_thresholds,
    rank_buckets,
)
from skfactor.panel._segments import Segments
from skfactor.portfolio import fama_french_factors
from tests.conftest import one_asset_date, shuffled

TOL = {"rtol": 1e-12, "atol": 1e-15}


# ------------------------------------------------------------------ data
def _lecture_panel(n_assets=4000, n_dates=30, seed=0):
    """A lecture-like universe: skewed market caps, book-to-price, daily returns.

    Market caps are lognormal (median $1.5bn, a few $500bn giants), drift with
    the returns; book-to-price is lognormal with a few negative book values;
    assets list late (unbalanced), some B/P and returns are missing, and the
    rows come shuffled.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2016-01-04", periods=n_dates, name="date")
    assets = pd.Index([f"S{i:04d}" for i in range(n_assets)], name="asset")
    ret = 0.0003 + 0.02 * rng.standard_t(4, size=(n_dates, n_assets)) / np.sqrt(2)
    cap = np.exp(rng.normal(np.log(1.5e9), 1.8, n_assets)) * np.cumprod(1 + ret, 0)
    btp = np.exp(rng.normal(np.log(0.6), 0.7, n_assets))
    btp = btp * np.exp(np.cumsum(0.01 * rng.standard_normal((n_dates, n_assets)), 0))
    btp[:, rng.random(n_assets) < 0.02] *= -1  # negative book equity
    index = pd.MultiIndex.from_product([dates, assets])
    X = pd.DataFrame(
        {"market_cap": cap.reshape(-1), "book_to_price": btp.reshape(-1)},
        index=index,
    )
    y = pd.Series(ret.reshape(-1), index=index, name="return")
    listed = rng.integers(-3 * n_dates, n_dates, n_assets)  # a quarter list late
    keep = np.tile(np.arange(n_dates)[:, None] >= listed[None, :], 1).reshape(-1)
    X, y = X[keep], y[keep]
    X.loc[rng.random(len(X)) < 0.03, "book_to_price"] = np.nan
    y = y.mask(rng.random(len(y)) < 0.01)
    order = rng.permutation(len(X))
    return X.iloc[order], y.iloc[order]


def _returns_for(X, seed=3, nan=0.05):
    rng = np.random.default_rng(seed)
    y = pd.Series(0.02 * rng.standard_normal(len(X)), index=X.index, name="return")
    return y.mask(rng.random(len(y)) < nan)


# ------------------------------------------------------ slow references
def _lecture_procedure(X, y, k=1000):
    """The lecture, in pandas: rank each day, top(k)/bottom(k), mean returns."""
    by_date = X.groupby(level=0)
    biggest = by_date["market_cap"].rank(ascending=False) <= k
    smallest = by_date["market_cap"].rank() <= k
    highpb = by_date["book_to_price"].rank(ascending=False) <= k
    lowpb = by_date["book_to_price"].rank() <= k
    mean = lambda leg: y[leg].groupby(level=0).mean()  # noqa: E731
    return pd.DataFrame(
        {
            "market_cap": mean(smallest) - mean(biggest),  # SMB
            "book_to_price": mean(highpb) - mean(lowpb),  # HML
        }
    )


def _reference(X, y, groups_of, n_groups, weights=None, long_high=None, min_n=1):
    """One date and one column at a time, with pandas' rank.

    ``groups_of(rank, pct, n)`` gives each asset's group (1 = lowest). Returns the
    weights (on X's index), the factor returns and the group returns. The
    ``weights`` column is no characteristic: passed through, no portfolio.
    """
    long_high = long_high or {}
    W = np.zeros(X.shape)
    dates = sorted(set(X.index.get_level_values(0)))
    values, returns = X.to_numpy(), y.to_numpy()
    features = [j for j, col in enumerate(X.columns) if col != weights]
    if weights is not None:
        W[:, X.columns.get_loc(weights)] = X[weights].to_numpy()
    F = np.full((len(dates), len(features)), np.nan)
    Q = np.full((len(dates), len(features), n_groups), np.nan)
    size = np.ones(len(X)) if weights is None else X[weights].to_numpy()
    rows_of = X.groupby(level=0).indices
    for d, date in enumerate(dates):
        for f, j in enumerate(features):
            col = X.columns[j]
            rows = rows_of[date]
            rows = rows[~np.isnan(values[rows, j]) & ~np.isnan(size[rows])]
            if len(rows) < min_n:  # e.g. top_n legs that would overlap
                continue
            day = pd.Series(values[rows, j])
            rank, pct = day.rank().to_numpy(), day.rank(pct=True).to_numpy()
            group = np.asarray(groups_of(rank, pct, len(rows)))
            top, bottom = rows[group == n_groups], rows[group == 1]
            if size[top].sum() <= 0 or size[bottom].sum() <= 0:
                continue
            sign = 1.0 if long_high.get(col, True) else -1.0
            W[top, j] = sign * size[top] / size[top].sum()
            W[bottom, j] = -sign * size[bottom] / size[bottom].sum()
            for g in range(1, n_groups + 1):
                members = rows[(group == g) & ~np.isnan(returns[rows])]
                if len(members):
                    Q[d, f, g - 1] = np.average(returns[members], weights=size[members])
            F[d, f] = sign * (Q[d, f, -1] - Q[d, f, 0])
    return W, F, Q.reshape(len(dates), -1)


def _quantile_groups(q):
    def groups(rank, p, n):
        g = 1 + sum((p > k / q).astype(int) for k in range(1, q - 1))
        return g + (p > 1 - 1 / q).astype(int)

    return groups


def _breakpoint_groups(cuts):
    def groups(rank, p, n):
        return 1 + sum((p > c).astype(int) for c in cuts)

    return groups


def _top_n_groups(k):
    def groups(rank, p, n):
        return 1 + (rank > k).astype(int) + (rank > n - k).astype(int)

    return groups


def _check_against_reference(model, X, y, groups_of, n_groups, **ref):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        W = model.fit_transform(X, y)
    W_ref, F_ref, Q_ref = _reference(X, y, groups_of, n_groups, **ref)
    assert W.index.equals(X.index) and W.columns.equals(X.columns)
    np.testing.assert_allclose(W.to_numpy(), W_ref, **TOL)
    np.testing.assert_allclose(model.factor_returns_.to_numpy(), F_ref, **TOL)
    np.testing.assert_allclose(model.quantile_returns_.to_numpy(), Q_ref, **TOL)


# ------------------------------------------------------- the lecture
def test_quantile_portfolio_equals_the_lecture_top_1000():
    X, y = _lecture_panel()
    model = QuantilePortfolioFactor(top_n=1000, long_high={"market_cap": False})
    model.fit(X, y)
    expected = _lecture_procedure(X, y)
    assert model.factor_returns_.index.equals(expected.index)
    assert list(model.factor_returns_.columns) == ["market_cap", "book_to_price"]
    np.testing.assert_allclose(
        model.factor_returns_.to_numpy(), expected.to_numpy(), rtol=1e-13, atol=1e-17
    )
    # The legs really are 1,000 assets each, every date.
    W = model.transform(X)
    per_date = (W > 0).groupby(level=0).sum()
    assert (per_date == 1000).all().all()


# ----------------------------------------------------- quantile rules
@pytest.mark.parametrize("q", [2, 3, 5, 7, 10])
def test_quantile_portfolio_quantiles_equal_rank_pct_reference(panel, q):
    y = _returns_for(panel)
    _check_against_reference(
        QuantilePortfolioFactor(n_quantiles=q), panel, y, _quantile_groups(q), q
    )


@pytest.mark.parametrize("cuts", [(0.3, 0.7), (0.5,), (0.1, 0.2, 0.9)])
def test_quantile_portfolio_breakpoints_equal_rank_pct_reference(panel, cuts):
    y = _returns_for(panel)
    model = QuantilePortfolioFactor(breakpoints=cuts)
    _check_against_reference(model, panel, y, _breakpoint_groups(cuts), len(cuts) + 1)


@pytest.mark.parametrize("k", [1, 10, 40])
def test_quantile_portfolio_top_n_equals_rank_reference(panel, k):
    y = _returns_for(panel)
    _check_against_reference(
        QuantilePortfolioFactor(top_n=k), panel, y, _top_n_groups(k), 3, min_n=2 * k
    )


def test_quantile_portfolio_value_weighting_equals_weighted_mean(panel):
    X = panel.assign(cap=np.exp(panel["size"].fillna(0.0)))
    X.loc[X.index[::17], "cap"] = np.nan
    y = _returns_for(X)
    model = QuantilePortfolioFactor(n_quantiles=3, weights="cap")
    _check_against_reference(model, X, y, _quantile_groups(3), 3, weights="cap")
    W = model.transform(X)
    assert (W.loc[X["cap"].isna()].drop(columns="cap") == 0).all().all()
    # The weights column is no characteristic: passed through, no portfolio.
    pd.testing.assert_series_equal(W["cap"], X["cap"])
    assert "cap" not in model.factor_returns_.columns


def test_quantile_portfolio_zero_weight_leg_is_nan(panel):
    X = panel.assign(cap=np.exp(panel["size"].fillna(0.0)))
    first = X.index.get_level_values(0) == X.index.get_level_values(0).min()
    X.loc[first, "cap"] = 0.0
    y = _returns_for(X)
    model = QuantilePortfolioFactor(weights="cap")
    with pytest.warns(UserWarning, match=r"^1 of 25 dates have too few assets"):
        W = model.fit_transform(X, y)
    assert model.factor_returns_.iloc[0].isna().all()
    assert model.factor_returns_.iloc[1:].notna().all().all()
    assert (W[first].drop(columns="cap") == 0).all().all()


def test_quantile_portfolio_fit_without_returns_only_checks(panel):
    model = QuantilePortfolioFactor().fit(panel)
    assert model.n_features_in_ == 3
    assert not hasattr(model, "factor_returns_")


def test_quantile_portfolio_ties_use_average_rank():
    rng = np.random.default_rng(5)
    idx = pd.MultiIndex.from_product([range(8), range(37)], names=["date", "asset"])
    X = pd.DataFrame(
        rng.integers(0, 5, (len(idx), 2)).astype(float), index=idx, columns=["a", "b"]
    )
    X.loc[X.index[::11], "a"] = np.nan
    X = shuffled(X, seed=2)
    y = _returns_for(X)
    cuts = (0.3, 0.7)
    for model, groups, n, min_n in [
        (QuantilePortfolioFactor(n_quantiles=4), _quantile_groups(4), 4, 1),
        (QuantilePortfolioFactor(breakpoints=cuts), _breakpoint_groups(cuts), 3, 1),
        (QuantilePortfolioFactor(top_n=9), _top_n_groups(9), 3, 18),
    ]:
        _check_against_reference(model, X, y, groups, n, min_n=min_n)


def test_quantile_portfolio_long_high_reverses_the_legs(panel):
    y = _returns_for(panel)
    up = QuantilePortfolioFactor().fit(panel, y)
    down = QuantilePortfolioFactor(long_high={"size": False}).fit(panel, y)
    pd.testing.assert_series_equal(
        down.factor_returns_["size"], -up.factor_returns_["size"]
    )
    pd.testing.assert_series_equal(
        down.factor_returns_["value"], up.factor_returns_["value"]
    )
    as_list = QuantilePortfolioFactor(long_high=[True, False, True]).fit(panel, y)
    pd.testing.assert_frame_equal(as_list.factor_returns_, down.factor_returns_)
    pd.testing.assert_frame_equal(
        QuantilePortfolioFactor(long_high=False).fit_transform(panel),
        -QuantilePortfolioFactor().fit_transform(panel),
    )


# --------------------------------------------- weights and returns agree
def test_quantile_portfolio_factor_returns_are_weights_times_returns(panel):
    rng = np.random.default_rng(0)
    y = pd.Series(rng.standard_normal(len(panel)), index=panel.index)
    model = QuantilePortfolioFactor(breakpoints=(0.3, 0.7))
    W = model.fit_transform(panel, y)
    expected = W.mul(y, axis=0).groupby(level=0).sum()
    pd.testing.assert_frame_equal(
        model.factor_returns_, expected, **TOL, check_names=False
    )
    # Each leg sums to +1 and -1; each date to 0.
    legs = W.where(W > 0).groupby(level=0).sum()
    np.testing.assert_allclose(legs.to_numpy(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(W.groupby(level=0).sum().to_numpy(), 0.0, atol=1e-15)
    # Top minus bottom group of quantile_returns_.
    top = model.quantile_returns_.xs(3, axis=1, level="quantile")
    bottom = model.quantile_returns_.xs(1, axis=1, level="quantile")
    np.testing.assert_allclose(
        (top - bottom).to_numpy(), model.factor_returns_.to_numpy(), **TOL
    )


def test_quantile_portfolio_n_jobs_gives_the_same_result(panel):
    # Characteristics on threads, each writing its own columns of the
    # weights and returns: any sharing between threads would show here.
    y = _returns_for(panel, nan=0.1)
    X = panel.assign(cap=panel["size"].abs())
    serial = QuantilePortfolioFactor(weights="cap")
    W = serial.fit_transform(X, y)
    threaded = QuantilePortfolioFactor(weights="cap", n_jobs=-1)
    pd.testing.assert_frame_equal(threaded.fit_transform(X, y), W, check_exact=True)
    for name in ("factor_returns_", "quantile_returns_"):
        pd.testing.assert_frame_equal(
            getattr(threaded, name), getattr(serial, name), check_exact=True
        )


def test_quantile_portfolio_nan_return_renormalises_its_leg(panel):
    y = _returns_for(panel, nan=0.2)
    model = QuantilePortfolioFactor(weights="size")
    X = panel.assign(size=panel["size"].abs())
    W = model.fit_transform(X, y).drop(columns="size")  # passed through
    # The weights of the members that have a return, scaled to +1/-1 per leg.
    Wr = W.where(y.notna(), 0.0)
    long = Wr.where(Wr > 0, 0.0)
    short = Wr.where(Wr < 0, 0.0)
    by_date = lambda a: a.groupby(level=0).transform("sum")  # noqa: E731
    renorm = long / by_date(long) - short / by_date(short)
    expected = renorm.mul(y, axis=0).groupby(level=0).sum()
    np.testing.assert_allclose(
        model.factor_returns_.to_numpy(), expected.to_numpy(), **TOL
    )


# -------------------------------------------------- panel properties
def test_quantile_portfolio_shuffled_rows_permute_the_output(panel):
    y = _returns_for(panel)
    model = QuantilePortfolioFactor(n_quantiles=4)
    W = model.fit_transform(panel, y)
    F = model.factor_returns_
    X2 = shuffled(panel, seed=9)
    W2 = clone(model).fit_transform(X2, y.loc[X2.index])
    pd.testing.assert_frame_equal(W2, W.loc[X2.index])
    pd.testing.assert_frame_equal(
        clone(model).fit(X2, y.loc[X2.index]).factor_returns_, F, **TOL
    )


def test_quantile_portfolio_does_not_mutate_inputs(panel):
    X, y = panel.copy(), _returns_for(panel)
    y0 = y.copy()
    QuantilePortfolioFactor(weights="size", long_high={"value": False}).fit_transform(
        X.abs(), y
    )
    QuantilePortfolioFactor().fit(X, y)
    pd.testing.assert_frame_equal(X, panel)
    pd.testing.assert_series_equal(y, y0)


def test_quantile_portfolio_numpy_is_one_cross_section(panel):
    day = panel.xs(panel.index[0][0], level="date")
    y = _returns_for(day)
    model = QuantilePortfolioFactor(top_n=5)
    W_np = model.fit_transform(day.to_numpy(), y.to_numpy())
    F_np = model.factor_returns_
    pandas_model = clone(model)
    W_pd = pandas_model.fit_transform(day, y)
    np.testing.assert_array_equal(W_np, W_pd.to_numpy())
    assert F_np.shape == (1, 3)
    assert list(F_np.columns) == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(
        F_np.to_numpy(), pandas_model.factor_returns_.to_numpy()
    )


def test_quantile_portfolio_single_asset_date_is_nan_with_one_warning(panel):
    X = one_asset_date(panel)
    y = _returns_for(X)
    model = QuantilePortfolioFactor()
    with pytest.warns(UserWarning, match=r"1 of 26 dates have too few assets") as rec:
        W = model.fit_transform(X, y)
    assert len(rec) == 1
    assert rec[0].filename == __file__  # points at the caller, not at skfactor
    assert model.factor_returns_.iloc[-1].isna().all()
    assert model.factor_returns_.iloc[:-1].notna().all().all()
    assert model.quantile_returns_.iloc[-1].isna().all()
    assert (W.iloc[-1] == 0).all()


def test_quantile_portfolio_overlapping_top_n_legs_warn(panel):
    y = _returns_for(panel)
    n_min = panel["value"].notna().groupby(level=0).sum().min()
    model = QuantilePortfolioFactor(top_n=int(n_min) // 2 + 1)
    with pytest.warns(
        UserWarning, match=r"dates have too few assets to form both legs"
    ):
        W = model.fit_transform(panel, y)
    short_dates = panel.notna().groupby(level=0).sum() < 2 * model.top_n
    assert short_dates.to_numpy().any()
    np.testing.assert_array_equal(
        model.factor_returns_.isna().to_numpy(), short_dates.to_numpy()
    )
    nonzero = (W != 0).groupby(level=0).sum().to_numpy()
    assert (nonzero[short_dates.to_numpy()] == 0).all()
    assert (nonzero[~short_dates.to_numpy()] == 2 * model.top_n).all()


def test_quantile_portfolio_all_tied_date_is_nan():
    idx = pd.MultiIndex.from_product([range(2), range(10)], names=["date", "asset"])
    X = pd.DataFrame({"a": np.r_[np.ones(10), np.arange(10.0)]}, index=idx)
    y = pd.Series(np.arange(20.0), index=idx)
    with pytest.warns(UserWarning, match=r"1 of 2 dates"):
        model = QuantilePortfolioFactor().fit(X, y)
    assert np.isnan(model.factor_returns_.iloc[0, 0])
    assert model.factor_returns_.iloc[1, 0] == 18.5 - 10.5  # ranks 9, 10 vs 1, 2


def test_quantile_portfolio_set_output_and_feature_names(panel):
    model = QuantilePortfolioFactor().set_output(transform="pandas")
    out = model.fit_transform(panel.to_numpy())
    assert isinstance(out, pd.DataFrame)
    assert list(model.fit(panel).get_feature_names_out()) == list(panel.columns)


def test_quantile_portfolio_series_in_series_out(panel):
    y = _returns_for(panel)
    model = QuantilePortfolioFactor(breakpoints=0.5)
    w = model.fit_transform(panel["value"], y)
    assert isinstance(w, pd.Series) and w.name == "value" and w.index.equals(y.index)
    full = QuantilePortfolioFactor(breakpoints=0.5).fit(panel, y)
    pd.testing.assert_series_equal(
        model.factor_returns_["value"], full.factor_returns_["value"]
    )


def test_quantile_portfolio_in_a_pipeline_after_zscore(panel):
    # Z-scoring is increasing on each date: the same ranks, the same portfolios.
    y = _returns_for(panel)
    pipe = make_pipeline(CrossSectionalZScore(), QuantilePortfolioFactor(top_n=7))
    pipe.fit(panel, y)
    alone = QuantilePortfolioFactor(top_n=7).fit(panel, y)
    pd.testing.assert_frame_equal(pipe[-1].factor_returns_, alone.factor_returns_)
    pd.testing.assert_frame_equal(pipe.transform(panel), alone.transform(panel))


# -------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "params, match",
    [
        ({"breakpoints": (0.3, 0.7), "top_n": 10}, "mutually exclusive"),
        ({"n_quantiles": 4, "top_n": 10}, r"`n_quantiles`=4 conflicts with `top_n`"),
        ({"n_quantiles": None}, "Give one of `n_quantiles`"),
        ({"breakpoints": (0.7, 0.3)}, "strictly increasing fractions"),
        ({"breakpoints": (0.0, 0.5)}, r"in \(0, 1\)"),
        ({"breakpoints": ()}, "strictly increasing"),
        ({"n_quantiles": 1}, "n_quantiles"),
        ({"top_n": 0}, "top_n"),
        ({"weights": "nope"}, r"`weights`='nope' is not a column of X"),
        ({"long_high": {"nope": False}}, r"`long_high`='nope' is not a column"),
        ({"long_high": [True, False]}, r"one bool per characteristic \(3\)"),
        ({"long_high": "yes"}, "`long_high` must be a bool"),
        ({"long_high": {"size": 1}}, r"got 1 for column 'size'"),
    ],
)
def test_quantile_portfolio_bad_parameters(panel, params, match):
    with pytest.raises(ValueError, match=match):
        QuantilePortfolioFactor(**params).fit_transform(panel)


def test_quantile_portfolio_bad_returns(panel):
    y = _returns_for(panel)
    model = QuantilePortfolioFactor()
    with pytest.raises(ValueError, match="`X` and `y` have different indexes"):
        model.fit(panel, y.sort_index())
    with pytest.raises(ValueError, match=r"one return per row of `X`"):
        model.fit(panel, y.to_numpy()[:-1])
    with pytest.raises(ValueError, match="`y` must be one column"):
        model.fit(panel, pd.DataFrame({"a": y, "b": y}))
    with pytest.raises(ValueError, match="`y` contains inf"):
        model.fit(panel, y.replace(y.iloc[0], np.inf))
    with pytest.raises(ValueError, match="`weights` column 'value' has negative"):
        QuantilePortfolioFactor(weights="value").fit(panel, y)


def test_quantile_portfolio_bad_panel(panel):
    dup = pd.concat([panel, panel.iloc[:1]])
    with pytest.raises(ValueError, match="duplicated"):
        QuantilePortfolioFactor().fit(dup)


# ---------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n_dates=st.integers(1, 4),
    n_assets=st.integers(1, 14),
    q=st.integers(2, 6),
)
def test_quantile_portfolio_row_order_invariance(data, n_dates, n_assets, q):
    values = data.draw(
        st.lists(
            st.sampled_from([np.nan, -1.0, 0.0, 0.5, 2.0, 3.0]),
            min_size=n_dates * n_assets * 2,
            max_size=n_dates * n_assets * 2,
        )
    )
    idx = pd.MultiIndex.from_product(
        [range(n_dates), range(n_assets)], names=["date", "asset"]
    )
    X = pd.DataFrame(np.reshape(values, (-1, 2)), index=idx, columns=["a", "b"])
    y = pd.Series(np.arange(len(X), dtype=float) / 7.0, index=idx)
    perm = data.draw(st.permutations(range(len(X))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = QuantilePortfolioFactor(n_quantiles=q)
        W = model.fit_transform(X, y)
        other = clone(model)
        W2 = other.fit_transform(X.iloc[perm], y.iloc[perm])
    pd.testing.assert_frame_equal(W2, W.iloc[perm])
    pd.testing.assert_frame_equal(other.factor_returns_, model.factor_returns_, **TOL)


# ------------------------------------------------------ the kernels
@pytest.mark.parametrize("layout", ["grid", "one_wide_date"])
@pytest.mark.parametrize("seed", range(4))
def test_quantile_portfolio_rank_buckets_equal_float_rank_pct(seed, layout):
    # "one_wide_date" makes the padded grid too wasteful: ranks by one sort.
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 60, 25)
    if layout == "one_wide_date":
        sizes[0] = 40 * sizes.sum()
    codes = rng.permutation(np.repeat(np.arange(25), sizes))
    values = rng.integers(0, 6, len(codes)).astype(float)
    values[rng.random(len(codes)) < 0.2] = np.nan
    seg = Segments(codes, 25)
    assert seg.grid_fits == (layout == "grid")
    col = seg.sort(values)
    cuts = [0.1, 0.25, 1 / 3, 0.5, 1 - 1 / 3, 0.7, 1 - 1 / 7]
    p = pd.Series(col).groupby(seg.segment_of_row).rank(pct=True).to_numpy()
    expected = np.where(np.isnan(col), -1, sum((p > c).astype(int) for c in cuts))
    thresholds = fraction_thresholds(seg.count(col), cuts)
    np.testing.assert_array_equal(rank_buckets(seg, col, thresholds), expected)
    # The order-statistic special path against ranking every value.
    n = seg.count(col)
    for R in (thresholds, np.vstack([np.full(25, 3), n - 3])):  # and top_n=3
        plain = _rank_buckets(seg, col, R)
        np.testing.assert_array_equal(_threshold_buckets(seg, col, R), plain)


# ------------------------------------------------ Fama-French 2 x 3
def _fama_french_reference(size, value, returns, cap):
    """Loop over dates: rank(pct=True) splits, value-weighted means, the averages."""
    rows = {}
    frame = pd.DataFrame({"s": size, "v": value, "r": returns, "w": cap})
    for date, day in frame.groupby(level=0):
        day = day.dropna(subset=["s", "v", "w"])
        ps, pv = day["s"].rank(pct=True), day["v"].rank(pct=True)
        small = ps <= 0.5
        value_group = np.where(pv <= 0.3, "L", np.where(pv > 0.7, "H", "M"))
        out = {}
        for sz, in_size in (("S", small), ("B", ~small)):
            for vg in "LMH":
                members = day[in_size & (value_group == vg) & day["r"].notna()]
                out[sz + vg] = (
                    np.average(members["r"], weights=members["w"])
                    if (len(members) and members["w"].sum() > 0)
                    else np.nan
                )
        rows[date] = out
    six = pd.DataFrame.from_dict(rows, orient="index")[
        ["SL", "SM", "SH", "BL", "BM", "BH"]
    ]
    smb = six[["SL", "SM", "SH"]].mean(axis=1, skipna=False) - six[
        ["BL", "BM", "BH"]
    ].mean(axis=1, skipna=False)
    hml = six[["SH", "BH"]].mean(axis=1, skipna=False) - six[["SL", "BL"]].mean(
        axis=1, skipna=False
    )
    return pd.DataFrame({"SMB": smb, "HML": hml}), six


def test_fama_french_factors_equal_a_loop():
    X, y = _lecture_panel(n_assets=1500, n_dates=12, seed=4)
    factors, six = fama_french_factors(
        X["market_cap"], X["book_to_price"], y, return_portfolios=True
    )
    ref_factors, ref_six = _fama_french_reference(
        X["market_cap"], X["book_to_price"], y, X["market_cap"]
    )
    np.testing.assert_allclose(six.to_numpy(), ref_six.to_numpy(), **TOL)
    np.testing.assert_allclose(factors.to_numpy(), ref_factors.to_numpy(), **TOL)
    assert factors.index.equals(ref_factors.index)


def test_fama_french_factors_separate_market_cap_and_ties():
    rng = np.random.default_rng(1)
    idx = pd.MultiIndex.from_product([range(5), range(60)], names=["date", "asset"])
    size = pd.Series(rng.integers(0, 8, len(idx)).astype(float), index=idx)
    value = pd.Series(rng.integers(0, 5, len(idx)).astype(float), index=idx)
    cap = pd.Series(rng.lognormal(5, 1, len(idx)), index=idx).mask(
        rng.random(len(idx)) < 0.1
    )
    ret = pd.Series(rng.normal(0, 0.02, len(idx)), index=idx)
    factors = fama_french_factors(size, value, ret, market_cap=cap)
    expected, _ = _fama_french_reference(size, value, ret, cap)
    np.testing.assert_allclose(factors.to_numpy(), expected.to_numpy(), **TOL)


def test_fama_french_factors_empty_portfolio_warns_once():
    X, y = _lecture_panel(n_assets=300, n_dates=4, seed=2)
    extra = pd.DataFrame(
        {"market_cap": [1e9], "book_to_price": [0.5]},
        index=pd.MultiIndex.from_tuples(
            [(pd.Timestamp("2030-01-01"), "Z")], names=X.index.names
        ),
    )
    X2 = pd.concat([X, extra])
    y2 = pd.concat([y, pd.Series([0.01], index=extra.index)])
    with pytest.warns(UserWarning, match=r"1 of 5 dates lack one of the six") as rec:
        factors = fama_french_factors(X2["market_cap"], X2["book_to_price"], y2)
    assert len(rec) == 1
    assert factors.iloc[-1].isna().all() and factors.iloc[:-1].notna().all().all()


def test_fama_french_factors_bad_inputs():
    X, y = _lecture_panel(n_assets=100, n_dates=3, seed=2)
    cap, btp = X["market_cap"], X["book_to_price"]
    with pytest.raises(ValueError, match="`size` and `returns` have different indexes"):
        fama_french_factors(cap, btp, y.sort_index())
    with pytest.raises(TypeError, match="`value` must be a pandas Series"):
        fama_french_factors(cap, btp.to_numpy(), y)
    with pytest.raises(ValueError, match="`market_cap` has negative values"):
        fama_french_factors(cap, btp, y, market_cap=np.log(cap) - 30)
    with pytest.raises(ValueError, match="`size_breakpoint` must be one fraction"):
        fama_french_factors(cap, btp, y, value_breakpoints=(0.5,))
    with pytest.raises(ValueError, match="strictly increasing fractions"):
        fama_french_factors(cap, btp, y, size_breakpoint=1.5)
    with pytest.raises(ValueError, match="MultiIndex"):
        fama_french_factors(cap.droplevel(0), btp, y)
