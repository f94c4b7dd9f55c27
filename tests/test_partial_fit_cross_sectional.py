"""partial_fit of CrossSectionalFactorModel, and the risk model's update from it.

Advancing a fitted model by later dates equals ``fit`` on all of them: every
fitted attribute, the Fama–MacBeth summary and the predictions.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skfactor import CrossSectionalFactorModel, TimeSeriesFactorModel
from skfactor.datasets import make_factor_panel
from skfactor.models._lazy import lazy_results
from skfactor.risk import FactorCovariance, FactorRiskModel
from tests.test_partial_fit import CHUNKS, RISK_PARAMS, assert_close, asset_returns

N_DATES = 90
INDUSTRIES = ["ind_a", "ind_b", "ind_c"]

# A date with too few rows (and a listing's first date) warns on each update.
few_rows = pytest.mark.filterwarnings("ignore:.* dates could not be estimated")


def loadings_panel(n_dates=N_DATES, n_assets=40, seed=0, missing=0.02):
    """Loadings, returns and √cap weights with listings, delistings, holes.

    Assets 30-39 list on date 30, assets 0-4 delist after date 60, 5 % of the
    rows are missing, ``missing`` of the loadings are NaN, and date 45 has two
    rows (fewer than the regressors: NaN there). Three 0/1 industry columns
    (summing to one, collinear with the intercept) and a weight column.
    """
    data = make_factor_panel(
        n_dates, n_assets, 3, missing_values=missing, random_state=seed
    )
    X, y = data.X.copy(), data.y.copy()
    dates = X.index.get_level_values("date")
    asset = X.index.get_level_values("asset").str[1:].astype(int)
    t = dates.map({d: i for i, d in enumerate(dates.unique())}).to_numpy()
    rng = np.random.default_rng(seed)
    keep = rng.random(len(X)) > 0.05
    keep &= ~((asset >= 30) & (t < 30)) & ~((asset < 5) & (t > 60))
    keep &= ~((t == 45) & (asset > 1))
    industry = rng.integers(0, 3, n_assets)[asset]
    for j, name in enumerate(INDUSTRIES):
        X[name] = (industry == j).astype(float)
    X["sqrt_cap"] = np.sqrt(rng.lognormal(21, 1, n_assets))[asset]
    X, y = X[keep], y[keep]
    # make_factor_panel's index keeps every date and asset in its levels.
    return X, y


def date_slices(X, cuts):
    """The row masks of the date blocks between ``cuts`` (date positions)."""
    t = X.index.get_level_values("date")
    dates = t.unique().sort_values()
    bounds = [0, *cuts, len(dates)]
    return [
        (t >= dates[lo]) & (t <= dates[hi - 1])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        if hi > lo
    ]


def in_date_chunks(model, X, y, first, size, weight=None, pickled=True):
    """``fit`` on the first ``first`` dates, then ``partial_fit`` ``size`` dates
    at a time, through a pickle round trip between updates (a production job
    restarts)."""
    n = X.index.get_level_values("date").nunique()
    masks = date_slices(X, [first, *range(first + size, n, size)])
    for i, rows in enumerate(masks):
        kwargs = {} if weight is None else {"sample_weight": weight[rows]}
        if i and pickled:
            model = pickle.loads(pickle.dumps(model))
        getattr(model, "partial_fit" if i else "fit")(X[rows], y[rows], **kwargs)
        assert model.bse_.shape == model.params_.shape  # read, then updated
    return model


SUMMARIES = [
    {},
    {"cov_type": "kernel"},
    {"cov_type": "newey-west", "bandwidth": 3},
    {"cov_type": "kernel", "kernel": "parzen"},
    {"cov_type": "kernel", "kernel": "qs", "bandwidth": 4.5},
]


def assert_same_model(model, expected, X, y, weight=None):
    """Every fitted attribute, summary, prediction and risk input agrees."""
    pd.testing.assert_index_equal(model.params_.index, expected.params_.index)
    pd.testing.assert_index_equal(model.params_.columns, expected.params_.columns)
    for name in ("params_", "factor_returns_", "rsquared_", "nobs_"):
        assert_close(getattr(model, name).to_numpy(), getattr(expected, name))
    assert_close(model.coef_, expected.coef_)
    assert_close(model.intercept_, expected.intercept_)
    lazy, lazy_expected = lazy_results(model), lazy_results(expected)
    assert (
        lazy.keys()
        == lazy_expected.keys()
        == {
            "bse_",
            "tvalues_",
            "pvalues_",
            "diagnostics_",
        }
    )
    for name, value in lazy_expected.items():
        pd.testing.assert_index_equal(lazy[name].index, value.index)
        assert_close(lazy[name].to_numpy(), value.to_numpy())
    for kwargs in SUMMARIES:
        table, want = model.summary(**kwargs), expected.summary(**kwargs)
        assert_close(table.to_numpy(), want.to_numpy())
        assert table.header.keys() == want.header.keys()
        for key, value in want.header.items():
            if isinstance(value, float):
                assert_close(table.header[key], value)
            else:
                assert table.header[key] == value, key
    assert_close(model.predict(X).to_numpy(), expected.predict(X).to_numpy())
    assert_close(
        model.residuals(X, y, weight).to_numpy(),
        expected.residuals(X, y, weight).to_numpy(),
    )
    assert_close(model.score(X, y), expected.score(X, y))


MODEL_PARAMS = [
    {},
    {"expected_returns": "ewm", "halflife": 10.0},
    {"expected_returns": "window", "window": 30},
    {"industries": INDUSTRIES, "weights": "sqrt_cap"},
    {"industries": INDUSTRIES, "industry_weights": "equal", "condition_number": True},
    {"fit_intercept": False, "passthrough": INDUSTRIES + ["sqrt_cap"]},
]


def plain(params):
    """Without industries the 0/1 columns are collinear: pass them through."""
    if "industries" in params or "passthrough" in params:
        return params
    return {**params, "passthrough": INDUSTRIES + ["sqrt_cap"]}


@few_rows
@pytest.mark.parametrize("params", MODEL_PARAMS)
@pytest.mark.parametrize("size", CHUNKS)
def test_cross_sectional_model_partial_fit_equals_fit(params, size):
    X, y = loadings_panel()
    params = plain(params)
    expected = CrossSectionalFactorModel(**params).fit(X, y)
    first = 76 if size == 1 else 40
    model = in_date_chunks(CrossSectionalFactorModel(**params), X, y, first, size)
    assert_same_model(model, expected, X, y)


@few_rows
def test_cross_sectional_model_partial_fit_with_sample_weight_equals_fit():
    X, y = loadings_panel(seed=1)
    weight = X.pop("sqrt_cap")
    weight.iloc[::17] = 0.0  # rows left out
    params = {"industries": INDUSTRIES, "expected_returns": "ewm", "halflife": 5.0}
    expected = CrossSectionalFactorModel(**params).fit(X, y, sample_weight=weight)
    model = in_date_chunks(CrossSectionalFactorModel(**params), X, y, 50, 5, weight)
    assert_same_model(model, expected, X, y, weight)


@few_rows
@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.integers(1, N_DATES - 1), max_size=5, unique=True))
def test_cross_sectional_model_partial_fit_any_cut_points_equal_fit(cuts):
    X, y = loadings_panel()
    params = {"industries": INDUSTRIES, "expected_returns": "window", "window": 20}
    expected = CrossSectionalFactorModel(**params).fit(X, y)
    model = CrossSectionalFactorModel(**params)
    for rows in date_slices(X, sorted(cuts)):
        model.partial_fit(X[rows], y[rows])
    assert_close(model.params_.to_numpy(), expected.params_)
    assert_close(model.coef_, expected.coef_)
    assert_close(model.bse_.to_numpy(), expected.bse_)
    assert_close(model.summary("kernel").to_numpy(), expected.summary("kernel"))


@few_rows
def test_cross_sectional_model_partial_fit_first_call_is_fit():
    X, y = loadings_panel()
    params = {"industries": INDUSTRIES}
    model = CrossSectionalFactorModel(**params).partial_fit(X, y)
    expected = CrossSectionalFactorModel(**params).fit(X, y)
    pd.testing.assert_frame_equal(model.params_, expected.params_)
    pd.testing.assert_frame_equal(model.diagnostics_, expected.diagnostics_)


@few_rows
def test_cross_sectional_model_partial_fit_follows_the_other_parameters():
    """The expectation and the diagnostics are recomputed from the history:
    changing how (not what each date fits) gives the refit with the change."""
    X, y = loadings_panel()
    params = {"industries": INDUSTRIES}
    head, tail = date_slices(X, [60])
    model = CrossSectionalFactorModel(**params).fit(X[head], y[head])
    assert model.diagnostics_["condition_number"].isna().all()
    new = {"expected_returns": "window", "window": 10, "condition_number": True}
    model.set_params(**new).partial_fit(X[tail], y[tail])
    expected = CrossSectionalFactorModel(**params, **new).fit(X, y)
    assert_same_model(model, expected, X, y)
    del model.bse_  # read again: nothing new to compute
    assert_close(model.bse_.to_numpy(), expected.bse_)
    assert model.diagnostics_["condition_number"].notna().any()


@few_rows
def test_cross_sectional_model_partial_fit_appends_without_copying():
    """Updates write into the same buffer until it is full: ``params_`` (and
    the moments) of the dates already there are not copied on each update."""
    X, y = loadings_panel(missing=0.0)
    params = {"industries": INDUSTRIES, "passthrough": ["sqrt_cap"]}
    masks = date_slices(X, list(range(40, N_DATES)))
    model = CrossSectionalFactorModel(**params).fit(X[masks[0]], y[masks[0]])
    model.partial_fit(X[masks[1]], y[masks[1]])  # capacity 40 -> 80
    before = model.params_.to_numpy()
    for rows in masks[2:41]:
        model.partial_fit(X[rows], y[rows])
    assert len(model.params_) == 80
    assert np.shares_memory(model.params_.to_numpy(), before)
    state = pickle.dumps(model)
    model.partial_fit(X[masks[41]], y[masks[41]])  # 81 dates: the buffer doubles
    assert not np.shares_memory(model.params_.to_numpy(), before)
    # Pickled, only the dates fitted are stored (not the buffer's capacity).
    rows = date_slices(X, [80])[0]
    fresh = CrossSectionalFactorModel(**params).fit(X[rows], y[rows])
    assert abs(len(state) - len(pickle.dumps(fresh))) < 2000


@few_rows
def test_cross_sectional_model_partial_fit_warns_for_the_new_dates():
    X, y = loadings_panel()
    params = {"passthrough": INDUSTRIES + ["sqrt_cap"]}
    head, mid, tail = date_slices(X, [40, 50])
    model = CrossSectionalFactorModel(**params).fit(X[head], y[head])
    with pytest.warns(UserWarning, match=r"^1 of 10 dates could not be estimated"):
        model.partial_fit(X[mid], y[mid])  # date 45: two rows for four regressors
    assert np.isnan(model.params_.iloc[45]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(X[tail], y[tail])


def test_cross_sectional_model_partial_fit_one_cross_section_at_a_time():
    X, y = loadings_panel(n_dates=4, missing=0.0)
    X = X.drop(columns=INDUSTRIES + ["sqrt_cap"])
    expected = CrossSectionalFactorModel().fit(X, y)
    model = CrossSectionalFactorModel()
    for date in X.index.unique("date"):  # arrays: no dates, numbered on
        rows = X.index.get_level_values("date") == date
        model.partial_fit(X[rows].to_numpy(), y[rows].to_numpy())
    pd.testing.assert_index_equal(model.params_.index, pd.RangeIndex(4, name="date"))
    assert_close(model.params_.to_numpy(), expected.params_)
    assert_close(model.coef_, expected.coef_)
    with pytest.raises(ValueError, match="fitted on 4 of them"):
        model.residuals(X[rows].to_numpy(), y[rows].to_numpy())


@few_rows
def test_cross_sectional_model_partial_fit_rejects_bad_updates():
    X, y = loadings_panel()
    head, tail = date_slices(X, [60])
    overlap = date_slices(X, [55])[1]
    params = {"industries": INDUSTRIES, "weights": "sqrt_cap"}
    model = CrossSectionalFactorModel(**params).fit(X[head], y[head])
    state = pickle.dumps(model)
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        model.partial_fit(X[overlap], y[overlap])
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        model.partial_fit(X[head], y[head])  # the same dates again
    with pytest.raises(ValueError, match="feature names"):
        model.partial_fit(X[tail].rename(columns={"value": "book"}), y[tail])
    with pytest.raises(ValueError, match="yet now missing:\n- value"):
        model.partial_fit(X[tail].iloc[:, 1:], y[tail])
    with pytest.raises(ValueError, match="fitted on a .date, asset. panel but `X`"):
        one_date = X[tail].droplevel("date").iloc[:30]
        model.partial_fit(one_date, y[tail].droplevel("date").iloc[:30])
    with pytest.raises(ValueError, match="fitted with `sample_weight`"):
        plain_model = CrossSectionalFactorModel(industries=INDUSTRIES)
        plain_model.fit(X[head], y[head], sample_weight=X["sqrt_cap"][head])
        plain_model.partial_fit(X[tail], y[tail])
    with pytest.raises(ValueError, match="'halflife' parameter"):
        pickle.loads(state).set_params(halflife=-1.0).partial_fit(X[tail], y[tail])
    for change in (
        {"industry_weights": "equal"},
        {"weights": None, "passthrough": ["sqrt_cap"]},
        {"fit_intercept": False},
    ):
        changed = pickle.loads(state).set_params(**change)
        with pytest.raises(ValueError, match="changed since the model was fitted"):
            changed.partial_fit(X[tail], y[tail])
    # A refused update changes nothing: the model still updates to the refit.
    model.partial_fit(X[tail], y[tail])
    assert_same_model(model, CrossSectionalFactorModel(**params).fit(X, y), X, y)
    strings = X[head].rename(index=lambda d: f"d{d:%m%d}", level="date")
    model = CrossSectionalFactorModel(**params).fit(strings, y[head].values)
    later = X[tail].rename(index=lambda d: f"c{d:%m%d}", level="date")
    with pytest.raises(ValueError, match="sort after the fitted ones, as `fit`"):
        model.partial_fit(later, y[tail].values)


@few_rows
def test_cross_sectional_model_partial_fit_rejects_collinear_loadings_overall():
    """The collinearity check tests the pooled Gram matrix of every date."""
    X, y = loadings_panel(missing=0.0)
    X = X.drop(columns=INDUSTRIES + ["sqrt_cap"])
    head, tail = date_slices(X, [50])
    X["copy"] = X["value"] * 2.0
    model = CrossSectionalFactorModel()
    with pytest.raises(ValueError, match=r"`X` columns \['value', 'copy'\] are"):
        model.fit(X[head], y[head])
    X.loc[head, "copy"] += np.random.default_rng(0).normal(size=head.sum())
    model.fit(X[head], y[head])  # not collinear on the first dates
    model.partial_fit(X[tail], y[tail])  # collinear on the later dates only
    assert model.params_.iloc[50:].isna().all().all()


@few_rows
def test_cross_sectional_model_partial_fit_does_not_mutate_inputs():
    X, y = loadings_panel()
    weight = X["sqrt_cap"].copy()
    head, tail = date_slices(X, [60])
    X0, y0, w0 = X.copy(), y.copy(), weight.copy()
    model = CrossSectionalFactorModel(industries=INDUSTRIES, passthrough=["sqrt_cap"])
    model.fit(X[head], y[head], sample_weight=weight[head])
    model.partial_fit(X[tail], y[tail], sample_weight=weight[tail])
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_series_equal(weight, w0)


# ------------------------------------------------------------------- risk
def risk_panel():
    """No NaN loading (every date's loadings can be the exposures)."""
    X, y = loadings_panel(missing=0.0, n_assets=30)
    cap = X["sqrt_cap"].groupby(level="asset").first() ** 2
    return X, y, cap


# `structural` needs the exposures of every asset with residuals, which a
# cross-sectional model has only for the assets of the exposures' date.
REGIME = {"halflife": 40, "specific_regime_halflife": 15, "shrinkage": 0.1}


@few_rows
@pytest.mark.parametrize(
    ("params", "size"),
    [(RISK_PARAMS[0], 21), (REGIME, 5), (RISK_PARAMS[2], 1)],
)
def test_factor_risk_model_update_of_a_cross_sectional_model_equals_from_model(
    params, size
):
    X, y, cap = risk_panel()
    params = {**params, "market_cap": cap}
    model_params = {"industries": INDUSTRIES, "weights": "sqrt_cap"}
    refit = CrossSectionalFactorModel(**model_params).fit(X, y)
    expected = FactorRiskModel.from_model(refit, X, y, **params)
    first = 80 if size == 1 else 40
    masks = date_slices(X, [first, *range(first + size, N_DATES, size)])
    model = CrossSectionalFactorModel(**model_params)
    model.fit(X[masks[0]], y[masks[0]])
    risk = FactorRiskModel.from_model(model, X[masks[0]], y[masks[0]], **params)
    for rows in masks[1:]:
        risk = pickle.loads(pickle.dumps(risk))
        risk.update(X[rows], y[rows])
    for name in ("exposures", "factor_covariance", "specific_variance", "n_obs"):
        got, want = getattr(risk, name), getattr(expected, name)
        pd.testing.assert_index_equal(got.index, want.index)
        assert_close(got.to_numpy(), want.to_numpy())
    for name in ("factor_returns", "asset_returns"):
        pd.testing.assert_frame_equal(getattr(risk, name), getattr(expected, name))
    w = pd.Series(1.0 / len(risk.assets), index=risk.assets)
    got, want = risk.risk_decomposition(w), expected.risk_decomposition(w)
    assert_close(got.total_variance, want.total_variance)
    assert_close(got.factors.to_numpy(), want.factors.to_numpy())
    # The model itself advanced with the risk model: the refit's.
    assert_close(risk._updates.model.params_.to_numpy(), refit.params_)


@few_rows
def test_factor_risk_model_update_of_a_cross_sectional_model_rejects():
    X, y, cap = risk_panel()
    head, tail = date_slices(X, [60])
    model = CrossSectionalFactorModel(industries=INDUSTRIES, weights="sqrt_cap")
    model.fit(X[head], y[head])
    risk = FactorRiskModel.from_model(model, X[head], y[head])
    model.partial_fit(X[tail], y[tail])  # by hand: the risk model is behind
    with pytest.raises(ValueError, match="refit or updated since the risk model"):
        risk.update(X[tail], y[tail])
    model.fit(X[head], y[head])
    dates = X[head].index.unique("date")
    early = FactorRiskModel.from_model(model, X[head], y[head], date=dates[30])
    with pytest.raises(ValueError, match="loadings of a `date` before the last"):
        early.update(X[tail], y[tail])
    risk = FactorRiskModel.from_model(
        model, X[head], y[head], factor_covariance_estimator=FactorCovariance()
    )
    with pytest.raises(ValueError, match="first new date .* not after the last"):
        risk.update(X[head], y[head])
    # Neither the risk model nor its model advanced: the update still works.
    assert len(model.params_) == len(risk.factor_returns) == 60
    risk.update(X[tail], y[tail])
    assert len(model.params_) == len(risk.factor_returns) == N_DATES


def test_factor_risk_model_update_takes_sample_weight_only_cross_sectional():
    X, y = asset_returns(n_assets=8)
    model = TimeSeriesFactorModel().fit(X, y)
    risk = FactorRiskModel.from_model(model, X.iloc[:200], y.iloc[:200])
    with pytest.raises(ValueError, match="`sample_weight` applies to a risk model"):
        risk.update(X.iloc[200:], y.iloc[200:], sample_weight=pd.Series(1.0))


@few_rows
def test_cross_sectional_model_partial_fit_of_a_copy_leaves_the_original():
    """A shallow copy shares the history's buffers: updates of either, into
    their spare capacity, must not show in the other."""
    X, y = loadings_panel()
    params = {"industries": INDUSTRIES, "weights": "sqrt_cap"}
    cuts = date_slices(X, [40, 50, 55, 60, 65])
    model = CrossSectionalFactorModel(**params).fit(X[cuts[0]], y[cuts[0]])
    model.partial_fit(X[cuts[1]], y[cuts[1]])  # capacity 80: room for both
    _ = model.bse_  # the inference kept too
    copied = copy.copy(model)
    copied.partial_fit(X[cuts[2]], y[cuts[2]])
    model.partial_fit(X[cuts[3]], y[cuts[3]])
    copied.partial_fit(X[cuts[4]], y[cuts[4]])
    for got, blocks in ((model, (0, 1, 3)), (copied, (0, 1, 2, 4))):
        rows = np.logical_or.reduce([cuts[i] for i in blocks])
        expected = CrossSectionalFactorModel(**params).fit(X[rows], y[rows])
        assert_same_model(got, expected, X[rows], y[rows])
    deep = copy.deepcopy(model)
    deep.partial_fit(X[cuts[4]], y[cuts[4]])
    rows = np.logical_or.reduce([cuts[i] for i in (0, 1, 3, 4)])
    expected = CrossSectionalFactorModel(**params).fit(X[rows], y[rows])
    assert_same_model(deep, expected, X[rows], y[rows])
