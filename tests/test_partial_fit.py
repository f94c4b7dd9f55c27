"""partial_fit and update: advancing a fitted model by new dates equals a refit."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skfactor.risk import FactorCovariance

CHUNKS = [1, 5, 21]


def factor_returns(n_dates=300, k=4, seed=0):
    """Factor returns by business day, a few dates with a missing factor."""
    rng = np.random.default_rng(seed)
    vol = np.r_[np.ones(n_dates - n_dates // 3), 1.7 * np.ones(n_dates // 3)]
    F = rng.normal(0.0005, 0.01, (n_dates, k)) * vol[:, None]
    F[rng.choice(n_dates, 12, replace=False), rng.integers(0, k, 12)] = np.nan
    dates = pd.bdate_range("2015-01-01", periods=n_dates)
    return pd.DataFrame(F, index=dates, columns=[f"f{i}" for i in range(k)])


def in_chunks(estimator, X, first, size):
    """Fit on the first ``first`` rows, then partial_fit ``size`` rows at a time,
    through a pickle round trip between updates (a production job restarts)."""
    est = estimator.fit(X.iloc[:first])
    for start in range(first, len(X), size):
        est = pickle.loads(pickle.dumps(est))
        est.partial_fit(X.iloc[start : start + size])
    return est


def assert_close(actual, expected):
    """Equal to 1e-10, relative to the scale of the expected values."""
    if expected is None:
        assert actual is None
        return
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.nanmax(np.abs(expected), initial=0.0)
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


def test_factor_covariance_partial_fit_first_call_is_fit():
    X = factor_returns()
    params = {"halflife": 20, "lags": 2, "regime_halflife": 10}
    first = FactorCovariance(**params).partial_fit(X)
    expected = FactorCovariance(**params).fit(X)
    assert_allclose(first.covariance_, expected.covariance_, rtol=0, atol=0)
    assert_allclose(first.regime_statistic_, expected.regime_statistic_, rtol=0)


def test_factor_covariance_partial_fit_state_does_not_grow():
    X = factor_returns(n_dates=400)
    est = FactorCovariance(halflife=20, lags=2, regime_halflife=10).fit(X[:100])
    size = len(pickle.dumps(est._state))
    est.partial_fit(X[100:400])  # 4x the dates: a few bytes more for larger ints
    assert len(pickle.dumps(est._state)) < size + 32


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
