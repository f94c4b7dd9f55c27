"""What docs/comparison.md says about skfolio (1.12), checked against skfolio.

Every equality, and every stated difference, on the page's skfolio tables is
one of these tests: the cross-sectional transformers on S&P 500 momentum (the
page's example), the per-date regressions and the time-series loadings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats.mstats import winsorize

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    TimeSeriesFactorModel,
    Winsorizer,
)

skfolio = pytest.importorskip("skfolio")
from skfolio.datasets import load_factors_dataset, load_sp500_dataset  # noqa: E402
from skfolio.linear_model import CSLinearRegression  # noqa: E402
from skfolio.preprocessing import CSStandardScaler, CSWinsorizer  # noqa: E402


@pytest.fixture(scope="module")
def momentum():
    """Wide (date x stock) 120-day momentum of skfolio's 20 S&P 500 stocks, with
    its price as a cap-like weight and a few holes; the long panel of both."""
    prices = load_sp500_dataset().iloc[-400:]
    mom = (prices.shift(5) / prices.shift(125) - 1.0).iloc[125:]
    mom = mom.mask(np.random.default_rng(0).random(mom.shape) < 0.05)
    cap = prices.loc[mom.index]
    long = pd.concat({"momentum": mom.stack(), "cap": cap.stack()}, axis=1).rename_axis(
        ["date", "asset"]
    )
    return mom, cap, long.dropna(subset=["cap"])


def _wide(series, like):
    return series.unstack("asset").reindex(index=like.index, columns=like.columns)


def test_cs_winsorizer_clips_at_interpolated_percentiles_skfactor_at_order_stats():
    rng = np.random.default_rng(1)
    X = rng.standard_t(3, size=(40, 500))
    ours = (
        Winsorizer(limits=0.01)
        .fit_transform(
            pd.DataFrame(
                {"x": X.ravel()},
                index=pd.MultiIndex.from_product(
                    [pd.RangeIndex(40), pd.RangeIndex(500)], names=["date", "asset"]
                ),
            )
        )["x"]
        .to_numpy()
        .reshape(X.shape)
    )
    theirs = CSWinsorizer(low=0.01, high=0.99).fit_transform(X)
    lo, hi = np.nanpercentile(X, [1, 99], axis=1, keepdims=True)
    assert_allclose(theirs, np.clip(X, lo, hi))  # skfolio: np.nanpercentile
    for t in range(len(X)):  # skfactor: scipy's order statistics
        assert_allclose(ours[t], np.asarray(winsorize(X[t], limits=0.01)))
    differ = (np.abs(ours - theirs) > 1e-12).sum(axis=1)
    assert 5 <= differ.mean() <= 12  # "about 10 per date come out different"


def test_cs_standard_scaler_is_ddof1_skfactor_ddof0(momentum):
    mom, _, long = momentum
    theirs = CSStandardScaler().fit_transform(mom.to_numpy())
    ours = _wide(
        CrossSectionalZScore().fit_transform(long[["momentum"]])["momentum"], mom
    )
    n = mom.notna().sum(axis=1).to_numpy()[:, None]
    assert_allclose(ours.to_numpy(), theirs * np.sqrt(n / (n - 1)), atol=1e-12)


def test_cs_standard_scaler_weighted_centres_its_std_on_the_weighted_mean(momentum):
    """skfolio: sigma^2 = sum (x - mu_w)^2 / (n - 1); skfactor: the equal-weighted
    std around the equal-weighted mean (ddof=0), so z_skfactor = z_skfolio *
    sqrt(n / (n - 1) * (1 + d^2)), d = (mean - mu_w) / std."""
    mom, cap, long = momentum
    w = cap.where(mom.notna(), 0.0).to_numpy()
    theirs = CSStandardScaler().fit_transform(mom.to_numpy(), cs_weights=w)
    ours = CrossSectionalZScore(weights="cap").fit_transform(long)["momentum"]
    ours = _wide(ours, mom).to_numpy()
    x = mom.to_numpy()
    n = np.sum(~np.isnan(x), axis=1, keepdims=True)
    mean, sd = np.nanmean(x, axis=1, keepdims=True), np.nanstd(x, axis=1, keepdims=True)
    mu_w = np.nansum(w * x, axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    factor = np.sqrt(n / (n - 1) * (1 + ((mean - mu_w) / sd) ** 2))
    assert_allclose(ours, theirs * factor, atol=1e-12)
    # not a ddof detail: beyond the sqrt(n / (n - 1)) factor, values move by
    gap = np.nanmax(np.abs(ours - theirs * np.sqrt(n / (n - 1))))
    assert 0.2 < gap < 0.4, gap  # the page: "up to 0.3"


def test_cs_standard_scaler_groups_restandardises_globally(momentum):
    """Within groups (ddof=1), then one global CSStandardScaler step; skfactor
    stops after the within-group step (ddof=0)."""
    mom, _, long = momentum
    groups = np.tile(np.arange(mom.shape[1]) % 2, (len(mom), 1))
    theirs = CSStandardScaler(min_group_size=2).fit_transform(
        mom.to_numpy(), cs_groups=groups
    )
    long = long.assign(
        sector=long.index.get_level_values("asset").map(
            dict(zip(mom.columns, groups[0], strict=True))
        )
    )
    ours = CrossSectionalZScore(groups="sector").fit_transform(
        long[["momentum", "sector"]]
    )["momentum"]
    ours = _wide(ours, mom).to_numpy()
    x = mom.to_numpy()
    n_g = np.stack(
        [np.sum(~np.isnan(x) & (groups == g), axis=1) for g in (0, 1)], axis=1
    )[np.arange(len(x))[:, None], groups]
    within = ours * np.sqrt((n_g - 1) / n_g)  # skfolio's within-group step (ddof=1)
    assert_allclose(theirs, CSStandardScaler().fit_transform(within), atol=1e-12)
    assert np.nanmax(np.abs(theirs - within)) > 1e-3  # the global step matters


def test_cs_linear_regression_equals_factor_returns_and_const(momentum):
    mom, cap, long = momentum
    prices = load_sp500_dataset()
    ret = prices.pct_change().shift(-1).loc[mom.index]  # next-day return
    mom = mom.iloc[:-1]  # the last date has no next-day return
    z = CrossSectionalZScore().fit_transform(long[["momentum"]])
    X = z.assign(lcap=np.log(long["cap"])).loc[mom.index]
    y = _stack(ret).reindex(X.index)
    ok = y.notna() & X.notna().all(axis=1)
    X, y = X[ok], y[ok]
    w = long["cap"].reindex(X.index)
    X3 = np.stack([_wide(X[c], mom).to_numpy() for c in X.columns], axis=-1)
    Y = _wide(y, mom).to_numpy()
    W = _wide(w, mom).fillna(0.0).to_numpy()  # skfolio: NaN rows need weight 0
    X3, Y = np.nan_to_num(X3), np.nan_to_num(Y)
    for weights, sample_weight in ((W > 0).astype(float), None), (W, w):
        theirs = CSLinearRegression(fit_intercept=True).fit(X3, Y, cs_weights=weights)
        ours = CrossSectionalFactorModel().fit(X, y, sample_weight=sample_weight)
        assert_allclose(ours.factor_returns_.to_numpy(), theirs.coef_, rtol=1e-8)
        assert_allclose(ours.params_["const"].to_numpy(), theirs.intercept_, rtol=1e-8)
    assert CSLinearRegression().fit_intercept is False  # its default


def _stack(wide):
    return wide.stack().rename_axis(["date", "asset"])


def test_time_series_factor_model_loadings_with_ols_equal_coef():
    from skfolio.prior import LoadingMatrixRegression
    from skfolio.prior import TimeSeriesFactorModel as SkfolioTS
    from sklearn.linear_model import LinearRegression

    prices = load_sp500_dataset().iloc[-500:]
    factors = load_factors_dataset().loc[prices.index]
    R, F = prices.pct_change().iloc[1:], factors.pct_change().iloc[1:]
    ols = LoadingMatrixRegression(linear_regressor=LinearRegression())
    theirs = SkfolioTS(loading_matrix_estimator=ols).fit(R, factors=F)
    ours = TimeSeriesFactorModel().fit(F, R)
    fitted = theirs.loading_matrix_estimator_
    assert_allclose(ours.coef_, fitted.loading_matrix_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours.intercept_, fitted.intercepts_, rtol=1e-7, atol=1e-12)
    # its default is LassoCV(fit_intercept=False): no intercept, shrunk betas
    default = SkfolioTS().fit(R, factors=F).loading_matrix_estimator_
    assert np.all(default.intercepts_ == 0)
