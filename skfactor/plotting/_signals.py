"""From factor to signal: IC decay, turnover, cumulative return attribution."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.plotting._base import format_dates, get_ax, x_values
from skfactor.risk import ReturnAttribution
from skfactor.utils._typing import Axes

__all__ = ["plot_attribution", "plot_ic_decay", "plot_turnover"]


def plot_ic_decay(decay: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Bars of the mean IC at each horizon, with two standard errors.

    Parameters
    ----------
    decay : DataFrame of shape (n_horizons, n_statistics)
        :func:`skfactor.metrics.ic_decay`: columns ``mean``, ``std`` and
        ``n_dates``, one row per horizon. The error bars are two standard
        errors of the mean IC: from its ``t`` (Newey–West for horizons above
        one date) when given, else ``std / sqrt(n_dates)``.
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.metrics import ic_decay
    >>> from skfactor.plotting import plot_ic_decay
    >>> data = make_factor_panel(n_dates=60, n_assets=50, random_state=0)
    >>> ax = plot_ic_decay(ic_decay(data.X["momentum"], data.y, horizons=(1, 5)))
    >>> len(ax.patches)
    2
    """
    if not isinstance(decay, pd.DataFrame) or not {"mean", "std", "n_dates"} <= set(
        decay.columns
    ):
        raise TypeError(
            "`decay` must be the DataFrame `ic_decay` returns (columns `mean`, "
            f"`std`, `n_dates`); got {type(decay).__name__}."
        )
    ax = get_ax(ax)
    mean = decay["mean"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if "t" in decay.columns:  # Newey-West at each horizon: mean / t
            se = np.abs(mean / decay["t"].to_numpy(dtype=np.float64))
        else:
            se = decay["std"].to_numpy(dtype=np.float64) / np.sqrt(
                decay["n_dates"].to_numpy(dtype=np.float64)
            )
    labels = [str(h) for h in decay.index]
    ax.bar(labels, mean, yerr=2.0 * se, color="C0", alpha=0.8, capsize=4)
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_xlabel("horizon (dates)")
    ax.set_ylabel("mean information coefficient")
    ax.set_title("IC decay: mean IC by horizon (± 2 s.e. of the mean)")
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def plot_turnover(
    turnover: pd.DataFrame,
    autocorrelation: pd.Series | None = None,
    *,
    window: int = 21,
    ax: Axes | None = None,
) -> Axes:
    """Rolling means of quantile turnover, and of the rank autocorrelation if given.

    Daily turnover moves in steps of one name over the size of a quantile (0.2
    with five names a leg), so its daily lines hide each other: each line is a
    ``window``-date rolling mean instead. The rank autocorrelation, near 1 for
    a slow signal while turnover is near 0, gets its own y axis on the right.

    Parameters
    ----------
    turnover : DataFrame of shape (n_dates, n_quantiles)
        :func:`skfactor.metrics.quantile_turnover`; one line per quantile.
    autocorrelation : Series of shape (n_dates,), default=None
        :func:`skfactor.metrics.rank_autocorrelation`, drawn dashed in black
        on a second y axis (``ax.twinx()``).
    window : int, default=21
        Dates in each rolling mean; a mean needs at least half of them
        non-NaN. 1 draws the daily values.
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The turnover's Axes; the autocorrelation's is its twin.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.metrics import quantile_turnover, rank_autocorrelation
    >>> from skfactor.plotting import plot_turnover
    >>> f = make_factor_panel(n_dates=30, n_assets=50, random_state=0).X["value"]
    >>> ax = plot_turnover(quantile_turnover(f, 3), rank_autocorrelation(f), window=5)
    >>> [line.get_label() for line in ax.get_lines()]
    ['quantile 1', 'quantile 2', 'quantile 3']
    """
    if not isinstance(turnover, pd.DataFrame):
        raise TypeError(
            "`turnover` must be the DataFrame `quantile_turnover` returns; got "
            f"{type(turnover).__name__}."
        )
    if (
        isinstance(window, bool)
        or not isinstance(window, (int, np.integer))
        or window < 1
    ):
        raise ValueError(f"`window` must be a positive integer; got {window!r}.")
    window = int(window)
    ax = get_ax(ax)
    x = x_values(turnover.index)
    smooth = turnover.rolling(window, min_periods=max(1, window // 2)).mean()
    for i, q in enumerate(turnover.columns):
        ax.plot(x, smooth[q].to_numpy(dtype=np.float64), linewidth=1.4,
                color=f"C{i}", label=f"quantile {q}")  # fmt: skip
    ax.set_ylabel(
        "share of names replaced" + (f" ({window}-date mean)" if window > 1 else "")
    )
    ax.set_ylim(bottom=0.0)
    handles, labels = ax.get_legend_handles_labels()
    if autocorrelation is not None:
        auto = autocorrelation.reindex(turnover.index).astype(np.float64)
        auto = auto.rolling(window, min_periods=max(1, window // 2)).mean()
        right = ax.twinx()
        line = right.plot(x, auto.to_numpy(), color="k", linestyle="--",
                          linewidth=1.4, label="rank autocorrelation")  # fmt: skip
        right.set_ylabel("rank autocorrelation (right axis)")
        handles, labels = handles + line, labels + ["rank autocorrelation (right)"]
    what = "Quantile turnover" + (
        " and rank autocorrelation" if autocorrelation is not None else ""
    )
    ax.set_title(
        what + (f", {window}-date rolling means" if window > 1 else ", by date")
    )
    format_dates(ax, turnover.index)
    # below the plot, never over the lines
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12),
              ncol=min(len(labels), 5), frameon=False)  # fmt: skip
    ax.grid(True, alpha=0.3)
    return ax


def plot_attribution(attribution: ReturnAttribution, *, ax: Axes | None = None) -> Axes:
    """Cumulative contributions of each factor and the specific return.

    Parameters
    ----------
    attribution : ReturnAttribution
        :func:`skfactor.risk.return_attribution`; its ``cumulative`` frame is
        drawn, one line per factor, ``specific`` and ``total`` (thick).
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from skfactor.plotting import plot_attribution
    >>> from skfactor.risk import return_attribution
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2], ["a", "b"]], names=["date", "asset"]
    ... )
    >>> B = pd.DataFrame({"mkt": [1.0, 1.0, 1.0, 1.0]}, index=idx)
    >>> w = pd.Series(0.5, index=idx)
    >>> r = pd.Series([0.0, 0.0, 0.02, 0.04], index=idx)
    >>> F = pd.DataFrame({"mkt": [0.0, 0.025]}, index=[1, 2])
    >>> ax = plot_attribution(return_attribution(w, B, F, r))
    >>> [line.get_label() for line in ax.get_lines()][:3]
    ['mkt', 'specific', 'total']
    """
    cumulative = getattr(attribution, "cumulative", None)
    if not isinstance(cumulative, pd.DataFrame):
        raise TypeError(
            "`attribution` must be the result of `return_attribution`; got "
            f"{type(attribution).__name__}."
        )
    ax = get_ax(ax)
    x = x_values(cumulative.index)
    for name in cumulative.columns.drop(["common"]):
        total = name == "total"
        ax.plot(
            x,
            cumulative[name].to_numpy(dtype=np.float64),
            linewidth=2.2 if total else 1.2,
            color="k" if total else None,
            linestyle=":" if name == "specific" else "-",
            label=str(name),
        )
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_ylabel("cumulative return (sum)")
    ax.set_title("Return attribution: cumulative contributions")
    format_dates(ax, cumulative.index)
    ax.legend(loc="upper left", framealpha=0.85)
    ax.grid(True, alpha=0.3)
    return ax
