"""Rank autocorrelation, quantile turnover and IC decay against alphalens and pandas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from alphalens import performance as al

from skfactor import QuantilePortfolioFactor
from skfactor.datasets import make_factor_panel
from skfactor.metrics import (
    ic_decay,
    ic_summary,
    information_coefficient,
    quantile_labels,
    quantile_turnover,
    rank_autocorrelation,
)
from skfactor.panel import forward_returns
from tests.conftest import shuffled


def _sp500_momentum():
    """Momentum on consecutive trading dates (no index freq: both count dates)."""
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-150:]
    f = prices.pct_change(20).iloc[20:].stack()
    f.index.names = ["date", "asset"]
    rng = np.random.default_rng(0)
    f = f.mask(rng.random(len(f)) < 0.1)  # holes
    return shuffled(f, 2), prices.pct_change().iloc[1:]


def _synthetic():
    data = make_factor_panel(
        n_dates=20, n_assets=60, missing_rows=0.2, missing_values=0.08,
        random_state=3,
    )  # fmt: skip
    f = data.X["momentum"].round(1)  # ties
    return shuffled(f, 4)


def _alphalens_frame(f):
    return pd.DataFrame({"factor": f}).sort_index()


@pytest.mark.parametrize("periods", [1, 3])
@pytest.mark.parametrize("source", ["sp500", "synthetic"])
def test_rank_autocorrelation_equals_alphalens(source, periods):
    f = _sp500_momentum()[0] if source == "sp500" else _synthetic()
    expected = al.factor_rank_autocorrelation(_alphalens_frame(f), periods)
    got = rank_autocorrelation(f, periods)
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert got.iloc[:periods].isna().all()


def test_quantile_labels_follow_quantile_portfolio_rule():
    f = _synthetic()
    labels = quantile_labels(f, 5)
    pct = f.groupby(level=0).rank(pct=True)
    np.testing.assert_array_equal(labels, np.ceil(pct * 5))
    # The portfolio's top and bottom legs are quantiles 5 and 1.
    X = f.to_frame("momentum")
    w = QuantilePortfolioFactor(n_quantiles=5).fit_transform(X)["momentum"]
    assert (labels[w > 0] == 5).all() and (labels[w < 0] == 1).all()


@pytest.mark.parametrize("periods", [1, 2])
@pytest.mark.parametrize("source", ["sp500", "synthetic"])
def test_quantile_turnover_equals_alphalens(source, periods):
    f = _sp500_momentum()[0] if source == "sp500" else _synthetic()
    got = quantile_turnover(f, n_quantiles=5, periods=periods)
    assert got.columns.tolist() == [1, 2, 3, 4, 5]
    labels = quantile_labels(f, 5).dropna().sort_index()
    for q in range(1, 6):
        expected = al.quantile_turnover(labels, q, periods)
        np.testing.assert_allclose(
            got[q].reindex(expected.index), expected, rtol=1e-12, atol=1e-12
        )
    assert got.iloc[:periods].isna().all().all()


def test_quantile_turnover_counts_panel_dates_and_refuses_bad_periods():
    f = _synthetic()
    with pytest.raises(ValueError, match="`periods` must be an integer >= 1"):
        quantile_turnover(f, periods=0)
    with pytest.raises(ValueError, match="`n_quantiles` must be an integer >= 2"):
        quantile_turnover(f, n_quantiles=1)
    with pytest.raises(ValueError, match="MultiIndex"):
        rank_autocorrelation(f.droplevel(1))
    # A lag past the last date leaves nothing to compare.
    n_dates = f.index.get_level_values(0).nunique()
    assert rank_autocorrelation(f, n_dates).isna().all()


@pytest.mark.parametrize("wide", [True, False])
def test_ic_decay_is_ic_summary_at_each_horizon(wide):
    f, returns = _sp500_momentum()
    long = returns.stack(future_stack=True)
    long.index.names = ["date", "asset"]
    with pytest.warns(UserWarning, match="109 dates at horizon=21"):
        table = ic_decay(f, returns if wide else long, horizons=(1, 5, 21))
    assert table.index.tolist() == [1, 5, 21]
    assert {"t", "p_value", "df", "t_iid", "t_nw"} <= set(table.columns)
    assert table.loc[1, "t_iid"] == table.loc[1, "t"]
    assert (
        table["df"]
        == [
            table.loc[1, "n_dates"] - 1,
            *(table.loc[h, "n_dates"] // (2 * h) for h in (5, 21)),
        ]
    ).all()
    for h in (1, 5, 21):
        fwd = forward_returns(long, h).reindex(f.index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # few dates at h=21
            expected = ic_summary(information_coefficient(fwd, f), horizon=h)
        np.testing.assert_allclose(
            table.loc[h, expected.index].astype(float), expected, rtol=1e-12
        )


@pytest.mark.parametrize("periods", [1, 2])
def test_quantile_turnover_after_an_all_nan_date_is_nan(periods):
    f = _synthetic()
    dates = f.index.get_level_values(0).unique().sort_values()
    gap = dates[5]
    holed = f.mask(f.index.get_level_values(0) == gap)
    got = quantile_turnover(holed, n_quantiles=5, periods=periods)
    after = dates[5 + periods]
    assert got.loc[gap].isna().all()  # nothing ranked that date
    assert got.loc[after].isna().all()  # nothing to compare with: not 100 %
    assert rank_autocorrelation(holed, periods).loc[[gap, after]].isna().all()
    # Elsewhere unchanged, and equal to alphalens where it compares the same dates.
    full = quantile_turnover(f, n_quantiles=5, periods=periods)
    untouched = dates.difference(dates[5 : 6 + periods])
    pd.testing.assert_frame_equal(got.loc[untouched], full.loc[untouched])
    labels = quantile_labels(holed, 5).dropna().sort_index()
    for q in range(1, 6):
        expected = al.quantile_turnover(labels, q, periods)
        compare = dates[6 + periods :]  # alphalens skips the NaN date before
        np.testing.assert_allclose(
            got.loc[compare, q], expected.reindex(compare), rtol=1e-12, atol=1e-12
        )
