"""skfactor.risk: covariances, risk decomposition and hedges against direct numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from statsmodels.stats.sandwich_covariance import S_hac_simple

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.risk import FactorRiskModel, factor_covariance, specific_variance
from tests.conftest import FACTORS, PORTFOLIOS, one_asset_date, shuffled

RTOL = 1e-12


@pytest.fixture(scope="module")
def small():
    """A small random factor history (60 dates x 3 factors)."""
    rng = np.random.default_rng(3)
    dates = pd.date_range("2010-01-31", periods=60, freq="ME", name="date")
    F = pd.DataFrame(rng.normal(0, 0.03, (60, 3)), dates, ["MKT", "SMB", "HML"])
    F += 0.4 * F.shift(1).fillna(0.0).to_numpy()  # autocorrelated
    return F


@pytest.fixture(params=["small", "french"])
def factors(request, small, french):
    return small if request.param == "small" else french[0]


@pytest.fixture(scope="module")
def ts_risk(french):
    F, R = french
    model = TimeSeriesFactorModel().fit(F, R)
    return model, FactorRiskModel.from_model(model, F, R)


def small_risk_model():
    """A hand-sized model: 4 assets, 2 factors, numbers a reader can follow."""
    B = pd.DataFrame(
        [[1.0, 0.5], [0.8, -0.3], [1.2, 0.0], [0.9, 1.1]],
        index=pd.Index(["A", "B", "C", "D"], name="asset"),
        columns=["MKT", "SMB"],
    )
    cov = pd.DataFrame([[0.002, 0.0004], [0.0004, 0.001]], B.columns, B.columns)
    d = pd.Series([0.004, 0.003, 0.005, 0.002], index=B.index)
    return FactorRiskModel(B, cov, d), B.to_numpy(), cov.to_numpy(), d.to_numpy()


def ewm_weights(n, halflife):
    w = 0.5 ** ((n - 1 - np.arange(n)) / halflife)
    return w / w.sum()


# ------------------------------------------------------------- factor covariance
def test_factor_covariance_sample_equals_np_cov(factors):
    cov = factor_covariance(factors)
    assert_allclose(cov.to_numpy(), np.cov(factors.to_numpy().T), rtol=RTOL)
    assert list(cov.index) == list(cov.columns) == list(factors.columns)


@pytest.mark.parametrize("halflife", [6.0, 36.0])
def test_factor_covariance_ewm_equals_pandas(factors, halflife):
    cov = factor_covariance(factors, halflife=halflife)
    expected = factors.ewm(halflife=halflife).cov().loc[factors.index[-1]]
    assert_allclose(cov.to_numpy(), expected.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("lags", [1, 3, 12])
def test_factor_covariance_newey_west_equals_loop_and_statsmodels(factors, lags):
    f = factors.to_numpy()
    T = len(f)
    x = f - f.mean(axis=0)
    expected = x.T @ x
    for lag in range(1, lags + 1):
        gamma = sum(np.outer(x[t], x[t - lag]) for t in range(lag, T))
        expected += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    expected /= T - 1
    cov = factor_covariance(factors, lags=lags).to_numpy()
    assert_allclose(cov, expected, rtol=1e-10)
    assert_allclose(cov, S_hac_simple(x, nlags=lags) / (T - 1), rtol=1e-10)


def test_factor_covariance_ewm_newey_west_equals_loop(small):
    f, h, L = small.to_numpy(), 12.0, 2
    T = len(f)
    w = ewm_weights(T, h)
    m = w @ f
    expected = sum(w[t] * np.outer(f[t] - m, f[t] - m) for t in range(T))
    for lag in range(1, L + 1):
        gamma = sum(
            np.sqrt(w[t] * w[t - lag]) * np.outer(f[t] - m, f[t - lag] - m)
            for t in range(lag, T)
        )
        expected += (1 - lag / (L + 1)) * (gamma + gamma.T)
    expected /= 1 - w @ w
    cov = factor_covariance(small, halflife=h, lags=L).to_numpy()
    assert_allclose(cov, expected, rtol=1e-10)
    assert np.linalg.eigvalsh(cov).min() >= 0


def test_factor_covariance_leaves_out_dates_with_a_nan_factor(small):
    F = small.copy()
    F.iloc[[5, 17, 40], 1] = np.nan
    kept = F.dropna()
    assert_allclose(factor_covariance(F), np.cov(kept.to_numpy().T), rtol=RTOL)
    # Exponential weights: a skipped date still ages the older ones.
    h = 10.0
    pos = np.flatnonzero(F.notna().all(axis=1).to_numpy())
    w = 0.5 ** ((pos[-1] - pos) / h)
    w /= w.sum()
    x = kept.to_numpy() - w @ kept.to_numpy()
    expected = (w[:, None] * x).T @ x / (1 - w @ w)
    assert_allclose(factor_covariance(F, halflife=h), expected, rtol=RTOL)
    assert F.isna().sum().sum() == 3  # input untouched


# ------------------------------------------------------------- specific variance
def test_specific_variance_equals_pandas_var_on_each_assets_dates():
    rng = np.random.default_rng(5)
    E = pd.DataFrame(rng.normal(0, 0.05, (80, 4)), columns=list("ABCD"))
    E.iloc[:30, 1] = np.nan
    E.iloc[rng.random(80) < 0.2, 2] = np.nan
    var, n = specific_variance(E, min_obs=20)
    assert_allclose(var.to_numpy(), E.var().to_numpy(), rtol=RTOL)
    assert n.tolist() == E.notna().sum().tolist()
    var_ewm, _ = specific_variance(E, halflife=15.0, min_obs=20)
    expected = [E[c].ewm(halflife=15.0).var().dropna().iloc[-1] for c in E]
    # pandas' ewm value at the asset's last observation: same relative weights.
    assert_allclose(var_ewm.to_numpy(), expected, rtol=1e-10)


def test_specific_variance_shrinks_short_histories_to_the_median():
    rng = np.random.default_rng(6)
    E = pd.DataFrame(rng.normal(0, 0.05, (50, 6)), columns=list("ABCDEF"))
    E.iloc[:40, 3] = np.nan  # D: 10 observations
    E.iloc[:49, 4] = np.nan  # E: 1 observation
    E.iloc[:, 5] = np.nan  # F: none
    var, n = specific_variance(E, min_obs=25)
    own = E.var()
    median = np.median(own[["A", "B", "C"]])
    assert_allclose(var[["A", "B", "C"]], own[["A", "B", "C"]], rtol=RTOL)
    lam = 10 / 25
    assert_allclose(var["D"], lam * own["D"] + (1 - lam) * median, rtol=RTOL)
    assert_allclose(var[["E", "F"]], [median, median], rtol=RTOL)
    assert n.tolist() == [50, 50, 50, 10, 1, 0]


# --------------------------------------------------------------- from_model (TS)
def test_risk_model_time_series_pieces_equal_numpy(french, ts_risk):
    F, R = french
    model, risk = ts_risk
    B = model.coef_
    assert_allclose(risk.exposures.to_numpy(), B, rtol=0)
    assert list(risk.factors) == FACTORS and list(risk.assets) == PORTFOLIOS
    cov_f = np.cov(F.to_numpy().T)
    assert_allclose(risk.factor_covariance.to_numpy(), cov_f, rtol=RTOL)
    d = model.residuals(F, R).var(ddof=1).to_numpy()
    assert_allclose(risk.specific_variance.to_numpy(), d, rtol=RTOL)
    expected = B @ cov_f @ B.T + np.diag(d)
    assert_allclose(risk.asset_covariance.to_numpy(), expected, rtol=RTOL)
    # With equal weights and an intercept, each diagonal entry is exactly the
    # asset's sample return variance: var(r) = b'Σb + var(e) in-sample.
    assert_allclose(np.diag(risk.asset_covariance), R.var().to_numpy(), rtol=1e-12)


def test_risk_model_time_series_unbalanced_uses_each_assets_dates(french):
    F, R = french
    R = R.copy()
    R.iloc[:790, 0] = np.nan  # S1V1: 29 months
    R.iloc[300:320, 4] = np.nan
    model = TimeSeriesFactorModel().fit(F, R)
    risk = FactorRiskModel.from_model(model, F, R, halflife=60.0, lags=2, min_obs=60)
    assert risk.n_obs.tolist() == model.nobs_.tolist()
    E = model.residuals(F, R)
    own = [E[c].ewm(halflife=60.0).var().dropna().iloc[-1] for c in E]
    median = np.median(own[1:])
    expected = np.array(own)
    expected[0] = 29 / 60 * own[0] + (1 - 29 / 60) * median
    assert_allclose(risk.specific_variance.to_numpy(), expected, rtol=1e-10)
    pd.testing.assert_frame_equal(risk.asset_returns, R, check_names=False)


def test_risk_model_time_series_numpy_input_labels_factors_and_assets(french):
    F, R = french
    model = TimeSeriesFactorModel().fit(F.to_numpy(), R.to_numpy())
    risk = FactorRiskModel.from_model(model, F.to_numpy(), R.to_numpy())
    assert list(risk.factors) == ["x0", "x1", "x2"]
    assert list(risk.assets) == list(range(9))
    ref = FactorRiskModel.from_model(TimeSeriesFactorModel().fit(F, R), F, R)
    assert_allclose(risk.asset_covariance, ref.asset_covariance, rtol=RTOL)


# --------------------------------------------------------------- from_model (CS)
@pytest.fixture(scope="module")
def cs_data():
    data = make_factor_panel(
        n_dates=40, n_assets=150, missing_rows=0.15, random_state=2
    )
    Z = make_pipeline(Winsorizer(), CrossSectionalZScore()).fit_transform(data.X)
    return Z, data.y


def test_risk_model_cross_sectional_pieces_equal_loops(cs_data):
    Z, y = cs_data
    model = CrossSectionalFactorModel().fit(Z, y)
    risk = FactorRiskModel.from_model(model, Z, y, min_obs=30)
    last = Z.index.get_level_values(0).max()
    loadings = Z.xs(last, level=0)
    assert list(risk.assets) == list(loadings.index)
    assert list(risk.factors) == ["const", *Z.columns]
    assert_allclose(risk.exposures.iloc[:, 1:], loadings.to_numpy(), rtol=0)
    assert (risk.exposures["const"] == 1.0).all()
    F = model.params_.dropna()
    assert_allclose(risk.factor_covariance, np.cov(F.to_numpy().T), rtol=RTOL)
    resid = model.residuals(Z, y)
    universe = resid.index.get_level_values(1).unique()
    n = pd.Series([resid.xs(a, level=1).notna().sum() for a in universe], universe)
    own = pd.Series([resid.xs(a, level=1).var() for a in universe], universe)
    median = np.median(own[n >= 30])  # over every asset with residuals
    assert (n[risk.assets] >= 30).sum() < (n >= 30).sum()  # the universe is wider
    n, own = n[risk.assets].to_numpy(), own[risk.assets].to_numpy()
    lam = np.minimum(n / 30, 1.0)
    assert lam.min() < 1  # some histories are shrunk
    assert_allclose(risk.specific_variance, lam * own + (1 - lam) * median, rtol=1e-10)
    # Returns pivoted to (date, asset) without loss.
    R = y.unstack()[risk.assets].sort_index()
    assert_allclose(risk.asset_returns.to_numpy(), R.to_numpy(), rtol=0)


def test_risk_model_cross_sectional_shuffled_rows_and_date(cs_data):
    Z, y = cs_data
    Z_before, y_before = Z.copy(), y.copy()
    model = CrossSectionalFactorModel().fit(Z, y)
    fr_before = model.factor_returns_.copy()
    ref = FactorRiskModel.from_model(model, Z, y, min_obs=30)
    pd.testing.assert_frame_equal(Z, Z_before)
    pd.testing.assert_series_equal(y, y_before)
    pd.testing.assert_frame_equal(model.factor_returns_, fr_before)
    assert repr(ref) == (
        "FactorRiskModel(n_assets=132, factors=['const', 'value', 'size', "
        "'momentum'], n_dates=40)"
    )
    Zs, ys = shuffled(Z, 3), shuffled(y, 3)
    risk = FactorRiskModel.from_model(
        CrossSectionalFactorModel().fit(Zs, ys), Zs, ys, min_obs=30
    )
    order = ref.assets
    assert_allclose(risk.exposures.loc[order], ref.exposures, rtol=0)
    assert_allclose(risk.specific_variance[order], ref.specific_variance, rtol=1e-12)
    assert_allclose(risk.factor_covariance, ref.factor_covariance, rtol=1e-12)
    date = Z.index.get_level_values(0).unique().sort_values()[10]
    at = FactorRiskModel.from_model(model, Z, y, date=date, min_obs=30)
    loadings = Z.xs(date, level=0)
    assert_allclose(at.exposures.iloc[:, 1:].to_numpy(), loadings.to_numpy(), rtol=0)


def test_risk_model_cross_sectional_single_asset_on_a_date(cs_data):
    Z, y = cs_data
    Z1 = one_asset_date(Z)
    y1 = pd.concat([y, pd.Series([0.01], index=Z1.index[-1:])]).rename("return")
    with pytest.warns(UserWarning, match="1 of 41 dates could not be estimated"):
        model = CrossSectionalFactorModel().fit(Z1, y1)
    risk = FactorRiskModel.from_model(model, Z1, y1, min_obs=30)
    assert list(risk.assets) == ["A99999"]
    # That date's factor returns are NaN: the covariance skips it.
    F = model.params_.dropna()
    assert len(F) == 40
    assert_allclose(risk.factor_covariance, np.cov(F.to_numpy().T), rtol=RTOL)
    # No residual at all: the asset gets the median of the assets with history.
    own = model.residuals(Z1, y1).groupby(level="asset").agg(["var", "count"])
    median = own.loc[own["count"] >= 30, "var"].median()
    assert risk.n_obs.tolist() == [0]
    assert_allclose(risk.specific_variance, [median], rtol=RTOL)
    assert risk.hedge({"A99999": 1.0}).returns["portfolio"].notna().sum() == 1


def test_risk_model_cross_sectional_exposures_on_a_date_after_the_fit(cs_data):
    Z, y = cs_data
    dates = Z.index.get_level_values(0)
    today = dates.max()
    model = CrossSectionalFactorModel(fit_intercept=False)
    model.fit(Z[dates < today], y[dates < today])
    risk = FactorRiskModel.from_model(model, Z, y.where(dates < today), min_obs=30)
    assert list(risk.factors) == list(Z.columns)
    exposures = Z.xs(today, level=0)
    assert_allclose(risk.exposures.to_numpy(), exposures.to_numpy(), rtol=0)


# ------------------------------------------------------------ risk decomposition
def check_decomposition(dec, B, cov_f, d, a):
    Sigma = B @ cov_f @ B.T + np.diag(d)
    total = a @ Sigma @ a
    b = B.T @ a
    sigma = np.sqrt(total)
    assert_allclose(dec.total_variance, total, rtol=1e-12)
    assert_allclose(dec.factor_variance, b @ cov_f @ b, rtol=1e-12)
    assert_allclose(dec.specific_variance, a @ (d * a), rtol=1e-12)
    table = dec.factors
    k = len(b)
    assert_allclose(table["exposure"].iloc[:k], b, rtol=1e-12)
    assert_allclose(table["marginal"].iloc[:k], cov_f @ b / sigma, rtol=1e-12)
    # The lecture's FMCAR: b_j sum_i b_i Cov(F_j, F_i) / (risk)^2.
    fmcar = [b[j] * sum(b[i] * cov_f[j, i] for i in range(k)) / total for j in range(k)]
    assert_allclose(table["fmcar"].iloc[:k], fmcar, rtol=1e-10)
    assert_allclose(table["variance"].sum(), total, rtol=1e-12)
    assert_allclose(table["risk"].sum(), sigma, rtol=1e-12)
    assert_allclose(table["fmcar"].sum(), 1.0, rtol=1e-12)
    assert_allclose(dec.assets["marginal"], Sigma @ a / sigma, rtol=1e-12)
    assert_allclose(dec.assets["variance"].sum(), total, rtol=1e-12)
    # marginal = numerical derivative of sigma in the exposures
    eps = 1e-7
    for j in range(k):
        bp = b.copy()
        bp[j] += eps
        up = np.sqrt(bp @ cov_f @ bp + a @ (d * a))
        assert abs((up - sigma) / eps - table["marginal"].iloc[j]) < 1e-5


def test_risk_decomposition_small_case_equals_numpy():
    risk, B, cov_f, d = small_risk_model()
    w = pd.Series({"A": 0.4, "C": 0.35, "D": 0.25})
    dec = risk.risk_decomposition(w)
    check_decomposition(dec, B, cov_f, d, np.array([0.4, 0.0, 0.35, 0.25]))
    assert not dec.active
    assert list(dec.factors.index) == ["MKT", "SMB", "specific"]
    assert dec.total_risk == pytest.approx(np.sqrt(dec.total_variance), rel=1e-15)


def test_risk_decomposition_french_with_benchmark_is_active_risk(french, ts_risk):
    F, R = french
    model, risk = ts_risk
    B = model.coef_
    cov_f = np.cov(F.to_numpy().T)
    d = model.residuals(F, R).var().to_numpy()
    w = np.linspace(0.02, 0.2, 9)
    w /= w.sum()
    bench = np.full(9, 1 / 9)
    check_decomposition(risk.risk_decomposition(w), B, cov_f, d, w)
    dec = risk.risk_decomposition(pd.Series(w, PORTFOLIOS), benchmark=bench)
    assert dec.active
    check_decomposition(dec, B, cov_f, d, w - bench)


# ----------------------------------------------------------------------- hedge
def test_hedge_small_case_targets():
    risk, B, cov_f, d = small_risk_model()
    w = np.array([0.3, 0.2, 0.1, 0.4])
    b = B.T @ w
    every = risk.hedge(w)
    assert_allclose(every.positions, -b, rtol=RTOL)
    assert np.abs(every.exposures["after"]).max() <= 1e-10
    some = risk.hedge(w, targets={"SMB": 0.25})
    assert_allclose(some.positions, [0.0, 0.25 - b[1]], rtol=RTOL)
    assert_allclose(some.exposures["after"], [b[0], 0.25], rtol=RTOL)
    assert some.returns is None and some.weights is None


def test_hedge_french_market_and_size_exposures_and_returns(french, ts_risk):
    F, R = french
    model, risk = ts_risk
    w = pd.Series(np.linspace(0.05, 0.2, 9), PORTFOLIOS)
    w_before = w.copy()
    result = risk.hedge(w, targets=["MktRF", "SMB"])
    b = model.coef_.T @ w.to_numpy()
    after = result.exposures["after"]
    assert np.abs(after[["MktRF", "SMB"]]).max() <= 1e-10
    assert_allclose(after["HML"], b[2], rtol=1e-14)  # untouched (up to summation order)
    assert_allclose(result.positions, [-b[0], -b[1], 0.0], rtol=RTOL)
    port = R.to_numpy() @ w.to_numpy()
    hedged = port - F[["MktRF", "SMB"]].to_numpy() @ b[:2]
    assert_allclose(result.returns["portfolio"], port, rtol=RTOL)
    assert_allclose(result.returns["hedged"], hedged, rtol=1e-12, atol=1e-17)
    assert result.returns.index.equals(F.index)
    # The hedged returns regress on MktRF and SMB with zero betas.
    hedged_model = TimeSeriesFactorModel().fit(F, result.returns["hedged"])
    assert np.abs(hedged_model.coef_[0, :2]).max() <= 1e-10
    pd.testing.assert_series_equal(w, w_before)


def test_hedge_quantile_portfolio_in_asset_weights():
    data = make_factor_panel(n_dates=80, n_assets=120, random_state=4)
    qpf = QuantilePortfolioFactor(n_quantiles=5, long_high={"size": False})
    qpf.fit(data.X, data.y)
    F = qpf.factor_returns_
    R = data.y.unstack()
    model = TimeSeriesFactorModel().fit(F, R)
    risk = FactorRiskModel.from_model(model, F, R)
    last = data.X.index.get_level_values(0).max()
    W = qpf.transform(data.X.xs(last, level=0))
    rng = np.random.default_rng(0)
    w = pd.Series(rng.dirichlet(np.ones(120)), index=R.columns)
    result = risk.hedge(w, targets=["value", "size"], factor_weights=W)
    B = model.coef_
    Wv = W.loc[R.columns, ["value", "size"]].to_numpy()
    M = B.T @ Wv
    b = B.T @ w.to_numpy()
    amounts = np.linalg.solve(M[:2], -b[:2])
    assert_allclose(result.portfolio_amounts, amounts, rtol=1e-10)
    hedged = w.to_numpy() + Wv @ amounts
    assert_allclose(result.weights["hedged"], hedged, rtol=1e-10, atol=1e-15)
    after = B.T @ result.weights["hedged"].to_numpy()
    assert np.abs(after[:2]).max() <= 1e-10
    assert_allclose(result.exposures["after_assets"], after, rtol=1e-10, atol=1e-12)
    # long-short factor portfolios keep the dollar amount invested
    assert result.weights["hedged"].sum() == pytest.approx(1.0, abs=1e-12)


def test_hedge_cross_sectional_market_exposure_of_equal_weights():
    data = make_factor_panel(n_dates=30, n_assets=80, random_state=8)
    Z = shuffled(CrossSectionalZScore().fit_transform(data.X), 2)
    y = data.y.reindex(Z.index)
    y.iloc[:5] = np.nan  # a few holes: those assets are not held below
    model = CrossSectionalFactorModel().fit(Z, y)
    risk = FactorRiskModel.from_model(model, Z, y, min_obs=20)
    R = y.unstack().sort_index()[risk.assets]
    always = R.columns[R.notna().all().to_numpy()]  # held assets with no gap
    assert 60 < len(always) < 80
    w = pd.Series(1.0 / len(always), always)
    result = risk.hedge(w, targets=["const"])
    b = risk.exposures.loc[always].T.to_numpy() @ w.to_numpy()
    assert b[0] == pytest.approx(1.0, abs=1e-15)
    assert abs(result.exposures.loc["const", "after"]) <= 1e-10
    assert_allclose(result.exposures["after"].iloc[1:], b[1:], rtol=RTOL)
    port = R[always].to_numpy() @ w.to_numpy()
    hedged = port - model.params_["const"].to_numpy()
    assert result.returns["hedged"].notna().all()
    assert_allclose(result.returns["hedged"], hedged, rtol=1e-12, atol=1e-17)


# ------------------------------------------------------------------------- PSD
def test_asset_covariance_is_psd_with_more_assets_than_dates():
    data = make_factor_panel(n_dates=30, n_assets=200, random_state=1)
    qpf = QuantilePortfolioFactor().fit(data.X, data.y)
    F, R = qpf.factor_returns_, data.y.unstack()
    risk = FactorRiskModel.from_model(
        TimeSeriesFactorModel().fit(F, R), F, R, halflife=10.0, lags=3
    )
    cov = risk.asset_covariance.to_numpy()
    assert cov.shape == (200, 200)
    assert np.array_equal(cov, cov.T)
    eig = np.linalg.eigvalsh(cov)
    assert eig.min() >= -1e-12 * eig.max()
    # Without specific variance the matrix has rank 3 and stays PSD.
    bare = FactorRiskModel(risk.exposures, risk.factor_covariance, np.zeros(200))
    eig = np.linalg.eigvalsh(bare.asset_covariance.to_numpy())
    assert eig.min() >= -1e-12 * eig.max()
    assert (eig > 1e-12 * eig.max()).sum() == 3


def test_factor_risk_model_rounds_a_slightly_negative_covariance_to_psd():
    B = pd.DataFrame(np.eye(2), index=["A", "B"], columns=["f", "g"])
    cov = pd.DataFrame([[1.0, 1.0], [1.0, 1.0 - 1e-13]], B.columns, B.columns)
    risk = FactorRiskModel(B, cov, [0.0, 0.0])
    assert np.linalg.eigvalsh(risk.factor_covariance.to_numpy()).min() >= 0


# ---------------------------------------------------------------------- errors
def test_factor_risk_model_errors_on_weights():
    risk, *_ = small_risk_model()
    with pytest.raises(ValueError, match=r"1 asset\(s\) that are not in the risk"):
        risk.risk_decomposition(pd.Series({"A": 0.5, "Z": 0.5}))
    with pytest.raises(ValueError, match=r"one weight per asset .*\(4\); got shape"):
        risk.risk_decomposition([0.5, 0.5])
    with pytest.raises(ValueError, match="`weights` contains NaN"):
        risk.hedge(weights=pd.Series({"A": np.nan}))
    with pytest.raises(ValueError, match="`benchmark` has 1 asset"):
        risk.risk_decomposition({"A": 1.0}, benchmark={"Q": 1.0})
    with pytest.raises(ValueError, match="duplicated assets"):
        risk.hedge(pd.Series([0.5, 0.5], index=["A", "A"]))
    with pytest.raises(TypeError, match="`weights` must be a Series"):
        risk.hedge(weights="A")


def test_factor_risk_model_errors_on_targets_and_factor_weights():
    risk, *_ = small_risk_model()
    with pytest.raises(ValueError, match="'HML', which is not a factor"):
        risk.hedge({"A": 1.0}, targets=["HML"])
    with pytest.raises(ValueError, match="for 'MKT' must be a finite number"):
        risk.hedge({"A": 1.0}, targets={"MKT": np.nan})
    with pytest.raises(TypeError, match="`targets` must be None"):
        risk.hedge({"A": 1.0}, targets=3)
    W = pd.DataFrame({"MKT": [0.5, 0.5, 0, 0]}, index=["A", "B", "C", "D"])
    with pytest.raises(
        ValueError, match=r"no column for the hedged factor\(s\) \['SMB'\]"
    ):
        risk.hedge({"A": 1.0}, factor_weights=W)
    panel = W.set_axis(pd.MultiIndex.from_product([[1], W.index]))
    with pytest.raises(ValueError, match="select one date first"):
        risk.hedge({"A": 1.0}, targets=["MKT"], factor_weights=panel)
    W0 = W.assign(SMB=0.0)
    with pytest.raises(ValueError, match="singular matrix"):
        risk.hedge({"A": 1.0}, factor_weights=W0)


def test_factor_risk_model_errors_on_pieces():
    B = pd.DataFrame(np.eye(2), index=["A", "B"], columns=["f", "g"])
    good = pd.DataFrame(np.eye(2), B.columns, B.columns)
    with pytest.raises(ValueError, match="positive semi-definite"):
        FactorRiskModel(
            B, pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], B.columns, B.columns), [1, 1]
        )
    with pytest.raises(ValueError, match="must be symmetric"):
        FactorRiskModel(
            B, pd.DataFrame([[1.0, 0.5], [0.0, 1.0]], B.columns, B.columns), [1, 1]
        )
    with pytest.raises(ValueError, match="labelled by the factors"):
        FactorRiskModel(B, pd.DataFrame(np.eye(2), ["x", "y"], ["x", "y"]), [1, 1])
    with pytest.raises(ValueError, match="no value for 1 asset"):
        FactorRiskModel(B, good, pd.Series({"A": 1.0}))
    with pytest.raises(ValueError, match="finite and >= 0"):
        FactorRiskModel(B, good, [1.0, -1.0])
    with pytest.raises(ValueError, match="`exposures` contains NaN"):
        FactorRiskModel(B.where(B > 0), good, [1.0, 1.0])
    with pytest.raises(ValueError, match="`asset_returns` has no column for 1"):
        FactorRiskModel(B, good, [1, 1], asset_returns=pd.DataFrame({"A": [0.1]}))


def test_factor_covariance_and_specific_variance_errors(small):
    with pytest.raises(ValueError, match="`halflife` must be a positive number"):
        factor_covariance(small, halflife=0)
    with pytest.raises(ValueError, match="`lags` must be an integer >= 0"):
        factor_covariance(small, lags=-1)
    with pytest.raises(
        ValueError, match=r"smaller than the number of complete dates \(60\)"
    ):
        factor_covariance(small, lags=60)
    with pytest.raises(ValueError, match="at least 2 dates"):
        factor_covariance(small.iloc[:1])
    with pytest.raises(TypeError, match="must be a DataFrame"):
        factor_covariance(small.to_numpy())
    with pytest.raises(ValueError, match="contains inf"):
        factor_covariance(small.replace(small.iloc[0, 0], np.inf))
    with pytest.raises(ValueError, match="No asset has `min_obs`=61 residuals"):
        specific_variance(small, min_obs=61)
    with pytest.raises(ValueError, match="`min_obs` must be an integer >= 2"):
        specific_variance(small, min_obs=1)


def test_from_model_errors(french, cs_data):
    F, R = french
    with pytest.raises(NotFittedError, match="not fitted"):
        FactorRiskModel.from_model(TimeSeriesFactorModel(), F, R)
    with pytest.raises(TypeError, match="got RollingFactorModel"):
        FactorRiskModel.from_model(RollingFactorModel(), F, R)
    model = TimeSeriesFactorModel().fit(F, R)
    with pytest.raises(ValueError, match="feature names"):
        FactorRiskModel.from_model(model, F[["SMB", "MktRF", "HML"]], R)
    with pytest.raises(ValueError, match="Pass the factor returns `X`"):
        FactorRiskModel.from_model(model, None, R)
    with pytest.raises(ValueError, match="and the asset returns `y`"):
        FactorRiskModel.from_model(model, F)
    with pytest.raises(ValueError, match="`date` applies to a CrossSectional"):
        FactorRiskModel.from_model(model, F, R, date=F.index[-1])
    with pytest.raises(ValueError, match="`y` must hold the 9 assets"):
        FactorRiskModel.from_model(model, F, R.iloc[:, :4])
    short = R.copy()
    short.iloc[3:, 0] = np.nan
    with pytest.warns(UserWarning, match="1 of 9 assets"):
        bad = TimeSeriesFactorModel().fit(F, short)
    with pytest.raises(ValueError, match=r"1 asset\(s\) have no exposure .*'S1V1'"):
        FactorRiskModel.from_model(bad, F, short)
    Z, y = cs_data
    cs = CrossSectionalFactorModel().fit(Z, y)
    with pytest.raises(ValueError, match="is not a date of `X`"):
        FactorRiskModel.from_model(cs, Z, y, date=pd.Timestamp("1990-01-01"))
    with pytest.raises(ValueError, match="Series of returns on `X`'s index"):
        FactorRiskModel.from_model(cs, Z, shuffled(y), min_obs=30)
    holes = Z.copy()
    last = holes.index.get_level_values(0) == holes.index.get_level_values(0).max()
    holes.loc[last, "value"] = np.where(np.arange(last.sum()) == 0, np.nan, 1.0)
    with pytest.raises(ValueError, match="NaN loadings on the exposure date"):
        FactorRiskModel.from_model(cs, holes, y, min_obs=30)
    with pytest.raises(ValueError, match="each asset's residual history: pass"):
        FactorRiskModel.from_model(cs, Z)
    one = CrossSectionalFactorModel().fit(Z.to_numpy()[:100], y.to_numpy()[:100])
    with pytest.raises(ValueError, match="each asset's residual history: pass"):
        FactorRiskModel.from_model(one, Z.to_numpy()[:100], y.to_numpy()[:100])


def test_factor_risk_model_portfolio_is_named_portfolio_and_weights_still_works():
    risk, *_ = small_risk_model()
    w = pd.Series({"A": 0.5, "B": 0.5})
    by_name = risk.risk_decomposition(portfolio=w)
    old = risk.risk_decomposition(weights=w)
    assert by_name.total_variance == old.total_variance
    assert risk.risk_decomposition(w).total_variance == old.total_variance
    pd.testing.assert_series_equal(risk.exposures_of(portfolio=w), risk.exposures_of(w))
    hedged = risk.hedge(portfolio=w, targets=["MKT"])
    pd.testing.assert_frame_equal(hedged.portfolio_exposures, hedged.exposures)
    pd.testing.assert_frame_equal(
        hedged.portfolio_exposures, risk.hedge(weights=w, targets=["MKT"]).exposures
    )
    with pytest.raises(TypeError, match="`portfolio`, or its older spelling"):
        risk.hedge(w, weights=w)
    with pytest.raises(TypeError, match="`portfolio` is required"):
        risk.risk_decomposition()
    with pytest.raises(ValueError, match="`portfolio` contains NaN"):
        risk.hedge(pd.Series({"A": np.nan}))
