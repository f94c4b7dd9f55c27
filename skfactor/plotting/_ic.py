"""Information coefficient by date with its rolling mean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.plotting._base import format_dates, get_ax, x_values
from skfactor.utils._typing import Axes

__all__ = ["plot_ic"]


def plot_ic(ic: pd.Series, *, window: int = 21, ax: Axes | None = None) -> Axes:
    """Plot the per-date information coefficient and its rolling mean.

    Three lines: the IC of each date (thin), its mean over the trailing
    ``window`` dates with an IC (thick; NaN until ``window`` of them), and its
    mean over all dates (dashed, the value in the legend), over a line at 0.

    Parameters
    ----------
    ic : Series of shape (n_dates,)
        Per-date IC, indexed by date: :func:`skfactor.metrics.information_coefficient`.
        Dates where it is NaN are left out of the means; the daily line has a
        gap there.
    window : int, default=21
        Number of dates in the rolling mean (21 business days: about a month).
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from skfactor.plotting import plot_ic
    >>> dates = pd.bdate_range("2011-01-03", periods=120)
    >>> ic = pd.Series(np.random.default_rng(0).normal(0.03, 0.1, 120), dates)
    >>> ax = plot_ic(ic, window=21)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['daily IC', '21-date mean']
    """
    if not isinstance(ic, pd.Series):
        raise TypeError(
            "`ic` must be a pandas Series indexed by date, as "
            f"`information_coefficient` returns; got {type(ic).__name__}."
        )
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise TypeError(f"`window` must be an integer; got {window!r}.")
    if window < 1:
        raise ValueError(f"`window` must be at least 1; got {window}.")
    values = ic.to_numpy(dtype=np.float64)
    ax = get_ax(ax)
    x = x_values(ic.index)
    valid = ic.astype(np.float64).dropna()
    rolling = valid.rolling(window).mean().reindex(ic.index)
    mean = float(valid.mean()) if len(valid) else np.nan
    ax.plot(x, values, linewidth=0.8, alpha=0.45, color="C0", label="daily IC")
    ax.plot(
        x,
        rolling.to_numpy(),
        linewidth=2.0,
        color="C1",
        label=f"{window}-date mean",
    )
    ax.axhline(
        mean, color="C3", linestyle="--", linewidth=1.2, label=f"mean {mean:.3f}"
    )
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_ylabel("Information coefficient")
    ax.set_title("Information coefficient by date")
    format_dates(ax, ic.index)
    ax.legend(loc="upper left", ncols=3, framealpha=0.85)
    ax.grid(True, alpha=0.3)
    return ax
