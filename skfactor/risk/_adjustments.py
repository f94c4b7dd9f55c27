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

import numpy as np
from scipy.signal import lfilter
from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

from skfactor.utils._numerics import bartlett, halflife_decay

__all__ = ["eigen_adjustment", "regime_multiplier", "variance_path"]

# Simulated returns held in memory at once by the eigen adjustment (floats).
_SIMULATION_BLOCK = 4_000_000
_THREADS = []  # the BLAS controller, found once (finding it reads /proc: 13 ms)


def one_blas_thread():
    """Limit BLAS to one thread (a context manager) for many small matrices."""
    if not _THREADS:
        _THREADS.append(ThreadpoolController())
    return _THREADS[0].limit(limits=1, user_api="blas")


def _ew_sum(x, positions, n_rows, decay):
    """``sum_{s <= t} decay**(t - s) x_s`` on every date ``t`` of the axis.

    ``x`` (len(positions), ...) sits at ``positions`` of a date axis of
    ``n_rows`` dates; the other dates contribute nothing but still age the
    older ones (pandas ``ewm(ignore_na=False)``).
    """
    full = np.zeros((n_rows, *x.shape[1:]))
    full[positions] = x
    return lfilter([1.0], [1.0, -decay], full, axis=0)


def variance_path(values, halflife, lags, centered):
    """Each date's variance forecast of every column, from the dates up to it.

    Row ``t`` of the result is the diagonal that :func:`factor_covariance`
    (``halflife``, ``lags``, ``assume_centered=centered``) gives on
    ``values[: t + 1]``, computed for all ``t`` at once. Columns may miss
    different dates (NaN) when ``lags`` is 0; with lags, a date counts only
    when every column is observed (the factor covariance's rule). NaN where a
    column has fewer than 2 observations (1 when ``centered``).
    """
    values = np.asarray(values, dtype=np.float64)
    n_rows = len(values)
    observed = ~np.isnan(values)
    if lags:
        observed &= observed.all(axis=1, keepdims=True)
    rows = np.arange(n_rows)
    mask = observed.astype(np.float64)
    x = np.where(observed, values, 0.0)
    decay = halflife_decay(halflife)
    count = _ew_sum(mask, rows, n_rows, decay)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = 0.0 if centered else _ew_sum(x, rows, n_rows, decay) / count
        var = _ew_sum(x * x, rows, n_rows, decay) / count - mean * mean
        if lags:
            # pairs (s, s - lag) of complete dates, weighted sqrt(w_s w_{s-lag})
            done = np.flatnonzero(observed[:, 0]) if values.shape[1] else rows[:0]
            xc = x[done]
            for lag in range(1, lags + 1):
                later, earlier = xc[lag:], xc[:-lag]
                c = (decay ** ((done[lag:] - done[:-lag]) / 2.0))[:, None]
                at = done[lag:]
                gamma = _ew_sum(c * later * earlier, at, n_rows, decay)
                if not centered:
                    gamma -= mean * _ew_sum(c * (later + earlier), at, n_rows, decay)
                    gamma += mean * mean * _ew_sum(c, at, n_rows, decay)
                var += 2.0 * bartlett(lag, lags) * gamma / count
        if not centered:
            squares = _ew_sum(mask, rows, n_rows, decay * decay)
            var /= 1.0 - squares / (count * count)
    n_obs = np.cumsum(mask, axis=0)
    var[n_obs < (1 if centered else 2)] = np.nan
    return var


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
    values = np.asarray(values, dtype=np.float64)
    previous = np.full_like(forecast_variance, np.nan)
    previous[1:] = forecast_variance[:-1]
    n_obs = np.cumsum(~np.isnan(values), axis=0)
    ready = np.zeros_like(previous, dtype=bool)
    ready[1:] = n_obs[:-1] >= warmup
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = values * values / previous
    usable = ready & np.isfinite(z2) & (previous > 0)
    v = (
        np.ones(values.shape[1])
        if column_weights is None
        else np.asarray(column_weights, float)
    )
    vw = np.where(usable, v, 0.0)
    total = vw.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b2 = (np.where(usable, z2, 0.0) * vw).sum(axis=1) / total
    b2[total <= 0] = np.nan
    dates = np.flatnonzero(~np.isnan(b2))
    if not len(dates):
        return 1.0, b2
    decay = halflife_decay(halflife)
    age = dates[-1] - dates
    step = np.diff(dates, prepend=dates[0])
    w = (1.0 - decay**step) * decay**age
    w[0] = decay ** age[0]
    return float(np.sqrt(w @ b2[dates])), b2


def eigen_adjustment(S, F, estimate, scale, n_simulations, rng):
    r"""Menchero, Orr and Wang's eigenfactor risk adjustment of ``S``.

    With :math:`S = U_0 D_0 U_0^\top`: simulate ``n_simulations`` histories
    of the shape of ``F`` from :math:`N(0, S)`, re-estimate each with
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
    n_dates, k = F.shape
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
