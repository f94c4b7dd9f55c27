"""Per-date quantiles as ``pd.qcut`` makes them, and the mean return of each."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.metrics._ic import _column
from skfactor.panel._buckets import fraction_thresholds, rank_buckets
from skfactor.panel._segments import Segments
from skfactor.panel._validation import check_panel_index, date_codes

__all__ = ["mean_return_by_quantile", "quantile_returns"]

_RULES = ("qcut", "rank")


def check_quantile_args(n_quantiles, rule):
    if (
        not isinstance(n_quantiles, numbers.Integral)
        or isinstance(n_quantiles, bool)
        or n_quantiles < 2
    ):
        raise ValueError(f"`n_quantiles` must be an integer >= 2; got {n_quantiles!r}.")
    if rule not in _RULES:
        raise ValueError(
            f"`rule` must be one of {list(_RULES)}; got {rule!r}. 'qcut' cuts each "
            "date as `pd.qcut` (alphalens); 'rank' by average rank "
            "(QuantilePortfolioFactor)."
        )


def _qcut_probabilities(q):
    """The probabilities ``pd.qcut(x, q)`` asks ``Series.quantile`` for."""
    p = np.linspace(0.0, 1.0, q + 1)
    # pandas rounds up the ones not representable in base 2 (as qcut does).
    np.putmask(p, q * p != np.arange(q + 1), np.nextafter(p, 1.0))
    return p


def _sorted_within(segments, col):
    """Each segment's values sorted, NaN last, and where each segment starts."""
    if segments.n_rows and segments.grid_fits:
        # One sort per row of the padded grid (NaN padding sorts last): 10x
        # faster than sorting the whole column by (segment, value).
        grid = np.sort(segments.to_grid(col, np.nan), axis=1)
        return grid.reshape(-1), np.arange(segments.n_segments) * grid.shape[1]
    by_value = np.argsort(col, kind="stable")
    order = by_value[np.argsort(segments.segment_of_row[by_value], kind="stable")]
    return col[order], segments.starts


def _qcut_edges(segments, col, n, q):
    """Per-segment bin edges of ``pd.qcut``: numpy's linear quantiles, bit for bit.

    ``col`` in segment order; returns (n_segments, q + 1) edges (NaN for an
    empty segment), computed with numpy's own formula (``np.quantile``'s
    virtual index ``(n - 1) p`` and its two-sided ``_lerp``) on each segment's
    sorted values, so a value equal to an edge falls in the same bin as
    ``pd.qcut`` puts it.
    """
    ordered, offsets = _sorted_within(segments, col)
    p = _qcut_probabilities(q)
    last = np.maximum(n - 1, 0)[:, None]
    virtual = (n[:, None] - 1) * p[None, :]
    prev = np.floor(virtual)
    above = virtual >= last
    gamma = virtual - np.where(above, -1.0, prev)
    lo = np.where(above, last, prev).astype(np.intp)
    hi = np.where(above, last, prev + 1).astype(np.intp)
    starts = offsets[:, None]
    top = max(len(ordered) - 1, 0)  # an all-NaN segment reads any row; set NaN
    a = ordered[np.clip(starts + lo, 0, top)]
    b = ordered[np.clip(starts + hi, 0, top)]
    diff = b - a
    with np.errstate(invalid="ignore"):
        edges = np.where(gamma >= 0.5, b - diff * (1.0 - gamma), a + diff * gamma)
    edges[n == 0] = np.nan
    return edges


def quantile_buckets(segments, col, q, rule="qcut"):
    """Quantile (1..q) of each row, segment order; 0 where ``col`` is NaN.

    ``rule="qcut"``: ``pd.qcut(values, q, labels=False) + 1`` on each segment
    (alphalens' ``quantize_factor``); on a segment where ``pd.qcut`` fails
    (repeated bin edges: ties, or fewer values than it needs), the rank rule.
    ``rule="rank"``: average rank :math:`r` of :math:`n` values in
    :math:`((k-1)/q, k/q]` after division by :math:`n` (QuantilePortfolioFactor).
    """
    n = segments.count(col)

    def by_rank():
        cuts = fraction_thresholds(n, np.arange(1, q) / q)
        bucket = rank_buckets(segments, col, cuts)
        return np.where(bucket >= 0, bucket + 1, 0)

    if rule == "rank":
        return by_rank()
    edges = _qcut_edges(segments, col, n, q)
    fails = (edges[:, 1:] == edges[:, :-1]).any(axis=1) | (n == 0)
    below = np.zeros(len(col), dtype=np.intp)  # pandas' searchsorted, edge by edge
    with np.errstate(invalid="ignore"):
        for edge in edges.T:
            below += segments.expand(edge) < col
    bucket = np.where(np.isnan(col), 0, np.maximum(below, 1))
    if fails.any():  # the rank rule on the dates pd.qcut refuses
        bucket = np.where(segments.expand(fails), by_rank(), bucket)
    return bucket


def _panel_pair(factor, forward_returns):
    f, index = _column(factor, "factor")
    if not isinstance(index, pd.MultiIndex):
        raise ValueError(
            "`factor` must be a Series with a (date, asset) MultiIndex; got "
            f"{type(factor).__name__} without one."
        )
    check_panel_index(index, "factor")
    r, r_index = _column(forward_returns, "forward_returns")
    if r_index is None or not r_index.equals(index):
        raise ValueError(
            "`forward_returns` must be a Series on `factor`'s index; align it "
            "first, e.g. `forward_returns(returns, h).reindex(factor.index)`."
        )
    return f, r, index


def quantile_returns(
    factor: pd.Series,
    forward_returns: pd.Series,
    n_quantiles: int = 5,
    *,
    demeaned: bool = True,
    weights: pd.Series | None = None,
    rule: str = "qcut",
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    r"""Mean forward return of each factor quantile on each date.

    On each date, over the rows where both ``factor`` and ``forward_returns``
    are not NaN (as alphalens' ``get_clean_factor_and_forward_returns`` keeps
    them), the factor is cut into ``n_quantiles`` quantiles and each
    quantile's forward returns are averaged.

    Parameters
    ----------
    factor : Series of shape (n_rows,)
        Factor values on a (date, asset) MultiIndex, rows in any order.
    forward_returns : Series of shape (n_rows,)
        The label, on ``factor``'s index: typically
        ``skfactor.panel.forward_returns(returns, h).reindex(factor.index)``.
    n_quantiles : int, default=5
        Number of quantiles :math:`q`, at least 2.
    demeaned : bool, default=True
        Subtract each date's mean forward return (over the same rows, weighted
        by ``weights`` if given) first: the return relative to the
        cross-section, alphalens' default.
    weights : Series of shape (n_rows,), default=None
        Non-negative weights on ``factor``'s index (e.g. market caps): the
        quantile means are weighted means. Rows with a NaN weight are left out.
        None: equal weights.
    rule : {"qcut", "rank"}, default="qcut"
        ``"qcut"``: quantile :math:`k` is ``pd.qcut(values, q, labels=False) +
        1`` of the date's values (alphalens' ``quantize_factor``); on a date
        where ``pd.qcut`` fails (repeated bin edges, e.g. many ties) the rank
        rule instead, where alphalens raises or drops the date. ``"rank"``: the
        rule of :func:`quantile_labels` and
        :class:`~skfactor.QuantilePortfolioFactor` (average rank :math:`r` of
        :math:`n`, quantile :math:`k` for :math:`(k-1)/q < r/n \le k/q`).
    groups : Series of shape (n_rows,), default=None
        A group label per row (e.g. the sector) on ``factor``'s index: the
        quantiles are still cut over each date's whole cross-section (and the
        returns demeaned by it), then averaged within each (group, quantile),
        as alphalens' ``mean_return_by_quantile(by_group=True)``. Rows with a
        NaN group are left out.

    Returns
    -------
    returns : DataFrame of shape (n_dates, n_quantiles)
        Indexed by the sorted dates, columns 1 (lowest factor values) to
        ``n_quantiles``; NaN where a quantile has no row on a date. With
        ``groups``, of shape (n_dates, n_groups * n_quantiles), columns
        (group, quantile) with the groups sorted.

    See Also
    --------
    mean_return_by_quantile : Their mean over dates with its standard error.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_product(
    ...     [[1], ["a", "b", "c", "d"]], names=["date", "asset"]
    ... )
    >>> f = pd.Series([4.0, 1, 3, 2], index=idx)
    >>> r = pd.Series([0.04, 0.01, 0.03, 0.02], index=idx)
    >>> quantile_returns(f, r, 2, demeaned=False).loc[1].round(3).tolist()
    [0.015, 0.035]
    """
    check_quantile_args(n_quantiles, rule)
    raw, market = quantile_means(
        factor, forward_returns, n_quantiles, weights=weights, rule=rule, groups=groups
    )
    return raw.sub(market, axis=0) if demeaned else raw


def quantile_means(factor, forward_returns, n_quantiles, *, weights, rule, groups):
    """Per-date raw quantile means and each date's (weighted) market mean.

    The demeaned means are the raw ones minus the market mean: within a cell,
    the weighted mean of :math:`r - m` is the weighted mean of :math:`r` minus
    :math:`m`. One quantile cut serves both.
    """
    f, r, index = _panel_pair(factor, forward_returns)
    w = np.ones_like(r)
    if weights is not None:
        w, w_index = _column(weights, "weights")
        if w_index is None or not w_index.equals(index):
            raise ValueError(
                "`weights` must be a Series on `factor`'s index; align it first, "
                "e.g. `weights.reindex(factor.index)`."
            )
        if (w < 0).any():
            raise ValueError("`weights` must be non-negative; got a negative weight.")
    codes, dates = date_codes(index)
    seg = Segments(codes, len(dates))
    keep = ~(np.isnan(f) | np.isnan(r) | np.isnan(w))
    f = seg.sort(np.where(keep, f, np.nan))
    r = seg.sort(np.where(keep, r, 0.0))
    w = seg.sort(np.where(keep, w, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        market = pd.Series(seg.sum(w * r) / seg.sum(w), index=dates, name="market")
    bucket = quantile_buckets(seg, f, n_quantiles, rule)
    cell, n_groups, names = seg.segment_of_row, 1, None
    if groups is not None:
        g, names = _group_codes(groups, index)
        g = seg.sort(g)
        w = np.where(g >= 0, w, 0.0)  # no group: left out of the group means
        n_groups = len(names)
        cell = cell * n_groups + np.maximum(g, 0)
    cell = cell * (n_quantiles + 1) + bucket
    size = seg.n_segments * n_groups * (n_quantiles + 1)
    total = np.bincount(cell, weights=w * r, minlength=size)
    weight = np.bincount(cell, weights=w, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (total / weight).reshape(-1, n_quantiles + 1)[:, 1:]
    columns = pd.RangeIndex(1, n_quantiles + 1, name="quantile")
    if groups is None:
        return pd.DataFrame(means, index=dates, columns=columns), market
    columns = pd.MultiIndex.from_product([names, columns], names=["group", "quantile"])
    return pd.DataFrame(means.reshape(seg.n_segments, -1), dates, columns), market


def _group_codes(groups, index):
    """Code of each row's group (-1 for NaN) and the sorted group names."""
    if not isinstance(groups, pd.Series) or not groups.index.equals(index):
        raise ValueError(
            "`groups` must be a Series on `factor`'s index; align it first, e.g. "
            "`groups.reindex(factor.index)`."
        )
    codes, names = pd.factorize(groups, sort=True)
    return np.asarray(codes, dtype=np.intp), pd.Index(names, name="group")


def mean_return_by_quantile(quantile_returns: pd.DataFrame) -> pd.DataFrame:
    r"""Mean over dates of each quantile's return, with its standard error.

    The summary of :func:`quantile_returns`, as :func:`ic_summary` is of
    :func:`information_coefficient`: for each column, the mean over the dates
    where it is not NaN and the standard error of that mean,
    :math:`s / \sqrt{T}` with :math:`s` the standard deviation over the
    :math:`T` dates (``ddof=1``). On the per-date table of
    ``quantile_returns(factor, forward)`` it is alphalens'
    ``mean_return_by_quantile`` (demeaned by default, as there). This
    standard error treats the dates as independent; for an :math:`h`-date
    forward return the dates overlap and it is too small by up to about
    :math:`\sqrt{h}` (the :class:`~skfactor.report.FactorReport` spread's t
    accounts for overlap).

    Parameters
    ----------
    quantile_returns : DataFrame of shape (n_dates, n_quantiles)
        Per-date returns, one column per quantile (or per (group, quantile)),
        as :func:`quantile_returns` gives them.

    Returns
    -------
    table : DataFrame of shape (n_columns, 3)
        Indexed by the input's columns, columns ``mean``, ``std_err`` and
        ``n_dates``.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.metrics import mean_return_by_quantile, quantile_returns
    >>> from skfactor.panel import forward_returns
    >>> data = make_factor_panel(n_dates=60, n_assets=100, random_state=0)
    >>> fwd = forward_returns(data.y, 5)
    >>> table = mean_return_by_quantile(quantile_returns(data.X["momentum"], fwd))
    >>> table.columns.tolist()
    ['mean', 'std_err', 'n_dates']
    """
    if not isinstance(quantile_returns, pd.DataFrame):
        raise TypeError(
            "`quantile_returns` must be the per-date DataFrame `quantile_returns` "
            f"returns; got {type(quantile_returns).__name__}."
        )
    count = quantile_returns.count()
    return pd.DataFrame(
        {
            "mean": quantile_returns.mean(),
            "std_err": quantile_returns.std(ddof=1) / np.sqrt(count),
            "n_dates": count.astype(np.float64),
        }
    )
