"""CumulativeRange: the range of cumulative log excess returns (CMRA)."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.descriptors._base import (
    MIN_PERIODS,
    RISK_FREE,
    Descriptor,
    by_asset,
    half_window,
    log_excess,
)
from skfactor.descriptors._windows import window_counts, window_sums
from skfactor.utils._sklearn import Interval

__all__ = ["CumulativeRange"]


class CumulativeRange(Descriptor):
    r"""Cumulative range, ``cmra``: spread of the cumulative log excess returns.

    .. math::

        Z_{i,t}(T) = \sum_{k=0}^{L T - 1} \left[\ln(1 + r_{i,t-k})
        - \ln(1 + r_{f,t-k})\right], \quad T = 1, \dots, M, \qquad
        \mathrm{cmra}_{i,t} = \max_T Z_{i,t}(T) - \min_T Z_{i,t}(T),

    over months of :math:`L` = ``month_length`` dates of the panel, a missing
    value counting as 0. NaN unless ``min_periods`` returns are present in
    the last :math:`L M` dates. The defaults are USE4's and CNE5's CMRA: 12
    months of 21 dates. USE4 writes :math:`\ln(1 + Z_{\max}) - \ln(1 +
    Z_{\min})`; with :math:`Z` already a log return that is undefined below
    -1 and a second log; :math:`\max Z - \min Z` is the log of the ratio of
    the highest to the lowest cumulative gross return, which the published
    formula means (see the user guide).

    Parameters
    ----------
    returns : str, default="returns"
        The simple returns column (fractions, above -1).
    month_length : int, default=21
        Dates per month.
    n_months : int, default=12
        Months :math:`M`.
    min_periods : int, default=None
        Returns needed in the last ``month_length * n_months`` dates; None:
        half of them, rounded up.
    risk_free : str or Series, default=None
        The risk-free rate: a column of ``X`` or a Series indexed by date;
        None for zero.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import CumulativeRange
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=4), ["A"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"returns": [0.1, -0.2, 0.05, 0.1]}, index=index)
    >>> step = CumulativeRange(month_length=1, n_months=4)
    >>> step.fit_transform(X)["cmra"].round(4).tolist()
    [nan, 0.0953, 0.2231, 0.2231]
    """

    _outputs = ("cmra",)
    _parameter_constraints: dict = {
        "returns": [str],
        "month_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_months": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_periods": MIN_PERIODS,
        "risk_free": RISK_FREE,
    }

    def __init__(
        self,
        *,
        returns: str = "returns",
        month_length: int = 21,
        n_months: int = 12,
        min_periods: int | None = None,
        risk_free: str | pd.Series | None = None,
    ) -> None:
        self.returns = returns
        self.month_length = month_length
        self.n_months = n_months
        self.min_periods = min_periods
        self.risk_free = risk_free

    def _check_params(self):
        half_window(self.month_length * self.n_months, self.min_periods)

    def _describe(self, panel, fields):
        x = log_excess(fields["returns"], fields["risk_free"], "returns")
        length, months = self.month_length, self.n_months
        need = half_window(length * months, self.min_periods)

        def kernel(g):
            present = ~np.isnan(g["x"])
            month = window_sums(g["x"], length, where=present)
            z = month.copy()
            high, low = month.copy(), month.copy()
            for t in range(1, months):  # Z(T + 1) = Z(T) + the month before
                z[length * t :] += month[: -length * t]
                np.fmax(high, z, out=high)
                np.fmin(low, z, out=low)
            count = window_counts(present, length * months)
            return [np.where(count >= need, high - low, np.nan)]

        return by_asset(panel, {"x": x}, kernel, 1)
