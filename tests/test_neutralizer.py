"""CrossSectionalNeutralizer against one statsmodels WLS per date and characteristic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalNeutralizer,
    CrossSectionalZScore,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.model_selection import PanelTimeSeriesSplit
from tests.conftest import shuffled

CHARS = ["value", "momentum"]


def _panel(seed=0, missing_rows=0.2, n_dates=8, n_assets=40):
    """Characteristics with holes, two exposures, a weight and an industry."""
    data = make_factor_panel(
        n_dates=n_dates,
        n_assets=n_assets,
        missing_rows=missing_rows,
        missing_values=0.08,
        random_state=seed,
    )
    X = data.X[CHARS].copy()
    rng = np.random.default_rng(seed)
    X["lcap"] = rng.normal(size=len(X))
    X["beta"] = rng.normal(1.0, 0.3, size=len(X))
    X.loc[X.index[::17], "beta"] = np.nan
    X["w"] = rng.uniform(0.5, 2.0, size=len(X))
    X["ind"] = rng.choice(["tech", "energy", "banks", "retail"], size=len(X))
    return shuffled(X, seed), data.y


def _slow(X, char, exposures, groups=None, weights=None):
    """statsmodels WLS residuals, one regression per date."""
    out = pd.Series(np.nan, index=X.index)
    for _, g in X.groupby(level=0):
        sub = g.dropna(subset=[char, *exposures])
        if len(sub) == 0:
            continue
        D = sub[exposures].astype(float)
        if groups is not None:
            D = pd.concat([D, pd.get_dummies(sub[groups], dtype=float)], axis=1)
        else:
            D = sm.add_constant(D, has_constant="add")
        w = np.ones(len(sub)) if weights is None else sub[weights]
        out[sub.index] = sm.WLS(sub[char], D, weights=w).fit().resid
    return out


CASES = [
    dict(exposures=["lcap", "beta"], weights="w", passthrough=["ind"]),
    dict(exposures=["lcap"], passthrough=["ind", "w", "beta"]),
    dict(groups="ind", exposures=["lcap", "beta"], weights="w"),
    dict(groups="ind", exposures=["lcap"], passthrough=["w", "beta"]),
    dict(groups="ind", passthrough=["lcap", "beta", "w"]),
]


@pytest.mark.parametrize("missing_rows", [0.0, 0.2])
@pytest.mark.parametrize("params", CASES, ids=range(len(CASES)))
def test_neutralizer_equals_statsmodels_wls_per_date(params, missing_rows):
    X, _ = _panel(missing_rows=missing_rows)
    Z = CrossSectionalNeutralizer(**params).fit_transform(X)
    assert Z.index.equals(X.index) and Z.columns.equals(X.columns)
    for char in CHARS:
        expected = _slow(
            X, char, params.get("exposures", []), params.get("groups"),
            params.get("weights"),
        )  # fmt: skip
        np.testing.assert_allclose(Z[char], expected, rtol=1e-10, atol=1e-10)
    others = [c for c in X.columns if c not in CHARS]
    pd.testing.assert_frame_equal(Z[others], X[others])


def test_neutralizer_equals_statsmodels_on_sp500():
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-80:]
    returns = prices.pct_change()
    X = pd.DataFrame(
        {
            "momentum": prices.pct_change(20).stack(),
            "volatility": returns.rolling(20).std().stack(),
            "lprice": np.log(prices).stack(),
            "beta": returns.rolling(20).corr(returns.mean(axis=1)).stack(),
        }
    ).dropna(how="all")
    X.index.names = ["date", "asset"]
    sectors = {a: i % 4 for i, a in enumerate(prices.columns)}
    X["sector"] = X.index.get_level_values("asset").map(sectors).astype(float)
    params = dict(groups="sector", exposures=["lprice", "beta"])
    Z = CrossSectionalNeutralizer(**params).fit_transform(X)
    for char in ("momentum", "volatility"):
        expected = _slow(X, char, ["lprice", "beta"], "sector")
        np.testing.assert_allclose(Z[char], expected, rtol=1e-10, atol=1e-10)


def test_neutralizer_groups_alone_is_demeaning_within_groups():
    X, _ = _panel()
    Z = CrossSectionalNeutralizer(
        groups="ind", passthrough=["lcap", "beta", "w"]
    ).fit_transform(X)
    keys = [X.index.get_level_values(0), X["ind"]]
    expected = X[CHARS] - X[CHARS].groupby(keys).transform("mean")
    np.testing.assert_allclose(Z[CHARS], expected, rtol=1e-12, atol=1e-12)


def test_neutralizer_alone_demeans_by_date():
    X, _ = _panel()
    X = X[CHARS]
    Z = CrossSectionalNeutralizer().fit_transform(X)
    expected = X - X.groupby(level=0).transform("mean")
    np.testing.assert_allclose(Z, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_neutralizer_residuals_orthogonal_to_exposures_every_date(seed):
    # Property: X'We = 0 on each date for the exposures, the group dummies
    # and (without groups) the constant.
    X, _ = _panel(seed=seed)
    for groups in (None, "ind"):
        Z = CrossSectionalNeutralizer(
            groups=groups, exposures=["lcap", "beta"], weights="w",
            passthrough=None if groups else ["ind"],
        ).fit_transform(X)  # fmt: skip
        for char in CHARS:
            e = Z[char]
            ok = e.notna()
            we = (X["w"] * e)[ok]
            date = X.index.get_level_values(0)[ok]
            for expo in ("lcap", "beta"):
                moment = (we * X.loc[ok, expo]).groupby(date).sum()
                assert moment.abs().max() < 1e-10
            key = [date] if groups is None else [date, X.loc[ok, "ind"]]
            assert we.groupby(key).sum().abs().max() < 1e-10


def test_neutralizer_rows_without_group_or_exposure_are_nan():
    X, _ = _panel()
    X.loc[X.index[:3], "ind"] = np.nan
    Z = CrossSectionalNeutralizer(
        groups="ind", exposures=["lcap", "beta"], passthrough=["w"]
    ).fit_transform(X)
    assert Z[CHARS].iloc[:3].isna().all().all()
    assert Z.loc[X["beta"].isna(), CHARS].isna().all().all()
    assert Z.loc[X["value"].isna(), "value"].isna().all()


def test_neutralizer_rank_deficient_date_is_nan():
    X, _ = _panel(missing_rows=0.0)
    first = X.index.get_level_values(0) == X.index.get_level_values(0).min()
    X.loc[first, "beta"] = 2.0 * X.loc[first, "lcap"]  # collinear that date
    Z = CrossSectionalNeutralizer(
        exposures=["lcap", "beta"], passthrough=["ind", "w"]
    ).fit_transform(X)
    assert Z.loc[first, CHARS].isna().all().all()
    assert Z.loc[~first, CHARS].notna().any().all()


def test_neutralizer_refuses_exposure_twice_and_negative_weights():
    X, _ = _panel()
    with pytest.raises(ValueError, match="must name different columns"):
        CrossSectionalNeutralizer(
            exposures=["lcap"], weights="lcap", passthrough=["ind"]
        ).fit_transform(X)
    X["w"] = -X["w"]
    with pytest.raises(ValueError, match="negative values"):
        CrossSectionalNeutralizer(weights="w", passthrough=["ind"]).fit_transform(X)


def test_neutralizer_set_output_polars_keeps_keys():
    pytest.importorskip("polars")
    X, _ = _panel()
    est = CrossSectionalNeutralizer(groups="ind", exposures=["lcap"]).set_output(
        transform="polars"
    )
    out = est.fit_transform(X.drop(columns=["beta", "w"]))
    assert out.columns[:2] == ["date", "asset"]


def test_neutralizer_in_pipeline_and_grid_search():
    X, y = _panel(missing_rows=0.0, n_dates=30, n_assets=60)
    X = X.sort_index()
    y = y.reindex(X.index).fillna(0.0)
    pipe = make_pipeline(
        CrossSectionalNeutralizer(
            groups="ind", exposures=["lcap"], passthrough=["beta", "w"]
        ),
        Winsorizer(passthrough=["ind", "lcap", "beta", "w"]),
        CrossSectionalZScore(passthrough=["ind", "lcap", "beta", "w"]),
        CrossSectionalFactorModel(passthrough=["ind", "lcap", "beta", "w"]),
    )
    pred = pipe.fit(X, y).predict(X)
    assert pred.index.equals(X.index)
    grid = GridSearchCV(
        pipe,
        {"crosssectionalneutralizer__exposures": [["lcap"], None]},
        cv=PanelTimeSeriesSplit(n_splits=2),
    )
    grid.fit(X, y)
    assert grid.best_params_["crosssectionalneutralizer__exposures"] in (["lcap"], None)
