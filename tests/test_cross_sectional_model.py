"""CrossSectionalFactorModel against statsmodels per date, linearmodels FamaMacBeth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalFactorModel, CrossSectionalZScore, Winsorizer
from skfactor.datasets import make_factor_panel
from tests.conftest import shuffled

RTOL = 1e-10


def make_data(
    *,
    n_dates=12,
    n_assets=40,
    missing_rows=0.2,
    missing_values=0.05,
    y_missing=0.05,
    shuffle=True,
    seed=0,
):
    """Z-scored loadings and returns, with NaN in X and y (shuffled rows)."""
    data = make_factor_panel(
        n_dates=n_dates,
        n_assets=n_assets,
        missing_rows=missing_rows,
        missing_values=missing_values,
        random_state=seed,
    )
    X = data.X
    X = (X - X.groupby(level="date").transform("mean")) / X.groupby(
        level="date"
    ).transform("std")
    y = data.y.copy()
    rng = np.random.default_rng(seed)
    y[rng.random(len(y)) < y_missing] = np.nan
    if shuffle:
        order = rng.permutation(len(X))
        X, y = X.iloc[order], y.iloc[order]
    return X, y


def per_date_statsmodels(X, y, weights=None, fit_intercept=True):
    """One statsmodels OLS/WLS per date over its complete rows."""
    out = {}
    for date, Xd in X.groupby(level="date", sort=True):
        yd = y.loc[Xd.index]
        ok = Xd.notna().all(axis=1) & yd.notna()
        if weights is not None:
            ok &= weights.loc[Xd.index].notna()
        exog = sm.add_constant(Xd[ok], has_constant="add") if fit_intercept else Xd[ok]
        if weights is None:
            res = sm.OLS(yd[ok], exog).fit()
        else:
            res = sm.WLS(yd[ok], exog, weights=weights.loc[Xd.index][ok]).fit()
        out[date] = res
    return out


def assert_matches(model, X, y, refs, fit_intercept=True, weights=None):
    dates = sorted(refs)
    params = pd.DataFrame([refs[d].params for d in dates], index=dates)
    np.testing.assert_allclose(
        model.factor_returns_.loc[dates].to_numpy(),
        params[list(X.columns)].to_numpy(),
        rtol=RTOL,
    )
    if fit_intercept:
        np.testing.assert_allclose(
            model.params_["const"].loc[dates].to_numpy(),
            params["const"].to_numpy(),
            rtol=RTOL,
        )
    np.testing.assert_allclose(
        model.rsquared_.loc[dates].to_numpy(),
        [refs[d].rsquared for d in dates],
        rtol=RTOL,
    )
    np.testing.assert_array_equal(
        model.nobs_.loc[dates].to_numpy(), [refs[d].nobs for d in dates]
    )
    resid = pd.concat([refs[d].resid for d in dates])
    ours = model.residuals(X, y, sample_weight=weights)
    assert ours.index.equals(X.index)
    np.testing.assert_allclose(
        ours.loc[resid.index].to_numpy(),
        resid.to_numpy(),
        rtol=1e-8,
        atol=1e-14,
    )
    assert ours.drop(resid.index).isna().all()


@pytest.mark.parametrize(
    "missing_rows, missing_values, y_missing, shuffle",
    [
        (0.2, 0.05, 0.05, True),  # unbalanced, shuffled, NaN in X and y
        (0.0, 0.0, 0.0, False),  # balanced and sorted: read in place
        (0.0, 0.05, 0.05, False),  # sorted balanced with holes: in place, masked
        (0.0, 0.0, 0.0, True),  # balanced, shuffled
    ],
    ids=["unbalanced-shuffled-nan", "balanced-sorted", "balanced-nan", "shuffled"],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_sectional_model_equals_statsmodels_ols_per_date(
    missing_rows, missing_values, y_missing, shuffle, fit_intercept
):
    X, y = make_data(
        missing_rows=missing_rows,
        missing_values=missing_values,
        y_missing=y_missing,
        shuffle=shuffle,
    )
    model = CrossSectionalFactorModel(fit_intercept=fit_intercept).fit(X, y)
    refs = per_date_statsmodels(X, y, fit_intercept=fit_intercept)
    assert_matches(model, X, y, refs, fit_intercept)
    assert list(model.factor_returns_.columns) == list(X.columns)
    assert model.factor_returns_.index.equals(
        X.index.get_level_values(0).unique().sort_values()
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_sectional_model_sample_weight_equals_statsmodels_wls(fit_intercept):
    X, y = make_data(seed=3)
    rng = np.random.default_rng(3)
    w = pd.Series(rng.uniform(0.2, 3.0, len(y)), index=y.index)
    w[rng.random(len(w)) < 0.05] = np.nan  # a missing weight drops the row
    model = CrossSectionalFactorModel(fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=w)
    refs = per_date_statsmodels(X, y, weights=w, fit_intercept=fit_intercept)
    assert_matches(model, X, y, refs, fit_intercept, weights=w)


def test_cross_sectional_model_zero_weight_equals_dropping_rows():
    X, y = make_data(seed=4)
    w = pd.Series(1.0, index=y.index)
    w.iloc[::7] = 0.0
    a = CrossSectionalFactorModel().fit(X, y, sample_weight=w)
    keep = w.to_numpy() > 0
    b = CrossSectionalFactorModel().fit(X[keep], y[keep])
    pd.testing.assert_frame_equal(a.factor_returns_, b.factor_returns_, rtol=1e-12)
    pd.testing.assert_series_equal(a.nobs_, b.nobs_)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "layout", ["sorted-balanced", "shuffled-balanced", "sorted-unbalanced"]
)
def test_cross_sectional_model_scattered_nan_cells_equal_statsmodels(
    layout, weighted, fit_intercept
):
    # NaN cells scattered over rows and columns (most dates have incomplete
    # rows), a few NaN returns and NaN weights: each date is the OLS/WLS of its
    # complete rows, whichever path (in place or copied) the layout takes.
    X, y = make_data(
        n_dates=10,
        missing_rows=0.2 if layout == "sorted-unbalanced" else 0.0,
        missing_values=0.08,
        y_missing=0.03,
        shuffle=layout == "shuffled-balanced",
        seed=11,
    )
    w = None
    if weighted:
        rng = np.random.default_rng(11)
        w = pd.Series(rng.uniform(0.2, 3.0, len(y)), index=y.index)
        w[rng.random(len(w)) < 0.05] = np.nan
    model = CrossSectionalFactorModel(fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=w)
    refs = per_date_statsmodels(X, y, weights=w, fit_intercept=fit_intercept)
    assert_matches(model, X, y, refs, fit_intercept, weights=w)


def _blocky_panel(sizes, seed):
    """Dates of the given sizes, 5% NaN loading cells, returns of a factor model."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=len(sizes), name="date")
    index = pd.MultiIndex.from_arrays(
        [np.repeat(dates, sizes), np.concatenate([np.arange(k) for k in sizes])],
        names=["date", "asset"],
    )
    values = rng.standard_normal((len(index), 3))
    y = values @ [0.01, -0.02, 0.005] + 0.02 * rng.standard_normal(len(index))
    values[rng.random(values.shape) < 0.05] = np.nan
    X = pd.DataFrame(values, index=index, columns=["a", "b", "c"])
    return X, pd.Series(y, index=index, name="return")


@pytest.mark.parametrize(
    "layout", ["sorted-balanced", "sorted-unbalanced", "shuffled-unbalanced"]
)
def test_cross_sectional_model_blocks_of_dates_equal_per_chunk_fits(layout):
    # Enough rows for several cache-sized blocks of dates on either path (one
    # date larger than a block of the copying path on the unbalanced layouts);
    # each date must come out as when its chunk of dates is fitted alone and
    # shuffled: on the plain path (copied, gathered, explicitly centred).
    if layout == "sorted-balanced":
        sizes = np.full(480, 400)
    else:
        sizes = np.random.default_rng(5).integers(200, 600, 300)
        sizes[150] = 70_000
    X, y = _blocky_panel(sizes, seed=5)
    if layout == "sorted-balanced":
        # Means far from zero on two dates: the one-pass centring redoes them.
        far = X.index.get_level_values("date").isin(X.index.levels[0][[3, 300]])
        X[far] += 1e4
    Xf, yf = (
        (shuffled(X, 3), shuffled(y, 3)) if layout.startswith("shuffled") else (X, y)
    )
    model = CrossSectionalFactorModel().fit(Xf, yf)
    dates = X.index.get_level_values("date")
    for chunk in np.array_split(dates.unique(), 12):
        rows = dates.isin(chunk)
        part = CrossSectionalFactorModel().fit(shuffled(X[rows]), shuffled(y[rows]))
        for name in ("params_", "rsquared_", "nobs_"):
            np.testing.assert_allclose(
                getattr(model, name).loc[chunk].to_numpy(dtype=float),
                getattr(part, name).to_numpy(dtype=float),
                rtol=1e-10,
            )
        np.testing.assert_allclose(
            model.residuals(X[rows], y[rows]).to_numpy(),
            part.residuals(X[rows], y[rows]).to_numpy(),
            rtol=1e-8,
            atol=1e-12,  # y - X @ b with loadings near 1e4 on two dates
        )


def test_cross_sectional_model_large_means_stay_exact():
    # Sorted balanced panel read in place; raw loadings far from zero force the
    # explicitly centred recomputation.
    X, y = make_data(missing_rows=0.0, missing_values=0.0, y_missing=0.0, shuffle=False)
    X = X * 3.0 + 1e4
    model = CrossSectionalFactorModel().fit(X, y)
    assert_matches(model, X, y, per_date_statsmodels(X, y))


def test_cross_sectional_model_one_cross_section_equals_linear_regression():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 4))
    y = X @ [0.1, -0.2, 0.3, 0.0] + 0.05 + 0.1 * rng.standard_normal(80)
    model = CrossSectionalFactorModel().fit(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(model.factor_returns_.iloc[0], ref.coef_, rtol=RTOL)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=RTOL)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=RTOL)
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=RTOL)
    np.testing.assert_allclose(model.score(X, y), ref.score(X, y), rtol=RTOL)
    resid = model.residuals(X, y)
    assert isinstance(resid, np.ndarray)
    np.testing.assert_allclose(resid, y - ref.predict(X), rtol=1e-9, atol=1e-14)


# --------------------------------------------------------------- Fama-MacBeth
def linearmodels_fmb(X, y, cov_type, **kw):
    from linearmodels import FamaMacBeth

    exog = X.assign(const=1.0)[["const", *X.columns]].swaplevel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FamaMacBeth(y.swaplevel(), exog).fit(cov_type=cov_type, **kw)


@pytest.mark.parametrize(
    "cov_type, kw",
    [("unadjusted", {}), ("kernel", {}), ("kernel", {"bandwidth": 3})],
    ids=["unadjusted", "kernel-auto", "kernel-bw3"],
)
def test_cross_sectional_model_summary_equals_linearmodels_fama_macbeth(cov_type, kw):
    X, y = make_data(n_dates=40, n_assets=30, seed=6)
    # A date with too few complete rows: NaN there, dropped as linearmodels does.
    first = X.index.get_level_values(0).min()
    thin = (X.index.get_level_values(0) == first) & (np.arange(len(X)) % 10 != 0)
    y = y.mask(thin)
    with pytest.warns(UserWarning, match="1 of 40 dates"):
        model = CrossSectionalFactorModel().fit(X, y)
    ours = model.summary(cov_type=cov_type, **kw)
    ref = linearmodels_fmb(X, y, cov_type, **kw)
    assert list(ours.index) == ["const", *X.columns]
    assert list(ours.columns) == ["coef", "std_err", "t", "p_value"]
    np.testing.assert_allclose(ours["coef"], ref.params, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], ref.std_errors, rtol=RTOL)
    np.testing.assert_allclose(ours["t"], ref.tstats, rtol=RTOL)
    np.testing.assert_allclose(ours["p_value"], ref.pvalues, rtol=1e-8)


def test_cross_sectional_model_summary_errors():
    X, y = make_data(n_dates=3, seed=7)
    model = CrossSectionalFactorModel().fit(X, y)
    with pytest.raises(ValueError, match="`cov_type` must be"):
        model.summary(cov_type="robust")
    with pytest.raises(ValueError, match="at least 4 estimated dates"):
        model.summary(cov_type="kernel")
    with pytest.raises(ValueError, match="`bandwidth` must be below"):
        model.summary(cov_type="kernel", bandwidth=3)


# ------------------------------------------------------------------ recovery
def test_cross_sectional_model_recovers_factor_returns_as_theory_says():
    # With the true loadings B_t (the pipeline reproduces them exactly when no
    # value is missing) and Gaussian specific returns of volatility s, the OLS
    # error of date t is N(0, s^2 [(B̃_t' B̃_t)^-1]) (B̃: centred loadings). The
    # standardised errors z are then iid N(0, 1), so mean(z^2) over T*K values
    # lies within 1 +- 5 sqrt(2 / (T K)) (5 standard deviations).
    s = 0.02
    data = make_factor_panel(
        n_dates=80, n_assets=300, specific_volatility=s, random_state=11
    )
    pipe = make_pipeline(
        Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
    )
    pipe.fit(data.X, data.y)
    model = pipe[-1]
    err = (model.factor_returns_ - data.factor_returns).to_numpy()
    z2 = []
    for t, (_, B) in enumerate(data.loadings.groupby(level="date")):
        Bc = B.to_numpy() - B.to_numpy().mean(axis=0)
        se = s * np.sqrt(np.diag(np.linalg.inv(Bc.T @ Bc)))
        z2.append((err[t] / se) ** 2)
    n = err.size
    assert abs(np.mean(z2) - 1.0) < 5 * np.sqrt(2.0 / n)
    # The intercept is the market return, up to s / sqrt(n_assets).
    a_err = (model.params_["const"] - data.market).to_numpy() / (s / np.sqrt(300))
    assert abs(np.mean(a_err**2) - 1.0) < 5 * np.sqrt(2.0 / len(a_err))


# ---------------------------------------------------------------- industries
def industry_data(seed=8, n_dates=6, n_assets=60, n_ind=4, empty=None):
    X, y = make_data(n_dates=n_dates, n_assets=n_assets, missing_values=0.0, seed=seed)
    X = X[["value", "size"]]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_ind, len(X))
    labels[:n_ind] = np.arange(n_ind)
    if empty is not None:  # industry 0 has no member on one date
        date = X.index.get_level_values(0) == empty
        labels[date & (labels == 0)] = 1
    D = pd.DataFrame(
        (labels[:, None] == np.arange(n_ind)).astype(float),
        index=X.index,
        columns=[f"ind{j}" for j in range(n_ind)],
    )
    return pd.concat([X, D], axis=1), y, list(D.columns)


def kkt_reference(X, y, industries, weights=None, cap_weights=True):
    """Constrained WLS per date: [[Z'WZ, c], [c', 0]] [beta; lam] = [Z'Wy; 0]."""
    out = {}
    for date, Xd in X.groupby(level="date", sort=True):
        yd = y.loc[Xd.index]
        w = np.ones(len(Xd)) if weights is None else weights.loc[Xd.index].to_numpy()
        ok = yd.notna().to_numpy()
        Z = np.column_stack([np.ones(ok.sum()), Xd.to_numpy()[ok]])
        W = w[ok]
        present = [j for j in industries if Xd[j][ok].sum() > 0]
        keep = [0] + [
            1 + k
            for k, c in enumerate(X.columns)
            if c not in industries or c in present
        ]
        Z = Z[:, keep]
        names = ["const"] + [
            c for c in X.columns if c not in industries or c in present
        ]
        c = np.zeros(len(names))
        for j in present:
            c[names.index(j)] = (W * Xd[j].to_numpy()[ok]).sum() if cap_weights else 1.0
        k = len(names)
        K = np.zeros((k + 1, k + 1))
        K[:k, :k] = Z.T @ (W[:, None] * Z)
        K[:k, k] = K[k, :k] = c
        rhs = np.r_[Z.T @ (W * yd.to_numpy()[ok]), 0.0]
        sol = np.linalg.solve(K, rhs)[:k]
        out[date] = pd.Series(sol, index=names).reindex(["const", *X.columns])
    return pd.DataFrame(out).T


@pytest.mark.parametrize("industry_weights", ["sample_weight", "equal"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_sectional_model_industry_constraint_equals_kkt(
    industry_weights, weighted
):
    X, y, ind = industry_data()
    w = None
    if weighted:
        w = pd.Series(np.random.default_rng(9).uniform(0.5, 2.0, len(y)), index=y.index)
    model = CrossSectionalFactorModel(industries=ind, industry_weights=industry_weights)
    model.fit(X, y, sample_weight=w)
    ref = kkt_reference(X, y, ind, w, cap_weights=industry_weights == "sample_weight")
    np.testing.assert_allclose(
        model.factor_returns_.to_numpy(), ref[list(X.columns)].to_numpy(), rtol=1e-9
    )
    np.testing.assert_allclose(model.params_["const"], ref["const"], rtol=1e-9)
    # The constraint holds: weighted sum of industry returns is 0 each date.
    if industry_weights == "equal":
        total = model.factor_returns_[ind].sum(axis=1)
        np.testing.assert_allclose(total, 0.0, atol=1e-14)


def test_cross_sectional_model_empty_industry_gets_nan_that_date():
    X, y, ind = industry_data(empty=pd.Timestamp("2015-01-05"))
    model = CrossSectionalFactorModel(industries=ind).fit(X, y)
    ref = kkt_reference(X, y, ind)
    got = model.factor_returns_
    assert np.isnan(got.loc["2015-01-05", "ind0"])
    assert got.drop(columns="ind0").notna().all().all()
    np.testing.assert_allclose(
        got.to_numpy(), ref[list(X.columns)].to_numpy(), rtol=1e-9
    )


def test_cross_sectional_model_collinear_industries_raise_naming_columns():
    X, y, ind = industry_data()
    with pytest.raises(ValueError, match=r"columns \['ind0', 'ind1', 'ind2', 'ind3'\]"):
        CrossSectionalFactorModel().fit(X, y)
    # Without an intercept the indicators are identified: statsmodels detects
    # their implicit constant and centres the R², so do we.
    model = CrossSectionalFactorModel(fit_intercept=False).fit(X, y)
    refs = per_date_statsmodels(X, y, fit_intercept=False)
    assert_matches(model, X, y, refs, fit_intercept=False)


def test_cross_sectional_model_constant_loading_raises():
    X, y = make_data(seed=10)
    X = X.assign(market=1.0)
    with pytest.raises(ValueError, match=r"\['market'\] are collinear on every date"):
        CrossSectionalFactorModel().fit(X, y)


# --------------------------------------------------------- dates, warnings
def test_cross_sectional_model_too_few_rows_warns_once_with_count():
    X, y = make_data(n_dates=8, seed=12)
    dates = X.index.get_level_values(0)
    d0, d1 = dates.unique().sort_values()[:2]
    # Two thin dates: one asset left on d0, three on d1 (< 4 regressors).
    keep_d0 = np.flatnonzero(dates == d0)[:1]
    keep_d1 = np.flatnonzero(dates == d1)[:3]
    rows = np.r_[np.flatnonzero((dates != d0) & (dates != d1)), keep_d0, keep_d1]
    Xs, ys = X.iloc[rows], y.iloc[rows].fillna(0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = CrossSectionalFactorModel().fit(Xs.fillna(0.0), ys)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1
    assert "2 of 8 dates" in msgs[0] and "2 with fewer complete rows" in msgs[0]
    assert model.factor_returns_.loc[[d0, d1]].isna().all().all()
    assert np.isnan(model.params_.loc[d0, "const"]) and np.isnan(model.rsquared_[d1])
    assert model.residuals(Xs.fillna(0.0), ys).loc[[d0]].isna().all()
    assert model.factor_returns_.drop([d0, d1]).notna().all().all()


def test_cross_sectional_model_rank_deficient_date_is_nan():
    X, y = make_data(n_dates=6, missing_values=0.0, seed=13)
    dates = X.index.get_level_values(0)
    d0 = dates.unique().sort_values()[0]
    X.loc[dates == d0, "size"] = X.loc[dates == d0, "value"] * 2.0
    with pytest.warns(UserWarning, match="1 with collinear loadings"):
        model = CrossSectionalFactorModel().fit(X, y)
    assert model.factor_returns_.loc[d0].isna().all()
    assert model.factor_returns_.drop(d0).notna().all().all()


# ---------------------------------------------------------------- predict
def test_cross_sectional_model_predict_mean_ewm_window():
    X, y = make_data(n_dates=20, seed=14)
    est = None
    for mode, kw in [
        ("mean", {}),
        ("ewm", {"halflife": 5.0}),
        ("window", {"window": 7}),
    ]:
        model = CrossSectionalFactorModel(expected_returns=mode, **kw).fit(X, y)
        est = model.params_
        if mode == "mean":
            exp = est.mean()
        elif mode == "ewm":
            exp = est.ewm(halflife=5.0).mean().iloc[-1]
        else:
            exp = est.iloc[-7:].mean()
        np.testing.assert_allclose(model.intercept_, exp.iloc[0], rtol=1e-12)
        np.testing.assert_allclose(model.coef_, exp.iloc[1:], rtol=1e-12)
        pred = model.predict(X)
        assert pred.index.equals(X.index)
        want = X.to_numpy() @ exp.iloc[1:].to_numpy() + exp.iloc[0]
        np.testing.assert_allclose(pred.to_numpy(), want, rtol=1e-12)
        assert pred[X.isna().any(axis=1)].isna().all()
        assert pred[X.notna().all(axis=1)].notna().all()


def test_cross_sectional_model_score_is_pooled_r2_of_predictions():
    X, y = make_data(seed=15)
    model = CrossSectionalFactorModel().fit(X, y)
    pred = model.predict(X)
    ok = pred.notna() & y.notna()
    from sklearn.metrics import r2_score

    assert model.score(X, y) == pytest.approx(r2_score(y[ok], pred[ok]), rel=1e-12)


# ------------------------------------------------------------------ errors
def test_cross_sectional_model_input_errors():
    X, y = make_data(seed=16)
    model = CrossSectionalFactorModel()
    with pytest.raises(ValueError, match="same index"):
        model.fit(X, y.sort_index())
    with pytest.raises(ValueError, match="requires y to be passed"):
        model.fit(X, None)
    with pytest.raises(ValueError, match="`y` has 5 rows but `X` has"):
        model.fit(X, y.to_numpy()[:5])
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        model.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="`sample_weight` and `X` must have the same"):
        model.fit(X, y, sample_weight=pd.Series(1.0, index=y.index[::-1]))
    with pytest.raises(ValueError, match="`y` contains inf"):
        model.fit(X, y.replace(y.iloc[0], np.inf))
    with pytest.raises(ValueError, match="No row is complete"):
        model.fit(X, y * np.nan)
    with pytest.raises(ValueError, match="`industries` entry 'nope'"):
        CrossSectionalFactorModel(industries=["nope"]).fit(X, y)
    with pytest.raises(ValueError, match="must hold 0/1 indicators"):
        CrossSectionalFactorModel(industries=["value"]).fit(X, y)
    with pytest.raises(ValueError, match="duplicated"):
        model.fit(pd.concat([X, X.iloc[:1]]), pd.concat([y, y.iloc[:1]]))


def test_cross_sectional_model_does_not_mutate_inputs():
    X, y = make_data(seed=17)
    w = pd.Series(1.0, index=y.index)
    X0, y0, w0 = X.copy(), y.copy(), w.copy()
    CrossSectionalFactorModel().fit(X, y, sample_weight=w).predict(X)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_series_equal(w, w0)


# --------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), balanced=st.booleans())
def test_cross_sectional_model_row_order_invariance(seed, balanced):
    X, y = make_data(
        n_dates=5,
        n_assets=15,
        missing_rows=0.0 if balanced else 0.3,
        shuffle=False,
        seed=seed % 50,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = CrossSectionalFactorModel().fit(X, y)
        Xs, ys = shuffled(X, seed), shuffled(y, seed)
        b = CrossSectionalFactorModel().fit(Xs, ys)
    pd.testing.assert_frame_equal(a.factor_returns_, b.factor_returns_, rtol=1e-10)
    pd.testing.assert_series_equal(a.rsquared_, b.rsquared_, rtol=1e-10)
    pd.testing.assert_series_equal(
        a.residuals(X, y).loc[Xs.index], b.residuals(Xs, ys), rtol=1e-9, atol=1e-15
    )


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("layout", ["sorted_balanced", "shuffled"])
def test_cross_sectional_model_finds_inf_on_every_path(where, layout):
    # An inf must be found (naming its column) whichever path the layout
    # takes: read in place (date-sorted balanced) or copied.
    data = make_factor_panel(n_dates=6, n_assets=40, random_state=0)
    X, y = data.X.copy(), data.y.copy()
    if layout == "shuffled":
        order = np.random.default_rng(0).permutation(len(X))
        X, y = X.iloc[order], y.iloc[order]
    row = len(X) // 2
    if where == "X":
        X.iloc[row, 1] = -np.inf
        match = f"`X` contains inf or -inf in column\\(s\\) \\['{X.columns[1]}'\\]"
    else:
        y.iloc[row] = np.inf
        match = "`y` contains inf"
    with pytest.raises(ValueError, match=match):
        CrossSectionalFactorModel().fit(X, y)


def test_cross_sectional_model_residuals_on_other_dates_and_no_stored_copy():
    X, y = make_data(n_dates=8, seed=21)
    dates = X.index.get_level_values(0)
    first = dates < dates.unique().sort_values()[5]
    model = CrossSectionalFactorModel().fit(X[first], y[first])
    assert not hasattr(model, "resid_")  # no training-sized array kept
    resid = model.residuals(X, y)
    assert resid.index.equals(X.index)
    assert resid[~first].isna().all()  # dates fit did not see
    # Not bitwise: the per-date products go through BLAS on blocks of dates,
    # whose rounding may depend on the other dates of the block.
    np.testing.assert_allclose(
        resid[first], model.residuals(X[first], y[first]), rtol=1e-12, atol=1e-15
    )
    with pytest.raises(ValueError, match="`X` is one cross-section but the model"):
        model.residuals(X.droplevel(0).iloc[:10], y.to_numpy()[:10])


# ------------------------------------------- per-date diagnostics, kernels
def sp500_panel(n_dates=120, holes=0.1, seed=0):
    """Real data: daily S&P 500 returns on trailing momentum, volatility, reversal.

    skfolio's 20 stocks, the loadings computed from past prices only, z-scored
    per date; ``holes`` of the loadings and returns set to NaN (unbalanced).
    """
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()
    r = prices.pct_change()
    X = pd.concat(
        {
            "momentum": prices.shift(1) / prices.shift(61) - 1,
            "volatility": r.shift(1).rolling(20).std(),
            "reversal": prices.shift(1) / prices.shift(6) - 1,
        },
        axis=1,
    ).iloc[-n_dates:]
    X = X.stack(level=1, future_stack=True).rename_axis(["date", "asset"])
    g = X.groupby(level="date")
    X = (X - g.transform("mean")) / g.transform("std")
    y = r.iloc[-n_dates:].stack().rename_axis(["date", "asset"]).rename("return")
    rng = np.random.default_rng(seed)
    X = X.mask(rng.random(X.shape) < holes / 3)
    y = y.mask(rng.random(len(y)) < holes / 3)
    return X, y.loc[X.index]


def assert_diagnostics_match(model, refs):
    """bse_, tvalues_, pvalues_ and diagnostics_ equal statsmodels per date."""
    D = model.diagnostics_
    for date, ref in refs.items():
        cols = list(ref.params.index)
        row = D.loc[date]
        assert row["nobs"] == ref.nobs
        assert row["rank"] == np.linalg.matrix_rank(ref.model.wexog)
        if row["status"] != 0:
            assert model.bse_.loc[date].isna().all()
            continue
        assert row["df_resid"] == ref.df_resid
        for ours, theirs in [
            (model.bse_.loc[date, cols], ref.bse),
            (model.tvalues_.loc[date, cols], ref.tvalues),
            (model.pvalues_.loc[date, cols], ref.pvalues),
            (row["rsquared"], ref.rsquared),
            (row["rsquared_adj"], ref.rsquared_adj),
        ]:
            np.testing.assert_allclose(np.asarray(ours, float), theirs, rtol=1e-8)
        if model.condition_number:
            cond = ref.condition_number
            np.testing.assert_allclose(row["condition_number"], cond, rtol=1e-8)
        else:
            assert np.isnan(row["condition_number"])


@pytest.mark.parametrize("weighted", [False, True], ids=["ols", "wls"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_sectional_model_diagnostics_equal_statsmodels_on_sp500(
    weighted, fit_intercept
):
    X, y = sp500_panel()
    w = None
    if weighted:  # e.g. the square root of a size proxy
        w = pd.Series(np.random.default_rng(1).uniform(0.5, 2.0, len(y)), index=y.index)
    model = CrossSectionalFactorModel(
        fit_intercept=fit_intercept, condition_number=True
    )
    model.fit(X, y, sample_weight=w)
    refs = per_date_statsmodels(X, y, w, fit_intercept)
    assert_diagnostics_match(model, refs)
    # The condition number is opt-in; the rest of the table does not change.
    plain = CrossSectionalFactorModel(fit_intercept=fit_intercept)
    plain.fit(X, y, sample_weight=w)
    assert plain.diagnostics_["condition_number"].isna().all()
    pd.testing.assert_frame_equal(
        plain.diagnostics_.drop(columns="condition_number"),
        model.diagnostics_.drop(columns="condition_number"),
    )
    assert list(model.bse_.columns) == list(model.params_.columns)
    assert model.tvalues_.index.equals(model.params_.index)
    assert (model.diagnostics_["status"] == 0).all()


@pytest.mark.parametrize("shuffle", [False, True])
def test_cross_sectional_model_diagnostics_say_why_a_date_is_not_estimated(shuffle):
    X, y = make_data(
        n_dates=12, n_assets=40, missing_values=0, y_missing=0, seed=21, shuffle=shuffle
    )
    dates = X.index.get_level_values(0)
    d0, d1 = dates.unique().sort_values()[:2]
    y.iloc[np.flatnonzero(dates == d0)[3:]] = np.nan  # 3 rows for 4 regressors
    X.loc[dates == d1, "size"] = X.loc[dates == d1, "value"] * 3.0  # collinear
    with pytest.warns(UserWarning) as caught:
        model = CrossSectionalFactorModel(condition_number=shuffle).fit(X, y)
    msg = str(caught[0].message)
    assert "1 with fewer complete rows than the 4 regressors, e.g. 2015-01-02" in msg
    assert "1 with collinear loadings on that date, e.g. 2015-01-05" in msg
    assert "`diagnostics_`" in msg
    D = model.diagnostics_
    words = D["status"].map(dict(enumerate(model.STATUS)))
    assert words[d1] == "collinear loadings" and D.loc[d1, "status"] == 2
    assert (words.drop([d0, d1]) == "ok").all()
    assert D.loc[d1, "rank"] == 3 and D.loc[d1, "nobs"] > 4
    assert words[d0] == "too few rows" and D.loc[d0, "nobs"] == 3
    refs = per_date_statsmodels(X, y)
    assert_diagnostics_match(model, refs)
    # One home: rsquared_ and nobs_ are diagnostics_' columns.
    pd.testing.assert_series_equal(model.rsquared_, D["rsquared"])
    pd.testing.assert_series_equal(model.nobs_, D["nobs"])
    assert {"rsquared_", "nobs_"}.isdisjoint(vars(model))


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_sectional_model_diagnostics_generated_panel_with_holes(weighted):
    data = make_factor_panel(
        n_dates=25, n_assets=60, missing_rows=0.3, missing_values=0.05, random_state=4
    )
    X, y = data.X, data.y
    w = None
    if weighted:
        w = pd.Series(np.random.default_rng(2).uniform(1, 3, len(y)), index=y.index)
        w = w.mask(np.random.default_rng(3).random(len(w)) < 0.05)
    model = CrossSectionalFactorModel(condition_number=True)
    model.fit(X, y, sample_weight=w)
    assert_diagnostics_match(model, per_date_statsmodels(X, y, w))


def test_cross_sectional_model_industry_bse_equal_reparametrised_ols():
    """Constrained standard errors: OLS on the design with g_e substituted out."""
    X, y, ind = industry_data(empty=pd.Timestamp("2015-01-05"))
    model = CrossSectionalFactorModel(industries=ind, industry_weights="equal")
    model.fit(X, y)
    names = ["const", *X.columns]
    for date, Xd in X.groupby(level="date"):
        yd = y.loc[Xd.index]
        ok = yd.notna().to_numpy()
        Z = np.column_stack([np.ones(ok.sum()), Xd.to_numpy()[ok]])
        present = [names.index(j) for j in ind if Xd[j][ok].sum() > 0]
        keep = [j for j in range(len(names)) if names[j] not in ind or j in present]
        e = present[-1]  # g_e = -sum of the other present industries
        N = np.eye(len(names))[:, keep]
        N[e] = 0.0
        N[e, [keep.index(j) for j in present[:-1]]] = -1.0
        N = np.delete(N, keep.index(e), axis=1)
        res = sm.OLS(yd.to_numpy()[ok], Z @ N).fit()
        cov = N @ res.cov_params() @ N.T
        bse = np.sqrt(np.diag(cov))[keep]
        ours = model.bse_.loc[date].iloc[keep].to_numpy()
        np.testing.assert_allclose(ours, bse, rtol=1e-8)
        assert model.diagnostics_.loc[date, "df_resid"] == res.df_resid
        assert model.bse_.loc[date].drop([names[j] for j in keep]).isna().all()


@pytest.mark.parametrize("kernel", ["bartlett", "parzen", "qs"])
@pytest.mark.parametrize("bandwidth", [None, 4, 2.5], ids=["auto", "bw4", "bw2.5"])
@pytest.mark.parametrize("data", ["sp500", "generated"])
def test_cross_sectional_model_kernels_equal_linearmodels(kernel, bandwidth, data):
    if data == "sp500":
        X, y = sp500_panel(n_dates=150, holes=0.15)
    else:
        X, y = make_data(n_dates=60, n_assets=30, seed=22)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CrossSectionalFactorModel().fit(X, y)
    kw = {} if bandwidth is None else {"bandwidth": bandwidth}
    ours = model.summary(cov_type="kernel", kernel=kernel, **kw)
    ref = linearmodels_fmb(X, y, "kernel", kernel=kernel, **kw)
    np.testing.assert_allclose(ours["coef"], ref.params, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], ref.std_errors, rtol=1e-8)
    np.testing.assert_allclose(ours["t"], ref.tstats, rtol=1e-8)
    np.testing.assert_allclose(ours["p_value"], ref.pvalues, rtol=1e-8)
    if kernel != "bartlett":  # a different kernel changes the standard errors
        nw = model.summary(cov_type="kernel", **kw)
        assert not np.allclose(nw["std_err"], ours["std_err"], rtol=1e-6)


def test_cross_sectional_model_kernel_errors_and_fewest_dates():
    X, y = make_data(n_dates=5, seed=23)
    model = CrossSectionalFactorModel().fit(X, y)
    with pytest.raises(ValueError, match="`kernel` must be one of"):
        model.summary(cov_type="kernel", kernel="tukey")
    with pytest.raises(ValueError, match="`bandwidth` must be a number >= 0"):
        model.summary(cov_type="kernel", bandwidth=-1)
    # Parzen's rule needs 5 dates, the quadratic spectral one 6 (linearmodels).
    model.summary(cov_type="kernel", kernel="parzen")
    with pytest.raises(ValueError, match="'qs' kernel needs at least 6"):
        model.summary(cov_type="kernel", kernel="qs")
    qs = model.summary(cov_type="kernel", kernel="qs", bandwidth=4.5)
    ref = linearmodels_fmb(X, y, "kernel", kernel="qs", bandwidth=4.5)
    np.testing.assert_allclose(qs["std_err"], ref.std_errors, rtol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cov_type": "kernel", "bandwidth": "3"}, r"got '3' \(a string\)"),
        (
            {"cov_type": "kernel", "bandwidth": float("inf")},
            "`bandwidth` must be a number >= 0",
        ),
        (
            {"cov_type": "kernel", "bandwidth": False},
            "`bandwidth` must be a number >= 0",
        ),
        ({"cov_type": "unadjusted", "bandwidth": -1}, "must be a number >= 0"),
        (
            {"cov_type": "kernel", "kernel": "Bartlett"},
            r'`kernel` must be one of "bartlett", "parzen", "qs"; got \'Bartlett\'',
        ),
        (
            {"cov_type": "hac"},
            r'`cov_type` must be one of "nonrobust" \(or "unadjusted", '
            r'"fama-macbeth"\), "kernel" \(or "HAC", "newey-west"\); got \'hac\'',
        ),
    ],
)
def test_cross_sectional_model_summary_validates_every_argument(kwargs, match):
    data = make_factor_panel(n_dates=30, n_assets=40, random_state=0)
    model = CrossSectionalFactorModel().fit(data.loadings, data.y)
    with pytest.raises(ValueError, match=match):
        model.summary(**kwargs)


# ------------------------------------------------ digits on near-exact fits
def exact_fit_panel(noise, balanced, seed=0, n_dates=6, n_assets=50):
    """Returns = 0.3 + loadings @ premia + noise * N(0, 1): a near-exact fit."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2020-01-01", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:02d}" for i in range(n_assets)], name="asset")
    index = pd.MultiIndex.from_product([dates, assets])
    X = pd.DataFrame(
        rng.normal(size=(len(index), 3)), index=index, columns=["a", "b", "c"]
    )
    y = 0.3 + X @ rng.normal(size=3) + noise * rng.normal(size=len(index))
    if not balanced:  # 20 % of rows missing, shuffled: the copying path
        keep = rng.random(len(index)) > 0.2
        order = rng.permutation(int(keep.sum()))
        X, y = X[keep].iloc[order], y[keep].iloc[order]
    return X, y


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("noise", [1e-7, 1e-8])
def test_cross_sectional_model_bse_near_exact_fit_equals_statsmodels(noise, balanced):
    X, y = exact_fit_panel(noise, balanced)
    weights = pd.Series(
        np.random.default_rng(1).uniform(0.5, 2.0, len(y)), index=y.index
    )
    for w in (None, weights):
        model = CrossSectionalFactorModel().fit(X, y, sample_weight=w)
        refs = per_date_statsmodels(X, y, weights=w)
        dates = sorted(refs)
        bse = pd.DataFrame([refs[d].bse for d in dates], index=dates)
        np.testing.assert_allclose(model.bse_.loc[dates, bse.columns], bse, rtol=1e-6)
        tvalues = pd.DataFrame([refs[d].tvalues for d in dates], index=dates)
        np.testing.assert_allclose(
            model.tvalues_.loc[dates, tvalues.columns], tvalues, rtol=1e-6
        )
        np.testing.assert_allclose(
            1 - model.rsquared_.loc[dates],
            [1 - refs[d].rsquared for d in dates],
            rtol=1e-5,
        )


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("factor", [2.0**-530, 1e-160, 1e160])
def test_cross_sectional_model_scale_of_loadings_and_returns_irrelevant(
    factor, balanced
):
    X, y = exact_fit_panel(1e-2, balanced)
    base = CrossSectionalFactorModel(condition_number=True).fit(X, y)
    # Powers of two scale exactly; 1e-160 rounds each loading once.
    rtol = 0 if factor == 2.0**-530 else 1e-14
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = CrossSectionalFactorModel().fit(X * factor, y)
        big = CrossSectionalFactorModel().fit(X, y * factor)
    for model, coef_factor in ((small, 1 / factor), (big, factor)):
        assert (model.diagnostics_["status"] == 0).all()  # no date "collinear"
        np.testing.assert_allclose(
            model.factor_returns_, base.factor_returns_ * coef_factor, rtol=rtol
        )
        np.testing.assert_allclose(
            model.bse_[["a", "b", "c"]],
            base.bse_[["a", "b", "c"]] * coef_factor,
            rtol=1e-10,
        )
        np.testing.assert_allclose(model.tvalues_, base.tvalues_, rtol=1e-10)
        np.testing.assert_allclose(model.rsquared_, base.rsquared_, rtol=1e-10)
    np.testing.assert_allclose(
        big.params_["const"], base.params_["const"] * factor, rtol=1e-14
    )


def test_cross_sectional_model_scaled_loadings_beside_industries():
    X, y, ind = industry_data(seed=3)
    base = CrossSectionalFactorModel(industries=ind).fit(X, y)
    np.testing.assert_allclose(base.params_, kkt_reference(X, y, ind), rtol=1e-9)
    factors = pd.Series({"value": 1e170, "size": 1e-170})
    scaled = X.assign(**{c: X[c] * f for c, f in factors.items()})
    model = CrossSectionalFactorModel(industries=ind).fit(scaled, y)
    assert (model.diagnostics_["status"] == 0).all()
    units = pd.Series(1.0, index=base.params_.columns)
    units[factors.index] = 1 / factors
    np.testing.assert_allclose(model.params_, base.params_ * units, rtol=1e-12)
    np.testing.assert_allclose(model.bse_, base.bse_ * units, rtol=1e-10)


def test_cross_sectional_model_partitions_in_other_units_still_find_collinearity():
    """The Dask path sums partitions' Gram matrices: in common units."""
    X, y = exact_fit_panel(1e-2, True, n_dates=8)
    late = X.index.get_level_values("date") >= X.index.levels[0][4]
    X.loc[late, "b"] *= 1e-3  # other magnitudes there: other power-of-two units
    X["c"] = 3.0 + X["b"]  # collinear with b and the intercept on each date
    model = CrossSectionalFactorModel()
    parts = [model._fit_partition(X[m], y[m]) for m in (~late, late)]
    with pytest.raises(ValueError, match=r"`X` columns \['b', 'c'\] are collinear"):
        model._finalise(parts)
    with pytest.raises(ValueError, match=r"`X` columns \['b', 'c'\] are collinear"):
        CrossSectionalFactorModel().fit(X, y)


# ------------------------------------------- results contract (issue 24)
def test_cross_sectional_model_fit_does_not_compute_inference(monkeypatch):
    """bse_, tvalues_, pvalues_, diagnostics_: computed on first access only."""
    import skfactor.models._date_diagnostics as dd

    X, y = make_data(seed=31)
    calls = []
    real = dd.date_diagnostics

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dd, "date_diagnostics", counted)
    model = CrossSectionalFactorModel().fit(X, y)
    assert calls == []
    assert {"bse_", "tvalues_", "pvalues_", "diagnostics_"}.isdisjoint(vars(model))
    model.summary()  # the Fama-MacBeth table needs none of them
    assert np.isfinite(model.rsquared_).any() and (model.nobs_ > 0).all()
    assert calls == []
    bse = model.bse_
    assert calls == [1]
    assert model.tvalues_.index.equals(bse.index) and len(model.diagnostics_)
    assert model.bse_ is bse and calls == [1]  # computed once, then kept


def test_cross_sectional_model_lazy_attributes_survive_pickle_clone_refit():
    import pickle

    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    X, y = make_data(seed=32)
    unfitted = CrossSectionalFactorModel()
    for name in ("bse_", "tvalues_", "pvalues_", "diagnostics_", "rsquared_"):
        assert not hasattr(unfitted, name)
    with pytest.raises(NotFittedError, match="call `fit` first"):
        unfitted.bse_  # noqa: B018
    with pytest.raises(NotFittedError, match="not fitted yet"):
        check_is_fitted(unfitted)

    model = CrossSectionalFactorModel().fit(X, y)
    expected = CrossSectionalFactorModel().fit(X, y)
    names = ("bse_", "tvalues_", "pvalues_", "diagnostics_")
    for copy in (
        pickle.loads(pickle.dumps(model)),  # pickled before the first access
        clone(model).fit(X, y),
    ):
        for name in names:
            pd.testing.assert_frame_equal(getattr(copy, name), getattr(expected, name))
    accessed = pickle.loads(pickle.dumps(expected))  # pickled after it
    pd.testing.assert_frame_equal(accessed.bse_, expected.bse_)
    # A new fit starts afresh: no stale standard errors.
    X2, y2 = make_data(seed=33)
    expected.fit(X2, y2)
    fresh = CrossSectionalFactorModel().fit(X2, y2)
    for name in names:
        pd.testing.assert_frame_equal(getattr(expected, name), getattr(fresh, name))


@pytest.mark.parametrize(
    ("canonical", "aliases", "kw"),
    [
        ("nonrobust", ("unadjusted", "fama-macbeth"), {}),
        ("kernel", ("HAC", "newey-west"), {"bandwidth": 3}),
        ("kernel", ("HAC", "newey-west"), {}),
    ],
)
def test_cross_sectional_model_summary_aliases_give_the_canonical_table(
    canonical, aliases, kw
):
    X, y = make_data(n_dates=30, seed=34)
    model = CrossSectionalFactorModel().fit(X, y)
    expected = model.summary(canonical, **kw)
    for alias in aliases:
        table = model.summary(alias, **kw)
        pd.testing.assert_frame_equal(table, expected)
        assert table.header == expected.header
        assert table.header["cov_type"] == canonical


@pytest.mark.parametrize("cov_type", ["unadjusted", "kernel"])
def test_cross_sectional_model_summary_header_equals_linearmodels(cov_type):
    from skfactor.models._summary import HEADER_KEYS, Summary

    X, y = make_data(n_dates=40, n_assets=30, seed=6)
    first = X.index.get_level_values(0).min()
    thin = (X.index.get_level_values(0) == first) & (np.arange(len(X)) % 10 != 0)
    y = y.mask(thin)  # one date not estimated: T = 39
    with pytest.warns(UserWarning, match="1 of 40 dates"):
        model = CrossSectionalFactorModel().fit(X, y)
    table = model.summary(cov_type)
    ref = linearmodels_fmb(X, y, cov_type)
    assert isinstance(table, Summary)
    assert set(HEADER_KEYS) <= set(table.header)
    header = table.header
    assert header["estimator"] == "CrossSectionalFactorModel"
    assert header["n_dates"] == 39 == int(ref.time_info["total"]) - 1
    assert header["n_assets"] == model.nobs_.max()
    np.testing.assert_allclose(header["mean_rsquared"], ref.avg_rsquared, rtol=1e-12)
    if cov_type == "kernel":
        assert header["cov_type"] == "kernel" and header["kernel"] == "bartlett"
        # The automatic Newey-West (1994) bandwidth, as linearmodels chose it.
        assert header["bandwidth"] == ref._deferred_cov.__self__.bandwidth
    else:
        assert header["cov_type"] == "nonrobust"
        assert header["kernel"] is None and header["bandwidth"] is None
    text = str(table)
    assert "Covariance: " + header["cov_type"] in text and "Bandwidth:" in text


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_sectional_model_copying_path_redoes_far_means_explicitly(weighted):
    """Unbalanced, shuffled: one-pass centring, redone where means dwarf spreads."""
    X, y = make_data(n_dates=8, n_assets=60, seed=41)
    dates = X.index.get_level_values("date")
    far = dates.isin(dates.unique().sort_values()[[2, 5]])
    X.loc[far, "value"] += 1e6  # squared mean >> 100 x variance on two dates
    y[far] += 1e3
    w = None
    if weighted:
        w = pd.Series(np.random.default_rng(41).uniform(0.5, 2.0, len(X)), X.index)
    model = CrossSectionalFactorModel().fit(X, y, w)
    assert_diagnostics_match(model, per_date_statsmodels(X, y, w))


@pytest.mark.parametrize("shuffle", [False, True])
def test_segment_regression_without_residuals_sums_the_same_squares(shuffle):
    from sklearn.base import BaseEstimator

    from skfactor.panel._regression import segment_regression
    from skfactor.panel._validation import validate_panel

    X, y = make_data(n_dates=10, seed=42, shuffle=shuffle, missing_rows=0.0)
    panel = validate_panel(BaseEstimator(), X, reset=True)
    w = np.random.default_rng(42).uniform(0.0, 2.0, len(y))
    for weights in (None, w):
        full = segment_regression(panel.segments, panel.values, y.to_numpy(), weights)
        lean = segment_regression(
            panel.segments, panel.values, y.to_numpy(), weights, residuals=False
        )
        assert lean.resid is None
        np.testing.assert_allclose(lean.coef, full.coef, rtol=1e-12)
        np.testing.assert_allclose(lean.ssr, full.ssr, rtol=1e-12)
        # The sums of squares are those of the residuals (weighted, scaled).
        e = np.nan_to_num(full.resid) / full.moments.scale[-1]
        sq = e * e * (1.0 if weights is None else np.nan_to_num(weights))
        by_date = np.bincount(panel.date_codes, weights=sq)
        ok = full.status == 0
        np.testing.assert_allclose(full.ssr[ok], by_date[ok], rtol=1e-10)


# ------------------------------------ the one-pass regression (issue 24 speed)
def _edge_panel(layout, seed=51):
    """Dates of 15 to 90 rows (several blocks), NaN cells, and three edge dates.

    The first date has no complete row, the second 3 (fewer than the 4
    regressors), the third has rows with a NaN return.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(15, 90, 24) if layout != "sorted-balanced" else np.full(24, 60)
    X, y = _blocky_panel(sizes, seed)
    dates = X.index.get_level_values("date")
    first, second, third = dates.unique()[:3]
    on = (dates == first).nonzero()[0]
    X.iloc[on, np.arange(len(on)) % 3] = np.nan  # a hole in every row
    on = (dates == second).nonzero()[0]
    X.iloc[on[3:], 0] = np.nan
    X.iloc[on[:3]] = rng.standard_normal((3, 3))
    y.iloc[(dates == third).nonzero()[0][::4]] = np.nan
    if layout == "shuffled":
        X, y = shuffled(X, seed), shuffled(y, seed)
    return X, y, (first, second)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["sorted-balanced", "sorted-unbalanced", "shuffled"])
def test_cross_sectional_model_edge_dates_in_small_blocks_equal_statsmodels(
    layout, weighted, monkeypatch
):
    import skfactor.panel._regression as regression

    monkeypatch.setattr(regression, "_BLOCK_ROWS", 150)  # dates wider than a block
    X, y, (empty, thin) = _edge_panel(layout)
    w = None
    if weighted:
        rng = np.random.default_rng(52)
        w = pd.Series(rng.uniform(0.2, 3.0, len(y)), index=y.index)
        w[rng.random(len(w)) < 0.1] = 0.0  # left out, as a NaN weight
        w[rng.random(len(w)) < 0.05] = np.nan
    with pytest.warns(UserWarning, match="2 with fewer complete rows"):
        model = CrossSectionalFactorModel().fit(X, y, sample_weight=w)
    status = model.diagnostics_["status"]
    assert status[empty] == 1 and status[thin] == 1
    assert model.nobs_[empty] == 0 and model.params_.loc[[empty, thin]].isna().all(None)
    assert (status.drop([empty, thin]) == 0).all()
    Xe = X.drop([empty, thin], level="date")
    ye = y.drop([empty, thin], level="date")
    we = None if w is None else w.drop([empty, thin], level="date").replace(0, np.nan)
    refs = per_date_statsmodels(Xe, ye, weights=we)
    assert_matches(model, Xe, ye, refs, weights=we)
    assert_diagnostics_match(model, refs)
    assert model.residuals(X, y, w).loc[[empty, thin]].isna().all()


def test_segment_regression_moments_in_the_data_units_unless_out_of_range():
    """Units of a power of two only where a date's sums of squares need them."""
    from sklearn.base import BaseEstimator

    from skfactor.panel._regression import UNIT_RANGE, segment_regression
    from skfactor.panel._validation import validate_panel

    X, y = make_data(n_dates=10, seed=53)
    panel = validate_panel(BaseEstimator(), X, reset=True)
    base = segment_regression(panel.segments, panel.values, y.to_numpy())
    np.testing.assert_array_equal(base.moments.scale, 1.0)  # the data's units
    for factor in (1e-60, 1e60):  # a sum of squares of 1e-120 or 1e120
        assert not UNIT_RANGE[0] <= factor**2 <= UNIT_RANGE[1]
        fit = segment_regression(panel.segments, panel.values * factor, y.to_numpy())
        assert not (fit.moments.scale[:-1] == 1).any()
        np.testing.assert_allclose(fit.coef, base.coef / factor, rtol=1e-13)
        ssr = fit.ssr * fit.moments.scale[-1] ** 2  # in the data's units
        np.testing.assert_allclose(ssr, base.ssr, rtol=1e-13)
        np.testing.assert_allclose(fit.resid, base.resid, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shuffle", [False, True])
def test_segment_regression_near_exact_dates_redone_from_their_residuals(shuffle):
    """Normal-equation sums of squares where they keep digits; the others redone."""
    from sklearn.base import BaseEstimator

    from skfactor.panel._regression import segment_regression
    from skfactor.panel._validation import validate_panel

    X, y = exact_fit_panel(1e-9, True, n_dates=6)
    dates = X.index.get_level_values("date")
    noisy = dates.isin(dates.unique()[::2])
    y[noisy] += np.random.default_rng(54).normal(size=noisy.sum())  # R² ~ 0.9
    if shuffle:
        X, y = shuffled(X, 54), shuffled(y, 54)
    panel = validate_panel(BaseEstimator(), X, reset=True)
    fit = segment_regression(panel.segments, panel.values, y.to_numpy())
    e = fit.resid / fit.moments.scale[-1]
    by_date = np.bincount(panel.date_codes, weights=e * e)
    # Near-exact dates: y'y - b'A⁻¹b would keep none of the 1e-18 SSR's digits.
    np.testing.assert_allclose(fit.ssr, by_date, rtol=1e-6)
    assert (by_date[::2] > 1e6 * by_date[1::2]).all()


def test_segment_regression_padded_block_has_zeros_not_nan():
    """Cells without a complete row are 0 (no NaN reaches a matrix product)."""
    from sklearn.base import BaseEstimator

    from skfactor.panel._regression import _padded_block
    from skfactor.panel._validation import validate_panel

    X, y = make_data(n_dates=5, seed=55)  # unbalanced, shuffled, NaN in X and y
    panel = validate_panel(BaseEstimator(), X, reset=True)
    w = np.random.default_rng(55).uniform(0.0, 2.0, len(y))
    w[::9] = 0.0
    seg = np.arange(panel.segments.n_segments)
    data = (panel.values, y.to_numpy(), w)
    Z, complete, sw = _padded_block(panel.segments, seg, data, None)
    assert not np.isnan(Z[:-1]).any()
    rows = np.c_[panel.values, y.to_numpy()]
    ok = ~np.isnan(rows).any(axis=1) & (w > 0)
    counts = np.bincount(panel.date_codes, ok)
    np.testing.assert_array_equal(complete.sum(axis=1), counts)
    for d in seg:  # each date's complete rows, in its order, then zeros
        bounds = panel.segments.bounds
        mine = panel.segments.sort(np.arange(len(y)))[bounds[d] : bounds[d + 1]]
        mine = mine[ok[mine]]
        got = Z[:-1, d][:, complete[d]]
        np.testing.assert_array_equal(got, rows[mine].T)
        np.testing.assert_array_equal(Z[:-1, d][:, ~complete[d]], 0.0)
        np.testing.assert_array_equal(sw[d][complete[d]], np.sqrt(w[mine]))
        np.testing.assert_array_equal(sw[d][~complete[d]], 0.0)
