"""Read exposures, factor returns and residuals off a fitted factor model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.models._wide_model import check_fitted_assets
from skfactor.panel import validate_panel, validate_wide
from skfactor.panel._validation import check_finite, date_codes
from skfactor.utils._sklearn import check_is_fitted

__all__ = ["from_cross_sectional", "from_time_series"]


def _check_exposures(B, where):
    bad = B.index[B.isna().any(axis=1).to_numpy()]
    if len(bad):
        raise ValueError(
            f"{len(bad)} asset(s) have no exposure ({where}), e.g. "
            f"{bad[:5].tolist()}; the risk model needs every asset's exposures. "
            "Drop those assets (or fill their loadings) and refit."
        )
    return B


def from_time_series(model, X, y, date):
    """(B, F, residuals, R) of a fitted TimeSeriesFactorModel and its ``(X, y)``."""
    check_is_fitted(model)
    if date is not None:
        raise ValueError(
            "`date` applies to a CrossSectionalFactorModel, whose exposures change "
            "by date; a TimeSeriesFactorModel has one beta per asset. Leave `date` "
            "as None."
        )
    if X is None:
        raise ValueError(
            "Pass the factor returns `X` the TimeSeriesFactorModel was fitted on "
            "(the model does not store them); they give the factor covariance."
        )
    wide = validate_wide(model, X, y, reset=False, names=("X", "y"))
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(model.n_features_in_)]
    factors = pd.Index(list(names), name="factor")
    dates = wide.dates if wide.dates is not None else pd.RangeIndex(len(wide.F))
    assets = model.assets_
    B = pd.DataFrame(model.coef_, index=assets, columns=factors)
    _check_exposures(B, "NaN coefficients: too few dates or collinear factors")
    F = pd.DataFrame(wide.F, index=dates, columns=factors)
    resid = model.resid_
    E = pd.DataFrame(
        np.asarray(resid, dtype=np.float64).reshape(len(resid), -1),
        index=resid.index if isinstance(resid, pd.Series | pd.DataFrame) else None,
        columns=assets,
    )
    R = None
    if wide.R is not None:
        check_fitted_assets(model, y, wide)
        R = pd.DataFrame(wide.R, index=dates, columns=assets)
    return B, F, E, R


def _wide(index, values):
    """Pivot a (date, asset) Series' values to (dates, assets) without a groupby."""
    codes, dates = date_codes(index)
    assets = index.levels[1]
    out = np.full((len(dates), len(assets)), np.nan)
    out[codes, np.asarray(index.codes[1])] = values
    return pd.DataFrame(out, index=dates, columns=assets)


def from_cross_sectional(model, X, y, date):
    """(B, F, residuals, R) of a fitted CrossSectionalFactorModel and its ``(X, y)``."""
    check_is_fitted(model)
    if not isinstance(model.resid_, pd.Series) or not isinstance(
        model.resid_.index, pd.MultiIndex
    ):
        raise ValueError(
            "Specific variances need each asset's residual history, but the "
            "CrossSectionalFactorModel was fitted on one cross-section (no (date, "
            "asset) index). Fit it on a panel."
        )
    panel = validate_panel(model, X, reset=False)
    if panel.dates is None:
        if date is not None:
            raise ValueError(
                "`date` selects a date of a (date, asset) panel `X`; `X` is one "
                "cross-section. Leave `date` as None."
            )
        if panel.index is None:
            raise ValueError(
                "`X` must be a DataFrame indexed by asset (or a (date, asset) "
                "panel) so that the exposures are labelled by asset."
            )
        rows = np.ones(len(panel.values), dtype=bool)
        assets = panel.index
    else:
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
    B = pd.DataFrame(panel.values[rows], index=assets, columns=factors)
    F = model.factor_returns_.copy()
    if model.fit_intercept:
        B.insert(0, "const", 1.0)
        F.insert(0, "const", model.intercept_.to_numpy())
    F.columns = B.columns = pd.Index(list(B.columns), name="factor")
    _check_exposures(B, "NaN loadings on the exposure date")
    # Every asset with residuals (the estimation universe) stays in: the median
    # that short histories shrink to is taken over it, not over one date's assets.
    E = _wide(model.resid_.index, model.resid_.to_numpy())
    new = assets[~assets.isin(E.columns)]
    if len(new):
        E = E.reindex(columns=E.columns.append(new.unique()))
    R = None
    if y is not None:
        if panel.dates is None:
            raise ValueError(
                "`y` gives the return history for the hedged returns; pass the "
                "(date, asset) panels `X` and `y`, not one cross-section."
            )
        if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
            y = y.iloc[:, 0]
        if not isinstance(y, pd.Series) or not y.index.equals(panel.index):
            raise ValueError(
                "`y` must be a Series of returns on `X`'s index (same rows, same "
                "order); align it first, e.g. `y.reindex(X.index)`."
            )
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        check_finite(values, "y")
        R = _wide(panel.index, values).reindex(columns=assets)
    return B, F, E, R
