r"""The numerics every estimator shares: weights, tolerances, inference.

One home for the arithmetic that the models, the metrics, the risk module and
the panel kernels all use, so that a kernel, a tolerance or a divisor means the
same thing everywhere:

- the kernels weighing lagged autocovariances of a long-run (HAC) variance
  (:data:`KERNELS`, :func:`kernel_weights`) and the half-life weights of past
  dates (:func:`halflife_weights`, :func:`halflife_decay`);
- the kernel-weighted sum of lagged cross-products behind every Newey–West
  variance of a mean (:func:`long_run_sum`), and the equal-weighted cosine
  long-run variance (:func:`ewc_long_run_variance`);
- the exact power-of-two units that keep squares of 1e-160 or 1e160 in
  range (:func:`power_of_two_units`);
- the collinearity tolerance (:data:`RCOND`);
- t statistics, p-values and the coefficient table (:func:`t_p_values`,
  :func:`coefficient_table`).

It lives in ``skfactor/utils`` rather than ``skfactor/panel`` because none of
it is per-date (segment) arithmetic: it is what ``models/``, ``metrics/``,
``risk/`` and ``panel/`` sit on, and it imports nothing from skfactor. The
conventions (divisors, distributions) are stated side by side in the user
guide's "Conventions" page.

The kernels' names and formulas are linearmodels' (Newey and West, 1987;
Gallant, 1987; Andrews, 1991), so that a bandwidth means the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

__all__ = [
    "KERNELS",
    "RCOND",
    "bartlett",
    "coefficient_table",
    "ewc_long_run_variance",
    "halflife_decay",
    "halflife_weights",
    "kernel_weights",
    "long_run_sum",
    "parzen",
    "power_of_two_units",
    "quadratic_spectral",
    "t_p_values",
]

# A Gram matrix scaled to unit diagonal (its regressors to unit length) whose
# smallest eigenvalue (or Cholesky pivot) is at most RCOND times its largest is
# rank deficient: singular values of the scaled regressors in a ratio below
# 1e-6, a condition number above 1e6, collinear for any practical purpose.
RCOND = 1e-12


def bartlett(lag: ArrayLike, maxlags: ArrayLike) -> np.ndarray:
    """Newey-West (Bartlett kernel) weight ``1 - lag / (L + 1)``, 0 past ``L``.

    ``lag`` and ``maxlags`` (:math:`L`) broadcast together: one bandwidth, or
    one per series (e.g. per asset).
    """
    maxlags = np.asarray(maxlags, dtype=np.float64)
    return np.where(lag <= maxlags, 1.0 - lag / (maxlags + 1.0), 0.0)


def parzen(lag: ArrayLike, maxlags: ArrayLike) -> np.ndarray:
    r"""Parzen (Gallant) kernel weight, 0 past ``L``.

    With :math:`z = l / (L + 1)`: :math:`1 - 6z^2 + 6z^3` for
    :math:`z \le 1/2`, :math:`2(1 - z)^3` above.
    """
    maxlags = np.asarray(maxlags, dtype=np.float64)
    z = np.asarray(lag, dtype=np.float64) / (maxlags + 1.0)
    w = np.where(z <= 0.5, 1.0 - 6.0 * z**2 + 6.0 * z**3, 2.0 * (1.0 - z) ** 3)
    return np.where(lag <= maxlags, w, 0.0)


def quadratic_spectral(lag: ArrayLike, bandwidth: float) -> np.ndarray:
    r"""Quadratic spectral (Andrews) kernel weight; never 0 past a lag.

    With :math:`z = 6 \pi (l / m) / 5` for bandwidth :math:`m`:
    :math:`3 (\sin z / z - \cos z) / z^2`, and 1 at lag 0.
    """
    lag = np.asarray(lag, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = 6.0 * np.pi * (lag / bandwidth) / 5.0
        w = 3.0 / z**2 * (np.sin(z) / z - np.cos(z))
    return np.where(lag == 0, 1.0, w)


# name -> (weight function, truncated at the integer part of the bandwidth)
KERNELS = {
    "bartlett": (bartlett, True),
    "parzen": (parzen, True),
    "qs": (quadratic_spectral, False),
}


def kernel_weights(kernel: str, bandwidth: float, n: int) -> np.ndarray:
    """Weights of lags 1, 2, ... of ``kernel`` for ``n`` observations (as linearmodels).

    The Bartlett and Parzen kernels use the integer part of the bandwidth and
    stop there; the quadratic spectral kernel weighs every lag below ``n``
    (the number of observations), and all lags 0 with a bandwidth of 0.
    """
    weight, truncated = KERNELS[kernel]
    if truncated:
        lags = np.arange(1, min(int(bandwidth), n - 1) + 1)
        return weight(lags, int(bandwidth))
    lags = np.arange(1, n)
    if bandwidth == 0:
        return np.zeros(len(lags))
    return weight(lags, float(bandwidth))


def long_run_sum(u: np.ndarray, weights: Iterable[float]) -> np.ndarray | float:
    r"""Kernel-weighted sum of the lagged cross-products of a demeaned series.

    .. math::

        S = \sum_t u_t u_t^\top + \sum_{l \ge 1} w_l (\Gamma_l + \Gamma_l^\top),
        \qquad \Gamma_l = \sum_t u_t u_{t-l}^\top,

    for ``u`` of shape (n,) (a number) or (n, k) (a k x k matrix) and the
    weights :math:`w_1, w_2, \dots` of lags 1, 2, ... (e.g. from
    :func:`kernel_weights`; none: the plain sum of squares). The Newey–West
    variance of the mean of ``u`` is :math:`S / n^2` (statsmodels' HAC
    without small-sample correction); Fama–MacBeth's is
    :math:`S / (n (n - 1))`.
    """
    s = u.T @ u
    # One product per weighted lag: the bandwidth's few with Bartlett and
    # Parzen, every lag with the (untruncated) quadratic spectral kernel
    # (~0.2 s at 2,520 dates; a banded U'WU product bought only 1.2x).
    for lag, w in enumerate(weights, start=1):
        g = u[lag:].T @ u[:-lag]
        s += w * (g + g.T)
    return s


def ewc_long_run_variance(u: np.ndarray, n_terms: int) -> np.ndarray | float:
    r"""Equal-weighted cosine (EWC) estimate of the long-run variance of a series.

    .. math::

        \Lambda_j = \sqrt{2/T} \sum_{t=1}^{T} u_t \cos\big(\pi j (t - 1/2)/T\big),
        \qquad \hat\omega = \frac1\nu \sum_{j=1}^{\nu} \Lambda_j^2,

    for the demeaned series :math:`u` (Müller 2014; Lazarus, Lewis, Stock and
    Watson 2018). :math:`\sqrt T \bar x / \sqrt{\hat\omega}` is Student t with
    :math:`\nu` degrees of freedom under a zero mean.

    Parameters
    ----------
    u : ndarray of shape (n_dates,) or (n_dates, n_series)
        Demeaned series, in date order.
    n_terms : int
        Number of cosines :math:`\nu`.

    Returns
    -------
    omega : float or ndarray of shape (n_series,)
    """
    t = len(u)
    j = np.arange(1, n_terms + 1)[:, None]
    cosines = np.cos(np.pi * j * (np.arange(t) + 0.5) / t)  # (nu, T)
    projections = np.sqrt(2.0 / t) * (cosines @ u)
    return np.mean(projections**2, axis=0)


def power_of_two_units(V: np.ndarray) -> np.ndarray:
    """The power of two above each column's largest magnitude (1 for zeros, NaN).

    Dividing a column by it is exact (the results of a regression on the
    divided data are those of the data, to the bit, once multiplied back) and
    brings its values into (-1, 1): squares and cross-products of values of
    1e-160 or 1e160 neither underflow nor overflow.
    """
    top = np.fmax(  # fmax skips NaN; no |V| copy
        np.fmax.reduce(V, axis=0, initial=0.0), -np.fmin.reduce(V, axis=0, initial=0.0)
    )
    return np.ldexp(1.0, np.frexp(top)[1])  # frexp(0) is (0, 0): unit 1


def halflife_weights(age: ArrayLike, halflife: float) -> np.ndarray:
    """Exponential weight ``0.5 ** (age / halflife)`` of a date ``age`` dates back.

    The weight halves every ``halflife`` dates (pandas ``ewm(halflife=...)``);
    age 0 (the latest date) weighs 1.
    """
    return 0.5 ** (np.asarray(age, dtype=np.float64) / halflife)


def halflife_decay(halflife: float | None) -> float:
    """Per-date decay ``λ = 0.5 ** (1 / halflife)``; 1.0 (no decay) for None.

    The ratio of the weights (:func:`halflife_weights`) of consecutive dates.
    """
    return 1.0 if halflife is None else float(halflife_weights(1, halflife))


def t_p_values(
    params: ArrayLike, bse: ArrayLike, df_resid: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compute t statistics and two-sided p-values.

    Parameters
    ----------
    params, bse : ndarray
        Estimates and standard errors, same shape.
    df_resid : array-like or None
        Residual degrees of freedom for Student's t (broadcast against
        ``params``, e.g. shape (n_assets, 1)); None uses the normal distribution
        (statsmodels' choice for robust covariances).

    Returns
    -------
    tvalues, pvalues : ndarray
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        tvalues = params / bse
    # scipy's norm.sf and t.sf are ndtr(-x) and stdtr(df, -x); called directly
    # they skip the distributions' argument handling (most of their time).
    if df_resid is None:
        pvalues = 2 * special.ndtr(-np.abs(tvalues))
    else:
        df = np.asarray(df_resid, dtype=np.float64)
        df = np.where(df > 0, df, np.nan)
        pvalues = 2 * special.stdtr(df, -np.abs(tvalues))
    return tvalues, pvalues


def coefficient_table(
    index: pd.Index,
    params: ArrayLike,
    bse: ArrayLike,
    tvalues: ArrayLike | None = None,
    pvalues: ArrayLike | None = None,
    df: ArrayLike | None = None,
) -> pd.DataFrame:
    """The coefficient table: columns ``coef``, ``std_err``, ``t``, ``p_value``.

    Parameters
    ----------
    index : Index
        One label per coefficient (terms, or (group, term) pairs).
    params, bse : ndarray
        Estimates and standard errors, one per row of ``index`` once flattened.
    tvalues, pvalues : ndarray, optional
        Given, or computed by :func:`t_p_values` with ``df`` degrees of
        freedom (None: the normal distribution).
    df : array-like, optional
        Degrees of freedom of the t statistics when they are computed here.

    Returns
    -------
    DataFrame
        Indexed by ``index``, float64 columns ``coef``, ``std_err``, ``t``,
        ``p_value``.
    """
    if tvalues is None:
        tvalues, pvalues = t_p_values(params, bse, df)
    columns = {"coef": params, "std_err": bse, "t": tvalues, "p_value": pvalues}
    return pd.DataFrame(
        {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in columns.items()},
        index=index,
    )
