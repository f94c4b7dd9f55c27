"""fama_french_factors: SMB and HML from the 2x3 size/value sort."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.panel._buckets import bucket_means, fraction_thresholds, rank_buckets
from skfactor.panel._segments import Segments
from skfactor.panel._validation import check_finite, check_panel_index, date_codes
from skfactor.portfolio._quantile import _check_breakpoints
from skfactor.utils._warnings import warn

__all__ = ["fama_french_factors"]

PORTFOLIOS = ["SL", "SM", "SH", "BL", "BM", "BH"]


def _aligned(name, s, index):
    if not isinstance(s, pd.Series):
        raise TypeError(
            f"`{name}` must be a pandas Series on a (date, asset) MultiIndex; got "
            f"{type(s).__name__}."
        )
    if index is not None and not s.index.equals(index):
        raise ValueError(
            f"`size` and `{name}` have different indexes; all inputs must list the "
            f"same (date, asset) rows in the same order. Align them first, e.g. "
            f"`{name} = {name}.reindex(size.index)`."
        )
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise ValueError(f"`{name}` must be numeric; got dtype {s.dtype}.")
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(values, name)
    return values


def fama_french_factors(
    size: pd.Series,
    value: pd.Series,
    returns: pd.Series,
    *,
    market_cap: pd.Series | None = None,
    size_breakpoint: float = 0.5,
    value_breakpoints: tuple[float, float] = (0.3, 0.7),
    return_portfolios: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    r"""Fama-French SMB and HML from independent 2x3 size and value sorts.

    On each date, over the assets whose ``size``, ``value`` and ``market_cap``
    are all known, assets are split by the percentile rank
    :math:`p = r / n` of their size (average rank :math:`r`, ties averaged) into
    small (:math:`p \le 0.5`) and big, and independently by the percentile rank
    of their value characteristic (book-to-price) into low
    (:math:`p \le 0.3`), medium and high (:math:`p > 0.7`): the rule of
    :class:`QuantilePortfolioFactor`. The six intersections are value-weighted
    by ``market_cap``, and

    .. math::

        \mathrm{SMB} = \tfrac13(SL + SM + SH) - \tfrac13(BL + BM + BH), \qquad
        \mathrm{HML} = \tfrac12(SH + BH) - \tfrac12(SL + BL).

    A portfolio member whose return is NaN is left out of its portfolio (the
    others re-weighted); on a date where one of the six portfolios is empty or
    has no return, the factors built from it (SMB always, HML unless the
    portfolio is SM or BM) are NaN, with one warning naming how many dates.

    Parameters
    ----------
    size : Series of shape (n_rows,)
        Size characteristic on a (date, asset) MultiIndex, usually the market
        capitalisation itself.
    value : Series of shape (n_rows,)
        Value characteristic (book-to-price), same index as ``size``.
    returns : Series of shape (n_rows,)
        Each row's return over the holding period, same index.
    market_cap : Series of shape (n_rows,), default=None
        Non-negative value weights, same index; None uses ``size``.
    size_breakpoint : float, default=0.5
        Percentile cut between small and big, in (0, 1).
    value_breakpoints : (float, float), default=(0.3, 0.7)
        Percentile cuts between low, medium and high value, increasing, in
        (0, 1). The defaults are Fama-French's.
    return_portfolios : bool, default=False
        Also return the six portfolios' returns.

    Returns
    -------
    factors : DataFrame of shape (n_dates, 2)
        Columns ``SMB`` and ``HML``, indexed by date.
    portfolios : DataFrame of shape (n_dates, 6)
        Only with ``return_portfolios``: ``SL, SM, SH, BL, BM, BH`` (size
        small/big, value low/medium/high).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.portfolio import fama_french_factors
    >>> rng = np.random.default_rng(0)
    >>> idx = pd.MultiIndex.from_product([range(3), range(100)],
    ...                                  names=["date", "asset"])
    >>> cap = pd.Series(rng.lognormal(7, 1.5, 300), index=idx)
    >>> btp = pd.Series(rng.lognormal(-0.5, 0.6, 300), index=idx)
    >>> ret = pd.Series(rng.normal(0, 0.02, 300), index=idx)
    >>> fama_french_factors(cap, btp, ret).columns.tolist()
    ['SMB', 'HML']
    """
    index = size.index if isinstance(size, pd.Series) else None
    s = _aligned("size", size, None)
    if not isinstance(index, pd.MultiIndex):
        raise ValueError(
            "`size` must be indexed by a (date, asset) MultiIndex; got "
            f"{type(index).__name__}."
        )
    check_panel_index(index, "size")
    v = _aligned("value", value, index)
    r = _aligned("returns", returns, index)
    cap = s if market_cap is None else _aligned("market_cap", market_cap, index)
    if np.nanmin(cap, initial=0.0) < 0:
        raise ValueError(
            "`market_cap` has negative values; value weights must be >= 0. Pass the "
            "market capitalisation (not its log) as `market_cap`."
        )
    size_cuts = _check_breakpoints(size_breakpoint)
    value_cuts = _check_breakpoints(value_breakpoints)
    if len(size_cuts) != 1 or len(value_cuts) != 2:
        raise ValueError(
            "`size_breakpoint` must be one fraction and `value_breakpoints` two, for "
            f"the 2x3 sort; got {size_breakpoint!r} and {value_breakpoints!r}."
        )
    codes, dates = date_codes(index)
    seg = Segments(codes, len(dates))
    s, v, r, cap = (seg.sort(a) for a in (s, v, r, cap))
    known = ~(np.isnan(s) | np.isnan(v) | np.isnan(cap))
    s = np.where(known, s, np.nan)
    v = np.where(known, v, np.nan)
    n = seg.count(s)
    size_group = rank_buckets(seg, s, fraction_thresholds(n, size_cuts))
    value_group = rank_buckets(seg, v, fraction_thresholds(n, value_cuts))
    group = np.where(known, size_group * 3 + value_group, -1)
    six, _ = bucket_means(seg, group, 6, r, cap)
    smb = six[:, :3].mean(axis=1) - six[:, 3:].mean(axis=1)
    hml = six[:, [2, 5]].mean(axis=1) - six[:, [0, 3]].mean(axis=1)
    missing = np.isnan(six).any(axis=1)
    if missing.any():
        warn(
            f"{int(missing.sum())} of {len(dates)} dates lack one of the six "
            "size/value portfolios (too few assets, or no returns); the factors "
            "built from a missing portfolio are NaN on those dates."
        )
    factors = pd.DataFrame({"SMB": smb, "HML": hml}, index=dates)
    if not return_portfolios:
        return factors
    return factors, pd.DataFrame(six, index=dates, columns=PORTFOLIOS)
