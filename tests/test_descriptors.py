"""The price and volume descriptors against slow loops written from their definitions.

Each reference below loops over assets and dates, straight from the
definition in the user guide's "Descriptors" (weights 0.5**(k/h) over the
panel's dates t - k, normalised over the values present; sums counting a
missing value as 0; ``min_periods`` values present, else NaN).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skfactor.descriptors import (
    Beta,
    CumulativeRange,
    Momentum,
    ShareTurnover,
    Size,
    Volatility,
)
from skfactor.descriptors._windows import window_counts, window_sums

RTOL, ATOL = 1e-10, 1e-12


# --------------------------------------------------------------------- data
def make_raw(n_assets=20, n_dates=250, seed=0, shuffle=True):
    """Raw fields on an unbalanced panel: holes, late listings, delistings, NaN."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates)
    assets = [f"A{i:02d}" for i in range(n_assets)]
    market = rng.normal(0.0004, 0.01, n_dates)
    beta = rng.uniform(0.5, 1.5, n_assets)
    r = market[:, None] * beta + rng.normal(0.0, 0.015, (n_dates, n_assets))
    cap = 1e9 * rng.lognormal(0.0, 1.0, n_assets) * np.exp(np.cumsum(np.log1p(r), 0))
    shares = rng.uniform(1e7, 1e8, n_assets) * np.exp(
        np.cumsum(rng.normal(0, 0.001, (n_dates, n_assets)), 0)
    )
    volume = shares * rng.lognormal(np.log(0.005), 0.5, (n_dates, n_assets))
    alive = np.ones((n_dates, n_assets), dtype=bool)
    for i in range(0, n_assets, 5):  # late listings
        alive[: rng.integers(n_dates // 4, 3 * n_dates // 4), i] = False
    for i in range(1, n_assets, 7):  # delistings
        alive[rng.integers(n_dates // 3, n_dates) :, i] = False
    alive &= rng.random((n_dates, n_assets)) > 0.05  # holes: no row
    r[rng.random(r.shape) < 0.03] = np.nan  # NaN cells
    volume[rng.random(r.shape) < 0.03] = np.nan
    d, a = np.nonzero(alive)
    index = pd.MultiIndex.from_arrays(
        [dates[d], np.asarray(assets)[a]], names=["date", "asset"]
    )
    X = pd.DataFrame(
        {
            "returns": r[d, a],
            "cap": cap[d, a],
            "volume": volume[d, a],
            "shares": shares[d, a],
            "rf": rng.uniform(0.0, 2e-4, n_dates)[d],
        },
        index=index,
    )
    if shuffle:
        X = X.iloc[rng.permutation(len(X))]
    return X


def wide(X, column):
    """``X[column]`` as (dates x assets), NaN where a row is missing."""
    w = X[column].unstack("asset").sort_index()
    return w.reindex(columns=sorted(w.columns))


def on_rows(values, like, X):
    """A (dates x assets) array, labelled as ``like``, read on ``X``'s rows."""
    frame = pd.DataFrame(values, index=like.index, columns=like.columns)
    return frame.stack(future_stack=True).reindex(X.index).to_numpy()


def weights(window, halflife):
    k = np.arange(window)
    return np.ones(window) if halflife is None else 0.5 ** (k / halflife)


def need(window, min_periods):
    return math.ceil(window / 2) if min_periods is None else min_periods


# --------------------------------------------------------------- slow loops
def slow_momentum(R, rf, window, halflife, lag, min_periods=None):
    x = np.log1p(R) - np.log1p(rf)[:, None]
    w = weights(window, halflife)
    out = np.full(R.shape, np.nan)
    for i in range(R.shape[1]):
        for t in range(R.shape[0]):
            k = np.arange(window)
            k = k[t - lag - k >= 0]
            vals = x[t - lag - k, i]
            ok = ~np.isnan(vals)
            if ok.sum() >= need(window, min_periods):
                out[t, i] = np.dot(w[k][ok], vals[ok]) / w[k][ok].sum()
    return out


def slow_volatility(R, rf, window, halflife, min_periods=None, demean=True):
    x = R - rf[:, None]
    w = weights(window, halflife)
    out = np.full(R.shape, np.nan)
    for i in range(R.shape[1]):
        for t in range(R.shape[0]):
            ks = [k for k in range(window) if t - k >= 0 and not np.isnan(x[t - k, i])]
            if len(ks) < need(window, min_periods):
                continue
            v = np.array([x[t - k, i] for k in ks])
            wk = w[ks] / w[ks].sum()
            mean = np.dot(wk, v) if demean else 0.0
            out[t, i] = np.sqrt(np.dot(wk, (v - mean) ** 2))
    return out


def slow_market(R, C):
    """Mean of each date's returns weighted by the previous date's caps."""
    m = np.full(R.shape[0], np.nan)
    for t in range(1, R.shape[0]):
        num = den = 0.0
        for i in range(R.shape[1]):
            if not np.isnan(R[t, i]) and not np.isnan(C[t - 1, i]):
                num += C[t - 1, i] * R[t, i]
                den += C[t - 1, i]
        if den > 0:
            m[t] = num / den
    return m


def slow_beta(R, m, rf, window, halflife, min_periods=None):
    w = weights(window, halflife)
    beta = np.full(R.shape, np.nan)
    hsigma = np.full(R.shape, np.nan)
    for i in range(R.shape[1]):
        for t in range(R.shape[0]):
            ks = [
                k
                for k in range(window)
                if t - k >= 0 and not np.isnan(R[t - k, i]) and not np.isnan(m[t - k])
            ]
            if len(ks) < need(window, min_periods):
                continue
            s = t - np.array(ks)
            y = R[s, i] - rf[s]
            Xr = np.column_stack([np.ones(len(s)), m[s] - rf[s]])
            sw = np.sqrt(w[ks])
            coef = np.linalg.lstsq(Xr * sw[:, None], y * sw, rcond=None)[0]
            e = y - Xr @ coef
            beta[t, i] = coef[1]
            hsigma[t, i] = np.sqrt(np.dot(w[ks], e**2) / w[ks].sum())
    return beta, hsigma


def slow_cmra(R, rf, month, months, min_periods=None):
    x = np.log1p(R) - np.log1p(rf)[:, None]
    out = np.full(R.shape, np.nan)
    for i in range(R.shape[1]):
        for t in range(R.shape[0]):
            span = [x[s, i] for s in range(max(t - month * months + 1, 0), t + 1)]
            if np.sum(~np.isnan(span)) < need(month * months, min_periods):
                continue
            z = [
                np.nansum(x[max(t - month * T + 1, 0) : t + 1, i])
                for T in range(1, months + 1)
            ]
            out[t, i] = max(z) - min(z)
    return out


def slow_turnover(V, S, month, min_periods=None):
    tau = V / S

    def monthly(t, i):  # the month's sum, or NaN with too few turnovers
        if t < 0:
            return np.nan
        vals = [tau[s, i] for s in range(max(t - month + 1, 0), t + 1)]
        vals = [v for v in vals if not np.isnan(v)]
        return sum(vals) if len(vals) >= need(month, min_periods) else np.nan

    out = np.full((3, *V.shape), np.nan)
    for i in range(V.shape[1]):
        for t in range(V.shape[0]):
            m = monthly(t, i)
            out[0, t, i] = np.log(m) if m > 0 else np.nan
            for row, (n, needed) in ((1, (3, 2)), (2, (12, 6))):
                ms = [monthly(t - month * j, i) for j in range(n)]
                ms = [v for v in ms if not np.isnan(v)]
                if len(ms) >= needed and np.mean(ms) > 0:
                    out[row, t, i] = np.log(np.mean(ms))
    return out


# ---------------------------------------------------------- against loops
@pytest.fixture(scope="module")
def raw():
    return make_raw()


@pytest.fixture(scope="module")
def grids(raw):
    R = wide(raw, "returns")
    rf = raw["rf"].groupby(level="date").first().reindex(R.index).to_numpy()
    return R, rf


def _compare(actual, expected):
    actual = np.asarray(actual, dtype=float)
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    assert np.isfinite(actual).sum() > 100  # the comparison has teeth
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def test_size_is_log_cap(raw):
    out = Size().fit_transform(raw)
    assert list(out.columns) == ["lncap"] and out.index.equals(raw.index)
    np.testing.assert_array_equal(out["lncap"].to_numpy(), np.log(raw["cap"]))


@pytest.mark.parametrize(
    "window, halflife, lag, min_periods",
    [(60, 20, 5, None), (40, None, 0, 3), (25, 7.5, 11, 25)],
)
def test_momentum_equals_slow_loop(raw, grids, window, halflife, lag, min_periods):
    R, rf = grids
    step = Momentum(
        window=window,
        halflife=halflife,
        lag=lag,
        min_periods=min_periods,
        risk_free="rf",
    )
    expected = slow_momentum(R.to_numpy(), rf, window, halflife, lag, min_periods)
    _compare(step.fit_transform(raw)["rstr"], on_rows(expected, R, raw))


@pytest.mark.parametrize(
    "window, halflife, demean", [(40, 8, True), (33, None, True), (40, 8, False)]
)
def test_volatility_equals_slow_loop(raw, grids, window, halflife, demean):
    R, rf = grids
    step = Volatility(window=window, halflife=halflife, demean=demean, risk_free="rf")
    expected = slow_volatility(R.to_numpy(), rf, window, halflife, demean=demean)
    _compare(step.fit_transform(raw)["dastd"], on_rows(expected, R, raw))


@pytest.mark.parametrize("window, halflife", [(40, 10), (30, None)])
def test_beta_equals_slow_loop_cap_weighted_market(raw, grids, window, halflife):
    R, rf = grids
    C = wide(raw, "cap").to_numpy()
    m = slow_market(R.to_numpy(), C)
    beta, hsigma = slow_beta(R.to_numpy(), m, rf, window, halflife)
    out = Beta(window=window, halflife=halflife, risk_free="rf").fit_transform(raw)
    assert list(out.columns) == ["beta", "hsigma"]
    _compare(out["beta"], on_rows(beta, R, raw))
    _compare(out["hsigma"], on_rows(hsigma, R, raw))


def test_beta_equals_slow_loop_given_market_and_risk_free_series(raw, grids):
    R, rf = grids
    rng = np.random.default_rng(1)
    market = pd.Series(rng.normal(0, 0.01, len(R)), index=R.index)
    market.iloc[[3, 50, 51]] = np.nan  # dates without a market return
    risk_free = pd.Series(rf, index=R.index)
    beta, hsigma = slow_beta(R.to_numpy(), market.to_numpy(), rf, 40, 10, 15)
    step = Beta(market=market, window=40, halflife=10, min_periods=15)
    out = step.set_params(risk_free=risk_free).fit_transform(raw.drop(columns="cap"))
    _compare(out["beta"], on_rows(beta, R, raw))
    _compare(out["hsigma"], on_rows(hsigma, R, raw))


@pytest.mark.parametrize("month, months, min_periods", [(5, 6, None), (3, 4, 2)])
def test_cumulative_range_equals_slow_loop(raw, grids, month, months, min_periods):
    R, rf = grids
    step = CumulativeRange(
        month_length=month, n_months=months, min_periods=min_periods, risk_free="rf"
    )
    expected = slow_cmra(R.to_numpy(), rf, month, months, min_periods)
    _compare(step.fit_transform(raw)["cmra"], on_rows(expected, R, raw))


@pytest.mark.parametrize("month, min_periods", [(5, None), (4, 4)])
def test_share_turnover_equals_slow_loop(raw, month, min_periods):
    V, S = wide(raw, "volume"), wide(raw, "shares")
    expected = slow_turnover(V.to_numpy(), S.to_numpy(), month, min_periods)
    out = ShareTurnover(month_length=month, min_periods=min_periods).fit_transform(raw)
    assert list(out.columns) == ["stom", "stoq", "stoa"]
    for j, name in enumerate(out.columns):
        _compare(out[name], on_rows(expected[j], V, raw))


def test_momentum_risk_free_series_equals_column(raw, grids):
    _, rf = grids
    dates = raw.index.get_level_values("date").unique().sort_values()
    step = Momentum(window=30, halflife=10, lag=2)
    by_column = step.set_params(risk_free="rf").fit_transform(raw)
    by_series = step.set_params(risk_free=pd.Series(rf, index=dates))
    pd.testing.assert_frame_equal(by_series.fit_transform(raw), by_column)


def test_window_sums_long_history_keeps_digits():
    # A window of a series that drifted far from 0: a differenced running
    # total would lose the window's digits to the total.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 2))
    x[:4000] += 1e8
    for decay in (1.0, 0.9):
        s = window_sums(x, 21, decay)
        w = decay ** np.arange(21)
        expected = [w @ x[t - 20 : t + 1][::-1] for t in range(4100, 5000)]
        np.testing.assert_allclose(s[4100:], expected, rtol=1e-13, atol=1e-12)


def test_window_counts_equal_slow_count_on_long_history():
    # The differenced running count is exact: integers, whatever the history.
    rng = np.random.default_rng(3)
    present = rng.random((6000, 3)) < 0.9
    present[:, 2] = False  # an all-missing series
    for window in (1, 21, 252, 7000):
        expected = [present[max(0, t - window + 1) : t + 1].sum(0) for t in range(6000)]
        np.testing.assert_array_equal(window_counts(present, window), expected)


def test_descriptors_all_nan_asset_and_window_longer_than_history(raw):
    # An asset with no return at all gets NaN; a window longer than the
    # history equals the slow loop over the dates there are.
    X = raw.copy()
    X.loc[X.index.get_level_values("asset") == "A03", "returns"] = np.nan
    R = wide(X, "returns")
    rf = X["rf"].groupby(level="date").first().reindex(R.index).to_numpy()
    window = 2 * len(R)
    momentum = Momentum(
        window=window, halflife=30, lag=3, min_periods=20, risk_free="rf"
    )
    expected = slow_momentum(R.to_numpy(), rf, window, 30, 3, 20)
    _compare(momentum.fit_transform(X)["rstr"], on_rows(expected, R, X))
    volatility = Volatility(window=window, halflife=30, min_periods=20, risk_free="rf")
    expected = slow_volatility(R.to_numpy(), rf, window, 30, 20)
    _compare(volatility.fit_transform(X)["dastd"], on_rows(expected, R, X))
    beta = Beta(window=window, halflife=30, min_periods=20, risk_free="rf")
    expected, _ = slow_beta(
        R.to_numpy(),
        slow_market(R.to_numpy(), wide(X, "cap").to_numpy()),
        rf,
        window,
        30,
        20,
    )
    _compare(beta.fit_transform(X)["beta"], on_rows(expected, R, X))
    assert np.isnan(expected[:, list(R.columns).index("A03")]).all()


# ------------------------------------------------------------ no look-ahead
SMALL = [
    Size(),
    Beta(window=12, halflife=4, risk_free="rf"),
    Momentum(window=10, halflife=3, lag=2, risk_free="rf"),
    Volatility(window=12, halflife=4, risk_free="rf"),
    CumulativeRange(month_length=3, n_months=4, risk_free="rf"),
    ShareTurnover(month_length=3),
]


@pytest.mark.parametrize("step", SMALL, ids=lambda s: type(s).__name__)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), cut=st.floats(0.2, 0.9), drop=st.booleans())
def test_descriptors_no_look_ahead(step, seed, cut, drop):
    # Changing any data after t (values, rows, new assets) changes nothing at
    # or before t.
    X = make_raw(n_assets=8, n_dates=40, seed=seed % 1000)
    dates = X.index.get_level_values("date")
    t = dates.unique().sort_values()[int(cut * 39)]
    later = dates > t
    rng = np.random.default_rng(seed)
    changed = X.copy()
    fields = ["returns", "cap", "volume", "shares", "rf"]
    changed.loc[later, fields] = changed.loc[later, fields].to_numpy() * rng.uniform(
        0.5, 1.5, (later.sum(), 5)
    )
    if drop:  # drop some later rows, add a new asset after t
        changed = changed[~(later & (rng.random(len(X)) < 0.3))]
        extra_dates = changed.index.get_level_values("date")
        extra = changed[(extra_dates > t) & ~extra_dates.duplicated()].iloc[:3]
        extra.index = pd.MultiIndex.from_arrays(
            [extra.index.get_level_values("date"), ["NEW"] * len(extra)],
            names=["date", "asset"],
        )
        changed = pd.concat([changed, extra])
    before = clone(step).fit_transform(X)[dates <= t]
    after = clone(step).fit_transform(changed)
    after = after[after.index.get_level_values("date") <= t].reindex(before.index)
    pd.testing.assert_frame_equal(after, before, check_exact=True)


# ------------------------------------------------------------------ skfolio
def _skfolio_panel(n_dates=600, n_assets=6, seed=0):
    from skfolio.containers import AssetPanel

    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates)
    names = np.array([f"A{i}" for i in range(n_assets)])
    m = rng.normal(0.0004, 0.01, n_dates)
    R = m[:, None] * rng.uniform(0.5, 1.5, n_assets) + rng.normal(
        0, 0.015, (n_dates, n_assets)
    )
    C = 1e9 * np.exp(rng.normal(size=(n_dates, n_assets)))
    panel = AssetPanel(
        fields={"returns": R.copy(), "market_cap": C.copy()},
        observations=dates.values,
        asset_names=names,
    )
    index = pd.MultiIndex.from_product([dates, names], names=["date", "asset"])
    X = pd.DataFrame({"returns": R.reshape(-1), "cap": C.reshape(-1)}, index=index)
    return panel, X, R, C, dates


def _wide_of(column):
    return column.unstack("asset").to_numpy()


def test_size_equals_skfolio_log_market_cap():
    from skfolio.descriptor import LogMarketCap

    panel, X, *_ = _skfolio_panel()
    expected = LogMarketCap().fit_transform(panel)
    np.testing.assert_array_equal(_wide_of(Size().fit_transform(X)["lncap"]), expected)


def test_volatility_equals_skfolio_ew_volatility():
    # skfolio's EWVolatility is the root of the bias-corrected EWMA of squared
    # returns over the whole history: dastd about 0 with a window >= the history.
    from skfolio.descriptor import EWVolatility

    panel, X, *_ = _skfolio_panel()
    expected = EWVolatility(half_life=10, min_periods=5).fit_transform(panel)
    step = Volatility(window=len(panel.observations), halflife=10, min_periods=5)
    actual = _wide_of(step.set_params(demean=False).fit_transform(X)["dastd"])
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_momentum_equals_skfolio_ew_momentum():
    # skfolio's EWMomentum is the zero-started EWMA of the lagged log returns:
    # rstr (window >= the history, lag = skip) times the weights' total
    # 1 - decay**n after n lagged returns, which tends to 1.
    from skfolio.descriptor import EWMomentum

    panel, X, *_ = _skfolio_panel()
    n_dates, h, skip = len(panel.observations), 10, 5
    expected = EWMomentum(half_life=h, skip=skip, min_periods=5).fit_transform(panel)
    step = Momentum(window=n_dates, halflife=h, lag=skip, min_periods=5)
    rstr = _wide_of(step.fit_transform(X)["rstr"])
    n = np.maximum(np.arange(1, n_dates + 1) - skip, 0)
    total = 1 - 0.5 ** (n / h)
    np.testing.assert_allclose(rstr * total[:, None], expected, rtol=1e-12, atol=1e-15)
    late = slice(40 * h, None)  # past 40 half-lives the total is 1 to 1e-12
    np.testing.assert_allclose(rstr[late], expected[late], rtol=1e-10)


def test_beta_equals_skfolio_ew_market_beta():
    # skfolio's EWMarketBeta: the EWMA covariance over the EWMA variance of its
    # market (weighted by same-date caps), started at zero. Given that market
    # and a window >= the history, beta is the same regression slope once the
    # zero start has decayed (40 half-lives: to 1e-12).
    from skfolio.descriptor import EWMarketBeta
    from skfolio.utils.stats import _market_returns

    panel, X, R, C, dates = _skfolio_panel()
    h = 10
    expected = EWMarketBeta(half_life=h, min_periods=5, eps=1e-300).fit_transform(panel)
    market = pd.Series(_market_returns(R, C), index=dates)
    step = Beta(market=market, window=len(dates), halflife=h, min_periods=5)
    beta = _wide_of(step.fit_transform(X)["beta"])
    late = slice(40 * h, None)
    np.testing.assert_allclose(beta[late], expected[late], rtol=1e-10)


# ------------------------------------------------------------------ S&P 500
@pytest.fixture(scope="module")
def sp500():
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()
    returns = prices.pct_change().iloc[1:]
    X = returns.rename_axis(index="date", columns="asset").stack().to_frame("returns")
    market = returns.mean(axis=1).rename_axis("date")
    return X, returns, market


def test_descriptors_run_on_sp500_prices(sp500):
    X, returns, market = sp500
    steps = [Beta(market=market), Momentum(), Volatility(), CumulativeRange()]
    out = pd.concat([step.fit_transform(X) for step in steps], axis=1)
    assert out.index.equals(X.index)
    warm = X.index.get_level_values("date") > returns.index[525]  # 504 + 21
    assert np.isfinite(out[warm].to_numpy()).all()
    assert out.notna().mean().min() > 0.9


def test_descriptors_sp500_equal_slow_loop(sp500):
    _, returns, market = sp500
    part = returns.iloc[-600:, :2]
    X = part.rename_axis(index="date", columns="asset").stack().to_frame("returns")
    R, rf, m = part.to_numpy(), np.zeros(len(part)), market.iloc[-600:].to_numpy()
    out = Beta(market=market.iloc[-600:]).fit_transform(X)
    beta, hsigma = slow_beta(R, m, rf, 252, 63)
    _compare(out["beta"], on_rows(beta, part, X))
    _compare(out["hsigma"], on_rows(hsigma, part, X))
    expected = slow_momentum(R, rf, 504, 126, 21)
    _compare(Momentum().fit_transform(X)["rstr"], on_rows(expected, part, X))
    expected = slow_volatility(R, rf, 252, 42)
    _compare(Volatility().fit_transform(X)["dastd"], on_rows(expected, part, X))
    expected = slow_cmra(R, rf, 21, 12)
    _compare(CumulativeRange().fit_transform(X)["cmra"], on_rows(expected, part, X))


# ------------------------------------------------------------ common checks
ALL = [Size(), Beta(), Momentum(), Volatility(), CumulativeRange(), ShareTurnover()]
IDS = [type(s).__name__ for s in ALL]


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_set_output_polars(raw, step):
    pl = pytest.importorskip("polars")
    step = clone(step).set_params(**_small(step))
    expected = step.fit_transform(raw)
    frame = pl.from_pandas(raw.reset_index())
    out = step.fit_transform(frame)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["date", "asset", *expected.columns]
    np.testing.assert_array_equal(out.select(expected.columns).to_numpy(), expected)
    out = clone(step).set_output(transform="polars").fit_transform(raw)
    np.testing.assert_array_equal(out.select(expected.columns).to_numpy(), expected)


def _small(step):
    params = step.get_params()
    small = {"window": 20, "month_length": 3}
    return {k: v for k, v in small.items() if k in params}


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_missing_column_named(raw, step):
    column = next(iter(step._fields().items()))
    with pytest.raises(ValueError, match=rf"`{column[0]}`='{column[1]}' is not a col"):
        step.fit_transform(raw.drop(columns=column[1]))


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_refuse_non_panel(raw, step):
    with pytest.raises(TypeError, match="needs a long \\(date, asset\\) panel"):
        step.fit_transform(raw.to_numpy())
    with pytest.raises(TypeError, match="needs a long \\(date, asset\\) panel"):
        step.fit_transform(raw.reset_index(drop=True))


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_clone_pickle_not_mutated_any_order(raw, step):
    step = clone(step).set_params(**_small(step))
    copy = raw.copy(deep=True)
    out = step.fit_transform(raw)
    pd.testing.assert_frame_equal(raw, copy)
    assert out.index.equals(raw.index)
    ordered = step.fit_transform(raw.sort_index())
    pd.testing.assert_frame_equal(ordered.reindex(raw.index), out)
    again = pickle.loads(pickle.dumps(step)).transform(raw)
    pd.testing.assert_frame_equal(again, out)
    names = step.get_feature_names_out()
    assert list(names) == list(out.columns)


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_transform_stores_nothing(raw, step):
    # Which cut column holds which field comes from the parameters, not from
    # state set during the call: ``transform`` leaves the estimator as it
    # was, so threads may share one (an attribute written per call would not).
    step = clone(step).set_params(**_small(step))
    fitted = step.fit(raw)
    before = dict(vars(fitted))
    fitted.transform(raw[raw.columns[::-1]])
    assert vars(fitted).keys() == before.keys()
    fresh = clone(step)
    before = dict(vars(fresh))
    fresh.transform(raw)
    assert vars(fresh).keys() == before.keys()


def test_book_to_price_refuses_two_names_for_one_column(raw):
    from skfactor.descriptors import BookToPrice

    X = raw[["cap"]].assign(book=raw["cap"] / 2)
    same = BookToPrice(book="book", cap="cap").fit_transform(X)
    np.testing.assert_allclose(same["btop"], 0.5)
    # A name and a position for one column: which spec wins is not obvious.
    with pytest.raises(ValueError, match="`cap`=0 and `book`='cap' name the same"):
        BookToPrice(book="cap", cap=0).fit_transform(X)


@pytest.mark.parametrize(
    "step, match",
    [
        (Momentum(window=0), "The 'window' parameter of Momentum must be"),
        (Momentum(halflife=-1.0), "The 'halflife' parameter of Momentum must be"),
        (Momentum(lag=-1), "The 'lag' parameter of Momentum must be"),
        (Volatility(window=10, min_periods=11), "`min_periods` must be at most"),
        (Beta(market=[0.1]), "The 'market' parameter of Beta must be"),
        (CumulativeRange(n_months=0), "The 'n_months' parameter"),
        (ShareTurnover(month_length=5, min_periods=6), "at most `month_length`"),
        (Size(cap=3), "The 'cap' parameter of Size must be"),
    ],
)
def test_descriptors_invalid_parameters(raw, step, match):
    with pytest.raises(ValueError, match=match):
        step.fit_transform(raw)


def test_descriptors_invalid_values(raw):
    bad = raw.assign(returns=raw["returns"].where(raw["returns"] > 0, -1.0))
    with pytest.raises(ValueError, match="`returns` has values <= -1"):
        Momentum().fit_transform(bad)
    with pytest.raises(ValueError, match="`cap` column 'cap' has values below 0"):
        Size().fit_transform(raw.assign(cap=0.0))
    with pytest.raises(ValueError, match="`shares` column 'shares'"):
        ShareTurnover().fit_transform(raw.assign(shares=-1.0))
    dates = raw.index.get_level_values("date").unique()
    short = pd.Series(0.0, index=dates.sort_values()[1:])
    with pytest.raises(ValueError, match="`risk_free` has no value for 1 of"):
        Momentum(risk_free=short).fit_transform(raw)
    with pytest.raises(ValueError, match="`market` has no value for 1 of"):
        Beta(market=short).fit_transform(raw)


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_scikit_learn_api(step):
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    name = type(step).__name__
    check_no_attributes_set_in_init(name, step)
    check_parameters_default_constructible(name, step)
    check_get_params_invariance(name, step)
    check_set_params(name, step)
    assert step.__sklearn_tags__().input_tags.allow_nan


@pytest.mark.parametrize("step", ALL, ids=IDS)
def test_descriptors_public_signatures_typed(step):
    import inspect
    import typing

    for method in ("__init__", "fit", "transform", "fit_transform"):
        func = getattr(type(step), method)
        hints = typing.get_type_hints(func)
        params = inspect.signature(func).parameters
        assert set(params) - {"self"} <= set(hints), (method, params)
        assert "return" in hints


@pytest.mark.parametrize("padding", [2, 0], ids=["whole_grid", "sorted_blocks"])
def test_descriptors_blocks_of_assets_agree(raw, monkeypatch, padding):
    # Many small asset blocks (one asset each), on the whole grid or with the
    # rows sorted into blocks (a sparse panel's path), give what one block gives.
    import skfactor.descriptors._base as base

    steps = [s.set_params(**_small(s)) for s in map(clone, ALL)]
    expected = [s.fit_transform(raw) for s in steps]
    monkeypatch.setattr(base, "_BLOCK_CELLS", 1)
    monkeypatch.setattr(base, "_MAX_PADDING", padding)
    for step, frame in zip(steps, expected, strict=True):
        pd.testing.assert_frame_equal(step.fit_transform(raw), frame, rtol=1e-13)


@pytest.mark.filterwarnings("ignore:.*dates could not be estimated")
def test_descriptors_in_a_grid_search_by_date_equal_a_refit(raw):
    # The seam: a descriptor feeding a cross-sectional model inside GridSearchCV
    # split by date (the cap column is not read), its best parameters refit
    # equal to the same pipeline fitted by hand.
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skfactor import CrossSectionalFactorModel
    from skfactor.model_selection import PanelTimeSeriesSplit

    X = raw[["returns", "cap"]]
    y = X["returns"].groupby(level="asset").shift(-1).fillna(0.0)
    pipe = make_pipeline(Momentum(window=40, lag=2), CrossSectionalFactorModel())
    grid = GridSearchCV(
        pipe,
        {"momentum__halflife": [5, 20]},
        cv=PanelTimeSeriesSplit(n_splits=3),
        error_score="raise",
    ).fit(X, y)
    best = make_pipeline(
        Momentum(window=40, lag=2, halflife=grid.best_params_["momentum__halflife"]),
        CrossSectionalFactorModel(),
    ).fit(X, y)
    pd.testing.assert_frame_equal(
        grid.best_estimator_[-1].factor_returns_, best[-1].factor_returns_
    )
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


# ------------------------------------------- the chunked scan (WindowScan)
def _scan(x, window, decays, chunk):
    """WindowScan's sums of the terms ``x`` (n_dates, n_terms, n_assets)."""
    from skfactor.descriptors._windows import WindowScan

    scan = WindowScan(window, decays, len(x), chunk)
    out = np.empty_like(x)
    for first, stop in scan.chunks():
        out[first:stop] = scan.unscale(scan.step(x[first:stop].copy(), first))
    return out


@pytest.mark.parametrize("window", [1, 21, 250, 5000, 9000])
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_window_scan_equals_slow_sums_and_keeps_digits(window, chunk):
    # A series that drifted far from 0, then came back: today's windows keep
    # their digits (the running sums restart every `window` dates and the
    # state carried across chunks fades), for a decay, none and a count.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 3, 2))
    x[:4000] += 1e8
    x[:, 2] = rng.random((5000, 2)) < 0.9  # 0/1 terms: a count
    decays = [0.9, 1.0, 1.0]
    got = _scan(x, window, decays, chunk)
    for j, decay in enumerate(decays):
        w = decay ** np.arange(window)
        for t in range(4100, 5000, 37):
            past = x[max(0, t - window + 1) : t + 1, j][::-1]
            expected = w[: len(past)] @ past
            np.testing.assert_allclose(got[t, j], expected, rtol=1e-13, atol=1e-12)
    counts = [x[max(0, t - window + 1) : t + 1, 2].sum(0) for t in range(5000)]
    np.testing.assert_array_equal(got[:, 2], counts)  # integers: exact


@pytest.mark.parametrize("chunk_bytes", [1, 2**12, 2**30], ids=["one", "few", "all"])
def test_descriptors_chunks_of_dates_agree(raw, monkeypatch, chunk_bytes):
    # One date a chunk, a few, or the whole history in one (blocks of the
    # window cut it): the same numbers, for lags across chunks too.
    import skfactor.descriptors._base as base

    steps = [
        Momentum(window=30, halflife=10, lag=7),
        Momentum(window=500, halflife=None, lag=0),
        Volatility(window=25, halflife=8),
        Beta(window=40, halflife=15, risk_free="rf"),
    ]
    expected = [s.fit_transform(raw) for s in steps]
    monkeypatch.setattr(base, "_CHUNK_BYTES", chunk_bytes)
    for step, frame in zip(steps, expected, strict=True):
        pd.testing.assert_frame_equal(step.fit_transform(raw), frame, rtol=1e-13)


@pytest.mark.parametrize("step", [Momentum(), Volatility(), Beta()], ids=str)
def test_descriptors_duplicated_pair_found_without_hashing_the_index(
    raw, monkeypatch, step
):
    # The kernel finds a (date, asset) pair given twice as it puts the rows
    # on the grid, with the validator's message, in fit, fit_transform and
    # transform; the index is not hashed for it (MultiIndex.is_unique).
    step = clone(step).set_params(**_small(step))
    twice = pd.concat([raw, raw.iloc[[5]]])

    def hashed(self):
        raise AssertionError("MultiIndex.is_unique was called")

    monkeypatch.setattr(pd.MultiIndex, "is_unique", property(hashed))
    step.fit_transform(raw)
    fitted = clone(step).fit(raw)
    for call in (step.fit, step.fit_transform, fitted.transform):
        with pytest.raises(ValueError, match=r"duplicated \(date, asset\) rows, e\.g"):
            call(twice)


@pytest.mark.parametrize("step", [Momentum(), Volatility(), Beta()], ids=str)
def test_descriptors_unused_asset_labels_change_nothing(raw, step):
    # A subset of a panel keeps every asset label in its index: the scan
    # renumbers the assets that have rows, with the same numbers.
    step = clone(step).set_params(**_small(step))
    assets = raw.index.get_level_values("asset")
    subset = raw[assets.isin(["A01", "A02", "A05"])]
    assert len(subset.index.levels[1]) == 20
    compact = subset.set_axis(subset.index.remove_unused_levels())
    pd.testing.assert_frame_equal(
        step.fit_transform(subset), step.fit_transform(compact).set_axis(subset.index)
    )
