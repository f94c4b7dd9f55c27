"""Inputs that cannot be what they claim: panel keys lost, swapped or elsewhere.

A per-date step must never read a whole panel as one cross-section, nor a
panel indexed (asset, date) as if its assets were dates. Polars frames carry
the keys as columns, in and out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.metrics import information_coefficient
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns
from tests.conftest import shuffled


@pytest.fixture(scope="module")
def data():
    data = make_factor_panel(
        n_dates=12, n_assets=60, missing_rows=0.1, missing_values=0.05, random_state=1
    )
    X = shuffled(data.X, seed=3)
    return X, data.y.reindex(X.index)


# ------------------------------------------------------ (asset, date)
@pytest.mark.parametrize("names", [["asset", "date"], ["ticker", None], [None, "time"]])
def test_keys_asset_date_order_refused_by_level_names(data, names):
    X, y = data
    swapped = X.swaplevel()
    swapped.index = swapped.index.set_names(names)
    with pytest.raises(ValueError, match=r"looks indexed \(asset, date\).*swaplevel"):
        Winsorizer().fit_transform(swapped)


@pytest.mark.parametrize(
    "call",
    [
        lambda X, y: CrossSectionalZScore().fit_transform(X),
        lambda X, y: QuantilePortfolioFactor().fit(X, y),
        lambda X, y: CrossSectionalFactorModel().fit(X, y),
        lambda X, y: forward_returns(y),
        lambda X, y: next(PanelTimeSeriesSplit(n_splits=2).split(X)),
        lambda X, y: information_coefficient(y, X["value"]),
    ],
    ids=["zscore", "quantile", "model", "forward_returns", "split", "ic"],
)
def test_keys_asset_date_order_refused_everywhere(data, call):
    X, y = data
    # Unnamed levels: the datetime second level under a string first says it.
    X, y = X.swaplevel(), y.swaplevel()
    X.index = X.index.set_names([None, None])
    y.index = X.index
    with pytest.raises(ValueError, match=r"second level holds dates and its first"):
        call(X, y)


# ------------------------------------------------------- keys elsewhere
def test_keys_date_indexed_frame_refused(data):
    X, _ = data
    long = X.reset_index(level="asset")[["value", "size"]]
    with pytest.raises(ValueError, match=r"indexed by dates alone \(a long frame"):
        CrossSectionalZScore().fit_transform(long)
    wide = X["value"].unstack("asset")
    with pytest.raises(ValueError, match=r"indexed by dates alone \(a wide frame"):
        Winsorizer().fit_transform(wide)


def test_keys_as_columns_refused(data):
    X, _ = data
    flat = X.reset_index()
    flat["date"] = flat["date"].astype("int64")  # numeric: would be z-scored
    flat["asset"] = pd.factorize(flat["asset"])[0]
    with pytest.raises(ValueError, match=r"keys as columns \['date', 'asset'\]"):
        CrossSectionalZScore().fit_transform(flat)


def test_keys_array_beside_panel_y_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="`X` is an array but `y` is a"):
        QuantilePortfolioFactor().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="`X` is an array but `y` is a"):
        make_pipeline(
            ColumnTransformer([("keep", "passthrough", ["value", "size"])]),
            Winsorizer(),
        ).fit(X, y)


def test_keys_array_after_panel_fit_refused(data):
    X, _ = data
    model = Winsorizer(cross_sectional=True).fit(X)
    with pytest.raises(ValueError, match="was fitted on a \\(date, asset\\) panel"):
        model.transform(X.to_numpy())
    # One date's rows indexed by asset are one cross-section on purpose.
    day = X.xs(X.index[0][0], level="date")
    assert model.transform(day).index.equals(day.index)


# --------------------------------------------------------------- polars
def to_polars(frame):
    """A pandas frame as polars, its index as leading columns (no pyarrow)."""
    frame = frame.reset_index()
    return pl.DataFrame({c: frame[c].to_numpy() for c in frame.columns})


def from_polars(frame, keys=("date", "asset")):
    data = pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns})
    return data.set_index(list(keys))


def test_keys_polars_output_carries_the_keys(data):
    X, _ = data
    pipe = make_pipeline(Winsorizer(), CrossSectionalZScore())
    expected = pipe.fit_transform(X)
    out = pipe.set_output(transform="polars").fit_transform(X)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["date", "asset", "value", "size", "momentum"]
    got = from_polars(out)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert got.index.equals(expected.index)


def test_keys_polars_long_frame_is_a_panel(data):
    X, y = data
    expected = CrossSectionalZScore().fit_transform(X)
    frame = to_polars(X)
    out = CrossSectionalZScore().fit_transform(frame)
    # The input's container: polars in, polars out, the key columns as given.
    assert isinstance(out, pl.DataFrame)
    assert out.select("date", "asset").equals(frame.select("date", "asset"))
    got = from_polars(out)
    assert got.index.equals(expected.index)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    # Without keys, a polars frame is one cross-section, as an array is.
    one = to_polars(X.xs(X.index[0][0], level="date")).drop("asset")
    out = CrossSectionalZScore().fit_transform(one)
    assert isinstance(out, pl.DataFrame) and out.shape == one.shape


# ----------------------------------------------------------- set_output
def test_keys_set_output_containers(data):
    X, _ = data
    values = X.to_numpy()
    default = Winsorizer().set_output(transform="default")
    assert isinstance(default.fit_transform(values), np.ndarray)
    assert default.fit_transform(X).index.equals(X.index)  # the input's container
    frame = Winsorizer().set_output(transform="pandas").fit_transform(values)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["x0", "x1", "x2"]
    with pytest.raises(ValueError, match="`transform` must be"):
        Winsorizer().set_output(transform="numpy")


# ------------------------------------------- the signal steps, same seams
def test_keys_signal_steps_keep_keys_in_polars_and_refuse_swapped_levels(data):
    from skfactor import CrossSectionalNeutralizer, FactorComposite

    X, y = data
    pipe = make_pipeline(
        CrossSectionalNeutralizer(exposures=["size"]),
        FactorComposite(method="ic", passthrough=["size"]),
    )
    expected = pipe.fit(X, y).transform(X)
    out = pipe.set_output(transform="polars").fit(X, y).transform(X)
    assert out.columns == ["date", "asset", "composite"]
    got = from_polars(out)
    assert got.index.equals(expected.index)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    swapped = X.swaplevel()
    swapped.index = swapped.index.set_names(["asset", "date"])
    for step in (CrossSectionalNeutralizer(), FactorComposite(method="equal")):
        with pytest.raises(ValueError, match=r"looks indexed \(asset, date\)"):
            step.fit_transform(swapped, y.swaplevel().set_axis(swapped.index))


# ------------------------------------------ keys dropped: a RangeIndex frame
def _per_date_steps():
    from skfactor import CrossSectionalNeutralizer, FactorComposite

    return [
        Winsorizer(),
        CrossSectionalZScore(),
        CrossSectionalNeutralizer(exposures=["size"]),
        FactorComposite(method="ic"),
        QuantilePortfolioFactor(),
    ]


@pytest.mark.parametrize("step", _per_date_steps(), ids=lambda s: type(s).__name__)
def test_keys_rangeindex_frame_beside_panel_y_refused(data, step):
    X, y = data
    flat = X.reset_index(drop=True)
    with pytest.raises(ValueError, match=r"`X` is a DataFrame without the \(date, "):
        step.fit(flat, y)
    with pytest.raises(ValueError, match=r"MultiIndex \(a RangeIndex\) but `y` is a"):
        step.fit_transform(flat, y)


@pytest.mark.parametrize("step", _per_date_steps(), ids=lambda s: type(s).__name__)
def test_keys_rangeindex_frame_after_panel_fit_refused(data, step):
    X, y = data
    step.fit(X, y)
    with pytest.raises(ValueError, match=r"was fitted on a \(date, asset\) panel, but"):
        step.transform(X.reset_index(drop=True))
    # One date's rows indexed by asset stay one cross-section on purpose.
    day = X.xs(X.index[0][0], level="date")
    assert len(step.transform(day)) == len(day)


def test_cross_sectional_factor_model_rangeindex_frame_takes_y_index(data):
    X, y = data
    expected = CrossSectionalFactorModel().fit(X, y)
    flat = X.reset_index(drop=True)
    # As an array does: the rows are y's rows.
    got = CrossSectionalFactorModel().fit(flat, y)
    pd.testing.assert_frame_equal(got.params_, expected.params_)
    np.testing.assert_array_equal(got.predict(flat), expected.predict(X))
    assert got.score(flat, y) == expected.score(X, y)
    # A frame on another single-level index cannot be matched to y's rows.
    other = X.reset_index(level="date", drop=True)
    with pytest.raises(ValueError, match=r"`y` is a \(date, asset\) panel but `X` has"):
        CrossSectionalFactorModel().fit(other, y)


# ------------------------------------- (asset, date) with unnamed plain levels
def _plain_levels(frame, dates_as):
    """``frame`` with unnamed levels and dates as strings or ints (read_csv's)."""
    d = frame.index.get_level_values("date")
    dates = d.strftime("%Y-%m-%d") if dates_as == "str" else d.year * 10000 + d.month
    index = pd.MultiIndex.from_arrays(
        [np.asarray(dates), frame.index.get_level_values("asset").to_numpy()]
    )
    return frame.set_axis(index)


@pytest.mark.parametrize("order", ["date_asset", "asset_date"])
@pytest.mark.parametrize("dates_as", ["str", "int"])
def test_keys_unnamed_plain_levels_refused(data, dates_as, order):
    X, y = data
    plain = _plain_levels(X, dates_as)
    if order == "asset_date":  # accepted on main: each asset's series z-scored
        plain = plain.swaplevel()
    r = y.set_axis(plain.index)
    calls = [
        lambda: CrossSectionalZScore().fit_transform(plain),
        lambda: CrossSectionalFactorModel().fit(plain, r),
        lambda: QuantilePortfolioFactor().fit(plain, r),
        lambda: forward_returns(r),
        lambda: information_coefficient(r, plain["value"]),
    ]
    for call in calls:
        with pytest.raises(
            ValueError,
            match=r"date level cannot be told.*Name the levels \('date', 'asset'\)"
            r".*or make the dates datetimes",
        ):
            call()


@pytest.mark.parametrize("dates_as", ["str", "int"])
def test_keys_named_plain_levels_accepted(dates_as):
    data = make_factor_panel(n_dates=12, n_assets=40, random_state=2)
    # One date a month, so that year * 100 + month labels a date.
    months = pd.date_range("2020-01-01", periods=12, freq="MS")
    X = data.X.set_axis(
        pd.MultiIndex.from_arrays(
            [np.repeat(months, 40), data.X.index.get_level_values("asset")],
            names=["date", "asset"],
        )
    )
    plain = _plain_levels(X, dates_as)
    plain.index = plain.index.set_names(["date", "asset"])
    expected = CrossSectionalZScore().fit_transform(X)
    got = CrossSectionalZScore().fit_transform(plain)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-13)
    with pytest.raises(ValueError, match=r"looks indexed \(asset, date\)"):
        CrossSectionalZScore().fit_transform(plain.swaplevel())


# ------------------------------------------------- polars into every estimator
def test_cross_sectional_factor_model_polars_fit_predict_score(data):
    X, y = data
    expected = CrossSectionalFactorModel().fit(X, y)
    frame = to_polars(X)
    model = CrossSectionalFactorModel().fit(frame, y)
    pd.testing.assert_frame_equal(model.params_, expected.params_, check_freq=False)
    pred = model.predict(frame)
    assert pred.index.equals(X.index)
    np.testing.assert_array_equal(pred.to_numpy(), expected.predict(X).to_numpy())
    assert model.score(frame, y) == expected.score(X, y)
    resid = model.residuals(frame, y)
    np.testing.assert_array_equal(resid.to_numpy(), expected.residuals(X, y))
    # Returns as a polars frame with the same keys, or a polars Series by row.
    returns = to_polars(y.to_frame())
    again = CrossSectionalFactorModel().fit(frame, returns)
    pd.testing.assert_frame_equal(again.params_, model.params_)
    again = CrossSectionalFactorModel().fit(frame, returns["return"])
    pd.testing.assert_frame_equal(again.params_, model.params_)


@pytest.mark.parametrize("how", ["set_output", "polars_input"])
def test_cross_sectional_factor_model_polars_pipeline_equals_pandas(data, how):
    X, y = data
    pipe = make_pipeline(
        Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
    )
    expected = pipe.fit(X, y)
    params, pred = expected[-1].params_, expected.predict(X)
    score = expected.score(X, y)
    if how == "set_output":  # each step hands the next a polars frame with keys
        pipe = make_pipeline(
            Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
        ).set_output(transform="polars")
        Xp = X
    else:  # a polars frame in, polars between the steps (the input's container)
        Xp = to_polars(X)
    assert isinstance(pipe[:-1].fit_transform(Xp), pl.DataFrame)
    pipe.fit(Xp, y)
    np.testing.assert_allclose(
        pipe[-1].params_.to_numpy(), params.to_numpy(), rtol=1e-12, atol=1e-15
    )
    assert pipe[-1].params_.index.equals(params.index)
    got = pipe.predict(Xp)
    np.testing.assert_allclose(got.to_numpy(), pred.to_numpy(), rtol=1e-12)
    assert pipe.score(Xp, y) == pytest.approx(score, rel=1e-12)


def test_keys_polars_into_the_signal_steps(data):
    from skfactor import CrossSectionalNeutralizer, FactorComposite

    X, y = data
    frame = to_polars(X)
    for step in (
        QuantilePortfolioFactor(),
        FactorComposite(method="ic"),
        CrossSectionalNeutralizer(exposures=["size"]),
    ):
        expected = step.fit(X, y).transform(X)
        out = step.fit(frame, y).transform(frame)
        assert isinstance(out, pl.DataFrame)
        got = from_polars(out)
        assert got.index.equals(expected.index)
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "model",
    [TimeSeriesFactorModel(), RollingFactorModel(window=20), TwoPassFactorModel()],
    ids=lambda m: type(m).__name__,
)
def test_keys_polars_wide_frames_into_time_series_models(model):
    rng = np.random.default_rng(4)
    dates = pd.bdate_range("2020-01-01", periods=60, name="date")
    F = pd.DataFrame(0.01 * rng.standard_normal((60, 2)), dates, ["MKT", "SMB"])
    R = F @ rng.standard_normal((2, 4)) + 0.01 * rng.standard_normal((60, 4))
    R.columns = list("abcd")
    expected = clone(model).fit(F, R)
    # The date column is the frames' index, not a factor nor an asset.
    got = clone(model).fit(to_polars(F), to_polars(R))
    assert got.n_features_in_ == 2
    pd.testing.assert_frame_equal(got.params_, expected.params_, check_freq=False)
    np.testing.assert_array_equal(
        got.predict(to_polars(F)).to_numpy(), expected.predict(F).to_numpy()
    )
    assert got.score(to_polars(F), to_polars(R)) == expected.score(F, R)
    with pytest.raises(ValueError, match=r"`y` and `X` have different|different ind"):
        clone(model).fit(to_polars(F), to_polars(R.iloc[::-1]))


def test_keys_polars_frame_with_unclear_key_columns_refused(data):
    X, y = data
    frame = to_polars(X).with_columns(
        pl.Series("asset", pd.factorize(X.index.get_level_values("asset"))[0]),
        pl.Series("date", X.index.get_level_values("date").year * 10000),
    )
    # Two asset columns: read as one cross-section, integer keys z-scored.
    two = frame.with_columns(pl.col("asset").alias("permno"))
    with pytest.raises(ValueError, match=r"asset column\(s\) \['asset', 'permno'\]"):
        CrossSectionalZScore().fit_transform(two)
    with pytest.raises(ValueError, match=r"needs exactly one of each"):
        CrossSectionalFactorModel().fit(frame.drop("asset"), y)
