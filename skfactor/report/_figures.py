"""The report's figures: rolling means, returns in percent, legends off the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.plotting import (
    plot_cumulative_returns,
    plot_ic_decay,
    plot_quantile_returns,
    plot_turnover,
)
from skfactor.plotting._base import format_dates, x_values

__all__ = ["close", "section_figures"]

_SIZE = (9.0, 4.2)


def _figure():
    """A matplotlib Figure and Axes without pyplot (no GUI backend, no state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "The factor report's figures need matplotlib, which is not installed; "
            'install it with `pip install "skfactor[report]"` (or '
            '`pip install "skfactor[plot]"`).'
        ) from exc
    fig = Figure(figsize=_SIZE, layout="constrained")
    return fig, fig.add_subplot()


def close(fig) -> None:
    """Release a figure (made without pyplot, nothing to unregister)."""
    fig.clear()


def _legend_below(ax, ncols):
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncols=min(ncols, len(labels)) or 1, frameon=False)  # fmt: skip


def _rolling_ic(section, window):
    fig, ax = _figure()
    ic = section.ic
    x = x_values(ic.index)
    for i, h in enumerate(ic.columns):
        values = ic[h].astype(np.float64)
        rolling = values.rolling(window, min_periods=max(1, window // 2)).mean()
        mean = section.ic_summary.loc[h, "mean"]
        label = f"{h}-date IC, {window}-date mean (overall {mean:+.3f})"
        ax.plot(x, rolling.to_numpy(), color=f"C{i}", linewidth=1.5, label=label)
        ax.axhline(mean, color=f"C{i}", linestyle="--", linewidth=1.0)
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_ylabel("information coefficient")
    ax.set_title(f"Rank IC by horizon: {window}-date rolling means (dashed: overall)")
    format_dates(ax, ic.index)
    ax.grid(True, alpha=0.3)
    _legend_below(ax, 2)
    return fig


def _quantile_bars(section):
    fig, ax = _figure()
    # Each horizon's h-date return divided by h, so the bars compare.
    per_period = {
        f"{h}-date": section.quantile_returns[h] / h for h in section.horizons
    }
    plot_quantile_returns(pd.concat(per_period, axis=1), ax=ax)
    ax.set_title("Mean demeaned return by quantile, per date held (± 2 s.e.)")
    ax.set_ylabel("mean return per date (bp)")
    _legend_below(ax, len(per_period))
    return fig


def _cumulative(section):
    fig, ax = _figure()
    plot_cumulative_returns(section.daily_returns, ax=ax)
    ax.set_title("Cumulative demeaned return of each quantile, rebalanced daily")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _turnover(section, window):
    fig, ax = _figure()
    plot_turnover(section.quantile_turnover, section.rank_autocorrelation,
                  window=window, ax=ax)  # fmt: skip
    return fig


def _decay(section):
    fig, ax = _figure()
    plot_ic_decay(section.ic_summary, ax=ax)
    ax.set_title("IC decay: mean IC by horizon (± 2 overlap-aware s.e.)")
    return fig


def _by_group(section):
    fig, ax = _figure()
    table = section.ic_by_group
    y = np.arange(len(table))
    height = 0.8 / table.shape[1]
    for i, h in enumerate(table.columns):
        ax.barh(y + (i - (table.shape[1] - 1) / 2) * height, table[h].to_numpy(),
                height=height, color=f"C{i}", label=f"{h}-date")  # fmt: skip
    ax.set_yticks(y, [str(g) for g in table.index])
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("mean information coefficient within the group")
    ax.set_title("Mean rank IC by group")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def section_figures(section, window):
    """Figures of one section, by name, in the page's order."""
    figures = {
        "ic": _rolling_ic(section, window),
        "ic_decay": _decay(section),
        "quantile_returns": _quantile_bars(section),
        "cumulative_returns": _cumulative(section),
        "turnover": _turnover(section, window),
    }
    if section.ic_by_group is not None:
        figures["ic_by_group"] = _by_group(section)
    return figures
