"""Per-date rank buckets and bucket means: the kernels of the quantile portfolios.

An asset's bucket on a date is the number of rank thresholds its average rank
(1-based, ties averaged, as :meth:`pandas.Series.rank`) exceeds. A threshold
``R`` splits a date's ranks into ``rank <= R`` and ``rank > R``:

- ``top_n=k``: ``R = k`` (the ``k`` smallest below it) and ``R = n - k``;
- a fraction ``c`` of the cross-section: ``rank / n > c`` computed in float64,
  exactly as ``pandas.Series.rank(pct=True) > c`` does.

The ranks are :func:`skfactor.panel._ranks.rank`'s, the one rank and tie
rule of the package.
"""

from __future__ import annotations

import numpy as np

from skfactor.panel._ranks import average_rank, rank

__all__ = ["bucket_means", "fraction_thresholds", "rank_buckets"]


def fraction_thresholds(n, fractions):
    """Rank thresholds ``R`` with ``rank / n > c  <=>  rank > R``, per segment.

    Parameters
    ----------
    n : ndarray of int, shape (n_segments,)
        Number of ranked (non-NaN) values per segment.
    fractions : sequence of float
        Increasing fractions ``c`` in (0, 1).

    Returns
    -------
    R : ndarray of shape (len(fractions), n_segments)
        Average ranks are multiples of 1/2, so ``R`` is the smallest half-integer
        rank ``r`` with ``float(r / n) > c``, minus 1/2. Because float division is
        monotone in ``r``, this reproduces the float comparison to the last case.
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.empty((len(fractions), len(n)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, c in enumerate(fractions):
            base = np.floor(2.0 * c * n) / 2.0
            # base + 1 always passes (it exceeds c * n by at least 1/2) and
            # base - 1/2 never does; the smallest passing candidate is the rank.
            first = base + 1.0
            for cand in (base + 0.5, base, base - 0.5):
                first = np.where(cand / n > c, cand, first)
            out[i] = first - 0.5
    return out


def rank_buckets(segments, col, thresholds):
    """Number of thresholds each value's average rank exceeds, per segment.

    Parameters
    ----------
    segments : Segments
        The date segments.
    col : ndarray of shape (n_rows,)
        One column, rows in segment order; NaN is not ranked.
    thresholds : ndarray of shape (n_thresholds, n_segments)
        Rank thresholds ``R`` (see :func:`fraction_thresholds`), in any order.

    Returns
    -------
    bucket : ndarray of int16, shape (n_rows,)
        ``sum_k [rank > R_k]`` for each row in segment order, -1 where ``col``
        is NaN.
    """
    col = np.asarray(col, dtype=np.float64)
    thresholds = np.atleast_2d(np.asarray(thresholds, dtype=np.float64))
    if segments.n_rows and segments.grid_fits:
        return _threshold_buckets(segments, col, thresholds)
    return _rank_buckets(segments, col, thresholds)


def _rank_buckets(segments, col, thresholds):
    ranks = rank(segments, col)  # NaN ranks above no threshold
    bucket = np.where(np.isnan(col), -1, 0).astype(np.int16)
    for R in thresholds:
        bucket += segments.broadcast(np.greater, ranks, R)
    return bucket


def _threshold_buckets(segments, col, thresholds):
    """:func:`rank_buckets` from each segment's sorted row of the padded grid.

    Buys 2-4x on QuantilePortfolioFactor.fit over ranking every value: a sort
    of each grid row (short rows, no segment key, no argsort) gives each
    threshold's order statistic, then one pass in cache-sized blocks compares
    every value with all thresholds. A value ranks above ``R`` when it is
    above the order statistic ``t`` at 0-based position ``floor(R)``; a value
    equal to ``t`` when the average rank of its run of ties does. So each
    threshold becomes one cut ``s`` with ``rank > R  <=>  x >= s``.
    """
    n = segments.count(col)
    ranked = segments.to_grid(col, np.nan, copy=True)
    ranked.sort(axis=1)  # NaN and padding last
    cuts = np.array([_cut(ranked, n, R) for R in thresholds]).reshape(-1, len(n))
    grid = segments.to_grid(col, np.nan)  # a view when balanced: read only
    bucket = np.empty(grid.shape, dtype=np.int16)
    step = max(1, 2**15 // max(grid.shape[1], 1))  # grid rows per block
    flags = np.empty((step, grid.shape[1]), dtype=bool)
    for start in range(0, grid.shape[0], step):
        x, b = grid[start : start + step], bucket[start : start + step]
        f = flags[: len(x)]
        np.negative(np.isnan(x, out=f), out=b, dtype=np.int16)  # NaN: -1
        for s in cuts[:, start : start + step, None]:
            b += np.greater_equal(x, s, out=f)
    return segments.from_grid(bucket)


def _cut(ranked, n, R):
    """Per row, the ``s`` with ``rank > R  <=>  x >= s`` (``ranked``: sorted rows)."""
    rows = np.arange(ranked.shape[0])
    pos = np.floor(R).astype(np.intp)
    everyone, nobody = pos < 0, pos >= n
    t = ranked[rows, np.clip(pos, 0, ranked.shape[1] - 1)]
    # Ties with t start before position floor(R) only where the value before
    # it equals it; there the run's average rank decides.
    before = ranked[rows, np.clip(pos - 1, 0, ranked.shape[1] - 1)]
    suspect = np.flatnonzero((before == t) & (pos > 0) & ~nobody)
    s = t.copy()
    if len(suspect):
        run = ranked[suspect]
        below = np.count_nonzero(run < t[suspect, None], axis=1)
        n_tied = np.count_nonzero(run == t[suspect, None], axis=1)
        drop = suspect[~(average_rank(below, n_tied) > R[suspect])]
        s[drop] = np.nextafter(t[drop], np.inf)  # equal to t: not above
    s[everyone] = -np.inf
    s[nobody] = np.nan  # never above
    return s


def bucket_means(
    segments, bucket, n_buckets, values=None, weights=None, *, segment_of_row=None
):
    """Weighted mean of ``values`` in each (segment, bucket), NaN values ignored.

    Parameters
    ----------
    segments : Segments
        The date segments.
    bucket : ndarray of int, shape (n_rows,)
        Bucket of each sorted row in ``range(n_buckets)``; -1 leaves it out.
    n_buckets : int
        Number of buckets.
    values : ndarray of shape (n_rows,), optional
        Sorted values to average; rows where they are NaN are left out of the
        mean. None computes the weight totals only.
    weights : ndarray of shape (n_rows,), optional
        Non-negative sorted weights (equal weights when None), not NaN where
        ``bucket >= 0``.
    segment_of_row : ndarray of shape (n_rows,), optional
        ``segments.segment_of_row``, when the caller has it already.

    Returns
    -------
    mean : ndarray of shape (n_segments, n_buckets) or None
        The weighted means of the non-NaN values (NaN where a bucket holds no
        weight).
    total : ndarray of shape (n_segments, n_buckets)
        The sum of the weights of each bucket's rows, with or without a value.
    """
    shape = (segments.n_segments, n_buckets)
    size = shape[0] * shape[1]
    if segment_of_row is None:
        segment_of_row = segments.segment_of_row
    # Rows left out go to one extra bin, dropped at the end: no compaction.
    code = segment_of_row * n_buckets + bucket
    code[bucket < 0] = size
    total = np.bincount(code, weights=weights, minlength=size + 1)[:size]
    total = total.astype(np.float64, copy=False).reshape(shape)
    if values is None:
        return None, total
    missing = np.isnan(values)
    have = total
    if missing.any():
        code[missing] = size
        have = np.bincount(code, weights=weights, minlength=size + 1)[:size]
        have = have.reshape(shape)
    weighted = values if weights is None else values * weights
    num = np.bincount(code, weights=weighted, minlength=size + 1)[:size]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num.reshape(shape) / have
    return mean, total
