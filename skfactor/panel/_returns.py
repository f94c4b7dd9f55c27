"""Forward returns: the label for predicting returns from today's loadings."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.panel._validation import (
    check_finite,
    check_not_dask,
    check_numeric_columns,
    check_panel_index,
)
from skfactor.panel._wide import long_to_wide
from skfactor.utils._warnings import warn

__all__ = ["forward_returns"]

# No column of simple returns has every value above this (a 50 % return on
# every date and asset); prices and gross returns (1 + r) do.
_PRICE_FLOOR = 0.5


def _warn_if_prices(values, columns, wide):
    """Warn when every value of a column is above 0.5: prices, not returns."""
    if wide:  # one column per asset: judge the frame as a whole
        values = values.reshape(-1, 1)
    present = ~np.isnan(values)
    low = np.where(present, values, np.inf).min(axis=0, initial=np.inf)
    looks = (present.sum(axis=0) >= 2) & (low > _PRICE_FLOOR)
    if not looks.any():
        return
    median = float(np.nanmedian(values[:, looks]))
    where = (
        ""
        if wide
        else f" of column(s) {[c for c, h in zip(columns, looks, strict=True) if h]}"
    )
    fix = (
        "prices.pct_change()" if wide else 'prices.groupby(level="asset").pct_change()'
    )
    warn(
        f"`returns` looks like prices, not returns: every value{where} is above "
        f"{_PRICE_FLOOR} (median {median:.4g}). forward_returns compounds simple "
        f"returns (0.01 for 1 %); give it returns, e.g. `{fix}` (or gross "
        "returns minus 1)."
    )


def _compound_forward(wide, periods):
    """(1 + r[t+1]) ... (1 + r[t+periods]) - 1 down the rows of a dense array."""
    out = np.full_like(wide, np.nan)
    n = wide.shape[0]
    if periods >= n:
        return out
    growth = 1.0 + wide[1 : n - periods + 1]
    for step in range(2, periods + 1):
        growth = growth * (1.0 + wide[step : n - periods + step])
    out[: n - periods] = growth - 1.0
    return out


def forward_returns(
    returns: pd.Series | pd.DataFrame, periods: int = 1
) -> pd.Series | pd.DataFrame:
    r"""Compounded return from each date to ``periods`` dates later, placed at the date.

    With :math:`r_{i,t}` the return of asset :math:`i` over the period ending at
    date :math:`t`, the forward return placed at :math:`t` is

    .. math::

        R^{\mathrm{fwd}}_{i,t} = \prod_{s=1}^{h} (1 + r_{i,t+s}) - 1,

    where :math:`t+s` counts the **panel's** dates, not the asset's own rows: an
    asset missing on any of those dates gets NaN, as do the last ``periods``
    dates, whose future is unknown.

    Parameters
    ----------
    returns : Series or DataFrame
        Either a long panel (two-level (date, asset) MultiIndex, date first;
        rows in any order) of simple returns — a Series, or a DataFrame of
        numeric columns each treated separately — or a wide DataFrame of shape
        (n_dates, n_assets) indexed by date.
    periods : int, default=1
        Horizon :math:`h`, in dates, at least 1.

    Returns
    -------
    Series or DataFrame
        Same type, index (same order) and columns as ``returns``.

    Warns
    -----
    UserWarning
        When every value of a column (of the whole frame, for a wide one) is
        above 0.5: those are prices or gross returns, not simple returns.

    Notes
    -----
    The :math:`h`-period return is compounded, the return of holding the asset
    from :math:`t` to :math:`t+h`; it is not the mean :math:`\frac1h\sum_s
    r_{i,t+s}` of the one-period returns (which ignores compounding, is about
    :math:`1/h` of it, and is not a return anyone earns). Ranks, and so a
    Spearman IC, differ between the two only through the compounding. Labels
    of consecutive dates overlap by :math:`h - 1` periods, so their ICs are
    autocorrelated: pass ``horizon=h`` to
    :func:`skfactor.metrics.ic_summary` for t-statistics that allow for it, and purge
    :math:`h` dates around test blocks when cross-validating
    (:class:`skfactor.model_selection.CombinatorialPurgedSplit`'s ``purge``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.panel import forward_returns
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2, 3], ["a", "b"]], names=["date", "asset"]
    ... )
    >>> r = pd.Series([0.1, 0.0, 0.2, -0.5, 0.1, 1.0], index=idx)
    >>> forward_returns(r, periods=2).round(3).tolist()
    [0.32, 0.0, nan, nan, nan, nan]
    """
    if (
        not isinstance(periods, numbers.Integral)
        or isinstance(periods, bool)
        or periods < 1
    ):
        raise ValueError(f"`periods` must be an integer >= 1; got {periods!r}.")
    check_not_dask(returns, "returns")
    if not isinstance(returns, pd.Series | pd.DataFrame):
        raise TypeError(
            "`returns` must be a pandas Series or DataFrame (a (date, asset) panel "
            f"or a wide date x asset frame); got {type(returns).__name__}."
        )
    frame = returns.to_frame() if isinstance(returns, pd.Series) else returns
    check_numeric_columns(frame, "returns")
    values = frame.to_numpy(dtype=np.float64)
    check_finite(values, "returns", list(frame.columns))
    index = frame.index
    _warn_if_prices(values, list(frame.columns), not isinstance(index, pd.MultiIndex))

    if not isinstance(index, pd.MultiIndex):
        if not index.is_monotonic_increasing or not index.is_unique:
            raise ValueError(
                "A wide `returns` frame must be indexed by unique dates in "
                "increasing order; sort it first (`returns.sort_index()`)."
            )
        out = _compound_forward(values, periods)
    else:
        check_panel_index(index, "returns")
        wide, _, _, rows = long_to_wide(index, values)  # dates x assets x columns
        out = _compound_forward(wide, periods)[rows]

    if isinstance(returns, pd.Series):
        return pd.Series(out[:, 0], index=index, name=returns.name)
    return pd.DataFrame(out, index=index, columns=frame.columns)
