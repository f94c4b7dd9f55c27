"""OLS kernels shared by the factor models: many regressions at once, and inference.

Estimation (:func:`masked_ols`, :func:`ols_meat`, :func:`sandwich`): one
regressor matrix ``X`` of shape (n_dates, n_params) and many dependent columns
``Y`` of shape (n_dates, n_assets), each column regressed on its own (non-NaN)
rows through masked normal equations: ``X'X`` of every column is ``M @ Z``
with ``M`` its 0/1 mask and ``Z`` the per-date outer products of the
regressors, then one batched solve. Columns with no hole share one ``X'X`` and
one solve. The covariances reproduce statsmodels ``OLS`` (``nonrobust``,
``HC0``-``HC3``, ``HAC`` with the Bartlett kernel; also the Parzen kernel).
The robust covariances' meat needs the residuals and is computed with the fit;
the rest of the inference (standard errors, t, p-values) needs only the small
per-column moments (``bread``, ``ssr``, ``nobs``, the meat).

Inference (:func:`summary_frame`): the (asset, term) coefficient table, built
by :func:`skfactor.utils._numerics.coefficient_table`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skfactor.panel._regression import CENTRING_RATIO
from skfactor.utils._numerics import (
    KERNELS,
    RCOND,
    coefficient_table,
    power_of_two_units,
)
from skfactor.utils._warnings import warn

__all__ = [
    "MaskedOLS",
    "collinear",
    "hac_lags",
    "masked_ols",
    "ols_meat",
    "sandwich",
    "standardized_design",
    "summary_frame",
]

# Float64 cells (4 MiB) in one chunk of the HAC kernel's gathered scores.
_HAC_CHUNK_CELLS = 1 << 19
# Float64 cells (16 MiB) in one chunk of columns of the HC kernel.
_HC_CHUNK_CELLS = 1 << 21
# Float64 cells (2 MiB) of per-date outer products made at once: (dates, p²)
# for all dates at once was 22 MiB per product on 6,300 dates x 21 terms
# (the asset blocks of bench_dask.py, near their workers' memory limit).
_OUTER_CELLS = 1 << 18


def standardized_design(F, fit_intercept):
    """Regressors ``[1, (F - c) / s]`` and the map back to ``[1, F]``.

    Centring on the factor means ``c`` and scaling by their standard deviations
    ``s`` (over the dates where every factor is observed) keeps the normal
    equations well conditioned; any such ``X̃ = X A`` gives the same fit, with
    coefficients ``θ = A θ̃`` and covariances ``A V Aᵀ``.

    Returns
    -------
    X : ndarray of shape (n_dates, n_params)
        Standardized regressors, intercept first; rows where a factor is NaN
        are 0.
    A : ndarray of shape (n_params, n_params)
        ``θ = A @ θ̃`` in the original units.
    f_ok : ndarray of bool, shape (n_dates,)
        Dates on which every factor is observed.
    """
    f_ok = ~np.isnan(F).any(axis=1)
    Fo = F[f_ok]
    n_factors = F.shape[1]
    if len(Fo):
        center = Fo.mean(axis=0) if fit_intercept else np.zeros(n_factors)
        # The spread in units of a power of two near it: factors of 1e160 or
        # 1e-160 neither overflow nor lose digits to subnormals when squared.
        dev = Fo - center
        unit = power_of_two_units(dev)
        scale = unit * np.sqrt(((dev / unit) ** 2).mean(axis=0))
    else:
        center, scale = np.zeros(n_factors), np.ones(n_factors)
    scale[~(scale > 0)] = 1.0
    Xf = np.where(f_ok[:, None], (F - center) / scale, 0.0)
    A = np.diag(np.r_[np.ones(int(fit_intercept)), 1.0 / scale])
    if fit_intercept:
        A[0, 1:] = -center / scale
        Xf = np.column_stack([f_ok.astype(np.float64), Xf])
    return Xf, A, f_ok


def collinear(gram):
    """Whether each (stack of) Gram matrix ``X'X`` is numerically singular."""
    d = np.diagonal(gram, axis1=-2, axis2=-1)
    ok = (d > 0).all(axis=-1)
    root = np.sqrt(np.where(d > 0, d, 1.0))
    scaled = gram / (root[..., :, None] * root[..., None, :])
    eig = np.linalg.eigvalsh(scaled)
    return ~ok | (eig[..., 0] <= RCOND * eig[..., -1])


@dataclass
class MaskedOLS:
    """Per-column OLS fits of :func:`masked_ols` (columns in ``Y``'s order).

    ``params`` (n_cols, n_params) and ``bread`` = (X'X)⁻¹ (n_cols, n_params,
    n_params) are in the units of the ``X`` given. ``resid`` and ``mask`` are
    column-major, shape (n_cols, n_dates) (transpose them for date x column);
    ``resid`` is 0 off the mask (None when not kept). ``ssr`` is the sum of
    the squared residuals (summed from them, not ``y'y - β'X'y``). ``bad``
    marks columns with too few rows or collinear regressors on their rows,
    whose results are NaN. ``sums`` holds the sums over each column's rows
    that the fit went through, for every column (bad ones included): ``gram``
    ``X'X`` (n_cols, n_params, n_params), ``xty`` ``X'y`` (n_cols,
    n_params), ``yy`` ``y'y`` and ``ysum`` (n_cols,), of the ``y`` divided by
    ``units``: what :meth:`TimeSeriesFactorModel.partial_fit` adds to.
    """

    params: np.ndarray
    bread: np.ndarray
    resid: np.ndarray | None
    mask: np.ndarray
    nobs: np.ndarray
    ssr: np.ndarray
    tss_centered: np.ndarray
    tss_uncentered: np.ndarray
    bad: np.ndarray
    sums: dict | None = None


# Cells in one block of the column-blocked loop (512 KiB of float64: in cache).
_BLOCK_CELLS = 1 << 16


def _outer_rows(X, Y=None):
    """Per-row outer products ``x_t y_tᵀ`` flattened: shape (n_rows, p * p)."""
    Y = X if Y is None else Y
    return (X[:, :, None] * Y[:, None, :]).reshape(len(X), -1)


def _date_blocks(n_dates, p):
    """Slices of consecutive dates whose (dates, p²) outer products fit _OUTER_CELLS."""
    step = max(1, _OUTER_CELLS // max(p * p, 1))
    return [slice(start, start + step) for start in range(0, n_dates, step)]


def _weighted_outer_sum(w, X, lag=0):
    """``w @ _outer_rows(X[lag:], X[:-lag])``, (n_cols, p * p), by blocks of dates.

    ``w`` (n_cols, n_dates - lag) weighs each date's outer product
    ``x_{t+lag} x_tᵀ`` (``x_t x_tᵀ`` without ``lag``).
    """
    n, p = w.shape[1], X.shape[1]
    out = np.zeros((len(w), p * p))
    for b in _date_blocks(n, p):
        start, stop = b.start, min(b.stop, n)
        lead = X[start + lag : stop + lag]
        out += w[:, start:stop] @ _outer_rows(lead, X[start:stop])
    return out


def _row_dots(a, b):
    """``(a * b).sum(axis=1)`` of two 2-D arrays as one batched dot product."""
    return (a[:, None, :] @ b[:, :, None])[:, 0, 0]


def masked_ols(X, Y, rows=None, intercept=False, units=None, keep_resid=True):
    """Regress every column of ``Y`` on ``X`` over the dates where it is observed.

    Parameters
    ----------
    X : ndarray of shape (n_dates, n_params)
        Regressors (already with the intercept column, if any).
    Y : ndarray of shape (n_dates, n_cols)
        Dependent variables, NaN where missing. Fastest in Fortran order (as a
        DataFrame's values come): the work runs column by column in memory.
    rows : ndarray of bool, shape (n_dates,), default=None
        Dates usable at all (e.g. every factor observed); None means all.
    intercept : bool, default=False
        Whether ``X[:, 0]`` is the intercept column (1 on the usable dates, 0
        elsewhere): the column sums are then read off ``X'y``.
    units : ndarray of shape (n_cols,), default=None
        Divide each column of ``Y`` by this (a power of two, so exactly) as
        it is read: the fit is that of ``Y / units``, without a copy of ``Y``.
    keep_resid : bool, default=True
        Keep the residuals (``resid``, the fit's one full-size output, needed
        by the robust covariances). Without them only their sums of squares
        are kept and ``resid`` is None.

    Returns
    -------
    MaskedOLS
    """
    n_dates, p = X.shape
    Yt = np.ascontiguousarray(Y.T)  # (n_cols, n_dates): a view for F-ordered Y
    n_cols = len(Yt)
    mask = np.equal(Yt, Yt, out=np.empty(Yt.shape, dtype=bool))  # not NaN
    if rows is not None:
        mask &= rows
    # Columns observed on every date that any column uses share one X'X.
    used = mask.any(axis=0)
    full = (mask if used.all() else mask[:, used]).all(axis=1)
    holey = np.flatnonzero(~full)

    nobs = np.full(n_cols, np.count_nonzero(used))
    gram = np.empty((n_cols, p, p))
    Xu = X[used]
    gram[full] = shared_gram = Xu.T @ Xu
    if len(holey):  # M @ Z, the 0/1 mask made float a few columns at a time
        step = max(1, 4 * _BLOCK_CELLS // max(n_dates, 1))
        buf = np.empty((min(step, len(holey)), n_dates))
        for start in range(0, len(holey), step):
            cols = holey[start : start + step]
            m = buf[: len(cols)]
            np.copyto(m, mask[cols])
            nobs[cols] = m.sum(axis=1)
            gram[cols] = _weighted_outer_sum(m, X).reshape(-1, p, p)
    bad = nobs <= p
    bad[full] |= collinear(shared_gram)
    if len(holey):
        bad[holey] |= collinear(gram[holey])
    raw_gram = gram[bad].copy()  # X'X of every column, for the sums
    gram[bad] = np.eye(p)
    bread = np.empty_like(gram)
    shared = np.flatnonzero(full & ~bad)
    if len(shared):  # one inverse for every column without holes
        bread[shared] = np.linalg.inv(shared_gram)
    own = np.flatnonzero(~full & ~bad)
    if len(own):  # one batched inverse for the columns with holes
        bread[own] = np.linalg.inv(gram[own])
    bread[bad] = 0.0  # zero coefficients in the loop below; NaN after it

    # One pass over the returns, a block of columns at a time in cache: X'y,
    # the coefficients, the sums of squares, and the residuals (the fit's one
    # full-size output, 0 off the mask) written once. The 512 KiB blocks buy
    # 1.6x on the whole fit (0.11 s vs 0.18 s unblocked, bench_time_series).
    step = max(1, _BLOCK_CELLS // max(n_dates, 1))
    resid = np.empty((n_cols, n_dates)) if keep_resid else None
    params, xty_all = np.empty((2, n_cols, p))
    ssr, tss_centered, tss_uncentered, ysum = np.empty((4, n_cols))
    # A contiguous copy of X.T: OpenBLAS is several times slower with a
    # transposed operand this thin.
    Xt = np.ascontiguousarray(X.T)
    work = np.empty((min(step, n_cols), n_dates))
    scratch = None if keep_resid else np.empty_like(work)
    # 0/0 for columns without rows; otherwise (Y is finite) only an overflow
    # makes a value non-finite here.
    with np.errstate(all="ignore"):
        for start in range(0, n_cols, step):
            rows = slice(start, start + step)
            m, n = mask[rows], nobs[rows]
            out = resid[rows] if keep_resid else scratch[: len(m)]
            complete = (n == n_dates).all()
            y = Yt[rows] if complete else np.where(m, Yt[rows], 0.0)
            if units is not None:
                y = y / units[rows, None]  # a new block: Yt is not written
            w = work[: len(y)]
            xty_all[rows] = xty = y @ X
            params[rows] = beta = (bread[rows] @ xty[:, :, None])[:, :, 0]
            tss_uncentered[rows] = uncentered = _row_dots(y, y)
            ysum[rows] = total = xty[:, 0] if intercept else y.sum(axis=1)
            mean = total / n
            centered = uncentered - total * mean
            # One-pass centring loses digits when the mean dwarfs the spread:
            # those columns are centred explicitly.
            redo = np.flatnonzero(~(mean * mean <= CENTRING_RATIO * centered / n))
            if len(redo):
                dev = (y[redo] - mean[redo, None]) * m[redo]
                centered[redo] = _row_dots(dev, dev)
            tss_centered[rows] = centered
            np.matmul(beta, Xt, out=w)  # fitted values
            if complete:
                np.subtract(y, w, out=out)
            else:  # zero the fitted values off the mask
                y -= w
                np.multiply(y, m, out=out)
            ssr[rows] = _row_dots(out, out)
    if not np.isfinite(tss_uncentered).all():
        warn(
            "Some columns of `y` hold values too large to square in float64 "
            "(about 1e154 or more); their statistics are not finite. Rescale them.",
            RuntimeWarning,
        )
    gram[bad] = raw_gram
    sums = {"gram": gram, "xty": xty_all, "yy": tss_uncentered.copy(), "ysum": ysum}
    for a in (params, bread, ssr, tss_centered, tss_uncentered):
        a[bad] = np.nan
    return MaskedOLS(
        params, bread, resid, mask, nobs, ssr, tss_centered, tss_uncentered, bad, sums
    )


def _hc_meat(X, fit, cov_type):
    """``X' diag(ω) X`` of ``HC0``-``HC3`` for every column, in chunks of columns.

    The leverages ``h_t = x_tᵀ (X'X)⁻¹ x_t`` of ``HC2``/``HC3`` come from one
    product of each column's flattened ``(X'X)⁻¹`` with the per-date outer
    products. The 16 MiB chunks bound the temporaries (HC3 on bench_time_series:
    peak 132 MiB instead of 241 MiB in one pass, in the same time; 512 KiB
    cache-sized blocks were 1.6x slower); the outer products are made a
    block of dates at a time (:func:`_weighted_outer_sum`).
    """
    n_dates, p = X.shape
    n_cols = len(fit.resid)
    Zt = None
    if cov_type in ("HC2", "HC3"):  # OpenBLAS is slow with a thin transposed operand
        Zt = np.ascontiguousarray(_outer_rows(X).T)
    meat = np.empty((n_cols, p * p))
    step = max(1, _HC_CHUNK_CELLS // max(n_dates, 1))
    for start in range(0, n_cols, step):
        c = slice(start, start + step)
        omega = np.square(fit.resid[c])
        if cov_type == "HC1":
            omega *= (fit.nobs[c] / (fit.nobs[c] - p))[:, None]
        elif cov_type in ("HC2", "HC3"):
            bread = np.where(fit.bad[c, None, None], 0.0, fit.bread[c])
            one_minus_h = 1.0 - bread.reshape(len(omega), -1) @ Zt
            one_minus_h[~fit.mask[c]] = 1.0  # ω is 0 there
            omega /= one_minus_h if cov_type == "HC2" else np.square(one_minus_h)
        meat[c] = _weighted_outer_sum(omega, X)
    return meat.reshape(n_cols, p, p)


def hac_lags(nobs, bandwidth=None):
    """Lags of each column's HAC covariance: ``int(bandwidth)``, or statsmodels' rule.

    ``bandwidth=None`` is statsmodels' ``S_hac_simple`` rule per column,
    ``floor(4 (n/100)^(2/9))`` with ``n`` its observations.
    """
    nobs = np.asarray(nobs)
    if bandwidth is None:
        return np.floor(4 * (nobs / 100.0) ** (2.0 / 9.0)).astype(np.intp)
    return np.full(nobs.shape, int(bandwidth), dtype=np.intp)


def _hac_meat(X, fit, nlags, weight):
    """Σ_l w_l (Γ_l + Γ_lᵀ) of a kernel ``weight(lag, L)``, lags in a column's rows."""
    n_dates = X.shape[0]
    # Lag 0, Σ u_t² x_t x_tᵀ, does not depend on the order of the rows: HC0's.
    meat = _hc_meat(X, fit, "HC0")
    first = fit.mask.argmax(axis=1)
    last = n_dates - 1 - fit.mask[:, ::-1].argmax(axis=1)
    run = last - first + 1 == fit.nobs  # one run of dates: no gap
    _add_lags_one_run(X, fit, nlags, weight, meat, np.flatnonzero(run))
    _add_lags_compacted(X, fit, nlags, weight, meat, np.flatnonzero(~run))
    return meat


def _add_lags_one_run(X, fit, nlags, weight, meat, cols):
    """The lag terms of columns observed on one run of dates, into ``meat``.

    What it buys: 2.5x on the HAC fit of late listings (every lag's Γ of a
    chunk of columns is one product, with no per-column gather). Such a column
    (complete, listed late or delisted early) counts its lags in calendar
    dates and its residuals are 0 off the run, so Γ_l of all of them is one
    product of the lagged residual products with the per-date x_{t+l} x_tᵀ.
    """
    n_dates, p = X.shape
    step = max(1, _HAC_CHUNK_CELLS // max(n_dates, 1))
    buf = np.empty((min(step, len(cols)), n_dates))
    for start in range(0, len(cols), step):  # chunks of columns, bounded memory
        c = cols[start : start + step]
        u, nl, m = fit.resid[c], nlags[c], meat[c]
        for lag in range(1, min(int(nl.max()), n_dates - 1) + 1):
            prod = np.multiply(u[:, lag:], u[:, :-lag], out=buf[: len(c), lag:])
            g = _weighted_outer_sum(prod, X, lag=lag).reshape(-1, p, p)
            g *= weight(lag, nl)[:, None, None]
            m += g + g.transpose(0, 2, 1)
        meat[c] = m


def _add_lags_compacted(X, fit, nlags, weight, meat, cols):
    """The lag terms of any columns, into ``meat`` (the plain path).

    Each column's scores ``x_t u_t`` are gathered on its observed rows, in date
    order, so that lags are positions; chunks of columns bound the memory.
    """
    n_dates, p = X.shape
    step = max(1, _HAC_CHUNK_CELLS // max(n_dates * p, 1))
    Xt = np.ascontiguousarray(X.T)
    resid = np.ascontiguousarray(fit.resid).reshape(-1)
    # Buffers reused by every chunk, and takes with mode="clip" (the indices
    # are in range; "raise" buffers its output): on a Dask worker each new
    # array is mapped and faulted in afresh (~45 MiB per 315 x 2,000 block).
    buf = np.empty((p, min(step, len(cols)), n_dates))
    ubuf = np.empty((min(step, len(cols)), n_dates))
    gbuf = np.empty((min(step, len(cols)), p, p))
    for start in range(0, len(cols), step):
        c = cols[start : start + step]
        order = np.argsort(~fit.mask[c], axis=1, kind="stable")  # (c, T)
        scores = buf[:, : len(c)]  # (p, c, T); 0 past each column's nobs
        for j in range(p):  # one factor at a time: a 1-D gather
            np.take(Xt[j], order, out=scores[j], mode="clip")
        order += (c * n_dates)[:, None]  # each column's residuals, date order
        u = np.take(resid, order, out=ubuf[: len(c)], mode="clip")
        scores *= u
        xu = scores.transpose(1, 0, 2)  # (c, p, T)
        m, nl, g = meat[c], nlags[c], gbuf[: len(c)]
        for lag in range(1, min(int(nl.max(initial=0)), n_dates - 1) + 1):
            np.matmul(xu[:, :, lag:], xu[:, :, :-lag].transpose(0, 2, 1), out=g)
            g *= weight(lag, nl)[:, None, None]
            m += g
            m += g.transpose(0, 2, 1)
        meat[c] = m


def ols_meat(X, fit, cov_type, nlags=None, kernel="bartlett"):
    """The robust covariances' ``X' Ω X`` of every column (None for ``nonrobust``).

    ``HC0``-``HC3``: ``X' diag(ω) X`` with ``ω`` = ``u²``, ``n/(n-p) u²``,
    ``u²/(1-h)``, ``u²/(1-h)²``. ``kernel``: that of ``HC0`` plus
    ``Σ_l w_l (Γ_l + Γ_lᵀ)`` with ``w_l`` the ``kernel``'s weight
    (``bartlett``: Newey-West's ``1 - l/(L+1)``; ``parzen``) up to ``L =
    nlags`` (one per column, :func:`hac_lags`) lags of the column's own rows.
    Needs ``fit.resid``; the result is small, (n_cols, n_params, n_params).
    """
    if cov_type == "nonrobust":
        return None
    if cov_type == "kernel":
        return _hac_meat(X, fit, nlags, KERNELS[kernel][0])
    return _hc_meat(X, fit, cov_type)


def sandwich(bread, ssr, nobs, meat=None, correction=False):
    """Parameter covariances of every column, as statsmodels ``OLS`` defines them.

    ``meat`` None: ``s² (X'X)⁻¹`` with ``s² = SSR / (n - p)`` (``nonrobust``);
    else ``(X'X)⁻¹ meat (X'X)⁻¹`` (:func:`ols_meat`), times ``n/(n-p)`` when
    ``correction`` (statsmodels' ``use_correction`` of ``HAC``).

    Returns
    -------
    ndarray of shape (n_cols, n_params, n_params)
        NaN for the columns without estimates (NaN ``bread``).
    """
    df_resid = nobs - bread.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        if meat is None:
            return (ssr / df_resid)[:, None, None] * bread
        cov = bread @ meat @ bread
        if correction:
            cov *= (nobs / df_resid)[:, None, None]
    return cov


def summary_frame(groups, terms, params, bse, tvalues, pvalues, names=("asset",)):
    """Coefficient table: one row per (group, term), terms in the given order.

    Parameters
    ----------
    groups : sequence or Index of length n_groups
        Labels of the regressions (assets, dates, ...); a MultiIndex adds levels.
    terms : sequence of length n_terms
        Names of the coefficients (``"const"`` first by convention).
    params, bse, tvalues, pvalues : ndarray of shape (n_groups, n_terms)
    names : tuple of str
        Names of the group level(s); the term level is named ``"term"``.

    Returns
    -------
    DataFrame
        Indexed by (group..., term), with columns ``coef``, ``std_err``, ``t``,
        ``p_value``.
    """
    groups = pd.Index(groups)
    terms = pd.Index(terms, dtype=object)
    n_groups, n_terms = len(groups), len(terms)
    g = groups.repeat(n_terms)
    arrays = (
        [g.get_level_values(i) for i in range(groups.nlevels)]
        if isinstance(groups, pd.MultiIndex)
        else [g]
    )
    index = pd.MultiIndex.from_arrays(
        [*arrays, np.tile(terms.to_numpy(), n_groups)], names=[*names, "term"]
    )
    return coefficient_table(index, params, bse, tvalues, pvalues)
