"""The descriptors' cross-sectional standardisation (USE4): cap-weighted mean, std 1."""

from __future__ import annotations

import numpy as np

from skfactor.panel._stats import center_scale
from skfactor.preprocessing._zscore import _standardize

__all__ = ["standardize", "sqrt_cap"]


def standardize(segments, x, weights=None):
    r"""``(x - mean) / std`` per date, in the caller's row order.

    The mean is weighted by ``weights`` (the market cap: USE4's
    :math:`\sum w x / \sum w`, over the rows with a weight) or equal without;
    the standard deviation is equal-weighted about the equal-weighted mean,
    ``ddof=0`` — :class:`~skfactor.CrossSectionalZScore`'s kernel. NaN stays
    NaN; a date whose values are all equal gives 0.
    """
    w = None if weights is None else segments.sort(weights)
    out = np.empty_like(x, dtype=np.float64)
    stats = center_scale(segments, segments.sort(x), weights=w, work=out)
    return segments.apply(_standardize, x, *stats, out=out)


def sqrt_cap(cap):
    """The square root of the market cap where it is > 0, else NaN (no weight)."""
    with np.errstate(invalid="ignore"):
        return np.where(cap > 0, np.sqrt(np.where(cap > 0, cap, 0.0)), np.nan)
