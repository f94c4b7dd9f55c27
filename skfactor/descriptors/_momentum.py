"""Momentum: the half-life weighted sum of lagged log excess returns (RSTR)."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.descriptors._base import (
    HALFLIFE,
    MIN_PERIODS,
    RISK_FREE,
    WINDOW,
    Descriptor,
    half_window,
    log_excess,
    present_terms,
    scan_by_date,
    window_scan,
)
from skfactor.utils._numerics import halflife_decay
from skfactor.utils._sklearn import Interval

__all__ = ["Momentum"]


class Momentum(Descriptor):
    r"""Relative strength, ``rstr``: weighted lagged log excess returns.

    .. math::

        \mathrm{rstr}_{i,t} = \sum_{k=0}^{W-1} w_k \left[\ln(1 + r_{i,t-L-k})
        - \ln(1 + r_{f,t-L-k})\right],
        \qquad w_k \propto 0.5^{k/h},

    over the last ``window`` (:math:`W`) dates before the lag :math:`L`,
    with the weights normalised to sum to one over the values present (a
    missing value drops its weight). :math:`t - k` counts the panel's dates,
    so a hole in an asset's rows is a missing value. NaN unless
    ``min_periods`` values are present in the window. The defaults are Barra
    USE4's and CNE5's daily RSTR: 504 dates, half-life 126, lag 21.

    Parameters
    ----------
    returns : str, default="returns"
        The simple returns column (fractions, above -1).
    window : int, default=504
        Dates in the window.
    halflife : float or None, default=126
        Half-life of the weights in dates; None for equal weights.
    lag : int, default=21
        Dates skipped before the window (the short-term reversal month).
    min_periods : int, default=None
        Values needed in the window; None: half the window, rounded up.
    risk_free : str or Series, default=None
        The risk-free rate: a column of ``X`` or a Series indexed by date;
        None for zero.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.descriptors import Momentum
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=4), ["A"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"returns": [0.01, 0.02, np.nan, 0.03]}, index=index)
    >>> step = Momentum(window=2, halflife=None, lag=1)
    >>> step.fit_transform(X)["rstr"].round(4).tolist()
    [nan, 0.01, 0.0149, 0.0198]
    """

    _outputs = ("rstr",)
    _kernel_checks_duplicates = True
    _parameter_constraints: dict = {
        "returns": [str],
        "window": WINDOW,
        "halflife": HALFLIFE,
        "lag": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_periods": MIN_PERIODS,
        "risk_free": RISK_FREE,
    }

    def __init__(
        self,
        *,
        returns: str = "returns",
        window: int = 504,
        halflife: float | None = 126,
        lag: int = 21,
        min_periods: int | None = None,
        risk_free: str | pd.Series | None = None,
    ) -> None:
        self.returns = returns
        self.window = window
        self.halflife = halflife
        self.lag = lag
        self.min_periods = min_periods
        self.risk_free = risk_free

    def _describe(self, panel, fields):
        x = log_excess(fields["returns"], fields["risk_free"], "returns")
        decay = halflife_decay(self.halflife)
        need = half_window(self.window, self.min_periods)
        # Terms: the returns, their weights, their count.
        scan = window_scan(panel, self.window, [decay, decay, 1.0])

        def fill(X, put):
            put(0, "x")
            present_terms(X, [0], [1, 2])

        def finish(S):
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(S[:, 0], S[:, 1], out=S[:, 0])
            np.copyto(S[:, 0], np.nan, where=S[:, 2] < need)

        return scan_by_date(panel, {"x": x}, scan, fill, finish, 1, lag=self.lag)
