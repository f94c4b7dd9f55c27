r"""Rolling, expanding and exponentially weighted least squares for many series at once.

Every asset (column of ``R``) is regressed on the same factor returns ``F`` over
the trailing window of dates ending at each date, on the rows where the asset
and every factor are observed. The normal equations of all (date, asset) pairs
come from sliding sums of per-date cross-products, masked per asset, then one
vectorised Cholesky solve per block of dates. No loop over dates or assets: the
Python loops below run over blocks of dates and over the few cross-product
terms.

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
    the diagonal of :math:`(Z'WZ)^{-1}`, shared by the assets observed
    whenever the factors are in a block of dates (``inv_shared``, (n_dates,
    n_terms)) and the others' own (``inv_own``, a list of ``(first date,
    assets, (n_block_dates, n_assets_in_block, n_terms) values)`` for the
    blocks of dates), and, with weights, ``s2`` (n_dates, n_assets), the
    residual variance :math:`\sum w e^2 / (n - k)` (NaN without an estimate or when
    :math:`n \le k`); without weights it is ``(resid_vol / r_unit)²`` and
    ``s2`` is None.
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


def window_bse(resid_vol, s2, inv_shared, inv_own, r_unit, per_term):
    r"""Standard errors :math:`\sqrt{s^2 \operatorname{diag}((Z'WZ)^{-1})}`.

    From the :class:`RollingOLS` fields of the same names: shape (n_dates,
    n_assets, n_terms), in the data's units.
    """
    if s2 is None:  # without weights, s² = resid_vol² in the fit's units
        s2 = np.square(resid_vol / r_unit)
    inv = np.empty(s2.shape + inv_shared.shape[1:])
    inv[:] = inv_shared[:, None, :]
    for first, cols, values in inv_own:
        inv[first : first + len(values), cols] = values
    with np.errstate(invalid="ignore"):
        se = np.sqrt(s2[..., None] * inv, out=inv)
    se *= per_term
    return se


def _pairs(K):
    """Upper-triangle index pairs ``(i, j)``, ``i <= j``, row by row."""
    return [(i, j) for i in range(K) for j in range(i, K)]


def _window_sums(V, first, window, decay):
    """Sums of ``V``'s rows over the trailing ``window`` rows ending at rows ``first:``.

    ``V`` (n_rows, ...) starts at most ``window - 1`` rows before ``first``.
    With ``decay`` (λ), row ``s`` of the window ending at ``u`` weighs
    ``λ**(u - s)``.
    """
    n = len(V)
    out = np.empty((n - first,) + V.shape[1:])
    stop = min(window, n)  # rows before `stop` have no row of V to drop
    if decay is None:
        C = np.cumsum(V, axis=0)
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


def _inverse_diagonal(L, scale):
    """The diagonal of ``A⁻¹`` with ``A``'s factors from :func:`_cholesky`.

    ``D A D = L Lᵀ`` gives ``A⁻¹ = D L⁻ᵀ L⁻¹ D``: entry ``j`` is
    ``scale_j² Σ_i (L⁻¹)_ij²``, from ``L⁻¹`` by forward substitution.
    """
    K = len(scale)
    inv = {}
    for j in range(K):
        inv[(j, j)] = 1.0 / L[(j, j)]
        for i in range(j + 1, K):
            v = L[(i, j)] * inv[(j, j)]
            for m in range(j + 1, i):
                v = v + L[(i, m)] * inv[(m, j)]
            inv[(i, j)] = -v / L[(i, i)]
    return [
        sum(inv[(i, j)] ** 2 for i in range(j, K)) * scale[j] ** 2 for j in range(K)
    ]


def _inverse_quadratic(L, scale, u):
    """``uᵀ A⁻¹ u`` with ``A``'s factors from :func:`_cholesky`."""
    z = _forward(L, [u[j] * scale[j] for j in range(len(u))])
    return sum(v * v for v in z)


def _solve(fm, ym, ref, fit_intercept, center=None):
    """Coefficients and fit statistics from the window sums of one block.

    ``fm`` the factor sums (weight, f_j, f_i f_j in :func:`_pairs` order) and
    ``ym`` the return sums (y, f_j y, y²), broadcasting together.
    Returns ``beta`` (list of K arrays), ``alpha``, ``rsquared``, ``ssr`` / Σw,
    ``yy`` (the total sum of squares of the R²), ``bad`` (collinear
    regressors) and, when ``center`` (the factors' offset
    from their original units) is given, ``inv``: each coefficient's diagonal
    entry of :math:`(Z'WZ)^{-1}`, intercept first (else None). ``ref[j]`` is
    the scale against which a vanishing sum of squares of factor ``j`` is judged.
    """
    K = len(ref)
    W, sf, sff = fm[0], fm[1 : 1 + K], fm[1 + K :]
    sy, sfy, syy = ym[0], ym[1 : 1 + K], ym[1 + K]
    pairs = _pairs(K)
    inv = None
    with np.errstate(invalid="ignore", divide="ignore"):
        if fit_intercept:  # normal equations centred on the window means
            A = {
                p: s - sf[p[0]] * sf[p[1]] / W for p, s in zip(pairs, sff, strict=True)
            }
            c = [sfy[j] - sf[j] * (sy / W) for j in range(K)]
            yy = syy - sy * (sy / W)
        else:
            A = dict(zip(pairs, sff, strict=True))
            c, yy = list(sfy), syy
        L, scale, bad = _cholesky(A, ref)
        beta = _cholesky_solve(L, scale, c)
        if center is not None:
            inv = _inverse_diagonal(L, scale)
            if fit_intercept:  # 1/Σw + m' A⁻¹ m, m the window's factor means
                means = [sf[j] / W + center[j] for j in range(K)]
                inv.insert(0, 1.0 / W + _inverse_quadratic(L, scale, means))
        ssr = yy
        for b, cj in zip(beta, c, strict=True):
            ssr = ssr - b * cj
        np.maximum(ssr, 0.0, out=ssr)
        alpha = sy
        for b, s in zip(beta, sf, strict=True):
            alpha = alpha - b * s
        alpha /= W
        rsquared = 1.0 - ssr / yy
        ssr /= W
    return beta, alpha, rsquared, ssr, yy, bad, inv


def _residual_ssr(F, R, dates, cols, terms, window, decay):
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
    Rt = np.pad(R[span, used].T, ((0, 0), (pad, 0)), constant_values=np.nan)
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
    f_unit, r_unit = power_of_two_units(F), power_of_two_units(R)
    F, R = F / f_unit, R / r_unit
    pairs = _pairs(K)
    squares = [1 + K + pairs.index((j, j)) for j in range(K)]
    f_ok = ~np.isnan(F).any(axis=1)
    mask = ~np.isnan(R) & f_ok[:, None]
    decay = None if halflife is None else halflife_decay(halflife)

    params = np.full((T, N, k), np.nan)
    # The moments of the standard errors: the diagonal of (Z'WZ)⁻¹, one per
    # date for the assets observed whenever the factors are (shared), one per
    # (date, asset) for the others, block by block; and the residual variance
    # apart from ``resid_vol`` only with weights (without, s² = resid_vol²).
    inv_shared = np.full((T, k), np.nan)
    inv_own = []
    s2_all = None if decay is None else np.full((T, N), np.nan)
    rsquared = np.full((T, N), np.nan)
    resid_vol = np.full((T, N), np.nan)
    nobs = np.zeros((T, N), dtype=np.int32)

    block = int(max(window, min(T, block_cells // max((K + 3) * N, 1))))
    # Assets a chunk at a time, so that a chunk's window sums and the solve's
    # temporaries (2 MiB each) stay in cache: 1.25x on the whole fit
    # (bench_rolling, CPU time 1.29 s vs 1.70 s with all assets at once).
    chunk = max(1, chunk_cells // (block + window))
    start = 0 if expanding else window - 1
    for a in range(min(start, T) // block * block, T, block):
        b = min(a + block, T)
        lo = max(a - window + 1, 0)
        first = a - lo
        sums = partial(_window_sums, first=first, window=window, decay=decay)
        count = partial(_window_sums, first=first, window=window, decay=None)
        fb, Fb = f_ok[lo:b], F[lo:b]
        # Centre on the means of the block's first window (rows lo..a): small
        # sums, and nothing depends on later dates, not even through rounding.
        head = slice(0, first + 1)
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
        # The factor sums of the assets observed whenever the factors are.
        fm_full = [sums(Gb[:, q : q + 1]) for q in range(Gb.shape[1])]
        n_full = fm_full[0] if decay is None else count(Gb[:, :1])
        rows = slice(a, b)
        skip = max(start - a, 0)  # leading rows before the first full window
        for c0 in range(0, N, chunk):
            span = slice(c0, min(c0 + chunk, N))
            Mb = mask[lo:b, span]
            cR = np.zeros(Mb.shape[1])
            if fit_intercept:
                seen = Mb[head].sum(axis=0)
                cR = np.where(Mb[head], R[lo : a + 1, span], 0.0).sum(axis=0)
                np.divide(cR, seen, out=cR, where=seen > 0)
            seen = Mb.any(axis=0)
            hole = (Mb != fb[:, None]).any(axis=0)
            holey, full = np.flatnonzero(seen & hole), np.flatnonzero(seen & ~hole)

            Yb = R[lo:b, span] - cR
            Yb[~Mb] = 0.0
            ym = [sums(Yb)]
            ym += [sums(Yb * Gb[:, 1 + j : 2 + j]) for j in range(K)]
            ym.append(sums(np.square(Yb, out=Yb)))
            del Yb
            groups = []
            if len(full):  # observed whenever the factors are: shared factor sums
                groups.append((full, fm_full, n_full, True))
            if len(holey):  # own factor sums, masked by the asset's observations
                Mh = Mb[:, holey].astype(np.float64)
                fm = [sums(Mh * Gb[:, q : q + 1]) for q in range(Gb.shape[1])]
                n = fm[0] if decay is None else count(Mh)
                del Mh
                groups.append((holey, fm, n, False))
            for local, fm, n, shared in groups:
                cols = c0 + local
                n = np.rint(n).astype(np.int32)
                nobs[rows, cols] = n
                ymc = [v[:, local] for v in ym]
                with np.errstate(invalid="ignore", divide="ignore"):
                    beta, alpha, r2, msr, yy, bad, inv = _solve(
                        fm, ymc, ref, fit_intercept, center=cF
                    )
                    invalid = bad | (n < min_obs)
                    invalid[:skip] = True
                    terms = beta
                    if fit_intercept:  # back from the centring
                        for j in range(K):
                            alpha -= cF[j] * beta[j]
                        alpha += cR[local]
                        terms = [alpha, *beta]
                    for j, v in enumerate(terms):
                        np.copyto(v, np.nan, where=invalid)
                        params[rows, cols, j] = v
                    ti, ci = np.nonzero(~invalid & (r2 > 1.0 - _NEAR_EXACT))
                    if len(ti):  # near-exact fits: the SSR from the residuals
                        ssr = _residual_ssr(
                            F,
                            R,
                            a + ti,
                            cols[ci],
                            params[a + ti, cols[ci]],
                            window,
                            decay,
                        )
                        shape = r2.shape
                        r2[ti, ci] = 1.0 - ssr / np.broadcast_to(yy, shape)[ti, ci]
                        msr[ti, ci] = ssr / np.broadcast_to(fm[0], shape)[ti, ci]
                    np.copyto(r2, np.nan, where=invalid)
                    rsquared[rows, cols] = r2
                    # s² = Σwe²/(n-k) = msr · Σw/(n-k); resid_vol² = msr · n/(n-k)
                    if s2_all is not None:
                        s2 = msr * fm[0] / (n - k)
                        np.copyto(s2, np.nan, where=invalid | (n <= k))
                        s2_all[rows, cols] = s2
                    if shared:  # one (Z'WZ)⁻¹ per date: (rows, 1) arrays
                        inv_shared[rows] = np.column_stack(inv)
                    else:
                        inv_own.append((a, cols, np.stack(inv, axis=-1)))
                    msr *= n / (n - k)
                    np.sqrt(msr, out=msr)
                    np.copyto(msr, np.nan, where=invalid | (n <= k))
                    resid_vol[rows, cols] = msr
    # Back to the data's units: an intercept in the asset's, a beta in asset / factor.
    per_term = r_unit[:, None] / np.r_[np.ones(int(fit_intercept)), f_unit]
    params *= per_term
    resid_vol *= r_unit
    return RollingOLS(
        params, rsquared, resid_vol, nobs, s2_all, inv_shared, inv_own, r_unit, per_term
    )
