r"""Per-date least squares: segment cross-products, batched solves, R², fits.

One weighted least-squares regression of ``y`` on ``X`` per segment (date),
without a Python loop over dates:

1. The moments: each segment's cross-products
   :math:`[X, y]^\top W [X, y]` over its complete rows (``y``, every column of
   ``X`` and the weight non-NaN, the weight > 0), centred on the segment's
   weighted means when the model has an intercept. A date-sorted balanced
   panel is read through a strided ``(n_dates, n_assets, n_features)`` view, a
   few dates at a time into a cache-sized scratch block (incomplete rows
   zeroed); any other panel is copied, a block of dates at a time, into a
   zero-padded ``(n_dates, max_size, n_features + 1)`` buffer of bounded size.
2. :func:`segment_lstsq` solves every segment's normal equations at once
   (``np.linalg.solve`` on the stacked, diagonally scaled Gram matrices) after a
   batched eigenvalue rank check, optionally under one linear equality
   constraint per segment.
3. :func:`segment_regression` does both and gives the residuals on the input
   rows (unless ``residuals=False``), solving each block of dates while it is
   in cache, and the residual sum of squares and R² from those residuals
   (the normal equations' :math:`y'y - 2\beta'b + \beta'A\beta` cancels to
   nothing on a near-exact fit: noise 1e-8 of the signal gave an SSR of
   exactly 0).

Every column of ``X`` and ``y`` is divided by a power of two near its largest
magnitude while it is copied (exact, so the results are those of the unscaled
data to the bit), so loadings of 1e-160 or 1e160 neither underflow nor
overflow in the cross-products; the moments are in these scaled units
(:attr:`Moments.scale`), the coefficients and residuals in the data's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skfactor.utils._numerics import RCOND, power_of_two_units

__all__ = [
    "Moments",
    "Regression",
    "segment_lstsq",
    "segment_regression",
]

# Padded rows per block of dates in the copying path: a few MiB, cache friendly.
_BLOCK_ROWS = 1 << 16
# A segment whose diagonally scaled Gram matrix has min eigenvalue <= RCOND
# (skfactor/utils/_numerics.py) times its max eigenvalue is rank deficient.
# One-pass centring (Σx² - n x̄², here the centred Gram matrix X'WX - W m m' of
# the in-place path; also the time-series model's sums of squares) is used
# only where the squared mean is at most this multiple of the variance, so no
# more than ~2 digits are lost to cancellation; elsewhere values are centred
# explicitly.
CENTRING_RATIO = 1e2


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


def _in_place_ok(segments):
    """A date-sorted balanced panel can be read in place (strided views)."""
    sizes = segments.sizes
    return (
        segments.order is None
        and segments.n_segments > 0
        and bool(np.all(sizes == sizes[0]))
    )


def _strided(X, n_seg, size):
    """(n_seg, size, p) read-only view of a date-sorted balanced (n_rows, p) array."""
    s0, s1 = X.strides
    return np.lib.stride_tricks.as_strided(
        X, shape=(n_seg, size, X.shape[1]), strides=(size * s0, s0, s1), writeable=False
    )


def _moments_in_place(X, y, weights, n_seg, center, out, inv_scale, complete):
    """Date-sorted balanced panel: strided views, a few dates at a time.

    Each block of dates is copied into a cache-sized scratch block
    ``Z = sqrt(w) [X, y, 1] / [scale, 1]`` (incomplete rows and rows of weight
    0 zeroed, and marked False in ``complete``, of shape (n_seg, size))
    whose Gram matrix holds every moment. Returns the segments to redo with
    explicit centring (see :func:`_centre_one_pass`).
    """
    gram, mean, weight_sum, nobs = out
    n, p = X.shape
    size = n // n_seg
    X3 = _strided(X, n_seg, size)
    y2 = y.reshape(n_seg, size)
    w2 = None if weights is None else weights.reshape(n_seg, size)
    # About 2 MiB of X per block: read from memory once, then from the cache.
    step = max(1, 2**18 // (size * max(p, 1)))
    # Column-major per date, as X: the copy goes column by column.
    scratch = np.empty((p + 2, min(step, n_seg), size)).transpose(1, 2, 0)
    for i in range(0, n_seg, step):
        b = slice(i, i + step)
        Z = scratch[: min(step, n_seg - i)]
        np.multiply(X3[b], inv_scale[:p], out=Z[:, :, :p])  # copied and scaled
        np.multiply(y2[b], inv_scale[p], out=Z[:, :, p])
        Z[:, :, p + 1] = 1.0
        nobs[b] = _mask_block(Z, None if w2 is None else w2[b], complete[b])
        G = Z.transpose(0, 2, 1) @ Z
        gram[b] = G[:, : p + 1, : p + 1]
        mean[b] = G[:, p + 1, : p + 1]
        weight_sum[b] = G[:, p + 1, p + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean /= weight_sum[:, None]  # NaN on a date without a complete row
    return _centre_one_pass(gram, mean, weight_sum) if center else np.arange(0)


def _mask_block(Z, w, ok):
    """Zero the incomplete rows of ``Z`` (False in ``ok``) and scale by sqrt(w).

    Returns the row counts.
    """
    np.isnan(Z @ np.ones(Z.shape[2]), out=ok)  # NaN anywhere: a NaN sum
    np.logical_not(ok, out=ok)
    if w is not None:
        ok &= w > 0  # NaN > 0 is False
    Z[~ok] = 0.0
    if w is not None:
        Z *= np.sqrt(np.where(ok, w, 0.0))[:, :, None]
    return np.count_nonzero(ok, axis=1)


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


def _block_rows(segments, seg, starts, sizes, within):
    """Input rows of a block of segments, segment by segment (sorted order)."""
    if segments.order is None and seg[-1] - seg[0] == len(seg) - 1:
        # Consecutive segments of a date-sorted panel: a slice, no gather (1.5x).
        return slice(starts[0], starts[0] + len(within))
    rows = np.repeat(starts, sizes) + within
    return rows if segments.order is None else segments.order[rows]


def _fit_copied(
    segments, X, y, weights, which, center, out, fit, scale, explicit=False
):
    """Any panel: copy blocks of segments into a zero-padded buffer, solve them.

    The buffer is column-major, ``(q, n_dates, width)``: each column of ``X``
    (and ``y``) is gathered on its own, so every copy is one-dimensional, and
    divided by its ``scale``; its cells that hold no complete row (padding, a
    NaN, a weight that is NaN or 0) are zeroed. With ``fit = (solve, results,
    resid, ssr)``, each block is solved (``solve(Moments) -> (coef, intercept,
    tss, status)``, in the scaled units, stored in the ``results`` arrays) and
    its residuals and their weighted sum of squares (scaled units) computed
    while it is in cache (2.6x faster and 15x less memory than one padded
    buffer for the whole panel), the residuals scattered to ``resid`` (caller's
    row order, the data's units; NaN on rows not used) unless it is None.

    As the in-place path, the buffer has a row of ones (``q = p + 2``) whose
    cross-products are the weight sums and means, and the Gram matrices are
    centred in one pass (:func:`_centre_one_pass`); the segments where that
    loses digits are returned, to be redone ``explicit``-ly: centred in the
    buffer before the product (``q = p + 1``).
    """
    gram, mean, weight_sum, nobs = out
    solve, results, resid, ssr = fit
    inv_scale = (1.0 / scale)[:, None]
    p = X.shape[1]
    q = p + 1 + int(not explicit)
    sizes = segments.sizes[which]
    starts = segments.starts[which]
    redo = []
    for i, j in _blocks(sizes):
        seg, sz = which[i:j], sizes[i:j]
        nd, width, total = j - i, int(sz.max()), int(sz.sum())
        local = np.repeat(np.arange(nd), sz)
        within = np.arange(total) - np.repeat(np.cumsum(sz) - sz, sz)
        rows = _block_rows(segments, seg, starts[i:j], sz, within)
        pos = local * width + within
        # Gather (faster than scattering): each cell reads its row, the
        # padding the block's first row (zeroed below).
        src = np.zeros(nd * width, dtype=np.intp)
        src[pos] = np.arange(total)
        gidx = src + rows.start if isinstance(rows, slice) else rows[src]
        Z = np.empty((q, nd, width))
        flat = Z.reshape(q, -1)
        for k in range(p):
            np.take(X[:, k], gidx, out=flat[k])
        np.take(y, gidx, out=flat[p])
        flat[: p + 1] *= inv_scale
        # A complete cell: a row, no NaN (a NaN sum), a weight > 0.
        cell = np.zeros(nd * width, dtype=bool)
        cell[pos] = True
        cell &= ~np.isnan(flat[: p + 1].sum(axis=0))
        w = None
        if weights is not None:
            w = np.take(weights, gidx)
            cell &= w > 0  # NaN > 0 is False
            w[~cell] = 0.0
            w = w.reshape(nd, width)
        cell = cell.reshape(nd, width)
        nobs[seg] = np.count_nonzero(cell, axis=1)
        if explicit:
            mu, wsum = _centre_explicitly(Z, cell, w, center)
        else:
            Z[p + 1] = 1.0
        np.copyto(Z, 0.0, where=~cell)
        if w is not None:
            Z *= np.sqrt(w)
        Zt = Z.transpose(1, 0, 2)  # (nd, q, width)
        G = Zt @ Zt.transpose(0, 2, 1)
        if not explicit:
            wsum = G[:, p + 1, p + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                mu = G[:, p + 1, : p + 1] / wsum[:, None]
            if center:
                redo.append(seg[_centre_one_pass(G[:, : p + 1, : p + 1], mu, wsum)])
        gram[seg] = G[:, : p + 1, : p + 1]
        mean[seg] = mu
        weight_sum[seg] = wsum
        solved = solve(Moments(gram[seg], mu, wsum, nobs[seg], center, scale))
        for store, value in zip(results, solved, strict=True):
            store[seg] = value
        coef, intercept = np.nan_to_num(solved[0]), solved[1]
        fitted = coef[:, None, :] @ Zt[:, :p, :]  # (nd, 1, width)
        E = np.subtract(Z[p], fitted[:, 0, :], out=fitted[:, 0, :])
        if not explicit:  # the intercept times the (weighted) constant
            E -= np.nan_to_num(intercept)[:, None] * Z[p + 1]
        # Cells without a complete row are 0 in every row: their residual too.
        ssr[seg] = np.einsum("tm,tm->t", E, E)
        if resid is None:
            continue
        e = E.reshape(-1)[pos]
        if w is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                e /= np.sqrt(w.reshape(-1)[pos])  # back from the weighted scale
        e *= scale[p]
        e[~cell.reshape(-1)[pos] | np.isnan(intercept)[local]] = np.nan
        resid[rows] = e
    return np.concatenate(redo) if redo else np.arange(0)


def _centre_explicitly(Z, cell, w, center):
    """Weighted means of a padded block's complete cells; centre them on them.

    ``w`` holds the cells' weights (0 off the complete cells; None: equal
    weights). Returns the means and the weight sums.
    """
    np.copyto(Z, 0.0, where=~cell)
    wsum = (cell.sum(axis=1) if w is None else w.sum(axis=1)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if w is None:
            mu = Z.sum(axis=2).T / wsum[:, None]
        else:
            mu = np.einsum("qtm,tm->tq", Z, w) / wsum[:, None]
    if center:
        Z -= np.nan_to_num(mu).T[:, :, None]
    return mu, wsum


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

    Notes
    -----
    All in the units of ``moments``. The residual sum of squares is not
    formed here: from the moments, :math:`y'y - 2\beta'b + \beta'A\beta`
    cancels to nothing on a near-exact fit; :func:`segment_regression` sums
    the squared residuals instead.
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
    if p and full_rank.any():
        eig = np.linalg.eigvalsh(scaled[full_rank])
        full_rank[full_rank] = eig[:, 0] > rcond * eig[:, -1]
    ok = enough & full_rank
    coef = np.full((n_seg, p), np.nan)
    if ok.any():
        theta = np.linalg.solve(scaled[ok], (br[ok] / d[ok])[:, :, None])[:, :, 0]
        theta /= d[ok]
        coef[ok] = theta if N is None else (N[ok] @ theta[:, :, None])[:, :, 0]
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
    return coef, intercept, tss, status


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
    """Per-segment weighted least squares with residuals, in one pass if possible.

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
        Return the residuals of every row; False sums their squares (``ssr``)
        without writing them (``resid`` is None): a caller that needs only the
        fit saves a pass over a rows-sized array.

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
    ``X`` and ``y`` must not hold ±inf (the caller checks). The copying path
    solves each block of dates and computes its residuals while the block is in
    cache; the in-place path (date-sorted balanced panel) gets them from
    batched products on the strided view, a cache-sized block of dates at a
    time. Both centre the Gram matrices in one pass where that keeps the
    digits (:data:`CENTRING_RATIO`) and redo the other dates with explicit
    centring.
    """
    X = np.asarray(X, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    n_seg, p = segments.n_segments, X.shape[1]
    out = gram, mean, weight_sum, nobs = _empty_moments(n_seg, p)
    results = (
        np.full((n_seg, p), np.nan),
        np.full(n_seg, np.nan),
        np.full(n_seg, np.nan),
        np.zeros(n_seg, dtype=np.intp),
    )
    resid = np.empty(len(y)) if residuals else None  # every row is written
    ssr = np.full(n_seg, np.nan)
    scale = column_scales(X, y, keep=may_be_absent)

    def solve(mom):
        c = None if constraint is None else constraint(mom)
        return segment_lstsq(mom, constraint=c, may_be_absent=may_be_absent)

    fit = (solve, results, resid, ssr)
    if _in_place_ok(segments):
        complete = np.empty((n_seg, len(y) // n_seg), dtype=bool)
        redo = _moments_in_place(
            X, y, weights, n_seg, center, out, 1.0 / scale, complete
        )
        done = np.ones(n_seg, dtype=bool)
        done[redo] = False
        moments = Moments(*out, center, scale)
        fit_rows = (X, y, weights, complete)
        _fit_in_place(fit_rows, done, solve, moments, (*results, ssr), resid)
    else:
        every = np.arange(n_seg)
        redo = _fit_copied(segments, X, y, weights, every, center, out, fit, scale)
    if len(redo):  # segments whose one-pass centring lost digits
        _fit_copied(segments, X, y, weights, redo, center, out, fit, scale, True)
    coef, intercept, tss, status = results
    ok = status == 0
    ssr[~ok] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        rsquared = np.where(ok & (tss > 0), 1.0 - ssr / tss, np.nan)
    coef *= scale[p] / scale[:p]  # back to the data's units (powers of two)
    intercept *= scale[p]
    return Regression(
        coef, intercept, rsquared, status, resid, Moments(*out, center, scale), ssr
    )


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


def _fit_in_place(rows, done, solve, moments, results, resid):
    """Solve the ``done`` segments of a date-sorted balanced panel; residuals.

    ``rows = (X, y, weights, complete)``, ``complete`` the (n_seg, size) mask
    of the rows the moments used. The residuals come a few dates at a time
    from batched products on the strided view (NaN where a value is NaN), in
    the data's units, with the coefficients brought back to them: written to
    ``resid`` unless it is None, and their weighted sum of squares over the
    complete rows (the last of ``results``) summed in the moments' scaled
    units while they are in cache (no residual-sized array when ``resid`` is
    None). The caller overwrites the segments it redoes.
    """
    X, y, weights, complete = rows
    block = Moments(*(a[done] for a in moments[:4]), moments.centered, moments.scale)
    *results, ssr = results
    for store, value in zip(results, solve(block), strict=True):
        store[done] = value
    coef, intercept = results[0], results[1]
    scale = moments.scale
    p = len(scale) - 1
    n_seg = len(done)
    size = len(y) // n_seg
    beta = np.where(done[:, None], np.nan_to_num(coef) * (scale[p] / scale[:p]), 0.0)
    alpha = np.where(done, intercept * scale[p], 0.0)
    X3, y2 = _strided(X, n_seg, size), y.reshape(n_seg, size)
    w2 = None if weights is None else weights.reshape(n_seg, size)
    step = max(1, 2**18 // (size * max(p, 1)))  # about 2 MiB of X at a time
    buf = np.empty((min(step, n_seg), size))
    for i in range(0, n_seg, step):
        b = slice(i, i + step)
        e = buf[: len(y2[b])]
        np.matmul(X3[b], beta[b, :, None], out=e[:, :, None])
        e += alpha[b, None]
        np.subtract(y2[b], e, out=e)  # NaN on rows with a NaN
        if resid is not None:
            resid.reshape(n_seg, size)[b] = e
        e /= scale[p]
        np.copyto(e, 0.0, where=~complete[b])  # rows the fit left out
        if w2 is None:
            ssr[b] = np.einsum("ij,ij->i", e, e)
        else:
            ssr[b] = np.einsum("ij,ij,ij->i", e, e, np.where(complete[b], w2[b], 0.0))
    if resid is not None and weights is not None:
        resid[~(weights > 0)] = np.nan  # rows left out (NaN > 0 is False)
    ssr[~done] = np.nan


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
