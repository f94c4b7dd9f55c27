"""Rolling bias statistics of risk forecasts."""

from __future__ import annotations

import numpy as np

from skfactor.plotting._base import format_dates, get_ax, x_values
from skfactor.risk import RiskForecastEvaluation
from skfactor.utils._typing import Axes

__all__ = ["plot_bias_statistics"]

LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D"]


def plot_bias_statistics(
    evaluations: RiskForecastEvaluation | dict[str, RiskForecastEvaluation],
    *,
    window: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Plot the rolling bias statistic of one or several risk forecasts.

    For each evaluation, the median over its portfolios of the bias
    statistic over a rolling ``window`` of dates (one line each, told apart by
    colour, line style, width and markers placed at different dates, so that
    lines on top of each other stay visible), with the band
    between the 10th and 90th percentiles across portfolios when there is
    one evaluation; a line at 1 (a correct forecast) and the dotted band
    :math:`1 \pm \sqrt{2/\text{window}}` that a correct forecast's rolling
    statistic stays in about 95 % of the time. Above the band, risk was
    underestimated. The legend sits below the axes, off the data.

    Parameters
    ----------
    evaluations : RiskForecastEvaluation or dict of them
        From :func:`skfactor.risk.evaluate_risk_forecast` or
        :func:`skfactor.risk.evaluate_volatility_forecast`; a dict
        ``{label: evaluation}`` draws one line per forecast (e.g. plain,
        regime-adjusted, eigen-adjusted).
    window : int, default=None
        Dates per rolling statistic; None: each evaluation's ``window``.
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
    >>> from skfactor.plotting import plot_bias_statistics
    >>> from skfactor.risk import evaluate_volatility_forecast
    >>> r = pd.DataFrame(np.random.default_rng(0).normal(0, 0.02, (240, 3)))
    >>> ev = evaluate_volatility_forecast(r, pd.DataFrame(0.02, r.index, r.columns))
    >>> ax = plot_bias_statistics({"constant 2 %": ev}, window=24)
    >>> [line.get_label() for line in ax.get_lines()][0]
    'constant 2 %'
    """
    from skfactor.risk import RiskForecastEvaluation

    if isinstance(evaluations, RiskForecastEvaluation):
        evaluations = {"forecast": evaluations}
    if not isinstance(evaluations, dict) or not all(
        isinstance(ev, RiskForecastEvaluation) for ev in evaluations.values()
    ):
        raise TypeError(
            "`evaluations` must be a RiskForecastEvaluation (from "
            "`evaluate_risk_forecast`) or a dict {label: RiskForecastEvaluation}; "
            f"got {type(evaluations).__name__}."
        )
    ax = get_ax(ax)
    index, sizes = None, []
    n = len(evaluations)
    for i, (label, ev) in enumerate(evaluations.items()):
        rolling = ev.rolling_bias(window)
        sizes.append(ev.window if window is None else window)
        x = x_values(rolling.index)
        # markers every `step` dates, each line's shifted by step / n
        step = max(1, len(x) // 10)
        ax.plot(
            x,
            rolling.median(axis=1),
            linewidth=max(2.6 - 0.7 * i, 1.0),  # the first widest: seen under the rest
            color=f"C{i}",
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)],
            markersize=5,
            markevery=(i * step // max(n, 1), step),
            label=label,
        )
        if len(evaluations) == 1 and rolling.shape[1] > 1:
            low, high = rolling.quantile(0.1, axis=1), rolling.quantile(0.9, axis=1)
            ax.fill_between(x, low, high, color=f"C{i}", alpha=0.2, linewidth=0)
        index = rolling.index
    band = np.sqrt(2.0 / max(sizes))
    ax.axhline(1.0, color="0.3", linewidth=0.9, zorder=0)
    for level in (1.0 - band, 1.0 + band):
        ax.axhline(level, color="0.5", linestyle=(0, (1, 2)), linewidth=1.0, zorder=0)
    ax.set_ylabel(f"Bias statistic, rolling {max(sizes)} dates (median)")
    ax.set_title("Rolling bias statistics of the risk forecasts (1 = calibrated)")
    if index is not None:
        format_dates(ax, index)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=min(n, 4),
        frameon=False,
    )
    ax.grid(True, alpha=0.3)
    return ax
