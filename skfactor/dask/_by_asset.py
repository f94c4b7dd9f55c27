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

from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from sklearn.base import clone

from skfactor.dask._by_date import _columns
from skfactor.dask._layout import ASSET, check_panel, map_panel, partitions
from skfactor.dask._memory import BLOCK_FACTOR, check_workers
from skfactor.models._rolling import RollingFactorModel
from skfactor.models._time_series import (
    TimeSeriesFactorModel,
    grs_residuals,
    grs_statistic,
    grs_undefined,
)
from skfactor.utils._sklearn import set_features_seen
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


def _fit_block(model, F, block, assets):
    return clone(model).fit(F, pd.DataFrame(block, index=F.index, columns=assets))


def _complete_rows(block):
    return ~np.isnan(block).any(axis=1)


def _grs_block(Fv, block, f_ok, *oks):
    rows = np.logical_and.reduce([f_ok, *oks])
    if not rows.any():
        return None
    alpha, E, mu, omega = grs_residuals(Fv, np.asarray(block, np.float64), rows)
    return alpha, E, mu, omega, int(rows.sum())


def _cross(a, b):
    return None if a is None else a[1].T @ b[1]


def _count_rows(f_ok, *oks):
    return int(np.logical_and.reduce([f_ok, *oks]).sum())


def _grs_graph(model, F, blocks, n_assets):
    """Delayed GRS pieces: the complete dates' count, and residual products.

    The products only when the test can be defined (an intercept, more dates
    than assets plus factors).
    """
    Fv = F.to_numpy(dtype=np.float64)
    f_ok = ~np.isnan(Fv).any(axis=1)
    oks = [dask.delayed(_complete_rows)(b) for b in blocks]
    count = dask.delayed(_count_rows)(f_ok, *oks)
    if not model.fit_intercept or len(F) - n_assets - F.shape[1] <= 0:
        return count, None, None
    pieces = [dask.delayed(_grs_block)(Fv, b, f_ok, *oks) for b in blocks]
    cross = {
        (j, k): dask.delayed(_cross)(pieces[j], pieces[k])
        for j in range(len(blocks))
        for k in range(j, len(blocks))
    }
    return count, pieces, cross


def _grs(count, pieces, cross, N, K, intercept):
    """The GRS test from the blocks' pieces (NaN when undefined, as pandas)."""
    if not intercept or count - N - K <= 0:
        return grs_undefined(count, N, K, intercept)
    n = len(pieces)
    sigma = np.vstack(
        [
            np.hstack([cross[(j, k)] if j <= k else cross[(k, j)].T for k in range(n)])
            for j in range(n)
        ]
    )
    alpha = np.concatenate([p[0] for p in pieces])
    _, _, mu, omega, _ = pieces[0]
    return grs_statistic(alpha, sigma / count, mu, omega, count)


def _combine_time_series(model, fits, assets):
    """Attributes of the block fits, concatenated over assets."""
    first = fits[0]
    set_features_seen(
        model, first.n_features_in_, getattr(first, "feature_names_in_", None)
    )
    model.assets_ = assets
    model._single = False
    for name in ("coef_", "intercept_", "cov_params_"):
        setattr(model, name, np.concatenate([getattr(f, name) for f in fits]))
    for name in (
        "params_",
        "bse_",
        "tvalues_",
        "pvalues_",
        "rsquared_",
        "rsquared_adj_",
        "nobs_",
    ):
        setattr(model, name, pd.concat([getattr(f, name) for f in fits]))
    bad = np.isnan(model.params_.to_numpy()).all(axis=1)
    model._warn_bad(bad, model.params_.shape[1])


def _rolling_small(fit):
    return (
        fit.coef_,
        fit.intercept_,
        bool(np.isfinite(fit.params_.to_numpy()).any()),
        fit.n_features_in_,
        getattr(fit, "feature_names_in_", None),
    )


def _rolling_values(fit, name, n_dates, n_assets):
    values = getattr(fit, name).to_numpy()
    return (
        values.reshape(n_dates, n_assets, -1)
        if values.ndim == 2
        else (values.reshape(n_dates, n_assets))
    )


def _combine_rolling(model, F, fits, smalls, assets, sizes):
    first = smalls[0]
    set_features_seen(model, first[3], first[4])
    model.dates_ = F.index
    model.assets_ = assets
    model._single = False
    model._by_label = True
    model.coef_ = np.concatenate([s[0] for s in smalls])
    model.intercept_ = np.concatenate([s[1] for s in smalls])
    n_dates, n_terms = len(F), len(model._terms())
    names = ["params_", "rsquared_", "resid_vol_", "nobs_"]
    if model.store_bse:
        names.append("bse_")
    elif hasattr(model, "bse_"):
        del model.bse_
    for name in names:
        terms = (n_terms,) if name in ("params_", "bse_") else ()
        dtype = np.intp if name == "nobs_" else np.float64
        lazy = [
            da.from_delayed(
                dask.delayed(_rolling_values)(fit, name, n_dates, n),
                shape=(n_dates, n, *terms),
                dtype=dtype,
            )
            for fit, n in zip(fits, sizes, strict=True)
        ]
        setattr(model, name, da.concatenate(lazy, axis=1))
    if not any(s[2] for s in smalls):
        model._warn_empty(model._min_obs(F.shape[1]), n_dates)


def fit_by_asset(
    model: Any, F: pd.DataFrame, R: DaskFrame, *, asset_block: int = 1000
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
    if not isinstance(model, TimeSeriesFactorModel | RollingFactorModel):
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
    model._validate_params()
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
    fits = [
        dask.delayed(_fit_block)(model, F, b, assets[cuts[j] : cuts[j + 1]])
        for j, b in enumerate(blocks)
    ]
    if isinstance(model, RollingFactorModel):
        smalls = dask.compute(*[dask.delayed(_rolling_small)(f) for f in fits])
        _combine_rolling(model, F, fits, smalls, assets, np.diff(cuts))
        return model
    grs = _grs_graph(model, F, blocks, len(assets))
    fitted, grs = dask.compute(fits, grs)
    _combine_time_series(model, fitted, assets)
    model._grs = _grs(*grs, len(assets), F.shape[1], model.fit_intercept)
    return model
