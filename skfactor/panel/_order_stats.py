"""Per-segment order statistics (winsorizing caps, medians), NaN ignored.

The plain path sorts the whole column once by (segment, value). Where the
padded (n_segments, max_size) grid fits in memory (every panel but the most
unbalanced), each segment is partitioned on its own row of the grid instead,
and the caps near the ends of wide segments come from block extremes.
"""

from __future__ import annotations

import numpy as np

from skfactor.panel._segments import CACHE_CELLS
from skfactor.panel._validation import InfiniteValues
from skfactor.utils._scratch import Scratch

__all__ = ["median", "order_statistics", "row_order_statistics"]

# Up to this many distinct grid columns, partition the grid instead of sorting it.
MAX_PARTITION_KTH = 8
# Values dealt into this many blocks per segment by the tail path: a row of
# block extremes sorts in numpy's small-array path.
_N_BLOCKS = 256


def order_statistics(segments, col, low_k=None, high_k=None, n_valid=None):
    """Per-segment order statistics of one sorted column, NaN ignored.

    Parameters
    ----------
    segments : Segments
        The date segments.
    col : ndarray of shape (n_rows,)
        One column, rows in segment order.
    low_k : ndarray of int, shape (n_segments,), optional
        0-based position from the bottom: ``low_k[s] = 0`` is the minimum of
        segment ``s``'s non-NaN values.
    high_k : ndarray of int, shape (n_segments,), optional
        0-based position from the top: ``high_k[s] = 0`` is the maximum.
    n_valid : ndarray of int, shape (n_segments,), optional
        ``segments.count(col)``, if the caller has it.

    Returns
    -------
    low, high : ndarray of shape (n_segments,) or None
        The requested order statistics (NaN for a segment whose position is
        out of range, e.g. one with no non-NaN values).
    """
    if low_k is None and high_k is None:  # e.g. Winsorizer(limits=0)
        return None, None
    if n_valid is None:
        n_valid = segments.count(col)
    if not segments.grid_fits:
        return _lexsort_order_statistics(segments, col, low_k, high_k, n_valid)
    tails = _tail_order_statistics(segments, col, low_k, high_k, n_valid)
    if tails is not None:
        return tails
    return _partition_order_statistics(segments, col, low_k, high_k, n_valid)


def median(segments, col):
    """Per-segment median of the non-NaN values of one sorted column."""
    n = segments.count(col)
    # The (n-1)//2-th from the bottom and from the top: the two middle values.
    lo, hi = order_statistics(segments, col, (n - 1) // 2, (n - 1) // 2, n)
    return 0.5 * (lo + hi)


def _lexsort_order_statistics(segments, col, low_k, high_k, n_valid):
    order = np.lexsort((col, segments.segment_of_row))  # NaN last in a segment
    ranked = col[order]
    out = []
    for k, from_top in ((low_k, False), (high_k, True)):
        if k is None:
            out.append(None)
            continue
        k = np.asarray(k, dtype=np.intp)
        ok = (k >= 0) & (k < n_valid)
        pos = segments.starts + np.where(from_top, n_valid - 1 - k, k)
        out.append(np.where(ok, ranked[np.where(ok, pos, 0)], np.nan))
    return tuple(out)


def _partition_order_statistics(segments, col, low_k, high_k, n_valid):
    """Each segment partitioned on its row of the padded grid."""
    return _partition_rows(segments.to_grid(col, np.nan), low_k, high_k, n_valid)


def _partition_rows(source, low_k, high_k, n_valid):
    """Order statistics of each row of a padded grid (NaN: missing), by partition.

    ``source`` is read, not modified. NaN cells and padding take a per-row value ``c``
    (the mean when both sides are asked for) that must sort between the two
    statistics, so that both sit at fixed grid columns (``low_k`` and
    ``width - 1 - high_k``) and one partition finds them; the rare row where
    ``c`` does not sort between them (``low >= c`` or ``high <= c``) is redone
    one side at a time.
    """
    n_seg, width = source.shape
    low_k, high_k = (
        None if k is None else np.asarray(k, np.intp) for k in (low_k, high_k)
    )
    nan = np.isnan(source)
    if high_k is None:
        c = np.full(n_seg, np.inf)
    elif low_k is None:
        c = np.full(n_seg, -np.inf)
    else:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            c = np.where(nan, 0.0, source).sum(axis=1) / n_valid
        c = np.where(np.isfinite(c), c, 0.0)
    grid = np.where(nan, c[:, None], source)
    wanted = []
    for k, from_top in ((low_k, False), (high_k, True)):
        if k is not None:
            ok = (k >= 0) & (k < n_valid)
            wanted.append((ok, np.where(ok, width - 1 - k if from_top else k, 0)))
    kth = np.unique(np.concatenate([pos for _, pos in wanted]))
    if len(kth) <= MAX_PARTITION_KTH:
        grid.partition(kth, axis=1)
    else:
        grid.sort(axis=1)
    rows = np.arange(n_seg)
    out = [np.where(ok, grid[rows, pos], np.nan) for ok, pos in wanted]
    if low_k is None:
        return None, out[0]
    if high_k is None:
        return out[0], None
    lo, hi = out
    padded = n_valid < width
    redo_low, redo_high = padded & (lo >= c), padded & (hi <= c)
    if redo_low.any():
        one = _partition_rows(
            source[redo_low], low_k[redo_low], None, n_valid[redo_low]
        )
        lo[redo_low] = one[0]
    if redo_high.any():
        one = _partition_rows(
            source[redo_high], None, high_k[redo_high], n_valid[redo_high]
        )
        hi[redo_high] = one[1]
    return lo, hi


def row_order_statistics(
    grid, low_k, high_k, n_valid, scratch=None, check_finite=False
):
    """Order statistics of each row of a padded grid, NaN ignored.

    As :func:`order_statistics`, for rows of the (n_segments, max_size) grid
    (a block of dates, see :meth:`Segments.sweep`); ``grid`` is not modified.
    Positions near the ends of wide rows come from block extremes
    (:func:`_tail_rows`), the others from a partition of a copy. ``scratch``,
    a :class:`~skfactor.utils._scratch.Scratch`, lends the block-sized masks.
    With ``check_finite``, raise :class:`InfiniteValues` on ±inf in ``grid``
    (from the block extremes where both ends are asked for).
    """
    scratch = Scratch() if scratch is None else scratch
    asked = [k is not None for k in (low_k, high_k)]
    tails = any(asked) and _tails_apply(grid.shape[1], low_k, high_k, n_valid)
    if check_finite and not (tails and all(asked)):
        if np.isinf(grid, out=scratch("mask", grid.shape, bool)).any():
            raise InfiniteValues("`X` contains inf or -inf.")
    if not any(asked):
        return None, None
    if tails:
        return _tail_rows(grid, low_k, high_k, n_valid, scratch, check_finite)
    return _partition_rows(grid, low_k, high_k, n_valid)


def _tails_apply(width, low_k, high_k, n_valid):
    """Whether the block-extremes path pays: wide rows, positions near the ends."""
    k_max = max(int(np.max(k, initial=0)) for k in (low_k, high_k) if k is not None)
    n_min = int(n_valid.min()) if len(n_valid) else 0
    return width >= 2 * _N_BLOCKS and (k_max + 1) * 20 <= n_min


def _tail_order_statistics(segments, col, low_k, high_k, n_valid):
    """Order statistics near the ends of wide segments, from block extremes.

    Buys 1.5-2x on Winsorizer(limits=0.01) over partitioning every value.
    Each segment's values are dealt into ``n_blocks`` interleaved blocks and
    each block's maximum taken (one pass). For the ``k``-th largest value
    (0-based), the ``k``-th largest block maximum ``t`` is a lower bound: the
    ``k + 1`` largest block maxima are ``k + 1`` values at or above it. So the
    values at or above ``t`` (a few more than ``k + 1``) hold the answer; one
    comparison pass keeps them and they are sorted. The same with minima from
    the bottom. Exact; a segment with fewer non-NaN blocks than ``k + 1`` is
    sorted whole. Returns None where the wanted positions are not near the
    ends (then partitioning is as cheap).
    """
    if not _tails_apply(segments.max_size, low_k, high_k, n_valid):
        return None
    # Blocks of grid rows, so that the passes below read from the cache
    # (1.4x on the reference panel's caps over whole-grid passes).
    found, scratch = [], Scratch()
    for segs in segments.blocks(CACHE_CELLS):
        ks = [None if k is None else np.asarray(k)[segs] for k in (low_k, high_k)]
        grid = segments.block_grid(col, segs, scratch=scratch)
        found.append(_tail_rows(grid, *ks, n_valid[segs], scratch))
    sides = zip(*found, strict=True)
    return tuple(None if p[0] is None else np.concatenate(p) for p in sides)


def _kth_smallest(rows, k):
    """Each row's ``k[r]``-th smallest value (0-based, NaN last); rows sorted.

    NaN where ``k`` is out of range or past the row's non-NaN values (no
    count of them needed). numpy's sort of short rows beats a partition.
    """
    n_rows, width = rows.shape
    rows.sort(axis=1)
    value = rows[np.arange(n_rows), np.clip(k, 0, width - 1)]
    return np.where((k >= 0) & (k < width), value, np.nan)


def _tail_rows(grid, low_k, high_k, n_valid, scratch=None, check_inf=False):
    """:func:`_tail_order_statistics` on rows of the padded grid.

    With ``check_inf`` (both sides asked for), raise :class:`InfiniteValues`
    on ±inf in ``grid``, seen in the block extremes (each row's minimum and
    maximum are among them): a twelfth of the cells a check of ``grid``
    reads.
    """
    width, n_blocks = grid.shape[1], _N_BLOCKS
    sides = [(k, top) for k, top in ((low_k, False), (high_k, True)) if k is not None]
    n_rows, per_block = grid.shape[0], width // n_blocks
    dealt = grid[:, : per_block * n_blocks].reshape(n_rows, per_block, n_blocks)
    rest = grid[:, per_block * n_blocks :]  # fewer than n_blocks: one more each
    rows = np.arange(n_rows)
    scratch = Scratch() if scratch is None else scratch
    keep = scratch("keep", grid.shape, bool)
    past = scratch("past", grid.shape, bool)
    limits = []
    for i, (k, top) in enumerate(sides):
        k = np.asarray(k, dtype=np.intp)
        ufunc = np.fmax if top else np.fmin  # NaN only where a block is all NaN
        extremes = scratch("extremes", (n_rows, n_blocks))
        ufunc.reduce(dealt, axis=1, out=extremes)
        ufunc(extremes[:, : rest.shape[1]], rest, out=extremes[:, : rest.shape[1]])
        if check_inf and np.isinf(extremes).any():  # a row's minimum or maximum
            raise InfiniteValues("`X` contains inf or -inf.")
        if top:  # the k-th largest maximum is the k-th smallest of their negatives
            np.negative(extremes, out=extremes)
        t = _kth_smallest(extremes, k)  # NaN: fewer than k + 1 non-NaN blocks
        found = (k >= 0) & (t == t)
        t = -t if top else t
        with np.errstate(invalid="ignore"):
            compare = np.greater_equal if top else np.less_equal
            compare(grid, t[:, None], out=keep if i == 0 else past)
        if i:
            np.logical_or(keep, past, out=keep)
        limits.append((k, top, found))
    # The kept cells' positions, row by row (3x faster than counting each
    # row's and gathering them through the boolean mask).
    pos = np.flatnonzero(keep)
    values = grid.reshape(-1)[pos]
    row_of = pos // width
    counts = np.bincount(row_of, minlength=n_rows)
    cand = np.full((n_rows, int(counts.max(initial=0))), np.nan)
    within = np.arange(len(values)) - (np.cumsum(counts) - counts)[row_of]
    cand[row_of, within] = values
    cand.sort(axis=1)  # NaN (padding) last
    out = []
    for k, top, found in limits:
        # Candidates hold every value past t on this side, and at least
        # k + 1 of them: the wanted one is the k-th from that end.
        ok = (k >= 0) & (k < n_valid)
        stat = np.where(
            found,
            cand[rows, np.where(found, counts - 1 - k if top else k, 0)],
            np.nan,
        )
        redo = np.flatnonzero(ok & ~found)
        if len(redo):  # too few non-NaN blocks: sort those segments whole
            whole = grid[redo]
            np.copyto(whole, -np.inf if top else np.inf, where=np.isnan(whole))
            whole.sort(axis=1)
            stat[redo] = whole[
                np.arange(len(redo)), width - 1 - k[redo] if top else k[redo]
            ]
        out.append(stat)
    if low_k is None:
        return None, out[0]
    if high_k is None:
        return out[0], None
    return out[0], out[1]
