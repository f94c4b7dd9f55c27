"""The weightings of past dates every estimator shares: kernels and half-life.

The kernels weigh the autocovariance at lag :math:`l` of a long-run
(HAC) covariance; their names and formulas are linearmodels' (Newey and West,
1987; Gallant, 1987; Andrews, 1991), so that a bandwidth means the same thing.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "KERNELS",
    "bartlett",
    "halflife_weights",
    "kernel_weights",
    "parzen",
    "quadratic_spectral",
]


def bartlett(lag, maxlags):
    """Newey-West (Bartlett kernel) weight ``1 - lag / (L + 1)``, 0 past ``L``.

    ``lag`` and ``maxlags`` (:math:`L`) broadcast together: one bandwidth, or
    one per series (e.g. per asset).
    """
    maxlags = np.asarray(maxlags, dtype=np.float64)
    return np.where(lag <= maxlags, 1.0 - lag / (maxlags + 1.0), 0.0)


def parzen(lag, maxlags):
    r"""Parzen (Gallant) kernel weight, 0 past ``L``.

    With :math:`z = l / (L + 1)`: :math:`1 - 6z^2 + 6z^3` for
    :math:`z \le 1/2`, :math:`2(1 - z)^3` above.
    """
    maxlags = np.asarray(maxlags, dtype=np.float64)
    z = np.asarray(lag, dtype=np.float64) / (maxlags + 1.0)
    w = np.where(z <= 0.5, 1.0 - 6.0 * z**2 + 6.0 * z**3, 2.0 * (1.0 - z) ** 3)
    return np.where(lag <= maxlags, w, 0.0)


def quadratic_spectral(lag, bandwidth):
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


def kernel_weights(kernel, bandwidth, n):
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


def halflife_weights(age, halflife):
    """Exponential weight ``0.5 ** (age / halflife)`` of a date ``age`` dates back.

    The weight halves every ``halflife`` dates (pandas ``ewm(halflife=...)``);
    age 0 (the latest date) weighs 1.
    """
    return 0.5 ** (np.asarray(age, dtype=np.float64) / halflife)
