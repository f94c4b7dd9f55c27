"""TwoPassFactorModel against linearmodels, a direct Shanken formula and slow loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from skfactor import (
    CrossSectionalFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
)

RTOL = 1e-8


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_two_pass_premia_equal_linearmodels(french, fit_intercept):
    from linearmodels.asset_pricing import LinearFactorModel

    F, R = french
    model = TwoPassFactorModel(fit_intercept=fit_intercept).fit(F, R)
    ref = LinearFactorModel(R, F, risk_free=fit_intercept).fit()
    np.testing.assert_allclose(
        model.risk_premia_.mean().to_numpy(), ref.risk_premia.to_numpy(), rtol=RTOL
    )
    terms = ["const"] * fit_intercept + list(F.columns)
    assert model.risk_premia_.columns.tolist() == terms
    assert model.params_ is model.risk_premia_
    betas = ref.betas.to_numpy()
    np.testing.assert_allclose(model.betas_.to_numpy(), betas, rtol=RTOL)
    np.testing.assert_allclose(model.coef_, TimeSeriesFactorModel().fit(F, R).coef_)
    assert model.betas_.index.equals(R.columns)
    assert model.betas_.columns.tolist() == list(F.columns)


def _shanken_by_hand(F, R, fit_intercept):
    """Shanken (1992), OLS form, written out on a balanced panel."""
    Fv, Rv = F.to_numpy(), R.to_numpy()
    T, N = Rv.shape
    X = np.column_stack([np.ones(T), Fv])
    coef = np.linalg.lstsq(X, Rv, rcond=None)[0]
    B = coef[1:].T
    E = Rv - X @ coef
    sigma = E.T @ E / T
    Fc = Fv - Fv.mean(axis=0)
    sigma_f = Fc.T @ Fc / T
    C = np.column_stack([np.ones(N), B]) if fit_intercept else B
    lam_t = np.linalg.lstsq(C, Rv.T, rcond=None)[0].T  # (T, terms)
    lam = lam_t.mean(axis=0)
    lam_f = lam[1:] if fit_intercept else lam
    c = lam_f @ np.linalg.inv(sigma_f) @ lam_f
    CtCi = np.linalg.inv(C.T @ C)
    bordered = np.zeros((C.shape[1], C.shape[1]))
    bordered[-len(lam_f) :, -len(lam_f) :] = sigma_f
    cov = ((1 + c) * CtCi @ C.T @ sigma @ C @ CtCi + bordered) / T
    return lam, np.sqrt(np.diag(cov)), T


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_two_pass_shanken_equals_formula(french, fit_intercept):
    F, R = french
    table = TwoPassFactorModel(fit_intercept=fit_intercept).fit(F, R)
    table = table.summary(cov_type="shanken")
    lam, se, T = _shanken_by_hand(F, R, fit_intercept)
    np.testing.assert_allclose(table["coef"], lam, rtol=RTOL)
    np.testing.assert_allclose(table["std_err"], se, rtol=RTOL)
    t = lam / se
    np.testing.assert_allclose(table["t"], t, rtol=RTOL)
    np.testing.assert_allclose(table["p_value"], 2 * stats.t.sf(np.abs(t), T - 1))
    assert table.index.tolist() == ["const"] * fit_intercept + list(F.columns)


def test_two_pass_fama_macbeth_and_newey_west_errors(french):
    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    lam_t = model.risk_premia_.to_numpy()
    T = len(lam_t)
    plain = model.summary()
    np.testing.assert_allclose(
        plain["std_err"], lam_t.std(axis=0, ddof=1) / np.sqrt(T), rtol=RTOL
    )
    e = lam_t - lam_t.mean(axis=0)
    s = e.T @ e
    for lag in range(1, 5):
        g = e[lag:].T @ e[:-lag]
        s += (1 - lag / 5) * (g + g.T)
    nw = model.summary(cov_type="newey-west", bandwidth=4)
    np.testing.assert_allclose(nw["std_err"], np.sqrt(np.diag(s) / T / (T - 1)))
    np.testing.assert_allclose(nw["coef"], plain["coef"])


def test_two_pass_unbalanced_equals_slow_loop(french):
    F, R = french
    rng = np.random.default_rng(0)
    R = R.mask(rng.random(R.shape) < 0.15)
    R.iloc[:60, 2] = np.nan  # a late listing
    F = F.copy()
    F.iloc[5, 1] = np.nan  # a date without a factor: out of the first pass only
    with pytest.warns(UserWarning, match="dates have at most 4 assets"):
        model = TwoPassFactorModel().fit(F, R)
    betas = {}
    for asset in R.columns:
        ok = R[asset].notna() & F.notna().all(axis=1)
        fit = sm.OLS(R.loc[ok, asset], sm.add_constant(F[ok])).fit()
        betas[asset] = fit.params.iloc[1:]
    B = pd.DataFrame(betas).T
    np.testing.assert_allclose(model.betas_.to_numpy(), B.to_numpy(), rtol=RTOL)
    premia = []
    for date in R.index:
        ok = R.loc[date].notna().to_numpy()
        if ok.sum() <= 4:  # no more assets than terms: NaN premia
            premia.append(np.full(4, np.nan))
            continue
        C = np.column_stack([np.ones(ok.sum()), B.to_numpy()[ok]])
        premia.append(np.linalg.lstsq(C, R.loc[date].to_numpy()[ok], rcond=None)[0])
    np.testing.assert_allclose(model.risk_premia_.to_numpy(), premia, rtol=RTOL)
    assert model.nobs_.tolist() == R.notna().sum(axis=1).tolist()


def test_two_pass_predict_prices_expected_returns(french):
    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    pred = model.predict(F)
    assert pred.index.equals(F.index) and pred.columns.equals(R.columns)
    np.testing.assert_allclose(pred.mean(), model.expected_returns_, rtol=RTOL)
    lam = model.risk_premia_.mean()
    expected = lam["const"] + model.betas_ @ lam[F.columns]
    np.testing.assert_allclose(model.expected_returns_, expected, rtol=RTOL)
    np.testing.assert_allclose(
        pred.to_numpy(), model.intercept_ + F.to_numpy() @ model.coef_.T
    )
    assert np.isfinite(model.score(F, R))


def test_two_pass_thin_dates_warn_and_give_nan(french):
    F, R = french
    R = R.copy()
    R.iloc[3, 1:] = np.nan  # one asset on that date: fewer than the 4 terms
    with pytest.warns(UserWarning, match="1 of .* dates have at most 4 assets"):
        model = TwoPassFactorModel().fit(F, R)
    assert model.risk_premia_.iloc[3].isna().all()
    assert model.risk_premia_.drop(R.index[3]).notna().all().all()
    assert np.isfinite(model.summary(cov_type="shanken")["std_err"]).all()


def test_two_pass_summary_rejects_unknown_cov_type(french):
    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    with pytest.raises(ValueError, match="`cov_type` must be one of"):
        model.summary(cov_type="robust")


def test_cross_sectional_factor_return_as_loading_points_to_two_pass(french):
    F, R = french
    y = R.stack()
    # Multiples of 2**-10: each date's mean is exact, the column exactly constant.
    market = np.round(F["MktRF"] * 1024) / 1024
    X = pd.DataFrame({"MktRF": market.reindex(y.index, level=0)})
    with pytest.raises(ValueError, match="collinear on every date.*TwoPassFactorModel"):
        CrossSectionalFactorModel().fit(X, y)


def test_two_pass_shanken_with_holes_equals_formula(french):
    F, R = french
    rng = np.random.default_rng(4)
    R = R.mask(rng.random(R.shape) < 0.1)
    model = TwoPassFactorModel().fit(F, R)
    B = model.betas_.to_numpy()
    # Residuals on each asset's own dates; Sigma_ij = sum e_i e_j / sqrt(T_i T_j).
    resid = R - TimeSeriesFactorModel().fit(F, R).predict(F)
    E = resid.fillna(0.0).to_numpy()
    n_obs = R.notna().sum().to_numpy()
    sigma = E.T @ E / np.sqrt(np.outer(n_obs, n_obs))
    assert np.linalg.eigvalsh(sigma).min() > 0  # positive definite, holes or not
    Fc = F - F.mean()
    sigma_f = Fc.T.to_numpy() @ Fc.to_numpy() / len(F)
    lam = model.risk_premia_.mean().to_numpy()
    C = np.column_stack([np.ones(len(B)), B])
    CtCi = np.linalg.inv(C.T @ C)
    c = lam[1:] @ np.linalg.solve(sigma_f, lam[1:])
    bordered = np.zeros((4, 4))
    bordered[1:, 1:] = sigma_f
    T = int(model.risk_premia_.notna().all(axis=1).sum())
    cov = ((1 + c) * CtCi @ C.T @ sigma @ C @ CtCi + bordered) / T
    table = model.summary(cov_type="shanken")
    np.testing.assert_allclose(table["std_err"], np.sqrt(np.diag(cov)), rtol=RTOL)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"cov_type": "newey-west", "bandwidth": -1},
            r"`bandwidth` must be a number >= 0 or None; got -1\.",
        ),
        (
            {"cov_type": "newey-west", "bandwidth": "3"},
            r"`bandwidth` must be a number >= 0 or None; got '3' \(a string\)",
        ),
        (
            {"cov_type": "newey-west", "bandwidth": float("nan")},
            "`bandwidth` must be a number >= 0",
        ),
        (
            {"cov_type": "newey-west", "bandwidth": True},
            "`bandwidth` must be a number >= 0",
        ),
        ({"cov_type": "fama-macbeth", "bandwidth": -2}, "must be a number >= 0"),
        ({"cov_type": "shanken", "bandwidth": "3"}, "must be a number >= 0"),
        (
            {"cov_type": "NW"},
            r'`cov_type` must be one of "nonrobust" \(or "unadjusted", '
            r'"fama-macbeth"\), "kernel" \(or "HAC", "newey-west"\), '
            r"\"shanken\"; got 'NW'",
        ),
        ({"cov_type": None}, "`cov_type` must be one of"),
    ],
)
def test_two_pass_model_summary_validates_every_argument(kwargs, match):
    rng = np.random.default_rng(0)
    F = pd.DataFrame(rng.normal(size=(60, 2)), columns=["mkt", "smb"])
    R = pd.DataFrame(rng.normal(size=(60, 8)) + F.to_numpy() @ rng.normal(size=(2, 8)))
    model = TwoPassFactorModel().fit(F, R)
    with pytest.raises(ValueError, match=match):
        model.summary(**kwargs)
    # A valid bandwidth is ignored by the covariances without lags.
    pd.testing.assert_frame_equal(
        model.summary("fama-macbeth", bandwidth=3), model.summary("fama-macbeth")
    )
    # A valid bandwidth still works, float or int (its integer part is used).
    pd.testing.assert_frame_equal(
        model.summary("newey-west", bandwidth=3.7),
        model.summary("newey-west", bandwidth=3),
    )


# ------------------------------------------- results contract (issue 24)
def _holey(french, seed=5):
    F, R = french
    rng = np.random.default_rng(seed)
    R = R.mask(rng.random(R.shape) < 0.1)
    R.iloc[3, 1:] = np.nan  # one asset that date: not estimated
    return F, R


def test_two_pass_per_date_inference_equals_statsmodels(french):
    F, R = _holey(french)
    with pytest.warns(UserWarning, match="dates have at most 4 assets"):
        model = TwoPassFactorModel().fit(F, R)
    B = model.betas_.to_numpy()
    for date in R.index[:40]:
        ok = R.loc[date].notna().to_numpy()
        if ok.sum() <= 4:
            for frame in (model.bse_, model.tvalues_, model.pvalues_):
                assert frame.loc[date].isna().all()
            continue
        res = sm.OLS(R.loc[date].to_numpy()[ok], sm.add_constant(B[ok])).fit()
        np.testing.assert_allclose(model.params_.loc[date], res.params, rtol=RTOL)
        np.testing.assert_allclose(model.bse_.loc[date], res.bse, rtol=RTOL)
        np.testing.assert_allclose(model.tvalues_.loc[date], res.tvalues, rtol=RTOL)
        np.testing.assert_allclose(model.pvalues_.loc[date], res.pvalues, rtol=1e-8)
        resid = model.residuals(F, R).loc[date].to_numpy()
        np.testing.assert_allclose(resid[ok], res.resid, rtol=1e-8, atol=1e-15)
        assert np.isnan(resid[~ok]).all()
    for frame in (model.bse_, model.tvalues_, model.pvalues_):
        assert frame.index.equals(model.params_.index)
        assert frame.columns.equals(model.params_.columns)


def test_two_pass_residuals_mean_is_the_pricing_error(french):
    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    resid = model.residuals(F, R)
    assert resid.index.equals(R.index) and resid.columns.equals(R.columns)
    lam = model.risk_premia_.mean()
    alpha = R.mean() - lam["const"] - model.betas_ @ lam[F.columns]
    np.testing.assert_allclose(resid.mean(), alpha, rtol=1e-8, atol=1e-14)
    # Dates fit did not see: NaN; an array X has no dates to match.
    later = F.set_axis(F.index + pd.Timedelta(days=1))
    assert model.residuals(later, R.set_axis(later.index)).isna().all().all()
    with (
        pytest.warns(UserWarning, match="valid feature names"),
        pytest.raises(ValueError, match="`X` has no dates"),
    ):
        model.residuals(F.to_numpy(), R.to_numpy())
    arrays = TwoPassFactorModel().fit(F.to_numpy(), R.to_numpy())
    np.testing.assert_allclose(
        arrays.residuals(F.to_numpy(), R.to_numpy()), resid.to_numpy(), rtol=1e-10
    )


def test_two_pass_fit_does_not_compute_inference(french, monkeypatch):
    import pickle

    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    import skfactor.models._two_pass as tp

    F, R = french
    assert not hasattr(TwoPassFactorModel(), "bse_")
    with pytest.raises(NotFittedError, match="call `fit` first"):
        TwoPassFactorModel().tvalues_  # noqa: B018
    calls = []
    real = tp.inference_frames
    monkeypatch.setattr(tp, "inference_frames", lambda *a: calls.append(1) or real(*a))
    model = TwoPassFactorModel().fit(F, R)
    assert calls == [] and "bse_" not in vars(model)
    copy = pickle.loads(pickle.dumps(model))
    refit = clone(model).fit(F, R)
    pd.testing.assert_frame_equal(copy.bse_, model.bse_)
    pd.testing.assert_frame_equal(refit.pvalues_, model.pvalues_)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("canonical", "aliases", "kw"),
    [
        ("nonrobust", ("fama-macbeth", "unadjusted"), {}),
        ("kernel", ("newey-west", "HAC"), {"bandwidth": 4}),
        ("kernel", ("newey-west", "HAC"), {}),
        ("shanken", (), {}),
    ],
)
def test_two_pass_summary_aliases_and_header(french, canonical, aliases, kw):
    from skfactor.models._summary import HEADER_KEYS

    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    table = model.summary(canonical, **kw)
    for alias in aliases:
        pd.testing.assert_frame_equal(model.summary(alias, **kw), table)
    header = table.header
    assert set(HEADER_KEYS) <= set(header)
    assert header["estimator"] == "TwoPassFactorModel"
    assert header["cov_type"] == canonical
    assert header["n_dates"] == len(R) and header["n_assets"] == R.shape[1]
    np.testing.assert_allclose(header["mean_rsquared"], model.rsquared_.mean())
    if canonical == "kernel":
        assert header["kernel"] == "bartlett"
        cs = CrossSectionalFactorModel().fit(
            pd.DataFrame(
                {
                    f: np.repeat(model.betas_[f].to_numpy()[None], len(R), 0).ravel()
                    for f in F.columns
                },
                index=R.stack(future_stack=True).index,
            ),
            R.stack(future_stack=True),
        )
        # The same Newey-West table as the cross-sectional model's on the betas.
        expected = cs.summary("kernel", **kw)
        np.testing.assert_allclose(table["std_err"], expected["std_err"], rtol=1e-8)
        assert header["bandwidth"] == expected.header["bandwidth"]
    else:
        assert header["kernel"] is None and header["bandwidth"] is None


def test_two_pass_summary_kernels_follow_the_cross_sectional_ones(french):
    F, R = french
    model = TwoPassFactorModel().fit(F, R)
    from skfactor.models._fama_macbeth import fama_macbeth_table

    for kernel in ("parzen", "qs"):
        ours = model.summary("kernel", kernel=kernel)
        expected = fama_macbeth_table(model.params_, "kernel", None, kernel)
        pd.testing.assert_frame_equal(ours, expected)
        assert ours.header["kernel"] == kernel
