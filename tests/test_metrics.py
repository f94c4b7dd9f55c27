from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfactor.datasets import make_factor_panel
from skfactor.metrics import (
    ic_scorer,
    ic_summary,
    information_coefficient,
    make_ic_scorer,
)
from skfactor.model_selection import PanelTimeSeriesSplit
from tests.conftest import shuffled

REFERENCE = {"spearman": stats.spearmanr, "pearson": stats.pearsonr}


def make_pair(balanced, seed=0, n_dates=30, n_assets=40):
    """Shuffled outcome/prediction Series with NaN, ties and degenerate dates.

    Date 0 has a single complete row, date 1 constant predictions, date 2 no
    complete row, date 3 exactly two complete rows.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2020-01-01", periods=n_dates, freq="B")
    assets = [f"A{i:03d}" for i in range(n_assets)]
    index = pd.MultiIndex.from_product([dates, assets], names=["date", "asset"])
    if not balanced:
        index = index[rng.random(len(index)) > 0.3]
    y_true = rng.standard_t(4, size=len(index))
    # Rounded predictions: plenty of ties for the rank IC.
    y_pred = np.round(y_true + rng.normal(size=len(index)), 1)
    y_true[rng.random(len(index)) < 0.1] = np.nan
    y_pred[rng.random(len(index)) < 0.1] = np.nan
    date = index.get_level_values(0)
    on = {d: np.flatnonzero(date == dates[d]) for d in range(4)}
    y_true[on[0][1:]] = np.nan
    y_true[on[0][0]] = 0.5
    y_pred[on[0][0]] = 0.1
    y_pred[on[1]] = 3.0
    y_true[on[2]] = np.nan
    y_true[on[3][2:]] = np.nan
    y_true[on[3][:2]] = [0.1, 0.2]
    y_pred[on[3][:2]] = [1.0, -1.0]
    frame = pd.DataFrame({"y_true": y_true, "y_pred": y_pred}, index=index)
    frame = shuffled(frame, seed=seed + 1)
    return frame["y_true"], frame["y_pred"]


def slow_ic(y_true, y_pred, method):
    """One scipy call per date over its complete rows."""
    out = {}
    for date in sorted(set(y_true.index.get_level_values(0))):
        t = y_true.xs(date, level=0)
        p = y_pred.xs(date, level=0).reindex(t.index)
        ok = t.notna() & p.notna()
        t, p = t[ok].to_numpy(), p[ok].to_numpy()
        if len(t) < 2 or np.ptp(t) == 0 or np.ptp(p) == 0:
            out[date] = np.nan
        else:
            out[date] = REFERENCE[method](t, p)[0]
    return pd.Series(out)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
@pytest.mark.parametrize("balanced", [True, False])
def test_information_coefficient_equals_scipy_loop(method, balanced):
    y_true, y_pred = make_pair(balanced)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ic = information_coefficient(y_true, y_pred, method=method)
    expected = slow_ic(y_true, y_pred, method)
    assert ic.index.equals(pd.DatetimeIndex(expected.index))
    assert ic.index.name == "date"
    assert ic.name == "ic"
    np.testing.assert_allclose(ic.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-14)
    # The degenerate dates are NaN; the two-row date is exactly -1.
    assert ic.iloc[:3].isna().all()
    assert ic.iloc[3] == -1.0
    assert ic.iloc[4:].notna().all()


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_information_coefficient_equals_alphalens_groupby(method):
    # alphalens: drop incomplete rows, then group by date and correlate.
    y_true, y_pred = make_pair(balanced=False, seed=3)
    data = pd.DataFrame({"factor": y_pred, "fwd": y_true}).dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy on the constant date
        expected = data.groupby(level="date")[["factor", "fwd"]].apply(
            lambda g: g["fwd"].corr(g["factor"], method=method)
        )
    ic = information_coefficient(y_true, y_pred, method=method)
    expected = expected.reindex(ic.index)
    np.testing.assert_allclose(ic.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-14)


def test_information_coefficient_row_order_and_inputs_untouched():
    y_true, y_pred = make_pair(balanced=False, seed=5)
    before = (y_true.copy(), y_pred.copy())
    ic = information_coefficient(y_true, y_pred)
    pd.testing.assert_series_equal(y_true, before[0])
    pd.testing.assert_series_equal(y_pred, before[1])
    order = np.argsort(y_true.index.get_level_values(0), kind="stable")
    ic_sorted = information_coefficient(y_true.iloc[order], y_pred.iloc[order])
    pd.testing.assert_series_equal(ic, ic_sorted, rtol=0, atol=1e-15)


def test_information_coefficient_array_side_takes_other_index():
    y_true, y_pred = make_pair(balanced=True, seed=2)
    ic = information_coefficient(y_true, y_pred)
    pd.testing.assert_series_equal(
        information_coefficient(y_true, y_pred.to_numpy()), ic
    )
    pd.testing.assert_series_equal(
        information_coefficient(y_true.to_numpy(), y_pred), ic
    )
    one_column = information_coefficient(y_true.to_frame(), y_pred.to_frame())
    pd.testing.assert_series_equal(one_column, ic)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_information_coefficient_one_cross_section_is_a_float(method):
    rng = np.random.default_rng(4)
    t = rng.normal(size=50)
    p = np.round(t + rng.normal(size=50))
    p[[3, 7]] = np.nan
    ok = ~np.isnan(p)
    expected = REFERENCE[method](t[ok], p[ok])[0]
    ic = information_coefficient(t, p, method=method)
    assert isinstance(ic, float)
    assert ic == pytest.approx(expected, rel=0, abs=1e-14)
    # A single-level index is one cross-section too; so is a (n, 1) array.
    series = information_coefficient(pd.Series(t), pd.Series(p), method=method)
    assert series == pytest.approx(expected, rel=0, abs=1e-14)
    column = information_coefficient(t[:, None], p[:, None], method=method)
    assert column == pytest.approx(expected, rel=0, abs=1e-14)


@pytest.mark.parametrize(("ct", "cp"), [(1e160, 1.0), (1e-170, 1e160), (1.0, 1e-300)])
def test_pearson_information_coefficient_is_scale_free(ct, cp):
    # Products of deviations of 1e160 overflow and of 1e-170 underflow; the
    # correlation must not notice (it was NaN or 0 before).
    data = make_factor_panel(n_dates=4, n_assets=30, random_state=3)
    t, p = data.y, data.X.iloc[:, 0]
    expected = information_coefficient(t, p, method="pearson")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = information_coefficient(t * ct, p * cp, method="pearson")
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_information_coefficient_degenerate_cross_sections_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(information_coefficient([1.0], [2.0]))
        assert np.isnan(information_coefficient([], []))
        assert np.isnan(information_coefficient([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]))
        assert np.isnan(information_coefficient([1.0, np.nan], [np.nan, 2.0]))
        # Constant to the last bit but with an inexact float mean.
        assert np.isnan(information_coefficient([0.1] * 7, [1, 2, 3, 4, 5, 6, 7]))


def test_information_coefficient_nullable_and_bool_dtypes():
    index = pd.MultiIndex.from_product(
        [pd.date_range("2021-01-01", periods=2), list("abcd")], names=["d", "a"]
    )
    y_true = pd.Series([1, 2, None, 4, 4, 3, 2, 1], index=index, dtype="Int64")
    y_pred = pd.Series([True, False, True, True] * 2, index=index)
    ic = information_coefficient(y_true, y_pred)
    expected = information_coefficient(
        y_true.astype(float), y_pred.astype(float).to_numpy()
    )
    pd.testing.assert_series_equal(ic, expected)


def test_information_coefficient_errors():
    y_true, y_pred = make_pair(balanced=True, seed=6, n_dates=4, n_assets=5)
    with pytest.raises(ValueError, match="`method` must be one of"):
        information_coefficient(y_true, y_pred, method="kendall")
    with pytest.raises(ValueError, match="different indexes; align them"):
        information_coefficient(y_true, y_pred.sort_index())
    with pytest.raises(ValueError, match="has 20 rows and `y_pred` 19"):
        information_coefficient(y_true, y_pred.to_numpy()[:-1])
    with pytest.raises(ValueError, match="DataFrame with 2 columns"):
        information_coefficient(y_true, pd.concat([y_pred, y_pred], axis=1))
    with pytest.raises(ValueError, match="`y_pred` contains inf"):
        information_coefficient(y_true, y_pred.replace(3.0, np.inf).to_numpy())
    with pytest.raises(ValueError, match="`y_true` has dtype"):
        information_coefficient(y_true.astype(str), y_pred)
    with pytest.raises(ValueError, match="`y_pred` could not be read as numbers"):
        information_coefficient(y_true, ["x"] * len(y_true))
    with pytest.raises(ValueError, match="must be 1-D"):
        information_coefficient(np.zeros((4, 2)), np.zeros((4, 2)))
    dup = pd.concat([y_true, y_true.iloc[:1]])
    with pytest.raises(ValueError, match="duplicated \\(date, asset\\) rows"):
        information_coefficient(dup, dup.to_numpy())
    three = y_true.set_axis(
        pd.MultiIndex.from_arrays(
            [*(y_true.index.get_level_values(i) for i in (0, 1)), range(20)]
        )
    )
    with pytest.raises(ValueError, match="MultiIndex with 3 levels"):
        information_coefficient(three, y_pred.to_numpy())


def test_ic_summary_equals_scipy_ttest():
    rng = np.random.default_rng(8)
    ic = pd.Series(rng.normal(0.03, 0.1, size=60), name="ic")
    ic.iloc[[5, 9]] = np.nan
    summary = ic_summary(ic)
    values = ic.dropna().to_numpy()
    test = stats.ttest_1samp(values, 0.0)
    assert summary.name == "ic"
    assert list(summary.index) == [
        "mean",
        "std",
        "ir",
        "t",
        "p_value",
        "df",
        "t_iid",
        "t_nw",
        "n_dates",
        "positive",
    ]
    assert summary["df"] == 57
    assert summary["t_iid"] == summary["t"]
    assert summary["mean"] == pytest.approx(values.mean(), rel=1e-14)
    assert summary["std"] == pytest.approx(values.std(ddof=1), rel=1e-14)
    assert summary["ir"] == pytest.approx(values.mean() / values.std(ddof=1), rel=1e-14)
    assert summary["t"] == pytest.approx(test.statistic, rel=1e-12)
    assert summary["p_value"] == pytest.approx(test.pvalue, rel=1e-10)
    assert summary["n_dates"] == 58
    assert summary["positive"] == pytest.approx((values > 0).mean(), rel=0)


def test_ic_summary_frame_and_degenerate_input():
    frame = pd.DataFrame({"a": [0.1, 0.2, np.nan], "b": [0.3, np.nan, np.nan]})
    summary = ic_summary(frame)
    assert list(summary.columns) == ["a", "b"]
    pd.testing.assert_series_equal(summary["a"], ic_summary(frame["a"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = ic_summary(frame["b"])
        empty = ic_summary(np.array([np.nan]))
        flat = ic_summary([0.2, 0.2, 0.2])
    assert one["mean"] == 0.3
    assert one["n_dates"] == 1
    assert one[["std", "ir", "t", "p_value", "df", "t_iid", "t_nw"]].isna().all()
    assert empty["n_dates"] == 0
    assert empty.drop("n_dates").isna().all()
    assert flat["std"] == 0.0
    assert np.isnan(flat["ir"])


def panel_data(seed=0, n_dates=40, n_assets=60):
    data = make_factor_panel(
        n_dates=n_dates,
        n_assets=n_assets,
        missing_rows=0.2,
        random_state=seed,
    )
    X = shuffled(data.X, seed=seed)
    return X, data.y.reindex(X.index)


def test_ic_scorer_in_cross_val_score_equals_manual_folds():
    X, y = panel_data()
    cv = PanelTimeSeriesSplit(n_splits=3)
    scores = cross_val_score(LinearRegression(), X, y, cv=cv, scoring=ic_scorer)
    expected = []
    for train, test in cv.split(X):
        model = LinearRegression().fit(X.iloc[train], y.iloc[train])
        pred = pd.Series(model.predict(X.iloc[test]), index=X.index[test])
        expected.append(information_coefficient(y.iloc[test], pred).mean())
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-15)
    # A numpy y takes the dates from X's index.
    scores_np = cross_val_score(
        LinearRegression(), X, y.to_numpy(), cv=cv, scoring=ic_scorer
    )
    np.testing.assert_allclose(scores_np, scores, rtol=0, atol=1e-15)


def test_ic_scorer_in_grid_search_pickles_and_pearson():
    X, y = panel_data(seed=1)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LinearRegression()),
        {"linearregression__fit_intercept": [True, False]},
        cv=PanelTimeSeriesSplit(n_splits=3, gap=1),
        scoring={"rank": ic_scorer, "linear": make_ic_scorer("pearson")},
        refit="rank",
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_rank"]).all()
    assert np.isfinite(search.cv_results_["mean_test_linear"]).all()
    assert repr(ic_scorer) == "make_ic_scorer(method='spearman')"
    restored = pickle.loads(pickle.dumps(ic_scorer))
    model = search.best_estimator_
    assert restored(model, X, y) == ic_scorer(model, X, y)
    pred = pd.Series(model.predict(X), index=X.index)
    expected = information_coefficient(y, pred, method="pearson").mean()
    assert make_ic_scorer("pearson")(model, X, y) == pytest.approx(expected, abs=1e-15)
    with pytest.raises(ValueError, match="`method` must be one of"):
        make_ic_scorer("rank")


def test_ic_scorer_one_cross_section_and_all_nan():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, -1.0] + rng.normal(size=30)
    model = LinearRegression().fit(X, y)
    expected = stats.spearmanr(y, model.predict(X))[0]
    assert ic_scorer(model, X, y) == pytest.approx(expected, abs=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(ic_scorer(model, X, np.full(30, np.nan)))


@pytest.mark.parametrize("horizon", [2, 5, 21])
def test_ic_summary_horizon_equals_statsmodels_hac(horizon):
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    # An MA(h-1) series: what overlapping h-period labels give.
    shocks = rng.normal(0.02, 0.1, size=300 + horizon)
    ic = pd.Series(
        np.convolve(shocks, np.ones(horizon) / horizon, "valid")[:300],
        index=pd.date_range("2000-01-03", periods=300, freq="B"),
        name="ic",
    )
    ic.iloc[[4, 50]] = np.nan
    summary = ic_summary(ic.iloc[::-1], horizon=horizon)  # sorted by date first
    values = ic.dropna().to_numpy()
    ref = sm.OLS(values, np.ones(len(values))).fit(
        cov_type="HAC", cov_kwds={"maxlags": horizon - 1}
    )
    np.testing.assert_allclose(summary["t_nw"], ref.tvalues[0], rtol=1e-10)
    iid = ic_summary(ic)
    np.testing.assert_allclose(summary["t_iid"], iid["t"], rtol=1e-12)
    assert list(summary.index) == list(iid.index)
    assert abs(summary["t"]) < abs(summary["t_iid"])  # overlap inflates the iid t
    assert summary["df"] == len(values) // (2 * horizon)
    expected_p = 2 * stats.t.sf(abs(summary["t"]), summary["df"])
    np.testing.assert_allclose(summary["p_value"], expected_p, rtol=1e-12)


def test_ic_summary_horizon_one_unchanged_and_validated():
    ic = pd.Series(np.random.default_rng(3).normal(0.02, 0.1, 50))
    pd.testing.assert_series_equal(ic_summary(ic, horizon=1), ic_summary(ic))
    frame = ic_summary(pd.DataFrame({"a": ic, "b": -ic}), horizon=3)
    pd.testing.assert_series_equal(frame["a"], ic_summary(ic, 3).rename("a"))
    with pytest.raises(ValueError, match="`horizon` must be at least 1"):
        ic_summary(ic, horizon=0)
    with pytest.raises(TypeError, match="`horizon` must be an integer"):
        ic_summary(ic, horizon=2.5)


def _overlapping_ic(n_draws, n_dates, horizon, seed):
    """IC series of a persistent signal with no skill against h-date labels.

    With a fixed signal and i.i.d. returns, the IC of date t is (up to scale)
    the sum of the h returns after t: an MA(h-1) of i.i.d. normals, the
    strongest overlap the labels can give. One column per draw.
    """
    shocks = np.random.default_rng(seed).standard_normal(
        (n_dates + horizon - 1, n_draws)
    )
    csum = np.vstack([np.zeros((1, n_draws)), np.cumsum(shocks, axis=0)])
    return pd.DataFrame(csum[horizon:] - csum[:-horizon])


@pytest.mark.parametrize(
    ("n_dates", "horizon", "max_rate", "nw_min_rate"),
    [(500, 5, 0.08, 0.09), (250, 21, 0.09, 0.13), (250, 1, 0.065, None)],
)
def test_ic_summary_size_under_no_signal(n_dates, horizon, max_rate, nw_min_rate):
    ic = _overlapping_ic(2000, n_dates, horizon, seed=n_dates + horizon)
    table = ic_summary(ic, horizon=horizon)
    rejected = (table.loc["p_value"] < 0.05).mean()
    assert 0.03 <= rejected <= max_rate
    # |t| never exceeds the t that treats the dates as independent.
    assert (table.loc["t"].abs() <= table.loc["t_iid"].abs() * (1 + 1e-12)).all()
    if nw_min_rate is not None:  # Newey-West with h - 1 lags and normal p-values
        nw_rejected = (table.loc["t_nw"].abs() > stats.norm.ppf(0.975)).mean()
        assert nw_rejected >= nw_min_rate


def test_ic_summary_ewc_variance_equals_slow_loop():
    from skfactor.utils._numerics import ewc_long_run_variance

    rng = np.random.default_rng(12)
    n, horizon = 103, 5
    ic = pd.Series(
        np.convolve(rng.normal(0.01, 0.1, n + horizon - 1), np.ones(horizon), "valid"),
        index=pd.date_range("2001-01-01", periods=n, freq="B"),
    )
    x = ic.to_numpy()
    u = x - x.mean()
    nu = n // (2 * horizon)
    lam = [
        np.sqrt(2 / n)
        * sum(u[t - 1] * np.cos(np.pi * j * (t - 0.5) / n) for t in range(1, n + 1))
        for j in range(1, nu + 1)
    ]
    omega = sum(v * v for v in lam) / nu
    np.testing.assert_allclose(ewc_long_run_variance(u, nu), omega, rtol=1e-12)
    summary = ic_summary(ic.sample(frac=1, random_state=0), horizon=horizon)
    omega = max(omega, x.var(ddof=1))
    np.testing.assert_allclose(summary["t"], np.sqrt(n) * x.mean() / np.sqrt(omega))
    assert summary["df"] == nu
    np.testing.assert_allclose(
        summary["p_value"], 2 * stats.t.sf(abs(summary["t"]), nu), rtol=1e-12
    )


def test_ic_summary_few_dates_warns_and_stays_below_iid_t():
    rng = np.random.default_rng(13)
    ic = pd.Series(np.convolve(rng.normal(0.05, 0.1, 60), np.ones(21), "valid"))
    with pytest.warns(UserWarning, match="40 dates at horizon=21 .* 1 degree"):
        summary = ic_summary(ic, horizon=21)
    assert np.isfinite(summary["p_value"]) and 0 < summary["p_value"] <= 1
    assert summary["df"] == 1
    assert abs(summary["t"]) <= abs(summary["t_iid"])
    with pytest.warns(UserWarning, match="horizon=63"):  # h >= the dates
        long = ic_summary(ic, horizon=63)
    assert abs(long["t"]) <= abs(long["t_iid"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ic_summary(pd.Series(rng.normal(size=400)), horizon=5)  # 40 cosines
