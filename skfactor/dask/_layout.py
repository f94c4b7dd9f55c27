"""Dask panels: reading, making, checking and gathering them.

A Dask panel is indexed by date with known divisions and has an ``asset``
column (Dask has no MultiIndex). Partition ``i`` holds the dates in
``[divisions[i], divisions[i + 1])`` (the last one closed), so every date's
rows lie in one partition: each partition is a pandas (date, asset) panel.
Known divisions can lie (Parquet files cut mid-date report them too), so
every task checks its own rows against them (:func:`local_panel`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import dask
import dask.dataframe as dd
import pandas as pd
from distributed import warn as distributed_warn

from skfactor.dask._memory import check_panel_memory, check_partition_memory
from skfactor.utils._typing import DaskFrame, DaskSeries

__all__ = [
    "ASSET",
    "check_panel",
    "from_pandas",
    "gather",
    "local_panel",
    "map_panel",
    "read_panel",
]

#: The asset column of a Dask panel.
ASSET = "asset"


def check_panel(ddf: DaskFrame, name: str = "ddf") -> DaskFrame:
    """Raise unless ``ddf`` is a Dask panel whose dates cannot span partitions.

    A Dask panel is a Dask DataFrame indexed by date, with known divisions
    (``ddf.known_divisions``) and an ``asset`` column. Unknown divisions (e.g.
    after ``repartition(partition_size=...)`` or a read without
    ``calculate_divisions``) could put one date's rows in two partitions, and
    every per-date statistic of that date would silently be wrong. Divisions
    are promises: each task of :mod:`skfactor.dask` also checks that its rows
    lie within its partition's divisions and raises otherwise.

    With a distributed client, it also raises a ``MemoryError`` when a worker
    could not run a task: paused at rest (over
    ``distributed.worker.memory.pause`` of its ``memory_limit``), or short of
    room for the largest partition (its rows, where Dask knows them without
    computing, as float64 values, or its bytes in the workers' memory when
    persisted, times the peak of a per-date step), which would hang the
    computation. A partition whose size Dask does not know before computing
    is checked by its own task, on its worker, before the per-date step.

    Parameters
    ----------
    ddf : dask DataFrame
        The panel.
    name : str, default="ddf"
        The parameter name for the messages.

    Returns
    -------
    ddf : dask DataFrame
        The same panel (nothing is computed).

    Examples
    --------
    >>> import pandas as pd
    >>> import dask.dataframe as dd
    >>> from skfactor.dask import check_panel
    >>> frame = pd.DataFrame(
    ...     {"asset": ["A", "B", "A"], "x": [1.0, 2.0, 3.0]},
    ...     index=pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03"]),
    ... )
    >>> ddf = dd.from_pandas(frame, npartitions=2).clear_divisions()
    >>> check_panel(ddf)
    Traceback (most recent call last):
    ...
    ValueError: `ddf` has unknown divisions, so a date's rows may lie in two ...
    """
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(
            f"`{name}` must be a Dask DataFrame indexed by date with an `asset` "
            f"column; got {type(ddf).__name__}. Make one with "
            "`skfactor.dask.from_pandas(panel, npartitions)` or `read_panel(path)`."
        )
    if ASSET not in ddf.columns:
        raise ValueError(
            f"`{name}` has no `{ASSET}` column; a Dask panel is indexed by date and "
            f"holds the assets in a column named {ASSET!r} (rename yours, e.g. "
            f"`{name}.rename(columns={{'ticker': 'asset'}})`)."
        )
    if not ddf.known_divisions:
        raise ValueError(
            f"`{name}` has unknown divisions, so a date's rows may lie in two "
            "partitions and its cross-section would be split. Index it by date "
            f"with known divisions: `{name}.set_index('date', divisions=bounds)` "
            "(`bounds` sorted dates from the first to the last, e.g. month "
            "starts: without them Dask 2026.8 skipped the shuffle of Parquet "
            f"data) or `{name}.repartition(npartitions=...)` on a sorted index, "
            "or read Parquet with `skfactor.dask.read_panel` "
            "(calculate_divisions=True); "
            "`repartition(partition_size=...)` can split dates."
        )
    check_panel_memory(ddf, name)
    return ddf


def local_panel(part, number, divisions, *, unsized=False):
    """Partition ``number`` as a pandas (date, asset) panel, after checking its dates.

    Raises if a row's date lies outside the partition's divisions (the layout
    split a date: divisions that lie), or, with ``unsized`` (a partition the
    client could not size before computing) on a distributed worker, if it is
    too large for the worker's memory (a ``MemoryError`` naming its size and
    the limit, instead of a hang).
    """
    if unsized:
        check_partition_memory(part, number)
    check_dates(part, number, divisions)
    return part.set_index(ASSET, append=True)


def check_dates(part, number, divisions):
    """Raise if a row of partition ``number`` has a date outside its divisions."""
    if len(part):
        lo, hi = divisions[number], divisions[number + 1]
        last = number + 2 == len(divisions)
        first, final = part.index.min(), part.index.max()
        if first < lo or final > hi or (not last and final >= hi):
            raise ValueError(
                f"Partition {number} holds dates from {first} to {final}, outside "
                f"its divisions [{lo}, {hi}{']' if last else ')'}: a date can span "
                "two partitions (e.g. Parquet files cut mid-date), so its "
                "cross-section would be split. Rewrite the data with whole dates "
                "per file, or re-index it: `ddf.reset_index().set_index('date')`."
            )


def map_panel(ddf, func, *args, meta, unsized=False):
    """``func(local_panel, *args)`` on every partition of ``ddf``, lazily.

    ``func`` gets each partition as a checked pandas (date, asset) panel
    (with ``unsized``, its memory checked on its worker); the result keeps
    ``ddf``'s divisions and declares ``meta``.
    """
    return ddf.map_partitions(
        _on_panel,
        func,
        ddf.divisions,
        unsized,
        *args,
        meta=meta,
        enforce_metadata=False,
        align_dataframes=False,
    )


def _on_panel(part, func, divisions, unsized, *args, partition_info=None):
    panel = local_panel(part, partition_info["number"], divisions, unsized=unsized)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = func(panel, *args)
    # A lazy step computes on a worker, whose warnings the user never sees:
    # distributed's warn also sends them to the client (plain warn elsewhere).
    for w in caught:
        distributed_warn(w.message, w.category)
    return out


def partitions(ddf):
    """``(number, delayed partition)`` of each partition, nothing computed."""
    return list(enumerate(ddf.to_delayed()))


def map_partition_results(ddf, func, *args):
    """``func(partition, number, divisions, *args)`` of each partition, lazily.

    Returns one delayed object per partition, a one-element object Series
    holding the call's result (take it with ``.iloc[0]``). The calls are a
    blockwise layer of ``ddf``'s graph, fused with the tasks that make each
    partition: on a persisted panel each call runs on the worker holding its
    partition.
    (``dask.delayed(func)(part)`` on ``ddf.to_delayed()`` adds an alias task
    per partition, which the scheduler may place on another worker: the
    partition is then copied there first.)
    """
    meta = pd.Series([], dtype=object)
    results = ddf.map_partitions(
        _one_result,
        func,
        ddf.divisions,
        *args,
        meta=meta,
        enforce_metadata=False,
        align_dataframes=False,
    )
    return results.to_delayed()


def _one_result(part, func, divisions, *args, partition_info=None):
    number = partition_info["number"]
    return pd.Series([func(part, number, divisions, *args)], dtype=object)


def read_panel(
    path: str | Sequence[str],
    *,
    date: str = "date",
    asset: str = "asset",
    columns: Sequence[str] | None = None,
    **kwargs,
) -> DaskFrame:
    """Read a Parquet panel (one row per (date, asset)) as a Dask panel.

    The files should be cut by date (e.g. one file per month), their names
    sorting by date: the divisions are calculated from the Parquet statistics
    (files whose dates do not sort raise, saying how to rewrite them), and a
    date cut across two files is caught when a task sees it.

    Parameters
    ----------
    path : str or list of str
        Parquet file(s) or directory, as :func:`dask.dataframe.read_parquet`.
    date : str, default="date"
        The date column (or the stored index), made the index and named
        ``date``.
    asset : str, default="asset"
        The asset column, renamed ``asset``.
    columns : list of str, optional
        The other columns to read (default all).
    **kwargs
        Passed to :func:`dask.dataframe.read_parquet`.

    Returns
    -------
    ddf : dask DataFrame
        Indexed by date with known divisions, with an ``asset`` column.

    Examples
    --------
    >>> import tempfile
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, read_panel
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> path = tempfile.mkdtemp()
    >>> from_pandas(data.X.assign(ret=data.y), 2).to_parquet(path)
    >>> ddf = read_panel(path)
    >>> ddf.known_divisions, list(ddf.columns)
    (True, ['asset', 'value', 'size', 'momentum', 'ret'])
    """
    cols = None if columns is None else [asset, *columns]
    ddf = dd.read_parquet(
        path, columns=cols, index=date, calculate_divisions=True, **kwargs
    )
    if not ddf.known_divisions:
        # set_index without explicit divisions is no fix: Dask 2026.8 skipped
        # the shuffle on such files and returned partitions out of order.
        raise ValueError(
            f"The Parquet files of `path` do not sort by date: a file's dates "
            "must all come after the previous file's (in file-name order), with "
            "no date in two files, for Dask to know which dates each holds "
            "(their divisions); otherwise a date's cross-section could be split. "
            "Rewrite them cut by date, with names that sort by date (e.g. one "
            "file per month, '2015-01.parquet'), for example with Dask: "
            f"`dask.dataframe.read_parquet(path, index=False).set_index({date!r}, "
            "divisions=bounds).to_parquet(new_path)`, `bounds` the sorted dates "
            "that cut them from the first date to the last (e.g. the first "
            "date, each month start, the last date), then "
            "`read_panel(new_path)`."
        )
    if asset not in ddf.columns:
        raise ValueError(
            f"`asset`={asset!r} is not a column of the Parquet files of `path`; "
            f"they have {list(ddf.columns)}. Pass the name of the assets' column "
            "as `asset`, e.g. `read_panel(path, asset='ticker')`."
        )
    if asset != ASSET:
        ddf = ddf.rename(columns={asset: ASSET})
    if ddf.index.name != "date":
        ddf.index = ddf.index.rename("date")
    return check_panel(ddf, "path")


def from_pandas(panel: pd.DataFrame, npartitions: int) -> DaskFrame:
    """A pandas (date, asset) panel as a Dask panel of ``npartitions`` partitions.

    Dates are never split (Dask may make fewer partitions when there are few
    dates).

    Parameters
    ----------
    panel : DataFrame
        With a (date, asset) MultiIndex.
    npartitions : int
        Number of partitions.

    Returns
    -------
    ddf : dask DataFrame
        Indexed by date (sorted), with an ``asset`` column first.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> ddf = from_pandas(data.X, npartitions=3)
    >>> ddf.npartitions, ddf.known_divisions
    (3, True)
    """
    from skfactor.panel._validation import check_panel_index

    if not isinstance(panel, pd.DataFrame) or not isinstance(
        panel.index, pd.MultiIndex
    ):
        raise TypeError(
            "`panel` must be a DataFrame with a (date, asset) MultiIndex; got "
            f"{type(panel).__name__}."
        )
    check_panel_index(panel.index, "panel")
    frame = panel.copy()
    frame.index = frame.index.set_names(["date", ASSET])
    frame = frame.reset_index(ASSET).sort_index(kind="stable")
    return dd.from_pandas(frame, npartitions=npartitions, sort=True)


def gather(ddf: DaskFrame | DaskSeries) -> pd.DataFrame | pd.Series:
    """A Dask panel (or frame) in memory, fetched partition by partition.

    ``ddf.compute()`` concatenates the whole result on one worker before
    sending it, which can kill that worker; this fetches each partition
    separately and concatenates on the client.

    Parameters
    ----------
    ddf : dask DataFrame or Series
        A Dask panel (indexed by date, with an ``asset`` column), or any other
        Dask frame.

    Returns
    -------
    DataFrame or Series
        A panel with a (date, asset) MultiIndex when ``ddf`` has an ``asset``
        column, else the frame as it is.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, gather
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> gather(from_pandas(data.X, 3)).equals(data.X)
    True
    """
    frames = dask.compute(*ddf.to_delayed())
    out = pd.concat(frames) if frames else ddf._meta
    if isinstance(out, pd.DataFrame) and ASSET in out.columns:
        out = out.set_index(ASSET, append=True)
    return out
