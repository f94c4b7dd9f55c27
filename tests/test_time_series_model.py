"""TimeSeriesFactorModel against statsmodels OLS per asset, on Ken French's data."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from statsmodels.stats.sandwich_covariance import cov_hac_simple

from skfactor import TimeSeriesFactorModel
from skfactor.models._summary import HEADER_KEYS, Summary
from skfactor.utils._numerics import parzen
from tests.conftest import FACTORS, PORTFOLIOS, forbid

RTOL = 1e-10
COV_CASES = {
    "nonrobust": {},
    "HC0": {},
    "HC1": {},
    "HC2": {},
    "HC3": {},
    "HAC": {"maxlags": 6},
    "HAC-corrected": {"maxlags": 3, "use_correction": True},
}


def unbalanced(R):
    """S1V1 lists 100 months late, S3V3 has a 17-month gap, S5V5 scattered holes."""
    R = R.copy()
    R.iloc[:100, R.columns.get_loc("S1V1")] = np.nan
    R.iloc[300:317, R.columns.get_loc("S3V3")] = np.nan
    holes = np.random.default_rng(0).random(len(R)) < 0.1
    R.loc[holes, "S5V5"] = np.nan
    return R


def statsmodels_fit(F, r, cov_type="nonrobust", maxlags=None, use_correction=False):
    cov_kwds = None
    if cov_type == "HAC":
        cov_kwds = {"maxlags": maxlags, "use_correction": use_correction}
    return sm.OLS(r, sm.add_constant(F), missing="drop").fit(
        cov_type=cov_type, cov_kwds=cov_kwds
    )


def assert_equals_statsmodels(model, F, R, cov_type, columns=None, **kwargs):
    residuals = model.residuals(F, R)
    for i, asset in enumerate(R.columns):
        if columns is not None and i not in columns:
            continue
        res = statsmodels_fit(F, R[asset], cov_type, **kwargs)
        params = np.r_[model.intercept_[i], model.coef_[i]]
        assert_allclose(params, res.params, rtol=RTOL)
        assert_allclose(model.params_.loc[asset], res.params, rtol=RTOL)
        assert_allclose(model.bse_.loc[asset], res.bse, rtol=RTOL)
        assert_allclose(model.cov_params_[i], res.cov_params(), rtol=RTOL)
        assert_allclose(model.tvalues_.loc[asset], res.tvalues, rtol=RTOL)
        assert_allclose(model.pvalues_.loc[asset], res.pvalues, rtol=RTOL, atol=1e-300)
        assert_allclose(model.rsquared_[asset], res.rsquared, rtol=RTOL)
        assert_allclose(model.rsquared_adj_[asset], res.rsquared_adj, rtol=RTOL)
        assert model.nobs_[asset] == res.nobs
        resid = residuals[asset]
        assert_allclose(resid.dropna(), res.resid, rtol=RTOL, atol=1e-15)
        assert_array_equal(resid.dropna().index, res.resid.index)


@pytest.mark.parametrize("balance", ["balanced", "unbalanced"])
@pytest.mark.parametrize("case", list(COV_CASES))
def test_time_series_model_equals_statsmodels_per_portfolio(french, case, balance):
    F, R = french
    R = unbalanced(R) if balance == "unbalanced" else R
    cov_type = case.split("-")[0]
    kwargs = COV_CASES[case]
    model = TimeSeriesFactorModel(cov_type=cov_type, **kwargs).fit(F, R)
    assert model.coef_.shape == (9, 3) and model.intercept_.shape == (9,)
    for attr in ("params_", "bse_", "tvalues_", "pvalues_"):
        table = getattr(model, attr)
        assert table.index.equals(R.columns) and table.index.name == "asset"
        assert table.columns.tolist() == ["const", *FACTORS]
    for attr in ("rsquared_", "rsquared_adj_", "nobs_"):
        assert getattr(model, attr).index.equals(R.columns)
    assert not hasattr(model, "resid_")  # no training-sized array kept
    assert_equals_statsmodels(model, F, R, cov_type, **kwargs)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC2", "HC3", "HAC"])
def test_time_series_model_many_assets_equal_statsmodels(french, cov_type):
    # 2,610 assets on 819 dates: the fit runs in blocks of 80 columns, the HAC
    # kernel in chunks of 160 and the HC kernel in chunks of 2,560, each mixing
    # complete, late-listing, delisting and holey columns; the columns at the
    # block edges equal statsmodels.
    F, R = french
    R = unbalanced(R)
    R.iloc[-200:, R.columns.get_loc("S5V1")] = np.nan
    rng = np.random.default_rng(5)
    big = pd.concat(
        [(R + rng.normal(0, 0.5, R.shape)).add_suffix(f"_{k}") for k in range(290)],
        axis=1,
    )
    kwargs = COV_CASES[cov_type]
    model = TimeSeriesFactorModel(cov_type=cov_type, **kwargs).fit(F, big)
    edges = {0, 1, 79, 80, 81, 159, 160, 161, 2559, 2560, 2561, 2609}
    assert_equals_statsmodels(model, F, big, cov_type, columns=edges, **kwargs)


def test_time_series_model_hac_lags_beyond_the_sample_equal_statsmodels(french):
    # Lags past an asset's dates add nothing, whether the asset is observed on
    # one run of dates (S1V1, 20 dates) or with gaps (S5V5).
    F, R = french
    R = unbalanced(R.iloc[-120:])
    F = F.iloc[-120:]
    model = TimeSeriesFactorModel(cov_type="HAC", maxlags=150).fit(F, R)
    assert_equals_statsmodels(model, F, R, "HAC", maxlags=150)


def test_time_series_model_hac_default_lags_equal_statsmodels_rule(french):
    F, R = french
    R = unbalanced(R)
    model = TimeSeriesFactorModel(cov_type="HAC").fit(F, R)
    for i, asset in enumerate(R.columns):
        res = statsmodels_fit(F, R[asset])
        cov = cov_hac_simple(res, nlags=None, use_correction=False)
        assert_allclose(model.cov_params_[i], cov, rtol=RTOL)
        z = res.params / np.sqrt(np.diag(cov))
        assert_allclose(model.pvalues_.iloc[i], 2 * stats.norm.sf(np.abs(z)), rtol=RTOL)


def test_time_series_model_use_t_overrides_the_distribution(french):
    F, R = french
    model = TimeSeriesFactorModel(cov_type="HC1", use_t=True).fit(F, R)
    res = sm.OLS(R["S1V1"], sm.add_constant(F)).fit(cov_type="HC1", use_t=True)
    assert_allclose(model.pvalues_.iloc[0], res.pvalues, rtol=RTOL, atol=1e-300)


def test_time_series_model_grs_equals_formula(french):
    F, R = french
    R = R.copy()
    R.iloc[:5, 0] = np.nan  # GRS runs over the dates where every asset has data
    model = TimeSeriesFactorModel().fit(F, R)

    rows = R.notna().all(axis=1).to_numpy()
    f, r = F.to_numpy()[rows], R.to_numpy()[rows]
    T, N, K = len(f), r.shape[1], f.shape[1]
    X = np.column_stack([np.ones(T), f])
    theta = np.linalg.lstsq(X, r, rcond=None)[0]
    alpha, eps = theta[0], r - X @ theta
    sigma = eps.T @ eps / T
    mu = f.mean(axis=0)
    omega = (f - mu).T @ (f - mu) / T
    stat = (
        (T - N - K)
        / N
        * (alpha @ np.linalg.inv(sigma) @ alpha)
        / (1 + mu @ np.linalg.inv(omega) @ mu)
    )
    grs = model.grs_
    assert_allclose(grs.statistic, stat, rtol=1e-10)
    assert_allclose(grs.pvalue, stats.f.sf(stat, N, T - N - K), rtol=1e-8)
    assert (grs.df_num, grs.df_denom) == (N, T - N - K)
    statistic, pvalue = grs  # unpacks as the (statistic, p-value) pair
    assert (statistic, pvalue) == (grs.statistic, grs.pvalue)


def test_time_series_model_alphas_equal_linearmodels(french):
    from linearmodels.asset_pricing import TradedFactorModel

    F, R = french
    model = TimeSeriesFactorModel().fit(F, R)
    res = TradedFactorModel(R, F).fit()
    assert_allclose(model.intercept_, res.alphas, rtol=1e-10, atol=1e-15)
    assert_allclose(model.coef_, res.betas, rtol=1e-10)


def test_time_series_model_grs_undefined_without_enough_dates_or_intercept(french):
    F, R = french
    short = TimeSeriesFactorModel().fit(F.iloc[:12], R.iloc[:12])
    with pytest.warns(UserWarning, match=r"T > N \+ K\); got T=12 .* N=9 .* K=3"):
        grs = short.grs_
    assert np.isnan(list(grs)).all()
    assert (grs.df_num, grs.df_denom) == (9, 12 - 9 - 3)
    assert np.isfinite(short.coef_).all()
    no_const = TimeSeriesFactorModel(fit_intercept=False).fit(F, R)
    with pytest.warns(UserWarning, match=r"of the alphas: `fit_intercept=False`"):
        assert np.isnan(list(no_const.grs_)).all()


def test_time_series_model_grs_warns_when_dates_do_not_exceed_assets_plus_factors():
    rng = np.random.default_rng(0)
    T, N, K = 40, 38, 2  # T = N + K: the test is undefined
    F = pd.DataFrame(rng.normal(size=(T, K)), columns=["mkt", "smb"])
    R = pd.DataFrame(rng.normal(size=(T, N)) + F.to_numpy() @ rng.normal(size=(K, N)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fitting stock betas needs no GRS test
        model = TimeSeriesFactorModel().fit(F, R)
    with pytest.warns(UserWarning, match="got T=40 such dates for N=38 assets and K=2"):
        grs = model.grs_  # reading it says why it is NaN
    assert np.isnan(grs.statistic) and grs.df_denom == 0 and "T > N + K" in grs.why
    assert np.isfinite(model.coef_).all()  # the regressions themselves are fine
    # One more date (T > N + K) and the test is defined, without a warning.
    F1 = pd.concat([F, F.iloc[:1]], ignore_index=True)
    R1 = pd.concat([R, R.iloc[:1] * 1.1], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(TimeSeriesFactorModel().fit(F1, R1).grs_.statistic)
    # Asset 0 missing one date: 39 dates with every asset.
    holed = R1.copy()
    holed.iloc[3, 0] = np.nan
    with pytest.warns(UserWarning, match="got T=40 such dates"):
        assert np.isnan(TimeSeriesFactorModel().fit(F1, holed).grs_.statistic)


def test_time_series_model_late_listing_asset_equals_statsmodels_on_its_rows(french):
    F, R = french
    late = R["S1V1"].copy()
    late.iloc[:400] = np.nan
    late.iloc[500:520] = np.nan
    R = R.assign(S1V1=late)
    model = TimeSeriesFactorModel(cov_type="HAC", maxlags=4).fit(F, R)
    own = late.dropna().index
    res = sm.OLS(late.loc[own], sm.add_constant(F.loc[own])).fit(
        cov_type="HAC", cov_kwds={"maxlags": 4}
    )
    assert model.nobs_["S1V1"] == len(own) == 399
    assert_allclose(np.r_[model.intercept_[0], model.coef_[0]], res.params, rtol=RTOL)
    assert_allclose(model.bse_.loc["S1V1"], res.bse, rtol=RTOL)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HAC"])
def test_time_series_model_factor_nan_date_is_dropped_for_every_asset(french, cov_type):
    F, R = french
    F = F.copy()
    F.iloc[[3, 50, 51], 1] = np.nan
    kwargs = {"maxlags": 5} if cov_type == "HAC" else {}
    model = TimeSeriesFactorModel(cov_type=cov_type, **kwargs).fit(F, unbalanced(R))
    assert model.nobs_.iloc[4] == len(F) - 3 - 17  # S3V3's gap is elsewhere
    assert model.residuals(F, R).iloc[[3, 50, 51]].isna().all().all()
    assert_equals_statsmodels(model, F, unbalanced(R), cov_type, **kwargs)


def test_time_series_model_without_intercept_equals_statsmodels(french):
    F, R = french
    R = unbalanced(R)
    model = TimeSeriesFactorModel(fit_intercept=False, cov_type="HC2").fit(F, R)
    assert_array_equal(model.intercept_, np.zeros(9))
    assert model.bse_.shape == (9, 3) and model.bse_.columns.tolist() == FACTORS
    for i, asset in enumerate(R.columns):
        res = sm.OLS(R[asset], F, missing="drop").fit(cov_type="HC2")
        assert_allclose(model.coef_[i], res.params, rtol=RTOL)
        assert_allclose(model.bse_.loc[asset], res.bse, rtol=RTOL)
        assert_allclose(model.rsquared_[asset], res.rsquared, rtol=RTOL)  # uncentered
        assert_allclose(model.rsquared_adj_[asset], res.rsquared_adj, rtol=RTOL)
    assert model.summary().index.get_level_values("term")[0] == "MktRF"


def test_time_series_model_series_input_gives_one_dimensional_outputs(french):
    F, R = french
    r = R["S3V3"]
    model = TimeSeriesFactorModel().fit(F, r)
    full = TimeSeriesFactorModel().fit(F, R)
    assert model.coef_.shape == (1, 3)
    assert_allclose(model.coef_[0], full.coef_[4], rtol=RTOL)
    assert list(model.assets_) == ["S3V3"]
    pred = model.predict(F)
    assert isinstance(pred, pd.Series) and pred.name == "S3V3"
    assert pred.index.equals(F.index)
    resid = model.residuals(F, r)
    assert isinstance(resid, pd.Series) and resid.name == "S3V3"
    assert_allclose(resid, r - pred, atol=1e-15)
    assert model.summary().index.get_level_values("asset").unique().tolist() == ["S3V3"]


def test_time_series_model_numpy_in_gives_the_same_numbers(french):
    F, R = french
    R = unbalanced(R)
    pd_model = TimeSeriesFactorModel(cov_type="HAC", maxlags=2).fit(F, R)
    np_model = TimeSeriesFactorModel(cov_type="HAC", maxlags=2).fit(
        F.to_numpy(), R.to_numpy()
    )
    for attr in ("coef_", "intercept_", "bse_", "pvalues_", "rsquared_"):
        assert_array_equal(getattr(np_model, attr), getattr(pd_model, attr))
    assert np_model.params_.columns.tolist() == ["const", "x0", "x1", "x2"]
    resid = np_model.residuals(F.to_numpy(), R.to_numpy())
    assert isinstance(resid, np.ndarray)
    assert_array_equal(resid, pd_model.residuals(F, R).to_numpy())
    pred = np_model.predict(F.to_numpy())
    assert isinstance(pred, np.ndarray) and pred.shape == R.shape
    one = TimeSeriesFactorModel().fit(F.to_numpy(), R["S1V1"].to_numpy())
    assert one.predict(F.to_numpy()).shape == (len(F),)


def test_time_series_model_predict_and_score(french):
    F, R = french
    train, test = slice(0, 600), slice(600, None)
    model = TimeSeriesFactorModel().fit(F.iloc[train], R.iloc[train])
    pred = model.predict(F.iloc[test])
    assert pred.index.equals(F.index[test]) and pred.columns.equals(R.columns)
    expected = F.iloc[test].to_numpy() @ model.coef_.T + model.intercept_
    assert_allclose(pred, expected, rtol=1e-14)
    score = model.score(F.iloc[test], R.iloc[test])
    assert_allclose(score, r2_score(R.iloc[test], pred), rtol=1e-12)
    w = np.random.default_rng(1).random(len(pred))
    assert_allclose(
        model.score(F.iloc[test], R.iloc[test], sample_weight=w),
        r2_score(R.iloc[test], pred, sample_weight=w),
        rtol=1e-12,
    )
    # In sample, the score is the mean of rsquared_.
    in_sample = model.score(F.iloc[train], R.iloc[train])
    assert_allclose(in_sample, model.rsquared_.mean(), rtol=1e-12)


def test_time_series_model_score_skips_missing_cells(french):
    F, R = french
    R = unbalanced(R)
    F = F.copy()
    F.iloc[7, 0] = np.nan
    model = TimeSeriesFactorModel().fit(F, R)
    pred = model.predict(F)
    assert pred.iloc[7].isna().all()
    per_asset = []
    for asset in R.columns:
        ok = R[asset].notna() & pred[asset].notna()
        per_asset.append(r2_score(R.loc[ok, asset], pred.loc[ok, asset]))
    assert_allclose(model.score(F, R), np.mean(per_asset), rtol=1e-12)
    assert_allclose(model.rsquared_, per_asset, rtol=1e-10)


def test_time_series_model_summary_layout(french):
    F, R = french
    model = TimeSeriesFactorModel(cov_type="HC3").fit(F, R)
    table = model.summary()
    assert table.index.names == ["asset", "term"]
    assert list(table.columns) == ["coef", "std_err", "t", "p_value"]
    assert table.shape == (9 * 4, 4)
    assert table.loc["S5V5"].index.tolist() == ["const", *FACTORS]
    assert table.index.get_level_values("asset").unique().tolist() == PORTFOLIOS
    assert_allclose(table.loc[("S1V3", "const"), "coef"], model.intercept_[1])
    assert_allclose(table.loc[("S1V3", "HML"), "coef"], model.coef_[1, 2])
    assert_allclose(table["coef"].to_numpy().reshape(9, 4), model.params_)
    assert_allclose(table["std_err"].to_numpy().reshape(9, 4), model.bse_)
    assert_allclose(table["t"].to_numpy().reshape(9, 4), model.tvalues_)
    assert_allclose(table["p_value"].to_numpy().reshape(9, 4), model.pvalues_)
    unnamed = TimeSeriesFactorModel().fit(F.to_numpy(), R.to_numpy()).summary()
    assert unnamed.loc[0].index.tolist() == ["const", "x0", "x1", "x2"]


def test_time_series_model_row_order_does_not_change_ols_or_hc(french):
    F, R = french
    R = unbalanced(R)
    perm = np.random.default_rng(3).permutation(len(F))
    a = TimeSeriesFactorModel(cov_type="HC3").fit(F, R)
    b = TimeSeriesFactorModel(cov_type="HC3").fit(F.iloc[perm], R.iloc[perm])
    assert_allclose(b.coef_, a.coef_, rtol=1e-12)
    assert_allclose(b.bse_, a.bse_, rtol=1e-12)
    ra, rb = a.residuals(F, R), b.residuals(F.iloc[perm], R.iloc[perm])
    assert_allclose(rb.loc[ra.index], ra, rtol=1e-9, atol=1e-15)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cov=st.sampled_from(["nonrobust", "HC1", "HAC"]))
def test_time_series_model_permuting_assets_permutes_outputs(seed, cov):
    rng = np.random.default_rng(seed)
    T, N, K = 60, 7, 2
    F = pd.DataFrame(rng.normal(size=(T, K)), columns=["f0", "f1"])
    R = pd.DataFrame(
        F.to_numpy() @ rng.normal(size=(K, N)) + rng.normal(size=(T, N)),
        columns=[f"a{i}" for i in range(N)],
    )
    R = R.mask(rng.random((T, N)) < 0.15)
    perm = rng.permutation(N)
    a = TimeSeriesFactorModel(cov_type=cov, maxlags=2).fit(F, R)
    b = TimeSeriesFactorModel(cov_type=cov, maxlags=2).fit(F, R.iloc[:, perm])
    # BLAS may round a row's fitted values differently at another position:
    # 1e-16 in the residuals, which R² = 1 - ssr/tss turns into ~1e-16 absolute
    # (not relative, when R² is near 0).
    for attr in ("coef_", "intercept_"):
        assert_allclose(
            getattr(b, attr), getattr(a, attr)[perm], rtol=1e-12, atol=1e-14
        )
    for attr in ("bse_", "pvalues_", "rsquared_", "nobs_"):
        assert getattr(b, attr).index.equals(getattr(a, attr).index[perm])
        assert_allclose(
            getattr(b, attr), getattr(a, attr).iloc[perm], rtol=1e-12, atol=1e-14
        )
    assert_allclose(
        b.residuals(F, R.iloc[:, perm]),
        a.residuals(F, R).iloc[:, perm],
        rtol=1e-12,
        atol=1e-14,
    )
    assert list(b.assets_) == list(R.columns[perm])


def test_time_series_model_too_few_rows_or_collinear_asset_is_nan_with_one_warning(
    french,
):
    F, R = french
    R = R.copy()
    R.iloc[4:, 0] = np.nan  # 4 dates for 4 regressors
    R.iloc[:, 1] = np.nan  # no data at all
    # S1V5 only on dates where SMB is 0 -> SMB collinear with nothing: all zero
    F = F.copy()
    F.iloc[:40, 1] = 0.0
    R.iloc[40:, 2] = np.nan
    with pytest.warns(UserWarning, match=r"3 of 9 assets .* are NaN") as record:
        model = TimeSeriesFactorModel().fit(F, R)
    messages = [str(w.message) for w in record]
    assert len([m for m in messages if "of 9 assets" in m]) == 1
    assert "S1V1" in messages[0]
    # An asset without data leaves no date with every asset: GRS says so when read.
    assert "got T=0 such dates" in model._grs.why
    assert np.isnan(model.coef_[:3]).all() and model.bse_.iloc[:3].isna().all().all()
    assert model.rsquared_.iloc[:3].isna().all()
    assert model.residuals(F, R).iloc[:, :3].isna().all().all()
    assert_equals_statsmodels(
        TimeSeriesFactorModel().fit(F, R.iloc[:, 3:]), F, R.iloc[:, 3:], "nonrobust"
    )
    assert_allclose(
        model.coef_[3:], TimeSeriesFactorModel().fit(F, R.iloc[:, 3:]).coef_
    )


def test_time_series_model_does_not_mutate_inputs(french):
    F, R = french
    R = unbalanced(R)
    F0, R0 = F.copy(), R.copy()
    TimeSeriesFactorModel(cov_type="HAC").fit(F, R).score(F, R)
    pd.testing.assert_frame_equal(F, F0)
    pd.testing.assert_frame_equal(R, R0)


def test_time_series_model_in_grid_search_with_time_series_split(french):
    F, R = french
    search = GridSearchCV(
        TimeSeriesFactorModel(), {"fit_intercept": [True, False]}, cv=TimeSeriesSplit(3)
    ).fit(F, R)
    assert search.best_params_["fit_intercept"] in (True, False)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda F, R: (F, None), "requires y to be passed"),
        (lambda F, R: (F, R * np.nan), "`y` has no observed value"),
        (lambda F, R: (F.assign(dup=F["SMB"]), R), "`X` .* are collinear"),
        (lambda F, R: (F.assign(c=1.0), R), "collinear"),
        (lambda F, R: (F, R.replace(R.iloc[0, 0], np.inf)), "`y` contains inf"),
        (lambda F, R: (F, R.iloc[::-1]), "`X` and `y` have different indexes"),
        (lambda F, R: (F, R.iloc[1:]), "different indexes"),
        (lambda F, R: (F.to_numpy(), R.to_numpy()[1:]), "`X` has 819 dates but `y`"),
        (
            lambda F, R: (pd.concat([F, F.iloc[:1]]), pd.concat([R, R.iloc[:1]])),
            "duplicated dates",
        ),
        (
            lambda F, R: (F.set_index(F.index.rename("d"), append=True), R),
            "MultiIndex",
        ),
    ],
)
def test_time_series_model_bad_input_errors(french, make, match):
    F, R = french
    X, y = make(F, R)
    with pytest.raises(ValueError, match=match):
        TimeSeriesFactorModel().fit(X, y)


@pytest.mark.parametrize(
    ("cells", "factor_nan_row"),
    [
        ({(3, 4): -np.inf}, None),  # a complete column
        ({(3, 0): np.inf, (5, 8): -np.inf}, None),  # two columns
        ({(700, 2): np.inf}, None),  # a late-listing (holey) column
        ({(10, 1): np.inf}, 10),  # on a date the regressions skip
        ({(818, 5): np.inf}, None),  # a column with too few dates to regress
        ({(0, 6): 1e200, (4, 7): np.inf}, None),  # an overflow beside an inf
    ],
)
def test_time_series_model_inf_in_y_is_an_error_naming_its_columns(
    french, cells, factor_nan_row
):
    # An inf anywhere (complete, holey, skipped or too-short columns) raises,
    # naming its columns.
    F, R = french
    F, R = F.copy(), R.copy()
    R.iloc[:600, 2] = np.nan
    R.iloc[:-3, 5] = np.nan
    for (i, j), value in cells.items():
        R.iloc[i, j] = value
    if factor_nan_row is not None:
        F.iloc[factor_nan_row, 0] = np.nan
    names = [c for j, c in enumerate(R.columns) if np.isinf(R.iloc[:, j]).any()]
    message = f"`y` contains inf or -inf in column(s) {names}"
    with pytest.raises(ValueError, match=re.escape(message)):
        TimeSeriesFactorModel().fit(F, R)


def test_time_series_model_huge_return_keeps_finite_statistics(french):
    """A return of 1e200 (its square overflows) is fitted in power-of-two units."""
    F, R = french
    R = R.copy()
    R.iloc[0, 6] = 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = TimeSeriesFactorModel().fit(F, R)
    scaled = R.assign(**{R.columns[6]: R.iloc[:, 6] * 2.0**-600})  # exact
    ref = TimeSeriesFactorModel().fit(F, scaled)
    assert np.isfinite(model.rsquared_).all()
    np.testing.assert_array_equal(model.rsquared_, ref.rsquared_)
    np.testing.assert_array_equal(model.tvalues_, ref.tvalues_)


@pytest.mark.parametrize("factor", [2.0**-530, 1e-160, 1e160])
def test_time_series_model_scale_of_factors_and_returns_irrelevant(french, factor):
    F, R = french
    base = TimeSeriesFactorModel().fit(F, R)
    rtol = 0 if factor == 2.0**-530 else 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = TimeSeriesFactorModel().fit(F * factor, R)
        big = TimeSeriesFactorModel().fit(F, R * factor)
    np.testing.assert_allclose(small.coef_, base.coef_ / factor, rtol=rtol + 1e-12)
    np.testing.assert_allclose(big.params_, base.params_ * factor, rtol=rtol + 1e-12)
    np.testing.assert_allclose(big.bse_, base.bse_ * factor, rtol=1e-10)
    for model in (small, big):
        np.testing.assert_allclose(model.tvalues_, base.tvalues_, rtol=1e-10)
        np.testing.assert_allclose(model.rsquared_, base.rsquared_, rtol=1e-10)
        assert model.grs_.statistic == pytest.approx(base.grs_.statistic, rel=1e-10)


def test_time_series_model_bad_parameters_and_score_assets(french):
    F, R = french
    with pytest.raises(ValueError, match='`cov_type` must be one of "nonrobust"'):
        TimeSeriesFactorModel(cov_type="HC4").fit(F, R)
    with pytest.raises(ValueError, match="'maxlags' parameter .* must be"):
        TimeSeriesFactorModel(cov_type="HAC", maxlags=-1).fit(F, R)
    model = TimeSeriesFactorModel().fit(F, R)
    with pytest.raises(ValueError, match="`y` must hold the 9 assets"):
        model.score(F, R.iloc[:, ::-1])
    with pytest.raises(ValueError, match="`sample_weight` must have one weight"):
        model.score(F, R, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now"):
        model.predict(F.iloc[:, :2])
    np_model = TimeSeriesFactorModel().fit(F.to_numpy(), R.to_numpy())
    with pytest.raises(ValueError, match="X has 2 features"):
        np_model.predict(F.to_numpy()[:, :2])


def test_time_series_model_fit_is_silent_on_clean_data(french):
    F, R = french
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TimeSeriesFactorModel(cov_type="HC3").fit(F, unbalanced(R))


def test_time_series_model_fit_computes_no_inference(french, monkeypatch):
    # bse_, tvalues_, pvalues_ and cov_params_ come on first access, from the
    # per-asset moments `fit` keeps; before `fit` they raise without computing.
    import skfactor.models._time_series as module

    F, R = french
    unfitted = TimeSeriesFactorModel()
    assert not hasattr(unfitted, "bse_")
    with pytest.raises(NotFittedError, match="`pvalues_` exists once"):
        _ = unfitted.pvalues_

    for cov_type in ("nonrobust", "HC3", "HAC"):
        with monkeypatch.context() as patch:
            forbid(patch, module, "t_p_values", "sandwich")
            model = TimeSeriesFactorModel(cov_type=cov_type).fit(F, unbalanced(R))
        assert set(model._lazy) == {"moments"}
        moments = model._lazy["moments"]
        assert all(  # a few numbers per asset, nothing per date
            np.size(v) <= 9 * 16 for v in moments.values() if v is not None
        )
        if cov_type != "HAC":  # the default lags: see the rule's test
            assert_equals_statsmodels(model, F, unbalanced(R), cov_type)
        _ = model.bse_  # one access computes (and caches) all of them
        assert set(model._lazy) > {"bse_", "tvalues_", "pvalues_", "cov_params_"}


def test_time_series_model_lazy_inference_survives_pickle_and_clone(french):
    F, R = french
    R = unbalanced(R)
    model = TimeSeriesFactorModel(cov_type="HC1").fit(F, R)
    copy = pickle.loads(pickle.dumps(model))  # pickled before the first access
    for attr in ("bse_", "tvalues_", "pvalues_"):
        assert_frame_equal(getattr(copy, attr), getattr(model, attr))
    assert_array_equal(copy.cov_params_, model.cov_params_)
    again = clone(model).fit(F, R)
    assert_frame_equal(again.pvalues_, model.pvalues_)
    refit = model.fit(F.iloc[:400], R.iloc[:400])  # a new fit forgets the cache
    res = statsmodels_fit(F.iloc[:400], R["S1V1"].iloc[:400], "HC1")
    assert_allclose(refit.bse_.loc["S1V1"], res.bse, rtol=RTOL)


@pytest.mark.parametrize(
    ("alias", "canonical", "kwargs"),
    [
        ("unadjusted", "nonrobust", {}),
        ("fama-macbeth", "nonrobust", {}),
        ("HAC", "kernel", {"maxlags": 5}),
        ("newey-west", "kernel", {"bandwidth": 5}),
    ],
)
def test_time_series_model_cov_type_aliases_give_the_canonical_result(
    french, alias, canonical, kwargs
):
    F, R = french
    R = unbalanced(R)
    model = TimeSeriesFactorModel(cov_type=alias, **kwargs).fit(F, R)
    ref = TimeSeriesFactorModel(cov_type=canonical, bandwidth=5).fit(F, R)
    assert_frame_equal(model.bse_, ref.bse_)
    assert_frame_equal(model.pvalues_, ref.pvalues_)
    assert model.summary().header["cov_type"] == canonical


def test_time_series_model_bandwidth_is_maxlags(french):
    F, R = french
    R = unbalanced(R)
    by_maxlags = TimeSeriesFactorModel(cov_type="HAC", maxlags=6).fit(F, R)
    model = TimeSeriesFactorModel(cov_type="kernel", bandwidth=6.7).fit(F, R)
    assert_frame_equal(model.bse_, by_maxlags.bse_)  # its integer part
    both = TimeSeriesFactorModel(cov_type="kernel", bandwidth=6, maxlags=6).fit(F, R)
    assert_frame_equal(both.bse_, by_maxlags.bse_)
    assert {"bandwidth", "maxlags", "kernel"} <= set(model.get_params())
    with pytest.raises(ValueError, match="`bandwidth`=5 and `maxlags`=6 name the"):
        TimeSeriesFactorModel(cov_type="kernel", bandwidth=5, maxlags=6).fit(F, R)


def test_time_series_model_parzen_kernel_equals_statsmodels(french):
    # statsmodels' HAC takes any kernel as a weights function of the lags.
    F, R = french
    R = unbalanced(R)
    model = TimeSeriesFactorModel(cov_type="kernel", kernel="parzen", bandwidth=7)
    model.fit(F, R)

    def weights(nlags):
        return parzen(np.arange(nlags + 1), nlags)

    for asset in R.columns:
        res = sm.OLS(R[asset], sm.add_constant(F), missing="drop").fit(
            cov_type="HAC", cov_kwds={"maxlags": 7, "kernel": weights}
        )
        assert_allclose(model.bse_.loc[asset], res.bse, rtol=RTOL)
        assert_allclose(model.pvalues_.loc[asset], res.pvalues, rtol=RTOL)
    assert model.summary().header["kernel"] == "parzen"


def test_time_series_model_refuses_unknown_cov_type_and_kernel(french):
    F, R = french
    match = (
        '`cov_type` must be one of "nonrobust" \\(or "unadjusted", "fama-macbeth"\\),'
        ' "HC0", "HC1", "HC2", "HC3", "kernel" \\(or "HAC", "newey-west"\\); '
        "got 'shanken'"
    )
    with pytest.raises(ValueError, match=match):
        TimeSeriesFactorModel(cov_type="shanken").fit(F, R)
    with pytest.raises(ValueError, match="`kernel`='qs' \\(quadratic spectral\\)"):
        TimeSeriesFactorModel(cov_type="kernel", kernel="qs").fit(F, R)
    with pytest.raises(ValueError, match="'newey-west' is the Bartlett kernel"):
        TimeSeriesFactorModel(cov_type="newey-west", kernel="parzen").fit(F, R)


def test_time_series_model_summary_header(french):
    F, R = french
    model = TimeSeriesFactorModel(cov_type="HAC").fit(F, R)
    table = model.summary()
    assert isinstance(table, Summary)
    assert set(HEADER_KEYS) <= set(table.header)
    rule = int(np.floor(4 * (len(F) / 100) ** (2 / 9)))  # statsmodels' choice
    grs = model.grs_
    assert table.header == {
        "estimator": "TimeSeriesFactorModel",
        "cov_type": "kernel",
        "kernel": "bartlett",
        "bandwidth": rule,
        "n_dates": len(F),
        "n_assets": 9,
        "mean_rsquared": pytest.approx(model.rsquared_.mean(), rel=1e-15),
        "grs_statistic": grs.statistic,
        "grs_pvalue": grs.pvalue,
    }
    assert re.search(rf"Covariance: +kernel\n.*Bandwidth: +{rule}\n", str(table))
    late = unbalanced(R)
    late.iloc[:-60, 0] = np.nan  # 60 dates: fewer lags by the rule
    header = TimeSeriesFactorModel(cov_type="HAC").fit(F, late).summary().header
    lags = np.floor(4 * (late.notna().sum() / 100) ** (2 / 9)).astype(int)
    assert header["bandwidth"] == f"{lags.min()}-{lags.max()} by asset"
    assert header["bandwidth"] == "3-6 by asset"
    plain = TimeSeriesFactorModel(maxlags=3).fit(F, R).summary().header
    assert (plain["cov_type"], plain["kernel"], plain["bandwidth"]) == (
        "nonrobust",
        None,
        None,  # lags mean nothing to it
    )


def test_time_series_model_summary_prints_undefined_grs_without_warning(french):
    F, R = french
    model = TimeSeriesFactorModel().fit(F.iloc[:12], R.iloc[:12])  # T <= N + K
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = model.summary()
        text = table.as_text()
    assert np.isnan(table.header["grs_statistic"])
    assert table.header["grs_note"] == "undefined: T=12 complete dates <= N+K"
    assert "undefined: T=12" in text
    no_alpha = TimeSeriesFactorModel(fit_intercept=False).fit(F, R).summary()
    assert no_alpha.header["grs_note"] == "undefined: no intercept"


def test_time_series_model_compact_summary_is_per_term(french):
    F, R = french
    model = TimeSeriesFactorModel(cov_type="HC1").fit(F, unbalanced(R))
    compact = model.summary(compact=True)
    assert compact.index.tolist() == ["const", *FACTORS]
    assert_allclose(compact["mean"], model.params_.mean())
    assert_allclose(compact["median"], model.params_.median())
    share = (model.tvalues_.abs() > 2).mean()
    assert_allclose(compact["share_abs_t_above_2"], share)
    assert compact["n"].tolist() == [9] * 4
    assert compact.header == model.summary().header
