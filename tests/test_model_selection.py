from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline

from skfactor.datasets import make_factor_panel
from skfactor.model_selection import PanelTimeSeriesSplit
from tests.conftest import shuffled

PARAMS = [
    {},
    {"n_splits": 3},
    {"n_splits": 4, "test_size": 2},
    {"n_splits": 3, "gap": 2},
    {"n_splits": 3, "test_size": 3, "gap": 1, "max_train_size": 5},
    {"n_splits": 2, "max_train_size": 100},
]


def make_panel(n_dates, n_assets, missing, seed):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-03", periods=n_dates, freq="B")
    assets = [f"A{i:03d}" for i in range(n_assets)]
    index = pd.MultiIndex.from_product([dates, assets], names=["date", "asset"])
    index = index[rng.random(len(index)) >= missing]
    frame = pd.DataFrame({"x": rng.normal(size=len(index))}, index=index)
    return shuffled(frame, seed=seed)


def slow_reference(dates_of_rows, **params):
    """sklearn's TimeSeriesSplit on the sorted unique dates, mapped to rows."""
    dates_of_rows = np.asarray(dates_of_rows)
    unique = np.unique(dates_of_rows)
    folds = []
    for train, test in TimeSeriesSplit(**params).split(unique):
        rows_train = [i for i, d in enumerate(dates_of_rows) if d in set(unique[train])]
        rows_test = [i for i, d in enumerate(dates_of_rows) if d in set(unique[test])]
        folds.append((np.array(rows_train, dtype=int), np.array(rows_test, dtype=int)))
    return folds


def assert_same_folds(got, expected):
    got = list(got)
    assert len(got) == len(expected)
    for (train, test), (ref_train, ref_test) in zip(got, expected, strict=True):
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_panel_time_series_split_equals_sklearn_on_dates(params, missing):
    X = make_panel(n_dates=23, n_assets=7, missing=missing, seed=1)
    cv = PanelTimeSeriesSplit(**params)
    expected = slow_reference(X.index.get_level_values(0), **params)
    assert_same_folds(cv.split(X), expected)
    # A Series, the label-free numpy panel with `groups`, and y are all alike.
    assert_same_folds(cv.split(X["x"]), expected)
    groups = X.index.get_level_values(0).to_numpy()
    assert_same_folds(cv.split(X.to_numpy(), groups=groups), expected)
    assert cv.get_n_splits(X) == params.get("n_splits", 5)


@pytest.mark.parametrize("params", PARAMS)
def test_panel_time_series_split_wide_and_arrays(params):
    rng = np.random.default_rng(2)
    dates = pd.date_range("2021-01-01", periods=25)
    wide = pd.DataFrame(rng.normal(size=(25, 3)), index=dates)
    cv = PanelTimeSeriesSplit(**params)
    # Sorted dates and plain arrays: exactly TimeSeriesSplit on the rows.
    expected = list(TimeSeriesSplit(**params).split(wide))
    assert_same_folds(cv.split(wide), expected)
    assert_same_folds(cv.split(wide.to_numpy()), expected)
    assert_same_folds(cv.split(wide.reset_index(drop=True)), expected)
    # Shuffled dates are split by date, not by position.
    mixed = shuffled(wide, seed=3)
    assert_same_folds(cv.split(mixed), slow_reference(mixed.index, **params))
    periods = mixed.set_axis(mixed.index.to_period("D"))
    assert_same_folds(cv.split(periods), slow_reference(mixed.index, **params))


def test_panel_time_series_split_single_asset_dates_and_inputs_untouched():
    X = make_panel(n_dates=12, n_assets=1, missing=0.0, seed=4)
    before = X.copy()
    cv = PanelTimeSeriesSplit(n_splits=3, gap=1)
    assert_same_folds(
        cv.split(X), slow_reference(X.index.get_level_values(0), gap=1, n_splits=3)
    )
    pd.testing.assert_frame_equal(X, before)


@settings(max_examples=150, deadline=None)
@given(
    n_dates=st.integers(1, 30),
    n_assets=st.integers(1, 6),
    missing=st.sampled_from([0.0, 0.4]),
    seed=st.integers(0, 2**16),
    n_splits=st.integers(2, 6),
    test_size=st.one_of(st.none(), st.integers(1, 6)),
    gap=st.integers(0, 4),
    max_train_size=st.one_of(st.none(), st.integers(1, 10)),
)
def test_panel_time_series_split_properties(
    n_dates, n_assets, missing, seed, n_splits, test_size, gap, max_train_size
):
    X = make_panel(n_dates, n_assets, missing, seed)
    date = X.index.get_level_values(0).to_numpy()
    unique = np.unique(date)
    params = dict(
        n_splits=n_splits, test_size=test_size, gap=gap, max_train_size=max_train_size
    )
    cv = PanelTimeSeriesSplit(**params)
    try:
        expected_dates = list(TimeSeriesSplit(**params).split(unique))
    except ValueError:
        with pytest.raises(ValueError, match="dates"):
            list(cv.split(X))
        return
    folds = list(cv.split(X))
    assert len(folds) == n_splits == cv.get_n_splits()
    size = test_size if test_size is not None else len(unique) // (n_splits + 1)
    tested = []
    for (train, test), (ref_train, ref_test) in zip(folds, expected_dates, strict=True):
        train_dates, test_dates = np.unique(date[train]), np.unique(date[test])
        # No date on both sides, and rows of a date never split.
        assert not set(train_dates) & set(test_dates)
        assert set(np.flatnonzero(np.isin(date, train_dates))) == set(train)
        assert set(np.flatnonzero(np.isin(date, test_dates))) == set(test)
        # Train before test, `gap` dates between, window of at most max_train_size.
        first_test = np.searchsorted(unique, test_dates[0])
        assert len(test_dates) == size
        if len(train_dates):
            last_train = np.searchsorted(unique, train_dates[-1])
            assert first_test - last_train - 1 == gap
            if max_train_size is not None:
                assert len(train_dates) <= max_train_size
        np.testing.assert_array_equal(train_dates, unique[ref_train])
        np.testing.assert_array_equal(test_dates, unique[ref_test])
        tested.extend(test_dates)
    # Every test date is tested once, and they are the last n_splits * size.
    assert len(tested) == len(set(tested))
    np.testing.assert_array_equal(
        np.sort(tested), unique[len(unique) - n_splits * size :]
    )


def test_panel_time_series_split_repr_and_pickle():
    cv = PanelTimeSeriesSplit(3, test_size=2, gap=1)
    assert repr(cv) == (
        "PanelTimeSeriesSplit(gap=1, max_train_size=None, n_splits=3, test_size=2)"
    )
    assert repr(PanelTimeSeriesSplit()) == repr(TimeSeriesSplit()).replace(
        "TimeSeriesSplit", "PanelTimeSeriesSplit"
    )
    restored = pickle.loads(pickle.dumps(cv))
    X = make_panel(n_dates=15, n_assets=3, missing=0.2, seed=5)
    assert_same_folds(restored.split(X), list(cv.split(X)))


def test_panel_time_series_split_errors():
    X = make_panel(n_dates=4, n_assets=3, missing=0.0, seed=6)
    with pytest.raises(
        ValueError, match="needs at least n_splits \\+ 1 = 6 dates; the data has 4"
    ):
        list(PanelTimeSeriesSplit().split(X))
    with pytest.raises(ValueError, match="plus `gap`=2 dates take 4 of the 4 dates"):
        list(PanelTimeSeriesSplit(2, gap=2).split(X))
    with pytest.raises(
        ValueError, match="`test_size`=2 dates plus `gap`=0 dates take 4"
    ):
        list(PanelTimeSeriesSplit(2, test_size=2).split(X))
    bad = [
        ({"n_splits": 1}, "`n_splits` must be an int >= 2; got 1"),
        ({"n_splits": 2.5}, "`n_splits` must be an int >= 2; got 2.5"),
        ({"gap": -1}, "`gap` must be an int >= 0; got -1"),
        ({"gap": True}, "`gap` must be an int >= 0; got True"),
        ({"test_size": 0}, "`test_size` must be an int >= 1 or None; got 0"),
        ({"max_train_size": 0}, "`max_train_size` must be an int >= 1 or None"),
    ]
    for params, message in bad:
        with pytest.raises(ValueError, match=message):
            list(PanelTimeSeriesSplit(**params).split(np.zeros(50)))
        with pytest.raises(ValueError, match=message):
            PanelTimeSeriesSplit(**params).get_n_splits()
    groups = X.index.get_level_values(0)
    with pytest.raises(ValueError, match="`groups` was given but `X` already has"):
        list(PanelTimeSeriesSplit(2).split(X, groups=groups))
    with pytest.raises(
        ValueError, match="one date per row of `X`; got shape \\(11,\\)"
    ):
        list(PanelTimeSeriesSplit(2).split(X.to_numpy(), groups=groups[:-1]))
    with pytest.raises(ValueError, match="`groups` has missing \\(NaN/NaT\\) dates"):
        list(
            PanelTimeSeriesSplit(2).split(
                X.to_numpy(), groups=groups.insert(0, pd.NaT)[:-1]
            )
        )
    dup = pd.concat([X, X.iloc[:1]])
    with pytest.raises(ValueError, match="duplicated \\(date, asset\\) rows"):
        list(PanelTimeSeriesSplit(2).split(dup))


def regression_panel(seed=0):
    data = make_factor_panel(
        n_dates=30, n_assets=40, missing_rows=0.2, random_state=seed
    )
    X = shuffled(data.X, seed=seed)
    return X, data.y.reindex(X.index)


def test_panel_time_series_split_in_grid_search_with_n_jobs():
    X, y = regression_panel()
    cv = PanelTimeSeriesSplit(n_splits=3, gap=2, max_train_size=15)
    grid = {"alpha": [0.1, 10.0]}
    serial = GridSearchCV(Ridge(), grid, cv=cv).fit(X, y)
    parallel = GridSearchCV(Ridge(), grid, cv=cv, n_jobs=2).fit(X, y)
    # To 1e-12, not bitwise: the workers' BLAS runs with fewer threads.
    np.testing.assert_allclose(
        serial.cv_results_["mean_test_score"],
        parallel.cv_results_["mean_test_score"],
        rtol=1e-12,
    )
    # Fold 0's score is Ridge fit on that fold's train rows, scored on its test rows.
    train, test = next(cv.split(X))
    model = Ridge(alpha=0.1).fit(X.iloc[train], y.iloc[train])
    assert serial.cv_results_["split0_test_score"][0] == pytest.approx(
        model.score(X.iloc[test], y.iloc[test]), rel=1e-12
    )


def test_panel_time_series_split_wide_frame_in_cross_val_score():
    rng = np.random.default_rng(7)
    dates = pd.date_range("2020-01-01", periods=60, freq="B")
    F = pd.DataFrame(rng.normal(size=(60, 2)), index=dates, columns=["mkt", "smb"])
    r = F @ [1.2, -0.3] + rng.normal(scale=0.1, size=60)
    scores = cross_val_score(Ridge(alpha=1e-6), F, r, cv=PanelTimeSeriesSplit(4, gap=1))
    expected = cross_val_score(Ridge(alpha=1e-6), F, r, cv=TimeSeriesSplit(4, gap=1))
    np.testing.assert_array_equal(scores, expected)


def test_panel_time_series_split_groups_routed_to_split():
    X, y = regression_panel(seed=1)
    dates = X.index.get_level_values(0).to_numpy()
    cv = PanelTimeSeriesSplit(n_splits=3)
    expected = cross_val_score(Ridge(), X, y, cv=cv)
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_val_score(
            Ridge(), X.to_numpy(), y.to_numpy(), cv=cv, params={"groups": dates}
        )
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def polars_long(frame):
    """A long pandas panel as a polars frame, its keys as leading columns."""
    pl = pytest.importorskip("polars")
    flat = frame.reset_index()
    return pl.DataFrame({c: flat[c].to_numpy() for c in flat.columns})


def by_asset(frame):
    """The panel's rows sorted by asset, then date (every date in every block)."""
    dates, assets = (frame.index.get_level_values(i) for i in (0, 1))
    return frame.iloc[np.lexsort((dates, assets))]


@pytest.mark.parametrize("params", [{"n_splits": 3, "gap": 2}, PARAMS[4]])
def test_panel_time_series_split_polars_long_frame_splits_by_date(params):
    X = by_asset(make_panel(15, 7, missing=0.2, seed=3))
    frame = polars_long(X)
    expected = slow_reference(X.index.get_level_values("date"), **params)
    assert_same_folds(PanelTimeSeriesSplit(**params).split(frame), expected)
    # Any synonym of the date column, with or without an asset column.
    renamed = frame.rename({"date": "trade_date"}).drop("asset")
    assert_same_folds(PanelTimeSeriesSplit(**params).split(renamed), expected)


def test_panel_time_series_split_polars_without_date_column_refused():
    frame = polars_long(make_panel(12, 3, missing=0.0, seed=0))
    cv = PanelTimeSeriesSplit(n_splits=2)
    with pytest.raises(ValueError, match="polars DataFrame.*date column.*none among"):
        next(cv.split(frame.drop("date")))
    with pytest.raises(ValueError, match="found several"):
        next(cv.split(frame.with_columns(frame["date"].alias("time"))))
    # The dates given as `groups` are used instead.
    dates = frame["date"].to_numpy()
    expected = slow_reference(dates, n_splits=2)
    assert_same_folds(cv.split(frame.drop("date"), groups=dates), expected)


def test_panel_time_series_split_polars_cross_val_score_equals_pandas():
    from skfactor import CrossSectionalFactorModel, CrossSectionalZScore

    data = make_factor_panel(n_dates=30, n_assets=20, random_state=0)
    X = by_asset(data.X)
    y = data.y.reindex(X.index)
    # polars in, polars out (keys as columns): the model reads them as a panel
    pipe = make_pipeline(CrossSectionalZScore(), CrossSectionalFactorModel())
    cv = PanelTimeSeriesSplit(n_splits=3, gap=2)
    expected = cross_val_score(pipe, X, y, cv=cv)
    got = cross_val_score(pipe, polars_long(X), y.to_numpy(), cv=cv)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
