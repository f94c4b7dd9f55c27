r"""Per-date least squares: segment cross-products, batched solves, R², fits.

One weighted least-squares regression of ``y`` on ``X`` per segment (date),
without a Python loop over dates:

1. The moments (:func:`_accumulate`): a block of dates at a time, each date's
   rows are copied into a zero-padded ``(n_features + 2, n_dates, width)``
   buffer of cache size (:func:`_padded_block`: a date-sorted balanced
   panel's block is one slice), the cells without a complete row (``y``,
   every column of ``X`` and the weight non-NaN, the weight > 0) zeroed by
   clearing their bits, so that no NaN reaches a matrix product; the buffer's
   batched Gram matrices hold every date's cross-products
   :math:`[X, y]^\top W [X, y]`, weight sum and means. They are centred on
   the weighted means in one pass when the model has an intercept.
2. :func:`segment_lstsq` solves every segment's normal equations at once
   (``np.linalg.solve`` on the stacked, diagonally scaled Gram matrices) after a
   batched eigenvalue rank check, optionally under one linear equality
   constraint per segment, and gives each residual sum of squares from the
   normal equations where they keep their digits.
3. :func:`segment_regression` does both; the few dates where the one-pass
   centring or the normal equations would lose digits (a mean far from the
   spread, a near-exact fit: :math:`y'y - \beta'b` cancels to nothing when
   noise is 1e-8 of the signal) are redone explicitly, centred in the buffer,
   with the residual sum of squares summed from the residuals. It gives the
   residuals of every row on request.

The cross-products are formed in the data's units when every date's sums of
squares lie within :data:`UNIT_RANGE` (the usual case); otherwise every column
of ``X`` and ``y`` is divided by a power of two near its largest magnitude
(exact, so the results are those of the unscaled data to the bit) and the
moments formed again, so loadings of 1e-160 or 1e160 neither underflow nor
overflow; the moments are in these units (:attr:`Moments.scale`), the
coefficients and residuals in the data's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skfactor.utils._numerics import RCOND, power_of_two_units
from skfactor.utils._scratch import Scratch

__all__ = [
    "Moments",
    "Regression",
    "segment_lstsq",
    "segment_regression",
    "segment_residuals",
]

# Padded rows per block of dates: a few MiB, cache friendly.
_BLOCK_ROWS = 1 << 15
# A segment whose diagonally scaled Gram matrix has min eigenvalue <= RCOND
# (skfactor/utils/_numerics.py) times its max eigenvalue is rank deficient.
# One-pass centring (Σx² - n x̄², here the centred Gram matrix X'WX - W m m';
# also the time-series model's sums of squares) is used only where the squared
# mean is at most this multiple of the variance, so no more than ~2 digits are
# lost to cancellation; elsewhere values are centred explicitly.
CENTRING_RATIO = 1e2
# The residual sum of squares y'y - b'A⁻¹b of the normal equations is kept
# where the condition number of the scaled Gram matrix times y'y / SSR is at
# most this (no more than ~3 digits lost); elsewhere it is summed from the
# residuals.
NORMAL_EQUATIONS_RATIO = 1e3
# Sums of squares within [2**-100, 2**100] (or 0) on every date: the moments
# can be formed in the data's units, nothing under- or overflows downstream.
UNIT_RANGE = (2.0**-100, 2.0**100)


class Moments(NamedTuple):
    r"""Per-segment weighted cross-products of ``[X, y]`` (y is the last column).

    Attributes
    ----------
    gram : ndarray of shape (n_segments, p + 1, p + 1)
        :math:`\sum_i w_i z_i z_i^\top` over the complete rows, with
        :math:`z_i = [x_i, y_i] - \bar z` when ``centered`` (weighted means),
        else :math:`z_i = [x_i, y_i]`.
    mean : ndarray of shape (n_segments, p + 1)
        Weighted means of the complete rows (NaN for a segment without any).
    weight_sum : ndarray of shape (n_segments,)
        Sum of the weights of the complete rows.
    nobs : ndarray of int, shape (n_segments,)
        Number of complete rows.
    centered : bool
        Whether ``gram`` is centred (the model has an intercept).
    scale : ndarray of shape (p + 1,)
        The power of two each column of ``[X, y]`` was divided by: ``gram`` and
        ``mean`` are those of ``[X, y] / scale`` (ones: the data's units).
    """

    gram: np.ndarray
    mean: np.ndarray
    weight_sum: np.ndarray
    nobs: np.ndarray
    centered: bool
    scale: np.ndarray | None = None


def _empty_moments(n_seg, p):
    """Zeroed Gram matrices, NaN means, zero weight sums and counts, to fill."""
    return (
        np.zeros((n_seg, p + 1, p + 1)),
        np.full((n_seg, p + 1), np.nan),
        np.zeros(n_seg),
        np.zeros(n_seg, dtype=np.intp),
    )


def _blocks(sizes):
    """Split consecutive segments so that n_segments x max_size <= _BLOCK_ROWS."""
    target = _BLOCK_ROWS
    i, n = 0, len(sizes)
    while i < n:
        cap = min(n - i, target)
        fits = np.arange(1, cap + 1) * np.maximum.accumulate(sizes[i : i + cap])
        fits = fits <= target
        j = i + (cap if fits.all() else max(1, int(np.argmin(fits))))
        yield i, j
        i = j


def _padded_block(segments, seg, data, inv_scale, scratch=None):
    """The rows of the segments ``seg`` in a zero-padded block, in the cache.

    ``data = (X, y, weights)``. Returns ``(Z, complete, sw)``: ``Z`` of shape
    ``(p + 2, len(seg), width)`` holds each segment's rows of ``X`` and ``y``
    (times ``inv_scale``), 0 on every cell without a complete row, its last
    row left to the caller; ``complete`` (len(seg), width) marks the complete
    rows and ``sw`` is the square root of their weights (0 elsewhere; None
    without weights). ``Z`` and ``complete`` are views of ``scratch``'s
    arrays (a :class:`~skfactor.utils._scratch.Scratch` reused by every
    block of a pass: a distributed worker maps each new array above 128 KiB
    afresh, so buffers made per block would cost their bytes in page faults
    every block, 3x the fit's own time there), valid until the next block.

    Consecutive segments of a date-sorted balanced panel are one slice;
    otherwise each segment's rows are gathered (its padding reads the next
    rows). The other cells are zeroed by clearing their bits (an ``and``
    with a row mask: a NaN times 0 is NaN, and OpenBLAS's products are many
    times slower on NaN; zeroing the cells through an index is 3x slower
    when 40 % of the rows miss a loading).
    """
    X, y, weights = data
    p = X.shape[1]
    starts, sizes = segments.starts[seg], segments.sizes[seg]
    nd, width = len(seg), int(sizes.max())
    n = nd * width
    if scratch is None:
        scratch = Scratch()
    Z = scratch("Z", ((p + 2) * n,)).reshape(p + 2, n)
    inside = None
    if segments.order is None and seg[-1] - seg[0] == nd - 1 and sizes.min() == width:
        src = slice(starts[0], starts[0] + n)  # one slice, no padding
    else:
        src = scratch("src", (n,), np.intp)
        grid = src.reshape(nd, width)
        np.add(starts[:, None], np.arange(width), out=grid)
        np.minimum(grid, segments.n_rows - 1, out=grid)
        if segments.order is not None:  # the rows in the caller's order
            src = np.take(
                segments.order, src, out=scratch("rows", (n,), np.intp), mode="clip"
            )
        inside = (np.arange(width) < sizes[:, None]).reshape(-1)
    for k in range(p):
        if inside is None:
            np.copyto(Z[k], X[src, k])
        else:  # mode="clip" (src is in range): "raise" buffers its output
            np.take(X[:, k], src, out=Z[k], mode="clip")
    if inside is None:
        np.copyto(Z[p], y[src])
    else:
        np.take(y, src, out=Z[p], mode="clip")
    values = Z[: p + 1]
    if inv_scale is not None:
        values *= inv_scale[:, None]
    nan = scratch("nan", ((p + 1) * n,), bool).reshape(p + 1, n)
    ok = scratch("ok", (n,), bool)
    np.isnan(values, out=nan)
    np.any(nan, axis=0, out=ok)  # 2x faster than a NaN sum
    np.logical_not(ok, out=ok)
    if inside is not None:
        ok &= inside
    sw = None
    if weights is not None:
        w = weights[src]
        ok &= w > 0  # NaN > 0 is False
        sw = np.sqrt(np.where(ok, w, 0.0)).reshape(nd, width)
    if not ok.all():
        bits, mask = values.view(np.int64), scratch("bits", (n,), np.int64)
        np.negative(ok.view(np.int8), out=mask)  # all ones where complete
        np.bitwise_and(bits, mask, out=bits)
    return Z.reshape(p + 2, nd, width), ok.reshape(nd, width), sw


def _accumulate(segments, which, data, out, scale, center, fit=None):
    """The moments of the segments ``which``, a block at a time, into ``out``.

    ``out = (gram, mean, weight_sum, nobs)``. By default the buffer's last row
    holds the (square roots of the) weights, so that each block's batched Gram
    matrices hold its weight sums and weighted means too; the caller centres
    them in one pass. With ``fit = (solve, results, ssr)`` the rows are
    centred in the buffer before the product (``explicit``-ly, for the
    segments where one pass loses digits), each block solved while it is in
    cache (``solve(Moments) -> (coef, intercept, tss, status, ssr)`` into the
    ``results`` arrays) and its weighted residual sum of squares summed from
    the residuals into ``ssr``. All in the units ``scale``.
    """
    gram, mean, weight_sum, nobs = out
    p = data[0].shape[1]
    inv_scale = None if (scale == 1).all() else 1.0 / scale
    scratch = Scratch()
    for i, j in _blocks(segments.sizes[which]):
        seg = which[i:j]
        Z, valid, sw = _padded_block(segments, seg, data, inv_scale, scratch)
        count = nobs[seg] = np.count_nonzero(valid, axis=1)
        if fit is None:
            if sw is not None:
                Z[: p + 1] *= sw
            Z[p + 1] = valid if sw is None else sw
            Zt = Z.transpose(1, 0, 2)  # (n_dates, p + 2, width)
            # Overflow (data's units) is caught by _in_unit_range: redone.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                G = Zt @ Zt.transpose(0, 2, 1)
                mean[seg] = G[:, p + 1, : p + 1] / G[:, p + 1, p + 1, None]
            gram[seg] = G[:, : p + 1, : p + 1]
            weight_sum[seg] = G[:, p + 1, p + 1]
            continue
        Z = Z[: p + 1]
        wsum = count.astype(np.float64) if sw is None else (sw * sw).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            if sw is None:
                mu = Z.sum(axis=2).T / wsum[:, None]
            else:
                mu = np.einsum("qtm,tm->tq", Z, sw * sw) / wsum[:, None]
        if center:
            Z -= np.nan_to_num(mu).T[:, :, None]
            Z *= valid  # the padding back to 0
        if sw is not None:
            Z *= sw
        Zt = Z.transpose(1, 0, 2)  # (n_dates, p + 1, width)
        gram[seg] = Zt @ Zt.transpose(0, 2, 1)
        mean[seg], weight_sum[seg] = mu, wsum
        solve, results, ssr = fit
        solved = solve(Moments(gram[seg], mu, wsum, count, center, scale))
        for store, value in zip(results, solved[:4], strict=True):
            store[seg] = value
        fitted = np.nan_to_num(solved[0])[:, None, :] @ Zt[:, :p, :]
        E = np.subtract(Z[p], fitted[:, 0, :], out=fitted[:, 0, :])
        ssr[seg] = np.einsum("tm,tm->t", E, E)  # 0 on the padding


def _centre_one_pass(gram, mean, weight_sum):
    """Centre ``gram`` in place as ``G - W m m'``; the segments it cannot centre.

    1.5x on the balanced reference panel over centring each block before its
    Gram product; a segment whose squared mean exceeds ``CENTRING_RATIO``
    times its variance loses too many digits and is returned, to be redone.
    """
    m = np.nan_to_num(mean)
    gram -= weight_sum[:, None, None] * m[:, :, None] * m[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.diagonal(gram, axis1=1, axis2=2) / weight_sum[:, None]
        return np.flatnonzero((m * m > CENTRING_RATIO * var).any(axis=1))


def _in_unit_range(gram, nobs):
    """Whether every date's sums of squares are 0 or within :data:`UNIT_RANGE`."""
    d = np.diagonal(gram[nobs > 0], axis1=1, axis2=2)
    low, high = UNIT_RANGE
    return bool(np.all((d == 0) | ((d >= low) & (d <= high))))  # NaN: False


def _reparametrise(constraint, p):
    """Null-space basis of one constraint ``c @ beta = 0`` per segment.

    ``beta = N @ theta``: the coefficient with the largest ``|c_j|`` (index
    ``e``) is expressed through the others; ``theta_e`` is unused.
    """
    n_seg = constraint.shape[0]
    N = np.broadcast_to(np.eye(p), (n_seg, p, p)).copy()
    e = np.argmax(np.abs(constraint), axis=1)
    t = np.arange(n_seg)
    ce = constraint[t, e]
    has = ce != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        row = -constraint / ce[:, None]
    row[t, e] = 0.0
    N[t[has], e[has], :] = row[has]
    return N, np.where(has, e, -1)


def segment_lstsq(moments, *, constraint=None, may_be_absent=None, rcond=RCOND):
    r"""Solve every segment's weighted least-squares problem at once.

    Parameters
    ----------
    moments : Moments
        Per-segment cross-products, as :func:`segment_regression` forms them.
    constraint : ndarray of shape (n_segments, p), optional
        One equality constraint per segment, ``constraint[t] @ coef[t] == 0``.
    may_be_absent : ndarray of bool, shape (p,), optional
        Columns that may be all zero on a segment (e.g. an industry without
        members that date): their coefficient is NaN there and the rest is
        estimated, instead of the whole segment being rank deficient.
    rcond : float
        Rank tolerance on the eigenvalues of the diagonally scaled Gram matrix.

    Returns
    -------
    coef : ndarray of shape (n_segments, p)
        NaN on segments with fewer complete rows than regressors or a rank
        deficient design.
    intercept : ndarray of shape (n_segments,)
        Zeros when the moments are not centred.
    tss : ndarray of shape (n_segments,)
        Total sum of squares of the R²: centred with an intercept (or when the
        regressors span a constant on that segment, as statsmodels does),
        uncentred otherwise.
    status : ndarray of int, shape (n_segments,)
        0 estimated, 1 too few complete rows, 2 rank deficient.
    ssr : ndarray of shape (n_segments,)
        The (weighted) residual sum of squares from the normal equations,
        :math:`y'y - b'A^{-1}b`; NaN where not estimated and where that
        cancels digits away: where the condition number of the scaled Gram
        matrix times :math:`y'y / SSR` exceeds
        :data:`NORMAL_EQUATIONS_RATIO` (a near-exact fit: noise 1e-8 of the
        signal gave an SSR of exactly 0), for the caller to sum from the
        residuals.

    Notes
    -----
    All in the units of ``moments``.
    """
    gram, mean, wsum, nobs, centered = moments[:5]
    n_seg, q, _ = gram.shape
    p = q - 1
    A = gram[:, :p, :p]
    b = gram[:, :p, p]
    yy = gram[:, p, p]
    t = np.arange(n_seg)
    N = None
    absent = np.zeros((n_seg, p), dtype=bool)
    if may_be_absent is not None:
        absent = (np.diagonal(A, axis1=1, axis2=2) == 0) & np.asarray(may_be_absent)
    if constraint is not None:
        N, e = _reparametrise(np.where(absent, 0.0, constraint), p)
        Ar = N.transpose(0, 2, 1) @ A @ N
        br = (N.transpose(0, 2, 1) @ b[:, :, None])[:, :, 0]
        pad = absent.copy()
        pad[t[e >= 0], e[e >= 0]] = True
    else:
        Ar, br, pad = A.copy(), b.copy(), absent
    Ar[pad] = 0.0
    Ar.transpose(0, 2, 1)[pad] = 0.0
    br[pad] = 0.0
    Ar[np.nonzero(pad) + (np.nonzero(pad)[1],)] = 1.0

    # Free parameters: the regressors (and intercept) less the padded ones.
    enough = nobs >= p - pad.sum(axis=1) + int(centered)
    d = np.sqrt(np.diagonal(Ar, axis1=1, axis2=2).copy())
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = Ar / (d[:, :, None] * d[:, None, :])
    finite = np.isfinite(scaled).all(axis=(1, 2)) & np.isfinite(br).all(axis=1)
    full_rank = finite & (d > 0).all(axis=1)
    cond = np.ones(n_seg)  # condition number of the scaled Gram matrix
    if p and full_rank.any():
        eig = np.linalg.eigvalsh(scaled[full_rank])
        with np.errstate(invalid="ignore", divide="ignore"):
            cond[full_rank] = eig[:, -1] / eig[:, 0]
        full_rank[full_rank] = eig[:, 0] > rcond * eig[:, -1]
    ok = enough & full_rank
    coef = np.full((n_seg, p), np.nan)
    ssr = np.full(n_seg, np.nan)
    if ok.any():
        theta = np.linalg.solve(scaled[ok], (br[ok] / d[ok])[:, :, None])[:, :, 0]
        theta /= d[ok]
        coef[ok] = theta if N is None else (N[ok] @ theta[:, :, None])[:, :, 0]
        ssr[ok] = yy[ok] - np.einsum("tj,tj->t", br[ok], theta)
        with np.errstate(invalid="ignore"):
            lost = ~(cond[ok] * yy[ok] <= NORMAL_EQUATIONS_RATIO * ssr[ok])
        ssr[ok.nonzero()[0][lost]] = np.nan
    status = np.where(ok, 0, np.where(enough, 2, 1))

    beta = np.where(absent, 0.0, coef)
    coef[absent] = np.nan
    if centered:
        intercept = mean[:, p] - np.einsum("tj,tj->t", mean[:, :p], beta)
        tss = yy
    else:
        intercept = np.zeros(n_seg)
        sx = np.where(pad, 0.0, mean[:, :p] * wsum[:, None])
        tss = yy - _implicit_constant(Ar, sx, wsum, ok) * (wsum * mean[:, p] ** 2)
    intercept[~ok] = np.nan
    return coef, intercept, tss, status, ssr


class Regression(NamedTuple):
    """Per-segment fits of :func:`segment_regression` (see :func:`segment_lstsq`)."""

    coef: np.ndarray
    intercept: np.ndarray
    rsquared: np.ndarray
    status: np.ndarray
    resid: np.ndarray
    moments: Moments
    ssr: np.ndarray


def segment_regression(
    segments,
    X,
    y,
    weights=None,
    *,
    center=True,
    constraint=None,
    may_be_absent=None,
    residuals=True,
):
    """Per-segment weighted least squares, from one pass over the rows.

    Parameters
    ----------
    segments : Segments
        The date segments of the rows.
    X : ndarray of shape (n_rows, p)
        Regressors, rows in the caller's order (NaN marks a missing value).
    y : ndarray of shape (n_rows,)
        Dependent variable, same rows.
    weights : ndarray of shape (n_rows,), optional
        Non-negative weights; a row with weight 0 or NaN is left out.
    center : bool, default=True
        Centre on each segment's weighted means (a model with an intercept).
    constraint : callable, optional
        ``constraint(moments) -> ndarray (n, p)``: the constraint rows of the
        segments of ``moments`` (see :func:`segment_lstsq`).
    may_be_absent : ndarray of bool, shape (p,), optional
        As :func:`segment_lstsq`.
    residuals : bool, default=True
        Return the residuals of every row (one more pass over the rows);
        False leaves ``resid`` None: a caller that needs only the fit saves
        that pass and a rows-sized array.

    Returns
    -------
    Regression
        ``coef``, ``intercept``, ``status`` as :func:`segment_lstsq`, in the
        data's units; ``rsquared``, ``1 - ssr / tss`` (NaN where not estimated
        or ``tss`` is 0); ``resid`` of shape (n_rows,) in the caller's order,
        ``y - intercept - X @ coef``, NaN on rows not used (incomplete, weight
        0) and on segments not estimated; the ``moments`` (scaled, see
        :class:`Moments`) and ``ssr`` of shape (n_segments,), the weighted sum
        of the squared residuals in the moments' units (divide ``y`` by
        ``moments.scale[-1]``), NaN where not estimated.

    Notes
    -----
    ``X`` and ``y`` must not hold ±inf (the caller checks). The moments come
    from one pass over the rows in cache-sized blocks of dates, centred in
    one pass where that keeps the digits (:data:`CENTRING_RATIO`), the
    residual sums of squares from the normal equations where those keep
    them (:data:`NORMAL_EQUATIONS_RATIO`); the other dates are redone with
    explicit centring and their squared residuals summed. Dates whose sums
    of squares leave :data:`UNIT_RANGE` have every date redone in
    power-of-two units.
    """
    X = np.asarray(X, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    n_seg, p = segments.n_segments, X.shape[1]
    data = (X, y, weights)
    every = np.arange(n_seg)

    def solve(mom):
        c = None if constraint is None else constraint(mom)
        return segment_lstsq(mom, constraint=c, may_be_absent=may_be_absent)

    scale = np.ones(p + 1)
    out = _empty_moments(n_seg, p)
    _accumulate(segments, every, data, out, scale, center)
    if not _in_unit_range(out[0], out[3]):  # under- or overflow: exact units
        scale = column_scales(X, y, keep=may_be_absent)
        out = _empty_moments(n_seg, p)
        _accumulate(segments, every, data, out, scale, center)
    redo = _centre_one_pass(*out[:3]) if center else np.arange(0)
    *results, ssr = solve(Moments(*out, center, scale))
    coef, intercept, tss, status = results
    redo = np.union1d(redo, np.flatnonzero((status == 0) & np.isnan(ssr)))
    if len(redo):  # digits lost to the one-pass centring or the normal equations
        _accumulate(segments, redo, data, out, scale, center, (solve, results, ssr))
    ok = status == 0
    ssr[~ok] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        rsquared = np.where(ok & (tss > 0), 1.0 - ssr / tss, np.nan)
    coef *= scale[p] / scale[:p]  # back to the data's units (powers of two)
    intercept *= scale[p]
    resid = None
    if residuals:
        resid = segment_residuals(segments.codes, X, y, coef, intercept)
        if weights is not None:
            resid[~(weights > 0)] = np.nan  # rows left out (NaN > 0 is False)
    return Regression(
        coef, intercept, rsquared, status, resid, Moments(*out, center, scale), ssr
    )


def segment_residuals(codes, X, y, coef, intercept):
    """``y - intercept - X @ coef`` of each row, with its segment's estimates.

    ``codes`` gives each row's segment (caller's order). NaN where a value of
    the row or its segment's intercept is NaN (a segment not estimated); a
    NaN coefficient counts as 0 (a column absent from that segment).
    """
    resid = np.empty(len(y))
    beta = np.nan_to_num(coef)
    step = _BLOCK_ROWS  # temporaries in the cache (2x faster than whole columns)
    for start in range(0, len(y), step):
        rows = slice(start, start + step)
        c, r = codes[rows], resid[rows]
        np.subtract(y[rows], intercept[c], out=r)
        for j in range(X.shape[1]):  # a few columns: no (rows, p) copy
            r -= X[rows, j] * beta[c, j]
    return resid


def column_scales(X, y, keep=None):
    """The power of two above the largest magnitude of each column of ``[X, y]``.

    Dividing by it is exact and brings each column's values into (-1, 1), so
    the cross-products of loadings of 1e-160 or 1e160 neither underflow nor
    overflow. 1 for an all-zero or all-NaN column and for the ``keep`` columns
    of ``X`` (0/1 industry indicators, whose constraint weights are used as
    they are).
    """
    scale = np.append(power_of_two_units(X), power_of_two_units(y[:, None]))
    if keep is not None:
        scale[: X.shape[1]][np.asarray(keep, dtype=bool)] = 1.0
    return scale


def _implicit_constant(A, sx, wsum, ok, tol=1e-8):
    """1.0 where the (weighted) regressors span a constant, as statsmodels checks.

    The constant lies in the span of the columns when regressing it on them
    leaves (almost) nothing: ``w'1 - sx' A^{-1} sx ~ 0``.
    """
    out = np.zeros(len(wsum))
    if not ok.any():
        return out
    sol = np.linalg.solve(A[ok], sx[ok][:, :, None])[:, :, 0]
    resid = wsum[ok] - np.einsum("tj,tj->t", sx[ok], sol)
    out[ok] = np.abs(resid) <= tol * wsum[ok]
    return out
