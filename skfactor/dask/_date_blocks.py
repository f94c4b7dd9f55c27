"""Time-series and rolling models on the date partitions of a wide Dask frame.

A partition of the wide (date x asset) returns already holds every asset on
its dates, so nothing is rechunked:

- :class:`~skfactor.TimeSeriesFactorModel` is a sum over dates. Pass 1: each
  partition sums its per-asset cross-products (``chunk_sums``, the sums
  ``partial_fit`` keeps), in its own units; one task moves them to the
  assets' units (powers of two: exact), adds them and solves every asset's
  regression. Pass 2, with those final estimates: each partition sums its
  residuals' squares and its share of the robust meat with the model's own
  kernel (``ols_meat``: HC0-HC3 are sums over dates; a HAC lag within the
  partition too), and hands on the first and last ``L`` scores of each asset;
  the lags that cross a partition boundary pair them on the client, along
  each asset's own observed dates as the pandas fit counts them (an asset's
  last scores before a partition may lie several partitions back). The GRS
  test's sums over the dates on which every asset is observed join pass 2
  when the test is defined. The model's ``_fit_state`` (``partial_fit``'s
  final step) sets the attributes from the summed state. One computation;
  each partition's array (made in the task that makes the partition: the
  wide frame itself is never stored) is held (or spilled) for pass 2.
- :class:`~skfactor.RollingFactorModel`: a window looks back ``window - 1``
  dates (``date_block_lookback``), so each partition is fitted
  (``fit_block``) with the previous ``window - 1`` dates of ``R`` (slices of
  the partitions before it, however small they are) and keeps its own
  dates' windows. The fitted partitions are persisted (on the workers), so
  each is fitted once; the blocks are joined along the dates and
  ``combine_blocks`` sets the model, its windows lazy arrays read from them.
"""

from __future__ import annotations

from dataclasses import replace

import dask
import dask.array as da
import numpy as np
import pandas as pd

from skfactor.dask._layout import map_partition_results
from skfactor.utils._progress import compute

__all__ = [
    "date_blocks",
    "fit_rolling_by_date",
    "fit_time_series_by_date",
    "fitted_blocks",
    "small_block",
]


def _rows(part, number, divisions, index, bounds, asset_major):
    """A partition of the wide frame as an array, checked to hold its dates of ``F``."""
    dates = index[bounds[number] : bounds[number + 1]]
    if not part.index.equals(dates):
        raise ValueError(
            f"Partition {number} of `R` holds {len(part)} dates, not the "
            f"{len(dates)} dates of `F` within its divisions [{divisions[number]}, "
            f"{divisions[number + 1]}]: `R` must have a row for every date of `F`, "
            "in order (reindex it, e.g. `R.reindex(F.index)` per partition), and "
            "no other row."
        )
    if not asset_major:
        return part.to_numpy()
    # Asset-major in memory (returned as its transpose, an (n_dates,
    # n_assets) view): the time-series sums and meat read each asset's
    # dates contiguously, with no copy of their own.
    return np.ascontiguousarray(part.to_numpy().T).T


def _first(result):
    return result.iloc[0]


def date_blocks(F, R, *, asset_major=False):
    """``(delayed array, first row, stop row)`` of each partition of ``R``.

    ``asset_major``: each array of shape (n_dates, n_assets) is the
    transpose of a contiguous (n_assets, n_dates) one (a copy of the
    partition in its task, which the time-series passes read without their
    own); otherwise the partition's values as they are.

    The rows are ``F``'s: each partition is checked, in its task, to hold
    exactly the dates of ``F`` within its divisions. The array is made in the
    task that makes the partition (a blockwise layer, on the worker holding
    the panel's partition): the wide frame of 2,000 asset columns is never
    stored, which cost 0.1 s a partition in Dask's ``sizeof`` alone.
    """
    if not R.known_divisions:
        raise ValueError(
            "`R` has unknown divisions; index it by date with known divisions "
            "(e.g. from `skfactor.dask.wide_returns`)."
        )
    # Rows of F in each partition's divisions (the last one closed).
    cuts = np.searchsorted(F.index, R.divisions[1:-1], side="left")
    bounds = np.concatenate([[0], cuts, [len(F)]]).astype(int)
    arrays = map_partition_results(R, _rows, F.index, bounds, asset_major)
    return [
        (dask.delayed(_first)(a), bounds[i], bounds[i + 1])
        for i, a in enumerate(arrays)
    ]


# ------------------------------------------------------------- time series
def fit_time_series_by_date(model, F, R, verbose=False):
    """Fit a TimeSeriesFactorModel on the date partitions of ``R`` (see the module)."""
    plan = model.plan_date_blocks(F)
    blocks = date_blocks(F, R, asset_major=True)
    sums = [dask.delayed(plan.sums)(Y, lo, hi) for Y, lo, hi in blocks]
    combined = dask.delayed(plan.combine)(sums)
    meat = [dask.delayed(plan.meat)(Y, lo, hi, combined) for Y, lo, hi in blocks]
    combined, meat = compute(combined, meat, verbose=verbose, desc="date blocks")
    return model.combine_date_blocks(plan, combined, meat, pd.Index(R.columns))


# ----------------------------------------------------------------- rolling
def _stack(*pieces):
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def _rolling_block(model, F, assets, keep, Y, *before):
    """``fit_block`` on ``before`` + ``Y``; the windows of ``Y``'s dates only."""
    R = pd.DataFrame(_stack(*before, Y), index=F.index, columns=assets)
    block = model.fit_block(F, R)
    windows = {name: a[len(F) - keep :] for name, a in block.windows.items()}
    params = windows["params_"]
    estimated = np.isfinite(params).any(axis=(0, 2)) if len(params) else None
    return replace(block, windows=windows, estimated=estimated)


def small_block(block):
    """The block without its window arrays, and their shapes and dtypes."""
    specs = {name: (a.shape, a.dtype) for name, a in block.windows.items()}
    return replace(block, windows={}), specs


def _windows(block):
    return block.windows


def _window(windows, name):
    return windows[name]


def fitted_blocks(fits, verbose=False, desc="blocks"):
    """The fitted blocks, each computed once: windows kept where they were made.

    One computation persists each block's window arrays (on the workers
    with a distributed client: a dict of arrays, which the workers size and
    can spill) and its small parts; the small parts are fetched and the
    windows become lazy arrays read from the persisted ones, so computing
    them again (``params_``, ``predict``) fits nothing again.
    """
    windows = [dask.delayed(_windows)(f) for f in fits]
    smalls = [dask.delayed(small_block)(f) for f in fits]
    kept = dask.persist(*windows, *smalls)
    windows, smalls = kept[: len(fits)], kept[len(fits) :]
    smalls = compute(*smalls, verbose=verbose, desc=desc)
    return [
        replace(
            small,
            windows={
                name: da.from_delayed(
                    dask.delayed(_window)(w, name), shape=shape, dtype=dtype
                )
                for name, (shape, dtype) in specs.items()
            },
        )
        for w, (small, specs) in zip(windows, smalls, strict=True)
    ]


def fit_rolling_by_date(model, F, R, verbose=False):
    """Fit a RollingFactorModel on the date partitions of ``R`` (see the module).

    Every partition is fitted once, here (:func:`fitted_blocks`): its
    windows stay on the workers, and the model's lazy windows read them.
    """
    back = model.date_block_lookback()
    blocks = date_blocks(F, R)
    assets = pd.Index(R.columns)
    fits = []
    for Y, lo, hi in blocks:
        if hi == lo:
            continue
        start = max(lo - back, 0)
        before = [  # the slices of the earlier partitions within the window
            Yj[max(start, lo_j) - lo_j : hi_j - lo_j]
            for Yj, lo_j, hi_j in blocks
            if hi_j > lo_j and lo_j < lo and hi_j > start
        ]
        ext = F.iloc[start:hi]
        fits.append(
            dask.delayed(_rolling_block)(model, ext, assets, hi - lo, Y, *before)
        )
    if not fits:
        raise ValueError("`F` and `R` hold no date: there is nothing to fit.")
    fitted = fitted_blocks(fits, verbose, "date partitions")
    last = fitted[-1]
    windows = {
        name: da.concatenate([b.windows[name] for b in fitted], axis=0)
        for name in last.windows
    }
    estimated = np.logical_or.reduce([b.estimated for b in fitted])
    shared = dict(last.shared, dates_=F.index)
    merged = replace(last, shared=shared, windows=windows, estimated=estimated)
    return model.combine_blocks([merged])
