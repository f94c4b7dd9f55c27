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
  the wide partitions of pass 1 are held (or spilled) for pass 2.
- :class:`~skfactor.RollingFactorModel`: a window looks back ``window - 1``
  dates, so each partition is fitted (``fit_block``) with the previous
  ``window - 1`` dates of ``R`` (slices of the partitions before it, however
  small they are) and keeps its own dates' windows; the blocks are joined
  along the dates and ``combine_blocks`` sets the model, windows lazy.
"""

from __future__ import annotations

from dataclasses import replace
from functools import reduce

import dask
import dask.array as da
import numpy as np
import pandas as pd

from skfactor.models._ols import MaskedOLS, hac_lags, ols_meat
from skfactor.models._time_series_sums import (
    GRS_MAX_ASSETS,
    AssetSums,
    CompleteDateSums,
    SumsState,
    chunk_sums,
    solve_sums,
    sym_products,
)
from skfactor.panel._validation import check_finite
from skfactor.utils._later_dates import last_date
from skfactor.utils._numerics import KERNELS, power_of_two_units
from skfactor.utils._progress import compute

__all__ = ["date_blocks", "fit_rolling_by_date", "fit_time_series_by_date"]


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


def date_blocks(F, R):
    """``(delayed array, first row, stop row)`` of each partition of ``R``.

    The rows are ``F``'s: each partition is checked, in its task, to hold
    exactly the dates of ``F`` within its divisions.
    """
    if not R.known_divisions:
        raise ValueError(
            "`R` has unknown divisions; index it by date with known divisions "
            "(e.g. from `skfactor.dask.wide_returns`)."
        )
    # Rows of F in each partition's divisions (the last one closed).
    cuts = np.searchsorted(F.index, R.divisions[1:-1], side="left")
    bounds = np.concatenate([[0], cuts, [len(F)]]).astype(int)
    blocks = []
    for i, part in enumerate(R.to_delayed()):
        lo, hi = bounds[i], bounds[i + 1]
        Y = dask.delayed(_rows)(part, i, R.divisions, F.index[lo:hi])
        blocks.append((Y, lo, hi))
    return blocks


# ------------------------------------------------------------- time series
def _float(Y):
    check_finite(Y, "y")
    return np.asarray(Y, dtype=np.float64)


def _pass1(Y, X, f_ok):
    """Per-asset sums of a block of dates, in the block's own units."""
    Y = _float(Y)
    units = power_of_two_units(Y)
    m = ~np.isnan(Y) & f_ok[:, None]
    with np.errstate(invalid="ignore"):
        sums = chunk_sums(X, np.where(m, Y / units, 0.0), m, robust=False)
    return units, sums, m.all(axis=1)


def _combine(parts, intercept, bandwidth, n_factors):
    """Pass 1's sums in the assets' units, added, and what pass 2 needs."""
    units = reduce(np.fmax, [u for u, _, _ in parts])
    total = None
    for u, s, _ in parts:
        f = u / units  # a power of two: the sums move exactly
        s = AssetSums(s.nobs, s.yy * f * f, s.sy * f, s.xy * f[:, None], s.gram,
                      None, None, None)  # fmt: skip
        total = s if total is None else total + s
    p = total.xy.shape[1]
    fit = solve_sums(total, p)
    complete = np.concatenate([c for _, _, c in parts])
    T, N = int(complete.sum()), len(units)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total.sy / total.nobs
    return {
        "units": units,
        "sums": total,
        "complete": complete,
        "theta": np.nan_to_num(fit.params),
        "bread": fit.bread,
        "bad": fit.bad,
        "nobs": fit.nobs,
        "mean": np.nan_to_num(mean) if intercept else np.zeros(N),
        "nlags": hac_lags(fit.nobs, bandwidth),
        "grs": intercept and (N <= GRS_MAX_ASSETS or T > N + n_factors),
    }


def _edge_scores(X, resid, mask, L):
    """Each asset's first and last ``L`` scores ``x_t u_t`` on its dates, and count.

    (n_assets, L, p) each: the first left-aligned, the last right-aligned,
    zeros where the asset has fewer than ``L`` dates.
    """
    n_assets, n = mask.shape
    count = mask.sum(axis=1)
    order = np.argsort(~mask, axis=1, kind="stable")  # its dates first, in order
    rows = np.arange(n_assets)[:, None]
    j = np.arange(L)

    def scores(at, valid):
        at = np.clip(at, 0, n - 1)
        pos = order[rows, at]
        u = np.where(valid, resid[rows, pos], 0.0)
        return X[pos] * u[..., None]

    first = scores(j[None, :] + 0 * rows, j[None, :] < count[:, None])
    at = count[:, None] - L + j
    return first, scores(at, at >= 0), count


def _pass2(Y, X, f_ok, F, info, cov_type, kernel, factor_units):
    """Residual sums, the meat's share and the edge scores of a block of dates."""
    Y = _float(Y)
    n, N = Y.shape
    m = ~np.isnan(Y) & f_ok[:, None]
    with np.errstate(invalid="ignore"):
        y = np.where(m, Y / info["units"], 0.0)
    resid = np.ascontiguousarray(((y - X @ info["theta"].T) * m).T)  # (N, n)
    dev = (y - info["mean"]) * m
    out = {
        "ssr": np.einsum("ij,ij->i", resid, resid),
        "tss": np.einsum("ij,ij->j", dev, dev),
        "meat": None,
        "edges": None,
        "grs": None,
    }
    if cov_type != "nonrobust" and n:
        mask = np.ascontiguousarray(m.T)
        fit = MaskedOLS(info["theta"], info["bread"], resid, mask, mask.sum(axis=1),
                        out["ssr"], None, None, info["bad"])  # fmt: skip
        # HC1 is HC0 scaled by each asset's n / (n - p) over all its dates.
        kind = "HC0" if cov_type == "HC1" else cov_type
        out["meat"] = ols_meat(X, fit, kind, info["nlags"], kernel)
        L = int(info["nlags"].max(initial=0))
        if cov_type == "kernel" and L:
            out["edges"] = _edge_scores(X, resid, mask, L)
    complete = m.all(axis=1)
    if info["grs"] and complete.any():
        Z = np.column_stack([F[complete] / factor_units, Y[complete] / info["units"]])
        out["grs"] = CompleteDateSums.empty(Z.mean(axis=0)).add(Z)
    return out


def _boundary_lags(edges, nlags, weight, meat):
    """Add to ``meat`` the lag terms whose two dates lie in different blocks.

    ``edges`` per block in date order (None: no date). A block's first
    scores pair with the last ``L`` scores of each asset before it, which
    are carried from block to block (from several blocks back when an
    asset has fewer than ``L`` dates in the blocks between).
    """
    tail = None
    for edge in edges:
        if edge is None:
            continue
        first, last, count = edge
        L = first.shape[1]
        if tail is None:
            tail = np.zeros_like(last)
        for lag in range(1, L + 1):  # pairs (k, k - lag), k < lag in this block
            g = np.einsum("nkp,nkq->npq", first[:, :lag], tail[:, L - lag :])
            g *= weight(lag, nlags)[:, None, None]
            meat += g + g.transpose(0, 2, 1)
        # The last L scores up to this block: its own, or the carried ones
        # followed by its few.
        both = np.concatenate([tail, first], axis=1)
        at = np.minimum(count, L)[:, None] + np.arange(L)
        carried = np.take_along_axis(both, at[:, :, None], axis=1)
        tail = np.where((count >= L)[:, None, None], last, carried)
    return meat


def fit_time_series_by_date(model, F, R, verbose=False):
    """Fit a TimeSeriesFactorModel on the date partitions of ``R`` (see the module)."""
    wide, Xs, A, f_ok, settings, bandwidth = model._date_design(F)
    cov_type, intercept = settings
    assets = pd.Index(R.columns)
    n_factors = wide.F.shape[1]
    factor_units = power_of_two_units(wide.F)
    blocks = date_blocks(F, R)
    p1 = [dask.delayed(_pass1)(Y, Xs[lo:hi], f_ok[lo:hi]) for Y, lo, hi in blocks]
    info = dask.delayed(_combine)(p1, intercept, bandwidth, n_factors)
    p2 = [
        dask.delayed(_pass2)(Y, Xs[lo:hi], f_ok[lo:hi], wide.F[lo:hi], info,
                             cov_type, model.kernel, factor_units)
        for Y, lo, hi in blocks
    ]  # fmt: skip
    info, parts = compute(info, p2, verbose=verbose, desc="date blocks")
    p = Xs.shape[1]
    ssr = sum(part["ssr"] for part in parts)
    tss = sum(part["tss"] for part in parts)
    meat = None
    if cov_type != "nonrobust":
        meat = sum((q["meat"] for q in parts if q["meat"] is not None),
                   np.zeros((len(assets), p, p)))  # fmt: skip
        if cov_type == "HC1":
            with np.errstate(invalid="ignore", divide="ignore"):
                meat *= (info["nobs"] / (info["nobs"] - p))[:, None, None]
        if cov_type == "kernel":
            weight = KERNELS[model.kernel][0]
            edges = [q["edges"] for q in parts]
            meat = _boundary_lags(edges, info["nlags"], weight, meat)
    shares = [q["grs"] for q in parts if q["grs"] is not None]
    complete = info["complete"]
    grs = None
    if info["grs"]:
        shift = shares[0].shift if shares else np.zeros(n_factors + len(assets))
        grs = reduce(CompleteDateSums.merge, shares, CompleteDateSums.empty(shift))
    state = SumsState(
        settings,
        last_date(wide.dates),
        False,
        A,
        info["units"],
        factor_units,
        info["sums"],
        int(f_ok.sum()),
        sym_products(Xs, 2).sum(axis=0),
        int(complete.sum()),
        grs,
    )
    return model._fit_state(state, assets, meat=meat, resid=(ssr, tss))


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


def _estimated(block):
    return block.estimated


def fit_rolling_by_date(model, F, R, verbose=False):
    """Fit a RollingFactorModel on the date partitions of ``R`` (see the module).

    The windows stay lazy (each partition fitted again when they are
    computed); only the last partition is fitted now, for the last window's
    ``coef_`` and ``intercept_``, and the others only when it has no
    estimate at all (for the warning that no window has one).
    """
    model._validate_params()
    blocks = date_blocks(F, R)
    assets = pd.Index(R.columns)
    back = int(model.window) - 1
    fits, sizes = [], []
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
        sizes.append(hi - lo)
    if not fits:
        raise ValueError("`F` and `R` hold no date: there is nothing to fit.")
    last, specs = compute(dask.delayed(small_block)(fits[-1]), verbose=verbose,
                          desc="last partition")[0]  # fmt: skip
    estimated = last.estimated
    if not estimated.any():  # is there an estimate anywhere?
        others = compute(*[dask.delayed(_estimated)(f) for f in fits[:-1]],
                         verbose=verbose, desc="date partitions")  # fmt: skip
        estimated = np.logical_or.reduce([estimated, *others])
    windows = {
        name: da.concatenate(
            [
                da.from_delayed(f.windows[name], shape=(n, *shape[1:]), dtype=dtype)
                for f, n in zip(fits, sizes, strict=True)
            ],
            axis=0,
        )
        for name, (shape, dtype) in specs.items()
    }
    shared = dict(last.shared, dates_=F.index)
    merged = replace(last, shared=shared, windows=windows, estimated=estimated)
    return model.combine_blocks([merged])
