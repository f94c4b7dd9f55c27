"""FactorComposite: weights from the training IC, against a slow pandas reference."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalZScore, FactorComposite
from skfactor.datasets import make_factor_panel
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns
from tests.conftest import shuffled


def _data(seed=0, n_dates=30, n_assets=80, missing_rows=0.2):
    data = make_factor_panel(
        n_dates=n_dates,
        n_assets=n_assets,
        missing_rows=missing_rows,
        missing_values=0.08,
        random_state=seed,
    )
    X = data.X.copy()
    X["reversal"] = -X["momentum"] + np.random.default_rng(seed).normal(
        scale=0.5, size=len(X)
    )
    order = np.random.default_rng(seed).permutation(len(X))
    return X.iloc[order], data.y.iloc[order]


def _slow_ic(X, y):
    """Per-date scipy Spearman IC of each column (dates x columns)."""
    out = {}
    for date, g in X.groupby(level=0):
        row = {}
        for c in X.columns:
            ok = g[c].notna() & y[g.index].notna()
            a, b = g[c][ok], y[g.index][ok]
            row[c] = (
                stats.spearmanr(a, b).statistic
                if ok.sum() > 1 and a.nunique() > 1 and b.nunique() > 1
                else np.nan
            )
        out[date] = row
    return pd.DataFrame(out).T


@functools.cache
def _slow_ic_of_data():
    """The slow IC of ``_data()``, computed once for the tests that share it."""
    return _slow_ic(*_data())


def _slow_weights(ic, method):
    mean = ic.mean()
    if method == "equal":
        w = np.sign(mean)
    elif method == "ic":
        w = mean
    elif method == "icir":
        w = mean / ic.std(ddof=1)
    else:
        full = ic.dropna()
        w = pd.Series(np.linalg.solve(full.cov(ddof=1), full.mean()), index=ic.columns)
    return w / w.abs().sum()


@pytest.mark.parametrize("method", ["equal", "ic", "icir", "max_ir"])
def test_composite_weights_equal_slow_reference(method):
    X, y = _data()
    est = FactorComposite(method=method).fit(X, y)
    ic = _slow_ic_of_data()
    expected = _slow_weights(ic, method)
    assert est.weights_.index.tolist() == X.columns.tolist()
    np.testing.assert_allclose(est.weights_, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.ic_mean_, ic.mean(), rtol=1e-10)
    assert est.weights_.abs().sum() == pytest.approx(1.0)


def test_composite_negative_ic_enters_negatively():
    X, y = _data()
    est = FactorComposite(method="ic").fit(X, y)
    assert (np.sign(est.weights_) == np.sign(est.ic_mean_)).all()
    assert est.weights_["reversal"] < 0 < est.weights_["momentum"]


def test_composite_transform_renormalises_over_present_characteristics():
    X, y = _data()
    est = FactorComposite(method="icir").fit(X, y)
    Z = est.transform(X)
    assert Z.columns.tolist() == ["composite"] and Z.index.equals(X.index)
    assert est.get_feature_names_out().tolist() == ["composite"]
    w = est.weights_
    num = X.mul(w).sum(axis=1, min_count=1)
    den = X.notna().mul(w.abs()).sum(axis=1)
    expected = (num / den).where(den > 0)
    np.testing.assert_allclose(Z["composite"], expected, rtol=1e-12, atol=1e-15)
    all_nan = X.copy()
    all_nan.iloc[:2] = np.nan
    assert est.transform(all_nan)["composite"].iloc[:2].isna().all()


@pytest.mark.parametrize("method", ["equal", "ic", "icir", "max_ir"])
def test_composite_transform_is_row_invariant(method):
    # A row's score has the same bits whatever rows share the call (a Dask
    # partition, a batch, another order): a matrix product's rounding depends
    # on the BLAS and the batch, and differed by 1 ULP on a fresh machine.
    X, y = _data()
    est = FactorComposite(method=method).fit(X, y)
    full = est.transform(X)["composite"].to_numpy()
    for size, n_rows in ((1, 30), (2, 30), (7, 200), (100, len(X)), (333, len(X))):
        batches = [
            est.transform(X.iloc[i : i + size])["composite"].to_numpy()
            for i in range(0, n_rows, size)
        ]
        np.testing.assert_array_equal(np.concatenate(batches)[:n_rows], full[:n_rows])
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_array_equal(
        est.transform(X.iloc[order])["composite"].to_numpy(), full[order]
    )


def test_composite_on_sp500_equals_reference():
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-60:]
    returns = prices.pct_change()
    X = pd.DataFrame(
        {
            "momentum": prices.pct_change(20).stack(),
            "volatility": returns.rolling(20).std().stack(),
            "reversal": -returns.rolling(5).sum().stack(),
        }
    )
    X.index.names = ["date", "asset"]
    X = X.dropna(how="all")
    y = forward_returns(returns.stack(future_stack=True), 5).reindex(X.index)
    y.index.names = X.index.names
    ic = _slow_ic(X, y)
    for method in ("ic", "icir", "max_ir"):
        est = FactorComposite(method=method).fit(X, y)
        expected = _slow_weights(ic, method)
        np.testing.assert_allclose(est.weights_, expected, rtol=1e-10, atol=1e-12)


def test_composite_grid_search_over_method():
    X, y = _data(n_dates=40, missing_rows=0.0)
    X, y = X.sort_index(), y.sort_index()
    pipe = make_pipeline(CrossSectionalZScore(), FactorComposite())
    grid = GridSearchCV(
        pipe,
        {"factorcomposite__method": ["equal", "ic", "icir", "max_ir"]},
        cv=PanelTimeSeriesSplit(n_splits=3),
    ).fit(X, y)
    assert grid.best_params_["factorcomposite__method"] in (
        "equal", "ic", "icir", "max_ir",
    )  # fmt: skip
    assert np.isfinite(grid.best_score_)
    assert grid.transform(X).columns.tolist() == ["composite"]


def test_composite_score_is_mean_rank_ic():
    X, y = _data()
    est = FactorComposite().fit(X, y)
    slow = _slow_ic(est.transform(X), y)["composite"].mean()
    assert est.score(X, y) == pytest.approx(slow, rel=1e-10)


def test_composite_requires_y_and_aligned_index():
    X, y = _data()
    with pytest.raises(ValueError, match="requires y to be passed"):
        FactorComposite().fit(X, None)
    with pytest.raises(ValueError, match="different indexes"):
        FactorComposite().fit(X, shuffled(y, seed=3))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    later=st.floats(-1e3, 1e3, allow_nan=False),
    method=st.sampled_from(["equal", "ic", "icir", "max_ir"]),
)
def test_composite_weights_never_depend_on_test_dates(seed, later, method):
    # Fit inside cross-validation on a panel whose later (test) dates hold
    # arbitrary values: each fold's weights are those of a fit on its
    # training dates of the clean panel.
    X, y = _data(seed=seed, n_dates=12, n_assets=30)
    X, y = X.sort_index(), y.sort_index()
    dates = X.index.get_level_values(0)
    cut = dates.unique()[10]
    noisy_X = X.copy()
    noisy_X.loc[dates >= cut] = later
    noisy_y = y.where(dates < cut, -later)
    cv = PanelTimeSeriesSplit(n_splits=2, test_size=2)
    out = cross_validate(
        FactorComposite(method=method), noisy_X, noisy_y, cv=cv,
        return_estimator=True, return_indices=True, error_score="raise",
    )  # fmt: skip
    for est, train in zip(out["estimator"], out["indices"]["train"], strict=True):
        assert dates[train].max() < cut
        ref = FactorComposite(method=method).fit(X.iloc[train], y.iloc[train])
        pd.testing.assert_series_equal(est.weights_, ref.weights_)
