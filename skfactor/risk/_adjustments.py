"""Barra adjustments of a covariance: volatility regime and eigenfactor risk.

- :func:`variance_path`: the variance forecast made on every date from the
  dates up to it, as exponentially weighted sums run along the date axis
  (``scipy.signal.lfilter``), not one refit per date.
- :func:`regime_multiplier`: the volatility regime adjustment (USE4): the
  exponentially weighted mean of the squared cross-sectional bias of the
  one-date-ahead standardized returns.
- :func:`eigen_adjustment`: the eigenfactor risk adjustment (Menchero, Orr and
  Wang, 2011), its Monte Carlo vectorised over the simulations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import lfilter

from skfactor.utils._blas import one_blas_thread
from skfactor.utils._numerics import bartlett, halflife_decay

__all__ = [
    "advance_regime",
    "advance_variance_path",
    "eigen_adjustment",
    "regime_multiplier",
    "variance_path",
]

# Simulated returns held in memory at once by the eigen adjustment (floats).
_SIMULATION_BLOCK = 4_000_000
# Dates whose variance path is computed at once (see advance_variance_path).
_PATH_BLOCK = 512


def _ew_sum(x, decay, start):
    """``sum_{s <= t} decay**(t - s) x_s`` on every date ``t`` (axis 1).

    ``start``: the sum on the date before ``x``'s first (the dates already
    summed), None for none.
    """
    if start is None:
        return lfilter([1.0], [1.0, -decay], x, axis=1)
    zi = decay * start[:, None]
    return lfilter([1.0], [1.0, -decay], x, axis=1, zi=zi)[0]


@dataclass(frozen=True)
class PathCarry:
    """What :func:`advance_variance_path` carries from one block of dates to the next.

    ``sums``: each exponentially weighted sum on the last date, one after
    the other (see :class:`_PathTerms`); ``n_obs``: observations per
    column; ``tail``: the last ``lags`` complete rows and ``tail_at`` their
    places counted back from the next date (-1: the last).
    """

    sums: np.ndarray
    n_obs: np.ndarray
    tail: np.ndarray
    tail_at: np.ndarray

    def with_new_columns(self, n_new):
        """The carry with ``n_new`` columns, without history, added (no lags)."""
        if len(self.tail):
            raise ValueError("A variance path with lags cannot add columns.")
        sums = np.pad(self.sums.reshape(4, -1), ((0, 0), (0, n_new)))
        n_obs = np.concatenate([self.n_obs, np.zeros(n_new)])
        return replace(self, sums=sums.reshape(-1), n_obs=n_obs)


@dataclass(frozen=True)
class _PathTerms:
    """Where each sum of the variance path sits among the filtered rows.

    Row blocks, one row per column unless said: the observations' count
    (one row with lags, where a date counts for every column or none), their
    sum and sum of squares; per lag, the weighted products of the pairs of
    complete dates that lag apart, the weighted sums of the pair, and the
    pair's weight (one row); last, the count again, for the sum of the
    squared weights (filtered with the squared decay).
    """

    k: int
    lags: int

    @property
    def width(self):
        """Rows of the count (and of the squared weights' sum)."""
        return 1 if self.lags else self.k

    def bounds(self):
        """Starts of the count, sum, squares, products, pair sums, weights, end."""
        k, lags, w = self.k, self.lags, self.width
        return np.cumsum([0, w, k, k, lags * k, lags * k, lags, w])


def variance_path(values, halflife, lags, centered):
    """Each date's variance forecast of every column, from the dates up to it.

    Row ``t`` of the result is the diagonal that :func:`factor_covariance`
    (``halflife``, ``lags``, ``assume_centered=centered``) gives on
    ``values[: t + 1]``, computed for all ``t`` at once. Columns may miss
    different dates (NaN) when ``lags`` is 0; with lags, a date counts only
    when every column is observed (the factor covariance's rule). NaN where a
    column has fewer than 2 observations (1 when ``centered``).
    """
    return advance_variance_path(values, halflife, lags, centered, None)[0]


def advance_variance_path(values, halflife, lags, centered, carry):
    """:func:`variance_path` of the dates after those ``carry`` summed.

    Returns ``(path, carry)``: the forecasts on ``values``' dates, as
    :func:`variance_path` gives them on all the dates at once, and the
    carry of all the dates (its size does not grow with them).
    """
    values = np.asarray(values, dtype=np.float64)
    # blocks of dates, each carried into the next: the sums' terms of a
    # block stay small enough for the allocator to reuse (a fit's history
    # in one block spent more time faulting its pages in than filtering)
    paths = []
    for lo in range(0, max(len(values), 1), _PATH_BLOCK):
        block = values[lo : lo + _PATH_BLOCK]
        path, carry = _advance_path_block(block, halflife, lags, centered, carry)
        paths.append(path)
    return (paths[0] if len(paths) == 1 else np.concatenate(paths)), carry


def _advance_path_block(values, halflife, lags, centered, carry):
    """:func:`advance_variance_path` of one block of dates.

    The sums' terms are rows (one per term and column) of dates, each row
    contiguous for ``lfilter``.
    """
    n_rows, k = values.shape
    observed = ~np.isnan(values)
    if lags:
        observed &= observed.all(axis=1, keepdims=True)
    decay = halflife_decay(halflife)
    layout = _PathTerms(k, lags)
    count, first, second, prods, pairs, weights, squares, end = layout.bounds()
    w = layout.width
    terms = np.zeros((squares, n_rows))
    terms[:w] = observed[:, :w].T
    x = terms[first:second]
    np.copyto(x, values.T, where=observed.T)
    np.multiply(x, x, out=terms[second:prods])
    tail = np.zeros((0, k)) if carry is None else carry.tail
    tail_at = np.zeros(0, np.int64) if carry is None else carry.tail_at
    if lags:
        # pair (s, s - lag) of complete dates, weighted sqrt(w_s w_{s-lag}) =
        # decay**(gap / 2); after `lags` rows of zeros, a pair reaching
        # before the first complete date weighs 0
        done = np.flatnonzero(observed[:, 0]) if k else np.arange(0)
        rows = np.zeros((lags + len(tail) + len(done), k))
        rows[lags:] = np.concatenate([tail, values[done]])
        at = np.concatenate([np.zeros(lags, np.int64), tail_at, done])
        later = lags + len(tail) + np.arange(len(done))
        earlier = later - np.arange(1, lags + 1)[:, None]  # (lags, n_complete)
        c = np.where(earlier >= lags, decay ** ((at[later] - at[earlier]) / 2.0), 0.0)
        x_later, x_earlier = rows[later].T, np.swapaxes(rows[earlier], 1, 2)
        cw = c[:, None, :]
        terms[prods:pairs].reshape(lags, k, n_rows)[:, :, done] = (
            cw * x_later * x_earlier
        )
        terms[pairs:weights].reshape(lags, k, n_rows)[:, :, done] = cw * (
            x_later + x_earlier
        )
        terms[weights:squares, done] = c
        keep = min(lags, len(rows) - lags)
        tail, tail_at = rows[len(rows) - keep :], at[len(at) - keep :] - n_rows
    start = [None, None] if carry is None else np.split(carry.sums, [squares])
    sums = _ew_sum(terms, decay, start[0])
    sq = _ew_sum(terms[:w], decay * decay, start[1])
    n = sums[:w]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = 0.0 if centered else sums[first:second] / n
        var = sums[second:prods] / n - mean * mean
        if lags:
            gamma = sums[prods:pairs].reshape(lags, k, n_rows)
            if not centered:
                gamma = gamma - mean * sums[pairs:weights].reshape(lags, k, n_rows)
                gamma += mean * mean * sums[weights:squares, None]
            kernel = 2.0 * bartlett(np.arange(1, lags + 1), lags)
            var += np.tensordot(kernel, gamma, 1) / n
        if not centered:
            var /= 1.0 - sq / (n * n)
    var = var.T
    n_obs = np.cumsum(observed, axis=0, dtype=np.float64)
    if carry is not None:
        n_obs += carry.n_obs
    var[n_obs < (1 if centered else 2)] = np.nan
    ends = np.concatenate([sums[:, -1], sq[:, -1]])
    return var, PathCarry(ends, n_obs[-1], tail, tail_at)


@dataclass(frozen=True)
class RegimeCarry:
    r"""What :func:`advance_regime` carries: the last forecast, counts, the EWMA.

    ``ewma`` is :math:`\lambda^2` so far (None before the first statistic)
    and ``last`` the place of its latest statistic counted back from the
    next date (-1: the last date).
    """

    forecast: np.ndarray
    n_obs: np.ndarray
    ewma: float | None
    last: int


def regime_multiplier(
    values, forecast_variance, halflife, column_weights=None, warmup=2
):
    r"""The volatility regime adjustment :math:`\lambda` (USE4) and its statistics.

    On each date :math:`t` the cross-sectional bias statistic of the returns
    standardized by the previous date's forecasts,
    :math:`B_t^2 = \sum_k v_k (r_{kt}/\sigma_{k,t-1})^2 / \sum_k v_k` (equal
    ``column_weights`` :math:`v`, or e.g. market capitalisations), over the
    columns whose forecast used at least ``warmup`` observations; then
    :math:`\lambda^2 = \mathrm{EWMA}_h(B_t^2)`, the exponentially weighted
    mean started at the first statistic (skfolio's seeding):
    :math:`s_1 = B_1^2`, :math:`s_t = d_t s_{t-1} + (1 - d_t) B_t^2` with
    :math:`d_t = 2^{-\Delta_t/h}` for :math:`\Delta_t` dates since the
    previous statistic. Returns ``(lambda, B2)``, ``B2`` by date (NaN where
    none); :math:`\lambda = 1` when there is no statistic.
    """
    lam, b2, _ = advance_regime(
        values, forecast_variance, halflife, column_weights, warmup, None
    )
    return lam, b2


def advance_regime(values, forecast_variance, halflife, column_weights, warmup, carry):
    r""":func:`regime_multiplier` of the dates after those ``carry`` holds.

    Returns ``(lambda, B2, carry)``: :math:`\lambda` over all the dates,
    the statistics of ``values``' dates, and the carry of all the dates.
    """
    values = np.asarray(values, dtype=np.float64)
    n_rows, k = values.shape
    if carry is None:
        carry = RegimeCarry(np.full(k, np.nan), np.zeros(k, np.int64), None, 0)
    # each date's squared return over the forecast of the date before, usable
    # where that forecast is positive and used `warmup` observations
    previous = np.concatenate([carry.forecast[None], forecast_variance[:-1]])
    n_obs = np.cumsum(~np.isnan(values), axis=0)
    n_obs += carry.n_obs
    seen = np.concatenate([carry.n_obs[None], n_obs[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = values * values / previous
        usable = (seen >= warmup) & (previous > 0) & np.isfinite(z2)
        z2 = np.where(usable, z2, 0.0)
        if column_weights is None:
            total, weighted = usable.sum(axis=1), z2.sum(axis=1)
        else:
            v = np.asarray(column_weights, dtype=np.float64)
            total, weighted = usable @ v, z2 @ v
        b2 = np.where(total > 0, weighted / total, np.nan)
    dates = np.flatnonzero(total > 0)
    stats = b2[dates]
    if carry.ewma is not None:
        # the EWMA so far, as a statistic on its last date, seeds the rest
        dates = np.concatenate([[carry.last], dates])
        stats = np.concatenate([[carry.ewma], stats])
    ewma, last = None, -1
    if len(dates):
        # statistic j weighs (1 - d^step_j) d^age_j = p_j - p_{j-1} with
        # p_j = d^age_j (the first, seeding one: p_0)
        p = halflife_decay(halflife) ** (dates[-1] - dates)
        w = p - np.concatenate([[0.0], p[:-1]])
        ewma, last = float(w @ stats), int(dates[-1])
    lam = 1.0 if ewma is None else float(np.sqrt(ewma))
    out = RegimeCarry(forecast_variance[-1], n_obs[-1], ewma, last - n_rows)
    return lam, b2, out


def eigen_adjustment(S, n_dates, estimate, scale, n_simulations, rng):
    r"""Menchero, Orr and Wang's eigenfactor risk adjustment of ``S``.

    With :math:`S = U_0 D_0 U_0^\top`: simulate ``n_simulations`` histories
    of ``n_dates`` dates from :math:`N(0, S)`, re-estimate each with
    ``estimate`` (the estimator that gave ``S``) as
    :math:`S_m = U_m D_m U_m^\top`, and measure each eigenfactor's simulated
    volatility bias
    :math:`v_k = \sqrt{\frac1M \sum_m (U_m^\top S U_m)_{kk} / D_{m,kk}}`
    (true over estimated variance of the simulated eigen-portfolios, by
    rank of the eigenvalue). The adjusted covariance is
    :math:`U_0 \, \mathrm{diag}(\gamma^2) D_0 \, U_0^\top` with
    :math:`\gamma_k = a (v_k - 1) + 1`, :math:`a` the ``scale``.
    Returns ``(adjusted, v)``, ``v`` in ascending order of eigenvalue.
    """
    k = len(S)
    if n_dates <= k:
        raise ValueError(
            "The eigenfactor adjustment's simulated covariances would be singular "
            f"({n_dates} dates for {k} factors): it needs more dates than factors; "
            "set `eigen_scale=None`."
        )
    eig, vec = np.linalg.eigh(S)
    eig = np.maximum(eig, 0.0)
    root = vec * np.sqrt(eig)  # draws z @ root.T are N(0, S)
    ratio = np.zeros(k)
    block = max(1, _SIMULATION_BLOCK // max(1, n_dates * k))
    done = 0
    while done < n_simulations:
        m = min(block, n_simulations - done)
        sims = rng.standard_normal((m, n_dates, k)) @ root.T
        est = estimate(sims)
        # one BLAS thread: OpenBLAS threads a batch of 30 x 30 eigh 12x slower
        with one_blas_thread():
            d, u = np.linalg.eigh(est)
        true = np.einsum("mki,kl,mli->mi", u, S, u)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio += (true / d).sum(axis=0)
        done += m
    bias = np.sqrt(ratio / n_simulations)
    if not np.isfinite(bias).all():
        raise ValueError(
            "The eigenfactor adjustment's simulated covariances are singular (a "
            "degenerate factor covariance: a constant factor?); set "
            "`eigen_scale=None`."
        )
    gamma = scale * (bias - 1.0) + 1.0
    adjusted = (vec * (gamma**2 * eig)) @ vec.T
    return (adjusted + adjusted.T) / 2.0, bias
