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
    date_codes,
)

__all__ = ["forward_returns"]


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


def forward_returns(returns, periods=1):
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
    >>> idx = pd.MultiIndex.from_product([[1, 2, 3], ["a", "b"]])
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

    if not isinstance(index, pd.MultiIndex):
        if not index.is_monotonic_increasing or not index.is_unique:
            raise ValueError(
                "A wide `returns` frame must be indexed by unique dates in "
                "increasing order; sort it first (`returns.sort_index()`)."
            )
        out = _compound_forward(values, periods)
    else:
        check_panel_index(index, "returns")
        d, dates = date_codes(index)
        a = np.asarray(index.codes[1], dtype=np.intp)
        n_assets = len(index.levels[1])
        out = np.empty_like(values)
        for j in range(values.shape[1]):
            wide = np.full((len(dates), n_assets), np.nan)
            wide[d, a] = values[:, j]
            out[:, j] = _compound_forward(wide, periods)[d, a]

    if isinstance(returns, pd.Series):
        return pd.Series(out[:, 0], index=index, name=returns.name)
    return pd.DataFrame(out, index=index, columns=frame.columns)
