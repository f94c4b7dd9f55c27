"""Time-series models on a wide Dask frame: by its date partitions, or by asset blocks.

By default the model is fitted on the date partitions of the wide (date x
asset) frame as they are (``_date_blocks``: sums over dates for a
time-series model, windows with the previous ``window - 1`` dates for a
rolling one). With ``asset_block``, the frame is rechunked instead into
blocks of all dates x ``asset_block`` assets, and the unchanged pandas model
is fitted on each block: a task's memory is then set by ``asset_block``
rather than by a partition's dates x every asset, at the cost of the
rechunk (13x the pandas time in the out-of-memory benchmark). The blocks are
taken with ``x.to_delayed()[0, j]``: after a multi-stage P2P rechunk,
``x.blocks[0, j].to_delayed()`` returned the wrong block in Dask 2026.8 (the
regression test forces that rechunk).
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

from skfactor.dask._by_date import _columns
from skfactor.dask._date_blocks import (
    date_blocks,
    fit_rolling_by_date,
    fit_time_series_by_date,
    fitted_blocks,
)
from skfactor.dask._layout import ASSET, check_dates, check_panel, partitions
from skfactor.dask._memory import BLOCK_FACTOR, check_workers
from skfactor.utils._progress import compute, progress
from skfactor.utils._typing import ArrayLike, DaskFrame

__all__ = ["fit_by_asset", "wide_returns"]


def _unique(part):
    return np.unique(part[ASSET].to_numpy())


def _wide_part(part, y, assets, dtype, divisions, partition_info=None):
    """One partition of the panel as a (date x asset) frame of column ``y``.

    Each value is put on its (date, asset) cell of a NaN-filled array laid
    out asset by asset, the layout ``unstack`` gives (the frame's block is
    (n_assets, n_dates), C order) and the time-series passes read: no
    copy to transpose. From the partition's date index and asset column
    as they are (no (date, asset) MultiIndex to build and hash): 2.5x less
    CPU and a quarter of the page faults of the panel's
    ``unstack(...).reindex(...)`` on a 315-date x 2,000-asset partition
    under distributed's defaults. Rows of assets not in
    ``assets`` (or without an asset) are left out, as the reindex did.
    """
    check_dates(part, partition_info["number"], divisions)
    rows, dates = pd.factorize(part.index, sort=True)
    if len(rows) and rows.min() < 0:
        raise ValueError(
            f"Partition {partition_info['number']} of the panel has rows without a "
            "date (NaT/NaN in its index); every row needs a date and an asset. "
            "Drop them first, e.g. `ddf[ddf.index.notnull()]`."
        )
    codes, labels = pd.factorize(part[ASSET])
    cols = np.append(assets.get_indexer(labels), -1)[codes]  # code -1: no asset
    values = part[y].to_numpy(dtype=dtype, na_value=np.nan)
    if len(cols) and cols.min() < 0:
        keep = cols >= 0
        rows, cols, values = rows[keep], cols[keep], values[keep]
    out = np.full((len(assets), len(dates)), np.nan, dtype=dtype)
    cols *= len(dates)
    cols += rows  # each value's cell of out, flat
    seen = np.zeros(out.size, dtype=bool)
    seen[cols] = True
    if np.count_nonzero(seen) != len(cols):
        raise ValueError(
            "A partition of the panel holds a (date, asset) pair twice; a panel "
            "has one row per date and asset: drop the duplicates, e.g. "
            "`ddf.reset_index().drop_duplicates(['date', 'asset'])`."
        )
    out.reshape(-1)[cols] = values
    return pd.DataFrame(out.T, index=dates.rename(part.index.name), columns=assets,
                        copy=False)  # fmt: skip


def wide_returns(
    ddf: DaskFrame, y: str, *, assets: ArrayLike | None = None
) -> DaskFrame:
    """The wide (date x asset) frame of one column of a Dask panel, lazily.

    Parameters
    ----------
    ddf : dask DataFrame
        A Dask panel.
    y : str
        The returns column.
    assets : list, optional
        The columns (all assets). By default the panel's sorted assets,
        which costs one pass over the ``asset`` column.

    Returns
    -------
    dask DataFrame
        Indexed by date on ``ddf``'s divisions, one column per asset (NaN
        where an asset has no row that date), float32 for float32 returns,
        else float64.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, gather, wide_returns
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> R = wide_returns(from_pandas(data.y.to_frame("ret"), 3), "ret")
    >>> gather(R).shape
    (20, 10)
    """
    check_panel(ddf)
    _columns(ddf, [y])
    if assets is None:
        # Per-partition uniques, merged on the client (no shuffle).
        parts = [dask.delayed(_unique)(part) for _, part in partitions(ddf)]
        assets = np.unique(np.concatenate(dask.compute(*parts)))
    assets = pd.Index(assets, name=ASSET)
    # float32 returns stay float32 (half the memory of the rechunk; the
    # models compute in float64 either way); anything else becomes float64.
    dtype = ddf._meta[y].dtype
    dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    meta = pd.DataFrame(  # one empty block: a dict of Series cost 0.2 s per 2,000
        np.empty((0, len(assets)), dtype=dtype),
        index=ddf._meta.index[:0],
        columns=assets,
        copy=False,
    )
    # Not ddf[[ASSET, y]]: on a Parquet panel that projection lets Dask fuse
    # several files into one partition, whose divisions are then not those
    # passed here (every task's date check refuses it).
    return ddf.map_partitions(
        _wide_part,
        y,
        assets,
        dtype,
        ddf.divisions,
        meta=meta,
        enforce_metadata=False,
        align_dataframes=False,
    )


def _array(F, R):
    """``R`` as a dask array of known chunks, each partition checked against ``F``."""
    n_assets = len(R.columns)
    dtype = np.result_type(*R._meta.dtypes)
    blocks = [
        da.from_delayed(Y, shape=(int(hi - lo), n_assets), dtype=dtype)
        for Y, lo, hi in date_blocks(F, R)
    ]
    return da.concatenate(blocks, axis=0)


def _complete_rows(block):
    return ~np.isnan(block).any(axis=1)


def _all(f_ok, *oks):
    return np.logical_and.reduce([f_ok, *oks])


def _fit_block(model, F, block, assets, complete_dates):
    y = pd.DataFrame(block, index=F.index, columns=assets)
    return model.fit_block(F, y, complete_dates=complete_dates)


def _fit_by_date(model, F, R, assets, verbose):
    """``fit_by_asset`` on ``R``'s date partitions (``_date_blocks``)."""
    extra = model.date_block_lookback()  # validates the parameters
    rolling = hasattr(model, "window")
    cuts = np.searchsorted(F.index, R.divisions[1:-1], side="left")
    most = int(np.diff(np.concatenate([[0], cuts, [len(F)]])).max(initial=0))
    rows = min(most + extra, len(F))
    check_workers(
        rows * len(assets) * 8,
        what=f"A partition of `R` ({rows:,} dates x {len(assets):,} assets"
        + (", with the window's dates before it)" if rolling else ")"),
        factor=BLOCK_FACTOR,
        fix="Cut `R` into partitions of fewer dates, or pass `asset_block`.",
    )
    if rolling:
        return fit_rolling_by_date(model, F, R, verbose)
    return fit_time_series_by_date(model, F, R, verbose)


def fit_by_asset(
    model: Any,
    F: pd.DataFrame,
    R: DaskFrame,
    *,
    asset_block: int | None = None,
    verbose: bool = False,
) -> Any:
    """Fit a time-series model on a wide Dask frame of returns.

    By default on ``R``'s date partitions as they are, without a rechunk:
    a TimeSeriesFactorModel from per-asset sums over each partition's dates
    (its cross-products, then, with the final estimates, its residuals'
    squares and its share of the robust meat; a HAC lag that crosses a
    partition boundary pairs each asset's last scores before the partition,
    along the asset's own dates), combined and finished by the model's own
    ``partial_fit`` step; a RollingFactorModel on each partition with the
    ``window - 1`` dates before it. With ``asset_block``, by blocks of
    assets instead: the frame is rechunked into blocks of every date x
    ``asset_block`` assets and the unchanged pandas model is fitted on each.
    Either way the results equal one pandas fit on the whole frame (to
    rounding), in one computation (two for a rolling model whose last
    partition has no estimate, to find whether any window has one).

    Parameters
    ----------
    model : TimeSeriesFactorModel or RollingFactorModel
        Any covariance type. The Gibbons-Ross-Shanken test of a
        TimeSeriesFactorModel is computed only when it is defined (more
        complete dates than assets plus factors, with an intercept), from the
        sums (residuals, by asset blocks) on those dates.
    F : DataFrame of shape (n_dates, n_factors)
        Factor returns in memory, sorted by date.
    R : dask DataFrame of shape (n_dates, n_assets)
        Wide asset returns (e.g. from :func:`wide_returns`) with known
        divisions, one row for each date of ``F``.
    asset_block : int, default=None
        None: fit on the date partitions (a task holds one partition, its
        dates x every asset, plus ``window - 1`` dates before it for a
        rolling model). An integer: fit by blocks of that many assets on
        every date (a block holds n_dates x asset_block values), after a
        rechunk that costs several times the fit; for panels with so many
        assets that a partition's dates x every asset would not fit a
        worker. With a distributed client, a task too large for the
        workers' ``memory_limit`` (about 10x its float64 size per thread,
        above their memory at rest) raises a ``MemoryError`` before anything
        is computed.
    verbose : bool, default=False
        A progress bar of the finished tasks on stderr (tqdm, the ``report``
        extra).

    Returns
    -------
    model
        Fitted. A TimeSeriesFactorModel's attributes are in memory (assets x
        terms); a RollingFactorModel's ``coef_`` and ``intercept_`` (the last
        window) are, while ``params_``, ``rsquared_``, ``resid_vol_``,
        ``nobs_`` (and ``bse_``) are dask arrays of shape (n_dates,
        n_assets[, n_terms]) read from the fitted partitions (blocks), which
        are persisted: each is fitted once, here, and its windows stay in
        the workers' memory (spilled to disk past their target) while the
        model holds them. Its ``predict`` and ``score`` work as after a
        pandas fit, fetching the windows they need.

    Examples
    --------
    >>> from skfactor import TimeSeriesFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import fit_by_asset, from_pandas, wide_returns
    >>> data = make_factor_panel(n_dates=60, n_assets=10, random_state=0)
    >>> R = wide_returns(from_pandas(data.y.to_frame("ret"), 3), "ret")
    >>> F = data.factor_returns
    >>> model = fit_by_asset(TimeSeriesFactorModel(cov_type="HAC", maxlags=3), F, R)
    >>> expected = TimeSeriesFactorModel(cov_type="HAC", maxlags=3).fit(
    ...     F, data.y.unstack()
    ... )
    >>> bool((model.bse_ - expected.bse_).abs().max().max() < 1e-10)
    True
    >>> blocks = fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=4)
    >>> bool((blocks.params_ - expected.params_).abs().max().max() < 1e-10)
    True
    """
    if getattr(model, "block_axis", None) != "assets":
        raise TypeError(
            "`model` must be a TimeSeriesFactorModel or a RollingFactorModel; got "
            f"{type(model).__name__}. Fit per-date models with `fit_by_date`."
        )
    if not isinstance(F, pd.DataFrame) or not F.index.is_monotonic_increasing:
        raise ValueError(
            "`F` must be a pandas DataFrame of factor returns indexed by date in "
            "increasing order (sort it: `F.sort_index()`)."
        )
    if not isinstance(R, dd.DataFrame):
        raise TypeError(
            "`R` must be a wide Dask DataFrame (date x asset), e.g. from "
            f"`skfactor.dask.wide_returns`; got {type(R).__name__}."
        )
    assets = pd.Index(R.columns)
    if asset_block is None:
        return _fit_by_date(model, F, R, assets, verbose)
    if not (isinstance(asset_block, int | np.integer) and asset_block >= 1):
        raise ValueError(
            f"`asset_block` must be None or an integer >= 1; got {asset_block!r}."
        )
    block = min(int(asset_block), max(len(assets), 1))
    check_workers(
        len(F) * block * 8,
        what=f"An asset block ({len(F):,} dates x {block:,} assets)",
        factor=BLOCK_FACTOR,
        fix="Use a smaller `asset_block`.",
    )
    x = _array(F, R).rechunk({0: -1, 1: int(asset_block)})
    cuts = np.cumsum((0,) + x.chunks[1])
    # x.to_delayed()[0, j], never x.blocks[0, j].to_delayed() (see the module).
    blocks = list(x.to_delayed(optimize_graph=False)[0])
    # The dates every asset and factor are observed on: each block's share of
    # the GRS test is taken on them, when the test can be defined (T > N + K).
    rows = None
    if len(F) > len(assets) + F.shape[1]:
        f_ok = ~np.isnan(F.to_numpy(dtype=np.float64)).any(axis=1)
        oks = [dask.delayed(_complete_rows)(b) for b in blocks]
        rows = dask.delayed(_all)(f_ok, *oks)
    fits = [
        dask.delayed(_fit_block)(model, F, b, assets[cuts[j] : cuts[j + 1]], rows)
        for j, b in enumerate(blocks)
    ]
    if hasattr(model, "window"):  # windows: each block fitted once, kept
        return model.combine_blocks(fitted_blocks(fits, verbose, "asset blocks"))
    return model.combine_blocks(_fetched(fits, verbose, "asset blocks"))


def _fetched(tasks, verbose, desc):
    """``compute(*tasks)``, each result fetched and released as it finishes.

    On a distributed client the workers then hold a few finished results,
    not all of them until the last: a time-series block's result carries
    its GRS residuals (dates x its assets), 200 MiB for the 20 blocks of
    bench_dask.py, which ran its workers past 90 % of their limit at the
    end of the step.
    """
    try:
        from distributed import as_completed, default_client

        client = default_client()
    except (ImportError, ValueError):  # dask's local schedulers
        return compute(*tasks, verbose=verbose, desc=desc)
    futures = client.compute(list(tasks))
    where = {future.key: i for i, future in enumerate(futures)}
    out = [None] * len(futures)
    done = as_completed(futures)
    del futures  # each is released once fetched
    for future in progress(done, verbose=verbose, total=len(out), desc=desc):
        out[where[future.key]] = future.result()
        future.release()
    return out
