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


def _percent(ax):
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))


def _rolling_lines(ax, frame, window):
    """A ``window``-date rolling mean per column, its overall mean dashed."""
    x = x_values(frame.index)
    for i, name in enumerate(frame.columns):
        values = frame[name].astype(np.float64)
        rolling = values.rolling(window, min_periods=max(1, window // 2)).mean()
        ax.plot(x, rolling.to_numpy(), color=f"C{i}", linewidth=1.5, label=str(name))
        ax.axhline(values.mean(), color=f"C{i}", linestyle="--", linewidth=1.0)
    format_dates(ax, frame.index)
    ax.grid(True, alpha=0.3)


def _model_returns(section):
    fig, ax = _figure()
    plot_cumulative_returns(section.factor_returns, ax=ax)
    ax.set_title(f"Cumulative per-date {section.returns_label} (compounded)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _model_volatility(section, window):
    fig, ax = _figure()
    returns = section.factor_returns.astype(np.float64)
    vol = returns.rolling(window, min_periods=max(2, window // 2)).std()
    x = x_values(returns.index)
    for i, name in enumerate(vol.columns):
        ax.plot(x, vol[name].to_numpy(), color=f"C{i}", linewidth=1.5, label=str(name))
    _percent(ax)
    format_dates(ax, returns.index)
    ax.grid(True, alpha=0.3)
    ax.set_ylabel("volatility per date")
    what = section.returns_label.capitalize()
    ax.set_title(f"{what}: {window}-date rolling standard deviation")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _model_fit(section, window):
    fig, ax = _figure()
    _rolling_lines(ax, section.diagnostics[["rsquared"]].rename(
        columns={"rsquared": f"R², {window}-date mean"}), window)  # fmt: skip
    ax.set_ylabel("R² of the date's regression")
    ax.set_title(f"Per-date R²: {window}-date rolling mean (dashed: overall)")
    _legend_below(ax, 1)
    return fig


def _model_conditioning(section, window):
    fig, ax = _figure()
    diag = section.diagnostics
    number = diag["condition_number"].astype(np.float64)
    rolling = number.rolling(window, min_periods=max(1, window // 2)).median()
    x = x_values(diag.index)
    label = f"condition number, {window}-date rolling median"
    ax.plot(x, rolling.to_numpy(), color="C0", linewidth=1.5, label=label)
    if rolling.max() > 10 * rolling.min():  # a log scale when it spans decades
        ax.set_yscale("log")
    short = diag["rank"] < diag["rank"].max()
    if short.any():
        ax.plot(x[short.to_numpy()], np.full(int(short.sum()), rolling.min()),
                "|", color="C3", markersize=12,
                label="rank below full on the date")  # fmt: skip
    format_dates(ax, diag.index)
    ax.grid(True, alpha=0.3, which="both")
    ax.set_ylabel("condition number")
    ax.set_title("Conditioning of each date's loadings")
    _legend_below(ax, 2)
    return fig


def _model_evaluation(section, window):
    fig, ax = _figure()
    table = section.evaluation
    _rolling_lines(ax, table[["ic"]].rename(
        columns={"ic": f"rank IC of predict, {window}-date mean"}), window)  # fmt: skip
    outside = ~table["in_sample"].to_numpy()
    if outside.any():
        x = x_values(table.index)
        ax.fill_between(x, 0, 1, where=outside, color="0.85", linewidth=0,
                        transform=ax.get_xaxis_transform(),
                        label="dates the model was not fitted on")  # fmt: skip
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_ylabel("information coefficient")
    ax.set_title("Rank IC of the model's predictions against `y` (dashed: overall)")
    _legend_below(ax, 2)
    return fig


def model_figures(section, window):
    """Figures of a model's section, by name, in the page's order."""
    figures = {
        "factor_returns": _model_returns(section),
        "factor_volatility": _model_volatility(section, window),
        "rsquared": _model_fit(section, window),
    }
    if np.isfinite(section.diagnostics.get("condition_number", [np.nan])).any():
        figures["conditioning"] = _model_conditioning(section, window)
    if section.evaluation is not None:
        figures["evaluation"] = _model_evaluation(section, window)
    return figures


def section_figures(section, window):
    """Figures of one section, by name, in the page's order."""
    if hasattr(section, "model"):
        return model_figures(section, window)
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
