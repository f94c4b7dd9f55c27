"""Per-date rank buckets and bucket means: the kernels of the quantile portfolios.

An asset's bucket on a date is the number of rank thresholds its average rank
(1-based, ties averaged, as :meth:`pandas.Series.rank`) exceeds. A threshold
``R`` splits a date's ranks into ``rank <= R`` and ``rank > R``:

- ``top_n=k``: ``R = k`` (the ``k`` smallest below it) and ``R = n - k``;
- a fraction ``c`` of the cross-section: ``rank / n > c`` computed in float64,
  exactly as ``pandas.Series.rank(pct=True) > c`` does.

Membership is found without ranking every asset: with the date's values sorted,
an asset is above ``R`` when its value is above the order statistic at 0-based
position ``floor(R)``, and a value tied with that order statistic is above when
its average rank is. One sort per date (rows of a padded grid) replaces the
lexicographic sort of a full rank.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bucket_means", "fraction_thresholds", "rank_buckets"]


def _per_row(segments, fn, col, per_segment):
    """``fn(col, per_segment matched to its rows)``, without repeating on a grid."""
    shape = (segments.n_segments, segments.max_size)
    if segments.n_rows and segments.n_rows == shape[0] * shape[1]:
        return fn(col.reshape(shape), np.asarray(per_segment)[:, None]).reshape(-1)
    return fn(col, segments.expand(per_segment))


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
    grid = np.sort(grid, axis=1)  # NaN (and padding) last in each row
    n = segments.count(col)
    width = grid.shape[1]
    rows = np.arange(segments.n_segments)
    for R in thresholds:
        pos = np.floor(R).astype(np.intp)
        everyone = pos < 0
        nobody = pos >= n
        at = np.clip(pos, 0, width - 1)
        t = grid[rows, at]
        # An asset tied with the order statistic at ``pos`` is above R when its
        # average rank is; otherwise every asset >= t is above R and none below.
        before = grid[rows, np.maximum(at - 1, 0)]
        after = grid[rows, np.minimum(at + 1, width - 1)]
        tied = ((at > 0) & (before == t)) | ((at + 1 < n) & (after == t))
        tied &= ~everyone & ~nobody
        above = _per_row(segments, np.greater_equal, col, t)
        if tied.any():
            equal = _per_row(segments, np.equal, col, t)
            below = segments.sum(_per_row(segments, np.less, col, t))
            n_equal = segments.sum(equal)
            tie_above = below + (n_equal + 1) / 2.0 > R
            drop = tied & ~tie_above
            if drop.any():
                above &= ~(equal & segments.expand(drop))
        if everyone.any():
            above |= segments.expand(everyone) & valid
        if nobody.any():
            above &= ~segments.expand(nobody)
        bucket += above
    return bucket


def bucket_means(segments, bucket, n_buckets, values, weights=None):
    """Weighted mean of ``values`` in each (segment, bucket), NaN ignored.

    Parameters
    ----------
    segments : Segments
        The date segments.
    bucket : ndarray of int, shape (n_rows,)
        Bucket of each sorted row in ``range(n_buckets)``; -1 leaves it out.
    n_buckets : int
        Number of buckets.
    values : ndarray of shape (n_rows,) or None
        Sorted values to average; rows where they are NaN are left out. None
        gives the sums of the weights only.
    weights : ndarray of shape (n_rows,), optional
        Non-negative sorted weights (equal weights when None); rows where they
        are NaN are left out.

    Returns
    -------
    mean : ndarray of shape (n_segments, n_buckets) or None
        The weighted means (NaN where a bucket holds no weight).
    total : ndarray of shape (n_segments, n_buckets)
        The sum of the weights that entered each mean.
    """
    shape = (segments.n_segments, n_buckets)
    keep = bucket >= 0
    if values is not None:
        keep &= ~np.isnan(values)
    if weights is not None:
        keep &= ~np.isnan(weights)
    code = segments.segment_of_row[keep] * n_buckets + bucket[keep]
    size = shape[0] * shape[1]
    w = None if weights is None else weights[keep]
    total = np.bincount(code, weights=w, minlength=size).astype(np.float64)
    if values is None:
        return None, total.reshape(shape)
    v = values[keep] if w is None else values[keep] * w
    num = np.bincount(code, weights=v, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num / total
    return mean.reshape(shape), total.reshape(shape)
