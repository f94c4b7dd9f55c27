"""Every score() and the IC scorer match ``y`` to ``X`` by index, or refuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    FactorComposite,
    RollingFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
)
from skfactor.datasets import make_factor_panel
from skfactor.metrics import ic_scorer
from tests.conftest import shuffled


@pytest.fixture(scope="module")
def data():
    return make_factor_panel(
        n_dates=60, n_assets=30, missing_values=0.02, random_state=5
    )


def other_keys(y):
    """``y`` with its last row's date replaced by one ``X`` does not have."""
    keys = y.index.to_frame(index=False)
    keys.iloc[-1, 0] = pd.Timestamp("2031-01-01")
    return y.set_axis(
        pd.MultiIndex.from_frame(keys)
        if y.index.nlevels == 2
        else pd.DatetimeIndex(keys.iloc[:, 0], name=y.index.name)
    )


def assert_shuffled_same_and_other_keys_refused(score, X, y):
    expected = score(X, y)
    assert np.isfinite(expected)
    for seed in (1, 2):
        assert score(X, shuffled(y, seed)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="`y(_true)?` and `X` must hold the same keys"):
        score(X, other_keys(y))
    with pytest.raises(ValueError, match="must hold the same keys"):
        score(X, y.iloc[:-1])


def test_cross_sectional_model_score_matches_y_by_index(data):
    model = CrossSectionalFactorModel().fit(data.loadings, data.y)
    assert_shuffled_same_and_other_keys_refused(model.score, data.loadings, data.y)
    w = pd.Series(np.linspace(1, 2, len(data.y)), index=data.y.index)
    expected = model.score(data.loadings, data.y, sample_weight=w)
    got = model.score(data.loadings, shuffled(data.y, 3), sample_weight=shuffled(w, 4))
    assert got == pytest.approx(expected, rel=1e-12)


def test_factor_composite_score_matches_y_by_index(data):
    model = FactorComposite(method="ic").fit(data.X, data.y)
    assert_shuffled_same_and_other_keys_refused(model.score, data.X, data.y)


def wide(data):
    R = data.y.unstack("asset")
    return data.factor_returns.loc[R.index], R


@pytest.mark.parametrize(
    "model",
    [TimeSeriesFactorModel(), TwoPassFactorModel(), RollingFactorModel(window=20)],
    ids=type,
)
def test_time_series_models_score_matches_y_by_dates(data, model):
    F, R = wide(data)
    model.fit(F, R)
    assert_shuffled_same_and_other_keys_refused(model.score, F, R)


@pytest.mark.parametrize(
    "make",
    [CrossSectionalFactorModel, lambda: make_pipeline(CrossSectionalZScore(), Ridge())],
    ids=["series_predictions", "array_predictions"],
)
def test_ic_scorer_matches_y_by_index(data, make):
    model = make().fit(data.loadings, data.y)
    score = lambda X, y: ic_scorer(model, X, y)  # noqa: E731
    assert_shuffled_same_and_other_keys_refused(score, data.loadings, data.y)


def test_information_coefficient_refuses_a_shuffled_y(data):
    from skfactor.metrics import information_coefficient

    pred = data.X["momentum"]
    with pytest.raises(ValueError, match="different indexes; align them first"):
        information_coefficient(shuffled(data.y, 1), pred)
    aligned = information_coefficient(shuffled(data.y, 1).reindex(pred.index), pred)
    pd.testing.assert_series_equal(aligned, information_coefficient(data.y, pred))
