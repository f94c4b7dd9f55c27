r"""Rolling, expanding and exponentially weighted least squares for many series at once.

Every asset (column of ``R``) is regressed on the same factor returns ``F`` over
the trailing window of dates ending at each date, on the rows where the asset
and every factor are observed. The factors are common to all assets, so a
window in which the asset misses no date that has the factors (no hole) has
its date's normal equations: they are factored and inverted once per date,
and every asset's coefficients follow from sliding sums of its own
cross-products with the factors, a few multiply-adds per (date, asset). Only
the windows with a hole get equations of their own: their factor sums are
the date's sums over the asset's observed span less the few dates it
misses (:func:`_own_sums`), factored together in flat arrays. No loop over
dates or assets: the Python loops below run over blocks of dates, chunks of
assets and the few cross-product terms.

Memory. A chunk's temporaries (window sums, the solves' entries, the own
windows' flat arrays) all come from one :class:`~skfactor.utils._scratch.Arena`
per fit, reused chunk after chunk with ``out=`` everywhere: a fit allocates
(and page-faults) them once, not once per chunk, which is what a Dask worker
(``MALLOC_TRIM_THRESHOLD_``, no freed memory kept) pays for each temporary.

Numerical safety. A sliding sum taken as a difference of cumulative sums loses
digits as the cumulative sums grow; here the cumulative sums restart at every
block of dates (they never span more than ``block + window`` dates), the data
are centred on the means of the block's first window (which also keeps every
estimate a function of past data only, to the last bit), and the normal
equations are centred on the window means and Jacobi-scaled before the
Cholesky factorisation. The residual sum of squares from the sums,
:math:`y'y - \beta'c`, cancels on a near-exact fit (noise 1e-7 of the signal
gave standard errors of 0); where :math:`1 - R^2 <` ``_NEAR_EXACT`` it is
summed from the window's residuals instead (:func:`_residual_ssr`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from skfactor.utils._numerics import RCOND, halflife_decay, power_of_two_units
from skfactor.utils._scratch import HEAP, Arena

__all__ = ["RollingOLS", "rolling_ols", "window_bse"]

# Pivots of the Jacobi-scaled (unit diagonal) normal equations at or below
# RCOND mark a window whose regressors are collinear; a factor whose centred
# sum of squares is at most RCOND times its raw one is constant on the window.

# Cells (dates x assets x (factors + 3)) of a block of dates: the prefix sums
# restart every block.
_BLOCK_CELLS = 6_000_000
# Cells (dates x assets) of one chunk of assets' window sums: 1 MiB a term. The
# own windows' equations (K² arrays of up to as many cells) then stay near the
# cache: 1.5x faster than 2^18 on 414 dates x 2,000 assets x 5 factors with 2%
# holes (bench_rolling's 3,000 x 2,520 x 3 factors: the same).
_CHUNK_CELLS = 1 << 17

# Windows with 1 - R² below this get their residual sum of squares from the
# residuals: y'y - β'c, from sums exact to about eps x the block's sums (up to
# ~50x a window's), keeps about eps x 50 / (1 - R²) relative error, 1e-11 here.
_NEAR_EXACT = 1e-3


@dataclass
class RollingOLS:
    r"""Results of :func:`rolling_ols`, row ``t`` for the window ending at date ``t``.

    ``params`` (n_dates, n_assets, n_terms), the intercept first when fitted;
    ``rsquared``, ``resid_vol`` (n_dates, n_assets), NaN where the window has
    no estimate; ``nobs`` (n_dates, n_assets) the observations in the window.
    The moments of the standard errors (:func:`window_bse`), in the units the
    fit ran in (each asset divided by ``r_unit``, each term's estimate
    multiplied by ``per_term`` (n_assets, n_terms) back to the data's units):
    the diagonal of :math:`(Z'WZ)^{-1}`, one per date shared by every window
    without a hole (``inv_shared``, (n_dates, n_terms)), and the windows with
    one their own (``inv_own``, a list of ``(dates, assets, (n_windows,
    n_terms) values)``, one per chunk of assets and block of dates), and, with
    weights, ``s2`` (n_dates, n_assets), the
    residual variance :math:`\sum w e^2 / (n - k)` (NaN without an estimate or when
    :math:`n \le k`); without weights it is ``(resid_vol / r_unit)²`` and
    ``s2`` is None. ``estimated``: whether any window has an estimate.
    """

    params: np.ndarray
    rsquared: np.ndarray
    resid_vol: np.ndarray
    nobs: np.ndarray
    s2: np.ndarray | None
    inv_shared: np.ndarray
    inv_own: list
    r_unit: np.ndarray
    per_term: np.ndarray
    estimated: bool = False


def window_bse(resid_vol, s2, inv_shared, inv_own, r_unit, per_term):
    r"""Standard errors :math:`\sqrt{s^2 \operatorname{diag}((Z'WZ)^{-1})}`.

    From the :class:`RollingOLS` fields of the same names: shape (n_dates,
    n_assets, n_terms), in the data's units.
    """
    if s2 is None:  # without weights, s² = resid_vol² in the fit's units
        s2 = np.square(resid_vol / r_unit)
    inv = np.empty(s2.shape + inv_shared.shape[1:])
    inv[:] = inv_shared[:, None, :]
    for dates, cols, values in inv_own:
        inv[dates, cols] = values
    with np.errstate(invalid="ignore"):
        se = np.sqrt(s2[..., None] * inv, out=inv)
    se *= per_term
    return se


def _pairs(K):
    """Upper-triangle index pairs ``(i, j)``, ``i <= j``, row by row."""
    return [(i, j) for i in range(K) for j in range(i, K)]


_GROUP = 16  # rows of a group of the prefix sums (:func:`_cumsum`)


def _cumsum(V, ws):
    """``np.cumsum(V, axis=0)`` in place, summed a group of ``_GROUP`` rows at a time.

    numpy accumulates along the first axis one column at a time, a cache
    miss per row (about 4 ns a cell); here the rows of each group are added
    to the next row of the group, whole rows at once, and the groups' totals
    are carried over: 2x faster on a block of window sums. Row ``t`` still
    depends on rows ``0..t`` only. ``V`` C-contiguous, its length a multiple
    of ``_GROUP``; ``ws`` the scratch :class:`~skfactor.utils._scratch.Arena`.
    """
    Z = V.reshape(-1, _GROUP, *V.shape[1:])
    for j in range(1, _GROUP):
        Z[:, j] += Z[:, j - 1]
    mark = ws.mark()
    carry = np.cumsum(Z[:-1, -1], axis=0, out=ws.empty(Z[:-1, -1].shape))
    Z[1:] += carry[:, None]
    ws.release(mark)
    return V


def _window_sums(V, n, window, decay, ws):
    """Sums of ``V``'s rows over the trailing ``window`` rows ending at each, in place.

    ``V`` (rows, ...) C-contiguous, ``rows`` a multiple of ``_GROUP``, rows
    from ``n`` on zeros (padding). With ``decay`` (λ), row ``s`` of the
    window ending at ``u`` weighs ``λ**(u - s)``. Each row becomes the
    prefix sum up to it, less (from row ``window`` on) that of ``window``
    rows earlier, subtracted from the last rows up: each prefix sum is read
    before it is overwritten.
    """
    if decay is None:
        _cumsum(V, ws)
    else:
        V[:n] = lfilter([1.0], [1.0, -decay], V[:n], axis=0)
    mark = ws.mark()
    tail = None
    if decay is not None and n > window:
        tail = ws.empty((min(window, n - window),) + V.shape[1:])
    for stop in range(n, window, -window):
        start = max(stop - window, window)
        prev = V[start - window : stop - window]
        if tail is not None:
            prev = np.multiply(prev, decay**window, out=tail[: stop - start])
        V[start:stop] -= prev
    ws.release(mark)
    return V


def _window_counts(P, first, window):
    """Observations in the trailing ``window`` rows ending at rows ``first:``.

    ``P`` (n_rows + 1, ...) the prefix counts: ``P[r]`` those of rows ``0..r-1``.
    """
    out = P[first + 1 :].copy()
    split = max(window - 1 - first, 0)  # rows before: the window starts at row 0
    if split < len(out):
        out[split:] -= P[split + first + 1 - window : len(P) - window]
    return out


def _take(a, indices, axis=None, out=None):
    """``np.take`` of indices known to be in range: ``out`` written in place.

    (With numpy's default ``mode="raise"`` an ``out`` is filled through a
    temporary copy: an allocation the size of the result.)
    """
    return np.take(a, indices, axis=axis, out=out, mode="clip")


def _shape(*arrays):
    return np.broadcast_shapes(*(a.shape for a in arrays))


def _cholesky(A, ref, ws):
    """Factor many small symmetric systems ``A`` at once: ``L``, ``scale``, ``bad``.

    ``A[(i, j)]`` (i <= j) are arrays broadcasting together (one system per
    element); ``A[(j, j)]`` at most ``RCOND * ref[j]`` counts as 0.
    The systems are Jacobi-scaled to a unit diagonal, ``D A D = L Lᵀ`` with
    ``D = diag(scale)``, factored entry by entry, vectorised over the systems.
    ``bad`` is True where a system is numerically singular (its ``L`` is then
    garbage). Every array comes from ``ws`` (:class:`~skfactor.utils._scratch.Arena`).
    """
    K = len(ref)
    shape = _shape(*A.values())
    bad = ws.zeros(shape, bool)
    off = ws.empty(shape, bool)  # a pivot at or below its threshold
    tmp = ws.empty(shape)
    scale = []
    for j in range(K):
        d = A[(j, j)]
        np.logical_not(np.greater(d, RCOND * ref[j], out=off), out=off)
        bad |= off
        s = ws.empty(shape)
        np.copyto(s, d)
        np.copyto(s, 1.0, where=off)
        np.divide(1.0, np.sqrt(s, out=s), out=s)
        scale.append(s)
    L = {}
    for j in range(K):
        for i in range(j, K):
            v = np.multiply(scale[i], scale[j], out=ws.empty(shape))
            np.multiply(A[(j, i)], v, out=v)
            for m in range(j):
                v -= np.multiply(L[(i, m)], L[(j, m)], out=tmp)
            if i == j:
                np.logical_not(np.greater(v, RCOND, out=off), out=off)
                bad |= off
                np.copyto(v, 1.0, where=off)
                np.sqrt(v, out=v)
            else:
                v /= L[(j, j)]
            L[(i, j)] = v
    return L, scale, bad


def _forward(L, z, tmp):
    """Solve ``L z = c`` in place: ``z`` holds ``c`` (``L`` from :func:`_cholesky`)."""
    for j in range(len(z)):
        for m in range(j):
            z[j] -= np.multiply(L[(j, m)], z[m], out=tmp)
        z[j] /= L[(j, j)]
    return z


def _scaled(c, scale, ws):
    """``c[j] * scale[j]`` for every ``j``, in arrays of ``ws``."""
    return [
        np.multiply(v, s, out=ws.empty(_shape(v, s)))
        for v, s in zip(c, scale, strict=True)
    ]


def _cholesky_solve(L, scale, x, ws):
    """Solve ``A x = c`` in place, ``x`` holding ``c * scale``.

    ``A``'s factors ``L``, ``scale`` from :func:`_cholesky`.
    """
    K = len(x)
    tmp = ws.empty(x[0].shape)
    _forward(L, x, tmp)
    for j in reversed(range(K)):
        for m in range(j + 1, K):
            x[j] -= np.multiply(L[(m, j)], x[m], out=tmp)
        x[j] /= L[(j, j)]
    for j in range(K):
        x[j] *= scale[j]
    return x


def _inverse(L, scale, entries, ws):
    """Entries ``(i, j)`` of ``A⁻¹`` (a dict like ``A``) from the Cholesky factors.

    ``D A D = L Lᵀ`` gives ``A⁻¹ = D L⁻ᵀ L⁻¹ D``: entry ``(i, j)`` is
    ``scale_i scale_j Σ_m (L⁻¹)_mi (L⁻¹)_mj``, from ``L⁻¹`` by forward
    substitution.
    """
    K = len(scale)
    shape = L[(0, 0)].shape
    out = {p: ws.empty(shape) for p in entries}
    mark = ws.mark()
    tmp = ws.empty(shape)
    low = {}  # L⁻¹, lower triangle
    for j in range(K):
        low[(j, j)] = np.divide(1.0, L[(j, j)], out=ws.empty(shape))
        for i in range(j + 1, K):
            v = np.multiply(L[(i, j)], low[(j, j)], out=ws.empty(shape))
            for m in range(j + 1, i):
                v += np.multiply(L[(i, m)], low[(m, j)], out=tmp)
            np.negative(v, out=v)
            v /= L[(i, i)]
            low[(i, j)] = v
    for (i, j), e in out.items():
        np.multiply(low[(j, i)], low[(j, j)], out=e)
        for m in range(j + 1, K):
            e += np.multiply(low[(m, i)], low[(m, j)], out=tmp)
        e *= np.multiply(scale[i], scale[j], out=tmp)
    ws.release(mark)
    return out


def _inverse_quadratic(L, scale, u, ws):
    """``uᵀ A⁻¹ u`` with ``A``'s factors from :func:`_cholesky`."""
    shape = L[(0, 0)].shape
    q = ws.empty(shape)
    mark = ws.mark()
    z = _forward(L, _scaled(u, scale, ws), ws.empty(shape))
    np.square(z[0], out=q)
    for v in z[1:]:
        q += np.square(v, out=v)
    ws.release(mark)
    return q


def _contract(subscripts, x, y, out, assets=(True, True)):
    """``np.einsum(subscripts, x, y, out=out)``, the same bits whatever the width.

    A fused multiply-add loop (3x faster than one numpy call per product),
    that sums the products in the order of the summed index when the last
    (assets) axis is innermost; numpy moves an axis of length 1 out of the
    inner loop, and sums in another order: then it is widened to 2.
    ``assets``: whether ``x``, ``y`` have the assets' axis (last).
    """
    if out.shape[-1] > 1:
        return np.einsum(subscripts, x, y, out=out)
    x, y = (
        np.repeat(v, 2, axis=-1) if a else v
        for v, a in zip((x, y), assets, strict=True)
    )
    out[...] = np.einsum(subscripts, x, y)[..., :1]
    return out


@dataclass
class _System:
    """The normal equations of windows, factored: the ``A`` of :func:`_system`.

    ``L``, ``scale``, ``bad`` from :func:`_cholesky`; ``inverse`` ``A⁻¹``
    (n_windows, K, K) when :func:`_system` was asked for it, else None;
    ``inv`` the diagonal of :math:`(Z'WZ)^{-1}`, intercept first.
    """

    L: dict
    scale: list
    bad: np.ndarray
    inverse: np.ndarray | None
    inv: list

    def solve(self, c, ws):
        """``A⁻¹ c`` (``c`` of shape (windows, K, assets)), into an array of ``ws``.

        By substitution, or with the explicit inverse when kept.
        """
        x = ws.empty(c.shape)
        if self.inverse is not None:
            return _contract("tjk,tkm->tjm", self.inverse, c, x, (False, True))
        K = c.shape[1]
        for j in range(K):
            np.multiply(c[:, j], self.scale[j], out=x[:, j])
        _cholesky_solve(self.L, self.scale, [x[:, j] for j in range(K)], ws)
        return x


def _system(fm, ref, fit_intercept, center, ws, inverse=False):
    """Factor the normal equations of the windows whose factor sums are ``fm``.

    ``fm`` (windows, terms, assets) the factor sums (weight, f_j, f_i f_j in
    :func:`_pairs` order; one of the first or last axes of length 1),
    centred on the window means with an intercept (the f_i f_j sums are
    overwritten); ``center`` the factors' offset from their original units
    (for the intercept's entry of :math:`(Z'WZ)^{-1}`); ``ref[j]`` the scale
    against which a vanishing sum of squares of factor ``j`` is judged.
    ``inverse``: keep ``A⁻¹`` too, for systems shared by many assets (one
    multiply-add per entry then solves each asset's equations); without it
    only its diagonal is formed. Arrays from ``ws``.
    """
    K = len(ref)
    W, sf = fm[:, 0], [fm[:, 1 + j] for j in range(K)]
    pairs = _pairs(K)
    shape = W.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        A = {p: fm[:, 1 + K + q] for q, p in enumerate(pairs)}
        if fit_intercept:  # normal equations centred on the window means
            tmp = ws.empty(shape)
            for (i, j), s in A.items():
                s -= np.divide(np.multiply(sf[i], sf[j], out=tmp), W, out=tmp)
        L, scale, bad = _cholesky(A, ref, ws)
        P = _inverse(L, scale, pairs if inverse else [(j, j) for j in range(K)], ws)
        inv = [P[(j, j)] for j in range(K)]
        if fit_intercept:  # 1/Σw + m' A⁻¹ m, m the window's factor means
            first = np.divide(1.0, W, out=ws.empty(shape))
            mark = ws.mark()
            means = [_mean(sf[j], W, center[j], ws) for j in range(K)]
            first += _inverse_quadratic(L, scale, means, ws)
            ws.release(mark)
            inv.insert(0, first)
    full = None
    if inverse:  # (windows, K, K), both triangles
        full = ws.empty((len(W), K, K))
        for i, j in pairs:
            full[:, i, j] = full[:, j, i] = P[(i, j)][:, 0]
    return _System(L, scale, bad, full, inv)


def _mean(s, W, center, ws):
    """``s / W + center``, a factor's window mean in its original units."""
    out = np.divide(s, W, out=ws.empty(_shape(s, W)))
    out += center
    return out


def _solve(fm, ym, system, fit_intercept, center, cR, ws):
    """Coefficients and fit statistics from the window sums.

    ``fm`` the factor sums (as :func:`_system`'s) and ``ym`` (windows, K + 2,
    assets) the return sums (y, f_j y, y²), broadcasting together, both
    centred (the factors on ``center``, the returns on ``cR``); ``system``
    the factored normal equations of ``fm``. ``ym`` is overwritten. Returns
    ``beta`` (windows, K, assets), ``alpha`` (None without an intercept),
    ``rsquared``, ``ssr`` / Σw and ``yy`` (the total sum of squares of the
    R²), in the data's units (not centred). Arrays from ``ws``.
    """
    K = ym.shape[1] - 2
    W, sf = fm[:, 0], fm[:, 1 : 1 + K]
    sy, c, yy = ym[:, 0], ym[:, 1 : 1 + K], ym[:, 1 + K]
    shape = _shape(W, sy)
    tmp = ws.empty(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        if fit_intercept:  # centred on the window means: c_j = Σ f_j y - f̄_j Σ y
            ybar = np.divide(sy, W, out=ws.empty(shape))
            mark = ws.mark()
            c -= np.multiply(sf, ybar[:, None], out=ws.empty(c.shape))
            ws.release(mark)
            yy -= np.multiply(sy, ybar, out=tmp)
        beta = system.solve(c, ws)
        ssr = _contract("tjm,tjm->tm", beta, c, ws.empty(shape))
        np.subtract(yy, ssr, out=ssr)
        np.maximum(ssr, 0.0, out=ssr)
        rsquared = np.divide(ssr, yy, out=ws.empty(shape))
        np.subtract(1.0, rsquared, out=rsquared)
        ssr /= W
        alpha = None
        if fit_intercept:  # ȳ - β'f̄ in the data's units
            alpha = ybar
            mark = ws.mark()
            means = _mean(sf, W[:, None], center[:, None], ws)
            if means.shape[-1] == 1:  # one set per date (the shared equations)
                bm = _contract("tjm,tj->tm", beta, means[..., 0], tmp, (True, False))
            else:
                bm = _contract("tjm,tjm->tm", beta, means, tmp)
            alpha -= bm
            ws.release(mark)
            alpha += cR
    return beta, alpha, rsquared, ssr, yy


@dataclass
class _Block:
    """What every chunk of assets of one block of dates shares.

    Output rows ``a:b`` (``a - first:b - first`` of the results, which start
    at data row ``first``) from data rows ``lo:b``; ``fb`` the dates with every
    factor and ``fbc`` their prefix counts (``fbc[r]``: those before row
    ``r``), ``Gb`` their per-date terms (:func:`rolling_ols`) and ``C`` the
    terms' prefix sums (:func:`_own_sums`), ``ref`` the yardsticks of
    :func:`_cholesky`, ``cF`` the factors' centre; ``fm``, ``n`` and
    ``system`` the factor sums, observation counts and normal equations of
    a window without a hole.
    """

    a: int
    b: int
    lo: int
    first: int
    fb: np.ndarray
    fbc: np.ndarray
    Gb: np.ndarray
    C: np.ndarray
    ref: list
    cF: np.ndarray
    fm: list
    n: np.ndarray
    system: _System


def _block(F, f_ok, a, b, lo, first, *, window, fit_intercept, decay):
    """The :class:`_Block` of output rows ``a:b`` (data rows ``lo:b``)."""
    K = F.shape[1]
    head = a - lo
    pairs = _pairs(K)
    fb, Fb = f_ok[lo:b], F[lo:b]
    # Centre on the means of the block's first window (rows lo..a): small
    # sums, and nothing depends on later dates, not even through rounding.
    cF = np.zeros(K)
    if fit_intercept and fb[: head + 1].any():
        cF = Fb[: head + 1][fb[: head + 1]].mean(axis=0)
    Fc = np.where(fb[:, None], Fb - cF, 0.0)
    # Per-date factor terms: the observation indicator, f_j, f_i f_j.
    Gb = np.column_stack(
        [fb.astype(np.float64), Fc] + [Fc[:, i] * Fc[:, j] for i, j in pairs]
    )
    # A window sum is exact to about eps x the block's sum: the yardstick of
    # a factor that does not vary on a window.
    ref = [Gb[:, 1 + K + pairs.index((j, j))].sum() for j in range(K)]
    # The factor sums and normal equations of the windows without a hole:
    # one per date, shared by every asset observed on all its dates.
    n_rows = len(Gb)
    sums = np.zeros((n_rows + -n_rows % _GROUP, Gb.shape[1]))
    sums[:n_rows] = Gb
    _window_sums(sums, n_rows, window, decay, HEAP)
    fm = sums[head:n_rows, :, None]  # (dates, terms, 1)
    fbc = np.zeros(n_rows + 1, dtype=np.intp)
    np.cumsum(fb, out=fbc[1:])
    n = _window_counts(fbc, head, window)[:, None].astype(np.int32)
    system = _system(fm, ref, fit_intercept, cF, HEAP, inverse=True)
    # Each term's prefix sums over the block's rows, C[:, r] those before
    # row r (with decay, C[:, r + 1] = Σ_{s <= r} λ^(r - s) G_s).
    C = np.zeros((Gb.shape[1], n_rows + 1))
    if decay is None:
        np.cumsum(Gb.T, axis=1, out=C[:, 1:])
    else:
        C[:, 1:] = lfilter([1.0], [1.0, -decay], Gb.T, axis=1)
    return _Block(a, b, lo, first, fb, fbc, Gb, C, ref, cF, fm, n, system)


def _fit_chunk(
    F, R, mask, blk, span, skip, out, ws, *, window, min_obs, fit_intercept, decay
):
    """Fit the assets ``span`` on the windows ending at the block's dates, into ``out``.

    Every cell is first solved with the block's shared normal equations; the
    cells whose window misses a date the factors have (a hole) are solved
    again with their own (their factor sums masked by the asset's
    observations), gathered into flat arrays: only those cells pay for a
    factorisation of their own. Every temporary comes from ``ws``.
    """
    ws.reset()
    K = len(blk.cF)
    k = K + int(fit_intercept)
    rows = slice(blk.a - blk.first, blk.b - blk.first)
    Mb = mask[blk.lo : blk.b, span]
    n_rows, m = Mb.shape
    first, n_out = blk.a - blk.lo, blk.b - blk.a
    unseen = np.logical_not(Mb, out=ws.empty(Mb.shape, bool))
    r_unit = out.r_unit[span]  # R in its own units, a chunk at a time
    cR = np.zeros(m)
    if fit_intercept:  # centre on the asset's mean over the block's first window
        seen = first + 1 - np.count_nonzero(unseen[: first + 1], axis=0)
        head = ws.empty((first + 1, m))
        np.divide(R[blk.lo : blk.a + 1, span], r_unit, out=head)
        np.copyto(head, 0.0, where=unseen[: first + 1])
        cR = head.sum(axis=0)
        np.divide(cR, seen, out=cR, where=seen > 0)
    # The return terms y, f_j y, y² side by side: one pass of window sums,
    # summed in place (rows padded with zeros to whole groups of _cumsum).
    Yb = ws.empty((n_rows + -n_rows % _GROUP, K + 2, m))
    Yb[n_rows:] = 0.0
    y = Yb[:n_rows, 0]
    np.divide(R[blk.lo : blk.b, span], r_unit, out=y)
    y -= cR
    np.copyto(y, 0.0, where=unseen)
    np.multiply(y[:, None], blk.Gb[:, 1 : 1 + K, None], out=Yb[:n_rows, 1 : 1 + K])
    np.square(y, out=Yb[:n_rows, K + 1])
    Yb = _window_sums(Yb, n_rows, window, decay, ws)[first:n_rows]
    shape = (n_out, m)
    # The observation counts, written straight into the results.
    n = out.nobs[rows, span]
    n[...] = blk.n
    seen = ~unseen.all(axis=0)
    n[:, ~seen] = 0
    np.not_equal(Mb, blk.fb[:, None], out=unseen)  # a hole, or unlisted
    holey = np.flatnonzero(seen & unseen.any(axis=0))
    ti = np.empty(0, dtype=np.intp)
    if len(holey):  # some window of these assets misses a date: own counts
        Mh = _take(Mb, holey, axis=1, out=ws.empty((n_rows, len(holey)), bool))
        mc = ws.zeros((n_rows + 1, len(holey)), np.intp)
        np.cumsum(Mh, axis=0, out=mc[1:])
        n_own = _window_counts(mc, first, window)
        n[:, holey] = n_own
        few = np.less(n_own, min_obs, out=ws.empty(n_own.shape, bool))
        need = np.not_equal(n_own, blk.n, out=ws.empty(n_own.shape, bool))
        need &= ~few  # a hole, and enough dates
        need[:skip] = False
        ti, hi = np.nonzero(need)
    if len(ti):  # own factor sums and normal equations, cell by cell
        fm = _own_sums(Mh, mc, blk, ti, hi, window, decay, ws)[None]
        ci = holey[hi]
        cell = ti * m + ci  # the cells' flat positions in a (dates, assets) array
        at = ti * (K + 2) * m + ci  # and of their first term in Yb
        ym_own = ws.empty((1, K + 2, len(ti)))
        for q in range(K + 2):  # gathered before the shared solve overwrites Yb
            _take(Yb, at, out=ym_own[0, q])
            at += m
    # A window without an estimate (too few dates, collinear, or before the
    # first full window) gets a NaN cross-product sum, which every result
    # of its solve inherits: no mask pass over the results.
    c0 = Yb[:, 1]
    c0[blk.system.bad[:, 0] | (blk.n[:, 0] < min_obs)] = np.nan
    c0[:skip] = np.nan
    c0[:, ~seen] = np.nan
    if len(holey):
        t_few, h_few = np.nonzero(few)
        c0[t_few, holey[h_few]] = np.nan
    beta, alpha, r2, msr, yy = _solve(
        blk.fm, Yb, blk.system, fit_intercept, blk.cF, cR, ws
    )
    # s² = Σwe²/(n-k) = msr · Σw/(n-k); resid_vol² = msr · n/(n-k): the
    # factors looked up by n (NaN for n <= k), one per date but in the
    # windows with their own count (whose msr is NaN but the own windows').
    counts = np.arange(window + 1.0)
    per_dof = np.full(window + 1, np.nan)
    np.divide(1.0, counts - k, out=per_dof, where=counts > k)
    W = np.broadcast_to(blk.fm[:, 0], shape)
    s2 = _scaled_msr(msr, W, blk.n, counts, per_dof, out.s2, ws)
    if len(ti):
        system = _system(fm, blk.ref, fit_intercept, blk.cF, ws)
        np.copyto(ym_own[:, 1], np.nan, where=system.bad)
        own = _solve(fm, ym_own, system, fit_intercept, blk.cF, cR[ci], ws)
        own_s2 = _scaled_msr(own[3], fm[:, 0], n[ti, ci], counts, per_dof, s2, ws)
        W = ws.empty(shape)
        W[...] = blk.fm[:, 0]
        at = ti * (K * m) + ci  # the cells' flat positions in beta
        for j in range(K):
            beta.reshape(-1)[at] = own[0][0, j]
            at += m
        # alpha, r2, msr, s2 and W are C-contiguous (date, asset) arrays:
        # their flat views take the own cells' values.
        news = [own[1], own[2], own[3], own_s2, fm[:, 0]]
        for target, values in zip([alpha, r2, msr, s2, W], news, strict=True):
            if values is not None:
                target.reshape(-1)[cell] = values[0]
        yy[ti, ci] = own[4]  # yy is a view of Yb
        inv = np.stack(system.inv, axis=-1)
        out.inv_own.append((blk.a - blk.first + ti, span.start + ci, inv))
    out.estimated = out.estimated or not np.isnan(beta[:, 0]).all()
    terms = [beta[:, j] for j in range(K)]
    if fit_intercept:
        terms.insert(0, alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        flag = np.greater(r2, 1.0 - _NEAR_EXACT, out=ws.empty(shape, bool))
        ti, ci = np.nonzero(flag) if flag.any() else (ti[:0], ti[:0])
        exact = n[ti, ci] == k  # as many dates as terms: no residual at all
        r2[ti[exact], ci[exact]] = 1.0
        ti, ci = ti[~exact], ci[~exact]
        if len(ti):  # near-exact fits: the SSR from the residuals
            coef = np.column_stack([v[ti, ci] for v in terms])
            ssr = _residual_ssr(
                F, R, out.r_unit, blk.a + ti, span.start + ci, coef, window, decay
            )
            r2[ti, ci] = 1.0 - ssr / yy[ti, ci]
            w = W[ti, ci]
            near = ssr / w
            near_s2 = _scaled_msr(near, w, n[ti, ci], counts, per_dof, s2, HEAP)
            msr[ti, ci] = near
            if s2 is not None:
                s2[ti, ci] = near_s2
        out.rsquared[rows, span] = r2
        # Each term into its strided slice of the results, in the data's units.
        params, per_term = out.params[rows, span], out.per_term[span]
        for j, values in enumerate(terms):
            np.multiply(values, per_term[:, j], out=params[..., j])
        if s2 is not None:
            out.s2[rows, span] = s2
        np.sqrt(msr, out=msr)
        np.multiply(msr, r_unit, out=out.resid_vol[rows, span])


def _scaled_msr(msr, W, n, counts, per_dof, s2, ws):
    """``s2`` (when not None) from ``msr`` = Σwe²/Σw; ``msr`` then times n/(n-k).

    ``n`` the windows' observations (broadcasting with ``msr``).
    """
    if s2 is not None:
        s2 = np.multiply(msr, W, out=ws.empty(msr.shape))
        s2 *= per_dof[n]
    msr *= (counts * per_dof)[n]
    return s2


def _own_sums(Mh, mc, blk, ti, hi, window, decay, ws):
    r"""The factor sums of the windows ``(ti, hi)`` of assets with holes, cell by cell.

    ``Mh`` (block rows, assets) whether each asset is observed (and every
    factor), ``mc`` its prefix counts (``mc[r]``: before row ``r``); ``ti``
    the output rows (from the block's first, ``blk.a``), ``hi`` the assets,
    of the cells. A window's sums are those of the dates between the
    asset's first and last observations in the block, from the block's
    prefix sums of the factor terms (shared by every asset), less the dates
    in between that the asset misses (its holes): a few per window, against
    the window's hundred dates of a masked running sum per asset. Returns
    the (terms, cells) sums, in ``blk.Gb``'s order, from ``ws``.
    """
    n_rows, h = Mh.shape
    n = len(ti)
    t = np.add(ti, blk.a - blk.lo, out=ws.empty(n, np.intp))  # each window's last row
    first_obs = Mh.argmax(axis=0)
    last_obs = n_rows - 1 - Mh[::-1].argmax(axis=0)
    lo = np.subtract(t, window - 1, out=ws.empty(n, np.intp))
    np.maximum(lo, _take(first_obs, hi, out=ws.empty(n, np.intp)), out=lo)
    end = _take(last_obs, hi, out=ws.empty(n, np.intp))
    np.minimum(t, end, out=end)
    end += 1  # one past the window's last observed row
    S = _take(blk.C, end, axis=1, out=ws.empty((len(blk.C), n)))
    tmp = _take(blk.C, lo, axis=1, out=ws.empty(S.shape))
    if decay is None:
        S -= tmp
        return _less_holes(S, tmp, Mh, mc, blk, hi, lo, end, first_obs, last_obs, ws)
    S -= np.multiply(tmp, decay ** (end - lo + 0.0), out=tmp)
    S *= decay ** (t - end + 1.0)
    # The holes: dates with every factor the asset misses, by asset then date.
    hole_asset, hole_row = np.nonzero((blk.fb[:, None] & ~Mh).T)
    keys = hole_asset * n_rows + hole_row
    k0 = np.searchsorted(keys, hi * n_rows + lo)
    count = np.searchsorted(keys, hi * n_rows + end - 1, side="right") - k0
    starts = np.cumsum(count) - count
    cell = np.repeat(np.arange(n), count)
    rows = hole_row[np.repeat(k0 - starts, count) + np.arange(len(cell))]
    weight = decay ** (t[cell] - rows + 0.0)
    for q, g in enumerate(blk.Gb.T):  # each window's holes, summed in date order
        S[q] -= np.bincount(cell, weights=g[rows] * weight, minlength=n)
    return S


def _less_holes(S, tmp, Mh, mc, blk, hi, lo, end, first_obs, last_obs, ws):
    """``S`` less the sums of the holes of each cell's window (rows ``lo:end``).

    The holes of each asset (the dates with every factor it misses, between
    its first and last observations) are laid out one row per asset, and
    their terms summed along it: the holes of rows ``lo:end`` are those
    between the asset's hole counts at ``lo`` and at ``end``, the
    difference of two of those prefix sums (exact to about eps x the sums
    of its holes in the block, as the window sums are to the block's).
    """
    n_rows, h = Mh.shape
    # Holes before row r (r past the first observation): the dates with
    # every factor before r, less the observed ones, since the first one.
    before = blk.fbc[first_obs]
    past = last_obs + 1
    total = blk.fbc[past] - before - mc[past, np.arange(h)]  # the asset's holes
    width = int(total.max()) + 1  # of each asset's row of prefix sums
    start = np.arange(h) * width - before  # + fbc[r] - mc[r]: position of row r
    holes = np.logical_not(Mh.T, out=ws.empty((h, n_rows), bool))
    holes &= blk.fb
    rank = np.arange(n_rows)
    holes &= (rank > first_obs[:, None]) & (rank < last_obs[:, None])
    asset, row = np.divmod(np.flatnonzero(holes), n_rows)
    at = start[asset] + blk.fbc[row] - mc[row, asset] + 1
    G = ws.zeros((len(S), h * width))
    G[:, at] = blk.Gb[row].T
    P = np.cumsum(
        G.reshape(len(S), h, width), axis=2, out=ws.empty(S.shape[:1] + (h, width))
    )
    P = P.reshape(len(S), -1)
    pos, part = ws.empty(len(hi), np.intp), ws.empty(len(hi), np.intp)
    sums = []  # the prefix sums at `end`, then at `lo`
    for r, into in ((end, tmp), (lo, ws.empty(S.shape))):
        _take(start, hi, out=pos)
        pos += _take(blk.fbc, r, out=part)
        pos -= _take(mc, np.add(np.multiply(r, h, out=part), hi, out=part), out=part)
        sums.append(_take(P, pos, axis=1, out=into))
    S -= np.subtract(*sums, out=tmp)
    return S


def _residual_ssr(F, R, r_unit, dates, cols, terms, window, decay):
    """Σ w e² over the window of each (date, asset) pair, from its residuals.

    ``dates``, ``cols`` index the pairs; ``terms`` (n_pairs, n_terms) their
    coefficients in the data's units, the intercept first when ``terms`` has
    one more column than ``F``. A row counts where the asset and every factor
    are observed. Window x n_factors work per pair, for the near-exact fits
    only: each window is a contiguous slice of a transposed, NaN-padded copy
    of the dates they span.
    """
    K = F.shape[1]
    used, col = np.unique(cols, return_inverse=True)
    first, stop = int(dates.min()) - window + 1, int(dates.max()) + 1
    pad = max(-first, 0)
    span = slice(max(first, 0), stop)
    Ft = np.pad(F[span].T, ((0, 0), (pad, 0)), constant_values=np.nan)
    Rt = R[span, used].T / r_unit[used, None]
    Rt = np.pad(Rt, ((0, 0), (pad, 0)), constant_values=np.nan)
    Fw = np.lib.stride_tricks.sliding_window_view(Ft, window, axis=1)  # (K, n, w)
    Rw = np.lib.stride_tricks.sliding_window_view(Rt, window, axis=1)
    row = dates - first - window + 1  # the window ending at dates[i]
    weight = 1.0 if decay is None else decay ** np.arange(window - 1, -1, -1)
    out = np.empty(len(dates))
    step = max(1, (1 << 18) // (window * (K + 1)))
    for i in range(0, len(dates), step):
        r, coef = row[i : i + step], terms[i : i + step]
        e = Rw[col[i : i + step], r]  # (m, window)
        for k in range(K):
            e = e - Fw[k, r] * coef[:, -K + k, None]
        if coef.shape[1] > K:
            e -= coef[:, :1]
        e = np.where(np.isnan(e), 0.0, e)  # a NaN return or factor: not in the fit
        out[i : i + step] = (weight * e * e).sum(axis=1)
    return out


def rolling_ols(
    F,
    R,
    *,
    window,
    min_obs,
    expanding=False,
    fit_intercept=True,
    halflife=None,
    first=0,
    units=None,
    block_cells=_BLOCK_CELLS,
    chunk_cells=_CHUNK_CELLS,
):
    r"""Regress every column of ``R`` on ``F`` over the trailing window of each date.

    Row ``t`` uses dates ``max(0, t - window + 1) .. t`` and, within them, the
    rows where the asset and every factor are observed; it is NaN when fewer
    than ``min_obs`` such rows, when the regressors are collinear on them, and
    (unless ``expanding``) for ``t < window - 1``. With ``halflife`` the row of
    age :math:`a` (0 for date ``t``) weighs :math:`0.5^{a/h}` (weighted least
    squares). ``resid_vol`` is the square root of
    :math:`\sum w e^2 / \sum w \cdot n/(n-k)` (``SSR / (n - k)`` without
    weights), NaN when :math:`n \le k`. The moments of the standard errors
    (:func:`window_bse`, :math:`\sqrt{s^2 \operatorname{diag}((Z'WZ)^{-1})}`
    with :math:`s^2 = \sum w e^2 / (n - k)`: statsmodels ``RollingOLS``'s
    ``bse`` without weights, ``WLS``'s with them) are kept: :math:`1 + k`
    numbers per window.

    Parameters
    ----------
    F : ndarray of shape (n_dates, n_factors)
        Factor returns, NaN allowed (that date is dropped for every asset).
    R : ndarray of shape (n_dates, n_assets)
        Asset returns, NaN allowed.
    window, min_obs : int
    expanding, fit_intercept : bool
    halflife : float or None
    first : int, default=0
        The first date whose window is estimated: the results' row ``t`` is
        the window ending at date ``first + t``; the dates before ``first``
        only feed those windows (``partial_fit`` passes the last
        ``window - 1`` fitted dates before the new ones).
    units : tuple of ndarray, default=None
        ``(f_unit, r_unit)``, the powers of two each factor and asset is
        divided by during the fit (exact); None: those of ``F`` and ``R``.
    block_cells : int
        Cells (dates x assets x (factors + 3)) of one block of dates, the
        span of the prefix sums (at least ``window`` dates).
    chunk_cells : int
        Cells (dates x assets) of one chunk of assets within a block: the
        chunks change nothing but the speed and the scratch memory (up to
        about ``2 (K + 2)²`` float64 arrays of ``chunk_cells`` with many
        holes), to the last bit.

    Returns
    -------
    RollingOLS
    """
    T, K = F.shape
    N = R.shape[1]
    k = K + int(fit_intercept)
    # Each factor and asset in units of a power of two near its largest
    # magnitude (exact, and the same bits as unscaled where nothing under- or
    # overflows): values of 1e-160 or 1e160 keep their digits when squared.
    if units is None:
        units = power_of_two_units(F), power_of_two_units(R)
    f_unit, r_unit = units
    F = F / f_unit  # R is divided by r_unit a chunk at a time
    f_ok = ~np.isnan(F).any(axis=1)
    mask = ~np.isnan(R) & f_ok[:, None]
    decay = None if halflife is None else halflife_decay(halflife)

    # Back to the data's units: an intercept in the asset's, a beta in asset / factor.
    per_term = r_unit[:, None] / np.r_[np.ones(int(fit_intercept)), f_unit]
    n_out = T - first
    out = RollingOLS(  # every cell is written once, block by block
        params=np.empty((n_out, N, k)),
        rsquared=np.empty((n_out, N)),
        resid_vol=np.empty((n_out, N)),
        nobs=np.empty((n_out, N), dtype=np.int32),
        s2=None if decay is None else np.empty((n_out, N)),
        inv_shared=np.full((n_out, k), np.nan),
        inv_own=[],
        r_unit=r_unit,
        per_term=per_term,
    )

    block = int(max(window, min(T, block_cells // max((K + 3) * N, 1))))
    # Assets a chunk at a time, so that a chunk's window sums and the solve's
    # temporaries stay in cache, all of them from one scratch buffer.
    # No chunk is one asset wide (the last one joins the chunk before it):
    # numpy moves an axis of length 1 out of its inner loops and sums in
    # another order, so one asset would round by an ulp where any wider
    # chunk gives the bits of one chunk of all the assets.
    chunk = max(2, chunk_cells // (block + window))
    starts = list(range(0, N, chunk))
    if len(starts) > 1 and N - starts[-1] == 1:
        starts.pop()
    spans = [slice(c0, c1) for c0, c1 in zip(starts, [*starts[1:], N], strict=True)]
    ws = Arena()
    start = 0 if expanding else window - 1
    for a in range(first, T, block):
        b = min(a + block, T)
        lo = max(a - window + 1, 0)
        shared = _block(
            F,
            f_ok,
            a,
            b,
            lo,
            first,
            window=window,
            fit_intercept=fit_intercept,
            decay=decay,
        )
        out.inv_shared[a - first : b - first] = np.column_stack(shared.system.inv)
        skip = max(start - a, 0)  # leading rows before the first full window
        for span in spans:
            _fit_chunk(
                F,
                R,
                mask,
                shared,
                span,
                skip,
                out,
                ws,
                window=window,
                min_obs=min_obs,
                fit_intercept=fit_intercept,
                decay=decay,
            )
    return out
