"""Factor covariance (sample, EWMA, Newey-West) and specific variances."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from skfactor.models._weights import bartlett, halflife_weights

__all__ = ["factor_covariance", "specific_variance"]


def _check_halflife(halflife):
    if halflife is None:
        return None
    if (
        not isinstance(halflife, numbers.Real)
        or isinstance(halflife, bool)
        or not np.isfinite(halflife)
        or halflife <= 0
    ):
        raise ValueError(
            "`halflife` must be a positive number of dates (or None for equal "
            f"weights); got {halflife!r}."
        )
    return float(halflife)


def _check_lags(lags, n_dates):
    if not isinstance(lags, numbers.Integral) or isinstance(lags, bool) or lags < 0:
        raise ValueError(
            f"`lags` must be an integer >= 0 (0: no Newey-West adjustment); got "
            f"{lags!r}."
        )
    if lags >= n_dates:
        raise ValueError(
            f"`lags` must be smaller than the number of complete dates "
            f"({n_dates}); got {lags}."
        )
    return int(lags)


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


def _wide_values(frame, name):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"`{name}` must be a DataFrame of shape (n_dates, n_columns) indexed by "
            f"date; got {type(frame).__name__}."
        )
    if isinstance(frame.index, pd.MultiIndex):
        raise ValueError(
            f"`{name}` has a (date, asset) MultiIndex; pass a wide frame indexed by "
            f"date, e.g. `{name}.unstack()`."
        )
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(
            f"`{name}` contains inf or -inf; replace them with NaN (missing)."
        )
    return values


def factor_covariance(factor_returns, *, halflife=None, lags=0):
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
    The Bartlett weights keep :math:`\Sigma_F` positive semi-definite; the
    result is symmetrised and any eigenvalue that rounding leaves below zero
    is set to zero.

    Parameters
    ----------
    factor_returns : DataFrame of shape (n_dates, n_factors)
        Factor returns indexed by date, in date order.
    halflife : float, default=None
        Half-life in dates of the exponential weights; None weights every
        date equally.
    lags : int, default=0
        Newey-West lags :math:`L` (0: no adjustment).

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
    >>> factor_covariance(F, halflife=36, lags=3).shape
    (2, 2)
    """
    halflife = _check_halflife(halflife)
    values = _wide_values(factor_returns, "factor_returns")
    complete = ~np.isnan(values).any(axis=1)
    n_dates = int(complete.sum())
    if n_dates < 2:
        raise ValueError(
            "`factor_returns` needs at least 2 dates on which every factor is "
            f"observed to estimate a covariance; got {n_dates}."
        )
    lags = _check_lags(lags, n_dates)
    w = time_weights(np.flatnonzero(complete), halflife)
    F = values[complete]
    X = np.sqrt(w)[:, None] * (F - w @ F)
    S = X.T @ X
    for lag in range(1, lags + 1):
        G = X[lag:].T @ X[:-lag]
        S += bartlett(lag, lags) * (G + G.T)
    S /= 1.0 - w @ w
    names = factor_returns.columns
    return pd.DataFrame(nearest_psd(S), index=names, columns=names)


def nearest_psd(S):
    """``S`` symmetrised, with negative eigenvalues (from rounding) set to 0."""
    S = (S + S.T) / 2.0
    if len(S) == 0:
        return S
    eig, vec = np.linalg.eigh(S)
    if eig[0] >= 0:
        return S
    S = (vec * np.maximum(eig, 0.0)) @ vec.T
    return (S + S.T) / 2.0


def specific_variance(residuals, *, halflife=None, min_obs=20):
    r"""Specific (residual) variance of each asset, shrunk when its history is short.

    For asset :math:`i` with :math:`n_i` observed residuals, the weighted
    variance over its own dates, with the weights of
    :func:`factor_covariance` renormalised to sum to one over those dates:

    .. math::

        \hat\sigma_i^2 = \frac{\sum_t w_{it} (e_{it} - \bar e_i)^2}
                              {1 - \sum_t w_{it}^2},

    the sample variance (divisor :math:`n_i - 1`) with equal weights, pandas
    ``ewm(halflife=h).var()`` with a half-life. **Short histories**: with
    :math:`m` the cross-sectional median of :math:`\hat\sigma_i^2` over the
    assets with :math:`n_i \ge` ``min_obs``, an asset with fewer observations
    gets :math:`\lambda_i \hat\sigma_i^2 + (1 - \lambda_i)\, m` with
    :math:`\lambda_i = n_i /` ``min_obs`` (and :math:`\lambda_i = 0` when
    :math:`n_i < 2`, where no variance exists): shrunk towards the median in
    proportion to the history it lacks.

    Parameters
    ----------
    residuals : DataFrame of shape (n_dates, n_assets)
        Specific returns indexed by date, NaN where the asset has none.
    halflife : float, default=None
        Half-life in dates of the exponential weights; None: equal weights.
    min_obs : int, default=20
        Observations an asset needs to keep its own variance unshrunk.

    Returns
    -------
    variance : Series of shape (n_assets,)
        Indexed by asset.
    n_obs : Series of shape (n_assets,)
        Number of residuals each estimate used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import specific_variance
    >>> rng = np.random.default_rng(0)
    >>> E = pd.DataFrame(rng.normal(0, 0.05, (60, 3)), columns=["A", "B", "C"])
    >>> E.iloc[:55, 2] = np.nan  # C has 5 months of history
    >>> var, n = specific_variance(E, min_obs=20)
    >>> n.tolist()
    [60, 60, 5]
    >>> bool(np.isclose(var["A"], E["A"].var()))
    True
    """
    halflife = _check_halflife(halflife)
    if not isinstance(min_obs, numbers.Integral) or isinstance(min_obs, bool):
        raise ValueError(f"`min_obs` must be an integer >= 2; got {min_obs!r}.")
    if min_obs < 2:
        raise ValueError(f"`min_obs` must be an integer >= 2; got {min_obs!r}.")
    E = _wide_values(residuals, "residuals")
    observed = ~np.isnan(E)
    n_obs = observed.sum(axis=0)
    w = np.where(observed, time_weights(np.arange(len(E)), halflife)[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w /= w.sum(axis=0)
        e = np.where(observed, E, 0.0)
        dev = np.where(observed, e - (w * e).sum(axis=0), 0.0)
        var = (w * dev * dev).sum(axis=0) / (1.0 - (w * w).sum(axis=0))
    var[n_obs < 2] = np.nan
    long = n_obs >= min_obs
    if not long.any():
        raise ValueError(
            f"No asset has `min_obs`={min_obs} residuals (the most is "
            f"{int(n_obs.max(initial=0))}), so there is no median to shrink short "
            "histories towards; lower `min_obs`."
        )
    median = np.median(var[long])
    lam = np.where(n_obs < 2, 0.0, np.minimum(n_obs / min_obs, 1.0))
    var = np.where(lam > 0, lam * np.nan_to_num(var), 0.0) + (1.0 - lam) * median
    assets = residuals.columns
    return (
        pd.Series(var, index=assets, name="specific_variance"),
        pd.Series(n_obs, index=assets, name="n_obs"),
    )
