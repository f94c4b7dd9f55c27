r"""Fama–MacBeth inference on per-date estimates, as linearmodels ``FamaMacBeth``.

The coefficient of each term is the mean of its per-date estimates over the
dates where it is estimated; the covariance uses the deviations from those means
on the dates where **every** term is estimated (linearmodels drops the other
rows), T of them:

- ``"unadjusted"``: :math:`\hat V = \frac{1}{T(T-1)} \sum_t e_t e_t^\top`;
- ``"kernel"``: Newey–West with Bartlett weights :math:`1 - l/(L+1)`,
  :math:`\hat V = \frac{1}{T(T-1)} \big(\sum_t e_t e_t^\top +
  \sum_{l=1}^{L} w_l (\Gamma_l + \Gamma_l^\top)\big)`, with the bandwidth
  :math:`L` chosen by Newey and West's (1994) rule as linearmodels'
  ``kernel_optimal_bandwidth`` does when not given.

t statistics use Student's t with T - 1 degrees of freedom.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from skfactor.models._ols import t_p_values
from skfactor.models._weights import bartlett

__all__ = ["fama_macbeth_table", "newey_west_bandwidth"]


def newey_west_bandwidth(x):
    r"""Newey–West (1994) automatic Bartlett bandwidth of a series (linearmodels' rule).

    ``n = ceil(4 (T/100)^(2/9))`` pilot lags, autocovariances
    :math:`\sigma_j = T^{-1} \sum_i x_i x_{i-j}`,
    :math:`s_0 = \sigma_0 + 2 \sum_{j \le n} \sigma_j`,
    :math:`s_1 = 2 \sum_{j \le n} j \sigma_j`, and the bandwidth
    :math:`\min(\lceil 1.1447 ((s_1/s_0)^2)^{1/3} T^{1/3} \rceil, T - 1)`.
    """
    t = len(x)
    pilot = math.ceil(4 * (t / 100) ** (2 / 9))
    if pilot >= t - 1:
        raise ValueError(
            "The automatic Newey-West bandwidth needs at least 4 estimated dates; "
            f"got {t}. Pass `bandwidth` (an integer below {t}) to `summary`."
        )
    sigma = np.array([x[j:] @ x[: t - j] / t for j in range(pilot + 1)])
    lags = np.arange(1, pilot + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s0 = sigma[0] + 2 * sigma[1:].sum()
        s1 = 2 * np.sum(sigma[1:] * lags)
        m = 1.1447 * ((s1 / s0) ** 2) ** (1 / 3) * t ** (1 / 3)
    if not np.isfinite(m):
        raise ValueError(
            "The automatic Newey-West bandwidth is not finite (the per-date "
            "estimates do not vary); pass `bandwidth` to `summary`."
        )
    return min(math.ceil(m), t - 1)


def fama_macbeth_table(estimates, cov_type="unadjusted", bandwidth=None):
    """The Fama–MacBeth coefficient table of per-date estimates.

    Parameters
    ----------
    estimates : DataFrame of shape (n_dates, n_terms)
        One row of estimates per date (NaN where not estimated).
    cov_type : {"unadjusted", "kernel"}
        Plain or Newey–West (Bartlett) covariance of the mean.
    bandwidth : int, optional
        Bartlett bandwidth for ``"kernel"``; None picks it from the data.

    Returns
    -------
    DataFrame
        Indexed by term, columns ``coef``, ``std_err``, ``t``, ``p_value``.
    """
    values = estimates.to_numpy(dtype=np.float64)
    coef = estimates.mean(axis=0).to_numpy()
    dev = values - coef
    dev = dev[np.isfinite(dev).all(axis=1)]
    t = len(dev)
    if t < 2:
        raise ValueError(
            f"Fama-MacBeth inference needs at least 2 estimated dates; got {t}."
        )
    s = dev.T @ dev
    if cov_type == "kernel":
        if bandwidth is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                std = dev / dev.std(axis=0)
            bandwidth = newey_west_bandwidth(std.sum(axis=1))
        elif bandwidth >= t:
            raise ValueError(
                f"`bandwidth` must be below the number of estimated dates, {t}; "
                f"got {bandwidth}."
            )
        lags = int(bandwidth)
        for lag in range(1, lags + 1):  # lags, not dates: a handful
            g = dev[lag:].T @ dev[:-lag]
            s += bartlett(lag, lags) * (g + g.T)
    cov = s / t / (t - 1)
    with np.errstate(invalid="ignore"):
        std_err = np.sqrt(np.diag(cov))
    tvalues, pvalues = t_p_values(coef, std_err, t - 1)
    return pd.DataFrame(
        {"coef": coef, "std_err": std_err, "t": tvalues, "p_value": pvalues},
        index=pd.Index(estimates.columns, name="term"),
    )
