"""RollingFactorModel.partial_fit: advancing the windows by new dates equals a refit."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skfactor import RollingFactorModel
from skfactor.models._lazy import lazy_results
from tests.test_partial_fit import (
    CHUNKS,
    assert_close,
    asset_returns,
    first_dates,
    in_chunks,
)

# Every window's results, (date, asset) by term or one value per window.
WINDOW_ATTRIBUTES = ("params_", "rsquared_", "resid_vol_", "nobs_")


def assert_same_rolling(model, expected, X, y):
    """Every fitted attribute, summary, prediction, residual and score to 1e-10."""
    for name in (*WINDOW_ATTRIBUTES, "coef_", "intercept_"):
        got, want = getattr(model, name), getattr(expected, name)
        if isinstance(want, pd.Series | pd.DataFrame):
            pd.testing.assert_index_equal(got.index, want.index, exact=True)
        assert_close(np.asarray(got, dtype=float), np.asarray(want, dtype=float))
    assert model.nobs_.dtype == expected.nobs_.dtype
    pd.testing.assert_index_equal(model.dates_, expected.dates_)
    pd.testing.assert_index_equal(model.assets_, expected.assets_)
    lazy, lazy_expected = lazy_results(model), lazy_results(expected)
    assert lazy.keys() == lazy_expected.keys() == {"bse_", "tvalues_", "pvalues_"}
    for name, value in lazy_expected.items():
        pd.testing.assert_index_equal(lazy[name].index, value.index)
        assert_close(lazy[name].to_numpy(), value.to_numpy())
    summary, summary_expected = model.summary(), expected.summary()
    pd.testing.assert_index_equal(summary.index, summary_expected.index)
    assert_close(summary.to_numpy(), summary_expected.to_numpy())
    header = {k: v for k, v in summary.header.items() if k != "mean_rsquared"}
    assert header == {
        k: v for k, v in summary_expected.header.items() if k != "mean_rsquared"
    }
    assert_close(
        summary.header["mean_rsquared"], summary_expected.header["mean_rsquared"]
    )
    y = y.reindex(columns=expected.assets_)  # the refit's assets, in its order
    for method in ("predict", "residuals"):
        args = (X,) if method == "predict" else (X, y)
        got, want = getattr(model, method)(*args), getattr(expected, method)(*args)
        pd.testing.assert_index_equal(got.columns, want.columns)
        assert_close(got.to_numpy(), want.to_numpy())
    assert_close(model.score(X, y), expected.score(X, y))


PARAMS = [
    {"window": 30},
    {"window": 40, "halflife": 12},
    {"window": 45, "expanding": True, "min_obs": 10},
    {"window": 25, "fit_intercept": False, "store_bse": True},
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("size", CHUNKS)
def test_rolling_factor_model_partial_fit_equals_fit(params, size):
    X, y = asset_returns()
    expected = RollingFactorModel(**params).fit(X, y)
    model = in_chunks(RollingFactorModel(**params), X, first_dates(size), size, y)
    assert_same_rolling(model, expected, X, y)


@pytest.mark.parametrize(
    ("params", "first"),
    [
        ({"window": 60}, 10),  # the first fit ends before the first full window
        ({"window": 60, "expanding": True, "min_obs": 20}, 5),  # before min_obs
        ({"window": 60, "expanding": True}, 1),  # one date fitted
        ({"window": 4}, 3),  # the shortest window: the regressors
        ({"window": 30, "min_obs": 30}, 40),  # a window needs all its dates
    ],
)
def test_rolling_factor_model_partial_fit_min_obs_edges_equal_fit(params, first):
    X, y = asset_returns(n_dates=120)
    y = y.dropna(axis=1, how="all")  # the late listings list after date 200
    y.iloc[0] = y.iloc[0].fillna(0.001)  # every asset in the first chunk
    expected = RollingFactorModel(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no estimate yet
        model = in_chunks(RollingFactorModel(**params), X, first, 7, y)
    assert_same_rolling(model, expected, X, y)


def test_rolling_factor_model_partial_fit_window_of_one_date():
    # Without an intercept, one factor: a window of one date keeps no rows.
    X, y = asset_returns(n_dates=60, k=1)
    y = y.dropna(axis=1, how="all")
    params = {"window": 1, "fit_intercept": False}
    expected = RollingFactorModel(**params).fit(X, y)
    model = in_chunks(RollingFactorModel(**params), X, 30, 4, y)
    assert len(model._lazy["moments"]["partial_fit"].F) == 0
    assert_same_rolling(model, expected, X, y)


def test_rolling_factor_model_partial_fit_warns_until_a_window_has_an_estimate():
    X, y = asset_returns(n_dates=80)
    y = y.dropna(axis=1, how="all")
    model = RollingFactorModel(window=50)
    with pytest.warns(UserWarning, match="No window has an estimate"):
        model.fit(X.iloc[:20], y.iloc[:20])
    with pytest.warns(UserWarning, match="none of the 40 dates"):
        model.partial_fit(X.iloc[20:40], y.iloc[20:40])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the window ending at date 49 estimates
        model.partial_fit(X.iloc[40:], y.iloc[40:])
    assert_same_rolling(model, RollingFactorModel(window=50).fit(X, y), X, y)


@settings(max_examples=12, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 159), max_size=6, unique=True),
    expanding=st.booleans(),
)
def test_rolling_factor_model_partial_fit_any_cut_points_equal_fit(cuts, expanding):
    X, y = asset_returns(n_dates=160, n_assets=16)
    params = {"window": 25, "expanding": expanding, "min_obs": 6}
    expected = RollingFactorModel(**params).fit(X, y)
    bounds = [0, *sorted(cuts), len(X)]
    model = RollingFactorModel(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a first chunk too short
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            model.partial_fit(X.iloc[lo:hi], y.iloc[lo:hi])
    for name in (*WINDOW_ATTRIBUTES, "coef_", "intercept_", "bse_"):
        assert_close(
            np.asarray(getattr(model, name)), np.asarray(getattr(expected, name))
        )


def test_rolling_factor_model_partial_fit_first_call_is_fit():
    X, y = asset_returns()
    first = RollingFactorModel(window=30).partial_fit(X, y)
    expected = RollingFactorModel(window=30).fit(X, y)
    assert_allclose(first.params_, expected.params_, rtol=0, atol=0)
    assert_allclose(first.bse_, expected.bse_, rtol=0, atol=0)


def test_rolling_factor_model_partial_fit_single_series_and_arrays():
    X, y = asset_returns()
    expected = RollingFactorModel(window=30).fit(X, y["A03"])
    model = RollingFactorModel(window=30).fit(X.iloc[:250], y["A03"].iloc[:250])
    model.partial_fit(X.iloc[250:], y["A03"].iloc[250:])
    assert isinstance(model.predict(X), pd.Series)
    assert_close(model.params_.to_numpy(), expected.params_.to_numpy())
    assert_close(model.bse_.to_numpy(), expected.bse_.to_numpy())  # 1 asset < 4 terms
    assert_close(model.predict(X).to_numpy(), expected.predict(X).to_numpy())
    Xa, ya = X.to_numpy(), y.iloc[:, :20].to_numpy()
    expected = RollingFactorModel(window=30).fit(Xa, ya)
    model = RollingFactorModel(window=30).fit(Xa[:250], ya[:250])
    model.partial_fit(Xa[250:280], ya[250:280]).partial_fit(Xa[280:], ya[280:])
    pd.testing.assert_index_equal(model.dates_, expected.dates_, exact=True)
    pd.testing.assert_index_equal(model.params_.index, expected.params_.index)
    assert_close(model.params_.to_numpy(), expected.params_.to_numpy())
    assert_close(model.predict(Xa), expected.predict(Xa))
    with pytest.raises(ValueError, match="must hold the 20 fitted assets"):
        model.partial_fit(Xa[250:], ya[250:, :5])


def test_rolling_factor_model_partial_fit_appends_without_copying():
    X, y = asset_returns()
    model = RollingFactorModel(window=30).fit(X.iloc[:100], y.iloc[:100])
    model.partial_fit(X.iloc[100:101], y.iloc[100:101])  # doubles the capacity
    params, nobs = model.params_.to_numpy(), model.nobs_.to_numpy()
    for lo in range(101, 200, 9):  # within the capacity: written, not copied
        model.partial_fit(X.iloc[lo : lo + 9], y.iloc[lo : lo + 9])
        assert np.shares_memory(model.params_.to_numpy(), params)
        assert np.shares_memory(model.nobs_.to_numpy(), nobs)
        codes = model.params_.index.codes[0]
        assert codes.base is not None  # a view of the codes kept for the capacity
    expected = RollingFactorModel(window=30).fit(X.iloc[:200], y.iloc[:200])
    assert_close(model.params_.to_numpy(), expected.params_.to_numpy())


def test_rolling_factor_model_partial_fit_state_does_not_grow():
    X, y = asset_returns()
    model = RollingFactorModel(window=30).fit(X.iloc[:100], y.iloc[:100])
    state = model._lazy["moments"]["partial_fit"]
    size = len(pickle.dumps((state.F, state.R)))
    model.partial_fit(X.iloc[100:], y.iloc[100:])  # 3x the dates, more assets
    state = model._lazy["moments"]["partial_fit"]
    assert state.F.shape == (29, 3) and state.R.shape == (29, y.shape[1])
    assert len(pickle.dumps((state.F, state.R))) < size * y.shape[1] / 30 + 1024


def test_rolling_factor_model_partial_fit_pickles_the_history_once():
    X, y = asset_returns()
    fitted = RollingFactorModel(window=30, halflife=10).fit(X, y)
    model = RollingFactorModel(window=30, halflife=10).fit(X.iloc[:150], y.iloc[:150])
    model.partial_fit(X.iloc[150:151], y.iloc[150:151])  # spare capacity: 150 dates
    model.partial_fit(X.iloc[151:], y.iloc[151:])
    assert len(pickle.dumps(model)) < 1.1 * len(pickle.dumps(fitted))
    restored = pickle.loads(pickle.dumps(model))
    assert_same_rolling(restored, fitted, X, y)


def test_rolling_factor_model_partial_fit_rejects_bad_updates():
    X, y = asset_returns()
    model = RollingFactorModel(window=30).fit(X.iloc[:200], y.iloc[:200])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        model.partial_fit(X.iloc[190:210], y.iloc[190:210])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        model.partial_fit(X.iloc[199:210], y.iloc[199:210])  # a repeated date
    with pytest.raises(ValueError, match="feature names"):
        model.partial_fit(X.iloc[200:].rename(columns={"MKT": "M"}), y.iloc[200:])
    with pytest.raises(ValueError, match="sorted by date"):
        model.partial_fit(X.iloc[200:][::-1], y.iloc[200:][::-1])
    with pytest.raises(ValueError, match="needs the asset returns `y`"):
        model.partial_fit(X.iloc[200:], None)
    with (
        pytest.raises(ValueError, match="fitted on a DataFrame and `partial_fit` got"),
        pytest.warns(UserWarning, match="does not have valid feature names"),
    ):
        model.partial_fit(X.iloc[200:].to_numpy(), y.iloc[200:].to_numpy())
    shifted = X.iloc[200:].set_axis(range(200, len(X)))
    with pytest.raises(ValueError, match="cannot be compared with the fitted dates"):
        model.partial_fit(shifted, y.iloc[200:].set_axis(shifted.index))
    model.set_params(window=40)
    with pytest.raises(ValueError, match="`window`, `min_obs`, .* changed since"):
        model.partial_fit(X.iloc[200:], y.iloc[200:])
    numbered = RollingFactorModel(window=30).fit(
        X.iloc[:200].reset_index(drop=True), y.iloc[:200].reset_index(drop=True)
    )
    with pytest.raises(ValueError, match="first new row is labelled 0, not after"):
        numbered.partial_fit(
            X.iloc[200:].reset_index(drop=True), y.iloc[200:].reset_index(drop=True)
        )
    arrays = RollingFactorModel(window=30).fit(
        X.iloc[:200].to_numpy(), y.iloc[:200].to_numpy()
    )
    with (
        pytest.raises(ValueError, match="fitted on arrays and `partial_fit` got"),
        pytest.warns(UserWarning, match="fitted without feature names"),
    ):
        arrays.partial_fit(X.iloc[200:], y.iloc[200:])


def test_rolling_factor_model_partial_fit_rejects_a_model_combined_from_blocks():
    X, y = asset_returns()
    model = RollingFactorModel(window=30)
    blocks = [
        model.fit_block(X.iloc[:200], y.iloc[:200, c])
        for c in (slice(0, 20), slice(20, None))
    ]
    model.combine_blocks(blocks)
    with pytest.raises(ValueError, match="combined from blocks of assets"):
        model.partial_fit(X.iloc[200:], y.iloc[200:])
    # fitted before: combining forgets that fit's state too
    model = RollingFactorModel(window=30).fit(X.iloc[:100], y.iloc[:100])
    model.combine_blocks(blocks)
    with pytest.raises(ValueError, match="combined from blocks of assets"):
        model.partial_fit(X.iloc[200:], y.iloc[200:])


def test_rolling_factor_model_partial_fit_does_not_mutate_inputs():
    X, y = asset_returns()
    X0, y0 = X.copy(), y.copy()
    model = RollingFactorModel(window=30).fit(X.iloc[:200], y.iloc[:200])
    model.partial_fit(X.iloc[200:250], y.iloc[200:250])
    model.partial_fit(X.iloc[250:], y.iloc[250:])
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_frame_equal(y, y0)


@pytest.mark.parametrize("params", PARAMS[:2])
def test_rolling_factor_model_partial_fit_of_a_copy_leaves_the_original(params):
    """A shallow copy shares the state and the history's buffers: updates of
    either, into their spare capacity, must not show in the other."""
    X, y = asset_returns()
    model = RollingFactorModel(**params).fit(X.iloc[:100], y.iloc[:100])
    model.partial_fit(X.iloc[100:101], y.iloc[100:101])  # capacity 200
    copied = copy.copy(model)
    copied.partial_fit(X.iloc[101:110], y.iloc[101:110])
    model.partial_fit(X.iloc[110:120], y.iloc[110:120])
    copied.partial_fit(X.iloc[120:215], y.iloc[120:215])  # and listings
    model.partial_fit(X.iloc[215:230], y.iloc[215:230])
    for got, rows in (
        (model, np.r_[0:101, 110:120, 215:230]),
        (copied, np.r_[0:110, 120:215]),
    ):
        expected = RollingFactorModel(**params).fit(X.iloc[rows], y.iloc[rows])
        assert_same_rolling(got, expected, X.iloc[rows], y.iloc[rows])
