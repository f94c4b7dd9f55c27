"""How fast a factor decays and how much it trades: rank autocorrelation, turnover."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from skfactor.metrics._ic import _column, ic_summary, information_coefficient
from skfactor.metrics._quantile_returns import check_quantile_args, quantile_buckets
from skfactor.panel._ranks import rank
from skfactor.panel._returns import forward_returns
from skfactor.panel._segments import Segments
from skfactor.panel._validation import check_panel_index, date_codes

__all__ = ["ic_decay", "quantile_labels", "quantile_turnover", "rank_autocorrelation"]


def _check_periods(periods, name="periods"):
    if (
        not isinstance(periods, numbers.Integral)
        or isinstance(periods, bool)
        or periods < 1
    ):
        raise ValueError(f"`{name}` must be an integer >= 1; got {periods!r}.")


def _panel(factor):
    """Values, segments, dates and asset codes of a (date, asset) factor Series."""
    values, index = _column(factor, "factor")
    if not isinstance(index, pd.MultiIndex):
        raise ValueError(
            "`factor` must be a Series with a (date, asset) MultiIndex; got "
            f"{type(factor).__name__} without one. Stack a wide frame first, "
            "e.g. `wide.stack()`."
        )
    check_panel_index(index, "factor")
    codes, dates = date_codes(index)
    assets = np.asarray(index.codes[1], dtype=np.intp)
    return values, Segments(codes, len(dates)), dates, assets, len(index.levels[1])


def _grid(segments, sorted_values, assets, n_assets, fill):
    """Date x asset grid of per-row values given in segment order."""
    grid = np.full((segments.n_segments, n_assets), fill, dtype=sorted_values.dtype)
    grid[segments.segment_of_row, segments.sort(assets)] = sorted_values
    return grid


def quantile_labels(
    factor: pd.Series, n_quantiles: int = 5, *, rule: str = "rank"
) -> pd.Series:
    r"""Quantile of each row on its date, as :class:`~skfactor.QuantilePortfolioFactor`.

    With :math:`r` the average rank (ties averaged) among the :math:`n`
    values of the date and :math:`p = r/n`, quantile :math:`k` holds
    :math:`(k-1)/q < p \le k/q`. With ``rule="qcut"``, the quantiles of
    ``pd.qcut`` per date instead (alphalens' ``quantize_factor``), and this
    rank rule on the dates where ``pd.qcut`` fails.

    Parameters
    ----------
    factor : Series of shape (n_rows,)
        Factor values on a (date, asset) MultiIndex; NaN is not ranked.
    n_quantiles : int, default=5
        Number of quantiles :math:`q`, at least 2.
    rule : {"rank", "qcut"}, default="rank"
        The rank rule above, or ``pd.qcut``'s (see
        :func:`quantile_returns`).

    Returns
    -------
    labels : Series of shape (n_rows,)
        1 (lowest) to ``n_quantiles`` (highest), NaN where ``factor`` is NaN,
        on ``factor``'s index.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1], ["a", "b", "c", "d"]], names=["date", "asset"]
    ... )
    >>> quantile_labels(pd.Series([4.0, 1, 3, 2], index=idx), 2).tolist()
    [2.0, 1.0, 2.0, 1.0]
    """
    labels, _ = _labels(factor, n_quantiles, rule)
    return labels


def _labels(factor, n_quantiles, rule="rank"):
    check_quantile_args(n_quantiles, rule)
    values, seg, dates, assets, n_assets = _panel(factor)
    bucket = quantile_buckets(seg, seg.sort(values), n_quantiles, rule)  # 0: NaN
    out = seg.unsort(np.where(bucket > 0, bucket, np.nan))
    labels = pd.Series(out, index=factor.index, name="quantile")
    return labels, (seg, bucket.astype(np.intp), dates, assets, n_assets)


def rank_autocorrelation(factor: pd.Series, periods: int = 1) -> pd.Series:
    r"""Correlation of each date's factor ranks with those ``periods`` dates earlier.

    On each date the assets are ranked (average ranks, ties averaged, among
    the assets with a value that date); the rank autocorrelation of date
    :math:`t` is the Pearson correlation, across the assets ranked on both
    :math:`t` and :math:`t - h`, of the two dates' ranks. A slowly moving
    factor has a value near 1 and trades little.

    Parameters
    ----------
    factor : Series of shape (n_rows,)
        Factor values on a (date, asset) MultiIndex (rows in any order).
    periods : int, default=1
        Lag :math:`h`, counted in the **panel's dates** (alphalens counts on
        the index's calendar frequency when it has one).

    Returns
    -------
    autocorrelation : Series of shape (n_dates,)
        Indexed by the sorted dates; NaN on the first ``periods`` dates, and
        where fewer than two assets are ranked on both dates or either side
        is constant.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2], ["a", "b", "c"]], names=["date", "asset"]
    ... )
    >>> rank_autocorrelation(pd.Series([1.0, 2, 3, 1, 3, 2], index=idx)).tolist()
    [nan, 0.5]
    """
    _check_periods(periods)
    values, seg, dates, assets, n_assets = _panel(factor)
    ranks = _grid(seg, rank(seg, seg.sort(values)), assets, n_assets, np.nan)
    now, before = ranks[periods:], ranks[: max(len(ranks) - periods, 0)]
    both = ~(np.isnan(now) | np.isnan(before))
    a, b = np.where(both, now, np.nan), np.where(both, before, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = both.sum(axis=1)
        # Means as sums / counts: an all-NaN date gives NaN, not a warning.
        da = a - (np.nansum(a, axis=1) / n)[:, None]
        db = b - (np.nansum(b, axis=1) / n)[:, None]
        num = np.nansum(da * db, axis=1)
        den = np.sqrt(np.nansum(da * da, axis=1) * np.nansum(db * db, axis=1))
        r = np.where(n >= 2, num / den, np.nan)
    out = np.full(len(dates), np.nan)
    out[periods:] = np.clip(r, -1.0, 1.0)
    return pd.Series(out, index=dates, name="rank_autocorrelation")


def quantile_turnover(
    factor: pd.Series, n_quantiles: int = 5, periods: int = 1, *, rule: str = "rank"
) -> pd.DataFrame:
    r"""Share of each quantile's assets that were not in it ``periods`` dates earlier.

    Quantiles are those of :func:`quantile_labels` (by default the rule of
    :class:`~skfactor.QuantilePortfolioFactor`; ``rule="qcut"``: alphalens').
    For quantile :math:`k` and
    date :math:`t`, with :math:`S_{k,t}` its assets,

    .. math::

        \mathrm{turnover}_{k,t} = |S_{k,t} \setminus S_{k,t-h}| / |S_{k,t}|.

    Parameters
    ----------
    factor : Series of shape (n_rows,)
        Factor values on a (date, asset) MultiIndex (rows in any order).
    n_quantiles : int, default=5
        Number of quantiles, at least 2.
    periods : int, default=1
        Lag :math:`h`, counted in the **panel's dates** (alphalens counts on
        the index's calendar frequency when it has one).
    rule : {"rank", "qcut"}, default="rank"
        How each date is cut into quantiles, as in :func:`quantile_labels`.

    Returns
    -------
    turnover : DataFrame of shape (n_dates, n_quantiles)
        Indexed by the sorted dates, one column per quantile (1 the lowest);
        NaN on the first ``periods`` dates, where the quantile is empty, and
        where every value ``periods`` dates earlier is NaN (as
        :func:`rank_autocorrelation`; alphalens would instead compare with
        the last date that had values).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1, 2], ["a", "b", "c", "d"]], names=["date", "asset"]
    ... )
    >>> f = pd.Series([1.0, 2, 3, 4, 4, 3, 2, 1], index=idx)
    >>> quantile_turnover(f, n_quantiles=2).loc[2].tolist()
    [1.0, 1.0]
    """
    _check_periods(periods)
    _, (seg, bucket, dates, assets, n_assets) = _labels(factor, n_quantiles, rule)
    grid = _grid(seg, bucket, assets, n_assets, 0)
    now = grid[periods:]
    before = grid[: max(len(grid) - periods, 0)]
    # A date with no value ranked (all NaN) says nothing about who was where.
    ranked_before = (before > 0).any(axis=1)
    out = np.full((len(dates), n_quantiles), np.nan)
    for k in range(1, n_quantiles + 1):
        members = (now == k).sum(axis=1)
        new = ((now == k) & (before != k)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            defined = (members > 0) & ranked_before
            out[periods:, k - 1] = np.where(defined, new / members, np.nan)
    columns = pd.RangeIndex(1, n_quantiles + 1, name="quantile")
    return pd.DataFrame(out, index=dates, columns=columns)


def aligned_forward_returns(returns, periods, index):
    """``forward_returns(returns, periods)`` as a Series on a panel ``index``.

    ``returns`` is a (date, asset) Series or one-column frame, or a wide
    date x asset frame (stacked here).
    """
    fwd = forward_returns(returns, periods)
    if isinstance(fwd, pd.DataFrame):
        if isinstance(fwd.index, pd.MultiIndex):
            fwd = fwd.iloc[:, 0]
        else:
            fwd = fwd.stack(future_stack=True)
    return fwd.reindex(index)


def ic_decay(
    y_pred: pd.Series,
    returns: pd.Series | pd.DataFrame,
    horizons: Sequence[int] = (1, 5, 21),
    method: str = "spearman",
) -> pd.DataFrame:
    """The IC summary of a prediction against forward returns at several horizons.

    For each horizon :math:`h`, the per-date IC of ``y_pred`` with the
    compounded return of the next :math:`h` dates
    (:func:`skfactor.panel.forward_returns`) and its :func:`ic_summary`.

    Parameters
    ----------
    y_pred : Series of shape (n_rows,)
        Predictions or factor values on a (date, asset) MultiIndex.
    returns : Series or DataFrame
        Simple returns: a (date, asset) Series (any rows; those of ``y_pred``
        are used) or a wide date x asset frame.
    horizons : sequence of int, default=(1, 5, 21)
        Horizons, in the panel's dates.
    method : {"spearman", "pearson"}, default="spearman"
        Rank or linear IC.

    Returns
    -------
    summary : DataFrame of shape (n_horizons, n_statistics)
        One row per horizon (index ``horizon``), the columns of
        :func:`ic_summary` with ``horizon=h``: the ICs of overlapping
        :math:`h`-date returns are autocorrelated, so for :math:`h > 1`
        ``t`` and ``p_value`` use the equal-weighted cosine long-run variance
        with Student t critical values on ``df`` degrees of freedom (the
        rule and its size are in :func:`ic_summary`'s Notes; it warns where
        the dates are few); ``t_iid`` is the t that treats the dates as
        independent (equal to ``t`` at :math:`h = 1`), which overstates
        significance for :math:`h > 1`, and ``t_nw`` the Newey–West t with
        :math:`h - 1` lags.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=60, n_assets=50, random_state=0)
    >>> ic_decay(data.X["momentum"], data.y, horizons=(1, 5)).index.tolist()
    [1, 5]
    """
    _, index = _column(y_pred, "y_pred")
    if not isinstance(index, pd.MultiIndex):
        raise ValueError(
            "`y_pred` must be a Series with a (date, asset) MultiIndex; got "
            f"{type(y_pred).__name__} without one."
        )
    rows = {}
    for h in horizons:
        _check_periods(h, "horizons")
        fwd = aligned_forward_returns(returns, h, index)
        ic = information_coefficient(fwd, y_pred, method=method)
        rows[h] = ic_summary(ic, horizon=h)
    out = pd.DataFrame(rows).T
    out.index.name = "horizon"
    return out
