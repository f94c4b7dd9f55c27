"""Error messages and warnings that send the user to the right fix (issue 23)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from skfactor import (
    CrossSectionalFactorModel,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
)
from skfactor.datasets import make_factor_panel
from skfactor.panel import forward_returns


@pytest.fixture(scope="module")
def data():
    return make_factor_panel(n_dates=30, n_assets=24, random_state=2)


@pytest.mark.parametrize("dtype", ["str", "category"])
def test_cross_sectional_model_industry_labels_refused_naming_get_dummies(data, dtype):
    X = data.loadings.copy()
    X["industry"] = pd.Series(
        np.array(["tech", "energy", "banks"])[np.arange(len(X)) % 3], index=X.index
    ).astype(dtype)
    with pytest.raises(
        ValueError,
        match=r"`industries` column 'industry' holds labels .* "
        r"pd\.get_dummies\(X, columns=\['industry'\], dtype=float\)",
    ):
        CrossSectionalFactorModel(industries=["industry"]).fit(X, data.y)
    # The fix the message gives works.
    X = pd.get_dummies(X, columns=["industry"], dtype=float)
    industries = [c for c in X.columns if c.startswith("industry_")]
    model = CrossSectionalFactorModel(industries=industries).fit(X, data.y)
    assert model.params_[industries].notna().all().all()


@pytest.mark.parametrize(
    "model", [TimeSeriesFactorModel(), TwoPassFactorModel(), RollingFactorModel()]
)
def test_time_series_model_series_of_factor_returns_suggests_to_frame(data, model):
    R = data.y.unstack("asset")
    market = data.factor_returns.iloc[:, 0].loc[R.index]
    with pytest.raises(ValueError, match=r"`X` is a Series .* pass `X\.to_frame\(\)`"):
        model.fit(market, R)
    with pytest.raises(ValueError, match=r"1-D array.*`X\.reshape\(-1, 1\)`"):
        model.fit(market.to_numpy(), R)


def test_quantile_portfolio_factor_returns_without_y_says_y_is_needed(data):
    model = QuantilePortfolioFactor()
    with pytest.raises(AttributeError, match="not fitted yet. Call `fit\\(X, y\\)`"):
        _ = model.factor_returns_
    model.fit(data.X)
    for name in ("factor_returns_", "quantile_returns_"):
        with pytest.raises(AttributeError, match=f"`{name}` needs the returns.*y"):
            getattr(model, name)
        assert not hasattr(model, name)
    # Fitted with y they exist; refitted without y they are gone, not stale.
    assert model.fit(data.X, data.y).factor_returns_.shape == (30, 3)
    assert not hasattr(model.fit(data.X), "factor_returns_")
    with pytest.raises(AttributeError, match="has no attribute 'other_'"):
        _ = model.other_


def test_forward_returns_warns_when_given_prices(data):
    prices = (1 + data.y).groupby(level="asset").cumprod() * 100
    fix = r'prices\.groupby\(level="asset"\)\.pct_change\(\)'
    with pytest.warns(UserWarning, match=rf"looks like prices, not returns.*{fix}"):
        forward_returns(prices)
    with pytest.warns(UserWarning, match=r"looks like prices.*prices\.pct_change\(\)"):
        forward_returns(prices.unstack("asset"))
    with pytest.warns(UserWarning, match=r"column\(s\) \['close'\]"):
        forward_returns(pd.DataFrame({"close": prices, "ret": data.y}))
    # Real returns never warn, daily or of a long horizon.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forward_returns(data.y)
        forward_returns(data.y.unstack("asset"))
        forward_returns(forward_returns(data.y, periods=20).dropna())
