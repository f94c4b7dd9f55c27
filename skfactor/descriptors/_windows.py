r"""Window sums along the dates of an (assets, dates) grid, exact to rounding.

Every price and volume descriptor is a ratio of window sums over each asset's
last dates,

.. math::

    S_t = \sum_{k=0}^{W-1} \lambda^k x_{t-k},

with :math:`\lambda = 1` (a plain sum) or :math:`\lambda = 0.5^{1/h}` (half-life
weights). :func:`window_sums` computes it for every date in O(1) per cell and
without differencing a running total: the dates are cut into blocks of
:math:`W`; a window ending at :math:`t` is a prefix of :math:`t`'s block
(an exponential recursion restarted at each block, ``scipy.signal.lfilter``)
plus a suffix of the block before (a reverse cumulative sum of that block).
Each part sums at most :math:`W` terms, so the rounding is that of summing the
window directly, whatever the length of the history (a running total
differenced over 2,520 dates would lose digits to the total; one scaled by
:math:`\lambda^{-t}` would overflow).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

__all__ = ["masked_sums", "shift", "weighted_mean", "window_sums"]


def window_sums(x, window, decay=1.0, where=None):
    """``S[:, t] = sum_{k < window} decay**k * x[:, t - k]`` (0 before the first date).

    ``x`` is an (n_series, n_dates) float array; only the cells where
    ``where`` holds are summed (all of them without it; then ``x`` must hold
    no NaN).
    """
    n, t = x.shape
    w = int(window)
    nb = -(-t // w)
    blocks = np.zeros((n, nb, w))
    mask = True if where is None else where
    np.copyto(blocks.reshape(n, nb * w)[:, :t], x, where=mask)
    if decay == 1.0:
        prefix = running = np.cumsum(blocks, axis=2)
    else:
        prefix = lfilter([1.0], [1.0, -decay], blocks, axis=2)
        powers = decay ** np.arange(w)  # powers[p] = decay**p
        blocks *= powers[::-1]  # decay**(w - 1 - p): the weight at the block's end
        running = np.cumsum(blocks, axis=2)
    # A window ending at position p of block b takes positions p+1.. of block
    # b-1 (each a further decay**(p+1) away): that block's total less its
    # running sum to p. The difference is within one block of w values, so
    # its rounding is that of the window's own sum.
    carry = running[:, :-1, -1:] - running[:, :-1, :-1]
    if decay != 1.0:
        carry *= powers[1:]
    prefix[:, 1:, : w - 1] += carry
    return prefix.reshape(n, nb * w)[:, :t]


def shift(x, lag, fill):
    """``x`` moved ``lag`` dates later (axis 1), the first ``lag`` set to ``fill``."""
    if lag == 0:
        return x
    out = np.empty_like(x)
    out[:, :lag] = fill
    out[:, lag:] = x[:, :-lag]
    return out


def masked_sums(terms, present, window, decay=1.0):
    """Window sums of each term over the present cells, of their weights, and a count.

    Returns ``(sums, weight, count)``: the weighted sum of each array of
    ``terms`` over the cells where ``present`` holds, the sum of the weights
    of those cells (the normaliser of "weights normalised over the values
    present") and their number (for ``min_periods``).
    """
    indicator = present.astype(np.float64)
    sums = [window_sums(t, window, decay, where=present) for t in terms]
    weight = window_sums(indicator, window, decay)
    count = weight if decay == 1.0 else window_sums(indicator, window)
    return sums, weight, count


def weighted_mean(x, window, decay, min_periods):
    """Each window's weighted mean of its present values; NaN below ``min_periods``."""
    (total,), weight, count = masked_sums([x], ~np.isnan(x), window, decay)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_periods, total / weight, np.nan)
