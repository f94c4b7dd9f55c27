"""ShareTurnover: log share turnover over one, three and twelve months."""

from __future__ import annotations

import numbers

import numpy as np

from skfactor.descriptors._base import (
    MIN_PERIODS,
    Descriptor,
    by_asset,
    check_positive,
    half_window,
)
from skfactor.descriptors._windows import masked_sums
from skfactor.utils._sklearn import Interval

__all__ = ["ShareTurnover"]

# (output, months averaged, months needed): USE4's and CNE5's STOQ and STOA.
_AVERAGES = (("stoq", 3, 2), ("stoa", 12, 6))


def _log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(x), np.nan)


class ShareTurnover(Descriptor):
    r"""Share turnover, ``stom``, ``stoq`` and ``stoa``.

    With :math:`\tau_{i,t} = \mathrm{volume}_{i,t} / \mathrm{shares}_{i,t}`
    and :math:`L` = ``month_length`` dates of the panel,

    .. math::

        \mathrm{stom}_{i,t} = \ln \sum_{k=0}^{L-1} \tau_{i,t-k}, \qquad
        \mathrm{stoq}_{i,t} = \ln \frac{1}{3} \sum_{j=0}^{2}
        \exp \mathrm{stom}_{i,t-jL}, \qquad
        \mathrm{stoa}_{i,t} = \ln \frac{1}{12} \sum_{j=0}^{11}
        \exp \mathrm{stom}_{i,t-jL},

    a missing turnover counting as 0 in the monthly sum. A month is present
    when ``min_periods`` turnovers are; ``stom`` is NaN otherwise, and
    ``stoq`` and ``stoa`` average the months present, needing 2 of 3 and 6 of
    12. A month without trading (a sum of 0) counts as 0 in the averages; its
    ``stom``, the log of 0, is NaN. The defaults are USE4's and CNE5's
    STOM, STOQ and STOA with 21-date months.

    Parameters
    ----------
    volume : str, default="volume"
        The traded volume column (shares traded on the date, >= 0).
    shares : str, default="shares"
        The shares outstanding column (> 0).
    month_length : int, default=21
        Dates per month.
    min_periods : int, default=None
        Turnovers needed in a month; None: half the month, rounded up.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import ShareTurnover
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=4), ["A"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"volume": [1.0, 2.0, 3.0, 4.0], "shares": 100.0}, index=index)
    >>> out = ShareTurnover(month_length=2).fit_transform(X)
    >>> out["stom"].round(3).tolist()  # ln of the last two turnovers' sum
    [-4.605, -3.507, -2.996, -2.659]
    >>> out["stoq"].round(3).tolist()  # months at t and t - 2 (2 of 3 needed)
    [nan, nan, -3.507, -2.996]
    """

    _outputs = ("stom", "stoq", "stoa")
    _parameter_constraints: dict = {
        "volume": [str],
        "shares": [str],
        "month_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_periods": MIN_PERIODS,
    }

    def __init__(
        self,
        *,
        volume: str = "volume",
        shares: str = "shares",
        month_length: int = 21,
        min_periods: int | None = None,
    ) -> None:
        self.volume = volume
        self.shares = shares
        self.month_length = month_length
        self.min_periods = min_periods

    def _fields(self):
        return {"volume": self.volume, "shares": self.shares}

    def _check_params(self):
        half_window(self.month_length, self.min_periods, "month_length")

    def _describe(self, panel, fields):
        check_positive(fields["volume"], "volume", self.volume, strict=False)
        check_positive(fields["shares"], "shares", self.shares)
        length = self.month_length
        need = half_window(length, self.min_periods, "month_length")

        def kernel(g):
            # The turnover per block: the outputs then overwrite the two
            # input grids, with one grid of its own, not two.
            with np.errstate(invalid="ignore"):
                tau = g["volume"] / g["shares"]
            (total,), _, count = masked_sums([tau], ~np.isnan(tau), length)
            has = count >= need
            out = [_log(np.where(has, total, np.nan))]
            month, has = np.where(has, total, 0.0), has.astype(np.float64)
            total, present = month.copy(), has.copy()
            done = 1
            for _, n_months, needed in _AVERAGES:  # months 0..2, then 3..11
                for j in range(done, n_months):  # add the month j months back
                    total[length * j :] += month[: -length * j]
                    present[length * j :] += has[: -length * j]
                done = n_months
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = np.where(present >= needed, total / present, np.nan)
                out.append(_log(mean))
            return out

        grids = {"volume": fields["volume"], "shares": fields["shares"]}
        return by_asset(panel, grids, kernel, 3)
