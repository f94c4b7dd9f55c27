"""Forward returns and the information coefficient on a Dask panel.

Forward returns at a partition's last dates need the first dates of the next
partitions: each partition passes back a small "head" (its first ``periods``
dates, completed from the next partition's head when it has fewer), so any
partition sizes, empty ones included, give the pandas result.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from skfactor.dask._by_date import _columns, _conform
from skfactor.dask._layout import ASSET, check_panel, local_panel, partitions
from skfactor.metrics._ic import information_coefficient as _ic
from skfactor.panel._returns import forward_returns as _forward
from skfactor.utils._typing import DaskFrame

__all__ = ["forward_returns", "information_coefficient"]


def _with_next(part, number, divisions, columns, head):
    panel = local_panel(part, number, divisions)[columns]
    return panel if head is None else pd.concat([panel, head])


def _head(part, number, divisions, columns, head, periods):
    """The rows of the first ``periods`` dates from this partition on."""
    rows = _with_next(part, number, divisions, columns, head)
    dates = rows.index.get_level_values(0)
    first = np.sort(dates.unique())[:periods]
    return rows[dates.isin(first)]


def _forward_part(part, number, divisions, columns, head, periods, meta):
    rows = _with_next(part, number, divisions, columns, head)
    n = len(part)
    out = _forward(rows.astype(np.float64), periods).iloc[:n]
    return _conform(out.reset_index(ASSET), meta)


def forward_returns(
    ddf: DaskFrame, columns: str | Sequence[str], periods: int = 1
) -> DaskFrame:
    """Forward returns of a Dask panel, lazily, correct across partitions.

    As :func:`skfactor.panel.forward_returns`: the compounded return from each
    date to ``periods`` of the panel's dates later, placed at the date (NaN
    when the asset has no row on one of those dates).

    Parameters
    ----------
    ddf : dask DataFrame
        A Dask panel of per-period returns.
    columns : str or list of str
        The return column(s).
    periods : int, default=1
        The horizon, in dates.

    Returns
    -------
    dask DataFrame
        On ``ddf``'s divisions, columns ``asset`` and ``columns`` (float64).

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import forward_returns, from_pandas, gather
    >>> from skfactor.panel import forward_returns as pandas_forward_returns
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> ddf = from_pandas(data.y.to_frame("ret"), 3)
    >>> got = gather(forward_returns(ddf, "ret", periods=2))["ret"]
    >>> got.equals(pandas_forward_returns(data.y, 2).rename("ret"))
    True
    """
    check_panel(ddf)
    columns = _columns(ddf, columns)
    if not isinstance(periods, int | np.integer) or periods < 1:
        raise ValueError(f"`periods` must be an integer >= 1; got {periods!r}.")
    meta = ddf._meta[[ASSET, *columns]].astype(dict.fromkeys(columns, np.float64))
    parts = partitions(ddf)
    heads = [None] * (len(parts) + 1)
    for i, part in reversed(parts):
        heads[i] = dask.delayed(_head)(
            part, i, ddf.divisions, columns, heads[i + 1], periods
        )
    tasks = [
        dask.delayed(_forward_part)(
            part, i, ddf.divisions, columns, heads[i + 1], periods, meta
        )
        for i, part in parts
    ]
    return dd.from_delayed(tasks, meta=meta, divisions=ddf.divisions, verify_meta=False)


def _ic_part(part, number, divisions, y_true, y_pred, method):
    panel = local_panel(part, number, divisions)
    if not len(panel):
        return None
    return _ic(panel[y_true], panel[y_pred], method=method)


def information_coefficient(
    ddf: DaskFrame, y_true: str, y_pred: str, method: str = "spearman"
) -> pd.Series:
    """Per-date information coefficient of two columns of a Dask panel.

    As :func:`skfactor.metrics.information_coefficient`, one partition at a
    time (each date lies in one); the result is small and computed.

    Parameters
    ----------
    ddf : dask DataFrame
        A Dask panel.
    y_true, y_pred : str
        The outcome (e.g. forward returns) and prediction columns.
    method : {"spearman", "pearson"}, default="spearman"
        Rank or linear correlation, as the pandas function.

    Returns
    -------
    Series
        Indexed by date, named ``ic``.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, information_coefficient
    >>> data = make_factor_panel(n_dates=20, n_assets=30, random_state=0)
    >>> ddf = from_pandas(data.X.assign(ret=data.y), 3)
    >>> ic = information_coefficient(ddf, "ret", "momentum")
    >>> ic.shape
    (20,)
    """
    check_panel(ddf)
    _columns(ddf, [y_true, y_pred])
    tasks = [
        dask.delayed(_ic_part)(part, i, ddf.divisions, y_true, y_pred, method)
        for i, part in partitions(ddf)
    ]
    parts = [p for p in dask.compute(*tasks) if p is not None]
    if not parts:
        return pd.Series([], dtype=np.float64, name="ic")
    return pd.concat(parts)
