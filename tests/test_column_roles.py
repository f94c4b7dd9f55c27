"""The column-role rule: group codes, weights and other non-characteristics.

A column named by ``groups``, ``weights`` or ``passthrough`` is not a
characteristic on any per-date step: never clipped, z-scored, sorted or
regressed on. The lecture's Approach 2 with industry-neutral, cap-weighted
z-scores and cap-weighted least squares is one pipeline, checked against a
hand-written per-date loop, and searchable by GridSearchCV.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mstats
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.metrics import ic_scorer
from skfactor.model_selection import PanelTimeSeriesSplit
from tests.conftest import shuffled

CHARACTERISTICS = ["value", "size", "momentum"]


@pytest.fixture(scope="module")
def panel():
    """Characteristics with industry codes and market caps, returns; shuffled."""
    data = make_factor_panel(
        n_dates=30, n_assets=150, missing_rows=0.1, missing_values=0.03, random_state=3
    )
    rng = np.random.default_rng(3)
    X = data.X.assign(
        industry=rng.integers(0, 6, len(data.X)).astype(float),
        cap=np.exp(rng.normal(8.0, 1.5, len(data.X))),
    )
    X.loc[X.index[::41], "industry"] = np.nan
    X.loc[X.index[::53], "cap"] = np.nan
    X = shuffled(X, seed=4)
    return X, data.y.reindex(X.index)


def approach2(limits=0.01):
    """The lecture's Approach 2, industry-neutral and cap-weighted."""
    return make_pipeline(
        Winsorizer(limits=limits, passthrough=["industry", "cap"]),
        CrossSectionalZScore(groups="industry", weights="cap"),
        CrossSectionalFactorModel(weights="cap", passthrough=["industry"]),
    )


def reference_factor_returns(X, y, limits):
    """One date at a time: scipy's winsorize, z-score within industries with a
    cap-weighted mean and the equal-weighted ddof=0 standard deviation, then
    cap-weighted least squares of the returns on the z-scores."""
    rows = []
    for date, day in X.groupby(level="date"):
        Z = pd.DataFrame(index=day.index)
        for col in CHARACTERISTICS:
            v = day[col].to_numpy()
            w = v.copy()
            ok = ~np.isnan(v)
            if ok.any():
                w[ok] = np.asarray(mstats.winsorize(v[ok], limits=limits))
            z = np.full(len(v), np.nan)
            for g in np.unique(day["industry"].dropna()):
                m = (day["industry"] == g).to_numpy() & ~np.isnan(w)
                cap = day["cap"].to_numpy()[m]
                has = ~np.isnan(cap)
                mean = np.average(w[m][has], weights=cap[has]) if has.any() else 0
                if not has.any() or cap[has].sum() == 0:
                    mean = w[m].mean()
                std = w[m].std()
                z[m] = 0.0 if std == 0 or m.sum() < 2 else (w[m] - mean) / std
            Z[col] = z
        r = y.loc[day.index].to_numpy()
        cap = day["cap"].to_numpy()
        ok = ~np.isnan(r) & ~np.isnan(cap) & ~Z.isna().any(axis=1).to_numpy()
        design = np.column_stack([np.ones(ok.sum()), Z.to_numpy()[ok]])
        sw = np.sqrt(cap[ok])
        coef = np.linalg.lstsq(design * sw[:, None], r[ok] * sw, rcond=None)[0]
        rows.append(pd.Series(coef[1:], index=CHARACTERISTICS, name=date))
    return pd.DataFrame(rows)


# --------------------------------------------------------- the pipeline
@pytest.mark.parametrize("limits", [0.0, 0.05])
def test_roles_approach2_pipeline_equals_per_date_loop(panel, limits):
    X, y = panel
    model = approach2(limits).fit(X, y)
    expected = reference_factor_returns(X, y, limits)
    got = model[-1].factor_returns_
    assert list(got.columns) == CHARACTERISTICS
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_roles_approach2_grid_search(panel):
    X, y = panel
    search = GridSearchCV(
        approach2(),
        {"winsorizer__limits": [0.0, 0.05]},
        cv=PanelTimeSeriesSplit(n_splits=3, gap=1),
        scoring=ic_scorer,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_params_["winsorizer__limits"]
    np.testing.assert_allclose(
        search.best_estimator_[-1].factor_returns_.to_numpy(),
        reference_factor_returns(X, y, best).to_numpy(),
        rtol=1e-9,
    )


def test_roles_columns_pass_through_unchanged(panel):
    X, _ = panel
    Z = approach2()[:-1].fit_transform(X)
    pd.testing.assert_frame_equal(Z[["industry", "cap"]], X[["industry", "cap"]])
    W = QuantilePortfolioFactor(weights="cap", passthrough="industry").fit_transform(X)
    pd.testing.assert_frame_equal(W[["industry", "cap"]], X[["industry", "cap"]])


# ------------------------------------------------ disagreements refused
def test_roles_model_refuses_columns_passed_through_before(panel):
    X, y = panel
    pipe = make_pipeline(
        CrossSectionalZScore(groups="industry", weights="cap"),
        CrossSectionalFactorModel(),
    )
    with pytest.raises(ValueError, match=r"\['industry', 'cap'\] are not char"):
        pipe.fit(X, y)


def test_roles_zscore_refuses_group_codes_clipped_before(panel):
    X, _ = panel
    pipe = make_pipeline(
        Winsorizer(), CrossSectionalZScore(groups="industry", weights="cap")
    )
    with pytest.raises(ValueError, match="`groups` column 'industry' was trans"):
        pipe.fit_transform(X)


def test_roles_bad_specifications(panel):
    X, y = panel
    with pytest.raises(ValueError, match="`groups` and `weights` must name diff"):
        CrossSectionalZScore(groups="cap", weights="cap").fit_transform(X)
    with pytest.raises(ValueError, match="`passthrough`='nope' is not a column"):
        Winsorizer(passthrough=["nope"]).fit_transform(X)
    with pytest.raises(ValueError, match="Both `weights`='cap' and `sample_weight`"):
        CrossSectionalFactorModel(weights="cap", passthrough=["industry"]).fit(
            X, y, sample_weight=np.ones(len(X))
        )
    with pytest.raises(ValueError, match="`long_high` names column 'cap'"):
        QuantilePortfolioFactor(weights="cap", long_high={"cap": False}).fit(X)


def test_roles_weights_column_equals_sample_weight(panel):
    X, y = panel
    Z = approach2()[:-1].fit_transform(X)
    by_column = CrossSectionalFactorModel(weights="cap", passthrough=["industry"])
    by_weight = CrossSectionalFactorModel()
    by_column.fit(Z, y)
    by_weight.fit(Z[CHARACTERISTICS], y, sample_weight=Z["cap"])
    pd.testing.assert_frame_equal(by_column.factor_returns_, by_weight.factor_returns_)
    pd.testing.assert_series_equal(
        by_column.predict(Z), by_weight.predict(Z[CHARACTERISTICS])
    )


def test_roles_weights_column_no_characteristic_of_the_quantile_sort(panel):
    X, y = panel
    model = QuantilePortfolioFactor(weights="cap", passthrough=["industry"])
    model.fit(X, y)
    assert list(model.factor_returns_.columns) == CHARACTERISTICS
    sized = QuantilePortfolioFactor(weights="cap", passthrough=["industry"]).fit(
        X.assign(size=X["cap"]), y
    )
    assert sized.factor_returns_["size"].notna().any()


# ---------------------------------------------------- global winsorizer
def test_roles_global_winsorizer_column_without_data_gets_no_caps():
    data = make_factor_panel(n_dates=10, n_assets=50, random_state=0)
    train = data.X.assign(late=np.nan)
    test = data.X.assign(late=np.linspace(-1e6, 1e6, len(data.X)))
    model = Winsorizer(cross_sectional=False, limits=0.05)
    with pytest.warns(UserWarning, match=r"no value in column\(s\) \['late'\]") as rec:
        model.fit(train)
    assert rec[0].filename == __file__  # the caller's line
    assert model.lower_[3] == -np.inf and model.upper_[3] == np.inf
    out = model.transform(test)
    pd.testing.assert_series_equal(out["late"], test["late"])
    assert np.isfinite(model.lower_[:3]).all()


def test_roles_model_warning_names_the_callers_line(panel):
    X, y = panel
    y = y.copy()
    first = X.index.get_level_values("date") == X.index.get_level_values("date").min()
    y[first] = np.nan
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        approach2().fit(X, y)
    (warning,) = [w for w in rec if "could not be estimated" in str(w.message)]
    assert warning.filename == __file__


# ------------------------------------------------------- label columns
def test_roles_label_columns_may_hold_strings(panel):
    X, y = panel
    sectors = np.array(["Energy", "Tech", "Health", "Banks", "Utilities", "Media"])
    codes = X["industry"].to_numpy()
    labelled = X.assign(
        industry=pd.Series(
            np.where(np.isnan(codes), None, sectors[np.nan_to_num(codes).astype(int)]),
            index=X.index,
            dtype="str",
        ),
        ticker=X.index.get_level_values("asset").astype(str),
    )
    pipe = make_pipeline(
        Winsorizer(passthrough=["industry", "cap", "ticker"]),
        CrossSectionalZScore(groups="industry", weights="cap", passthrough="ticker"),
        CrossSectionalFactorModel(weights="cap", passthrough=["industry", "ticker"]),
    )
    Z = pipe[:-1].fit_transform(labelled)
    pd.testing.assert_frame_equal(
        Z[["industry", "cap", "ticker"]], labelled[["industry", "cap", "ticker"]]
    )
    numeric = approach2()[:-1].fit_transform(X)
    pd.testing.assert_frame_equal(Z[CHARACTERISTICS], numeric[CHARACTERISTICS])
    pipe.fit(labelled, y)
    np.testing.assert_allclose(
        pipe[-1].factor_returns_.to_numpy(),
        reference_factor_returns(X, y, 0.01).to_numpy(),
        rtol=1e-9,
    )
    with pytest.raises(ValueError, match=r"non-numeric columns \['ticker'\].*`pass"):
        Winsorizer(passthrough=["industry"]).fit_transform(labelled)


# ------------------------------------ passthrough columns: values and dtype
PASSED = ["id", "count", "flag", "f32", "sector"]


@pytest.fixture(scope="module")
def typed():
    """A panel with passthrough columns of every kind: int64 IDs above 2**53
    (not floats), int32, bool, float32 and a categorical."""
    data = make_factor_panel(n_dates=6, n_assets=40, random_state=5)
    rng = np.random.default_rng(5)
    n = len(data.X)
    X = data.X.assign(
        id=2**53 + 1 + 2 * rng.permutation(n).astype(np.int64),
        count=rng.integers(0, 100, n).astype(np.int32),
        flag=rng.random(n) < 0.5,
        f32=rng.standard_normal(n).astype(np.float32),
        sector=pd.Categorical(rng.choice(["oil", "bank", "tech"], n)),
    )
    X = shuffled(X, seed=6)
    return X, data.y.reindex(X.index)


def _typed_steps():
    from skfactor import CrossSectionalNeutralizer

    return [
        Winsorizer(passthrough=PASSED),
        CrossSectionalZScore(passthrough=PASSED),
        CrossSectionalNeutralizer(exposures=["size"], passthrough=PASSED),
        QuantilePortfolioFactor(passthrough=PASSED),
        make_pipeline(
            Winsorizer(passthrough=PASSED), CrossSectionalZScore(passthrough=PASSED)
        ),
    ]


def _to_polars(frame):
    """What a user's polars frame of ``frame`` looks like (keys as columns)."""
    import polars as pl

    flat = frame.reset_index()
    columns = [pl.Series(c, flat[c].to_numpy()) for c in flat if c != "sector"]
    sector = pl.Series("sector", flat["sector"].astype(str).to_numpy())
    return pl.DataFrame([*columns, sector.cast(pl.Categorical)])


@pytest.mark.parametrize(
    "step", _typed_steps(), ids=lambda s: type(s).__name__.replace("Pipeline", "pipe")
)
@pytest.mark.parametrize("container", ["default", "pandas", "polars"])
def test_roles_passthrough_columns_come_back_as_given(typed, step, container):
    import polars as pl

    X, y = typed
    out = step.set_output(transform=container).fit(X, y).transform(X)
    if container == "polars":
        assert out["id"].dtype == pl.Int64 and out["count"].dtype == pl.Int32
        assert out["flag"].dtype == pl.Boolean and out["f32"].dtype == pl.Float32
        assert out["sector"].dtype == pl.Enum(["bank", "oil", "tech"])
        for c in PASSED:
            assert out[c].to_list() == X[c].tolist(), c
        np.testing.assert_array_equal(out["id"].to_numpy(), X["id"].to_numpy())
    else:
        pd.testing.assert_frame_equal(out[PASSED], X[PASSED])
    # A polars frame in: the same columns out, default (polars) or pandas.
    frame = _to_polars(X)
    out = step.set_output(transform=container).fit(frame, y).transform(frame)
    if container == "pandas":
        expected = X[PASSED].assign(
            sector=X["sector"].cat.set_categories(["bank", "oil", "tech"])
        )
        pd.testing.assert_frame_equal(out[PASSED], expected, check_index_type=False)
    else:
        assert isinstance(out, pl.DataFrame)
        for c in PASSED:
            assert out[c].equals(frame[c]) and out[c].dtype == frame[c].dtype, c


def test_roles_groups_of_integer_ids_above_2_53_are_not_merged(typed):
    X, _ = typed
    # Two IDs one apart above 2**53 are one float64: they must stay two groups.
    group = np.where(X["flag"], 2**53, 2**53 + 1).astype(np.int64)
    odd = X[CHARACTERISTICS].assign(group=group)
    labels = odd.assign(group=np.where(X["flag"], "a", "b"))
    expected = CrossSectionalZScore(groups="group").fit_transform(labels)
    got = CrossSectionalZScore(groups="group").fit_transform(odd)
    pd.testing.assert_frame_equal(got[CHARACTERISTICS], expected[CHARACTERISTICS])
    pd.testing.assert_series_equal(got["group"], odd["group"])


def test_roles_weights_column_comes_back_as_given(typed):
    X, _ = typed
    X = X[[*CHARACTERISTICS, "count"]]
    out = CrossSectionalZScore(weights="count").fit_transform(X)
    pd.testing.assert_series_equal(out["count"], X["count"])  # int32, not float64
