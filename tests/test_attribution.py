"""return_attribution against empyrical's perf_attrib and a slow loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from empyrical.perf_attrib import perf_attrib

from skfactor.datasets import make_factor_panel
from skfactor.risk import ReturnAttribution, return_attribution
from tests.conftest import shuffled

FACTORS = ["momentum", "volatility"]


def _sp500(n=80, seed=0):
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-n:]
    returns = prices.pct_change().iloc[1:]
    dates = returns.index
    B = pd.DataFrame(
        {
            "momentum": prices.pct_change(10).stack(),
            "volatility": returns.rolling(5).std().stack(),
        }
    )
    B.index.names = ["date", "asset"]
    B = B.loc[dates[0] :]
    rng = np.random.default_rng(seed)
    B = B.mask(rng.random(B.shape) < 0.05)
    F = pd.DataFrame(
        rng.normal(scale=0.01, size=(len(dates), 2)), index=dates, columns=FACTORS
    )
    W = pd.DataFrame(
        rng.normal(size=returns.shape), index=dates, columns=returns.columns
    )
    W = W.div(W.abs().sum(axis=1), axis=0)
    return W, B, F, returns


def _long(wide):
    s = wide.stack(future_stack=True)
    s.index.names = ["date", "asset"]
    return s


def test_return_attribution_lag0_equals_empyrical_perf_attrib():
    W, B, F, R = _sp500()
    res = return_attribution(W, B, F, R, lag=0)
    total = (W * R).sum(axis=1)
    exposures, expected = perf_attrib(total, _long(W), F, B)
    c = res.contributions
    pairs = [(f, f) for f in FACTORS] + [
        ("common", "common_returns"),
        ("specific", "specific_returns"),
        ("total", "total_returns"),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(c[ours], expected[theirs], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res.exposures, exposures, rtol=1e-10, atol=1e-14)
    # The portfolio's own returns (a Series by date) give the same split.
    own = return_attribution(W, B, F, total, lag=0)
    pd.testing.assert_frame_equal(own.contributions, c)


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_return_attribution_equals_slow_loop_with_holes(lag):
    data = make_factor_panel(
        n_dates=15, n_assets=25, missing_rows=0.2, missing_values=0.05,
        random_state=lag,
    )  # fmt: skip
    B = data.X[["value", "size"]]
    rng = np.random.default_rng(lag)
    w = pd.Series(rng.normal(size=len(B)), index=B.index).mask(rng.random(len(B)) < 0.1)
    y = data.y
    dates = B.index.get_level_values(0).unique().sort_values()
    F = pd.DataFrame(rng.normal(size=(len(dates), 2)), index=dates, columns=B.columns)
    res = return_attribution(shuffled(w, 1), shuffled(B, 2), F, shuffled(y, 3), lag=lag)
    c = res.contributions
    for s, t in enumerate(dates):
        if s < lag:
            assert c.loc[t].isna().all()
            continue
        held = w.xs(dates[s - lag], level=0).dropna()
        x = B.xs(dates[s - lag], level=0).reindex(held.index).fillna(0.0).T @ held
        r = y.xs(t, level=0).reindex(held.index)
        held_r = r[held != 0]
        total = np.nan if held_r.isna().any() else float((held * r).sum())
        for k in B.columns:
            assert c.loc[t, k] == pytest.approx(
                x[k] * F.loc[t, k], rel=1e-10, abs=1e-14
            )
        if np.isnan(total):
            assert np.isnan(c.loc[t, "total"])
        else:
            assert c.loc[t, "total"] == pytest.approx(total, rel=1e-10, abs=1e-14)
    ok = c["total"].notna()
    parts = c.loc[ok, ["value", "size", "specific"]].sum(axis=1)
    np.testing.assert_allclose(parts, c.loc[ok, "total"], rtol=1e-12, atol=1e-15)


def test_return_attribution_cumulative_adds_up():
    W, B, F, R = _sp500()
    res = return_attribution(W, B, F, R, lag=1)
    assert isinstance(res, ReturnAttribution)
    cum = res.cumulative
    np.testing.assert_allclose(
        cum[[*FACTORS, "specific"]].sum(axis=1), cum["total"], rtol=1e-10, atol=1e-14
    )
    np.testing.assert_allclose(
        cum.iloc[-1], res.contributions.fillna(0.0).sum(), rtol=1e-12
    )
    assert res.contributions.iloc[0].isna().all()  # nothing held before


def test_return_attribution_long_and_wide_weights_agree():
    W, B, F, R = _sp500()
    a = return_attribution(W, B, F, R, lag=1).contributions
    b = return_attribution(_long(W), B, F, _long(R), lag=1).contributions
    pd.testing.assert_frame_equal(a, b)


def test_return_attribution_refuses_bad_inputs():
    W, B, F, R = _sp500()
    with pytest.raises(ValueError, match="`lag` must be an integer >= 0"):
        return_attribution(W, B, F, R, lag=-1)
    with pytest.raises(ValueError, match="lacks the factors"):
        return_attribution(W, B[["momentum"]], F, R)
    with pytest.raises(TypeError, match="`factor_returns` must be a date x factor"):
        return_attribution(W, B, F["momentum"], R)


@pytest.mark.parametrize("names", [["date", None], ["d", "a"], [None, None]])
def test_return_attribution_weights_with_other_level_names_on_some_rows(names):
    data = make_factor_panel(n_dates=12, n_assets=10, random_state=4)
    B = data.X[["value", "size"]]
    y = data.y
    rng = np.random.default_rng(4)
    w = pd.Series(rng.normal(size=len(B)), index=B.index).iloc[::3]  # a third held
    dates = B.index.get_level_values(0).unique().sort_values()
    F = pd.DataFrame(rng.normal(size=(len(dates), 2)), index=dates, columns=B.columns)
    renamed = w.copy()
    renamed.index = renamed.index.set_names(names)
    before = renamed.copy()
    c = return_attribution(shuffled(renamed, 1), B, F, y, lag=1).contributions
    pd.testing.assert_series_equal(renamed, before)  # input untouched
    for s, t in enumerate(dates[1:], start=1):
        held = w.xs(dates[s - 1], level=0)
        x = B.xs(dates[s - 1], level=0).reindex(held.index).fillna(0.0).T @ held
        r = y.xs(t, level=0).reindex(held.index)
        for k in B.columns:
            assert c.loc[t, k] == pytest.approx(x[k] * F.loc[t, k], rel=1e-10)
        assert c.loc[t, "total"] == pytest.approx(float((held * r).sum()), rel=1e-10)
    assert c.iloc[0].isna().all()


def test_return_attribution_refuses_weights_keyed_otherwise():
    data = make_factor_panel(n_dates=6, n_assets=5, random_state=0)
    B = data.X[["value", "size"]]
    dates = B.index.get_level_values(0).unique()
    F = pd.DataFrame(0.01, index=dates, columns=B.columns)
    w = pd.Series(0.2, index=B.index)
    as_codes = w.copy()  # assets as integer codes, exposures by ticker
    as_codes.index = as_codes.index.set_levels(range(5), level=1)
    with pytest.raises(ValueError, match="No held \\(date, asset\\) row of `weights`"):
        return_attribution(
            weights=as_codes, exposures=B, factor_returns=F, returns=data.y
        )
    F_text = F.set_axis(dates.strftime("%Y-%m-%d"))
    with pytest.raises(ValueError, match="No holding date of `weights` is a date"):
        return_attribution(
            weights=w, exposures=B, factor_returns=F_text, returns=data.y
        )


def test_return_attribution_portfolio_exposures_and_the_older_names():
    data = make_factor_panel(n_dates=6, n_assets=5, random_state=0)
    B = data.X[["value", "size"]]
    F = pd.DataFrame(
        0.01, index=B.index.get_level_values(0).unique(), columns=B.columns
    )
    w = pd.Series(0.2, index=B.index)
    res = return_attribution(portfolio=w, exposures=B, factor_returns=F, returns=data.y)
    old = return_attribution(weights=w, exposures=B, factor_returns=F, returns=data.y)
    pd.testing.assert_frame_equal(res.portfolio_exposures, old.exposures)
    pd.testing.assert_frame_equal(res.contributions, old.contributions)
    with pytest.raises(
        ValueError, match="No held \\(date, asset\\) row of `portfolio`"
    ):
        codes = w.set_axis(w.index.set_levels(range(5), level=1))
        return_attribution(codes, B, F, data.y)
