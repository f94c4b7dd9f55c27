"""Figures for factor research (matplotlib, the ``plot`` extra).

Importing this module does not import matplotlib; each function does, when
called, and raises an ``ImportError`` naming ``pip install "skfactor[plot]"``
if it is missing. Every function takes ``ax=None`` (a new figure) or an
existing ``Axes`` to draw on, and returns the ``Axes``.
"""

from skfactor.plotting._betas import plot_rolling_betas
from skfactor.plotting._ic import plot_ic
from skfactor.plotting._preprocessing import plot_zscore_hist
from skfactor.plotting._returns import plot_cumulative_returns, plot_quantile_returns
from skfactor.plotting._risk import plot_bias_statistics
from skfactor.plotting._signals import plot_attribution, plot_ic_decay, plot_turnover

__all__ = [
    "plot_attribution",
    "plot_bias_statistics",
    "plot_cumulative_returns",
    "plot_ic",
    "plot_ic_decay",
    "plot_quantile_returns",
    "plot_rolling_betas",
    "plot_turnover",
    "plot_zscore_hist",
]
