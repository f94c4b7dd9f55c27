"""Realised return attribution: a portfolio's return split into factor contributions."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from skfactor.panel._validation import check_panel_index
from skfactor.risk._model import portfolio_argument

__all__ = ["ReturnAttribution", "return_attribution"]


@dataclass(frozen=True)
class ReturnAttribution:
    r"""A portfolio's realised return, date by date, split by factor.

    Attributes
    ----------
    portfolio_exposures : DataFrame of shape (n_dates, n_factors)
        The portfolio's exposure to each factor on each date,
        :math:`x_{t,k} = \sum_i w_{i,t} B_{i,t,k}` (before the lag); not the
        assets' exposures :math:`B`. ``exposures`` is its older name, still
        readable.
    contributions : DataFrame of shape (n_dates, n_factors + 3)
        One column per factor (:math:`x_{t-\ell,k} f_{t,k}`), then
        ``common`` (their sum), ``specific`` (``total - common``) and
        ``total`` (the portfolio's return). ``factors + specific == total``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.risk import return_attribution
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2], ["a", "b"]], names=["date", "asset"]
    ... )
    >>> B = pd.DataFrame({"mkt": [1.0, 1.0, 1.0, 1.0]}, index=idx)
    >>> w = pd.Series([0.5, 0.5, 0.5, 0.5], index=idx)
    >>> r = pd.Series([0.0, 0.0, 0.02, 0.04], index=idx)
    >>> F = pd.DataFrame({"mkt": [0.0, 0.025]}, index=[1, 2])
    >>> result = return_attribution(w, B, F, r)
    >>> result.cumulative["total"].round(4).tolist()
    [0.0, 0.03]
    """

    portfolio_exposures: pd.DataFrame
    contributions: pd.DataFrame

    @property
    def exposures(self) -> pd.DataFrame:
        """``portfolio_exposures``, by its older name."""
        return self.portfolio_exposures

    @property
    def cumulative(self):
        """Running sums of :attr:`contributions` (arithmetic, NaN counted as 0).

        Returns
        -------
        DataFrame of shape (n_dates, n_factors + 3)
            Each column's cumulative sum; the factor columns and ``specific``
            add up to ``total`` on every date.
        """
        return self.contributions.fillna(0.0).cumsum()


def _long(obj, name):
    """A (date, asset) Series from a long Series or a wide date x asset frame."""
    if isinstance(obj, pd.DataFrame) and not isinstance(obj.index, pd.MultiIndex):
        if not obj.index.is_unique:
            raise ValueError(f"`{name}` has duplicate dates; give one row per date.")
        return obj.stack(future_stack=True).dropna()
    if isinstance(obj, pd.DataFrame):
        if obj.shape[1] != 1:
            raise ValueError(
                f"`{name}` is a long frame with {obj.shape[1]} columns; give a "
                "Series of one value per (date, asset)."
            )
        obj = obj.iloc[:, 0]
    if not isinstance(obj, pd.Series) or not isinstance(obj.index, pd.MultiIndex):
        raise TypeError(
            f"`{name}` must be a (date, asset) Series or a wide date x asset "
            f"DataFrame; got {type(obj).__name__}."
        )
    check_panel_index(obj.index, name)
    return obj.astype(np.float64).dropna()


def _layout(index):
    pairs = zip(index.names, index.levels, strict=True)
    return ", ".join(f"{name!r}: {level.dtype}" for name, level in pairs)


def _on_keys_of(w, keys, dates, name):
    """The weights on the exposures' level names, matched by level position.

    Both are (date, asset) panels (checked), so their levels pair up by
    position whatever they are named. Refused when no held row has exposures
    or no holding date is a date of ``factor_returns``: the keys then differ
    in kind (e.g. dates as strings in one, datetimes in the other).
    """
    given = _layout(w.index)
    w = w.copy(deep=False)
    w.index = w.index.set_names(keys.names)
    held = w.index[w.to_numpy() != 0]
    if len(held) and not held.isin(keys).any():
        raise ValueError(
            f"No held (date, asset) row of `{name}` has a row in `exposures`: "
            f"their levels are ({given}) and ({_layout(keys)}), matched by "
            "position. Give both the same kinds of dates and asset labels "
            "(e.g. datetimes and the same tickers).",
        )
    if len(held) and not held.get_level_values(0).isin(dates).any():
        raise ValueError(
            f"No holding date of `{name}` is a date of `factor_returns`: their "
            f"dates are {held.levels[0].dtype} and {dates.dtype}, e.g. "
            f"{held[0][0]!r} and {dates[0]!r}. Give both the same kind of dates."
        )
    return w


def _wide(long, dates):
    return long.unstack(level=1).reindex(dates)


def return_attribution(
    portfolio: pd.Series | pd.DataFrame | None = None,
    exposures: pd.DataFrame | None = None,
    factor_returns: pd.DataFrame | None = None,
    returns: pd.Series | pd.DataFrame | None = None,
    lag: int = 1,
    *,
    weights: pd.Series | pd.DataFrame | None = None,
) -> ReturnAttribution:
    r"""Split a portfolio's realised returns into factor and specific parts.

    With portfolio weights :math:`w_{i,t}`, exposures :math:`B_{i,t,k}`, factor
    returns :math:`f_{t,k}` and lag :math:`\ell` (in dates of
    ``factor_returns``), the portfolio held from date :math:`t - \ell` earns
    on date :math:`t`

    .. math::

        R_t = \sum_i w_{i,t-\ell} r_{i,t}
            = \sum_k \underbrace{x_{t-\ell,k} f_{t,k}}_{\text{factor } k}
              + \underbrace{\epsilon_t}_{\text{specific}}, \qquad
        x_{t,k} = \sum_i w_{i,t} B_{i,t,k},

    the specific return being what the factors do not explain. ``lag=1`` is
    the usual timing: yesterday's holdings and exposures, today's returns.
    ``lag=0`` is empyrical's ``perf_attrib`` convention (same-date weights,
    exposures and returns).

    Parameters
    ----------
    portfolio : Series or DataFrame
        The portfolio's asset weights: a (date, asset) Series or a wide
        date x asset frame (e.g.
        :meth:`~skfactor.QuantilePortfolioFactor.portfolio_weights`).
        Its levels are matched to those of ``exposures`` by position (date,
        then asset), whatever their names. A (date, asset) row without a
        weight is not held (weight 0), so the weights may cover only some
        rows; no held row with exposures is an error.
    exposures : DataFrame of shape (n_rows, n_factors)
        Asset exposures (loadings) on a (date, asset) MultiIndex, one column
        per factor. A missing exposure counts as 0 (as in empyrical).
    factor_returns : DataFrame of shape (n_dates, n_factors)
        Factor returns by date, the same factor columns; its dates are the
        dates of the result and the calendar of ``lag``.
    returns : Series or DataFrame
        Asset returns — a (date, asset) Series or a wide date x asset frame —
        from which the portfolio's return is computed, or the portfolio's own
        returns as a Series indexed by date. A held asset without a return
        makes that date's total NaN.
    lag : int, default=1
        Dates between the holdings (and their exposures) and the returns they
        earn, at least 0.
    weights : Series or DataFrame, default=None
        Older spelling of ``portfolio``, still accepted.

    Returns
    -------
    ReturnAttribution
        ``portfolio_exposures`` (date x factor), ``contributions`` (date x factors,
        ``common``, ``specific``, ``total``) and ``cumulative``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2], ["a", "b"]], names=["date", "asset"]
    ... )
    >>> B = pd.DataFrame({"mkt": [1.0, 1.0, 1.0, 1.0]}, index=idx)
    >>> w = pd.Series([0.5, 0.5, 0.5, 0.5], index=idx)
    >>> r = pd.Series([0.0, 0.0, 0.02, 0.04], index=idx)
    >>> F = pd.DataFrame({"mkt": [0.0, 0.025]}, index=[1, 2])
    >>> return_attribution(w, B, F, r).contributions.loc[2].round(4).tolist()
    [0.025, 0.025, 0.005, 0.03]
    """
    portfolio, name = portfolio_argument(portfolio, weights)
    if returns is None:
        raise TypeError("`returns` is required: the asset or portfolio returns.")
    if not isinstance(lag, numbers.Integral) or isinstance(lag, bool) or lag < 0:
        raise ValueError(f"`lag` must be an integer >= 0; got {lag!r}.")
    if not isinstance(factor_returns, pd.DataFrame) or isinstance(
        factor_returns.index, pd.MultiIndex
    ):
        raise TypeError(
            "`factor_returns` must be a date x factor DataFrame; got "
            f"{type(factor_returns).__name__}."
        )
    if not isinstance(exposures, pd.DataFrame) or not isinstance(
        exposures.index, pd.MultiIndex
    ):
        raise TypeError(
            "`exposures` must be a (date, asset) x factor DataFrame; got "
            f"{type(exposures).__name__}."
        )
    missing = [c for c in factor_returns.columns if c not in exposures.columns]
    if missing:
        raise ValueError(
            f"`exposures` lacks the factors {missing} of `factor_returns`; give "
            "both the same factor columns."
        )
    check_panel_index(exposures.index, "exposures")
    dates = factor_returns.index.sort_values()
    factors = list(factor_returns.columns)
    w = _on_keys_of(_long(portfolio, name), exposures.index, dates, name)
    B = exposures[factors].astype(np.float64)
    # Each held row's exposures (a row without exposures counts as 0).
    x = B.reindex(w.index).fillna(0.0).mul(w, axis=0).groupby(level=0).sum()
    held = w.groupby(level=0).size().reindex(dates)
    x = x.reindex(dates)
    x[held.isna().to_numpy()] = np.nan  # no holdings that date: no exposure
    F = factor_returns.reindex(dates).astype(np.float64)
    by_factor = x.shift(lag) * F
    total = _portfolio_return(w, returns, dates, lag)
    common = by_factor.sum(axis=1, min_count=1)
    out = by_factor.assign(common=common, specific=total - common, total=total)
    out.index.name = x.index.name = dates.name
    return ReturnAttribution(portfolio_exposures=x, contributions=out)


def _portfolio_return(w, returns, dates, lag):
    """Sum of the lagged weights times the returns, by date (NaN if one is missing)."""
    if isinstance(returns, pd.Series) and not isinstance(returns.index, pd.MultiIndex):
        return returns.astype(np.float64).reindex(dates)
    r = _wide(_long(returns, "returns"), dates)
    W = _wide(w, dates)
    W = W.shift(lag).reindex(columns=W.columns.union(r.columns))
    r = r.reindex(columns=W.columns)
    held = W.fillna(0.0).to_numpy() != 0
    total = np.nansum(W.to_numpy() * r.to_numpy(), axis=1)
    broken = (held & np.isnan(r.to_numpy())).any(axis=1) | W.isna().all(axis=1)
    return pd.Series(np.where(broken, np.nan, total), index=dates)
