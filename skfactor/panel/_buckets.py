"""Per-date rank buckets and bucket means: the kernels of the quantile portfolios.

An asset's bucket on a date is the number of rank thresholds its average rank
(1-based, ties averaged, as :meth:`pandas.Series.rank`) exceeds. A threshold
``R`` splits a date's ranks into ``rank <= R`` and ``rank > R``:

- ``top_n=k``: ``R = k`` (the ``k`` smallest below it) and ``R = n - k``;
- a fraction ``c`` of the cross-section: ``rank / n > c`` computed in float64,
  exactly as ``pandas.Series.rank(pct=True) > c`` does.

Membership is found without ranking every asset: an asset is above ``R`` when
its value is above the order statistic at 0-based position ``floor(R)``, and a
value tied with that order statistic is above when its average rank is. One
partition (or sort) of a padded (date x asset) grid replaces the lexicographic
sort of a full rank.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bucket_means", "count_valid", "fraction_thresholds", "rank_buckets"]

# Up to this many distinct order-statistic positions, partition instead of sort.
_MAX_PARTITION_KTH = 8


def _per_row(segments, fn, col, per_segment):
    """``fn(col, per_segment matched to its rows)``, without repeating on a grid."""
    shape = (segments.n_segments, segments.max_size)
    if segments.n_rows and segments.n_rows == shape[0] * shape[1]:
        return fn(col.reshape(shape), np.asarray(per_segment)[:, None]).reshape(-1)
    return fn(col, segments.expand(per_segment))


def _count_true(segments, mask):
    """Per-segment number of True values of a sorted boolean array."""
    shape = (segments.n_segments, segments.max_size)
    if segments.n_rows and segments.n_rows == shape[0] * shape[1]:
        return np.count_nonzero(mask.reshape(shape), axis=1)
    return segments.sum(mask)


def count_valid(segments, col):
    """Per-segment number of non-NaN values of one sorted column."""
    return _count_true(segments, ~np.isnan(col))


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


def rank_buckets(segments, col, thresholds, n=None):
    """Number of thresholds each value's average rank exceeds, per segment.

    Parameters
    ----------
    segments : Segments
        The date segments.
    col : ndarray of shape (n_rows,)
        One column, rows in segment order; NaN is not ranked.
    thresholds : ndarray of shape (n_thresholds, n_segments)
        Rank thresholds ``R`` (see :func:`fraction_thresholds`), in any order.
    n : ndarray of int, shape (n_segments,), optional
        ``segments.count(col)``, when the caller has it already.

    Returns
    -------
    bucket : ndarray of int16, shape (n_rows,)
        ``sum_k [rank > R_k]`` for each row in segment order, -1 where ``col``
        is NaN.
    """
    col = np.asarray(col, dtype=np.float64)
    thresholds = np.atleast_2d(np.asarray(thresholds, dtype=np.float64))
    valid = ~np.isnan(col)
    bucket = np.where(valid, 0, -1).astype(np.int16)
    if segments.n_rows == 0 or not valid.any():
        return bucket
    if not segments._padding_ok():
        ranks = segments.rank(col)
        for R in thresholds:
            bucket += _per_row(segments, np.greater, ranks, R)
        return bucket
    grid = segments.to_dense(col, np.nan)
    if np.shares_memory(grid, col):
        grid = grid.copy()
    if n is None:
        n = _count_true(segments, valid)
    width = grid.shape[1]
    rows = np.arange(segments.n_segments)
    floors = np.floor(thresholds).astype(np.intp)
    at = np.clip(floors, 0, width - 1)
    # NaN (and padding) go last, as in a sort; a few order statistics need only
    # a partition around them (a balanced panel has one position per threshold).
    kth = np.unique(at)
    if len(kth) <= _MAX_PARTITION_KTH:
        grid.partition(kth, axis=1)
    else:
        grid.sort(axis=1)
    for R, pos, at_k in zip(thresholds, floors, at, strict=True):
        everyone = pos < 0
        nobody = pos >= n
        t = grid[rows, at_k]
        # Every value above t ranks above R, every value below t does not. A
        # value equal to t ranks above R unless values tied with t start before
        # position ``pos`` and their average rank is at most R.
        above = _per_row(segments, np.greater_equal, col, t)
        below = n - _count_true(segments, above)
        suspect = (below < pos) & ~everyone & ~nobody
        if suspect.any():
            equal = _per_row(segments, np.equal, col, t)
            n_equal = _count_true(segments, equal)
            drop = suspect & ~(below + (n_equal + 1) / 2.0 > R)
            if drop.any():
                above &= ~(equal & segments.expand(drop))
        if everyone.any():
            above |= segments.expand(everyone) & valid
        if nobody.any():
            above &= ~segments.expand(nobody)
        bucket += above
    return bucket


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
