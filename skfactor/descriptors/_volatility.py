"""Volatility: the half-life weighted standard deviation of excess returns (DASTD)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.descriptors._base import (
    HALFLIFE,
    MIN_PERIODS,
    RISK_FREE,
    WINDOW,
    Descriptor,
    half_window,
    present_terms,
    scan_by_date,
    window_scan,
)
from skfactor.utils._numerics import halflife_decay

__all__ = ["Volatility"]


class Volatility(Descriptor):
    r"""Daily standard deviation, ``dastd``: weighted volatility of excess returns.

    .. math::

        \mathrm{dastd}_{i,t} = \sqrt{\sum_{k=0}^{W-1} w_k
        \left(e_{i,t-k} - \bar e_{i,t}\right)^2},
        \qquad \bar e_{i,t} = \sum_{k=0}^{W-1} w_k e_{i,t-k},
        \qquad w_k \propto 0.5^{k/h},

    with :math:`e = r - r_f` the excess return and the weights normalised to
    sum to one over the values present in the last ``window`` (:math:`W`)
    dates of the panel (a hole is a missing value). NaN unless
    ``min_periods`` values are present. The defaults are USE4's and CNE5's
    daily DASTD: 252 dates, half-life 42. With ``demean=False`` the
    deviations are about 0 (the root mean square), skfolio's
    ``EWVolatility``.

    Parameters
    ----------
    returns : str, default="returns"
        The simple returns column.
    window : int, default=252
        Dates in the window.
    halflife : float or None, default=42
        Half-life of the weights in dates; None for equal weights.
    min_periods : int, default=None
        Values needed in the window; None: half the window, rounded up.
    demean : bool, default=True
        Deviations about the weighted mean (True) or about 0.
    risk_free : str or Series, default=None
        The risk-free rate: a column of ``X`` or a Series indexed by date;
        None for zero.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import Volatility
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=3), ["A"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"returns": [0.01, -0.01, 0.03]}, index=index)
    >>> Volatility(window=2, halflife=None).fit_transform(X)["dastd"].round(3).tolist()
    [0.0, 0.01, 0.02]
    """

    _outputs = ("dastd",)
    _kernel_checks_duplicates = True
    _parameter_constraints: dict = {
        "returns": [str],
        "window": WINDOW,
        "halflife": HALFLIFE,
        "min_periods": MIN_PERIODS,
        "demean": ["boolean"],
        "risk_free": RISK_FREE,
    }

    def __init__(
        self,
        *,
        returns: str = "returns",
        window: int = 252,
        halflife: float | None = 42,
        min_periods: int | None = None,
        demean: bool = True,
        risk_free: str | pd.Series | None = None,
    ) -> None:
        self.returns = returns
        self.window = window
        self.halflife = halflife
        self.min_periods = min_periods
        self.demean = demean
        self.risk_free = risk_free

    def _describe(self, panel, fields):
        excess, rf = fields["returns"], fields["risk_free"]
        if not (np.isscalar(rf) and rf == 0.0):  # without one, no copy
            excess = excess - rf
        decay = halflife_decay(self.halflife)
        need = half_window(self.window, self.min_periods)
        # Terms: the excess returns, their squares, their weights, their count.
        scan = window_scan(panel, self.window, [decay, decay, decay, 1.0])

        def fill(X, put):
            put(0, "e")
            present_terms(X, [0], [2, 3])
            np.multiply(X[:, 0], X[:, 0], out=X[:, 1])

        def finish(S):
            s, ss, weight, count = (S[:, j] for j in range(4))
            var = S[:, 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                if self.demean:
                    s /= weight
                    np.multiply(s, s, out=var)
                    np.divide(ss, weight, out=ss)
                    np.subtract(ss, var, out=var)
                else:
                    np.divide(ss, weight, out=var)
                np.maximum(var, 0.0, out=var)
                np.sqrt(var, out=var)
            np.copyto(var, np.nan, where=count < need)

        return scan_by_date(panel, {"e": excess}, scan, fill, finish, 1)
