"""Exposures, factor returns and residuals of a fitted model: its ``risk_inputs``.

What :class:`~skfactor.risk.FactorRiskModel` needs from a model, read where
the model keeps it (see the protocol in ``_protocol.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from skfactor.panel._validation import check_finite, validate_panel
from skfactor.panel._wide import check_fitted_assets, long_to_wide, validate_wide
from skfactor.utils._sklearn import check_is_fitted

__all__ = ["RiskInputs", "cross_sectional_risk_inputs", "time_series_risk_inputs"]


class RiskInputs(NamedTuple):
    r"""What a fitted model hands to the risk model (unpacks as ``B, F, E, R``).

    Attributes
    ----------
    exposures : DataFrame of shape (n_assets, n_factors)
        :math:`B`, indexed by asset, columns named ``factor``.
    factor_returns : DataFrame of shape (n_dates, n_factors)
        The factor returns whose covariance is :math:`\Sigma_F`.
    residuals : DataFrame of shape (n_dates, n_assets)
        Specific returns, whose variances are :math:`D` (NaN where missing).
    asset_returns : DataFrame of shape (n_dates, n_assets)
        The returns of the exposures' assets.

    Examples
    --------
    >>> from skfactor import CrossSectionalFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> panel = make_factor_panel(n_dates=40, n_assets=30, random_state=0)
    >>> model = CrossSectionalFactorModel().fit(panel.X, panel.y)
    >>> inputs = model.risk_inputs(panel.X, panel.y)  # the last date's loadings
    >>> list(inputs.exposures.columns)
    ['const', 'value', 'size', 'momentum']
    >>> inputs.residuals.shape, inputs.factor_returns.shape
    ((40, 30), (40, 4))
    """

    exposures: pd.DataFrame
    factor_returns: pd.DataFrame
    residuals: pd.DataFrame
    asset_returns: pd.DataFrame


def _check_exposures(B, where):
    bad = B.index[B.isna().any(axis=1).to_numpy()]
    if len(bad):
        raise ValueError(
            f"{len(bad)} asset(s) have no exposure ({where}), e.g. "
            f"{bad[:5].tolist()}; the risk model needs every asset's exposures. "
            "Drop those assets (or fill their loadings) and refit."
        )
    return B


def time_series_risk_inputs(model, X, y, date):
    """:class:`RiskInputs` of a fitted TimeSeriesFactorModel and its ``(X, y)``."""
    check_is_fitted(model)
    if date is not None:
        raise ValueError(
            "`date` applies to a CrossSectionalFactorModel, whose exposures change "
            "by date; a TimeSeriesFactorModel has one beta per asset. Leave `date` "
            "as None."
        )
    if X is None or y is None:
        raise ValueError(
            "Pass the factor returns `X` and the asset returns `y` the "
            "TimeSeriesFactorModel was fitted on (the model does not store them); "
            "they give the factor covariance and the residuals."
        )
    wide = validate_wide(model, X, y, reset=False, names=("X", "y"))
    check_fitted_assets(model, y, wide)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(model.n_features_in_)]
    factors = pd.Index(list(names), name="factor")
    dates = wide.dates if wide.dates is not None else pd.RangeIndex(len(wide.F))
    assets = model.assets_
    B = pd.DataFrame(model.coef_, index=assets, columns=factors)
    _check_exposures(B, "NaN coefficients: too few dates or collinear factors")
    F = pd.DataFrame(wide.F, index=dates, columns=factors)
    resid = wide.R - model._fitted(wide.F)  # model.residuals(X, y), validated once
    E = pd.DataFrame(resid, index=dates, columns=assets)
    R = pd.DataFrame(wide.R, index=dates, columns=assets)
    return RiskInputs(B, F, E, R)


def _wide(index, values):
    """Pivot a (date, asset) Series' values to (dates, assets) without a groupby."""
    wide, dates, assets, _ = long_to_wide(index, values)
    return pd.DataFrame(wide, index=dates, columns=assets)


def cross_sectional_risk_inputs(model, X, y, date):
    """:class:`RiskInputs` of a fitted CrossSectionalFactorModel and its ``(X, y)``."""
    check_is_fitted(model)
    panel = validate_panel(model, X, reset=False, needs_keys=False)
    if panel.dates is None or y is None:
        raise ValueError(
            "Specific variances need each asset's residual history: pass the "
            "(date, asset) panels of loadings `X` and returns `y` (those of `fit`, "
            "optionally with later dates); `date` picks the exposures' date."
        )
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series) or not y.index.equals(panel.index):
        raise ValueError(
            "`y` must be a Series of returns on `X`'s index (same rows, same "
            "order); align it first, e.g. `y.reindex(X.index)`."
        )
    code = len(panel.dates) - 1
    if date is not None:
        code = panel.dates.get_indexer([date])[0]
        if code < 0:
            raise ValueError(
                f"`date` {date!r} is not a date of `X`; its dates run from "
                f"{panel.dates[0]!r} to {panel.dates[-1]!r}."
            )
    rows = panel.date_codes == code
    assets = panel.index[rows].get_level_values(1)
    factors = pd.Index(list(model.factor_returns_.columns), name="factor")
    features = model._roles(panel, X).features  # not its weights or passthrough
    B = pd.DataFrame(panel.values[rows][:, features], index=assets, columns=factors)
    F = model.params_.copy()
    if model.fit_intercept:
        B.insert(0, "const", 1.0)
    F.columns = B.columns = pd.Index(list(B.columns), name="factor")
    _check_exposures(B, "NaN loadings on the exposure date")
    # Every asset with residuals (the estimation universe) stays in: the median
    # that short histories shrink to is taken over it, not over one date's assets.
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(values, "y")
    # model.residuals(X, y) on the panel already validated (no second copy of X)
    E = _wide(panel.index, model._residuals(panel, values))
    new = assets[~assets.isin(E.columns)]
    if len(new):
        E = E.reindex(columns=E.columns.append(new.unique()))
    R = _wide(panel.index, values).reindex(columns=assets)
    return RiskInputs(B, F, E, R)
