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
from skfactor.descriptors._windows import window_sums

RTOL, ATOL = 1e-10, 1e-12


# --------------------------------------------------------------------- data
def make_raw(n_assets=30, n_dates=300, seed=0, shuffle=True):
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
            vals, ws = [], []
            for k in range(window):
                s = t - lag - k
                if s >= 0 and not np.isnan(x[s, i]):
                    vals.append(x[s, i])
                    ws.append(w[k])
            if len(vals) >= need(window, min_periods):
                out[t, i] = np.dot(ws, vals) / np.sum(ws)
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
                sum(
                    x[s, i]
                    for s in range(t - month * T + 1, t + 1)
                    if s >= 0 and not np.isnan(x[s, i])
                )
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
    x = rng.normal(size=(1, 5000))
    x[0, :4000] += 1e8
    s = window_sums(x, 21)
    expected = [x[0, t - 20 : t + 1].sum() for t in range(4100, 5000)]
    np.testing.assert_allclose(s[0, 4100:], expected, rtol=1e-13, atol=1e-12)
