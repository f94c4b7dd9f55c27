"""RollingFactorModel against statsmodels RollingOLS per asset, on daily returns."""

from __future__ import annotations

import functools
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from statsmodels.regression.rolling import RollingOLS

from skfactor import RollingFactorModel
from skfactor.models._rolling_ols import rolling_ols, window_bse
from skfactor.models._summary import Summary
from tests.conftest import forbid

RTOL = 1e-8
FACTORS = ["MTUM", "SIZE", "VLUE"]


def assert_close(actual, desired, rtol=RTOL):
    """Each term (last axis) within ``rtol`` of its value or of the term's size.

    Betas are O(1) and alphas O(1e-3); a beta near 0 is judged against the
    typical size of that term (its median magnitude), not against itself.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert_array_equal(np.isnan(actual), np.isnan(desired))
    for j in range(desired.shape[-1]):
        values = np.abs(desired[..., j])
        values = values[~np.isnan(values)]
        size = np.median(values) if values.size else 0.0
        assert_allclose(actual[..., j], desired[..., j], rtol=rtol, atol=rtol * size)


def moments(res):
    """The standard errors' moments of a :func:`rolling_ols` result."""
    names = ("s2", "inv_shared", "inv_own", "r_unit", "per_term")
    return {name: getattr(res, name) for name in names}


def stack(model, attr="params_"):
    """A (date, asset) x term frame of the model as (n_dates, n_assets, n_terms)."""
    values = getattr(model, attr).to_numpy()
    return values.reshape(len(model.dates_), len(model.assets_), -1)


def coef3(model):
    """Every window's betas, (n_dates, n_assets, n_factors)."""
    return stack(model)[..., int(model.fit_intercept) :]


def icpt(model):
    """Every window's alphas, (n_dates, n_assets)."""
    return stack(model)[..., 0]


def grid(model, attr):
    """A (date, asset) Series of the model as (n_dates, n_assets)."""
    return stack(model, attr)[..., 0]


@functools.cache
def daily(holes):
    """skfolio's S&P 500 stocks and factor ETFs, as daily returns (2,263 dates).

    With ``holes``: scattered NaN (3%), a late listing, a 150-day gap, a
    delisting, an asset with a single observation and dates without factors.
    """
    from skfolio.datasets import load_factors_dataset, load_sp500_dataset

    R = load_sp500_dataset().pct_change().iloc[1:]
    F = load_factors_dataset()[FACTORS].pct_change().iloc[1:]
    F, R = F.align(R, join="inner", axis=0)
    R.columns.name = "asset"
    if holes:
        R, F = R.copy(), F.copy()
        R = R.mask(np.random.default_rng(0).random(R.shape) < 0.03)
        R.iloc[:700, 3] = np.nan
        R.iloc[1000:1150, 5] = np.nan
        R.iloc[1900:, 7] = np.nan
        R.iloc[:, 9] = np.nan
        R.iloc[1500, 9] = 0.01
        F.iloc[[50, 300, 301, 302], 1] = np.nan
    return F, R


@functools.cache
def reference(holes, expanding, min_obs):
    """statsmodels RollingOLS, one asset at a time: params (n_dates, n_assets, 4)."""
    F, R = daily(holes)
    X = sm.add_constant(F.to_numpy())
    out = []
    for name in R.columns:
        r = R[name].to_numpy()
        if np.isfinite(r).sum() < 2:  # statsmodels cannot take a single row
            out.append(None)
            continue
        res = RollingOLS(
            r, X, window=100, min_nobs=min_obs, expanding=expanding, missing="drop"
        ).fit(params_only=True)
        out.append(res.params)
    return out


@pytest.mark.parametrize("holes", [False, True], ids=["complete", "holes"])
@pytest.mark.parametrize(
    "expanding, min_obs",
    [(False, None), (True, None), (True, 30), (False, 60)],
    ids=["rolling", "expanding", "expanding-min30", "rolling-min60"],
)
def test_rolling_model_equals_statsmodels_rolling_ols(holes, expanding, min_obs):
    F, R = daily(holes)
    model = RollingFactorModel(window=100, min_obs=min_obs, expanding=expanding)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(F, R)
    assert model.coef_.shape == (R.shape[1], 3) and model.intercept_.shape == (20,)
    assert_array_equal(model.coef_, coef3(model)[-1])  # the last window's
    assert_array_equal(model.intercept_, icpt(model)[-1])
    assert model.params_.index.names == ["Date", "asset"]
    assert model.params_.columns.tolist() == ["const", *FACTORS]
    for i, params in enumerate(reference(holes, expanding, min_obs)):
        ours = np.column_stack([icpt(model)[:, i], coef3(model)[:, i]])
        if params is None:  # the single-observation asset
            assert np.isnan(ours).all()
            continue
        # A window with under 10 observations (at a listing, a gap, a delisting)
        # can be an exact fit of 4 points with cond(X) ~ 1e5: any normal-equation
        # solver, statsmodels' included, is then off by up to cond(X)² eps ~ 1e-6
        # from the exact least squares, so only there the tolerance is wider.
        few = grid(model, "nobs_")[:, i] < 10
        assert_close(ours[~few], params[~few])
        assert_close(ours[few], params[few], rtol=1e-5)
    first = (min_obs or 4) - 1 if expanding else 99
    assert np.isnan(coef3(model)[:first]).all()
    if not holes:
        assert not np.isnan(coef3(model)[first:]).any()


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
def test_rolling_model_statistics_equal_statsmodels():
    F, R = daily(True)
    model = RollingFactorModel(window=100).fit(F, R)
    X = sm.add_constant(F.to_numpy())
    for i in (0, 3, 5, 7, 12):  # complete, late listing, gap, delisting, holes
        r = R.iloc[:, i].to_numpy()
        res = RollingOLS(r, X, window=100, missing="drop").fit()
        # As for the params, windows under 10 observations are near-exact fits
        # whose residuals both solvers get to ~1e-8 only.
        few = grid(model, "nobs_")[:, i] < 10
        assert_allclose(
            grid(model, "rsquared_")[~few, i], res.rsquared[~few], rtol=1e-9
        )
        assert_allclose(grid(model, "rsquared_")[few, i], res.rsquared[few], rtol=1e-6)
        enough = (res.nobs >= 10) & ~np.isnan(res.params[:, 0])
        assert_allclose(
            grid(model, "resid_vol_")[enough, i] ** 2, res.mse_resid[enough], rtol=1e-9
        )
        assert np.isnan(
            grid(model, "resid_vol_")[grid(model, "nobs_")[:, i] <= 4, i]
        ).all()
        assert_array_equal(
            grid(model, "nobs_")[res.nobs > 0, i], res.nobs[res.nobs > 0]
        )


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rolling_model_bse_equals_statsmodels(fit_intercept):
    F, R = daily(True)
    model = RollingFactorModel(
        window=100, expanding=True, fit_intercept=fit_intercept, store_bse=True
    ).fit(F, R)
    assert model.bse_.index.equals(model.params_.index)
    assert model.bse_.columns.equals(model.params_.columns)
    bse = stack(model, "bse_")
    X = F.to_numpy()
    X = sm.add_constant(X) if fit_intercept else X
    for i in (0, 3, 5, 7, 12):  # complete, late listing, gap, delisting, holes
        res = RollingOLS(
            R.iloc[:, i].to_numpy(), X, window=100, expanding=True, missing="drop"
        ).fit()
        # Windows under 10 observations are near-exact fits (see above).
        enough = (res.nobs >= 10) & ~np.isnan(res.params[:, 0])
        assert_allclose(bse[enough, i], res.bse[enough], rtol=1e-8)
        nan = np.isnan(coef3(model)[:, i, 0]) | (
            grid(model, "nobs_")[:, i] <= X.shape[1]
        )
        assert_array_equal(
            np.isnan(bse[:, i]), nan[:, None] & np.ones(X.shape[1], bool)
        )


def test_rolling_model_halflife_bse_equals_weighted_least_squares():
    F, R = daily(True)
    model = RollingFactorModel(window=60, halflife=15.0, store_bse=True).fit(F, R)
    bse = stack(model, "bse_")
    X = sm.add_constant(F.to_numpy())
    for t, i in ((59, 0), (800, 5), (1500, 12), (len(F) - 1, 3)):
        rows = np.arange(t - 59, t + 1)
        y = R.to_numpy()[rows, i]
        ok = ~np.isnan(y) & ~np.isnan(X[rows]).any(axis=1)
        w = 0.5 ** ((t - rows[ok]) / 15.0)
        res = sm.WLS(y[ok], X[rows][ok], weights=w).fit()
        assert_allclose(stack(model)[t, i], res.params, rtol=1e-8)
        assert_allclose(bse[t, i], res.bse, rtol=1e-8)


def test_rolling_model_no_drift_over_thousands_of_dates():
    """The last windows equal a direct least squares as well as the first ones."""
    F, R = daily(False)
    model = RollingFactorModel(window=100).fit(F, R)
    X = sm.add_constant(F.to_numpy())
    for t in (99, 1200, len(F) - 1):
        rows = slice(t - 99, t + 1)
        exact = np.linalg.lstsq(X[rows], R.to_numpy()[rows], rcond=None)[0]
        ours = np.column_stack([icpt(model)[t][:, None], coef3(model)[t]])
        assert_close(ours, exact.T, rtol=1e-9)


@pytest.mark.parametrize("halflife", [None, 30.0])
def test_rolling_model_blocks_of_dates_change_only_rounding(halflife):
    """Sums restart every block of dates (here every 100): same estimates."""
    F, R = daily(True)
    Fv, Rv = F.to_numpy(), R.to_numpy()
    kw = dict(window=100, min_obs=4, halflife=halflife)
    one = rolling_ols(Fv, Rv, **kw)
    many = rolling_ols(Fv, Rv, block_cells=1, **kw)
    few = one.nobs < 10
    assert_close(many.params[~few], one.params[~few], rtol=1e-10)
    assert_array_equal(np.isnan(many.params), np.isnan(one.params))
    assert_array_equal(many.nobs, one.nobs)
    # ... and no block looks past its own dates.
    cut = 1234
    R2 = Rv.copy()
    R2[cut:] = np.random.default_rng(0).normal(0, 0.05, R2[cut:].shape)
    changed = rolling_ols(Fv, R2, block_cells=1, **kw)
    assert_array_equal(changed.params[:cut], many.params[:cut])


@pytest.mark.parametrize("halflife", [None, 30.0])
def test_rolling_model_chunks_of_assets_change_nothing(halflife):
    """Assets a few at a time (the cache-sized path) give the same bits."""
    F, R = daily(True)
    R = R.copy()
    R.iloc[:, 1:4] = R.iloc[:, 1:4].fillna(0.0)  # some assets without holes
    Fv, Rv = F.to_numpy(), R.to_numpy()
    kw = dict(window=100, min_obs=4, halflife=halflife)
    one = rolling_ols(Fv, Rv, chunk_cells=1 << 40, **kw)
    few = rolling_ols(Fv, Rv, chunk_cells=1, **kw)  # one asset per chunk
    for name in ("params", "rsquared", "resid_vol", "nobs", "inv_shared"):
        assert_array_equal(getattr(few, name), getattr(one, name))
    assert_array_equal(
        window_bse(few.resid_vol, **moments(few)),
        window_bse(one.resid_vol, **moments(one)),
    )


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
def test_rolling_model_without_intercept_equals_statsmodels():
    F, R = daily(True)
    model = RollingFactorModel(window=100, fit_intercept=False).fit(F, R)
    for i in (0, 3, 5):
        res = RollingOLS(
            R.iloc[:, i].to_numpy(), F.to_numpy(), window=100, missing="drop"
        ).fit()
        assert_close(coef3(model)[:, i], res.params)
        assert_allclose(
            grid(model, "rsquared_")[:, i], res.rsquared, rtol=1e-9
        )  # uncentered
    assert model.params_.columns.tolist() == FACTORS
    assert_array_equal(model.intercept_, np.zeros(R.shape[1]))


def weighted_loop(F, R, window, halflife, expanding, min_obs):
    """Slow reference: one weighted lstsq per (date, asset) (unweighted for None).

    A window with fewer than ``min_obs`` observations, or whose regressors
    are collinear, has no estimate.
    """
    T, N = R.shape
    k = F.shape[1] + 1
    out = {
        name: np.full(shape, np.nan)
        for name, shape in [
            ("coef", (T, N, F.shape[1])),
            ("intercept", (T, N)),
            ("r2", (T, N)),
            ("vol", (T, N)),
            ("bse", (T, N, k)),
        ]
    }
    out["nobs"] = np.zeros((T, N), dtype=int)
    for t in range(T):
        rows = np.arange(max(0, t - window + 1), t + 1)
        for i in range(N):
            ok = ~np.isnan(R[rows, i]) & ~np.isnan(F[rows]).any(axis=1)
            s, n = rows[ok], ok.sum()
            out["nobs"][t, i] = n
            if n < min_obs or (t < window - 1 and not expanding):
                continue
            w = np.ones(n) if halflife is None else 0.5 ** ((t - s) / halflife)
            X, y = np.column_stack([np.ones(n), F[s]]), R[s, i]
            if np.linalg.matrix_rank(X * np.sqrt(w)[:, None]) < k:
                continue
            beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w))[0]
            e = y - X @ beta
            ybar = np.average(y, weights=w)
            out["intercept"][t, i], out["coef"][t, i] = beta[0], beta[1:]
            out["r2"][t, i] = 1 - (w * e**2).sum() / (w * (y - ybar) ** 2).sum()
            if n > k:
                out["vol"][t, i] = np.sqrt((w * e**2).sum() / w.sum() * n / (n - k))
                cov = np.linalg.inv(X.T @ (w[:, None] * X)) * (w * e**2).sum() / (n - k)
                out["bse"][t, i] = np.sqrt(np.diag(cov))
    return out


@pytest.mark.parametrize("expanding", [False, True], ids=["rolling", "expanding"])
def test_rolling_model_halflife_equals_weighted_loop(expanding):
    rng = np.random.default_rng(3)
    T, N = 160, 4
    F = rng.normal(0.0005, 0.01, (T, 2))
    R = 0.0002 + F @ rng.normal(1, 0.3, (2, N)) + rng.normal(0, 0.015, (T, N))
    R[rng.random(R.shape) < 0.1] = np.nan
    R[:70, 2] = np.nan
    F[[20, 21], 0] = np.nan
    model = RollingFactorModel(window=40, halflife=10.0, expanding=expanding)
    model.fit(F, R)
    ref = weighted_loop(F, R, 40, 10.0, expanding, 3)
    assert_close(coef3(model), ref["coef"])
    assert_close(icpt(model)[..., None], ref["intercept"][..., None])
    assert_allclose(grid(model, "rsquared_"), ref["r2"], rtol=1e-9)
    assert_allclose(grid(model, "resid_vol_"), ref["vol"], rtol=1e-9)


def holey_panel():
    """Factor and asset returns with every kind of hole a window can have."""
    rng = np.random.default_rng(7)
    T, N = 240, 8
    F = rng.normal(0.0005, 0.01, (T, 2))
    R = 0.0002 + F @ rng.normal(1, 0.3, (2, N)) + rng.normal(0, 0.015, (T, N))
    # Asset 0 is complete: every window shares its date's normal equations.
    R[rng.random(T) < 0.05, 1] = np.nan  # scattered holes
    R[:150, 2] = np.nan  # lists late: windows of 1 to 40 dates, min_obs between
    R[60:130, 3] = np.nan  # a gap longer than the window: windows without data
    R[:, 4] = np.nan
    R[[30, 45, 52], 4] = 0.01  # three observations: never an estimate
    F[170:200, 1] = 0.25  # the second factor flat on 30 dates ...
    R[150:230, 5] = np.nan
    R[170:200, 5] = F[170:200, 0] + rng.normal(0, 0.01, 30)  # all asset 5 has
    R[:, 6] = np.nan  # never observed
    R[rng.random(T) < 0.6, 7] = np.nan  # windows around min_obs
    F[[100, 101], 0] = np.nan  # dates without factors
    return F, R


@pytest.mark.parametrize("halflife", [None, 10.0])
@pytest.mark.parametrize(
    "kw",
    [{}, {"block_cells": 1}, {"chunk_cells": 1}],
    ids=["one-block", "blocks-of-window", "one-asset-chunks"],
)
def test_rolling_model_windows_with_holes_equal_a_loop(halflife, kw):
    """Windows without a hole (shared equations) and with one (their own)."""
    F, R = holey_panel()
    res = rolling_ols(F, R, window=40, min_obs=5, halflife=halflife, **kw)
    ref = weighted_loop(F, R, 40, halflife, False, 5)
    assert_array_equal(res.nobs, ref["nobs"])
    assert np.isnan(res.params[209:230, 5]).all()  # own equations collinear
    assert not np.isnan(res.params[209:230, 0]).any()  # the date's are not
    assert np.isnan(res.params[:, [4, 6]]).all()
    assert_array_equal(np.isnan(res.params[..., 0]), np.isnan(ref["intercept"]))
    assert_close(res.params[..., 1:], ref["coef"], rtol=1e-9)
    assert_close(res.params[..., :1], ref["intercept"][..., None], rtol=1e-9)
    assert_allclose(res.rsquared, ref["r2"], rtol=1e-9)
    assert_allclose(res.resid_vol, ref["vol"], rtol=1e-9)
    bse = window_bse(res.resid_vol, **moments(res))
    assert_allclose(bse, ref["bse"], rtol=1e-9)
    listed = res.nobs[:, 2]  # asset 2's windows cross min_obs
    assert np.isnan(res.params[listed == 4, 2]).all()
    assert not np.isnan(res.params[listed == 5, 2]).any()


def test_rolling_model_halflife_infinite_limit_is_ols():
    F, R = daily(True)
    ew = RollingFactorModel(window=100, halflife=1e15).fit(F, R)
    ols = RollingFactorModel(window=100).fit(F, R)
    few = grid(ols, "nobs_") < 10  # near-exact fits, see above
    assert_close(coef3(ew)[~few], coef3(ols)[~few])
    assert_array_equal(np.isnan(coef3(ew)), np.isnan(coef3(ols)))


def test_rolling_model_collinear_window_is_nan():
    rng = np.random.default_rng(1)
    T = 300
    F = rng.normal(0, 0.01, (T, 2))
    F[100:220, 1] = 0.0  # the second factor is flat for 120 dates
    R = F @ [1.0, 0.5] + rng.normal(0, 0.01, T)
    model = RollingFactorModel(window=50).fit(F, R)
    inside = np.arange(149, 220)  # windows entirely in the flat stretch
    assert np.isnan(coef3(model)[inside]).all()
    assert np.isnan(icpt(model)[inside]).all()
    X = sm.add_constant(F)
    for t in (60, 140, 260):  # windows touching the stretch or clear of it
        exact = np.linalg.lstsq(X[t - 49 : t + 1], R[t - 49 : t + 1])[0]
        assert_allclose(coef3(model)[t, 0], exact[1:], rtol=1e-9)


def test_rolling_model_warns_when_no_window_has_an_estimate():
    F, R = daily(False)
    with pytest.warns(UserWarning, match=r"No window has an estimate.*`window`=5000"):
        model = RollingFactorModel(window=5000).fit(F, R)
    assert np.isnan(coef3(model)).all()
    assert_array_equal(grid(model, "nobs_")[-1], len(F))


def test_rolling_model_predict_uses_the_previous_window():
    F, R = daily(True)
    model = RollingFactorModel(window=100).fit(F, R)
    pred = model.predict(F)
    assert isinstance(pred, pd.DataFrame)
    assert pred.index.equals(F.index) and pred.columns.equals(R.columns)
    Fv = F.to_numpy()
    expected = np.full(R.shape, np.nan)
    expected[1:] = icpt(model)[:-1] + np.einsum("tk,tnk->tn", Fv[1:], coef3(model)[:-1])
    assert_allclose(pred.to_numpy(), expected, rtol=1e-12)
    # After the fitted range: the last betas; between fitted dates: the previous.
    later = pd.DataFrame(
        Fv[:3],
        index=[F.index[-1] + pd.Timedelta(days=d) for d in (1, 30, 400)],
        columns=F.columns,
    )
    last = model.intercept_ + Fv[:3] @ model.coef_.T
    assert_allclose(model.predict(later).to_numpy(), last, rtol=1e-12)
    between = later.set_axis([F.index[500] + pd.Timedelta(hours=h) for h in (1, 2, 3)])
    assert_allclose(
        model.predict(between).to_numpy(),
        icpt(model)[500] + Fv[:3] @ coef3(model)[500].T,
        rtol=1e-12,
    )
    early = later.set_axis([F.index[0] - pd.Timedelta(days=d) for d in (1, 2, 3)])
    assert model.predict(early).isna().all().all()


def test_rolling_model_predict_arrays_by_position():
    F, R = daily(False)
    model = RollingFactorModel(window=100).fit(F.to_numpy(), R.to_numpy())
    Fv = np.vstack([F.to_numpy(), F.to_numpy()[:5]])  # 5 rows past the fit
    pred = model.predict(Fv)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(Fv), R.shape[1])
    assert np.isnan(pred[:100]).all()
    t = 700
    assert_allclose(
        pred[t], icpt(model)[t - 1] + coef3(model)[t - 1] @ Fv[t], rtol=1e-12
    )
    tail = icpt(model)[-1] + Fv[-5:] @ coef3(model)[-1].T
    assert_allclose(pred[-5:], tail, rtol=1e-12)


def test_rolling_model_single_series_and_numpy_match_pandas():
    F, R = daily(True)
    frame = RollingFactorModel(window=100, expanding=True).fit(F, R)
    arrays = RollingFactorModel(window=100, expanding=True)
    arrays.fit(F.to_numpy(), R.to_numpy())
    assert_array_equal(frame.params_, arrays.params_)
    assert_array_equal(frame.predict(F).to_numpy(), arrays.predict(F.to_numpy()))
    one = RollingFactorModel(window=100, expanding=True).fit(F, R["AAPL"])
    assert one.coef_.shape == (1, 3)
    assert_array_equal(coef3(one)[:, 0], coef3(frame)[:, R.columns.get_loc("AAPL")])
    pred = one.predict(F)
    assert isinstance(pred, pd.Series) and pred.name == "AAPL"
    flat = RollingFactorModel(window=100).fit(F.to_numpy(), R["AAPL"].to_numpy())
    assert flat.predict(F.to_numpy()).shape == (len(F),)


def test_rolling_model_does_not_mutate_inputs():
    F, R = daily(True)
    F0, R0 = F.copy(), R.copy()
    model = RollingFactorModel(window=100, halflife=20.0).fit(F, R)
    model.predict(F)
    model.score(F, R)
    pd.testing.assert_frame_equal(F, F0)
    pd.testing.assert_frame_equal(R, R0)


def test_rolling_model_labelled_estimates():
    F, R = daily(True)
    model = RollingFactorModel(window=100).fit(F, R)
    frame = model.params_
    assert frame.index.names == ["Date", "asset"]
    assert list(frame.columns) == ["const", *FACTORS]
    assert len(frame) == len(F) * R.shape[1]
    for attr in ("rsquared_", "resid_vol_", "nobs_"):
        assert getattr(model, attr).index.equals(frame.index)
    date, asset = F.index[1234], R.columns[5]
    row = frame.loc[(date, asset)]
    assert_array_equal(row[FACTORS].to_numpy(dtype=float), coef3(model)[1234, 5])
    assert row["const"] == icpt(model)[1234, 5]
    assert model.nobs_[(date, asset)] == grid(model, "nobs_")[1234, 5]
    one_term = frame["SIZE"].unstack()  # date x asset
    assert one_term.index.equals(F.index) and one_term.columns.equals(R.columns)
    assert set(model._lazy) == {"moments"}
    for attr in ("bse_", "tvalues_", "pvalues_"):  # always, on first access
        assert getattr(model, attr).index.equals(frame.index)
        assert getattr(model, attr).columns.equals(frame.columns)
    model.set_params(store_bse=True).fit(F, R)
    assert set(model._lazy) == {"moments", "bse_"}  # computed during fit
    model.set_params(store_bse=False).fit(F, R)
    assert set(model._lazy) == {"moments"}  # no stale errors of an earlier fit


def test_rolling_model_score_is_out_of_sample_r2():
    F, R = daily(True)
    model = RollingFactorModel(window=100).fit(F, R)
    pred = model.predict(F).to_numpy()
    r2 = []
    for i in range(R.shape[1]):
        y, p = R.to_numpy()[:, i], pred[:, i]
        ok = ~np.isnan(y) & ~np.isnan(p)
        if ok.sum() > 1:
            y, p = y[ok], p[ok]
            r2.append(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert np.isclose(model.score(F, R), np.mean(r2), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    cut=st.integers(0, 59),
    window=st.integers(3, 15),
    expanding=st.booleans(),
    halflife=st.none() | st.floats(0.5, 20.0),
    seed=st.integers(0, 2**16),
)
def test_rolling_model_never_looks_ahead(cut, window, expanding, halflife, seed):
    """Changing returns from date t onward changes no prediction at or before t."""
    rng = np.random.default_rng(seed)
    T = 60
    F = rng.normal(0, 0.01, (T, 2))
    R = F @ rng.normal(1, 0.5, (2, 3)) + rng.normal(0, 0.01, (T, 3))
    R[rng.random(R.shape) < 0.1] = np.nan
    R2 = R.copy()
    R2[cut:] = rng.normal(0, 0.05, (T - cut, 3))
    params = dict(window=window, expanding=expanding, halflife=halflife)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = RollingFactorModel(**params).fit(F, R)
        b = RollingFactorModel(**params).fit(F, R2)
    assert_array_equal(a.predict(F)[: cut + 1], b.predict(F)[: cut + 1])
    assert_array_equal(coef3(a)[:cut], coef3(b)[:cut])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"min_obs": 2}, r"`min_obs` must be at least the number of regressors, 4"),
        ({"window": 3}, r"`window` must be at least the number of regressors, 4"),
        ({"window": 20, "min_obs": 30}, r"`window` must be at least `min_obs`, 30"),
        ({"halflife": 0.0}, r"'halflife' parameter of RollingFactorModel"),
        ({"window": 0}, r"'window' parameter of RollingFactorModel"),
    ],
)
def test_rolling_model_rejects_bad_parameters(params, match):
    F, R = daily(False)
    with pytest.raises(ValueError, match=match):
        RollingFactorModel(**params).fit(F, R)


def test_rolling_model_rejects_bad_inputs():
    F, R = daily(False)
    with pytest.raises(ValueError, match=r"`X` must be sorted by date"):
        RollingFactorModel().fit(F.iloc[::-1], R.iloc[::-1])
    with pytest.raises(ValueError, match=r"requires y to be passed"):
        RollingFactorModel().fit(F, None)
    with pytest.raises(ValueError, match=r"`X` and `y` have different indexes"):
        RollingFactorModel().fit(F, R.iloc[1:])
    model = RollingFactorModel().fit(F, R)
    with pytest.raises(ValueError, match=r"index cannot be compared with the dates"):
        model.predict(
            F.reset_index(drop=True).set_axis([f"d{i}" for i in range(len(F))])
        )
    with pytest.raises(ValueError, match=r"`y` must hold the 20 assets"):
        model.score(F, R.iloc[:, :3])
    # As many columns, but not the assets of fit (or not in their order).
    with pytest.raises(ValueError, match=r"Select them with `y\[model.assets_\]`"):
        model.score(F, R.iloc[:, ::-1])
    with pytest.raises(ValueError, match=r"`y` must hold the 20 assets"):
        model.score(F, R.add_suffix("_other"))
    assert np.isfinite(model.score(F.to_numpy(), R.to_numpy()))
    with pytest.raises(ValueError, match=r"`sample_weight` must have one weight"):
        model.score(F, R, sample_weight=np.ones(3))


def test_rolling_model_grid_search_over_time_splits():
    """Test folds come after their training dates: they take the last betas."""
    F, R = daily(True)
    search = GridSearchCV(
        RollingFactorModel(), {"window": [60, 250]}, cv=TimeSeriesSplit(3)
    )
    search.fit(F, R)
    assert search.best_params_["window"] in (60, 250)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    train, test = list(TimeSeriesSplit(3).split(F))[0]
    model = RollingFactorModel(window=60).fit(F.iloc[train], R.iloc[train])
    pred = model.predict(F.iloc[test]).to_numpy()
    last = model.intercept_ + F.iloc[test].to_numpy() @ model.coef_.T
    assert_allclose(pred, last, rtol=1e-12)


def near_exact(noise, seed=0):
    """Returns = alpha + real factor returns @ betas + noise * N(0, 1), with holes."""
    F, _ = daily(True)
    F = F.iloc[:600]
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(F.shape[1], 6))
    R = 1e-3 + np.nan_to_num(F.to_numpy()) @ B + noise * rng.normal(size=(len(F), 6))
    R = pd.DataFrame(R, index=F.index, columns=[f"a{i}" for i in range(6)])
    R = R.mask(rng.random(R.shape) < 0.03)  # holes: the masked sums too
    R.columns.name = "asset"
    return F, R


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
@pytest.mark.parametrize("noise", [1e-7, 1e-8])
def test_rolling_model_bse_near_exact_fit_equals_statsmodels(noise):
    F, R = near_exact(noise)
    model = RollingFactorModel(window=100, store_bse=True).fit(F, R)
    bse = stack(model, "bse_")
    X = sm.add_constant(F.to_numpy())
    for i in range(R.shape[1]):
        res = RollingOLS(R.iloc[:, i].to_numpy(), X, window=100, missing="drop").fit()
        ok = ~np.isnan(res.params[:, 0])
        assert_allclose(bse[ok, i], res.bse[ok], rtol=1e-6)
        assert_allclose(
            1 - grid(model, "rsquared_")[ok, i], 1 - res.rsquared[ok], rtol=1e-5
        )
    weighted = RollingFactorModel(window=60, halflife=15.0, store_bse=True).fit(F, R)
    for t, i in ((59, 0), (300, 2), (599, 4)):
        rows = np.arange(t - 59, t + 1)
        y = R.to_numpy()[rows, i]
        ok = ~np.isnan(y) & ~np.isnan(X[rows]).any(axis=1)
        w = 0.5 ** ((t - rows[ok]) / 15.0)
        res = sm.WLS(y[ok], X[rows][ok], weights=w).fit()
        assert_allclose(stack(weighted, "bse_")[t, i], res.bse, rtol=1e-6)


@pytest.mark.parametrize("factor", [2.0**-530, 1e-160, 1e160])
def test_rolling_model_scale_of_factors_and_returns_irrelevant(factor):
    F, R = near_exact(1e-2)
    base = RollingFactorModel(window=60, halflife=30.0, store_bse=True).fit(F, R)
    rtol = 0 if factor == 2.0**-530 else 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = RollingFactorModel(window=60, halflife=30.0, store_bse=True)
        small.fit(F * factor, R)
        big = RollingFactorModel(window=60, halflife=30.0, store_bse=True)
        big.fit(F, R * factor)
    assert_close(coef3(small), coef3(base) / factor, rtol=rtol)
    assert_close(stack(big), stack(base) * factor, rtol=rtol)
    assert_close(stack(big, "bse_"), stack(base, "bse_") * factor, rtol=rtol)
    for model in (small, big):
        t, t_base = (
            stack(model) / stack(model, "bse_"),
            stack(base) / stack(base, "bse_"),
        )
        assert_close(t, t_base, rtol=rtol)
        assert_close(
            grid(model, "rsquared_")[..., None],
            grid(base, "rsquared_")[..., None],
            rtol=rtol,
        )


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
@pytest.mark.parametrize(
    ("expanding", "min_obs"), [(False, None), (True, 30), (False, 60)]
)
def test_rolling_model_inference_equals_statsmodels(expanding, min_obs):
    # bse_, tvalues_ and pvalues_ (normal, RollingOLS' default use_t=False) on
    # a complete asset, a late listing, a gap, a delisting and holes.
    F, R = daily(True)
    model = RollingFactorModel(window=100, expanding=expanding, min_obs=min_obs)
    model.fit(F, R)
    X = sm.add_constant(F.to_numpy())
    bse, t, p = (stack(model, a) for a in ("bse_", "tvalues_", "pvalues_"))
    for i in (0, 3, 5, 7, 12):
        res = RollingOLS(
            R.iloc[:, i].to_numpy(),
            X,
            window=100,
            min_nobs=min_obs,
            expanding=expanding,
            missing="drop",
        ).fit()
        # Windows under 10 observations are near-exact fits (see above).
        enough = (res.nobs >= 10) & ~np.isnan(res.params[:, 0])
        assert enough.sum() > 1000
        assert_allclose(bse[enough, i], res.bse[enough], rtol=1e-8)
        assert_allclose(t[enough, i], res.tvalues[enough], rtol=1e-8)
        assert_allclose(p[enough, i], res.pvalues[enough], rtol=1e-6, atol=1e-300)
        assert_array_equal(np.isnan(t[:, i]), np.isnan(bse[:, i]))


def test_rolling_model_fit_computes_no_inference(monkeypatch):
    import skfactor.models._rolling as module

    F, R = daily(True)
    unfitted = RollingFactorModel()
    assert not hasattr(unfitted, "tvalues_")
    with pytest.raises(NotFittedError, match="`bse_` exists once"):
        _ = unfitted.bse_

    with monkeypatch.context() as patch:
        forbid(patch, module, "window_bse", "t_p_values")
        model = RollingFactorModel(window=100).fit(F, R)
    assert set(model._lazy) == {"moments"}
    moments = model._lazy["moments"]  # at most k numbers per window and date
    n_windows, k = len(model.params_), model.params_.shape[1]
    assert moments["s2"] is None  # resid_vol_ gives it, without weights
    own = sum(values.size for _, _, values in moments["inv_own"])
    assert moments["inv_shared"].size + own <= k * (n_windows + len(F))
    assert_frame_equal(
        model.tvalues_, model.params_ / model.bse_, check_names=False, rtol=1e-15
    )
    assert set(model._lazy) == {"moments", "bse_", "tvalues_"}  # one at a time


def test_rolling_model_lazy_inference_survives_pickle_and_clone():
    F, R = near_exact(1e-2)
    model = RollingFactorModel(window=60, halflife=30.0).fit(F, R)
    copy = pickle.loads(pickle.dumps(model))  # pickled before the first access
    for attr in ("bse_", "tvalues_", "pvalues_"):
        assert_frame_equal(getattr(copy, attr), getattr(model, attr))
    assert_frame_equal(clone(model).fit(F, R).pvalues_, model.pvalues_)
    eager = clone(model).set_params(store_bse=True).fit(F, R)
    assert_frame_equal(eager.bse_, model.bse_)


def test_rolling_model_residuals_are_y_minus_predict():
    F, R = near_exact(1e-2)
    model = RollingFactorModel(window=60).fit(F, R)
    resid = model.residuals(F, R)
    assert resid.index.equals(F.index) and resid.columns.equals(R.columns)
    assert_frame_equal(resid, R - model.predict(F))
    assert resid.iloc[:60].isna().all().all()  # no window before the 61st date
    one = RollingFactorModel(window=60).fit(F, R["a1"])
    assert_series_equal(one.residuals(F, R["a1"]), resid["a1"])
    with pytest.raises(ValueError, match="`y` must hold the 6 assets"):
        model.residuals(F, R.iloc[:, ::-1])


def test_rolling_model_summary_header_and_overview():
    F, R = daily(True)
    model = RollingFactorModel(window=100, min_obs=60).fit(F, R)
    table = model.summary()
    assert isinstance(table, Summary)
    assert table.header == {
        "estimator": "RollingFactorModel",
        "cov_type": "nonrobust",
        "kernel": None,
        "bandwidth": None,
        "n_dates": len(F),
        "n_assets": R.shape[1],
        "mean_rsquared": pytest.approx(model.rsquared_.mean(), rel=1e-12),
        "window": 100,
        "min_obs": 60,
    }
    assert "Covariance: nonrobust" in str(table) and "Window:     100" in str(table)
    assert table.index.tolist() == ["const", *FACTORS]
    assert_allclose(table["mean"], model.params_.mean())
    assert_allclose(table["median"], model.params_.median())
    t = model.tvalues_
    assert_allclose(table["share_abs_t_above_2"], (t.abs() > 2).sum() / t.count())
    assert_array_equal(table["n"], model.params_.count())
    weighted = RollingFactorModel(window=100, halflife=20.0).fit(F, R).summary()
    assert weighted.header["halflife"] == 20.0
