"""The two weightings of past dates every estimator shares: Bartlett and half-life."""

from __future__ import annotations

import numpy as np

__all__ = ["bartlett", "halflife_weights"]


def bartlett(lag, maxlags):
    """Newey-West (Bartlett kernel) weight ``1 - lag / (L + 1)``, 0 past ``L``.

    ``lag`` and ``maxlags`` (:math:`L`) broadcast together: one bandwidth, or
    one per series (e.g. per asset).
    """
    maxlags = np.asarray(maxlags, dtype=np.float64)
    return np.where(lag <= maxlags, 1.0 - lag / (maxlags + 1.0), 0.0)


def halflife_weights(age, halflife):
    """Exponential weight ``0.5 ** (age / halflife)`` of a date ``age`` dates back.

    The weight halves every ``halflife`` dates (pandas ``ewm(halflife=...)``);
    age 0 (the latest date) weighs 1.
    """
    return 0.5 ** (np.asarray(age, dtype=np.float64) / halflife)
