"""Cumulative factor returns and mean return by quantile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.plotting._base import as_frame, format_dates, get_ax, x_values
from skfactor.utils._typing import Axes

__all__ = ["plot_cumulative_returns", "plot_quantile_returns"]


def cumulative_returns(returns, compound=True):
    """Cumulative return of each column; NaN before a column's first value.

    A NaN after the first value counts as a zero return (no position that
    date), so the curve stays flat across it instead of breaking.
    """
    started = returns.notna().cumsum() > 0
    filled = returns.fillna(0.0)
    cum = (1.0 + filled).cumprod() - 1.0 if compound else filled.cumsum()
    return cum.where(started)


def plot_cumulative_returns(
    factor_returns: pd.DataFrame | pd.Series,
    *,
    compound: bool = True,
    logy: bool = False,
    ax: Axes | None = None,
) -> Axes:
    r"""Plot the cumulative return of each factor, in percent.

    The curve of a factor with returns :math:`r_1, \dots, r_t` is
    :math:`100 \left(\prod_{s \le t} (1 + r_s) - 1\right)` (or
    :math:`100 \sum_{s \le t} r_s` with ``compound=False``): what holding the
    long-short portfolio would have earned, as the lecture's
    ``np.cumprod(SMB.values + 1)``. A NaN return before a factor's first value
    leaves the curve out; after it, it counts as 0 (the curve stays flat).
    Over decades, ``logy=True`` plots the growth of 1 instead,
    :math:`\prod_{s \le t} (1 + r_s)`, on a log scale, where equal slopes
    are equal rates of return.

    Parameters
    ----------
    factor_returns : DataFrame of shape (n_dates, n_factors) or Series
        Simple returns per period, indexed by date, e.g.
        ``QuantilePortfolioFactor(...).fit(X, y).factor_returns_`` or
        ``CrossSectionalFactorModel(...).fit(X, y).factor_returns_``.
    compound : bool, default=True
        Compound the returns; False sums them.
    logy : bool, default=False
        Plot the growth of 1 on a log scale (needs ``compound=True``).
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes
        One line per factor, labelled by its column name, and a line at 0.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from skfactor.plotting import plot_cumulative_returns
    >>> dates = pd.bdate_range("2011-01-03", periods=250)
    >>> F = pd.DataFrame(np.random.default_rng(0).normal(0, 0.01, (250, 2)),
    ...                  index=dates, columns=["SMB", "HML"])
    >>> ax = plot_cumulative_returns(F)
    >>> [line.get_label() for line in ax.get_lines()[:2]]
    ['SMB', 'HML']
    """
    frame = as_frame(factor_returns, "factor_returns").astype(np.float64)
    if logy and not compound:
        raise ValueError(
            "`logy=True` plots the compounded growth of 1; it needs `compound=True`."
        )
    ax = get_ax(ax)
    cum = cumulative_returns(frame, compound=compound)
    cum = 1.0 + cum if logy else 100.0 * cum
    x = x_values(frame.index)
    for name in cum.columns:
        ax.plot(x, cum[name].to_numpy(), label=str(name), linewidth=1.5)
    if logy:
        ax.set_yscale("log")
        ax.axhline(1.0, color="0.5", linewidth=0.8, zorder=0)
        ax.set_ylabel("Growth of 1 (log scale)")
    else:
        ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
        ax.set_ylabel("Cumulative return (%)")
    how = "compounded" if compound else "summed"
    ax.set_title(f"Cumulative factor returns ({how})")
    format_dates(ax, frame.index)
    ax.legend(loc="best", frameon=False)
    ax.grid(True, alpha=0.3)
    return ax


def _quantile_table(quantile_returns):
    """Per-date returns as a DataFrame with (factor, quantile) columns."""
    if not isinstance(quantile_returns, pd.DataFrame):
        raise TypeError(
            "`quantile_returns` must be a DataFrame of shape (n_dates, n_factors * "
            "n_quantiles) with (factor, quantile) columns, as "
            "`QuantilePortfolioFactor.quantile_returns_`; got "
            f"{type(quantile_returns).__name__}."
        )
    frame = quantile_returns
    if not isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy(deep=False)
        frame.columns = pd.MultiIndex.from_product([[""], frame.columns])
    if frame.columns.nlevels != 2:
        raise ValueError(
            "`quantile_returns` must have two column levels (factor, quantile); "
            f"got {frame.columns.nlevels}."
        )
    return frame.astype(np.float64)


def plot_quantile_returns(
    quantile_returns: pd.DataFrame, *, n_se: float | None = 2.0, ax: Axes | None = None
) -> Axes:
    r"""Bar chart of the mean return of each quantile, in basis points.

    For each factor and quantile, the bar is the mean over dates of the
    quantile's per-date return (dates where it is NaN are left out), times
    :math:`10^4`; the error bar is :math:`\pm` ``n_se`` standard errors of
    that mean, :math:`s / \sqrt{T}` with :math:`s` the standard deviation
    over the :math:`T` dates (``ddof=1``), which treats the dates as
    independent. A characteristic that predicts returns shows bars rising (or
    falling) from the first quantile to the last.

    Parameters
    ----------
    quantile_returns : DataFrame of shape (n_dates, n_factors * n_quantiles)
        Per-date return of each group, columns ``(factor, quantile)``:
        ``QuantilePortfolioFactor(...).fit(X, y).quantile_returns_``. Single
        level columns are read as the quantiles of one factor.
    n_se : float or None, default=2.0
        Half-width of the error bars in standard errors; None draws none.
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes
        One group of bars per quantile, one bar (and colour) per factor.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfactor import QuantilePortfolioFactor
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.plotting import plot_quantile_returns
    >>> data = make_factor_panel(n_dates=60, n_assets=300, random_state=0)
    >>> qpf = QuantilePortfolioFactor(n_quantiles=5).fit(data.X, data.y)
    >>> ax = plot_quantile_returns(qpf.quantile_returns_)
    >>> len(ax.patches)  # 3 characteristics x 5 quintiles
    15
    """
    frame = _quantile_table(quantile_returns)
    ax = get_ax(ax)
    mean = frame.mean(axis=0) * 1e4
    se = frame.std(axis=0, ddof=1) / np.sqrt(frame.count(axis=0)) * 1e4
    factors = frame.columns.get_level_values(0).unique()
    quantiles = frame.columns.get_level_values(1).unique()
    width = 0.8 / len(factors)
    x = np.arange(len(quantiles), dtype=np.float64)
    for j, factor in enumerate(factors):
        keys = [(factor, q) for q in quantiles]
        heights = mean.reindex(keys).to_numpy()
        yerr = None if n_se is None else n_se * se.reindex(keys).to_numpy()
        ax.bar(
            x + (j - (len(factors) - 1) / 2) * width,
            heights,
            width=width,
            yerr=yerr,
            capsize=3 if yerr is not None else 0,
            label=str(factor) if str(factor) else None,
            error_kw={"linewidth": 1.0, "ecolor": "0.25"},
        )
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_xticks(x, [str(q) for q in quantiles])
    ax.set_xlabel("Quantile (1 = lowest values)")
    ax.set_ylabel("Mean return per period (bp)")
    title = "Mean return by quantile"
    if n_se is not None:
        title += f" (error bars: ± {n_se:g} s.e.)"
    ax.set_title(title)
    if any(str(f) for f in factors):
        ax.legend(loc="best", frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    return ax
