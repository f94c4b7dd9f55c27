"""FactorCovariance's one-date update: one date's work, the same numbers as a refit."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skfactor.risk import (
    FactorCovariance,
    _adjustments,
    _covariance,
    _estimator,
    _weighted_sums,
)
from skfactor.risk._covariance import nearest_psd
from tests.test_partial_fit import assert_close, factor_returns, in_chunks

USE4 = {"halflife": 20, "corr_halflife": 60, "lags": 2, "regime_halflife": 10}


def eigen_repair(S):
    """nearest_psd as it was: symmetrise, and repair when an eigenvalue is < 0."""
    S = (S + S.T) / 2.0
    eig, vec = np.linalg.eigh(S)
    if eig[0] >= 0:
        return S
    S = (vec * np.maximum(eig, 0.0)) @ vec.T
    return (S + S.T) / 2.0


def test_nearest_psd_cholesky_first_equals_the_eigen_repair():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(500, 30))
    S = A.T @ A / 500
    S[0, 1] += 1e-17  # not exactly symmetric, as a product of sums can be
    assert_array_equal(nearest_psd(S), eigen_repair(S))  # positive definite
    B = A[:, :10] @ rng.normal(size=(10, 30))
    singular = B.T @ B / 500  # rank 10: Cholesky may pass on rounding or not
    scale = np.abs(singular).max()
    assert_allclose(nearest_psd(singular), eigen_repair(singular), atol=1e-13 * scale)
    vec = np.linalg.qr(rng.normal(size=(30, 30)))[0]
    indefinite = (vec * np.r_[-1e-3, -1e-9, np.linspace(0.1, 1, 28)]) @ vec.T
    # both repair through eigh and a product (BLAS; nearest_psd on one thread)
    scale = np.abs(indefinite).max()
    assert_allclose(
        nearest_psd(indefinite), eigen_repair(indefinite), atol=1e-15 * scale
    )
    assert np.linalg.eigvalsh(nearest_psd(indefinite))[0] > -1e-12
    assert_array_equal(nearest_psd(np.zeros((3, 3))), np.zeros((3, 3)))
    with_nan = np.array([[1.0, np.nan], [np.nan, 1.0]])  # no Cholesky on NaN
    assert_array_equal(nearest_psd(with_nan), eigen_repair(with_nan))


@pytest.mark.parametrize(
    "params",
    [USE4, USE4 | {"assume_centered": True}, {"lags": 1, "regime_halflife": 10}],
)
@pytest.mark.parametrize("size", [1, 5, 21])
def test_factor_covariance_partial_fit_use4_equals_fit(params, size):
    X = factor_returns()
    X.iloc[[230, 264, 265, 299]] = np.nan  # incomplete dates, the last one too
    X.iloc[241, 1] = np.nan
    expected = FactorCovariance(**params).fit(X)
    est = in_chunks(FactorCovariance(**params), X, 200, size)
    for name in ("covariance_", "location_", "regime_multiplier_", "regime_statistic_"):
        assert_close(getattr(est, name), getattr(expected, name))


def test_factor_covariance_partial_fit_one_date_costs_one_dates_work(monkeypatch):
    X = factor_returns()
    est = FactorCovariance(**USE4).fit(X.iloc[:-1])
    expected = FactorCovariance(**USE4).fit(X)
    calls = []

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        _estimator, "validate_data", counted("validate_data", _estimator.validate_data)
    )
    monkeypatch.setattr(
        _adjustments, "lfilter", counted("lfilter", _adjustments.lfilter)
    )
    monkeypatch.setattr(np.linalg, "eigh", counted("eigh", np.linalg.eigh))
    est.partial_fit(X.iloc[-1:])
    # the frame is checked without validate_data's per-column inspection, the
    # result without an eigendecomposition, the regime without a filter
    assert calls == []
    assert_close(est.covariance_, expected.covariance_)
    assert_close(est.regime_statistic_, expected.regime_statistic_)


def test_factor_covariance_partial_fit_light_check_rejects_what_validate_data_does():
    X = factor_returns()
    est = FactorCovariance(**USE4).fit(X.iloc[:250])
    new = X.iloc[250:]
    with pytest.raises(ValueError, match="same order as they were in fit"):
        est.partial_fit(new[["f1", "f0", "f2", "f3"]])
    with pytest.raises(ValueError, match="feature names should match"):
        est.partial_fit(new.rename(columns={"f3": "g3"}))
    with pytest.raises(ValueError, match="infinity"):
        est.partial_fit(new.mask(new > 0.015, np.inf))
    with pytest.raises(ValueError, match="could not convert string to float"):
        est.partial_fit(new.assign(f2="x"))
    with (
        pytest.raises(ValueError, match="4 features"),
        pytest.warns(UserWarning, match="does not have valid feature names"),
    ):
        est.partial_fit(new.iloc[:, :3].to_numpy())
    # numbers of another dtype are taken as floats, as validate_data takes them
    ints = (new.fillna(0.0) * 1e4).round().astype("int64")
    got = FactorCovariance(**USE4).fit(X.iloc[:250] * 1e4).partial_fit(ints)
    want = FactorCovariance(**USE4).fit(pd.concat([X.iloc[:250] * 1e4, ints]))
    assert_close(got.covariance_, want.covariance_)
    # fitted on an array: arrays of the same width, and a frame only with a warning
    plain = FactorCovariance(**USE4).fit(X.iloc[:250].to_numpy())
    with pytest.raises(ValueError, match="expecting 4 features"):
        plain.partial_fit(np.zeros((2, 3)))
    with pytest.warns(UserWarning, match="fitted without feature names"):
        plain.partial_fit(new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FactorCovariance(**USE4).fit(X.iloc[:250].to_numpy()).partial_fit(
            new.to_numpy()
        )
    assert not hasattr(plain, "feature_names_in_")
    assert est.n_features_in_ == 4


def test_factor_covariance_partial_fit_refuses_an_older_state():
    X = factor_returns()
    est = FactorCovariance(halflife=20).fit(X.iloc[:250])
    est._running = object()  # the sums of an older skfactor, unpickled
    with pytest.raises(ValueError, match="fitted by an older skfactor"):
        est.partial_fit(X.iloc[250:])


def test_factor_covariance_partial_fit_leaves_inputs_and_copies_alone():
    X = factor_returns()
    est = FactorCovariance(**USE4).fit(X.iloc[:250])
    before = est.covariance_.copy()
    new = X.iloc[250:251]
    kept = new.copy()
    twin = copy.copy(est)  # a shallow copy shares the state it advances from
    twin.partial_fit(new)
    pd.testing.assert_frame_equal(new, kept)  # the frame is read, not written
    assert_array_equal(est.covariance_, before)
    expected = FactorCovariance(**USE4).fit(X.iloc[:251])
    assert_close(est.partial_fit(new).covariance_, expected.covariance_)
    assert_close(twin.covariance_, expected.covariance_)


def spy(monkeypatch, calls, owner, name):
    """Record the name in ``calls`` on each call of ``owner.name``."""
    function = getattr(owner, name)
    monkeypatch.setattr(
        owner, name, lambda *args, **kw: calls.append(name) or function(*args, **kw)
    )


def test_factor_covariance_partial_fit_one_date_advances_one_state(monkeypatch):
    X = factor_returns()
    est = FactorCovariance(**USE4).fit(X.iloc[:-1])
    expected = FactorCovariance(**USE4).fit(X)
    calls = []
    spy(monkeypatch, calls, _weighted_sums.WeightedSums, "add")
    spy(monkeypatch, calls, _covariance.CovarianceSpec, "checked")
    spy(monkeypatch, calls, _estimator, "check_later_dates")
    est.partial_fit(X.iloc[-1:])
    # both half-lives' sums advance in one call; the parameters, unchanged
    # since the fit, are not checked again; the dates are compared unboxed
    assert calls == ["add"]
    for name in ("covariance_", "location_", "regime_multiplier_", "regime_statistic_"):
        assert_close(getattr(est, name), getattr(expected, name))


def test_factor_covariance_partial_fit_parameters_respelled_or_changed():
    X = factor_returns(n_dates=301)
    est = FactorCovariance(**USE4).fit(X.iloc[:250])
    est.set_params(lags=None, bandwidth=2)  # the same lags, the other spelling
    est.partial_fit(X.iloc[250:300])
    assert_close(est.covariance_, FactorCovariance(**USE4).fit(X[:300]).covariance_)
    est.set_params(corr_halflife=61)
    with pytest.raises(ValueError, match="parameters changed since"):
        est.partial_fit(X.iloc[300:])
    est.set_params(corr_halflife=60, lags=3)  # both spellings, two values
    with pytest.raises(
        ValueError, match="`bandwidth`=2 and `lags`=3 name the same lag count"
    ):
        est.partial_fit(X.iloc[300:])


@pytest.mark.parametrize("lags", [0, 1])
@pytest.mark.parametrize("size", [1, 7])
def test_factor_covariance_partial_fit_correlations_with_more_lags(lags, size):
    # the rows kept for the lags are the correlations' (3), the variance
    # path of the regime adjustment uses the volatilities' last ones (or none)
    X = factor_returns()
    X.iloc[[230, 231, 262]] = np.nan
    params = {"halflife": 20, "lags": lags, "corr_halflife": 60, "corr_lags": 3}
    params |= {"regime_halflife": 10}
    expected = FactorCovariance(**params).fit(X)
    est = in_chunks(FactorCovariance(**params), X, 200, size)
    for name in ("covariance_", "location_", "regime_multiplier_", "regime_statistic_"):
        assert_close(getattr(est, name), getattr(expected, name))


def test_factor_covariance_partial_fit_dates_in_a_time_zone():
    X = factor_returns()
    X.index = X.index.tz_localize("America/New_York")
    expected = FactorCovariance(**USE4).fit(X)
    est = in_chunks(FactorCovariance(**USE4), X, 250, 1)
    assert_close(est.covariance_, expected.covariance_)
    assert est._running.last_label.label() == X.index[-1]
    with pytest.raises(
        ValueError, match="not after the last fitted date 2016-02-24 00:00:00-05:00"
    ):
        est.partial_fit(X.iloc[-3:])
    naive = X.iloc[-1:].tz_localize(None)
    with pytest.raises(TypeError, match="tz-naive and tz-aware"):
        est.partial_fit(naive)
    # another unit of the same dates: compared as labels
    coarse = FactorCovariance(**USE4).fit(X.iloc[:-1])
    later = X.iloc[-1:]
    later.index = later.index.as_unit("s")
    assert_close(coarse.partial_fit(later).covariance_, expected.covariance_)
    periods = X.tz_localize(None).to_period("D")
    est = FactorCovariance(**USE4).fit(periods.iloc[:-1])
    with pytest.raises(
        ValueError,
        match="first new date is 2016-02-22, not after the last fitted date 2016-02-23",
    ):
        est.partial_fit(periods.iloc[-3:])
    assert_close(est.partial_fit(periods.iloc[-1:]).covariance_, expected.covariance_)
