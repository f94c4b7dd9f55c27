"""partial_fit and update: advancing a fitted model by new dates equals a refit."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skfactor import TimeSeriesFactorModel
from skfactor.models._lazy import lazy_results
from skfactor.risk import FactorCovariance, FactorRiskModel

CHUNKS = [1, 5, 21]


def first_dates(size):
    """Where the updates start: one date at a time only over the last 40."""
    return 260 if size == 1 else 200


def factor_returns(n_dates=300, k=4, seed=0):
    """Factor returns by business day, a few dates with a missing factor."""
    rng = np.random.default_rng(seed)
    vol = np.r_[np.ones(n_dates - n_dates // 3), 1.7 * np.ones(n_dates // 3)]
    F = rng.normal(0.0005, 0.01, (n_dates, k)) * vol[:, None]
    F[rng.choice(n_dates, 12, replace=False), rng.integers(0, k, 12)] = np.nan
    dates = pd.bdate_range("2015-01-01", periods=n_dates)
    return pd.DataFrame(F, index=dates, columns=[f"f{i}" for i in range(k)])


def in_chunks(estimator, X, first, size, y=None, start="fit"):
    """``start`` (fit or partial_fit) on the first ``first`` rows, then
    partial_fit ``size`` rows at a time, through a pickle round trip between
    updates (a production job restarts). ``y``'s chunks keep only the assets
    with a return in them: a listing appears, a delisting disappears."""

    def rows(lo, hi):
        if y is None:
            return (X.iloc[lo:hi],)
        return X.iloc[lo:hi], y.iloc[lo:hi].dropna(axis=1, how="all")

    est = getattr(estimator, start)(*rows(0, first))
    for lo in range(first, len(X), size):
        est = pickle.loads(pickle.dumps(est))
        est.partial_fit(*rows(lo, lo + size))
    return est


def assert_close(actual, expected):
    """Equal to 1e-10, relative to the scale of the expected values."""
    if expected is None:
        assert actual is None
        return
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(np.nan_to_num(expected)), initial=0.0)
    assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


COVARIANCE_PARAMS = [
    {},
    {"assume_centered": True, "lags": 3},
    {"halflife": 30, "corr_halflife": 90, "lags": 2, "corr_lags": 1},
    {"halflife": 20, "lags": 2, "regime_halflife": 10},
    {"halflife": 20, "corr_halflife": 60, "regime_halflife": 8}
    | {"assume_centered": True},
    {"halflife": 25, "eigen_scale": 1.2, "n_simulations": 20, "regime_halflife": 9},
]


@pytest.mark.parametrize("params", COVARIANCE_PARAMS)
@pytest.mark.parametrize("size", CHUNKS)
def test_factor_covariance_partial_fit_equals_fit(params, size):
    X = factor_returns()
    expected = FactorCovariance(**params).fit(X)
    est = in_chunks(FactorCovariance(**params), X, 200, size)
    for name in (
        "covariance_",
        "location_",
        "regime_multiplier_",
        "regime_statistic_",
        "eigen_bias_",
    ):
        assert_close(getattr(est, name), getattr(expected, name))


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(150, 299), max_size=6, unique=True))
def test_factor_covariance_partial_fit_any_chunks_equal_fit(cuts):
    X = factor_returns()
    params = {"halflife": 20, "corr_halflife": 60, "lags": 2, "regime_halflife": 10}
    expected = FactorCovariance(**params).fit(X)
    bounds = [0, 150, *sorted(c for c in cuts if c != 150), 300]
    est = FactorCovariance(**params)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        est.partial_fit(X.iloc[lo:hi])
    assert_close(est.covariance_, expected.covariance_)
    assert_close(est.regime_statistic_, expected.regime_statistic_)


def test_factor_covariance_partial_fit_first_call_is_fit():
    X = factor_returns()
    params = {"halflife": 20, "lags": 2, "regime_halflife": 10}
    first = FactorCovariance(**params).partial_fit(X)
    expected = FactorCovariance(**params).fit(X)
    assert_allclose(first.covariance_, expected.covariance_, rtol=0, atol=0)
    assert_allclose(first.regime_statistic_, expected.regime_statistic_, rtol=0)


def test_factor_covariance_partial_fit_state_does_not_grow():
    X = factor_returns(n_dates=402)
    est = FactorCovariance(halflife=20, lags=2, regime_halflife=10).fit(X[:100])

    # Apart from the regime statistic's buffer (a per-date output, one float
    # a date), the kept sums do not grow with the history.
    def size():
        return len(pickle.dumps(dataclasses.replace(est._running, history=None)))

    before = size()
    est.partial_fit(X[100:400])  # 4x the dates: a few bytes more for larger ints
    assert size() < before + 32
    # ... and the statistic is extended in place: an update writes its dates
    # into the buffer's spare room, the earlier dates stay where they are.
    est.partial_fit(X[400:401])
    kept = est.regime_statistic_
    est.partial_fit(X[401:402])
    assert np.shares_memory(kept, est.regime_statistic_)
    np.testing.assert_array_equal(est.regime_statistic_[:-1], kept)


def test_factor_covariance_partial_fit_rejects_earlier_dates():
    X = factor_returns()
    est = FactorCovariance().fit(X.iloc[:200])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        est.partial_fit(X.iloc[150:210])


def test_factor_covariance_partial_fit_rejects_other_factors():
    X = factor_returns()
    est = FactorCovariance().fit(X.iloc[:200])
    with pytest.raises(ValueError, match="feature names"):
        est.partial_fit(X.iloc[200:].rename(columns={"f0": "g0"}))
    with (
        pytest.raises(ValueError, match="features"),
        pytest.warns(UserWarning, match="valid feature names"),
    ):
        est.partial_fit(X.iloc[200:, :3].to_numpy())


def test_factor_covariance_partial_fit_rejects_changed_parameters():
    X = factor_returns()
    est = FactorCovariance(halflife=20).fit(X.iloc[:200])
    est.set_params(halflife=30)
    with pytest.raises(ValueError, match="parameters changed since"):
        est.partial_fit(X.iloc[200:])


# ------------------------------------------------------------ time series
# A listing's first dates are fewer than its regressors: each update warns.
few_dates = pytest.mark.filterwarnings("ignore:.* assets have at most:UserWarning")


def asset_returns(n_dates=300, n_assets=40, k=3, seed=1):
    """Factor and asset returns with holes, listings and delistings.

    The last quarter of the assets list after the first 200 dates, in column
    order (so that a model grown date by date lists them in ``y``'s order);
    an eighth delist after date 150; 5 % of the cells are missing; 4 dates
    miss a factor.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2012-01-02", periods=n_dates)
    F = pd.DataFrame(rng.normal(0.0004, 0.01, (n_dates, k)), index=dates)
    F.columns = ["MKT", "SMB", "HML"][:k]
    beta = rng.normal(1.0, 0.5, (k, n_assets))
    noise = 0.02 * rng.standard_t(5, (n_dates, n_assets))
    values = F.to_numpy() @ beta + 0.0002 + noise
    values[rng.random(values.shape) < 0.05] = np.nan
    t = np.arange(n_dates)[:, None]
    late = n_assets // 4
    listing = np.r_[np.zeros(n_assets - late), np.linspace(205, 270, late)]
    values[t < listing.astype(int)] = np.nan
    delisting = np.arange(n_assets) // (n_assets // 8) == 4
    values[(t > 150) & delisting] = np.nan
    F.iloc[rng.choice(n_dates, 4, replace=False), 0] = np.nan
    R = pd.DataFrame(
        values, index=dates, columns=[f"A{i:02d}" for i in range(n_assets)]
    )
    return F, R


def assert_same_model(model, expected, X):
    for name in ("coef_", "intercept_", "params_", "rsquared_", "rsquared_adj_"):
        assert_close(
            np.asarray(getattr(model, name)), np.asarray(getattr(expected, name))
        )
    pd.testing.assert_index_equal(model.assets_, expected.assets_)
    pd.testing.assert_series_equal(model.nobs_, expected.nobs_, check_dtype=False)
    lazy, lazy_expected = lazy_results(model), lazy_results(expected)
    assert lazy.keys() == lazy_expected.keys() and lazy
    for name, value in lazy_expected.items():
        assert_close(np.asarray(lazy[name]), np.asarray(value))
    summary, summary_expected = model.summary(), expected.summary()
    assert_close(summary.to_numpy(), summary_expected.to_numpy())
    header, header_expected = summary.header, summary_expected.header
    assert header.keys() == header_expected.keys()
    for key, value in header_expected.items():
        if isinstance(value, float):
            assert_close(header[key], value)
        else:
            assert header[key] == value, key
    assert_close(model.predict(X).to_numpy(), expected.predict(X).to_numpy())


@few_dates
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1"])
@pytest.mark.parametrize("size", CHUNKS)
def test_time_series_partial_fit_equals_fit(cov_type, size):
    X, y = asset_returns()
    expected = TimeSeriesFactorModel(cov_type=cov_type).fit(X, y)
    model = TimeSeriesFactorModel(cov_type=cov_type)
    start = "fit" if cov_type == "nonrobust" else "partial_fit"  # fit keeps no HC sums
    model = in_chunks(model, X, first_dates(size), size, y, start)
    assert_same_model(model, expected, X)


@few_dates
@pytest.mark.parametrize(
    "params",
    [
        {"cov_type": "HC2"},
        {"cov_type": "HC3"},
        {"cov_type": "HAC", "bandwidth": 3},
        {"cov_type": "HAC"},
        {"cov_type": "nonrobust", "fit_intercept": False},
    ],
)
def test_time_series_partial_fit_from_the_first_date_equals_fit(params):
    X, y = asset_returns()
    expected = TimeSeriesFactorModel(**params).fit(X, y)
    model = in_chunks(TimeSeriesFactorModel(**params), X, 200, 21, y, "partial_fit")
    assert_same_model(model, expected, X)


def test_time_series_partial_fit_grs_equals_fit():
    X, y = asset_returns(n_assets=8, seed=3)
    y = balanced(y)
    expected = TimeSeriesFactorModel().fit(X, y)
    assert np.isfinite(expected.grs_.statistic)
    for size in CHUNKS:
        model = in_chunks(TimeSeriesFactorModel(), X, first_dates(size), size, y)
        assert_close(tuple(model.grs_), tuple(expected.grs_))
        assert model.grs_.df_denom == expected.grs_.df_denom


def test_time_series_partial_fit_grs_with_a_listing_restarts():
    X, y = asset_returns(n_assets=8, seed=3)
    y = balanced(y)
    y.iloc[:220, 5] = np.nan  # lists on date 220: the fitted dates are incomplete
    expected = TimeSeriesFactorModel().fit(X, y)
    model = in_chunks(TimeSeriesFactorModel(), X, 200, 5, y)
    assert_close(tuple(model.grs_), tuple(expected.grs_))


def test_time_series_partial_fit_single_series_and_arrays():
    X, y = asset_returns()
    expected = TimeSeriesFactorModel().fit(X, y["A03"])
    model = TimeSeriesFactorModel().fit(X.iloc[:250], y["A03"].iloc[:250])
    model.partial_fit(X.iloc[250:], y["A03"].iloc[250:])
    assert_close(model.params_.to_numpy(), expected.params_.to_numpy())
    assert_close(model.predict(X).to_numpy(), expected.predict(X).to_numpy())
    Xa, ya = X.to_numpy(), y.iloc[:, :20].to_numpy()
    expected = TimeSeriesFactorModel().fit(Xa, ya)
    model = (
        TimeSeriesFactorModel().fit(Xa[:250], ya[:250]).partial_fit(Xa[250:], ya[250:])
    )
    assert_close(model.params_.to_numpy(), expected.params_.to_numpy())
    with pytest.raises(ValueError, match="must hold the 20 fitted assets"):
        model.partial_fit(Xa[250:], ya[250:, :5])


def balanced(y):
    """Six assets observed on every date: the GRS test is defined."""
    noise = np.random.default_rng(0).normal(0, 0.02, y.shape)
    return y.fillna(pd.DataFrame(noise, y.index, y.columns)).iloc[:, :6]


@few_dates
def test_time_series_partial_fit_rejects_bad_updates():
    X, y = asset_returns()
    model = TimeSeriesFactorModel().fit(X.iloc[:200], y.iloc[:200])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        model.partial_fit(X.iloc[190:210], y.iloc[190:210])
    with pytest.raises(ValueError, match="feature names"):
        model.partial_fit(X.iloc[200:].rename(columns={"MKT": "M"}), y.iloc[200:])
    model.set_params(cov_type="HC1")
    with pytest.raises(ValueError, match="`cov_type` or `fit_intercept` changed"):
        model.partial_fit(X.iloc[200:], y.iloc[200:])
    for cov_type in ("HC0", "HAC"):
        fitted = TimeSeriesFactorModel(cov_type=cov_type).fit(X[:200], y[:200])
        with pytest.raises(ValueError, match="Start the model with `partial_fit`"):
            fitted.partial_fit(X.iloc[200:], y.iloc[200:])


@few_dates
def test_time_series_partial_fit_does_not_mutate_inputs():
    X, y = asset_returns()
    X0, y0 = X.copy(), y.copy()
    TimeSeriesFactorModel(cov_type="HC0").partial_fit(X[:200], y[:200]).partial_fit(
        X[200:], y[200:]
    )
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_frame_equal(y, y0)


# ------------------------------------------------------------------- risk
RISK_PARAMS = [
    {"halflife": 30, "lags": 2, "min_obs": 20},
    {"halflife": 40, "specific_regime_halflife": 15, "structural": True},
    {
        "halflife": 40,
        "shrinkage": 0.1,
        "specific_regime_halflife": 10,
        "factor_covariance_estimator": FactorCovariance(
            halflife=30, corr_halflife=90, lags=2, regime_halflife=15
        ),
    },
]


@few_dates
@pytest.mark.parametrize(
    ("params", "size"),
    [(RISK_PARAMS[0], 21), (RISK_PARAMS[1], 21), (RISK_PARAMS[2], 21)]
    + [(RISK_PARAMS[2], 1), (RISK_PARAMS[1], 5)],
)
def test_factor_risk_model_update_equals_from_model(params, size):
    X, y = asset_returns()
    model = TimeSeriesFactorModel().fit(X, y)
    y = y.loc[:, model.params_.notna().all(axis=1).to_numpy()]
    model = TimeSeriesFactorModel().fit(X, y)
    cap = pd.Series(np.linspace(1e9, 5e10, y.shape[1]), index=y.columns)
    params = {**params, "market_cap": cap}
    expected = FactorRiskModel.from_model(model, X, y, **params)
    first = first_dates(size)
    risk = FactorRiskModel.from_model(model, X.iloc[:first], y.iloc[:first], **params)
    for lo in range(first, len(X), size):
        risk = pickle.loads(pickle.dumps(risk))
        risk.update(X.iloc[lo : lo + size], y.iloc[lo : lo + size])
    for name in ("exposures", "factor_covariance", "specific_variance", "n_obs"):
        assert_close(getattr(risk, name).to_numpy(), getattr(expected, name).to_numpy())
    pd.testing.assert_frame_equal(risk.factor_returns, expected.factor_returns)
    pd.testing.assert_frame_equal(risk.asset_returns, expected.asset_returns)
    w = pd.Series(1.0 / len(risk.assets), index=risk.assets)
    got, want = risk.risk_decomposition(w), expected.risk_decomposition(w)
    assert_close(got.total_variance, want.total_variance)
    assert_close(got.factors.to_numpy(), want.factors.to_numpy())
    assert_close(risk.asset_covariance.to_numpy(), expected.asset_covariance.to_numpy())


def test_factor_risk_model_update_rejects_what_it_cannot_advance():
    X, y = asset_returns(n_assets=16)
    y = y.iloc[:, :8]
    model = TimeSeriesFactorModel().fit(X, y)
    risk = FactorRiskModel.from_model(model, X.iloc[:200], y.iloc[:200])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        risk.update(X.iloc[150:210], y.iloc[150:210])
    model.fit(X.iloc[:250], y.iloc[:250])
    with pytest.raises(ValueError, match="betas changed since the risk model"):
        risk.update(X.iloc[200:], y.iloc[200:])
    plain = FactorRiskModel(
        risk.exposures, risk.factor_covariance, risk.specific_variance
    )
    with pytest.raises(ValueError, match="built from its pieces"):
        plain.update(X.iloc[200:], y.iloc[200:])
    from sklearn.covariance import LedoitWolf

    model = TimeSeriesFactorModel().fit(X, y)
    lw = FactorRiskModel.from_model(
        model, X.iloc[:200], y.iloc[:200], factor_covariance_estimator=LedoitWolf()
    )
    with pytest.raises(ValueError, match="has no `partial_fit`"):
        lw.update(X.iloc[200:], y.iloc[200:])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10), st.integers(0, 6), st.integers(0, 2)),
        min_size=1,
        max_size=12,
    )
)
def test_growing_array_appends_equal_concatenation(steps):
    """Holders of one buffer (each append from any earlier holder, some rows
    wider) each hold their own rows: those of a plain concatenation."""
    from skfactor.utils._growing import GrowingArray

    rng = np.random.default_rng(len(steps))
    first = rng.integers(0, 9, size=(3, 2))  # float rows widen its type
    holders, expected = [GrowingArray(first)], [first]
    for which, k, wider in steps:
        i = which % len(holders)
        width = expected[i].shape[1] + wider
        rows = rng.normal(size=(k, width))
        if i % 3 == 0:  # a pickled holder: its own buffer, with slack
            holders[i] = pickle.loads(pickle.dumps(holders[i]))
        holders.append(holders[i].append(rows, fill=-1.0))
        padded = np.full((len(expected[i]), width), -1.0)
        padded[:, : expected[i].shape[1]] = expected[i]
        expected.append(np.concatenate([padded, rows]))
        for holder, want in zip(holders, expected, strict=True):
            assert_allclose(holder.values, want, rtol=0, atol=0)
