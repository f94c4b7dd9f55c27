"""Rows grouped by date: sort once, reduce each date's block, unsort.

Every per-date (or per date-and-group) statistic in skfactor is computed on
segments. A :class:`Segments` object remembers the permutation that puts the
rows in date order and where each date's block starts; its reductions take
arrays already in that order (``np.*.reduceat`` over the blocks), and
:meth:`Segments.unsort` gives results back in the caller's row order. Order
statistics live in :mod:`skfactor.panel._order_stats`, ranks in
:mod:`skfactor.panel._ranks`.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from skfactor.utils._scratch import Scratch

__all__ = ["CACHE_CELLS", "Segments", "row_counts"]

# Cells per block of the blocked passes (2 MiB of float64): a block and its
# temporaries stay in the cache, and a block is large enough that numpy's
# per-call overhead does not count.
CACHE_CELLS = 2**18

# Above this many padded cells per row the (n_segments, max_size) grid wastes
# too much memory: order statistics and ranks then take one lexicographic sort.
_MAX_PADDING_RATIO = 4.0


def _smallest_uint(n):
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


@contextmanager
def row_buffers(width):
    """Keep numpy's ufunc buffer below two grid rows of ``width`` cells.

    With a buffer of two rows or more (numpy's default holds 8,192 values), an
    operation broadcasting one value per row (``grid - mean[:, None]``, a
    clip at per-row caps) is buffered, its per-row operand copied out: half
    the speed of the same operation row by row (2x on 3,000-asset rows).
    """
    old = np.getbufsize()
    np.setbufsize(max(16, min(old, (2 * width - 1) // 16 * 16)))
    try:
        yield
    finally:
        np.setbufsize(old)


def row_counts(grid, nan=None):
    """Number of non-NaN values in each row of a 2-D float array.

    ``nan``, ``np.isnan(grid)``, if the caller has it.
    """
    # Summing the NaN mask's bytes into a narrow integer is 4x faster than
    # np.count_nonzero(axis=1), which widens every byte to an intp first.
    width = grid.shape[1]
    dtype = np.uint16 if width < 2**16 else np.uint64
    nan = (np.isnan(grid) if nan is None else nan).view(np.uint8)
    return width - np.add.reduce(nan, axis=1, dtype=dtype).astype(np.intp)


class Segments:
    """Rows partitioned into contiguous blocks (one per date, or date and group).

    Parameters
    ----------
    codes : ndarray of shape (n_rows,)
        Segment number of each row, in the caller's row order, with every value
        in ``range(n_segments)`` used at least once.
    n_segments : int
        Number of segments.
    within : ndarray of shape (n_rows,), optional
        A key that orders the rows inside each segment (e.g. each row's date
        number, for segments that are assets); without it they keep the
        caller's relative order.

    Examples
    --------
    >>> import numpy as np
    >>> from skfactor.panel._segments import Segments
    >>> seg = Segments([1, 0, 1, 0, 1], n_segments=2)  # each row's date
    >>> x = np.array([10.0, 1.0, 30.0, 3.0, np.nan])
    >>> xs = seg.sort(x)  # date 0's rows first, then date 1's
    >>> xs
    array([ 1.,  3., 10., 30., nan])
    >>> seg.nansum(xs), seg.count(xs)
    (array([ 4., 40.]), array([2, 2]))
    >>> seg.unsort(xs - seg.expand(seg.nanmin(xs)))  # back in the caller's order
    array([ 0.,  0., 20.,  2., nan])
    """

    def __init__(self, codes, n_segments, within=None):
        codes = np.asarray(codes, dtype=np.intp)
        self.codes = codes  # segment of each row, caller's order
        self.n_rows = len(codes)
        self.n_segments = int(n_segments)
        in_order = self.n_rows < 2 or bool(np.all(codes[1:] >= codes[:-1]))
        self.bounds = np.zeros(self.n_segments + 1, dtype=np.intp)
        if in_order and self.n_rows:
            # Sorted codes: each segment's first row by bisection, no count.
            self.bounds[:-1] = codes.searchsorted(np.arange(self.n_segments))
            self.bounds[-1] = self.n_rows
            self.sizes = np.diff(self.bounds)
        else:
            self.sizes = np.bincount(codes, minlength=self.n_segments)
            np.cumsum(self.sizes, out=self.bounds[1:])
        if within is not None:
            order = np.lexsort((within, codes))
            sorted_already = self.n_rows < 2 or bool(np.all(order[1:] > order[:-1]))
            self.order = None if sorted_already else order
        elif in_order:
            self.order = None
        else:
            # A stable sort on the narrowest integer type numpy radix-sorts.
            narrow = codes.astype(_smallest_uint(self.n_segments))
            self.order = np.argsort(narrow, kind="stable")
        self._grid_index = None
        self._max_size = None

    @classmethod
    def single(cls, n_rows):
        """All rows in one segment: a cross-section without dates."""
        return cls(np.zeros(n_rows, dtype=np.intp), 1 if n_rows else 0)

    # ------------------------------------------------------------ permutation
    @property
    def starts(self):
        return self.bounds[:-1]

    @property
    def max_size(self):
        if self._max_size is None:
            self._max_size = int(self.sizes.max()) if self.n_segments else 0
        return self._max_size

    @property
    def segment_of_row(self):
        """Segment number of each row, in sorted order."""
        return np.repeat(np.arange(self.n_segments), self.sizes)

    def sort(self, a):
        """Rows of ``a`` (caller's order) in segment order (``a`` itself if sorted)."""
        a = np.asarray(a)
        return a if self.order is None else np.take(a, self.order, axis=0)

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

    def broadcast(self, fn, col, *per_segment, out=None):
        """``fn(col, *per_segment)`` with each per-segment array matched to its rows.

        ``col`` is in segment order. On a balanced panel it is viewed as the
        (n_segments, max_size) grid and the per-segment arrays broadcast along
        its rows, so no row-length temporary is made for them. With ``out``,
        ``fn`` runs on a block of segments at a time (see :meth:`apply`).
        """
        if out is None:
            if self.is_balanced and self.n_rows:
                shape = (self.n_segments, self.max_size)
                args = [np.asarray(p)[:, None] for p in per_segment]
                return fn(col.reshape(shape), *args).reshape(-1)
            return fn(col, *(self.expand(p) for p in per_segment))
        per_segment = [np.asarray(p) for p in per_segment]
        for segs in self.blocks():
            self._block_apply(fn, col, segs, [p[segs] for p in per_segment], out)
        return out

    def _block_apply(self, fn, col, segs, per_segment, out):
        """:meth:`broadcast` on the rows of the segments ``segs`` (a slice) only."""
        first, stop = self.bounds[segs.start], self.bounds[segs.stop]
        if self.is_balanced:
            shape = (segs.stop - segs.start, self.max_size)
            args = [p[:, None] for p in per_segment]
            grid_out = out[first:stop].reshape(shape)
            fn(col[first:stop].reshape(shape), *args, out=grid_out)
        else:
            sizes = self.sizes[segs]
            args = [np.repeat(p, sizes) for p in per_segment]
            fn(col[first:stop], *args, out=out[first:stop])

    def sweep(self, x, stats, fn, out, xs=None, n_args=None, scratch=None):
        """Per-segment statistics of ``x`` and ``out = fn(x, *statistics)``.

        ``x`` is in the caller's row order. ``stats(grid, grid_out, scratch)`` takes
        rows of the padded grid (padding NaN; a read-only view when balanced)
        and returns a tuple of arrays with one value per row; it is called on
        a cache-sized block of segments at a time (:meth:`blocks`). On a panel
        sorted by segment ``stats`` writes ``fn``'s result into ``grid_out``
        itself (it may reuse its temporaries: 1.2x on the z-score): the same
        rows of ``out`` when balanced, else a scratch grid whose rows are then
        gathered into ``out`` (no row-length copy of the statistics). On a
        shuffled panel ``grid_out`` is None and ``fn`` is applied after the
        last block, in the caller's order (:meth:`apply`). Returns the
        statistics, each of shape (n_segments,). ``xs``, ``self.sort(x)``, if
        the caller has it; ``n_args``: ``fn`` takes only that many of the
        statistics, the first ones (None: all); ``scratch``, a
        :class:`Scratch` to reuse (one per thread, across columns).
        """
        xs = self.sort(x) if xs is None else xs
        scratch = Scratch() if scratch is None else scratch
        with row_buffers(self.max_size):
            found = self._sweep_blocks(xs, stats, out, scratch)
        if not found:  # no rows: the statistics' dtypes from an empty grid
            found.append(stats(np.empty((0, 0)), None, scratch))
        result = tuple(np.concatenate(p) for p in zip(*found, strict=True))
        if self.order is not None:
            self.apply(fn, x, *result[:n_args], out=out, scratch=scratch)
        return result

    def _sweep_blocks(self, xs, stats, out, scratch):
        """:meth:`sweep`'s statistics, block by block (``fn`` written when sorted)."""
        found = []
        for segs in self.blocks():
            first, stop = self.bounds[segs.start], self.bounds[segs.stop]
            within = None if self.is_balanced else self._block_positions(segs, scratch)
            grid = self.block_grid(xs, segs, scratch=scratch, within=within)
            if self.order is not None:
                grid_out = None
            elif within is None:
                grid_out = out[first:stop].reshape(grid.shape)
            else:
                grid_out = scratch("out", grid.shape)
            found.append(stats(grid, grid_out, scratch))
            if grid_out is not None and within is not None:
                # mode="clip": "raise" (the default) fills a copy of ``out``.
                np.take(grid_out.reshape(-1), within, out=out[first:stop], mode="clip")
        return found

    def apply(self, fn, x, *per_segment, out=None, scratch=None):
        """Like :meth:`broadcast`, for ``x`` in the **caller's** row order.

        Each row takes its segment's values through its segment number, which
        saves scattering a sorted result back. With ``out`` this is done a
        block of rows at a time: a ``fn`` of several passes (subtract, then
        divide) reads its operands from the cache, and no row-length copy of
        the per-segment values is made (their blocks are taken into
        ``scratch``'s arrays, see :class:`Scratch`).
        """
        if self.order is None:
            return self.broadcast(fn, x, *per_segment, out=out)
        if out is None:
            return fn(x, *(np.take(p, self.codes) for p in per_segment))
        scratch = Scratch() if scratch is None else scratch
        for start in range(0, self.n_rows, CACHE_CELLS):
            rows = slice(start, start + CACHE_CELLS)
            codes = self.codes[rows]
            taken = [
                # mode="clip": "raise" (the default) would fill a copy of ``out``.
                np.take(
                    p, codes, out=scratch(f"take{i}", codes.shape, p.dtype), mode="clip"
                )
                for i, p in enumerate(per_segment)
            ]
            fn(x[rows], *taken, out=out[rows])
        return out

    # ------------------------------------------------------------ padded grid
    @property
    def is_balanced(self):
        """Every segment has the same size: sorted rows reshape to a grid."""
        return self.n_rows == self.n_segments * self.max_size

    @property
    def grid_fits(self):
        """The (n_segments, max_size) grid is at most a few times the rows."""
        cells = self.n_segments * self.max_size
        return cells <= _MAX_PADDING_RATIO * max(self.n_rows, 1)

    def to_grid(self, col, fill, copy=False):
        """One sorted column as (n_segments, max_size), padding set to ``fill``.

        A balanced column is reshaped without a copy unless ``copy``.
        """
        grid = self.block_grid(col, slice(0, self.n_segments), fill)
        return grid.copy() if copy and self.is_balanced else grid

    def blocks(self, cells=None):
        """Runs of whole segments, about ``cells`` grid cells each, as slices.

        ``cells`` defaults to :data:`CACHE_CELLS`: a block's grid rows and
        their temporaries stay in the cache.
        """
        cells = CACHE_CELLS if cells is None else cells
        step = max(1, cells // max(self.max_size, 1))
        return [
            slice(s, min(s + step, self.n_segments))
            for s in range(0, self.n_segments, step)
        ]

    def block_grid(self, col, segs, fill=np.nan, scratch=None, within=None):
        """The segments ``segs`` (a slice) of sorted ``col`` as padded grid rows.

        A view of ``col`` when the panel is balanced (read only), else a new
        (n, max_size) array with the padding set to ``fill`` (``scratch``'s
        ``"grid"`` if given, see :class:`Scratch`). ``within``, the rows'
        :meth:`_block_positions`, if the caller has them.
        """
        first, stop = self.bounds[segs.start], self.bounds[segs.stop]
        width = self.max_size
        if self.is_balanced:
            return col[first:stop].reshape(segs.stop - segs.start, width)
        shape = (segs.stop - segs.start, width)
        grid = np.empty(shape) if scratch is None else scratch("grid", shape)
        grid[...] = fill
        if within is None:
            within = self._block_positions(segs, scratch)
        grid.reshape(-1)[within] = col[first:stop]
        return grid

    def _block_positions(self, segs, scratch=None):
        """Flat positions of the rows of segments ``segs`` in their grid block."""
        first, stop = self.bounds[segs.start], self.bounds[segs.stop]
        offset = segs.start * self.max_size
        positions = self._grid_positions()[first:stop]
        if scratch is None:
            return positions - offset
        within = scratch("within", positions.shape, positions.dtype)
        return np.subtract(positions, offset, out=within)

    def from_grid(self, grid):
        """Inverse of :meth:`to_grid`: the sorted column again."""
        if self.is_balanced:
            return grid.reshape(-1)
        return grid.reshape(-1)[self._grid_positions()]

    def _grid_positions(self):
        """Each sorted row's flat position in the padded grid.

        ``segment * max_size + rank within the segment``, made as the running
        sum of its steps (one row-length array): 1 from row to row, and from
        the last row of a segment to the first of the next the rest of its
        grid row plus the empty grid rows in between.
        """
        if self._grid_index is None:
            steps = np.ones(self.n_rows, dtype=np.intp)
            if self.n_rows:
                used = np.flatnonzero(self.sizes)
                starts, ends = self.starts[used], self.bounds[used + 1] - 1
                steps[0] = used[0] * self.max_size
                jump = np.diff(used) * self.max_size - (ends - starts)[:-1]
                steps[starts[1:]] = jump
            self._grid_index = np.cumsum(steps, out=steps)
        return self._grid_index

    # ------------------------------------------------------------- reductions
    def sum(self, a):
        """Per-segment sum of the sorted rows of ``a`` (NaN propagates)."""
        a = np.asarray(a)
        if self.n_rows == 0:
            return np.zeros((self.n_segments, *a.shape[1:]), dtype=a.dtype)
        return np.add.reduceat(a, self.starts, axis=0)

    def count(self, a, nan=None):
        """Per-segment number of non-NaN values of the sorted rows of ``a``.

        ``nan``, for one column, is its ``np.isnan`` if the caller has it.
        """
        a = np.asarray(a)
        if self.n_rows == 0:
            return np.zeros((self.n_segments, *a.shape[1:]), dtype=np.intp)
        if a.ndim == 1:
            # NaN positions are sorted: count them per segment by bisection.
            nan = np.flatnonzero(np.isnan(a) if nan is None else nan)
            return self.sizes - np.diff(np.searchsorted(nan, self.bounds))
        return np.add.reduceat(~np.isnan(a), self.starts, axis=0, dtype=np.intp)

    def nansum(self, a, nan=None, out=None):
        """Per-segment sum of the non-NaN values of one sorted column.

        ``out`` (``a``'s shape), if given, receives the NaN-zeroed copy that is
        summed: a caller with a scratch column saves a row-sized temporary.
        """
        nan = np.isnan(a) if nan is None else nan
        if out is None:
            return self.sum(np.where(nan, 0.0, a))
        np.copyto(out, a)
        np.copyto(out, 0.0, where=nan)
        return self.sum(out)

    def nanmin(self, a):
        """Per-segment minimum of the non-NaN values (NaN where there are none)."""
        return self._reduce(np.fmin, a)

    def nanmax(self, a):
        """Per-segment maximum of the non-NaN values (NaN where there are none)."""
        return self._reduce(np.fmax, a)

    def _reduce(self, ufunc, a):
        a = np.asarray(a, dtype=float)
        if self.n_rows == 0:
            return np.full((self.n_segments, *a.shape[1:]), np.nan)
        return ufunc.reduceat(a, self.starts, axis=0)
