"""Per-date segment kernels: sort the rows by date once, then work on segments.

Every per-date (or per date-and-group) statistic in skfactor is computed here.
A :class:`Segments` object remembers the permutation that puts the rows in date
order and where each date's block starts; its kernels take arrays already in that
sorted order, reduce each block with ``np.*.reduceat`` or a padded
``(n_segments, max_size)`` layout, and :meth:`Segments.unsort` gives results
back in the caller's row order.
"""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["Segments"]

# Above this many padded cells per row the padded layout wastes too much memory
# and the kernels fall back to one lexicographic sort.
_MAX_PADDING_RATIO = 4.0
# Rows per block in Segments.blocks: a block of one float column (2 MiB) and
# its temporaries stay in the CPU cache.
_BLOCK_ROWS = 2**18


def _smallest_uint(n):
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


class Segments:
    """Rows partitioned into contiguous blocks (one per date, or date and group).

    Parameters
    ----------
    codes : ndarray of shape (n_rows,)
        Segment number of each row, in the caller's row order, with every value
        in ``range(n_segments)`` used at least once.
    n_segments : int
        Number of segments.

    Examples
    --------
    >>> import numpy as np
    >>> from skfactor.panel import Segments
    >>> seg = Segments([1, 0, 1, 0, 1], n_segments=2)  # each row's date
    >>> x = np.array([10.0, 1.0, 30.0, 3.0, np.nan])
    >>> xs = seg.sort(x)  # date 0's rows first, then date 1's
    >>> xs
    array([ 1.,  3., 10., 30., nan])
    >>> seg.nansum(xs), seg.count(xs)
    (array([ 4., 40.]), array([2, 2]))
    >>> seg.unsort(seg.rank(xs))  # per-date rank, back in the caller's order
    array([ 1.,  1.,  2.,  2., nan])
    """

    def __init__(self, codes, n_segments):
        codes = np.asarray(codes, dtype=np.intp)
        self.codes = codes  # segment of each row, caller's order
        self.n_rows = len(codes)
        self.n_segments = int(n_segments)
        self.sizes = np.bincount(codes, minlength=self.n_segments)
        self.bounds = np.zeros(self.n_segments + 1, dtype=np.intp)
        np.cumsum(self.sizes, out=self.bounds[1:])
        if self.n_rows < 2 or bool(np.all(codes[1:] >= codes[:-1])):
            self.order = None
        else:
            # A stable sort on the narrowest integer type numpy radix-sorts.
            narrow = codes.astype(_smallest_uint(self.n_segments))
            self.order = np.argsort(narrow, kind="stable")
        self._dense_index = None
        self._blocks = None
        self._local = threading.local()  # scratch buffers, one set per thread

    @classmethod
    def single(cls, n_rows):
        """All rows in one segment: a cross-section without dates."""
        return cls(np.zeros(n_rows, dtype=np.intp), 1 if n_rows else 0)

    # ------------------------------------------------------------------ layout
    @property
    def starts(self):
        return self.bounds[:-1]

    @property
    def max_size(self):
        return int(self.sizes.max()) if self.n_segments else 0

    @property
    def segment_of_row(self):
        """Segment number of each row, in sorted order."""
        return np.repeat(np.arange(self.n_segments), self.sizes)

    def sort(self, a, out=None):
        """Rows of ``a`` (caller's order) in segment order (``a`` itself if sorted)."""
        a = np.asarray(a)
        # mode="clip": the indices are valid, and numpy buffers `out` otherwise.
        return (
            a
            if self.order is None
            else np.take(a, self.order, axis=0, out=out, mode="clip")
        )

    def unsort(self, a, out=None):
        """Rows of ``a`` (segment order) back in the caller's order."""
        if self.order is None:
            if out is not None:
                out[...] = a
                return out
            return a
        if out is None:
            out = np.empty_like(a)
        out[self.order] = a
        return out

    def expand(self, per_segment):
        """Repeat a per-segment array to one row per sorted row."""
        return np.repeat(per_segment, self.sizes, axis=0)

    @property
    def is_balanced(self):
        """Every segment has the same size: sorted rows reshape to a grid."""
        return self.n_rows == self.n_segments * self.max_size

    def broadcast(self, fn, col, *per_segment, out=None):
        """``fn(col, *per_segment)`` with each per-segment array matched to its rows.

        On a balanced panel the sorted column is viewed as an (n_segments,
        max_size) grid and the per-segment arrays broadcast along its rows, so no
        row-length temporary is made for them; otherwise they are repeated.
        """
        if self.is_balanced and self.n_rows:
            shape = (self.n_segments, self.max_size)
            args = [np.asarray(p)[:, None] for p in per_segment]
            grid_out = None if out is None else out.reshape(shape)
            result = fn(col.reshape(shape), *args, out=grid_out)
            return result.reshape(-1)
        return fn(col, *(self.expand(p) for p in per_segment), out=out)

    def apply(self, fn, x, *per_segment, out=None):
        """Like :meth:`broadcast`, for ``x`` in the **caller's** row order.

        Per-segment results (computed on the sorted rows) are applied to the
        unsorted column directly through each row's segment number, which
        saves scattering a sorted result back.
        """
        if self.order is None:
            return self.broadcast(fn, x, *per_segment, out=out)
        # Each row's value gathered from the small per-segment table into a
        # reused buffer (a fresh row-length array per call costs page faults).
        rows = [
            np.take(p, self.codes, out=self.buffer(f"apply{i}"), mode="clip")
            for i, p in enumerate(per_segment)
        ]
        return fn(x, *rows, out=out)

    def buffer(self, name, shape=None, dtype=np.float64):
        """A scratch array kept for reuse (one row per sorted row by default).

        Fresh large arrays cost page faults on first touch; the per-column loops
        of the transformers reuse these instead. Each thread has its own pool
        (the transformers work on columns in parallel with ``n_jobs``), shared
        with the :meth:`blocks` of these segments: a buffer is a view of the
        front of the largest array asked for under its name. The caller owns
        the contents only until its next call for the same ``name``.
        """
        shape = (self.n_rows,) if shape is None else shape
        size = math.prod(shape)
        pool = self._local.__dict__.setdefault("buffers", {})
        key = (name, np.dtype(dtype))
        buf = pool.get(key)
        if buf is None or buf.size < size:
            buf = pool[key] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    # ------------------------------------------------------------------ blocks
    def blocks(self, max_rows=None):
        """Consecutive runs of whole segments of about ``max_rows`` rows each.

        Yields ``(rows, block)``: the slice of the sorted rows a run covers and
        a :class:`Segments` for it (which shares this object's scratch
        buffers). A column is a few times larger than the CPU cache; running a
        chain of per-segment kernels block by block keeps each block's
        intermediate arrays in the cache (see :meth:`blockwise`).
        """
        if self.n_segments == 0:
            return
        # The block each segment starts in.
        key = self.starts // (max_rows or _BLOCK_ROWS)
        cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
        for first, last in zip(
            np.r_[0, cuts], np.r_[cuts, self.n_segments], strict=True
        ):
            sizes = self.sizes[first:last]
            block = Segments(np.repeat(np.arange(len(sizes)), sizes), len(sizes))
            block._local = self._local
            yield slice(self.bounds[first], self.bounds[last]), block

    def _block_list(self):
        if self._blocks is None:
            self._blocks = list(self.blocks())
        return self._blocks

    def blockwise(self, fn, *columns):
        """``fn(block, *columns)`` over :meth:`blocks`, per-segment results joined.

        ``fn`` takes a :class:`Segments` and sorted columns (each sliced to the
        block's rows; None stays None) and returns a tuple of per-segment
        arrays; the result is that tuple for all segments.
        """
        blocks = self._block_list()
        if len(blocks) <= 1:
            return fn(self, *columns)
        parts = [
            fn(block, *(None if c is None else c[rows] for c in columns))
            for rows, block in blocks
        ]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def map_blocks(self, stats, fn, x, *columns, out):
        """Per-segment ``stats`` of sorted ``columns``, then ``fn`` on ``x``'s rows.

        ``out = fn(x, *stats(...), out=out)`` with each per-segment statistic
        matched to its rows (as :meth:`apply`), ``x`` and ``out`` in the
        caller's row order. When the rows are already in segment order, each
        block is finished while it is in the cache; otherwise the statistics
        are computed :meth:`blockwise` and applied in one pass.
        """
        if self.order is not None:
            self.apply(fn, x, *self.blockwise(stats, *columns), out=out)
            return out
        for rows, block in self._block_list():
            per_segment = stats(
                block, *(None if c is None else c[rows] for c in columns)
            )
            block.broadcast(fn, x[rows], *per_segment, out=out[rows])
        return out

    # ------------------------------------------------------------ reductions
    def sum(self, a):
        """Per-segment sum of the sorted rows of ``a`` (NaN propagates)."""
        a = np.asarray(a)
        if self.n_rows == 0:
            return np.zeros((self.n_segments, *a.shape[1:]), dtype=a.dtype)
        return np.add.reduceat(a, self.starts, axis=0)

    def isnan(self, a):
        """``np.isnan`` of one sorted column, into a reused buffer."""
        return np.isnan(a, out=self.buffer("nan", dtype=bool))

    def count(self, a, nan=None):
        """Per-segment number of non-NaN values of the sorted rows of ``a``.

        ``nan``, for one column, is its :meth:`isnan` if the caller has it.
        """
        a = np.asarray(a)
        if self.n_rows == 0:
            return np.zeros((self.n_segments, *a.shape[1:]), dtype=np.intp)
        if a.ndim == 1:
            # NaN positions are sorted: count them per segment by bisection.
            nan = np.flatnonzero(self.isnan(a) if nan is None else nan)
            return self.sizes - np.diff(np.searchsorted(nan, self.bounds))
        return np.add.reduceat(~np.isnan(a), self.starts, axis=0, dtype=np.intp)

    def nansum(self, a, nan=None):
        """Per-segment sum of the non-NaN values of one sorted column."""
        filled = self.buffer("nansum")
        np.copyto(filled, a)
        np.copyto(filled, 0.0, where=self.isnan(a) if nan is None else nan)
        return self.sum(filled)

    def nanmean(self, a, nan=None):
        """Per-segment mean of the non-NaN values and their count."""
        nan = self.isnan(a) if nan is None else nan
        n = self.count(a, nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.nansum(a, nan) / n, n

    def nanmin(self, a):
        return self._reduce(np.fmin, a)

    def nanmax(self, a):
        return self._reduce(np.fmax, a)

    def _reduce(self, ufunc, a):
        a = np.asarray(a, dtype=float)
        if self.n_rows == 0:
            return np.full((self.n_segments, *a.shape[1:]), np.nan)
        return ufunc.reduceat(a, self.starts, axis=0)

    # ------------------------------------------------------- order statistics
    def _dense_positions(self):
        """Flat positions of the sorted rows in a padded (n_segments, max_size) grid."""
        if self._dense_index is None:
            within = np.arange(self.n_rows) - self.expand(self.starts)
            self._dense_index = self.segment_of_row * self.max_size + within
        return self._dense_index

    def _padding_ok(self):
        return self.n_segments * self.max_size <= _MAX_PADDING_RATIO * max(
            self.n_rows, 1
        )

    def to_dense(self, col, fill):
        """One sorted column laid out as (n_segments, max_size), padded with ``fill``.

        A balanced panel already in date order is reshaped without a copy
        (``fill`` is then never needed).
        """
        shape = (self.n_segments, self.max_size)
        if self.is_balanced:
            return col.reshape(shape)
        dense = np.full(shape, fill, dtype=float)
        dense.reshape(-1)[self._dense_positions()] = col
        return dense

    def from_dense(self, dense):
        """Inverse of :meth:`to_dense`: the sorted column again."""
        if self.is_balanced:
            return dense.reshape(-1)
        return dense.reshape(-1)[self._dense_positions()]

    def order_statistics(self, col, low_k=None, high_k=None, n_valid=None):
        """Per-segment order statistics of one sorted column, NaN ignored.

        Parameters
        ----------
        col : ndarray of shape (n_rows,)
            One column, rows in segment order.
        low_k : ndarray of int, shape (n_segments,), optional
            0-based position from the bottom: ``low_k[s] = 0`` is the minimum of
            segment ``s``'s non-NaN values.
        high_k : ndarray of int, shape (n_segments,), optional
            0-based position from the top: ``high_k[s] = 0`` is the maximum.
        n_valid : ndarray of int, shape (n_segments,), optional
            :meth:`count` of ``col``, if the caller has it.

        Returns
        -------
        low, high : ndarray of shape (n_segments,) or None
            The requested order statistics (NaN for a segment whose position is
            out of range, e.g. one with no non-NaN values).

        Notes
        -----
        The column is copied once into a padded (n_segments, max_size) grid and
        partitioned once: the low statistic sits at grid column ``low_k``, the
        high one at ``max_size - 1 - high_k``. NaN cells and padding take a
        per-segment value ``c`` (the mean when both sides are asked for) that
        must sort between the two statistics; the rare segment where it does not
        (``low >= c`` or ``high <= c``) is recomputed one side at a time.
        """
        if low_k is None and high_k is None:  # e.g. Winsorizer(limits=0)
            return None, None
        if n_valid is None:
            n_valid = self.count(col)
        if not self._padding_ok():
            return self._order_statistics_lexsort(col, low_k, high_k, n_valid)
        tails = self._tail_order_statistics(col, low_k, high_k, n_valid)
        if tails is not None:
            return tails
        return self._partition_order_statistics(col, low_k, high_k, n_valid)

    def _partition_order_statistics(self, col, low_k, high_k, n_valid):
        width = self.max_size
        rows = np.arange(self.n_segments)
        padded = n_valid < width
        if high_k is None:
            c = np.full(self.n_segments, np.inf)
        elif low_k is None:
            c = np.full(self.n_segments, -np.inf)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                c = self.nansum(col) / n_valid
            c = np.where(np.isfinite(c), c, 0.0)
        grid = self._fill_grid(col, c)
        wanted = []
        for k, from_top in ((low_k, False), (high_k, True)):
            if k is not None:
                k = np.asarray(k, dtype=np.intp)
                ok = (k >= 0) & (k < n_valid)
                wanted.append((ok, np.where(ok, width - 1 - k if from_top else k, 0)))
        kth = np.unique(np.concatenate([pos for _, pos in wanted]))
        if len(kth) <= 8:
            grid.partition(kth, axis=1)
        else:
            grid.sort(axis=1)
        out = [np.where(ok, grid[rows, pos], np.nan) for ok, pos in wanted]
        if low_k is None:
            return None, out[0]
        if high_k is None:
            return out[0], None
        lo, hi = out
        redo_low = padded & (lo >= c)
        redo_high = padded & (hi <= c)
        if redo_low.any():
            lo = np.where(
                redo_low, self.order_statistics(col, low_k, None, n_valid)[0], lo
            )
        if redo_high.any():
            hi = np.where(
                redo_high, self.order_statistics(col, None, high_k, n_valid)[1], hi
            )
        return lo, hi

    def _tail_order_statistics(self, col, low_k, high_k, n_valid):
        """Order statistics near the ends of each segment, from a few candidates.

        Winsorizing at 1 % needs the 1st and 99th percentile order statistics:
        partitioning every value for them is most of the work. Instead each
        segment's values are dealt into ``n_blocks`` interleaved blocks and
        each block's maximum taken (one pass). For the ``k``-th largest value
        (0-based), the ``k``-th largest block maximum ``t`` is a lower bound:
        the ``k + 1`` largest block maxima are ``k + 1`` values at or above
        it. So the values at or above ``t`` (a few more than ``k + 1``) hold
        the answer; one comparison pass keeps them and they are sorted. The
        same with minima from the bottom. Exact; a segment with fewer non-NaN
        blocks than ``k + 1`` is sorted whole. Returns None where the wanted
        positions are not near the ends (then partitioning is as cheap).
        """
        width = self.max_size
        n_blocks = 256  # a row of block extremes sorts in numpy's small-array path
        sides = [
            (k, top) for k, top in ((low_k, False), (high_k, True)) if k is not None
        ]
        k_max = max(int(np.max(k, initial=0)) for k, _ in sides)
        n_min = int(n_valid.min()) if len(n_valid) else 0
        if width < 2 * n_blocks or (k_max + 1) * 20 > n_min:
            return None
        grid = self.to_dense(col, np.nan)  # a view when balanced: read only
        n_rows, per_block = grid.shape[0], width // n_blocks
        dealt = grid[:, : per_block * n_blocks].reshape(n_rows, per_block, n_blocks)
        rest = grid[:, per_block * n_blocks :]  # fewer than n_blocks: one more each
        rows = np.arange(n_rows)
        keep = self.buffer("keep", grid.shape, dtype=bool)
        past = self.buffer("past", grid.shape, dtype=bool)
        limits = []
        for i, (k, top) in enumerate(sides):
            k = np.asarray(k, dtype=np.intp)
            ufunc = np.fmax if top else np.fmin  # NaN only where a block is all NaN
            extremes = ufunc.reduce(dealt, axis=1)
            ufunc(extremes[:, : rest.shape[1]], rest, out=extremes[:, : rest.shape[1]])
            extremes.sort(axis=1)  # NaN last
            m = n_blocks - np.count_nonzero(np.isnan(extremes), axis=1)
            found = (k >= 0) & (k < m)
            t = extremes[rows, np.where(found, m - 1 - k if top else k, 0)]
            with np.errstate(invalid="ignore"):
                compare = np.greater_equal if top else np.less_equal
                compare(grid, t[:, None], out=keep if i == 0 else past)
            if i:
                np.logical_or(keep, past, out=keep)
            limits.append((k, top, found))
        counts = np.count_nonzero(keep, axis=1)
        values = grid[keep]  # row by row
        cand = np.full((n_rows, int(counts.max(initial=0))), np.nan)
        within = np.arange(len(values))
        within -= np.repeat(np.cumsum(counts) - counts, counts)
        cand[np.repeat(rows, counts), within] = values
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

    def _fill_grid(self, col, fill):
        """Copy ``col`` into a reused (n_segments, max_size) scratch grid.

        NaN cells and padding get ``fill`` (one value per segment).
        """
        shape = (self.n_segments, self.max_size)
        grid = self.buffer("grid", shape)
        fill = fill[:, None]
        if self.is_balanced:
            np.copyto(grid, col.reshape(shape))
        else:
            np.copyto(grid, fill)
            grid.reshape(-1)[self._dense_positions()] = col
        np.copyto(grid, fill, where=np.isnan(grid))
        return grid

    def _order_statistics_lexsort(self, col, low_k, high_k, n_valid):
        seg = self.segment_of_row
        order = np.lexsort((col, seg))  # NaN last within each segment
        ranked = col[order]
        out = []
        for k, from_top in ((low_k, False), (high_k, True)):
            if k is None:
                out.append(None)
                continue
            k = np.asarray(k, dtype=np.intp)
            ok = (k >= 0) & (k < n_valid)
            pos = self.starts + np.where(from_top, n_valid - 1 - k, k)
            out.append(np.where(ok, ranked[np.where(ok, pos, 0)], np.nan))
        return tuple(out)

    def median(self, col):
        """Per-segment median of the non-NaN values of one sorted column."""
        n = self.count(col)
        # The (n-1)//2-th from the bottom and from the top: the two middle values.
        lo, hi = self.order_statistics(col, (n - 1) // 2, (n - 1) // 2, n)
        return 0.5 * (lo + hi)

    def rank(self, col):
        """Per-segment average rank (1-based, ties averaged) of one sorted column.

        NaN gets NaN, as :meth:`pandas.Series.rank` does. Each segment is sorted
        on its own in the padded (n_segments, max_size) grid (short rows sort
        several times faster than one lexicographic sort of the whole column).
        """
        if self.n_rows == 0 or not self._padding_ok():
            return self._rank_lexsort(col)
        shape = (self.n_segments, self.max_size)
        if np.isposinf(col).any():
            grid = self.to_dense(col, np.nan)  # NaN and padding sort last
        else:
            # +inf sorts last too, and numpy's SIMD argsort is faster without NaN.
            grid = self._fill_grid(col, np.full(self.n_segments, np.inf))
        order = np.argsort(grid, axis=1)
        rows = np.arange(shape[0])[:, None]
        v = grid[rows, order]
        # A run of ties starts at each row's first cell and where the value
        # changes (NaN != NaN: each NaN is its own run, overwritten below).
        new_run = np.empty(shape, dtype=bool)
        new_run[:, 0] = True
        np.not_equal(v[:, 1:], v[:, :-1], out=new_run[:, 1:])
        run_start = np.flatnonzero(new_run)
        run_len = np.diff(np.append(run_start, new_run.size))
        avg = run_start % shape[1] + 1 + (run_len - 1) / 2.0
        ranks = np.empty(shape)
        ranks[rows, order] = np.repeat(avg, run_len).reshape(shape)
        ranks = self.from_dense(ranks)
        ranks[np.isnan(col)] = np.nan
        return ranks

    def _rank_lexsort(self, col):
        seg = self.segment_of_row
        order = np.lexsort((col, seg))
        v = col[order]
        s = seg[order]
        n = len(v)
        ranks = np.empty(n)
        if n == 0:
            return ranks
        # A new run starts where the segment or the value changes.
        new_run = np.empty(n, dtype=bool)
        new_run[0] = True
        np.not_equal(v[1:], v[:-1], out=new_run[1:])
        new_run[1:] |= s[1:] != s[:-1]
        run_start = np.flatnonzero(new_run)
        run_len = np.diff(np.append(run_start, n))
        position = np.arange(1, n + 1) - self.expand(self.starts)[order]
        first = position[run_start]
        avg = first + (run_len - 1) / 2.0
        ranks[order] = np.repeat(avg, run_len)
        ranks[np.isnan(col)] = np.nan
        return ranks
