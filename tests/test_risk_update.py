"""FactorRiskModel.update: the return histories grow without copying the dates there."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from skfactor import TimeSeriesFactorModel
from skfactor.risk import FactorRiskModel
from tests.test_partial_fit import asset_returns, few_dates


def risk_model(first):
    X, y = asset_returns()
    y = y.iloc[:, :30]  # the assets listed from the start
    model = TimeSeriesFactorModel().fit(X, y)
    options = {"halflife": 30, "specific_regime_halflife": 10}
    risk = FactorRiskModel.from_model(model, X.iloc[:first], y.iloc[:first], **options)
    return risk, model, X, y, options


def buffers(risk):
    return risk.factor_returns.to_numpy(), risk.asset_returns.to_numpy()


@few_dates
def test_factor_risk_model_update_appends_without_copying():
    risk, model, X, y, options = risk_model(200)
    risk.update(X.iloc[200:201], y.iloc[200:201])  # the first fills a new buffer
    F0, R0 = buffers(risk)
    for lo in range(201, 206):
        risk.update(X.iloc[lo : lo + 1], y.iloc[lo : lo + 1])
        F, R = buffers(risk)
        # the earlier dates stay where they were: the new one is written after
        assert np.shares_memory(F, F0) and np.shares_memory(R, R0)
    expected = FactorRiskModel.from_model(model, X.iloc[:206], y.iloc[:206], **options)
    pd.testing.assert_frame_equal(risk.factor_returns, expected.factor_returns)
    pd.testing.assert_frame_equal(risk.asset_returns, expected.asset_returns)
    # pickled once (not the frames and the buffers), and updated after loading
    size = risk.factor_returns.to_numpy().nbytes + risk.asset_returns.to_numpy().nbytes
    blob = pickle.dumps(risk)
    assert len(blob) < 1.3 * size + 200_000
    loaded = pickle.loads(blob)
    pd.testing.assert_frame_equal(loaded.asset_returns, expected.asset_returns)
    loaded.update(X.iloc[206:207], y.iloc[206:207])
    pd.testing.assert_frame_equal(loaded.asset_returns, y.iloc[:207])
    pd.testing.assert_frame_equal(risk.asset_returns, expected.asset_returns)


def test_factor_risk_model_update_refuses_an_older_pickle():
    risk, _, X, y, _ = risk_model(200)
    del risk._updates.history  # as a risk model of an older skfactor loads
    with pytest.raises(ValueError, match="built by an older skfactor"):
        risk.update(X.iloc[200:201], y.iloc[200:201])


def test_factor_risk_model_built_from_pieces_pickles_its_histories():
    risk, _, X, y, _ = risk_model(200)
    plain = FactorRiskModel(
        risk.exposures,
        risk.factor_covariance,
        risk.specific_variance,
        factor_returns=X.iloc[:200].fillna(0.0),
        asset_returns=y.iloc[:200],
    )
    loaded = pickle.loads(pickle.dumps(plain))
    pd.testing.assert_frame_equal(loaded.asset_returns, plain.asset_returns)
    pd.testing.assert_frame_equal(loaded.factor_returns, plain.factor_returns)
