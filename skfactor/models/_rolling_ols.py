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
from functools import partial

import numpy as np
from scipy.signal import lfilter

from skfactor.utils._numerics import RCOND, halflife_decay, power_of_two_units

__all__ = ["RollingOLS", "rolling_ols", "window_bse"]

# Pivots of the Jacobi-scaled (unit diagonal) normal equations at or below
# RCOND mark a window whose regressors are collinear; a factor whose centred
# sum of squares is at most RCOND times its raw one is constant on the window.

# Budget, in float64 cells, of the block of window sums held at once.
_BLOCK_CELLS = 6_000_000
# Cells (dates x assets) of one chunk of assets' window sums: 2 MiB.
_CHUNK_CELLS = 1 << 18

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


def _cumsum(V, group=_GROUP, overwrite=False):
    """``np.cumsum(V, axis=0)``, summed a group of ``group`` rows at a time.

    numpy accumulates along the first axis one column at a time, a cache
    miss per row (about 4 ns a cell); here the rows of each group are added
    to the next row of the group, whole rows at once, and the groups' totals
    are carried over: 2x faster on a block of window sums. Row ``t`` still
    depends on rows ``0..t`` only. With ``overwrite``, a C-contiguous ``V``
    whose length is a multiple of ``group`` is summed in place.
    """
    n = len(V)
    if overwrite and n % group == 0 and V.flags.c_contiguous:
        C = V
    else:
        C = np.empty((n + -n % group,) + V.shape[1:])
        C[:n] = V
        C[n:] = 0.0
    Z = C.reshape(-1, group, *V.shape[1:])
    for j in range(1, group):
        Z[:, j] += Z[:, j - 1]
    carry = np.cumsum(Z[:-1, -1], axis=0)
    Z[1:] += carry[:, None]
    return C[:n]


def _window_sums(V, first, window, decay, overwrite=False):
    """Sums of ``V``'s rows over the trailing ``window`` rows ending at rows ``first:``.

    ``V`` (n_rows, ...) starts at most ``window - 1`` rows before ``first``.
    With ``decay`` (λ), row ``s`` of the window ending at ``u`` weighs
    ``λ**(u - s)``. ``overwrite``: ``V`` may be overwritten (:func:`_cumsum`).
    """
    n = len(V)
    out = np.empty((n - first,) + V.shape[1:])
    stop = min(window, n)  # rows before `stop` have no row of V to drop
    if decay is None:
        C = _cumsum(V, overwrite=overwrite)
        tail = C[: n - window] if n > window else None
    else:
        C = lfilter([1.0], [1.0, -decay], V, axis=0)
        tail = decay**window * C[: n - window] if n > window else None
    out[: stop - first] = C[first:stop]
    if tail is not None:
        np.subtract(C[window:], tail, out=out[window - first :])
    return out


def _cholesky(A, ref):
    """Factor many small symmetric systems ``A`` at once: ``L``, ``scale``, ``bad``.

    ``A[(i, j)]`` (i <= j) are arrays broadcasting together (one system per
    element); ``A[(j, j)]`` at most ``RCOND * ref[j]`` counts as 0.
    The systems are Jacobi-scaled to a unit diagonal, ``D A D = L Lᵀ`` with
    ``D = diag(scale)``, factored entry by entry, vectorised over the systems.
    ``bad`` is True where a system is numerically singular (its ``L`` is then
    garbage).
    """
    K = len(ref)
    bad = np.zeros(np.broadcast_shapes(*(a.shape for a in A.values())), dtype=bool)
    scale = []
    for j in range(K):
        d = A[(j, j)]
        ok = d > RCOND * ref[j]
        bad |= ~ok
        scale.append(1.0 / np.sqrt(np.where(ok, d, 1.0)))
    L = {}
    for j in range(K):
        for i in range(j, K):
            v = A[(j, i)] * (scale[i] * scale[j])
            for m in range(j):
                v = v - L[(i, m)] * L[(j, m)]
            if i == j:
                ok = v > RCOND
                bad |= ~ok
                v = np.sqrt(np.where(ok, v, 1.0))
            else:
                v = v / L[(j, j)]
            L[(i, j)] = v
    return L, scale, bad


def _forward(L, c):
    """``z`` with ``L z = c`` (``L`` lower triangular, from :func:`_cholesky`)."""
    z = []
    for j in range(len(c)):
        v = c[j]
        for m in range(j):
            v = v - L[(j, m)] * z[m]
        z.append(v / L[(j, j)])
    return z


def _cholesky_solve(L, scale, c):
    """Solve ``A x = c`` with ``A``'s factors from :func:`_cholesky`."""
    K = len(c)
    z = _forward(L, [c[j] * scale[j] for j in range(K)])
    x = [None] * K
    for j in reversed(range(K)):
        v = z[j]
        for m in range(j + 1, K):
            v = v - L[(m, j)] * x[m]
        x[j] = v / L[(j, j)]
    return [x[j] * scale[j] for j in range(K)]


def _inverse(L, scale, entries):
    """Entries ``(i, j)`` of ``A⁻¹`` (a dict like ``A``) from the Cholesky factors.

    ``D A D = L Lᵀ`` gives ``A⁻¹ = D L⁻ᵀ L⁻¹ D``: entry ``(i, j)`` is
    ``scale_i scale_j Σ_m (L⁻¹)_mi (L⁻¹)_mj``, from ``L⁻¹`` by forward
    substitution.
    """
    K = len(scale)
    low = {}  # L⁻¹, lower triangle
    for j in range(K):
        low[(j, j)] = 1.0 / L[(j, j)]
        for i in range(j + 1, K):
            v = L[(i, j)] * low[(j, j)]
            for m in range(j + 1, i):
                v = v + L[(i, m)] * low[(m, j)]
            low[(i, j)] = -v / L[(i, i)]
    return {
        (i, j): sum(low[(m, i)] * low[(m, j)] for m in range(j, K))
        * (scale[i] * scale[j])
        for i, j in entries
    }


def _inverse_quadratic(L, scale, u):
    """``uᵀ A⁻¹ u`` with ``A``'s factors from :func:`_cholesky`."""
    z = _forward(L, [u[j] * scale[j] for j in range(len(u))])
    return sum(v * v for v in z)


@dataclass
class _System:
    """The normal equations of windows, factored: the ``A`` of :func:`_system`.

    ``L``, ``scale``, ``bad`` from :func:`_cholesky`; ``inverse`` ``A⁻¹`` (the
    upper triangle) when :func:`_system` was asked for it, else None; ``inv``
    the diagonal of :math:`(Z'WZ)^{-1}`, intercept first.
    """

    L: dict
    scale: list
    bad: np.ndarray
    inverse: dict | None
    inv: list

    def solve(self, c, tmp):
        """``A⁻¹ c``: by substitution, or with the explicit inverse when kept.

        ``tmp`` a scratch array of the shape of ``c[j]``.
        """
        if self.inverse is None:
            return _cholesky_solve(self.L, self.scale, c)
        P, K = self.inverse, len(c)
        beta = []
        for j in range(K):
            b = np.multiply(c[0], P[(0, j)])
            for m in range(1, K):
                b += np.multiply(c[m], P[(min(j, m), max(j, m))], out=tmp)
            beta.append(b)
        return beta


def _system(fm, ref, fit_intercept, center, inverse=False):
    """Factor the normal equations of the windows whose factor sums are ``fm``.

    ``fm`` the factor sums (weight, f_j, f_i f_j in :func:`_pairs` order),
    centred on the window means with an intercept; ``center`` the factors'
    offset from their original units (for the intercept's entry of
    :math:`(Z'WZ)^{-1}`); ``ref[j]`` the scale against which a vanishing sum
    of squares of factor ``j`` is judged. ``inverse``: keep ``A⁻¹`` too, for
    systems shared by many assets (one multiply-add per entry then solves
    each asset's equations); without it only its diagonal is formed.
    """
    K = len(ref)
    W, sf, sff = fm[0], fm[1 : 1 + K], fm[1 + K :]
    pairs = _pairs(K)
    with np.errstate(invalid="ignore", divide="ignore"):
        if fit_intercept:  # normal equations centred on the window means
            A = {
                p: s - sf[p[0]] * sf[p[1]] / W for p, s in zip(pairs, sff, strict=True)
            }
        else:
            A = dict(zip(pairs, sff, strict=True))
        L, scale, bad = _cholesky(A, ref)
        P = _inverse(L, scale, _pairs(K) if inverse else [(j, j) for j in range(K)])
        inv = [P[(j, j)] for j in range(K)]
        if fit_intercept:  # 1/Σw + m' A⁻¹ m, m the window's factor means
            means = [sf[j] / W + center[j] for j in range(K)]
            inv.insert(0, 1.0 / W + _inverse_quadratic(L, scale, means))
    return _System(L, scale, bad, P if inverse else None, inv)


def _solve(fm, ym, system, fit_intercept, center, cR):
    """Coefficients and fit statistics from the window sums.

    ``fm`` the factor sums (as :func:`_system`'s) and ``ym`` the return sums
    (y, f_j y, y²), broadcasting together, both centred (the factors on
    ``center``, the returns on ``cR``); ``system`` the factored normal
    equations of ``fm``. ``ym``'s arrays are overwritten. Returns ``beta``
    (list of K arrays), ``alpha`` (None without an intercept), ``rsquared``,
    ``ssr`` / Σw and ``yy`` (the total sum of squares of the R²), in the
    data's units (not centred).
    """
    K = len(ym) - 2
    W, sf = fm[0], fm[1 : 1 + K]
    sy, c, yy = ym[0], ym[1 : 1 + K], ym[1 + K]
    tmp = np.empty(np.broadcast_shapes(W.shape, sy.shape))  # scratch
    with np.errstate(invalid="ignore", divide="ignore"):
        if fit_intercept:  # centred on the window means: c_j = Σ f_j y - f̄_j Σ y
            ybar = np.divide(sy, W)
            for j in range(K):
                c[j] -= np.multiply(sf[j], ybar, out=tmp)
            yy -= np.multiply(sy, ybar, out=tmp)
        beta = system.solve(c, tmp)
        ssr = np.multiply(beta[0], c[0])
        for j in range(1, K):
            ssr += np.multiply(beta[j], c[j], out=tmp)
        np.subtract(yy, ssr, out=ssr)
        np.maximum(ssr, 0.0, out=ssr)
        rsquared = np.divide(ssr, yy)
        np.subtract(1.0, rsquared, out=rsquared)
        ssr /= W
        alpha = None
        if fit_intercept:  # ȳ - β'f̄ in the data's units
            alpha = ybar
            for j in range(K):
                alpha -= np.multiply(beta[j], sf[j] / W + center[j], out=tmp)
            alpha += cR
    return beta, alpha, rsquared, ssr, yy


@dataclass
class _Block:
    """What every chunk of assets of one block of dates shares.

    Output rows ``a:b`` (``a - first:b - first`` of the results, which start
    at data row ``first``) from data rows ``lo:b``; ``fb`` the dates with every
    factor, ``Gb`` their per-date terms (:func:`rolling_ols`), ``ref`` the
    yardsticks of :func:`_cholesky`, ``cF`` the factors' centre; ``fm``,
    ``n`` and ``system`` the factor sums, observation counts and normal
    equations of a window without a hole; ``sums``, ``count`` the window sums
    (weighted, unweighted) of the block's rows.
    """

    a: int
    b: int
    lo: int
    first: int
    fb: np.ndarray
    Gb: np.ndarray
    ref: list
    cF: np.ndarray
    fm: list
    n: np.ndarray
    system: _System
    sums: partial
    count: partial


def _fit_chunk(
    F, R, mask, blk, span, skip, out, *, window, min_obs, fit_intercept, decay
):
    """Fit the assets ``span`` on the windows ending at the block's dates, into ``out``.

    Every cell is first solved with the block's shared normal equations; the
    cells whose window misses a date the factors have (a hole) are solved
    again with their own (their factor sums masked by the asset's
    observations), gathered into flat arrays: only those cells pay for a
    factorisation of their own.
    """
    K = len(blk.cF)
    k = K + int(fit_intercept)
    rows = slice(blk.a - blk.first, blk.b - blk.first)
    Mb = mask[blk.lo : blk.b, span]
    first = blk.a - blk.lo
    r_unit = out.r_unit[span]  # R in its own units, a chunk at a time
    cR = np.zeros(Mb.shape[1])
    if fit_intercept:  # centre on the asset's mean over the block's first window
        seen = Mb[: first + 1].sum(axis=0)
        head = R[blk.lo : blk.a + 1, span] / r_unit
        cR = np.where(Mb[: first + 1], head, 0.0).sum(axis=0)
        np.divide(cR, seen, out=cR, where=seen > 0)
    # The return terms y, f_j y, y² side by side: one pass of window sums,
    # summed in place (rows padded with zeros to whole groups of _cumsum).
    n_rows = len(Mb)
    Yb = np.empty((n_rows + -n_rows % _GROUP, K + 2, Mb.shape[1]))
    Yb[n_rows:] = 0.0
    y = Yb[:n_rows, 0]
    np.divide(R[blk.lo : blk.b, span], r_unit, out=y)
    y -= cR
    y[~Mb] = 0.0
    for j in range(K):
        np.multiply(y, blk.Gb[:, 1 + j, None], out=Yb[:n_rows, 1 + j])
    np.square(y, out=Yb[:n_rows, K + 1])
    Yb = blk.sums(Yb, overwrite=True)[: blk.b - blk.a]
    ym = [Yb[:, q] for q in range(K + 2)]
    shape = Yb[:, 0].shape
    n = np.broadcast_to(blk.n, shape).copy()
    invalid = np.broadcast_to(blk.system.bad, shape).copy()
    seen = Mb.any(axis=0)
    n[:, ~seen] = 0
    holey = np.flatnonzero(seen & (Mb != blk.fb[:, None]).any(axis=0))
    ti = np.empty(0, dtype=np.intp)
    if len(holey):  # some window of these assets misses a date: own counts
        Mh = Mb[:, holey]
        n_own = np.rint(blk.count(Mh.astype(np.float64))).astype(np.int32)
        n[:, holey] = n_own
        need = (n_own != blk.n) & (n_own >= min_obs)  # a hole, and enough dates
        need[:skip] = False
        ti, hi = np.nonzero(need)
    if len(ti):  # own factor sums and normal equations, cell by cell
        fm = _own_sums(Mh, blk, ti, hi, window, decay)
        ci = holey[hi]
        m = Yb.shape[2]
        cell = ti * m + ci  # the cells' flat positions in a (dates, assets) array
        terms_at = ti * (K + 2) * m + ci  # and of their first term in Yb
        ym_own = [np.take(Yb, terms_at + q * m) for q in range(K + 2)]  # pre-solve
    beta, alpha, r2, msr, yy = _solve(blk.fm, ym, blk.system, fit_intercept, blk.cF, cR)
    W = np.broadcast_to(blk.fm[0], shape)
    if len(ti):
        system = _system(fm, blk.ref, fit_intercept, blk.cF)
        own = _solve(fm, ym_own, system, fit_intercept, blk.cF, cR[ci])
        W = W.copy()
        # beta, alpha, r2, msr, W and invalid are C-contiguous (date, asset)
        # arrays: their flat views take the own cells' values.
        news = [*own[0], own[1], own[2], own[3], fm[0], system.bad]
        for target, values in zip(
            [*beta, alpha, r2, msr, W, invalid], news, strict=True
        ):
            if values is not None:
                target.reshape(-1)[cell] = values
        np.put(yy, cell, own[4])  # yy may be a view of Yb
        inv = np.stack(system.inv, axis=-1)
        out.inv_own.append((blk.a - blk.first + ti, span.start + ci, inv))
    invalid |= n < min_obs
    invalid[:skip] = True
    out.estimated = out.estimated or not invalid.all()
    terms = [alpha, *beta] if fit_intercept else beta
    with np.errstate(invalid="ignore", divide="ignore"):
        ti, ci = np.nonzero(~invalid & (r2 > 1.0 - _NEAR_EXACT))
        if len(ti):  # near-exact fits: the SSR from the residuals
            coef = np.column_stack([v[ti, ci] for v in terms])
            ssr = _residual_ssr(
                F, R, out.r_unit, blk.a + ti, span.start + ci, coef, window, decay
            )
            r2[ti, ci] = 1.0 - ssr / yy[ti, ci]
            msr[ti, ci] = ssr / W[ti, ci]
        np.copyto(r2, np.nan, where=invalid)
        out.rsquared[rows, span] = r2
        out.nobs[rows, span] = n
        # The terms side by side, then one contiguous write per date.
        params = np.stack(terms, axis=-1)
        params[invalid] = np.nan
        np.multiply(params, out.per_term[span], out=out.params[rows, span])
        # s² = Σwe²/(n-k) = msr · Σw/(n-k); resid_vol² = msr · n/(n-k): the
        # factors looked up by n (NaN for n <= k), not computed cell by cell.
        counts = np.arange(window + 1.0)
        per_dof = np.where(counts > k, 1.0 / (counts - k), np.nan)
        if out.s2 is not None:
            s2 = msr * W * per_dof[n]
            np.copyto(s2, np.nan, where=invalid)
            out.s2[rows, span] = s2
        msr *= np.take(counts * per_dof, n)
        np.sqrt(msr, out=msr)
        np.copyto(msr, np.nan, where=invalid)
        np.multiply(msr, out.r_unit[span], out=out.resid_vol[rows, span])


def _own_sums(Mh, blk, ti, hi, window, decay):
    r"""The factor sums of the windows ``(ti, hi)`` of assets with holes, cell by cell.

    ``Mh`` (block rows, assets) whether each asset is observed (and every
    factor); ``ti`` the output rows (from the block's first, ``blk.a``),
    ``hi`` the assets, of the cells. A window's sums are those of the dates
    between the asset's first and last observations in the block, from the
    block's prefix sums of the factor terms (shared by every asset), less
    the dates in between that the asset misses (its holes), summed one by
    one: a few per window, against the window's hundred dates of a masked
    running sum per asset. Returns the list of sums in ``blk.Gb``'s order.
    """
    n_rows = len(Mh)
    t = ti + (blk.a - blk.lo)  # the block row of each window's last date
    first_obs = Mh.argmax(axis=0)
    last_obs = n_rows - 1 - Mh[::-1].argmax(axis=0)
    lo = np.maximum(t - window + 1, first_obs[hi])
    hi_ = np.minimum(t, last_obs[hi])
    Gt = blk.Gb.T  # (terms, rows): each term's sums contiguous
    C = np.zeros((len(Gt), n_rows + 1))
    if decay is None:  # C[:, x + 1] = Σ_{s <= x} G_s
        np.cumsum(Gt, axis=1, out=C[:, 1:])
        S = C[:, hi_ + 1] - C[:, lo]
    else:  # C[:, x + 1] = Σ_{s <= x} λ^(x - s) G_s, the window weighs λ^(t - s)
        C[:, 1:] = lfilter([1.0], [1.0, -decay], Gt, axis=1)
        S = C[:, hi_ + 1] - decay ** (hi_ - lo + 1.0) * C[:, lo]
        S *= decay ** (t - hi_ + 0.0)
    # The holes: dates with every factor the asset misses, by asset then date.
    hole_asset, hole_row = np.nonzero((blk.fb[:, None] & ~Mh).T)
    keys = hole_asset * n_rows + hole_row
    k0 = np.searchsorted(keys, hi * n_rows + lo)
    count = np.searchsorted(keys, hi * n_rows + hi_, side="right") - k0
    starts = np.cumsum(count) - count
    cell = np.repeat(np.arange(len(t)), count)
    rows = hole_row[np.repeat(k0 - starts, count) + np.arange(len(cell))]
    weight = None if decay is None else decay ** (t[cell] - rows + 0.0)
    for q, g in enumerate(Gt):  # each window's holes, summed in date order
        holes = g[rows] if weight is None else g[rows] * weight
        S[q] -= np.bincount(cell, weights=holes, minlength=len(t))
    return list(S)


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
        Memory budget of one block of window sums, in float64 cells.
    chunk_cells : int
        Cells (dates x assets) of one chunk of assets within a block: the
        chunks change nothing but the speed.

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
    pairs = _pairs(K)
    squares = [1 + K + pairs.index((j, j)) for j in range(K)]
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
    # temporaries (2 MiB each) stay in cache: 1.25x on the whole fit
    # (bench_rolling, CPU time 1.29 s vs 1.70 s with all assets at once).
    chunk = max(1, chunk_cells // (block + window))
    start = 0 if expanding else window - 1
    for a in range(first, T, block):
        b = min(a + block, T)
        lo = max(a - window + 1, 0)
        head = a - lo
        sums = partial(_window_sums, first=head, window=window, decay=decay)
        count = partial(_window_sums, first=head, window=window, decay=None)
        fb, Fb = f_ok[lo:b], F[lo:b]
        # Centre on the means of the block's first window (rows lo..a): small
        # sums, and nothing depends on later dates, not even through rounding.
        head = slice(0, head + 1)
        cF = np.zeros(K)
        if fit_intercept and fb[head].any():
            cF = Fb[head][fb[head]].mean(axis=0)
        Fc = np.where(fb[:, None], Fb - cF, 0.0)
        # Per-date factor terms: the observation indicator, f_j, f_i f_j.
        Gb = np.column_stack(
            [fb.astype(np.float64), Fc] + [Fc[:, i] * Fc[:, j] for i, j in pairs]
        )
        # A window sum is exact to about eps x the block's sum: the yardstick of
        # a factor that does not vary on a window.
        ref = [Gb[:, q].sum() for q in squares]
        # The factor sums and normal equations of the windows without a hole:
        # one per date, shared by every asset observed on all its dates.
        fm = [sums(Gb[:, q : q + 1]) for q in range(Gb.shape[1])]
        n = np.rint(fm[0] if decay is None else count(Gb[:, :1])).astype(np.int32)
        system = _system(fm, ref, fit_intercept, cF, inverse=True)
        inv_shared = np.column_stack(system.inv)
        out.inv_shared[a - first : b - first] = inv_shared
        shared = _Block(a, b, lo, first, fb, Gb, ref, cF, fm, n, system, sums, count)
        skip = max(start - a, 0)  # leading rows before the first full window
        for c0 in range(0, N, chunk):
            _fit_chunk(
                F,
                R,
                mask,
                shared,
                slice(c0, min(c0 + chunk, N)),
                skip,
                out,
                window=window,
                min_obs=min_obs,
                fit_intercept=fit_intercept,
                decay=decay,
            )
    return out
