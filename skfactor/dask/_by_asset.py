"""Time-series models on a wide Dask frame, by blocks of assets.

A rolling or time-series regression needs every date of an asset, which a
partition by date does not hold (``map_overlap`` looks back one partition at
most and cannot expand): the wide (date x asset) frame is rechunked into
blocks of all dates x ``asset_block`` assets, and the unchanged pandas model
is fitted on each block. The blocks are taken with ``x.to_delayed()[0, j]``:
after a multi-stage P2P rechunk, ``x.blocks[0, j].to_delayed()`` returned the
wrong block in Dask 2026.8 (the regression test forces that rechunk).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

from skfactor.dask._by_date import _columns
from skfactor.dask._layout import ASSET, check_panel, map_panel, partitions
from skfactor.dask._memory import BLOCK_FACTOR, check_workers
from skfactor.utils._progress import compute
from skfactor.utils._typing import ArrayLike, DaskFrame

__all__ = ["fit_by_asset", "wide_returns"]


def _unique(part):
    return np.unique(part[ASSET].to_numpy())


def _wide_part(panel, y, assets, dtype):
    return panel[y].unstack(ASSET).reindex(columns=assets).astype(dtype)


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
    meta = pd.DataFrame(
        {a: pd.Series([], dtype=dtype) for a in assets},
        index=ddf._meta.index,
        columns=assets,
    )
    return map_panel(ddf, _wide_part, y, assets, dtype, meta=meta)


def _rows(part, number, divisions, dates):
    """A partition of the wide frame as an array, checked to hold ``dates``."""
    if not part.index.equals(dates):
        raise ValueError(
            f"Partition {number} of `R` holds {len(part)} dates, not the "
            f"{len(dates)} dates of `F` within its divisions [{divisions[number]}, "
            f"{divisions[number + 1]}]: `R` must have a row for every date of `F`, "
            "in order (reindex it, e.g. `R.reindex(F.index)` per partition), and "
            "no other row."
        )
    return part.to_numpy()


def _array(F, R):
    """``R`` as a dask array of known chunks, each partition checked against ``F``."""
    if not R.known_divisions:
        raise ValueError(
            "`R` has unknown divisions; index it by date with known divisions "
            "(e.g. from `skfactor.dask.wide_returns`)."
        )
    # Rows of F in each partition's divisions (the last one closed).
    cuts = np.searchsorted(F.index, R.divisions[1:-1], side="left")
    bounds = np.concatenate([[0], cuts, [len(F)]])
    n_assets = len(R.columns)
    dtype = np.result_type(*R._meta.dtypes)
    blocks = [
        da.from_delayed(
            dask.delayed(_rows)(
                part, i, R.divisions, F.index[bounds[i] : bounds[i + 1]]
            ),
            shape=(int(bounds[i + 1] - bounds[i]), n_assets),
            dtype=dtype,
        )
        for i, part in partitions(R)
    ]
    return da.concatenate(blocks, axis=0)


def _complete_rows(block):
    return ~np.isnan(block).any(axis=1)


def _all(f_ok, *oks):
    return np.logical_and.reduce([f_ok, *oks])


def _fit_block(model, F, block, assets, complete_dates):
    y = pd.DataFrame(block, index=F.index, columns=assets)
    return model.fit_block(F, y, complete_dates=complete_dates)


def _small(block):
    """The block without its window arrays, and their shapes and dtypes."""
    specs = {name: (a.shape, a.dtype) for name, a in block.windows.items()}
    return replace(block, windows={}), specs


def _lazy(fits, verbose=False):
    """The blocks, their window arrays lazy: only the small parts are computed."""
    smalls = compute(*[dask.delayed(_small)(f) for f in fits], verbose=verbose,
                     desc="asset blocks")  # fmt: skip
    return [
        replace(
            small,
            windows={
                name: da.from_delayed(fit.windows[name], shape=shape, dtype=dtype)
                for name, (shape, dtype) in specs.items()
            },
        )
        for fit, (small, specs) in zip(fits, smalls, strict=True)
    ]


def fit_by_asset(
    model: Any,
    F: pd.DataFrame,
    R: DaskFrame,
    *,
    asset_block: int = 1000,
    verbose: bool = False,
) -> Any:
    """Fit a time-series model on a wide Dask frame of returns, by asset blocks.

    The wide frame is rechunked into blocks of every date x ``asset_block``
    assets, and ``model`` is fitted on each (the unchanged pandas model, as
    many times as there are blocks): per-asset results are equal to one fit
    on the whole frame. One computation.

    Parameters
    ----------
    model : TimeSeriesFactorModel or RollingFactorModel
        Any covariance type. The Gibbons-Ross-Shanken test of a
        TimeSeriesFactorModel is computed only when it is defined (more
        complete dates than assets plus factors, with an intercept), from the
        residuals of every block.
    F : DataFrame of shape (n_dates, n_factors)
        Factor returns in memory, sorted by date.
    R : dask DataFrame of shape (n_dates, n_assets)
        Wide asset returns (e.g. from :func:`wide_returns`) with known
        divisions, one row for each date of ``F``.
    asset_block : int, default=1000
        Assets per block: a block holds n_dates x asset_block values. With a
        distributed client, a block too large for the workers'
        ``memory_limit`` (about 10x its float64 size per thread, above their
        memory at rest) raises a ``MemoryError`` before anything is computed.
    verbose : bool, default=False
        A progress bar of the finished tasks on stderr (tqdm, the ``report``
        extra).

    Returns
    -------
    model
        Fitted. A TimeSeriesFactorModel's attributes are in memory (assets x
        terms); a RollingFactorModel's ``coef_`` and ``intercept_`` (the last
        window) are, while ``params_``, ``rsquared_``, ``resid_vol_``,
        ``nobs_`` (and ``bse_``) are lazy dask arrays of shape (n_dates,
        n_assets[, n_terms]), computed again block by block when asked. Its
        ``predict`` and ``score`` work as after a pandas fit, computing the
        windows they need; ``model.params_ = model.params_.persist()`` keeps
        the estimates on the workers for repeated use.

    Examples
    --------
    >>> from skfactor import TimeSeriesFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import fit_by_asset, from_pandas, wide_returns
    >>> data = make_factor_panel(n_dates=60, n_assets=10, random_state=0)
    >>> R = wide_returns(from_pandas(data.y.to_frame("ret"), 3), "ret")
    >>> F = data.factor_returns
    >>> model = fit_by_asset(TimeSeriesFactorModel(cov_type="HC1"), F, R, asset_block=4)
    >>> expected = TimeSeriesFactorModel(cov_type="HC1").fit(F, data.y.unstack())
    >>> bool((model.bse_ - expected.bse_).abs().max().max() < 1e-10)
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
    if not (isinstance(asset_block, int | np.integer) and asset_block >= 1):
        raise ValueError(f"`asset_block` must be an integer >= 1; got {asset_block!r}.")
    assets = pd.Index(R.columns)
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
    return model.combine_blocks(_lazy(fits, verbose))
