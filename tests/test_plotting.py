"""skfactor.plotting, headless: the artists drawn carry exactly the input's data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skfactor import QuantilePortfolioFactor, RollingFactorModel  # noqa: E402
from skfactor.datasets import make_factor_panel  # noqa: E402
from skfactor.plotting import (  # noqa: E402
    plot_cumulative_returns,
    plot_ic,
    plot_quantile_returns,
    plot_rolling_betas,
    plot_zscore_hist,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled_lines(ax):
    """The lines with a legend label (not the helper line at 0)."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


@pytest.fixture
def factor_returns():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2011-01-03", periods=120, name="date")
    F = pd.DataFrame(rng.normal(0, 0.01, (120, 3)), dates, ["MKT", "SMB", "HML"])
    F.iloc[:5, 2] = np.nan  # HML starts late
    F.iloc[50, 1] = np.nan  # a hole in SMB
    return F


@pytest.fixture
def rolling_data():
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2011-01-03", periods=160, name="date")
    F = pd.DataFrame(rng.normal(0, 0.01, (160, 2)), dates, ["MKT", "SMB"])
    R = pd.DataFrame(
        {
            "A": 0.001 + F @ [1.1, -0.4] + rng.normal(0, 0.004, 160),
            "B": F @ [0.7, 0.2] + rng.normal(0, 0.006, 160),
        }
    )
    R.iloc[[10, 70, 71, 120], 0] = np.nan  # holes in A's history
    return F, R


# ------------------------------------------------------------ import laziness
def test_plotting_lazy_import_and_install_hint():
    # One interpreter (imports cost seconds): skfactor and skfactor.plotting
    # import without matplotlib; a call without it says how to install it.
    code = (
        "import sys, pandas as pd, skfactor, skfactor.plotting\n"
        "print('matplotlib' in sys.modules)\n"
        "sys.modules['matplotlib'] = None\n"
        "sys.modules['matplotlib.pyplot'] = None\n"
        "try:\n"
        "    skfactor.plotting.plot_cumulative_returns(pd.Series([0.1, 0.2]))\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    imported, message = out.stdout.strip().split("\n", 1)
    assert imported == "False"
    assert 'pip install "skfactor[plot]"' in message


# ------------------------------------------------------- cumulative returns
def test_plot_cumulative_returns_lines_equal_compounded_input(factor_returns):
    ax = plot_cumulative_returns(factor_returns)
    lines = labelled_lines(ax)
    assert [line.get_label() for line in lines] == ["MKT", "SMB", "HML"]
    for line, name in zip(lines, factor_returns.columns, strict=True):
        r = factor_returns[name].to_numpy()
        expected = np.full(len(r), np.nan)
        growth = 1.0
        for t, value in enumerate(r):  # the obvious loop
            if np.isnan(value) and t < 5 and name == "HML":
                continue
            growth *= 1.0 + (0.0 if np.isnan(value) else value)
            expected[t] = 100.0 * (growth - 1.0)
        assert_allclose(line.get_ydata(), expected, rtol=1e-12, atol=1e-12)
        assert_array_equal(line.get_xdata(), factor_returns.index.to_numpy())
    assert ax.get_ylabel() == "Cumulative return (%)"
    assert "compounded" in ax.get_title()


def test_plot_cumulative_returns_sum_and_series(factor_returns):
    s = factor_returns["MKT"]
    ax = plot_cumulative_returns(s, compound=False)
    (line,) = labelled_lines(ax)
    assert line.get_label() == "MKT"
    assert_allclose(line.get_ydata(), 100.0 * s.cumsum().to_numpy(), rtol=1e-12)
    assert "summed" in ax.get_title()


def test_plot_cumulative_returns_logy_is_growth_of_one(factor_returns):
    ax = plot_cumulative_returns(factor_returns["MKT"], logy=True)
    (line,) = labelled_lines(ax)
    growth = np.cumprod(1.0 + factor_returns["MKT"].to_numpy())
    assert_allclose(line.get_ydata(), growth, rtol=1e-12)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "Growth of 1 (log scale)"
    with pytest.raises(ValueError, match="`logy=True` .* needs `compound=True`"):
        plot_cumulative_returns(factor_returns, logy=True, compound=False)


def test_plot_cumulative_returns_draws_on_given_ax(factor_returns):
    fig, ax = plt.subplots()
    assert plot_cumulative_returns(factor_returns, ax=ax) is ax
    assert len(fig.axes) == 1


def test_plot_cumulative_returns_rejects_array():
    with pytest.raises(TypeError, match="`factor_returns` must be a pandas"):
        plot_cumulative_returns(np.zeros((3, 2)))


def test_plot_cumulative_returns_input_not_mutated(factor_returns):
    before = factor_returns.copy()
    plot_cumulative_returns(factor_returns)
    pd.testing.assert_frame_equal(factor_returns, before)


# ----------------------------------------------------------- quantile returns
@pytest.fixture
def quantile_returns():
    data = make_factor_panel(n_dates=40, n_assets=200, random_state=3)
    return QuantilePortfolioFactor(n_quantiles=4).fit(data.X, data.y).quantile_returns_


def test_plot_quantile_returns_bars_equal_mean_in_bp(quantile_returns):
    ax = plot_quantile_returns(quantile_returns)
    factors = ["value", "size", "momentum"]
    assert len(ax.patches) == 3 * 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == factors
    heights = np.array([p.get_height() for p in ax.patches]).reshape(3, 4)
    for j, factor in enumerate(factors):
        for q in range(1, 5):
            col = quantile_returns[(factor, q)].dropna()
            assert_allclose(heights[j, q - 1], 1e4 * col.mean(), rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    assert ax.get_ylabel() == "Mean return per period (bp)"


def test_plot_quantile_returns_error_bars_are_two_standard_errors(quantile_returns):
    ax = plot_quantile_returns(quantile_returns[["value"]], n_se=2.0)
    col = quantile_returns[("value", 3)]
    se = col.std(ddof=1) / np.sqrt(col.count())
    # One LineCollection of vertical error segments per factor.
    (segments,) = [c.get_segments() for c in ax.collections]
    low, high = segments[2][:, 1]
    assert_allclose(high - low, 2 * 2.0 * 1e4 * se, rtol=1e-10)
    assert "± 2 s.e." in ax.get_title()


def test_plot_quantile_returns_single_level_columns_and_no_errors():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(0, 0.01, (30, 5)), columns=[1, 2, 3, 4, 5])
    ax = plot_quantile_returns(frame, n_se=None)
    assert len(ax.patches) == 5
    assert len(ax.collections) == 0
    assert ax.get_legend() is None
    assert_allclose([p.get_height() for p in ax.patches], 1e4 * frame.mean())


def test_plot_quantile_returns_rejects_series():
    with pytest.raises(TypeError, match="`quantile_returns` must be a DataFrame"):
        plot_quantile_returns(pd.Series([0.1, 0.2]))


# ------------------------------------------------------------- z-score hist
def test_plot_zscore_hist_counts_equal_numpy_histogram_per_panel():
    rng = np.random.default_rng(4)
    x = rng.lognormal(size=2000)
    x[:4] = 300.0
    raw = pd.Series((x - x.mean()) / x.std())
    w = np.clip(x, *np.quantile(x, [0.01, 0.99]))
    win = (w - w.mean()) / w.std()
    raw.iloc[7] = np.nan  # NaN left out
    axes = plot_zscore_hist(raw, win, bins=30)
    assert len(axes) == 2
    for ax, values in zip(axes, (raw.dropna().to_numpy(), win), strict=True):
        # each panel has its own bins over its own range
        edges = np.linspace(values.min(), values.max(), 31)
        heights = np.array([p.get_height() for p in ax.patches])
        assert_array_equal(heights, np.histogram(values, edges)[0])
        assert ax.patches[0].get_x() == pytest.approx(values.min())
        assert ax.get_yscale() == "log"
        assert ax.get_xlabel().startswith("Z-score")
    assert heights.sum() == 2000
    # the winsorized panel is not squeezed: its 30 bins span its own range
    assert np.count_nonzero(heights) > 20
    assert axes[0].get_title().startswith("Raw (max |z| = ")
    assert axes[1].get_title().startswith("Winsorized (max |z| = ")


def test_plot_zscore_hist_draws_on_given_axes():
    _, given = plt.subplots(1, 2)
    axes = plot_zscore_hist([0.0, 1.0, 5.0], [0.0, 1.0, 2.0], axes=given)
    assert list(axes) == list(given)
    with pytest.raises(ValueError, match="`axes` must be two Axes"):
        plot_zscore_hist([0.0, 1.0], [0.0, 1.0], axes=[given[0]])


def test_plot_zscore_hist_rejects_all_nan():
    with pytest.raises(ValueError, match="`raw` has no values"):
        plot_zscore_hist([np.nan, np.nan], [0.0, 1.0])


# -------------------------------------------------------------------- IC
def test_plot_ic_lines_equal_daily_rolling_and_mean():
    rng = np.random.default_rng(5)
    dates = pd.bdate_range("2011-01-03", periods=80, name="date")
    ic = pd.Series(rng.normal(0.03, 0.1, 80), dates, name="ic")
    ic.iloc[30] = np.nan
    ax = plot_ic(ic, window=10)
    daily, rolling, mean = labelled_lines(ax)
    assert_array_equal(daily.get_ydata(), ic.to_numpy())
    assert_array_equal(daily.get_xdata(), dates.to_numpy())
    valid = ic.dropna().to_numpy()
    expected = np.full(80, np.nan)
    positions = np.flatnonzero(~np.isnan(ic.to_numpy()))
    for k in range(9, len(valid)):  # mean of the last 10 dates with an IC
        expected[positions[k]] = valid[k - 9 : k + 1].mean()
    assert_allclose(rolling.get_ydata(), expected, rtol=1e-12)
    assert_allclose(mean.get_ydata(), [np.nanmean(ic)] * 2, rtol=1e-12)
    assert rolling.get_label() == "10-date mean"
    assert mean.get_label() == f"mean {np.nanmean(ic):.3f}"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ic": np.zeros(3)}, TypeError, "`ic` must be a pandas Series"),
        ({"window": 0}, ValueError, "`window` must be at least 1"),
        ({"window": 2.5}, TypeError, "`window` must be an integer"),
    ],
)
def test_plot_ic_rejects_bad_input(kwargs, error, match):
    args = {"ic": pd.Series([0.1, 0.2, 0.3]), **kwargs}
    with pytest.raises(error, match=match):
        plot_ic(args.pop("ic"), **args)


# ------------------------------------------------------------ rolling betas
@pytest.mark.parametrize("expanding", [False, True])
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_rolling_band_standard_errors_equal_statsmodels(rolling_data, expanding):
    from statsmodels.api import add_constant
    from statsmodels.regression.rolling import RollingOLS

    F, R = rolling_data
    model = RollingFactorModel(window=40, expanding=expanding, store_bse=True)
    model.fit(F, R)
    se = model.bse_.xs("A", level="asset")
    ref = (
        RollingOLS(
            R["A"], add_constant(F), window=40, expanding=expanding, missing="drop"
        )
        .fit()
        .bse
    )
    assert list(se.columns) == ["const", "MKT", "SMB"]
    ref = ref.to_numpy().copy()
    # A window with as many observations as regressors: statsmodels divides
    # the residual variance by zero (inf), the model's bse_ is NaN.
    ref[~np.isfinite(ref)] = np.nan
    assert np.isnan(se.to_numpy()).sum() < se.size
    assert_allclose(se.to_numpy(), ref, rtol=1e-7)


def test_plot_rolling_betas_lines_and_bands_equal_model(rolling_data):
    F, R = rolling_data
    model = RollingFactorModel(window=40, store_bse=True).fit(F, R)
    ax = plot_rolling_betas(model, "A", band=2.0)
    lines = labelled_lines(ax)
    assert [line.get_label() for line in lines] == ["MKT", "SMB"]
    betas = model.params_.xs("A", level="asset")
    se = model.bse_.xs("A", level="asset")
    for line in lines:
        assert_array_equal(line.get_ydata(), betas[line.get_label()].to_numpy())
        assert_array_equal(line.get_xdata(), F.index.to_numpy())
    assert len(ax.collections) == 2
    # The band's upper edge at the last date is beta + 2 s.e.
    path = ax.collections[0].get_paths()[0].vertices
    top = path[:, 1].max()
    upper = betas["MKT"].to_numpy() + 2 * se["MKT"].to_numpy()
    assert_allclose(top, np.nanmax(upper), rtol=1e-12)
    assert "Rolling betas of A (40-period window), shaded ± 2 s.e." == ax.get_title()


def test_plot_rolling_betas_without_band_draws_no_band(rolling_data):
    F, R = rolling_data
    model = RollingFactorModel(window=40).fit(F, R["B"])
    ax = plot_rolling_betas(model, terms=["const", "MKT"], band=None)
    assert [line.get_label() for line in labelled_lines(ax)] == ["const", "MKT"]
    const = model.params_["const"].to_numpy()
    assert_array_equal(labelled_lines(ax)[0].get_ydata(), const)
    assert len(ax.collections) == 0
    assert "s.e." not in ax.get_title()


def test_plot_rolling_betas_dataframe_with_se(rolling_data):
    F, R = rolling_data
    model = RollingFactorModel(window=40, store_bse=True).fit(F, R)
    betas = model.params_.xs("B", level="asset")[["MKT", "SMB"]]
    se = model.bse_.xs("B", level="asset")[["MKT", "SMB"]]
    ax = plot_rolling_betas(betas, se=se, band=1.0)
    assert len(labelled_lines(ax)) == 2
    assert len(ax.collections) == 2
    assert_array_equal(labelled_lines(ax)[1].get_ydata(), betas["SMB"].to_numpy())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, F, R: plot_rolling_betas(m), ValueError, "`asset` is required"),
        (lambda m, F, R: plot_rolling_betas(m, "Z"), ValueError, "'Z' is not one"),
        (
            lambda m, F, R: plot_rolling_betas(m, "A", terms=["HML"]),
            ValueError,
            r"`terms` \['HML'\] are not",
        ),
        (lambda m, F, R: plot_rolling_betas(F.values), TypeError, "must be a fitted"),
        (
            lambda m, F, R: plot_rolling_betas(m, "A", se=F),
            ValueError,
            "`se` is for a DataFrame",
        ),
    ],
)
def test_plot_rolling_betas_rejects_bad_input(rolling_data, call, error, match):
    F, R = rolling_data
    model = RollingFactorModel(window=40).fit(F, R)
    with pytest.raises(error, match=match):
        call(model, F, R)


def test_plot_rolling_betas_halflife_bands_and_band_none(rolling_data):
    F, R = rolling_data
    model = RollingFactorModel(window=40, halflife=20.0, store_bse=True).fit(F, R)
    assert len(plot_rolling_betas(model, "A").collections) == 2  # WLS bands
    assert len(plot_rolling_betas(model, "A", band=None).collections) == 0


# --------------------------------------------------- from factor to signal
def test_plot_ic_decay_bars_equal_mean_ic():
    from skfactor.metrics import ic_decay
    from skfactor.plotting import plot_ic_decay

    data = make_factor_panel(n_dates=100, n_assets=50, random_state=0)
    decay = ic_decay(data.X["momentum"], data.y, horizons=(1, 5, 10))
    ax = plot_ic_decay(decay)
    assert_allclose([p.get_height() for p in ax.patches], decay["mean"])
    with pytest.raises(TypeError, match="`decay` must be the DataFrame"):
        plot_ic_decay(decay["mean"])


def test_plot_turnover_draws_rolling_means_with_autocorrelation_on_its_own_axis():
    """Daily turnover moves in steps of 1 / (names in a quantile): its lines are
    rolling means, and the rank autocorrelation (near 1) has its own y axis."""
    from skfactor.metrics import quantile_turnover, rank_autocorrelation
    from skfactor.plotting import plot_turnover

    f = make_factor_panel(n_dates=30, n_assets=50, random_state=0).X["value"]
    turnover, auto = quantile_turnover(f, 4), rank_autocorrelation(f)
    fig, ax = plt.subplots()
    assert plot_turnover(turnover, auto, window=5, ax=ax) is ax
    lines = labelled_lines(ax)
    assert len(lines) == 4  # the autocorrelation is not on the turnover's axis
    for q, line in zip(turnover.columns, lines, strict=True):
        expected = turnover[q].rolling(5, min_periods=2).mean()
        assert_allclose(line.get_ydata(), expected.to_numpy())
    (right,) = [other for other in fig.axes if other is not ax]
    (auto_line,) = labelled_lines(right)
    assert_allclose(auto_line.get_ydata(), auto.rolling(5, min_periods=2).mean())
    assert "rank autocorrelation" in right.get_ylabel()
    # the legend (both axes' lines) sits below the axes, off the data
    legend = ax.get_legend()
    assert len(legend.get_texts()) == 5
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(ax.transAxes.inverted())
    assert box.y1 <= 0.0
    # window=1: the daily values
    fig, ax = plt.subplots()
    daily = labelled_lines(plot_turnover(turnover, window=1, ax=ax))
    assert_array_equal(daily[0].get_ydata(), turnover[1].to_numpy())
    with pytest.raises(ValueError, match="`window` must be a positive integer; got 0"):
        plot_turnover(turnover, window=0)
    plt.close("all")


def test_plot_attribution_lines_are_cumulative_contributions():
    from skfactor.plotting import plot_attribution
    from skfactor.risk import return_attribution

    data = make_factor_panel(n_dates=20, n_assets=30, random_state=1)
    B = data.X[["value", "size"]]
    w = pd.Series(1.0 / 30, index=B.index)
    dates = B.index.get_level_values(0).unique()
    F = pd.DataFrame(0.01, index=dates, columns=B.columns)
    res = return_attribution(w, B, F, data.y)
    lines = {line.get_label(): line for line in labelled_lines(plot_attribution(res))}
    assert set(lines) == {"value", "size", "specific", "total"}
    for name, line in lines.items():
        assert_allclose(line.get_ydata(), res.cumulative[name].to_numpy())
