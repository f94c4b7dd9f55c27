"""Beta: the half-life weighted regression on the market (BETA and HSIGMA)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.descriptors._base import (
    HALFLIFE,
    MIN_PERIODS,
    RISK_FREE,
    WINDOW,
    Descriptor,
    asset_codes,
    check_positive,
    date_values,
    half_window,
    present_terms,
    previous_date,
    scan_by_date,
    window_scan,
)
from skfactor.utils._numerics import RCOND, halflife_decay

__all__ = ["Beta", "cap_weighted_market"]


def cap_weighted_market(panel, assets, returns, cap):
    """Each date's market return: its returns weighted by the previous caps.

    The mean of the date's returns weighted by the previous date's caps: an
    asset without a row or a cap at the previous date of the panel is left
    out; NaN on a date with no such asset.
    """
    previous = previous_date(panel, cap, assets)
    ok = ~np.isnan(previous) & ~np.isnan(returns)
    dates, r, n_dates = panel.date_codes, returns, len(panel.dates)
    total = np.bincount(dates[ok], weights=previous[ok] * r[ok], minlength=n_dates)
    weight = np.bincount(dates[ok], weights=previous[ok], minlength=n_dates)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


class Beta(Descriptor):
    r"""Historical beta and residual volatility, ``beta`` and ``hsigma``.

    For each asset and date, a weighted least squares regression of the
    asset's excess return on the market's over the last ``window`` dates,

    .. math::

        r_{i,t-k} - r_{f,t-k} = \alpha + \beta_{i,t}\,(m_{t-k} - r_{f,t-k})
        + e_{t-k}, \qquad w_k \propto 0.5^{k/h},

    on the dates where both are present (:math:`t - k` counts the panel's
    dates), with ``hsigma`` :math:`= \sqrt{\sum w_k e_{t-k}^2 / \sum w_k}`.
    The market :math:`m` is ``market`` (a Series by date) or, by default,
    the mean of the date's returns weighted by the previous date's caps.
    NaN unless ``min_periods`` pairs are present, or when the market is
    constant over the window. The defaults are USE4's and CNE5's daily BETA
    and HSIGMA: 252 dates, half-life 63.

    Parameters
    ----------
    returns : str, default="returns"
        The simple returns column.
    cap : str, default="cap"
        The market capitalisation column, read only without ``market``.
    market : Series, default=None
        The market's return, indexed by date (every date of ``X``; NaN where
        missing). None: the cap-weighted mean of ``X``'s returns with the
        previous date's caps.
    window : int, default=252
        Dates in the window.
    halflife : float or None, default=63
        Half-life of the weights in dates; None for equal weights (OLS).
    min_periods : int, default=None
        Pairs needed in the window; None: half the window, rounded up.
    risk_free : str or Series, default=None
        The risk-free rate: a column of ``X`` or a Series indexed by date;
        None for zero.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.descriptors import Beta
    >>> dates = pd.bdate_range("2024-01-01", periods=5)
    >>> market = pd.Series([0.01, -0.02, 0.015, 0.0, 0.01], index=dates)
    >>> index = pd.MultiIndex.from_product([dates, ["A"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"returns": 2 * market.to_numpy()}, index=index)
    >>> Beta(market=market, window=5).fit_transform(X).round(6).iloc[-1].tolist()
    [2.0, 0.0]
    """

    _outputs = ("beta", "hsigma")
    _kernel_checks_duplicates = True
    _parameter_constraints: dict = {
        "returns": [str],
        "cap": [str],
        "market": [pd.Series, None],
        "window": WINDOW,
        "halflife": HALFLIFE,
        "min_periods": MIN_PERIODS,
        "risk_free": RISK_FREE,
    }

    def __init__(
        self,
        *,
        returns: str = "returns",
        cap: str = "cap",
        market: pd.Series | None = None,
        window: int = 252,
        halflife: float | None = 63,
        min_periods: int | None = None,
        risk_free: str | pd.Series | None = None,
    ) -> None:
        self.returns = returns
        self.cap = cap
        self.market = market
        self.window = window
        self.halflife = halflife
        self.min_periods = min_periods
        self.risk_free = risk_free

    def _fields(self):
        if self.market is None:
            return {"returns": self.returns, "cap": self.cap}
        return {"returns": self.returns}

    def _describe(self, panel, fields):
        if self.market is None:
            check_positive(fields["cap"], "cap", self.cap)
            market = cap_weighted_market(
                panel, asset_codes(panel), fields["returns"], fields["cap"]
            )
        else:
            market = date_values(self.market, panel, "market")
        rf, risk_free = fields["risk_free"], self.risk_free
        rows, dates_only = {"y": fields["returns"]}, {"m": market}
        if not (np.isscalar(rf) and rf == 0.0):  # without one, no copies
            rows["y"] = rows["y"] - rf
            if isinstance(risk_free, pd.Series):  # the market's, by date too
                dates_only["m"] = market - date_values(risk_free, panel, "risk_free")
            else:  # a column: the rate may differ by row
                rows["m"] = market[panel.date_codes] - rf
                del dates_only["m"]
        decay = halflife_decay(self.halflife)
        need = half_window(self.window, self.min_periods)
        # Terms: y, m, y*y, m*m, y*m where both are present, weights, count.
        scan = window_scan(panel, self.window, [decay] * 6 + [1.0])

        def fill(X, put):
            put(0, "y")
            put(1, "m")
            present_terms(X, [0, 1], [5, 6])
            for j, (a, b) in enumerate(((0, 0), (1, 1), (0, 1)), start=2):
                np.multiply(X[:, a], X[:, b], out=X[:, j])

        def finish(S):
            # In place on the chunk (its sums are not needed after): the
            # weighted moments, then beta into term 0 and hsigma into term 1.
            sy, sm, syy, smm, sym, weight, count = (S[:, j] for j in range(7))
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(1.0, weight, out=weight)
                for moment in (sy, sm, syy, smm, sym):  # the weighted means
                    moment *= weight  # (one call each: 1.5x a broadcast one)
                m_var = np.multiply(sm, sm)
                np.subtract(smm, m_var, out=m_var)
                sm *= sy
                cov = np.subtract(sym, sm, out=sym)
                sy *= sy
                y_var = np.subtract(syy, sy, out=syy)
                beta = np.divide(cov, m_var, out=S[:, 0])
                cov *= beta
                y_var -= cov
                np.maximum(y_var, 0.0, out=y_var)
                np.sqrt(y_var, out=S[:, 1])  # hsigma
                # A market (nearly) constant over the window: no slope.
                smm *= RCOND
                bad = np.less_equal(m_var, smm)  # NaN only where count is 0
            bad |= count < need
            np.copyto(S[:, :2], np.nan, where=bad[:, None])

        return scan_by_date(panel, rows, scan, fill, finish, 2, dates_only=dates_only)
