"""Per-segment statistics used by the cross-sectional transformers.

Each function takes a :class:`~skfactor.panel.Segments` and one column whose
rows are already in segment order, ignores NaN, and returns one value per
segment.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAD_TO_STD",
    "center_scale",
    "winsorize_caps",
]

# 1 / Phi^{-1}(3/4): makes the median absolute deviation a consistent
# estimator of the standard deviation of a normal distribution.
MAD_TO_STD = 1.482602218505602


def winsorize_caps(segments, col, lower, upper):
    """The caps :func:`scipy.stats.mstats.winsorize` uses, segment by segment.

    With ``n`` non-NaN values in a segment, scipy (``inclusive=(True, True)``)
    replaces the ``int(lower * n)`` smallest values by the next one and the
    ``int(upper * n)`` largest by the one before: clipping at the order
    statistics ``x[int(lower * n)]`` and ``x[n - 1 - int(upper * n)]`` (0-based)
    gives the same values. The products are formed in float64 like scipy's, so
    the truncation matches to the last case.
    """
    n = segments.count(col)
    low_k = (lower * n.astype(np.float64)).astype(np.intp) if lower else None
    high_k = (upper * n.astype(np.float64)).astype(np.intp) if upper else None
    lo, hi = segments.order_statistics(col, low_k, high_k, n)
    if lo is None:
        lo = np.full(segments.n_segments, -np.inf)
    if hi is None:
        hi = np.full(segments.n_segments, np.inf)
    return lo, hi


def _std(segments, col, center, n, nan):
    dev = segments.broadcast(np.subtract, col, center, out=segments.buffer("dev"))
    np.copyto(dev, 0.0, where=nan)
    np.multiply(dev, dev, out=dev)
    sq = segments.sum(dev)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(sq / n)


def center_scale(segments, col, *, robust=False, weights=None):
    r"""Per-segment centre and scale of one sorted column, NaN ignored.

    - ``robust=False``: the mean (weighted by ``weights`` if given) and the
      equal-weighted standard deviation with ``ddof=0``
      (:math:`\sqrt{\tfrac1n\sum (x - \bar x)^2}`, numpy's ``np.std``).
    - ``robust=True``: the median and :math:`1.4826\,\mathrm{MAD}`; where the MAD
      is 0 (over half the values tie) the standard deviation is used instead.

    A segment whose values are all equal (or that has a single value) gets an
    infinite scale, so that ``(x - centre) / scale`` is exactly 0 there.
    """
    # Held through the kernels below, which use the "nan" buffer themselves.
    nan = np.isnan(col, out=segments.buffer("column_nan", dtype=bool))
    mean, n = segments.nanmean(col, nan)
    if robust:
        center = segments.median(col)
        dev = segments.broadcast(np.subtract, col, center, out=segments.buffer("dev"))
        mad = segments.median(np.abs(dev, out=dev))
        scale = MAD_TO_STD * mad
        is_std = scale == 0  # (a MAD above 0 means the values differ)
        if is_std.any():
            scale = np.where(is_std, _std(segments, col, mean, n, nan), scale)
    else:
        scale = _std(segments, col, mean, n, nan)
        is_std = True
        center = mean
        if weights is not None:
            ok = ~np.isnan(col) & ~np.isnan(weights)
            w = np.where(ok, weights, 0.0)
            sw = segments.sum(w)
            with np.errstate(invalid="ignore", divide="ignore"):
                center = segments.sum(np.where(ok, w * col, 0.0)) / sw
            # Where no asset carries weight, fall back to the plain mean.
            center = np.where(sw > 0, center, mean)
    # All values equal, or a spread that underflows to 0: nothing to scale.
    # For n equal values c the computed mean is off c by at most (n - 1) eps
    # |c|, and so is the standard deviation: a larger one rules equality out,
    # and only the other segments are compared exactly (min == max).
    constant = scale == 0
    with np.errstate(invalid="ignore"):
        maybe = is_std & ~(scale > 2 * n * np.finfo(float).eps * np.abs(mean))
    if maybe.any():
        constant |= maybe & (segments.nanmin(col) == segments.nanmax(col))
    scale = np.where(constant, np.inf, scale)
    return center, scale
