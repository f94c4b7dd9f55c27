"""The fitting protocol (skfactor/models/_protocol.py) and who may use what.

Outside ``skfactor/models`` a model is used through its public methods and
attributes only: the block protocol (``fit_block``/``combine_blocks``) and
``risk_inputs``. The scan below fails on any ``obj._name`` where ``_name`` is
an underscore attribute or method a model class defines.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skfactor import (
    CrossSectionalFactorModel,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
)
from skfactor.datasets import make_factor_panel
from skfactor.risk import FactorRiskModel
from tests.conftest import fitted_state

PACKAGE = Path(__file__).resolve().parents[1] / "skfactor"


def _trees(folder=None):
    root = PACKAGE if folder is None else PACKAGE / folder
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(PACKAGE), ast.parse(path.read_text(encoding="utf-8"))


def _model_private_names():
    """Underscore names the model classes define (``def _x``, ``self._x = ...``)."""
    names = set()
    for _, tree in _trees("models"):
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = node.name
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                ):
                    name = node.attr
                else:
                    continue
                if name.startswith("_") and not name.startswith("__"):
                    names.add(name)
    return names


def test_protocol_private_names_are_found():
    names = _model_private_names()
    # A scan that found nothing would pass vacuously.
    assert {"_single", "_fitted", "_residuals", "_fit_partition"} <= names


def test_protocol_no_module_outside_models_touches_a_model_private():
    private = _model_private_names()
    found = []
    for path, tree in _trees():
        if path.parts[0] == "models":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in {"self", "cls"}
                )
            ):
                found.append(f"{path}:{node.lineno} .{node.attr}")
        for node in ast.walk(tree):  # getattr(model, "_x") / setattr(...)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in private
            ):
                found.append(
                    f"{path}:{node.lineno} {node.func.id} {node.args[1].value}"
                )
    assert not found, found


@pytest.mark.parametrize("folder", ["dask", "risk"])
def test_protocol_dask_and_risk_import_only_public_model_names(folder):
    import skfactor.models

    public = set(skfactor.models.__all__)
    found = []
    for path, tree in _trees(folder):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "skfactor.models"
            ):
                names = [a.name for a in node.names]
                if node.module != "skfactor.models" or not set(names) <= public:
                    found.append((str(path), node.module, names))
            elif isinstance(node, ast.Import):
                found += [
                    (str(path), a.name, [])
                    for a in node.names
                    if a.name.startswith("skfactor.models.")
                ]
    assert not found, found


# ------------------------------------------------------------------ blocks


@pytest.fixture(scope="module")
def wide():
    d = make_factor_panel(
        n_dates=60, n_assets=13, missing_rows=0.1, missing_values=0.02, random_state=4
    )
    return d.factor_returns, d.y.unstack("asset")


def _asset_blocks(model, F, R, size, complete_dates=None):
    return [
        model.fit_block(F, R.iloc[:, j : j + size], complete_dates=complete_dates)
        for j in range(0, R.shape[1], size)
    ]


def _same_attributes(got, expected):
    got, expected = fitted_state(got), fitted_state(expected)
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        value = got[name]
        if isinstance(want, pd.DataFrame | pd.Series | pd.Index):
            assert type(value) is type(want), name
            if isinstance(want, pd.Index):
                pd.testing.assert_index_equal(value, want)
            elif isinstance(want, pd.DataFrame):
                pd.testing.assert_frame_equal(value, want, rtol=1e-10, atol=1e-14)
            else:
                pd.testing.assert_series_equal(value, want, rtol=1e-10, atol=1e-14)
        elif isinstance(want, np.ndarray) and want.dtype == object:
            np.testing.assert_array_equal(value, want)
        elif isinstance(want, np.ndarray):
            np.testing.assert_allclose(value, want, rtol=1e-10, atol=1e-14)
        elif name != "_grs":
            assert value == want, name


@pytest.mark.parametrize("params", [{}, {"cov_type": "HAC", "maxlags": 2}])
def test_time_series_model_combined_blocks_equal_one_fit(wide, params):
    F, R = wide
    expected = TimeSeriesFactorModel(**params).fit(F, R)
    blocks = _asset_blocks(TimeSeriesFactorModel(**params), F, R, 5)
    got = TimeSeriesFactorModel(**params).combine_blocks(blocks)
    _same_attributes(got, expected)
    pd.testing.assert_frame_equal(got.predict(F), expected.predict(F))


def test_time_series_model_combined_blocks_carry_the_grs_test():
    d = make_factor_panel(n_dates=50, n_assets=9, random_state=5)
    F, R = d.factor_returns.copy(), d.y.unstack("asset")
    F.iloc[3, 0] = np.nan
    R.iloc[7, 2] = np.nan
    model = TimeSeriesFactorModel()
    expected = model.fit(F, R).grs_
    assert np.isfinite(expected.statistic)
    complete = F.notna().all(axis=1) & R.notna().all(axis=1)
    blocks = _asset_blocks(model, F, R, 4, complete_dates=complete.to_numpy())
    got = TimeSeriesFactorModel().combine_blocks(blocks).grs_
    np.testing.assert_allclose(tuple(got), tuple(expected), rtol=1e-10)
    assert (got.df_num, got.df_denom) == (expected.df_num, expected.df_denom)
    # Without the complete dates a defined test cannot be formed: said, not NaN.
    with pytest.raises(ValueError, match="complete_dates"):
        TimeSeriesFactorModel().combine_blocks(_asset_blocks(model, F, R, 4))


def test_time_series_model_blocks_warn_once_when_combined(wide):
    F, R = wide
    R = R.copy()
    R.iloc[3:, 0] = np.nan  # one asset with 3 dates: no estimate
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a block warns nothing
        blocks = _asset_blocks(TimeSeriesFactorModel(), F, R, 5)
    with pytest.warns(UserWarning, match="1 of 13 assets have at most"):
        TimeSeriesFactorModel().combine_blocks(blocks)


def test_cross_sectional_model_combined_date_blocks_equal_one_fit():
    d = make_factor_panel(n_dates=30, n_assets=25, missing_values=0.05, random_state=2)
    dates = d.X.index.get_level_values("date")
    cut = dates.unique()[[0, 11, 20, 30 - 1]]
    model = CrossSectionalFactorModel()
    blocks = [
        model.fit_block(
            d.X[(dates >= a) & (dates < b)], d.y[(dates >= a) & (dates < b)]
        )
        for a, b in zip(
            cut[:-1], [*cut[1:-1], dates.max() + pd.Timedelta(1, "D")], strict=True
        )
    ]
    got = CrossSectionalFactorModel().combine_blocks(blocks)
    expected = CrossSectionalFactorModel().fit(d.X, d.y)
    pd.testing.assert_frame_equal(got.params_, expected.params_, rtol=1e-12)
    pd.testing.assert_frame_equal(got.summary(), expected.summary(), rtol=1e-12)


def test_quantile_portfolio_combined_date_blocks_equal_one_fit():
    d = make_factor_panel(n_dates=20, n_assets=30, random_state=1)
    dates = d.X.index.get_level_values("date")
    early = dates < dates.unique()[9]
    model = QuantilePortfolioFactor()
    blocks = [model.fit_block(d.X[m], d.y[m]) for m in (early, ~early)]
    got = QuantilePortfolioFactor().combine_blocks(blocks)
    expected = QuantilePortfolioFactor().fit(d.X, d.y)
    pd.testing.assert_frame_equal(got.factor_returns_, expected.factor_returns_)


def test_time_series_model_block_refuses_a_date_block():
    with pytest.raises(ValueError, match="blocks of assets"):
        TimeSeriesFactorModel().combine_blocks([object()])


# -------------------------------------------------------------------- risk


def test_time_series_model_risk_inputs_are_what_the_risk_model_uses(wide):
    F, R = wide
    model = TimeSeriesFactorModel().fit(F, R)
    inputs = model.risk_inputs(F, R)
    pd.testing.assert_frame_equal(
        inputs.residuals, model.residuals(F, R), check_names=False
    )
    np.testing.assert_array_equal(inputs.exposures.to_numpy(), model.coef_)
    risk = FactorRiskModel.from_model(model, F, R, min_obs=5)
    pd.testing.assert_frame_equal(risk.exposures, inputs.exposures)


def test_cross_sectional_model_risk_inputs_are_its_loadings_and_residuals():
    d = make_factor_panel(n_dates=30, n_assets=25, random_state=2)
    model = CrossSectionalFactorModel().fit(d.X, d.y)
    inputs = model.risk_inputs(d.X, d.y)
    last = d.X.xs(d.X.index.get_level_values(0).max(), level=0)
    np.testing.assert_array_equal(
        inputs.exposures.drop(columns="const").to_numpy(), last.to_numpy()
    )
    want = model.residuals(d.X, d.y).unstack("asset")
    np.testing.assert_allclose(
        inputs.residuals.to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-15
    )


class _RollingWithMoments(RollingFactorModel):
    """A rolling model that keeps a (date, asset, k) array, as lazy inference may."""

    def fit(self, X, y):
        super().fit(X, y)
        shape = (len(self.dates_), len(self.assets_), -1)
        self._moments = 2.0 * self.params_.to_numpy().reshape(shape)
        return self


# The second keeps a (date, asset, k) array: a window attribute too.
@pytest.mark.parametrize("cls", [RollingFactorModel, _RollingWithMoments])
def test_rolling_model_combined_blocks_equal_one_fit_and_predict(wide, cls):
    F, R = wide
    expected = cls(window=15).fit(F, R)
    got = cls(window=15).combine_blocks(_asset_blocks(cls(window=15), F, R, 4))
    _same_attributes(got, expected)
    pd.testing.assert_frame_equal(got.predict(F), expected.predict(F))
