"""Factor covariance: sample, EWMA, Newey-West, volatilities and correlations apart."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from skfactor.panel._wide import wide_values
from skfactor.risk._weighted_sums import WeightedSums
from skfactor.utils._blas import one_blas_thread
from skfactor.utils._cov_types import resolve_bandwidth
from skfactor.utils._numerics import bartlett, halflife_weights

__all__ = ["factor_covariance"]


def _check_halflife(halflife, name="halflife"):
    """A positive half-life as a float; None (or inf) for equal weights."""
    if halflife is None:
        return None
    if (
        not isinstance(halflife, numbers.Real)
        or isinstance(halflife, bool)
        or np.isnan(halflife)
        or halflife <= 0
    ):
        raise ValueError(
            f"`{name}` must be a positive number of dates (or None for equal "
            f"weights); got {halflife!r}."
        )
    return None if np.isinf(halflife) else float(halflife)


def _check_lags(lags, n_dates, name):
    if not isinstance(lags, numbers.Integral) or isinstance(lags, bool) or lags < 0:
        raise ValueError(
            f"`{name}` must be an integer >= 0 (0: no Newey-West adjustment); got "
            f"{lags!r}."
        )
    if lags >= n_dates:
        raise ValueError(
            f"`{name}` must be smaller than the number of complete dates "
            f"({n_dates}); got {lags}."
        )
    return int(lags)


def _lag_count(spellings, n_dates):
    """The lag count given under one of its ``spellings``, checked; None if none."""
    value = resolve_bandwidth(**spellings)
    if value is None:
        return None
    name = next(k for k, v in spellings.items() if v is not None)
    return _check_lags(value, n_dates, name)


def time_weights(positions, halflife):
    """Weights summing to 1: equal, or halving every ``halflife`` dates back.

    ``positions`` are the dates' integer positions on the full date axis, so a
    skipped date still ages the older ones (pandas ``ewm(ignore_na=False)``).
    """
    positions = np.asarray(positions, dtype=np.float64)
    if halflife is None:
        w = np.ones(len(positions))
    else:
        w = halflife_weights(positions.max(initial=0.0) - positions, halflife)
    return w / w.sum()


def factor_covariance(
    factor_returns: pd.DataFrame,
    *,
    halflife: float | None = None,
    bandwidth: int | None = None,
    corr_halflife: float | None = None,
    corr_bandwidth: int | None = None,
    assume_centered: bool = False,
    lags: int | None = None,
    corr_lags: int | None = None,
) -> pd.DataFrame:
    r"""Covariance of the factor returns: sample, exponentially weighted, Newey-West.

    Over the :math:`T` dates on which every factor is observed (a date with a
    NaN factor, e.g. one the cross-sectional model could not estimate, is left
    out), with date weights :math:`w_t` summing to one — equal, or
    :math:`w_t \propto 2^{-(t_{\mathrm{last}} - t)/h}` for a half-life
    :math:`h` in dates — the weighted mean :math:`m = \sum_t w_t f_t` and

    .. math::

        \Gamma_l = \sum_{t=l+1}^{T} \sqrt{w_t w_{t-l}}\,
                   (f_t - m)(f_{t-l} - m)^\top,

        \Sigma_F = \frac{1}{1 - \sum_t w_t^2}
            \Big[\Gamma_0 + \sum_{l=1}^{L} \Big(1 - \frac{l}{L+1}\Big)
                 (\Gamma_l + \Gamma_l^\top)\Big].

    With equal weights and :math:`L = 0` this is the sample covariance
    (``np.cov``, divisor :math:`T-1`); with a half-life and :math:`L = 0` it
    is pandas ``ewm(halflife=h).cov()`` on the last date (``bias=False``);
    :math:`L > 0` adds the Newey-West (Bartlett) autocovariance terms, lags
    counted along the complete dates; with equal weights it is statsmodels'
    ``S_hac_simple(f - f.mean(0), L) / (T - 1)``, the Newey-West long-run
    covariance on the same divisor as the sample covariance.
    With ``assume_centered=True`` the mean is taken to be zero
    (:math:`m = 0`, divisor 1): the Barra and RiskMetrics convention for
    daily returns, and scikit-learn's ``EmpiricalCovariance(assume_centered=True)``
    with equal weights.

    **Volatilities and correlations apart** (Barra USE4): with
    ``corr_halflife`` or ``corr_lags`` differing from ``halflife`` and
    ``lags``, the volatilities :math:`\sigma_k` are those of the estimate
    above and the correlations :math:`\rho_{kl}` those of the same estimate
    with ``corr_halflife`` and ``corr_lags``:
    :math:`\Sigma_{F,kl} = \sigma_k \rho_{kl} \sigma_l` (correlations are
    usually given a longer half-life than volatilities, which move faster).

    The Bartlett weights keep :math:`\Sigma_F` positive semi-definite; the
    result is symmetrised and any eigenvalue that rounding leaves below zero
    is set to zero.

    Parameters
    ----------
    factor_returns : DataFrame of shape (n_dates, n_factors)
        Factor returns indexed by date, in date order.
    halflife : float, default=None
        Half-life in dates of the exponential weights; None (or ``inf``)
        weights every date equally.
    bandwidth : int, default=None
        Newey-West lags :math:`L`; None: 0, no adjustment (the lag count's
        one name across skfactor; see the user guide's "Conventions").
    corr_halflife : float, default=None
        Half-life of the correlations' weights; None: the same as
        ``halflife``. Pass ``numpy.inf`` for equally weighted correlations
        under exponentially weighted volatilities.
    corr_bandwidth : int, default=None
        Newey-West lags of the correlations; None: the same as ``bandwidth``.
    assume_centered : bool, default=False
        Take the factors' mean as zero instead of estimating it.
    lags, corr_lags : int, default=None
        Aliases of ``bandwidth`` and ``corr_bandwidth`` (USE4's word; give
        one spelling, or equal values).

    Returns
    -------
    DataFrame of shape (n_factors, n_factors)
        Indexed and labelled by the factors.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import factor_covariance
    >>> rng = np.random.default_rng(0)
    >>> F = pd.DataFrame(rng.normal(0, 0.02, (120, 2)), columns=["MKT", "SMB"])
    >>> bool(np.allclose(factor_covariance(F), np.cov(F.T)))
    True
    >>> factor_covariance(F, halflife=36, bandwidth=3).shape
    (2, 2)
    >>> use4 = factor_covariance(F, halflife=12, corr_halflife=48, corr_bandwidth=2)
    >>> vols = np.diag(factor_covariance(F, halflife=12))
    >>> bool(np.allclose(np.diag(use4), vols))
    True
    """
    values = wide_values(factor_returns, "factor_returns")
    F, positions = complete_rows(values, "factor_returns")
    spec = CovarianceSpec.checked(
        halflife,
        {"bandwidth": bandwidth, "lags": lags},
        corr_halflife,
        {"corr_bandwidth": corr_bandwidth, "corr_lags": corr_lags},
        assume_centered,
        len(F),
    )
    S = spec.estimate(F, positions)
    names = factor_returns.columns
    return pd.DataFrame(nearest_psd(S), index=names, columns=names)


def complete_rows(values, name):
    """The rows with every column observed, and their positions on the date axis."""
    complete = ~np.isnan(values).any(axis=1)
    n_dates = int(complete.sum())
    if n_dates < 2:
        raise ValueError(
            f"`{name}` needs at least 2 dates (samples) on which every column is "
            f"observed to estimate a covariance; got {n_dates} sample(s)."
        )
    return values[complete], np.flatnonzero(complete)


def weighted_covariance(F, w, lags, centered):
    r""":math:`\Sigma_F` of :func:`factor_covariance` for complete rows ``F``.

    ``F`` is (..., n_dates, n_factors): leading axes are a batch (the eigen
    adjustment's simulations); ``w`` (n_dates,) sums to one.
    """
    sw = np.sqrt(w)[:, None]
    if centered:
        X, divisor = sw * F, 1.0
    else:
        X, divisor = sw * (F - (w @ F)[..., None, :]), 1.0 - w @ w
    XT = np.swapaxes(X, -1, -2)
    S = XT @ X
    for lag in range(1, lags + 1):
        G = XT[..., lag:] @ X[..., :-lag, :]
        S += bartlett(lag, lags) * (G + np.swapaxes(G, -1, -2))
    S /= divisor
    return S


@dataclass(frozen=True)
class CovarianceSpec:
    """Half-lives and Newey-West lags of the volatilities and the correlations."""

    halflife: float | None
    lags: int
    corr_halflife: float | None
    corr_lags: int
    centered: bool

    @classmethod
    def checked(cls, halflife, lags, corr_halflife, corr_lags, centered, n_dates):
        """The spec, checked.

        ``lags`` and ``corr_lags`` map each spelling of a lag count to its
        value (None: not given): no lags is 0, and the correlations' default
        to the volatilities'.
        """
        halflife = _check_halflife(halflife)
        lags = _lag_count(lags, n_dates)
        lags = 0 if lags is None else lags
        corr_halflife = (
            halflife
            if corr_halflife is None
            else _check_halflife(corr_halflife, "corr_halflife")
        )
        corr_lags = _lag_count(corr_lags, n_dates)
        corr_lags = lags if corr_lags is None else corr_lags
        return cls(halflife, lags, corr_halflife, corr_lags, bool(centered))

    @property
    def split(self):
        """Whether the correlations have their own half-life or lags."""
        return (self.corr_halflife, self.corr_lags) != (self.halflife, self.lags)

    def start(self, F, positions, n_rows):
        """The running sums of the first dates (both half-lives when split).

        ``F`` holds the complete rows, at ``positions`` of an axis of
        ``n_rows`` dates. The sums are taken about the mean of ``F``.
        """
        halflives, lags = [self.halflife], [self.lags]
        if self.split:
            halflives.append(self.corr_halflife)
            lags.append(self.corr_lags)
        sums = WeightedSums.empty(
            F.shape[1], halflives, lags, self.centered, F.mean(axis=0)
        )
        return sums.add(F, positions, n_rows)

    @staticmethod
    def covariance(sums):
        r""":math:`\Sigma_F` of the running sums (before :func:`nearest_psd`).

        Returns ``(S, variances)``, with ``variances`` the volatilities'
        squares.
        """
        S, variances = sums.covariance()
        if len(sums.decay) == 1:
            return S, variances
        return vols_and_correlations(variances, S), variances

    def estimate(self, F, positions):
        r""":math:`\Sigma_F` of complete rows ``F`` (batch axes first)."""
        S = weighted_covariance(
            F, time_weights(positions, self.halflife), self.lags, self.centered
        )
        if not self.split:
            return S
        C = weighted_covariance(
            F,
            time_weights(positions, self.corr_halflife),
            self.corr_lags,
            self.centered,
        )
        return vols_and_correlations(np.diagonal(S, axis1=-2, axis2=-1), C)


def vols_and_correlations(variances, C):
    """Volatilities from ``variances``, correlations from ``C`` (batch axes first).

    Each factor's volatility over ``C``'s scales ``C``'s rows and columns; a
    factor whose ``C`` variance is not positive gets 0.
    """
    diagonal = np.diagonal(C, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sqrt(np.maximum(variances, 0.0) / diagonal)
    ratio = np.where(diagonal > 0, ratio, 0.0)
    return C * ratio[..., :, None] * ratio[..., None, :]


def nearest_psd(S):
    """``S`` symmetrised, with negative eigenvalues (from rounding) set to 0.

    A finite ``S`` whose Cholesky factorisation succeeds is positive definite
    and comes back symmetrised, as the eigenvalue check would return it: the
    factorisation costs a tenth of the eigendecomposition (60 factors), which
    only a singular or indefinite ``S`` (or NaN) goes on to.
    """
    S = (S + S.T) / 2.0
    if len(S) == 0:
        return S
    # LAPACK's Cholesky lets NaN through; S is float64 (sums of float64)
    if np.isfinite(S).all() and lapack.dpotrf(S, lower=True, clean=False)[1] == 0:
        return S
    with one_blas_thread():  # OpenBLAS threads a 60 x 60 eigh several times slower
        eig, vec = np.linalg.eigh(S)
    if eig[0] >= 0:
        return S
    S = (vec * np.maximum(eig, 0.0)) @ vec.T
    return (S + S.T) / 2.0
