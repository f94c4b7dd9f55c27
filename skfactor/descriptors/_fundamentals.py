r"""Fundamental descriptors: value, earnings yield, leverage and growth (USE4/CNE5).

Each is a row-by-row formula on columns of a (date, asset) panel (reported
fields already aligned point in time, e.g. by :class:`PointInTime`, and the
market cap of the row's date). A denominator that is not > 0 (market cap,
book value, assets, the growth scale) gives NaN; NaN in gives NaN out.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from skfactor.descriptors._columns import ColumnDescriptor, ratio
from skfactor.utils._sklearn import StrOptions

__all__ = ["BookToPrice", "EarningsYield", "Growth", "Leverage"]


class BookToPrice(ColumnDescriptor):
    r"""Book-to-price: ``btop`` = book value of common equity / market cap.

    .. math:: \mathrm{btop} = \frac{\mathrm{book}}{\mathrm{cap}}

    (USE4, CNE5). NaN where ``cap`` is not > 0 or either is NaN; a negative
    book value gives a negative ratio.

    Parameters
    ----------
    book : str or int, default="book"
        Column of book values (as known at the row's date).
    cap : str or int, default="cap"
        Column of market caps, in the same currency units.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import BookToPrice
    >>> X = pd.DataFrame({"book": [5.0, -1.0], "cap": [10.0, 0.0]})
    >>> BookToPrice().fit_transform(X)
       btop
    0   0.5
    1   NaN
    """

    _inputs = ("book", "cap")
    _parameter_constraints: dict = {"book": [str, int], "cap": [str, int]}

    def __init__(self, *, book: str | int = "book", cap: str | int = "cap") -> None:
        self.book = book
        self.cap = cap

    def _compute(self, c):
        return {"btop": ratio(c["book"], c["cap"])}


class EarningsYield(ColumnDescriptor):
    r"""Earnings yield: ``etop``, ``cetop`` and (with forecasts) ``epfwd``.

    .. math::

        \mathrm{etop} = \frac{E^{\mathrm{TTM}}}{\mathrm{cap}}, \qquad
        \mathrm{cetop} = \frac{CE^{\mathrm{TTM}}}{\mathrm{cap}}, \qquad
        \mathrm{epfwd} = \frac{E^{\mathrm{fwd}}}{\mathrm{cap}}

    with :math:`E^{\mathrm{TTM}}` and :math:`CE^{\mathrm{TTM}}` the
    trailing-twelve-month earnings and cash earnings (e.g. made by
    ``PointInTime(ttm=["earnings", "cash_earnings"])``, which writes the sums
    under the fields' own names) and :math:`E^{\mathrm{fwd}}` the forecast
    twelve-month earnings (USE4, CNE5). NaN where ``cap`` is not > 0.

    Parameters
    ----------
    earnings : str or int, default="earnings"
        Column of trailing-twelve-month earnings; None: no ``etop``.
    cash_earnings : str or int, default="cash_earnings"
        Column of trailing-twelve-month cash earnings; None: no ``cetop``.
    forecast_earnings : str or int, default=None
        Column of forecast earnings; when given, ``epfwd`` is made.
    cap : str or int, default="cap"
        Column of market caps.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import EarningsYield
    >>> X = pd.DataFrame({"earnings": [1.0], "cash_earnings": [2.0], "cap": [20.0]})
    >>> EarningsYield().fit_transform(X).to_numpy().tolist()
    [[0.05, 0.1]]
    """

    _inputs = ("earnings", "cash_earnings", "forecast_earnings", "cap")
    _parameter_constraints: dict = {
        "earnings": [str, int, None],
        "cash_earnings": [str, int, None],
        "forecast_earnings": [str, int, None],
        "cap": [str, int],
    }

    def __init__(
        self,
        *,
        earnings: str | int | None = "earnings",
        cash_earnings: str | int | None = "cash_earnings",
        forecast_earnings: str | int | None = None,
        cap: str | int = "cap",
    ) -> None:
        self.earnings = earnings
        self.cash_earnings = cash_earnings
        self.forecast_earnings = forecast_earnings
        self.cap = cap

    def _compute(self, c):
        names = (
            ("forecast_earnings", "epfwd"),
            ("cash_earnings", "cetop"),
            ("earnings", "etop"),
        )
        out = {out: ratio(c[src], c["cap"]) for src, out in names if src in c}
        return {k: out[k] for k in ("etop", "cetop", "epfwd") if k in out}


class Leverage(ColumnDescriptor):
    r"""Leverage: market leverage, debt to assets and book leverage (USE4, CNE5).

    .. math::

        \mathrm{mlev} = \frac{ME + PE + LD}{ME}, \qquad
        \mathrm{dtoa} = \frac{TD}{TA}, \qquad
        \mathrm{blev} = \frac{BE + PE + LD}{BE}

    with :math:`ME` the market cap, :math:`PE` the book value of preferred
    equity, :math:`LD` long-term debt, :math:`TD` total debt, :math:`TA`
    total assets and :math:`BE` the book value of common equity. The notes
    do not say what a missing :math:`PE` or :math:`LD` means; here a NaN in
    a column listed in ``missing_as_zero`` counts as 0 (by default preferred
    equity, which most companies do not have and databases leave blank),
    any other NaN gives NaN. ``blev`` is NaN where the book value is not > 0
    (a ratio to a negative equity has no meaning), ``mlev`` where the cap is
    not > 0, ``dtoa`` where the assets are not > 0.

    Parameters
    ----------
    cap, book, preferred, long_term_debt, total_debt, assets : str or int
        Their columns (defaults: their names). ``preferred=None``: no such
        column, counted as 0.
    missing_as_zero : list of {"preferred", "long_term_debt"}, default=("preferred",)
        Whose NaN counts as 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import Leverage
    >>> X = pd.DataFrame({"cap": [10.0], "book": [5.0], "preferred": [float("nan")],
    ...                   "long_term_debt": [5.0], "total_debt": [6.0],
    ...                   "assets": [12.0]})
    >>> Leverage().fit_transform(X).to_numpy().tolist()
    [[1.5, 0.5, 2.0]]
    """

    _inputs = ("cap", "book", "preferred", "long_term_debt", "total_debt", "assets")
    _parameter_constraints: dict = {
        **dict.fromkeys(_inputs, [str, int]),
        "preferred": [str, int, None],
        "missing_as_zero": [list, tuple],
    }

    def __init__(
        self,
        *,
        cap: str | int = "cap",
        book: str | int = "book",
        preferred: str | int | None = "preferred",
        long_term_debt: str | int = "long_term_debt",
        total_debt: str | int = "total_debt",
        assets: str | int = "assets",
        missing_as_zero: Sequence[str] = ("preferred",),
    ) -> None:
        self.cap = cap
        self.book = book
        self.preferred = preferred
        self.long_term_debt = long_term_debt
        self.total_debt = total_debt
        self.assets = assets
        self.missing_as_zero = missing_as_zero

    def _compute(self, c):
        allowed = {"preferred", "long_term_debt"}
        unknown = set(self.missing_as_zero) - allowed
        if unknown:
            raise ValueError(
                f"`missing_as_zero` may hold {sorted(allowed)}; got {sorted(unknown)}."
            )
        pe, ld = c.get("preferred", 0.0), c["long_term_debt"]
        if "preferred" in self.missing_as_zero and "preferred" in c:
            pe = np.where(np.isnan(pe), 0.0, pe)
        if "long_term_debt" in self.missing_as_zero:
            ld = np.where(np.isnan(ld), 0.0, ld)
        cap, book = c["cap"], c["book"]
        return {
            "mlev": ratio(cap + pe + ld, cap),
            "dtoa": ratio(c["total_debt"], c["assets"]),
            "blev": ratio(book + pe + ld, book),
        }


class Growth(ColumnDescriptor):
    r"""Growth: ``sgro`` and ``egro``, the trend of five fiscal years (USE4, CNE5).

    The last ``years`` fiscal years' sales per share (for ``egro``, earnings
    per share) :math:`y_0` (latest), :math:`y_1`, ..., :math:`y_{n-1}` are
    regressed on time :math:`t_k = -k` (years); the slope is divided by a
    scale :math:`s`:

    .. math::

        \mathrm{sgro} = \frac{1}{s}
        \frac{\sum_k (t_k - \bar t)(y_k - \bar y)}{\sum_k (t_k - \bar t)^2}.

    ``scale="abs_mean"`` (default): :math:`s = |\bar y|`; ``"mean"``:
    :math:`s = \bar y` (USE4's words, "divided by the average annual sales
    per share"); ``"mean_abs"``: the mean of the :math:`|y_k|`. They agree
    when every value is positive (sales always are); for EPS averaging below
    0, dividing by a negative mean would turn rising earnings into negative
    growth, so the default takes its absolute value (as CNE6-style
    implementations do). NaN where a year is missing or :math:`s` is 0.

    The columns read are ``f`` (the latest year) and ``f"{f}_{k}y"``,
    ``k = 1 ... years - 1``, for ``f`` = ``sales_per_share`` and ``eps``:
    what ``PointInTime(history=[...], history_years=years)`` makes.

    Parameters
    ----------
    sales_per_share : str, default="sales_per_share"
        Prefix of the sales-per-share columns; None: no ``sgro``.
    eps : str, default="eps"
        Prefix of the earnings-per-share columns; None: no ``egro``.
    years : int, default=5
        Fiscal years in the regression.
    scale : {"abs_mean", "mean", "mean_abs"}, default="abs_mean"
        What the slope is divided by.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import Growth
    >>> X = pd.DataFrame([[5.0, 4.0, 3.0, 2.0, 1.0]],
    ...                  columns=["sales_per_share"] + [f"sales_per_share_{k}y"
    ...                                                 for k in range(1, 5)])
    >>> Growth(eps=None).fit_transform(X).to_numpy().tolist()  # slope 1 / mean 3
    [[0.3333333333333333]]
    """

    _parameter_constraints: dict = {
        "sales_per_share": [str, None],
        "eps": [str, None],
        "years": [numbers.Integral],
        "scale": [StrOptions({"abs_mean", "mean", "mean_abs"})],
    }

    def __init__(
        self,
        *,
        sales_per_share: str | None = "sales_per_share",
        eps: str | None = "eps",
        years: int = 5,
        scale: str = "abs_mean",
    ) -> None:
        self.sales_per_share = sales_per_share
        self.eps = eps
        self.years = years
        self.scale = scale

    def _series(self):
        if self.years < 2:
            raise ValueError(f"`years` must be an integer >= 2; got {self.years}.")
        for param, out in (("sales_per_share", "sgro"), ("eps", "egro")):
            prefix = getattr(self, param)
            if prefix is not None:
                names = [prefix] + [f"{prefix}_{k}y" for k in range(1, self.years)]
                yield param, out, names

    def _fields(self):
        return {
            f"{param}/{k}": name
            for param, _, names in self._series()
            for k, name in enumerate(names)
        }

    def _param_of(self, field):
        return field.split("/")[0]

    def _output_names(self):
        return [out for _, out, _ in self._series()]

    def _describe(self, panel, fields):
        columns = [
            self._trend(
                np.column_stack([fields[f"{param}/{k}"] for k in range(len(names))])
            )
            for param, _, names in self._series()
        ]
        return np.column_stack(columns) if columns else np.empty((len(panel.values), 0))

    def _trend(self, Y):
        t = -np.arange(Y.shape[1], dtype=float)
        tc = t - t.mean()
        mean = Y.mean(axis=1)  # NaN if a year is missing
        slope = (Y - mean[:, None]) @ tc / (tc @ tc)
        s = {"abs_mean": np.abs(mean), "mean": mean}.get(self.scale)
        if s is None:
            s = np.abs(Y).mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s != 0, slope / np.where(s != 0, s, 1.0), np.nan)
