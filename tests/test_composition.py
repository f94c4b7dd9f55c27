"""End to end: the estimators composed in scikit-learn's Pipeline,
ColumnTransformer, GridSearchCV and cross_validate, split by date.

How rows without a label are handled: ``forward_returns`` leaves NaN where the
future return is unknown (the last ``periods`` dates, and assets missing on a
date of the horizon). Nothing is dropped beforehand: every row flows through
the transformers, ``CrossSectionalFactorModel`` regresses each date on its
complete rows (a date without any label gets NaN estimates and one warning),
and ``ic_scorer`` correlates each test date over the rows where both the
prediction and the label exist, skipping dates with no IC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.metrics import ic_scorer, information_coefficient
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns
from tests.conftest import shuffled

PERIODS = 5  # forward-return horizon, in dates; the embargo `gap` equals it
LIMITS = [0.0, 0.01, (0.05, 0.1)]


@pytest.fixture(scope="module", params=["balanced", "unbalanced"])
def labelled(request):
    """Shuffled characteristics and their 5-date forward returns (NaN where unknown)."""
    data = make_factor_panel(
        n_dates=60,
        n_assets=80,
        missing_rows=0.15 if request.param == "unbalanced" else 0.0,
        missing_values=0.02,
        random_state=0,
    )
    X = shuffled(data.X, seed=2)
    y = forward_returns(data.y, periods=PERIODS).reindex(X.index)
    return X, y


def split_by_date(X, y, n_new):
    """The rows of the last ``n_new`` dates (no label yet) and the rest."""
    date = X.index.get_level_values("date")
    new = date >= np.sort(date.unique())[-n_new]
    return X[~new], y[~new], X[new]


def approach2(**model_params):
    return Pipeline(
        [
            ("winsorizer", Winsorizer()),
            ("zscore", CrossSectionalZScore()),
            ("model", CrossSectionalFactorModel(**model_params)),
        ]
    )


def manual_fold_scores(pipe, params, cv, X, y, **fit_params):
    """Each fold fitted and scored by hand: clone, fit on train, mean IC on test."""
    scores = []
    for train, test in cv.split(X):
        fitted = clone(pipe).set_params(**params)
        weights = {k: v.iloc[train] for k, v in fit_params.items()}
        fitted.fit(X.iloc[train], y.iloc[train], **weights)
        pred = fitted.predict(X.iloc[test])
        ic = information_coefficient(y.iloc[test], pred)
        scores.append(ic.mean())  # pandas' mean skips the dates without an IC
    return np.array(scores)


def test_composition_grid_search_winsorize_limits_predicts_new_dates(labelled):
    X, y = labelled
    X_fit, y_fit, X_new = split_by_date(X, y, n_new=PERIODS)
    cv = PanelTimeSeriesSplit(n_splits=4, gap=PERIODS)
    search = GridSearchCV(
        approach2(), {"winsorizer__limits": LIMITS}, cv=cv, scoring=ic_scorer
    ).fit(X_fit, y_fit)

    for i, limits in enumerate(LIMITS):
        expected = manual_fold_scores(
            approach2(), {"winsorizer__limits": limits}, cv, X_fit, y_fit
        )
        got = [search.cv_results_[f"split{k}_test_score"][i] for k in range(4)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = int(np.argmax(search.cv_results_["mean_test_score"]))
    assert search.best_params_ == {"winsorizer__limits": LIMITS[best]}

    refit = approach2().set_params(**search.best_params_).fit(X_fit, y_fit)
    pd.testing.assert_frame_equal(
        search.best_estimator_[-1].factor_returns_, refit[-1].factor_returns_
    )
    pred = search.predict(X_new)
    assert isinstance(pred, pd.Series)
    assert pred.index.equals(X_new.index)  # the new dates' rows, in their order
    pd.testing.assert_series_equal(pred, refit.predict(X_new))
    complete = X_new.notna().all(axis=1)
    assert pred[complete].notna().all() and pred[~complete].isna().all()


def test_composition_rows_without_label_fit_on_complete_rows_and_score_skips_them(
    labelled,
):
    X, y = labelled
    with pytest.warns(UserWarning, match=f"{PERIODS} of 60 dates could not be"):
        pipe = approach2().fit(X, y)  # the last PERIODS dates have no label at all
    model = pipe[-1]
    Z = pipe[:-1].transform(X)
    complete = Z.notna().all(axis=1) & y.notna()
    counts = complete.groupby(level="date").sum()
    pd.testing.assert_series_equal(
        model.nobs_, counts.rename("nobs"), check_dtype=False
    )
    assert model.factor_returns_.iloc[-PERIODS:].isna().all().all()
    assert model.factor_returns_.iloc[:-PERIODS].notna().all().all()
    # Every row gets a prediction slot; the scorer ignores rows without a label.
    assert pipe.predict(X).index.equals(X.index)
    pred = pipe.predict(X)
    by_date = []
    for _, rows in pd.DataFrame({"y": y, "p": pred}).groupby(level="date"):
        rows = rows.dropna()
        if len(rows) > 1:
            by_date.append(stats.spearmanr(rows["y"], rows["p"]).statistic)
    assert len(by_date) == 60 - PERIODS
    assert ic_scorer(pipe, X, y) == pytest.approx(np.mean(by_date), rel=1e-12)


def test_composition_winsorizer_zero_limits_is_identity_in_pipeline(labelled):
    X, y = labelled  # limits=0 once failed in the order-statistics kernel
    pd.testing.assert_frame_equal(Winsorizer(limits=0.0).fit_transform(X), X)
    pd.testing.assert_frame_equal(Winsorizer(limits=(0.0, None)).fit_transform(X), X)


def quantile_pipeline():
    return Pipeline(
        [
            ("quantiles", QuantilePortfolioFactor()),
            ("model", CrossSectionalFactorModel()),
        ]
    )


def test_composition_grid_search_quantile_portfolio_weights_as_loadings(labelled):
    """The long-short weights are the loadings: predicted return = expected
    intercept + weights @ expected factor returns, so a column with a positive
    expected factor return ranks its long leg above its middle above its short
    leg. The search picks the number of quantiles by the rank IC."""
    X, y = labelled
    X_fit, y_fit, X_new = split_by_date(X, y, n_new=PERIODS)
    cv = PanelTimeSeriesSplit(n_splits=3, gap=PERIODS, max_train_size=30)
    grid = {"quantiles__n_quantiles": [3, 5, 10]}
    search = GridSearchCV(quantile_pipeline(), grid, cv=cv, scoring=ic_scorer)
    search.fit(X_fit, y_fit)
    for i, q in enumerate(grid["quantiles__n_quantiles"]):
        expected = manual_fold_scores(
            quantile_pipeline(), {"quantiles__n_quantiles": q}, cv, X_fit, y_fit
        )
        got = [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)

    best = search.best_estimator_
    q = search.best_params_["quantiles__n_quantiles"]
    W = QuantilePortfolioFactor(n_quantiles=q).fit_transform(X_new)
    model = best[-1]
    expected = model.intercept_ + W @ model.coef_
    pred = search.predict(X_new)
    assert pred.index.equals(X_new.index)
    np.testing.assert_allclose(pred, expected, rtol=1e-12)
    # The model fitted in the pipeline is the model fitted on the weights.
    direct = CrossSectionalFactorModel().fit(
        QuantilePortfolioFactor(n_quantiles=q).fit_transform(X_fit, y_fit), y_fit
    )
    pd.testing.assert_frame_equal(model.factor_returns_, direct.factor_returns_)


def test_composition_grid_search_n_jobs_gives_the_serial_results(labelled):
    X, y = labelled
    X_fit, y_fit, _ = split_by_date(X, y, n_new=PERIODS)
    cv = PanelTimeSeriesSplit(n_splits=3, gap=PERIODS)
    grid = {"winsorizer__limits": LIMITS[:2]}
    serial = GridSearchCV(approach2(), grid, cv=cv, scoring=ic_scorer)
    parallel = GridSearchCV(approach2(), grid, cv=cv, scoring=ic_scorer, n_jobs=2)
    serial.fit(X_fit, y_fit)
    parallel.fit(X_fit, y_fit)
    # To 1e-12, not bitwise: the workers run the per-date regressions' BLAS
    # with fewer threads, which may round differently on some BLAS builds.
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_allclose(
            parallel.cv_results_[key], serial.cv_results_[key], rtol=1e-12
        )
    assert parallel.best_params_ == serial.best_params_


# ----------------------------------------------------------- metadata routing
@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def cap_weights(X):
    rng = np.random.default_rng(11)
    return pd.Series(rng.lognormal(0.0, 1.0, len(X)), index=X.index, name="w")


def weighted_approach2():
    return approach2().set_params(
        model=CrossSectionalFactorModel().set_fit_request(sample_weight=True)
    )


def test_composition_sample_weight_routed_through_pipeline(labelled, routing):
    X, y = labelled
    X, y, _ = split_by_date(X, y, n_new=PERIODS)
    w = cap_weights(X)
    pipe = weighted_approach2().fit(X, y, sample_weight=w)
    Z = make_pipeline(Winsorizer(), CrossSectionalZScore()).fit_transform(X)
    direct = CrossSectionalFactorModel().fit(Z, y, sample_weight=w)
    pd.testing.assert_frame_equal(pipe[-1].factor_returns_, direct.factor_returns_)
    unweighted = CrossSectionalFactorModel().fit(Z, y)
    assert not np.allclose(unweighted.factor_returns_, direct.factor_returns_)
    # An array of weights routes the same way.
    pipe.fit(X, y, sample_weight=w.to_numpy())
    pd.testing.assert_frame_equal(pipe[-1].factor_returns_, direct.factor_returns_)
    # Without routing, the step-prefixed parameter reaches the model too.
    with sklearn.config_context(enable_metadata_routing=False):
        legacy = approach2().fit(X, y, model__sample_weight=w)
    pd.testing.assert_frame_equal(legacy[-1].factor_returns_, direct.factor_returns_)


def test_composition_sample_weight_routed_through_grid_search(labelled, routing):
    X, y = labelled
    X_fit, y_fit, _ = split_by_date(X, y, n_new=PERIODS)
    w = cap_weights(X_fit)
    cv = PanelTimeSeriesSplit(n_splits=3, gap=PERIODS)
    grid = {"winsorizer__limits": LIMITS[:2]}
    search = GridSearchCV(weighted_approach2(), grid, cv=cv, scoring=ic_scorer)
    search.fit(X_fit, y_fit, sample_weight=w)
    for i, limits in enumerate(grid["winsorizer__limits"]):
        params = {"winsorizer__limits": limits}
        expected = manual_fold_scores(
            weighted_approach2(), params, cv, X_fit, y_fit, sample_weight=w
        )
        unweighted = manual_fold_scores(approach2(), params, cv, X_fit, y_fit)
        got = [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert not np.allclose(got, unweighted)
    Z = Winsorizer(**{"limits": search.best_params_["winsorizer__limits"]})
    Z = CrossSectionalZScore().fit_transform(Z.fit_transform(X_fit))
    direct = CrossSectionalFactorModel().fit(Z, y_fit, sample_weight=w)
    pd.testing.assert_frame_equal(
        search.best_estimator_[-1].factor_returns_, direct.factor_returns_
    )


def test_composition_sample_weight_unrequested_is_an_error(labelled, routing):
    X, y = labelled
    with pytest.raises(ValueError, match="sample_weight.*set_fit_request"):
        approach2().fit(X, y, sample_weight=cap_weights(X))


# ---------------------------------------------------------- ColumnTransformer
INDUSTRIES = ["ind_tech", "ind_energy", "ind_health"]


def with_industries(X, seed=5):
    """Append 0/1 indicators of a fixed industry per asset (they sum to one)."""
    assets = X.index.get_level_values("asset")
    rng = np.random.default_rng(seed)
    label = pd.Series(rng.integers(0, 3, assets.nunique()), index=assets.unique())
    code = label.reindex(assets).to_numpy()
    dummies = (code[:, None] == np.arange(3)).astype(np.float64)
    return X.join(pd.DataFrame(dummies, index=X.index, columns=INDUSTRIES))


def style_column_transformer(limits=0.01):
    style = make_pipeline(Winsorizer(limits=limits), CrossSectionalZScore())
    return ColumnTransformer(
        [("style", style, ["value", "size", "momentum"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")  # keeps the (date, asset) index


def test_composition_column_transformer_styles_and_industries(labelled):
    X, y, _ = split_by_date(*labelled, n_new=PERIODS)
    XI = with_industries(X)
    model = CrossSectionalFactorModel(industries=INDUSTRIES)
    pipe = make_pipeline(style_column_transformer(), model).fit(XI, y)

    Z = CrossSectionalZScore().fit_transform(Winsorizer(limits=0.01).fit_transform(X))
    direct = CrossSectionalFactorModel(industries=INDUSTRIES).fit(
        Z.join(XI[INDUSTRIES]), y
    )
    fitted = pipe[-1]
    pd.testing.assert_frame_equal(fitted.factor_returns_, direct.factor_returns_)
    assert list(fitted.feature_names_in_) == ["value", "size", "momentum", *INDUSTRIES]
    transformed = pipe[0].transform(XI)
    assert transformed.index.equals(XI.index)
    pd.testing.assert_frame_equal(transformed[INDUSTRIES], XI[INDUSTRIES])
    assert pipe.predict(XI).index.equals(XI.index)

    X_fit, y_fit, X_new = split_by_date(with_industries(labelled[0]), labelled[1], 5)
    search = GridSearchCV(
        make_pipeline(style_column_transformer(), clone(model)),
        {"columntransformer__style__winsorizer__limits": [0.01, 0.05]},
        cv=PanelTimeSeriesSplit(n_splits=3, gap=PERIODS),
        scoring=ic_scorer,
    ).fit(X_fit, y_fit)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X_new).index.equals(X_new.index)


def test_composition_column_transformer_without_pandas_output_loses_the_dates(
    labelled,
):
    # Documented trap: without set_output(transform="pandas") ColumnTransformer
    # stacks arrays, the (date, asset) index is gone and the model sees one
    # cross-section.
    X, y = labelled
    XI = with_industries(X)
    ct = style_column_transformer().set_output(transform="default")
    pipe = make_pipeline(ct, CrossSectionalFactorModel(industries=[3, 4, 5]))
    pipe.fit(XI, y.to_numpy())
    assert pipe[-1].factor_returns_.shape == (1, 6)


def test_composition_column_transformer_default_output_takes_dates_from_y(labelled):
    # With y a panel Series, an array X from the ColumnTransformer takes y's
    # (date, asset) rows: the same factor returns as with pandas output.
    X, y = labelled
    XI = with_industries(X)
    unlabelled = f"{PERIODS} of 60 dates could not be"  # the last dates
    with pytest.warns(UserWarning, match=unlabelled):
        default = make_pipeline(
            style_column_transformer().set_output(transform="default"),
            CrossSectionalFactorModel(industries=[3, 4, 5]),
        ).fit(XI, y)
    with pytest.warns(UserWarning, match=unlabelled):
        pandas = make_pipeline(
            style_column_transformer(),
            CrossSectionalFactorModel(industries=INDUSTRIES),
        ).fit(XI, y)
    np.testing.assert_allclose(
        default[-1].factor_returns_.to_numpy(),
        pandas[-1].factor_returns_.to_numpy(),
        rtol=1e-12,
    )


# ----------------------------------------------------- time-series models, CV
@pytest.fixture(scope="module")
def wide():
    data = make_factor_panel(
        n_dates=300, n_assets=10, specific_volatility=0.004, random_state=3
    )
    F = pd.concat([data.market, data.factor_returns], axis=1)
    R = data.y.unstack("asset")
    return F, R


@pytest.mark.parametrize(
    "model", [TimeSeriesFactorModel(), RollingFactorModel(window=40)], ids=repr
)
def test_composition_cross_validate_time_series_models(wide, model):
    F, R = wide
    cv = TimeSeriesSplit(n_splits=4, gap=2)
    result = cross_validate(
        model,
        F,
        R,
        cv=cv,
        scoring={"r2": "r2", "mse": "neg_mean_squared_error"},
        return_estimator=True,
    )
    for k, (train, test) in enumerate(cv.split(F)):
        fitted = clone(model).fit(F.iloc[train], R.iloc[train])
        pred = fitted.predict(F.iloc[test])
        assert pred.index.equals(F.index[test])
        assert result["test_r2"][k] == pytest.approx(
            r2_score(R.iloc[test], pred), rel=1e-12
        )
        assert result["test_mse"][k] == pytest.approx(
            -mean_squared_error(R.iloc[test], pred), rel=1e-12
        )
        # The model's own score is the same mean R² over assets.
        assert fitted.score(F.iloc[test], R.iloc[test]) == pytest.approx(
            result["test_r2"][k], rel=1e-12
        )
        if isinstance(model, RollingFactorModel):
            # Test dates follow the training range: the last window's betas.
            est = result["estimator"][k]
            last = est.intercept_ + F.iloc[test].to_numpy() @ est.coef_.T
            np.testing.assert_allclose(pred, last, rtol=1e-12)
    assert result["test_r2"].mean() > 0.5


@pytest.mark.parametrize(
    "model", [TimeSeriesFactorModel(), RollingFactorModel(window=40)], ids=repr
)
def test_composition_cross_validate_time_series_models_with_holes(wide, model):
    F, R = wide
    R = R.mask(np.random.default_rng(4).random(R.shape) < 0.1)
    cv = PanelTimeSeriesSplit(n_splits=3, gap=1)  # a wide frame: one row per date
    scores = cross_validate(model, F, R, cv=cv)["test_score"]
    expected = [
        clone(model).fit(F.iloc[tr], R.iloc[tr]).score(F.iloc[te], R.iloc[te])
        for tr, te in TimeSeriesSplit(n_splits=3, gap=1).split(F)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


# --------------------------------------------- splitter: what was not covered
@settings(max_examples=60, deadline=None)
@given(
    n_dates=st.integers(4, 25),
    seed=st.integers(0, 2**16),
    n_splits=st.integers(2, 3),
    gap=st.integers(0, 3),
    max_train_size=st.one_of(st.none(), st.integers(1, 8)),
)
def test_composition_split_wide_frame_and_groups_agree_with_panel(
    n_dates, seed, n_splits, gap, max_train_size
):
    """A wide frame with shuffled DatetimeIndex rows, and an array with the
    dates as ``groups``, split exactly as the panel they come from."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-04", periods=n_dates, freq="B")
    index = pd.MultiIndex.from_product([dates, ["a", "b", "c"]])
    # Unbalanced, but every date keeps a row (asset "a").
    index = index[(rng.random(len(index)) < 0.6) | (index.get_level_values(1) == "a")]
    panel = shuffled(pd.DataFrame({"x": rng.normal(size=len(index))}, index), seed)
    frame = shuffled(pd.DataFrame({"x": rng.normal(size=n_dates)}, dates), seed)
    cv = PanelTimeSeriesSplit(n_splits, gap=gap, max_train_size=max_train_size)
    if n_dates - gap - n_splits * (n_dates // (n_splits + 1)) <= 0:
        with pytest.raises(ValueError, match="leaving none to train"):
            list(cv.split(frame))
        return
    row_dates = panel.index.get_level_values(0)
    by_groups = cv.split(panel.to_numpy(), groups=row_dates)
    for (tr, te), (gtr, gte), (ftr, fte) in zip(
        cv.split(panel), by_groups, cv.split(frame), strict=True
    ):
        np.testing.assert_array_equal(tr, gtr)
        np.testing.assert_array_equal(te, gte)
        np.testing.assert_array_equal(
            np.unique(row_dates[tr]), np.sort(frame.index[ftr])
        )
        np.testing.assert_array_equal(
            np.unique(row_dates[te]), np.sort(frame.index[fte])
        )
        if len(ftr):
            assert frame.index[ftr].max() < frame.index[fte].min()


def test_composition_example_grid_search_prints_its_table(example_runs):
    runs, folder = example_runs  # examples/grid_search.py, run once per session
    assert runs["grid_search"][0] == 0, runs["grid_search"][1][-3000:]
    out = (folder / "grid_search" / "stdout.txt").read_text(encoding="utf-8")
    assert "best parameters: z-score" in out
    for column in ("fold 0", "fold 4", "mean IC", "rank"):
        assert column in out
    assert "quantiles  n=10" in out
