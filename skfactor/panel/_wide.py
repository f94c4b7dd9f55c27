"""Wide (date x factor, date x asset) frames: their validation and the pivot to them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_array

from skfactor.panel._output import is_polars_frame, wide_from_polars
from skfactor.panel._validation import (
    check_finite,
    check_not_dask,
    check_numeric_columns,
    date_codes,
    has_value,
)
from skfactor.utils._sklearn import validate_data

__all__ = [
    "WideData",
    "check_fitted_assets",
    "check_wide_frame",
    "long_to_wide",
    "validate_wide",
    "wide_values",
]


@dataclass(frozen=True)
class WideData:
    """Validated wide inputs: factor returns F and (optionally) asset returns R.

    ``F`` is float64 of shape (n_dates, n_factors); ``R`` float64 of shape
    (n_dates, n_assets) (a Series or 1-D array becomes one column), NaN kept.
    ``dates`` is F's index (or None for arrays), ``assets`` R's column labels
    (a Series' name, or ``0..n_assets-1``), ``single`` whether R was 1-D.
    Made by :func:`validate_wide`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> from skfactor.panel._wide import validate_wide
    >>> F = pd.DataFrame({"MKT": [0.01, -0.02]}, pd.date_range("2024-01-01", periods=2))
    >>> wide = validate_wide(BaseEstimator(), F, F["MKT"].rename("A"), reset=True)
    >>> wide.F.shape, wide.R.shape, wide.assets.tolist(), wide.single
    ((2, 1), (2, 1), ['A'], True)
    """

    F: np.ndarray
    R: np.ndarray | None
    dates: pd.Index | None
    assets: pd.Index | None
    single: bool = False


def _check_factor_table(F, name):
    """Raise if the factor returns are one series: a date x factor table is needed."""
    if isinstance(F, pd.Series):
        factor = F.name if F.name is not None else "the factor"
        raise ValueError(
            f"`{name}` is a Series ({factor!r}), but the factor returns must be a "
            "DataFrame of shape (n_dates, n_factors), one column per factor. For "
            f"one factor pass `{name}.to_frame()`."
        )
    if isinstance(F, np.ndarray) and F.ndim == 1:
        raise ValueError(
            f"`{name}` is a 1-D array, but the factor returns must be 2-D, of "
            "shape (n_dates, n_factors). Reshape your data: for one factor "
            f"pass `{name}.reshape(-1, 1)`."
        )


def check_wide_frame(X: pd.DataFrame, name: str) -> None:
    """Raise if the DataFrame ``X`` is a long (date, asset) panel, not a wide frame."""
    if isinstance(X.index, pd.MultiIndex):
        raise ValueError(
            f"`{name}` has a (date, asset) MultiIndex, but a wide frame indexed by "
            f"date is needed; pivot it first, e.g. `{name}.unstack()`."
        )


def wide_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The float64 values of a wide DataFrame (date x column); NaN kept, ±inf refused.

    The check of the wide inputs of the risk module (factor returns, residuals,
    exposures); the models' wide inputs go through :func:`validate_wide`.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"`{name}` must be a DataFrame of shape (n_dates, n_columns) indexed by "
            f"date; got {type(frame).__name__}."
        )
    check_wide_frame(frame, name)
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(values, name, frame.columns)
    return values


def long_to_wide(
    index: pd.MultiIndex, values: np.ndarray
) -> tuple[np.ndarray, pd.Index, pd.Index, tuple[np.ndarray, np.ndarray]]:
    """Pivot the per-row ``values`` of a (date, asset) index to a date x asset array.

    ``values`` of shape (n_rows,) or (n_rows, k): k columns pivot at once.

    Returns
    -------
    wide : ndarray of shape (n_dates, n_assets) or (n_dates, n_assets, k)
        NaN where an asset has no row on a date.
    dates : Index
        The sorted dates (rows of ``wide``).
    assets : Index
        The index's asset level (columns of ``wide``).
    rows : tuple of two ndarray
        Each row's (date, asset) position: ``wide[rows]`` is ``values``.
    """
    codes, dates = date_codes(index)
    assets = index.levels[1]
    rows = (codes, np.asarray(index.codes[1], dtype=np.intp))
    wide = np.full((len(dates), len(assets), *np.shape(values)[1:]), np.nan)
    wide[rows] = values
    return wide, dates, assets, rows


def _check_model_frame(X, name):
    if isinstance(X, pd.DataFrame):
        check_numeric_columns(X, name)
        check_wide_frame(X, name)
        if not X.index.is_unique:
            raise ValueError(
                f"`{name}` has duplicated dates in its index; each date may appear "
                "once. Drop or aggregate the duplicates first."
            )


def validate_wide(
    estimator,
    F,
    R=None,
    *,
    reset,
    names=("F", "R"),
    require_R=False,
    sorted_dates=False,
):
    """Validate factor returns ``F`` and asset returns ``R`` of a time-series model.

    Sets ``n_features_in_`` / ``feature_names_in_`` from ``F`` when ``reset``.
    A polars frame's date column (found by name) is its index, not a column.
    Both may hold NaN (a missing observation); ±inf is an error. When both are
    pandas objects their indexes must be equal (same dates, same order).
    ``names`` are the parameter names the error messages use for ``F`` and ``R``
    (e.g. ``("X", "y")`` for an estimator whose ``fit`` takes ``(X, y)``).
    With ``require_R`` (in ``fit``), ``R`` must be given and hold at least one
    non-NaN value. With ``sorted_dates`` (rolling windows run over consecutive
    rows), a pandas ``F`` must have an increasing index.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> from skfactor.panel._wide import validate_wide
    >>> dates = pd.date_range("2024-01-01", periods=3)
    >>> F = pd.DataFrame({"MKT": [0.01, -0.02, 0.03]}, index=dates)
    >>> R = pd.DataFrame({"A": [0.02, -0.01, 0.04]}, index=dates[::-1])
    >>> validate_wide(BaseEstimator(), F, R, reset=True, names=("X", "y"))
    Traceback (most recent call last):
    ...
    ValueError: `X` and `y` have different indexes; they must list the same dates ...
    """
    nf, nr = names
    check_not_dask(F, nf)
    check_not_dask(R, nr)
    if is_polars_frame(F):
        F = wide_from_polars(F, nf)  # its date column, by name, is the index
    if is_polars_frame(R):
        R = wide_from_polars(R, nr)
    _check_factor_table(F, nf)
    _check_model_frame(F, nf)
    if (
        sorted_dates
        and isinstance(F, pd.DataFrame)
        and not F.index.is_monotonic_increasing
    ):
        raise ValueError(
            f"`{nf}` must be sorted by date (increasing index): a rolling window "
            f"runs over consecutive rows. Sort it first, e.g. `{nf}.sort_index()` "
            f"(and `{nr}` the same way)."
        )
    Fv = validate_data(
        estimator, F, reset=reset, dtype=np.float64, ensure_all_finite=False
    )
    check_finite(Fv, nf, F.columns if isinstance(F, pd.DataFrame) else None)
    dates = F.index if isinstance(F, pd.DataFrame) else None
    if R is None:
        if require_R:
            raise ValueError(
                f"{type(estimator).__name__} requires y to be passed, but the target "
                f"y is None; pass the asset returns `{nr}`."
            )
        return WideData(Fv, None, dates, None)

    if isinstance(R, pd.Series):
        assets = pd.Index([R.name if R.name is not None else 0])
    elif isinstance(R, pd.DataFrame):
        _check_model_frame(R, nr)
        assets = R.columns
    else:
        assets = None
    if isinstance(R, pd.Series | pd.DataFrame) and dates is not None:
        if not R.index.equals(dates):
            raise ValueError(
                f"`{nf}` and `{nr}` have different indexes; they must list the same "
                "dates in the same order. Align them first, e.g. "
                f"`{nf}, {nr} = {nf}.align({nr}, join='inner', axis=0)`."
            )
    if isinstance(R, pd.DataFrame):
        # Columns already checked numeric: one conversion instead of check_array's
        # per-column dtype inspection (thousands of assets).
        R = R.to_numpy(dtype=np.float64, na_value=np.nan)
    Rv = check_array(
        R,
        dtype=np.float64,
        ensure_all_finite=False,
        ensure_2d=False,
        input_name=nr,
        estimator=estimator,
    )
    single = Rv.ndim == 1
    if single:
        Rv = Rv[:, None]
    check_finite(Rv, nr, assets)
    if require_R and not has_value(Rv):
        raise ValueError(
            f"`{nr}` has no observed value (every value is NaN); pass asset returns "
            "with data."
        )
    if len(Rv) != len(Fv):
        raise ValueError(
            f"`{nf}` has {len(Fv)} dates but `{nr}` has {len(Rv)}; they must have "
            "one row per date each."
        )
    if assets is None:
        assets = pd.RangeIndex(Rv.shape[1])
    return WideData(Fv, Rv, dates, assets, single)


def check_fitted_assets(model, y, wide):
    """Raise unless ``y`` (validated as ``wide``) holds ``model.assets_`` in order.

    Arrays are checked by their number of columns, frames also by their labels.
    """
    assets = model.assets_
    frame = isinstance(y, pd.DataFrame) or is_polars_frame(y)
    if wide.R.shape[1] != len(assets) or (frame and not wide.assets.equals(assets)):
        raise ValueError(
            f"`y` must hold the {len(assets)} assets seen in `fit`, in the same "
            f"order; got {wide.R.shape[1]} columns. Select them with "
            "`y[model.assets_]`."
        )
