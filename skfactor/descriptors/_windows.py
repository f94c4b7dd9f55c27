r"""Window sums along the dates of a (dates, assets) grid, exact to rounding.

Every price and volume descriptor is a ratio of window sums over each asset's
last dates,

.. math::

    S_t = \sum_{k=0}^{W-1} \lambda^k x_{t-k},

with :math:`\lambda = 1` (a plain sum) or :math:`\lambda = 0.5^{1/h}` (half-life
weights). :func:`window_sums` computes it for every date in O(1) per cell and
without differencing a running total: the dates are cut into blocks of
:math:`W`; a window ending at :math:`t` is a prefix of :math:`t`'s block
plus a suffix of the block before, both read from one running sum of
:math:`\lambda^{-q} x` restarted at each block (:math:`q` the position in the
block). Each part sums at most :math:`W` terms, so the rounding is that of
summing the window directly, whatever the length of the history (a running
total differenced over 2,520 dates would lose digits to the total; one scaled
by :math:`\lambda^{-t}` would overflow). The running sums go down the dates
axis of a (dates, assets) grid: one contiguous row of assets at a time.

Not a first-order recursion :math:`S_t = \lambda S_{t-1} + x_t -
\lambda^W x_{t-W}` (``scipy.signal.lfilter``): on a block of 52 assets x
2,520 dates it is only 1.4x faster per sum (1.66 ms vs 2.27 ms, median of
40 alternating runs), a few percent of a descriptor, and its rounding
error decays only as :math:`\lambda^k` after the values that caused it, so
a past level far above today's (the drift in
``test_window_sums_long_history_keeps_digits``) would show in today's sum.
Counts (:func:`window_counts`) are integers, and a differenced running
count is exact.

:func:`window_sums` serves the plain sums of ``CumulativeRange`` and
``ShareTurnover`` (an asset's whole history at a time, :func:`by_asset`); the
half-life weighted descriptors (``Momentum``, ``Volatility``, ``Beta``) run
on :class:`WindowScan`, a chunk of dates across all assets at a time, with
the same restart every ``W`` dates and so the same rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_EXPONENT",
    "WindowScan",
    "check_decay",
    "masked_sums",
    "shift",
    "window_counts",
    "window_sums",
]

# The largest window / halflife: decay**-window = 2**(window / halflife)
# stays well inside float64's range (2**1023).
MAX_EXPONENT = 900


def window_sums(x, window, decay=1.0, where=None):
    """``S[t] = sum_{k < window} decay**k * x[t - k]`` down axis 0 (0 before it).

    ``x`` is a (n_dates, n_series) float array; only the cells where
    ``where`` holds are summed (all of them without it; then ``x`` must hold
    no NaN).
    """
    t, n = x.shape
    w = int(window)
    nb = -(-t // w)
    # Within a block, position q holds decay**-q * x: one running sum then
    # gives both parts of every window (decay**-q is at most 2**MAX_EXPONENT).
    blocks = np.zeros((nb, w, n))
    mask = True if where is None else where
    np.copyto(blocks.reshape(nb * w, n)[:t], x, where=mask)
    if decay != 1.0:
        blocks *= (decay ** -np.arange(w))[:, None]
    running = np.cumsum(blocks, axis=1)
    # A window ending at position p of block b takes positions p+1.. of block
    # b-1: that block's total less its running sum to p (a difference within
    # one block of w values: the rounding of the window's own sum).
    carry = running[:-1, -1:] - running[:-1, :-1]
    if decay != 1.0:
        scale = decay ** np.arange(w)
        running *= scale[:, None]  # the prefix in this block
        carry *= (scale[:-1] * decay**w)[:, None]
    running[1:, : w - 1] += carry
    return running.reshape(nb * w, n)[:t]


def window_counts(present, window):
    """How many cells of each window hold: ``window_sums`` of a boolean mask.

    A running count differenced ``window`` dates apart: integers below
    2**53 are exact in float64, so (unlike a running sum of values) the
    difference loses nothing, whatever the length of the history; two passes
    instead of :func:`window_sums`' seven.
    """
    count = np.cumsum(present, axis=0, dtype=np.float64)
    if window < len(count):
        count[window:] -= count[:-window].copy()
    return count


def check_decay(window, halflife, name="window"):
    """Raise unless ``window / halflife`` keeps ``0.5**(-window / halflife)`` finite."""
    if halflife is not None and window / halflife > MAX_EXPONENT:
        raise ValueError(
            f"`{name}` / `halflife` must be at most {MAX_EXPONENT} (weights within "
            f"2**-{MAX_EXPONENT} of each other); got {window} / {halflife}. Older "
            "dates weigh nothing in floating point: shorten the window."
        )


def shift(x, lag, fill):
    """``x`` moved ``lag`` dates later (axis 0), the first ``lag`` set to ``fill``."""
    if lag == 0:
        return x
    out = np.empty_like(x)
    out[:lag] = fill
    out[lag:] = x[:-lag]
    return out


def masked_sums(terms, present, window):
    """Window sums of each term over the present cells, and their count.

    Returns ``(sums, count, count)``: the sum of each array of ``terms``
    over the cells where ``present`` holds and their number (for
    ``min_periods``), twice (the weights of equal weights are the count).
    """
    sums = [window_sums(t, window, where=present) for t in terms]
    count = window_counts(present, window)
    return sums, count, count


class WindowScan:
    r"""Window sums of several terms, a chunk of dates at a time, all assets at once.

    The path of the exponentially weighted descriptors (``Momentum``,
    ``Volatility``, ``Beta``): :meth:`step` turns a (n_chunk, n_terms,
    n_assets) block of terms of consecutive dates into their window sums
    :math:`S_t = \sum_{k<W} \lambda_j^k x_{t-k}` in place (term ``j`` with
    its own decay: a half-life weighted sum, its weights and, with decay 1,
    the count of values present), carrying each term's running sum from one
    chunk to the next. The chunks come from :meth:`chunks`, which never lets
    one straddle a multiple of ``W``: the running sum :math:`R` restarts there,
    and with :math:`p` the date's position in its block of ``W`` dates and
    :math:`E` the previous block's last running sum,

    .. math::

        S_t = R_t + \lambda^{p+1} \left(E - \lambda^{W-1-p} R_{t-W}\right),

    the bracket being the previous block's suffix that the window still
    covers (its running sums are kept, a ring of ``W`` dates).

    Why this layout: a running sum down the dates of a (dates, assets) grid
    is numpy's slow case (``np.cumsum(axis=0)`` walks each asset's column
    with a stride, 4x slower than adding whole rows), and a loop over the
    dates costs one Python step per date. Here a chunk of ``n_chunk`` dates
    by all assets (a few hundred KiB: in the cache) is summed in groups of
    about sqrt(n_chunk) whole rows (:func:`_prefix_rows`), so the steps are
    about n_dates / sqrt(n_chunk) and every step is a whole-row ufunc call;
    3x faster than the blocked ``np.cumsum`` of :func:`window_sums` on
    3,000 assets x 2,520 dates (``benchmarks/bench_descriptors.py``).

    Rounding. Within a chunk the terms are scaled by :math:`\lambda^{-q}`
    (:math:`q` < ``n_chunk``, at most :math:`2^{MAX\_EXPONENT}`), summed and
    scaled back: the error of summing :math:`q` terms, relative to
    :math:`\sum \lambda^{q-i}|x_i|`. The state carried between chunks is
    rounded once per chunk and that error then decays as :math:`\lambda^k`,
    so at any date the error is at most about :math:`(n_{chunk} + n_{chunks\,
    in\,the\,block})\,\epsilon \sum_{k} \lambda^k |x_{t-k}|` over the
    current and the previous block of ``W`` dates only: like :func:`window_sums`,
    never a running total over the whole history differenced (a series that
    drifted far from 0 keeps today's digits). Counts (decay 1 on 0/1 terms)
    are integers below 2**53: exact.
    """

    def __init__(self, window, decays, n_dates, chunk):
        self.window = min(int(window), n_dates)
        self.finite = self.window < n_dates  # a window shorter than the history
        self.decays = np.asarray(decays, dtype=np.float64)
        lam = self.decays[:, None]  # (n_terms, 1)
        # No chunk longer than the scaling allows (decay**-q <= 2**MAX_EXPONENT).
        exponent = np.max(-np.log2(lam)) if (lam < 1).any() else 0.0
        limit = int(MAX_EXPONENT / exponent) if exponent > 0 else chunk
        self.chunk = max(1, min(chunk, self.window, limit))
        q = np.arange(self.chunk + 1)[:, None, None]
        self._up, self._down = lam**-q, lam**q  # (n_chunk + 1, n_terms, 1)
        self._lam = lam
        if self.finite:
            p = np.arange(1, self.window + 1)[:, None, None]
            self._suffix = lam**p  # lambda**(p + 1), by position p
            # -lambda**W R(t - W) in the units of row q: -lambda**(W - q).
            self._drop = -(lam ** (self.window - q[: self.chunk]))
        self._n_dates = n_dates
        self._state = self._ring = self._end = None

    def chunks(self):
        """``(first, stop)`` date ranges in order, none across a block of ``W``."""
        for start in range(0, self._n_dates, self.window):
            stop = min(start + self.window, self._n_dates)
            for a in range(start, stop, self.chunk):
                yield a, min(a + self.chunk, stop)

    def step(self, X, first):
        r"""Window sums of the terms ``X`` (n_chunk, n_terms, n_assets), in place.

        Row ``q`` of the chunk comes in units of :math:`\lambda_j^{-q}`
        (term ``j``'s decay): a ratio of two terms of one decay is the ratio
        of their window sums, which is all a descriptor takes (a mean over
        the weights; a count has decay 1), and scaling back would be one
        more pass over the chunk. :meth:`unscale` gives the sums themselves.
        """
        c = len(X)
        p0 = first % self.window  # position in the block of W dates
        X *= self._up[:c]
        if p0:  # the running sum goes on from the chunk before
            X[0] += self._lam * self._state
        _prefix_rows(X)  # row q: decay**-q times the running sum R
        if self._state is None:
            self._state = np.empty(X.shape[1:])
        np.multiply(X[-1], self._down[c - 1], out=self._state)
        if not self.finite:
            return X
        if self._ring is None:
            self._ring = np.empty((self.window,) + X.shape[1:])
            self._end = np.empty(X.shape[1:])
        ring = self._ring[p0 : p0 + c]  # R of the block before, then this one's
        if first >= self.window:  # add the previous block's suffix
            suffix = np.multiply(ring, self._drop[:c])
            suffix += self._suffix[p0] * self._end
            np.multiply(X, self._down[:c], out=ring)
            X += suffix
        else:
            np.multiply(X, self._down[:c], out=ring)
        if p0 + c == self.window:
            self._end[...] = self._state
        return X

    def unscale(self, S):
        """The window sums themselves from :meth:`step`'s chunk ``S``, in place."""
        S *= self._down[: len(S)]
        return S


def _prefix_rows(X):
    """``np.cumsum(X, axis=0, out=X)`` by groups of whole rows (:class:`WindowScan`)."""
    c = len(X)
    size = max(1, int(np.sqrt(c)))
    n_groups = c // size
    V = X[: n_groups * size].reshape(n_groups, size, *X.shape[1:])
    for i in range(1, size):  # within each group, all groups at once
        V[:, i] += V[:, i - 1]
    for g in range(1, n_groups):  # then each group's last row carried on
        V[g] += V[g - 1, -1]
    for i in range(n_groups * size, c):  # the rows after the last group
        X[i] += X[i - 1]
