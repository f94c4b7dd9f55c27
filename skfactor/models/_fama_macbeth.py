r"""Fama–MacBeth inference on per-date estimates, as linearmodels ``FamaMacBeth``.

The coefficient of each term is the mean of its per-date estimates over the
dates where it is estimated; the covariance uses the deviations from those means
on the dates where **every** term is estimated (linearmodels drops the other
rows), T of them:

- ``"nonrobust"`` (aliases ``"unadjusted"``, ``"fama-macbeth"``):
  :math:`\hat V = \frac{1}{T(T-1)} \sum_t e_t e_t^\top`;
- ``"kernel"`` (aliases ``"HAC"``, ``"newey-west"``): a HAC (long-run) covariance,
  :math:`\hat V = \frac{1}{T(T-1)} \big(\sum_t e_t e_t^\top +
  \sum_{l \ge 1} w_l (\Gamma_l + \Gamma_l^\top)\big)`, with
  :math:`\Gamma_l = \sum_t e_t e_{t-l}^\top` and the weights :math:`w_l` of
  the Bartlett (Newey–West), Parzen or quadratic spectral kernel
  (skfactor/utils/_numerics.py), the bandwidth chosen by Newey and West's
  (1994) rule for that kernel, as linearmodels' ``kernel_optimal_bandwidth``
  does, when not given.

t statistics use Student's t with T - 1 degrees of freedom.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd

from skfactor.models._summary import Summary
from skfactor.utils._cov_types import canonical_cov_type
from skfactor.utils._numerics import (
    KERNELS,
    coefficient_table,
    kernel_weights,
    long_run_sum,
)

__all__ = ["check_summary_arguments", "fama_macbeth_table", "newey_west_bandwidth"]

# Newey-West (1994) rule per kernel: characteristic exponent q, constant c,
# exponent a of the pilot lags ceil(4 (T/100)^a) (linearmodels' table).
_RULES = {
    "bartlett": (1, 1.1447, 2 / 9),
    "parzen": (2, 2.6614, 4 / 25),
    "qs": (2, 1.3221, 2 / 25),
}


def check_summary_arguments(cov_type, cov_types, bandwidth, kernel=None):
    """Validate the arguments of a Fama–MacBeth ``summary()``; the canonical name.

    The one check behind :meth:`CrossSectionalFactorModel.summary` and
    :meth:`TwoPassFactorModel.summary`. ``cov_types`` are the canonical
    ``cov_type`` names accepted (their aliases are accepted too, see
    :mod:`skfactor.utils._cov_types`); ``kernel=None`` when the method has no
    ``kernel`` argument. ``bandwidth`` must be None or a finite number >= 0
    (not a bool, not a string), whatever ``cov_type`` (the covariances other
    than the kernel one ignore it, as linearmodels does). Whether it is below
    the number of dates is checked on the data.
    """
    name = canonical_cov_type(cov_type, cov_types)
    if kernel is not None and (not isinstance(kernel, str) or kernel not in KERNELS):
        options = ", ".join(f'"{k}"' for k in sorted(KERNELS))
        raise ValueError(f"`kernel` must be one of {options}; got {kernel!r}.")
    if bandwidth is not None and (
        isinstance(bandwidth, bool)
        or not isinstance(bandwidth, Real)
        or not (math.isfinite(bandwidth) and bandwidth >= 0)
    ):
        raise ValueError(
            f"`bandwidth` must be a number >= 0 or None; got {bandwidth!r}"
            + (" (a string)." if isinstance(bandwidth, str) else ".")
        )
    return name


def _pilot_lags(t, exponent):
    return math.ceil(4 * (t / 100) ** exponent)


def newey_west_bandwidth(x, kernel="bartlett"):
    r"""Newey–West (1994) automatic bandwidth of a series (linearmodels' rule).

    ``n = ceil(4 (T/100)^a)`` pilot lags, autocovariances
    :math:`\sigma_j = T^{-1} \sum_i x_i x_{i-j}`,
    :math:`s_0 = \sigma_0 + 2 \sum_{j \le n} \sigma_j`,
    :math:`s_q = 2 \sum_{j \le n} j^q \sigma_j`, and the bandwidth
    :math:`\min(\lceil c ((s_q/s_0)^2)^{1/(2q+1)} T^{1/(2q+1)} \rceil, T - 1)`,
    with :math:`(q, c, a)` = (1, 1.1447, 2/9) for Bartlett, (2, 2.6614, 4/25)
    for Parzen and (2, 1.3221, 2/25) for the quadratic spectral kernel.
    """
    q, c, exponent = _RULES[kernel]
    t = len(x)
    pilot = _pilot_lags(t, exponent)
    if pilot >= t - 1:
        fewest = next(n for n in range(2, 100) if _pilot_lags(n, exponent) < n - 1)
        raise ValueError(
            f"The automatic bandwidth of the {kernel!r} kernel needs at least "
            f"{fewest} estimated dates; got {t}. Pass `bandwidth` (a number below "
            f"{t}) to `summary`."
        )
    sigma = np.array([x[j:] @ x[: t - j] / t for j in range(pilot + 1)])
    lags = np.arange(1, pilot + 1)
    rate = 1 / (2 * q + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s0 = sigma[0] + 2 * sigma[1:].sum()
        sq = 2 * np.sum(sigma[1:] * lags**q)
        m = c * ((sq / s0) ** 2) ** rate * t**rate
    if not np.isfinite(m):
        raise ValueError(
            "The automatic bandwidth is not finite (the per-date estimates do "
            "not vary); pass `bandwidth` to `summary`."
        )
    return min(math.ceil(m), t - 1)


def fama_macbeth_table(
    estimates, cov_type="nonrobust", bandwidth=None, kernel="bartlett"
):
    """The Fama–MacBeth coefficient table of per-date estimates.

    Parameters
    ----------
    estimates : DataFrame of shape (n_dates, n_terms)
        One row of estimates per date (NaN where not estimated).
    cov_type : {"nonrobust", "kernel"}
        Plain or HAC covariance of the mean (canonical names).
    bandwidth : float, optional
        Kernel bandwidth for ``"kernel"`` (below the number of estimated
        dates; Bartlett and Parzen use its integer part); None picks it from
        the data.
    kernel : {"bartlett", "parzen", "qs"}
        Kernel weighting the autocovariances, for ``"kernel"``.

    Returns
    -------
    Summary
        Indexed by term, columns ``coef``, ``std_err``, ``t``, ``p_value``;
        its header has ``cov_type``, ``kernel`` and ``bandwidth`` (the
        automatic choice when none was given; None without a kernel) and
        ``n_dates``, the T dates where every term is estimated.
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
    weights = ()
    if cov_type == "kernel":
        if bandwidth is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                std = dev / dev.std(axis=0)
            bandwidth = newey_west_bandwidth(std.sum(axis=1), kernel)
        elif bandwidth >= t:
            raise ValueError(
                f"`bandwidth` must be below the number of estimated dates, {t}; "
                f"got {bandwidth}."
            )
        weights = kernel_weights(kernel, bandwidth, t)
    cov = long_run_sum(dev, weights) / t / (t - 1)
    with np.errstate(invalid="ignore"):
        std_err = np.sqrt(np.diag(cov))
    index = pd.Index(estimates.columns, name="term")
    kernel_used = cov_type == "kernel"
    return Summary(
        coefficient_table(index, coef, std_err, df=t - 1),
        header={
            "cov_type": cov_type,
            "kernel": kernel if kernel_used else None,
            "bandwidth": bandwidth if kernel_used else None,
            "n_dates": t,
        },
    )
