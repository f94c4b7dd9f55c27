"""CombinatorialPurgedSplit against skfolio's CombinatorialPurgedCV; its properties."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skfolio.model_selection import CombinatorialPurgedCV
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalFactorModel, CrossSectionalZScore, Winsorizer
from skfactor.datasets import make_factor_panel
from skfactor.metrics import ic_scorer
from skfactor.model_selection import CombinatorialPurgedSplit
from tests.conftest import shuffled

PARAMS = [
    (3, 2, 0, 0),
    (3, 2, 1, 0),
    (3, 2, 0, 1),
    (6, 2, 2, 1),
    (8, 3, 1, 2),
    (10, 2, 3, 0),
    (5, 4, 1, 1),
]


def skfolio_dates(n_dates, n_folds, n_test_folds, purge, embargo):
    """skfolio's train dates and joined test dates of each split, and its paths."""
    cv = CombinatorialPurgedCV(
        n_folds, n_test_folds, purged_size=purge, embargo_size=embargo
    )
    splits = [
        (train, np.sort(np.concatenate(tests)))
        for train, tests in cv.split(np.zeros((n_dates, 1)))
    ]
    return splits, cv.recombined_paths.T, cv.n_test_paths, cv.n_splits


def make_panel(n_dates, n_assets=6, missing=0.3, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-04", periods=n_dates, freq="B")
    index = pd.MultiIndex.from_product(
        [dates, range(n_assets)], names=["date", "asset"]
    )
    index = index[rng.random(len(index)) >= missing]
    return shuffled(pd.DataFrame({"x": rng.normal(size=len(index))}, index=index))


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("n_dates", [60, 67])
def test_combinatorial_split_equals_skfolio_on_wide_rows(params, n_dates):
    n_folds, n_test_folds, purge, embargo = params
    cv = CombinatorialPurgedSplit(n_folds, n_test_folds, purge=purge, embargo=embargo)
    ref, paths, n_paths, n_splits = skfolio_dates(n_dates, *params)
    wide = pd.DataFrame(
        np.zeros((n_dates, 3)), index=pd.date_range("2020-01-01", periods=n_dates)
    )
    for X in (np.zeros((n_dates, 3)), wide):
        got = list(cv.split(X))
        assert len(got) == len(ref) == cv.get_n_splits(X) == n_splits
        for (train, test), (ref_train, ref_test) in zip(got, ref, strict=True):
            np.testing.assert_array_equal(train, ref_train)
            np.testing.assert_array_equal(test, ref_test)
    np.testing.assert_array_equal(cv.get_paths(), paths)
    assert cv.get_n_paths() == n_paths


@pytest.mark.parametrize("params", PARAMS)
def test_combinatorial_split_equals_skfolio_on_long_panel_dates(params):
    n_folds, n_test_folds, purge, embargo = params
    X = make_panel(53)
    dates = np.sort(X.index.get_level_values("date").unique())
    codes = np.searchsorted(dates, X.index.get_level_values("date"))
    cv = CombinatorialPurgedSplit(n_folds, n_test_folds, purge=purge, embargo=embargo)
    ref, *_ = skfolio_dates(len(dates), *params)
    for (train, test), (ref_train, ref_test) in zip(cv.split(X), ref, strict=True):
        np.testing.assert_array_equal(train, np.flatnonzero(np.isin(codes, ref_train)))
        np.testing.assert_array_equal(test, np.flatnonzero(np.isin(codes, ref_test)))
    # The same dates as `groups` of an array give the same rows.
    by_groups = list(cv.split(X.to_numpy(), groups=X.index.get_level_values(0)))
    for (a, b), (c, d) in zip(cv.split(X), by_groups, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@settings(max_examples=60, deadline=None)
@given(
    n_dates=st.integers(4, 80),
    n_folds=st.integers(2, 8),
    n_test_folds=st.integers(1, 7),
    purge=st.integers(0, 4),
    embargo=st.integers(0, 4),
    seed=st.integers(0, 10),
)
def test_combinatorial_split_properties(
    n_dates, n_folds, n_test_folds, purge, embargo, seed
):
    if n_test_folds >= n_folds or n_dates < n_folds:
        return
    X = make_panel(n_dates, n_assets=4, missing=0.2, seed=seed)
    dates = X.index.get_level_values("date")
    n_present = dates.nunique()
    if n_present < n_folds:
        return
    codes = np.searchsorted(np.sort(dates.unique()), dates)
    cv = CombinatorialPurgedSplit(n_folds, n_test_folds, purge=purge, embargo=embargo)
    try:
        splits = list(cv.split(X))
    except ValueError as error:  # only when a split has nothing left to train on
        assert "no training date left" in str(error)
        return
    times_tested = np.zeros(n_present, dtype=int)
    for train, test in splits:
        train_d, test_d = np.unique(codes[train]), np.unique(codes[test])
        assert len(train_d) and not np.intersect1d(train_d, test_d).size
        # Whole dates: every row of a date on one side.
        assert np.isin(codes, train_d).sum() == len(train)
        assert np.isin(codes, test_d).sum() == len(test)
        times_tested[test_d] += 1
        is_test = np.zeros(n_present, dtype=bool)
        is_test[test_d] = True
        for d in train_d:  # purge before, purge + embargo after each block
            before = is_test[d + 1 : d + 1 + purge]
            after = is_test[max(d - purge - embargo, 0) : d]
            assert not before.any() and not after.any()
    assert (times_tested == math.comb(n_folds - 1, n_test_folds - 1)).all()
    assert len(splits) == cv.get_n_splits() == math.comb(n_folds, n_test_folds)
    # Each path covers every group once, from splits that test that group.
    tests = cv.get_test_folds()
    paths = cv.get_paths()
    assert paths.shape == (cv.get_n_paths(), n_folds)
    for f in range(n_folds):
        assert all(f in tests[s] for s in paths[:, f])
        assert len(set(paths[:, f])) == cv.get_n_paths()


def test_combinatorial_split_in_grid_search_and_cross_validate():
    data = make_factor_panel(n_dates=40, n_assets=50, random_state=3)
    X, y = shuffled(data.X), data.y
    y = y.loc[X.index]
    pipe = make_pipeline(
        Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
    )
    cv = CombinatorialPurgedSplit(5, 2, purge=1, embargo=1)
    scores = cross_validate(pipe, X, y, cv=cv, scoring=ic_scorer)
    assert len(scores["test_score"]) == 10 and np.isfinite(scores["test_score"]).all()
    grid = {"crosssectionalfactormodel__fit_intercept": [True, False]}
    search = GridSearchCV(pipe, grid, cv=cv, scoring=ic_scorer).fit(X, y)
    assert search.cv_results_["split9_test_score"].shape == (2,)


def test_combinatorial_split_errors_repr_and_pickle():
    cv = CombinatorialPurgedSplit(4, 2, purge=3)
    assert (
        repr(cv)
        == "CombinatorialPurgedSplit(embargo=0, n_folds=4, n_test_folds=2, purge=3)"
    )
    assert repr(pickle.loads(pickle.dumps(cv))) == repr(cv)
    with pytest.raises(ValueError, match="`n_test_folds` must be below `n_folds`=4"):
        list(CombinatorialPurgedSplit(4, 4).split(np.zeros((20, 1))))
    with pytest.raises(ValueError, match="`purge` must be an int >= 0"):
        CombinatorialPurgedSplit(4, 2, purge=-1).get_n_splits()
    with pytest.raises(ValueError, match="`n_folds`=4 needs at least 4 dates"):
        list(CombinatorialPurgedSplit(4, 2).split(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="no training date left"):
        list(CombinatorialPurgedSplit(3, 2, purge=2).split(np.zeros((9, 1))))


@pytest.mark.parametrize("params", [(6, 2, 2, 1), (5, 4, 1, 1)])
def test_combinatorial_split_polars_long_frame_splits_by_date(params):
    pl = pytest.importorskip("polars")
    n_folds, n_test_folds, purge, embargo = params
    X = make_panel(53)
    index = X.index
    X = X.iloc[np.lexsort((index.get_level_values(0), index.get_level_values(1)))]
    flat = X.reset_index()
    frame = pl.DataFrame({c: flat[c].to_numpy() for c in flat.columns})
    dates = np.sort(X.index.get_level_values("date").unique())
    codes = np.searchsorted(dates, X.index.get_level_values("date"))
    cv = CombinatorialPurgedSplit(n_folds, n_test_folds, purge=purge, embargo=embargo)
    ref, *_ = skfolio_dates(len(dates), *params)
    for (train, test), (ref_train, ref_test) in zip(cv.split(frame), ref, strict=True):
        np.testing.assert_array_equal(train, np.flatnonzero(np.isin(codes, ref_train)))
        np.testing.assert_array_equal(test, np.flatnonzero(np.isin(codes, ref_test)))
    with pytest.raises(ValueError, match="polars DataFrame.*date column"):
        next(cv.split(frame.drop("date")))
