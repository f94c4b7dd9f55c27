"""Per-date segment kernels: sort the rows by date once, then work on segments.

Every per-date (or per date-and-group) statistic in skfactor is computed here.
A :class:`Segments` object remembers the permutation that puts the rows in date
order and where each date's block starts; its kernels take arrays already in that
sorted order, reduce each block with ``np.*.reduceat`` or a padded
``(n_segments, max_size)`` layout, and :meth:`Segments.unsort` gives results
back in the caller's row order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Segments"]

# Above this many padded cells per row the padded layout wastes too much memory
# and the kernels fall back to one lexicographic sort.
_MAX_PADDING_RATIO = 4.0


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
    """

    def __init__(self, codes, n_segments):
        codes = np.asarray(codes, dtype=np.intp)
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

    def sort(self, a):
        """Rows of ``a`` (caller's order) in segment order."""
        a = np.asarray(a)
        return a if self.order is None else a[self.order]

    def unsort(self, a):
        """Rows of ``a`` (segment order) back in the caller's order."""
        if self.order is None:
            return a
        out = np.empty_like(a)
        out[self.order] = a
        return out

    def expand(self, per_segment):
        """Repeat a per-segment array to one row per sorted row."""
        return np.repeat(per_segment, self.sizes, axis=0)

    # ------------------------------------------------------------ reductions
    def sum(self, a):
        """Per-segment sum of the sorted rows of ``a`` (NaN propagates)."""
        a = np.asarray(a)
        if self.n_rows == 0:
            return np.zeros((self.n_segments, *a.shape[1:]), dtype=a.dtype)
        return np.add.reduceat(a, self.starts, axis=0)

    def count(self, a):
        """Per-segment number of non-NaN values of the sorted rows of ``a``."""
        return self.sum(~np.isnan(a)).astype(np.intp)

    def nanmean(self, a):
        """Per-segment mean of the non-NaN values; NaN where there are none."""
        n = self.count(a)
        s = self.sum(np.where(np.isnan(a), 0.0, a))
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / n, n

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
        if self.n_rows == self.n_segments * self.max_size:
            return col.reshape(shape)
        dense = np.full(shape, fill, dtype=float)
        dense.reshape(-1)[self._dense_positions()] = col
        return dense

    def from_dense(self, dense):
        """Inverse of :meth:`to_dense`: the sorted column again."""
        if self.n_rows == dense.size:
            return dense.reshape(-1)
        return dense.reshape(-1)[self._dense_positions()]

    def order_statistics(self, col, low_k=None, high_k=None):
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

        Returns
        -------
        low, high : ndarray of shape (n_segments,) or None
            The requested order statistics (NaN for a segment whose position is
            out of range, e.g. one with no non-NaN values).
        """
        if not self._padding_ok():
            return self._order_statistics_lexsort(col, low_k, high_k)
        n_valid = self.count(col)
        out = []
        width = self.max_size
        for k, fill, from_top in ((low_k, np.inf, False), (high_k, -np.inf, True)):
            if k is None:
                out.append(None)
                continue
            k = np.asarray(k, dtype=np.intp)
            ok = (k >= 0) & (k < n_valid)
            # NaN becomes +inf (for the bottom) or -inf (for the top) so that it
            # sorts past every real value on the side being read.
            dense = self.to_dense(col, fill)
            if np.shares_memory(dense, col):
                dense = dense.copy()  # partitioned in place below
            np.copyto(dense, fill, where=np.isnan(dense))
            pos = np.where(ok, width - 1 - k if from_top else k, 0)
            kth = np.unique(pos)
            if len(kth) <= 16:
                dense.partition(kth, axis=1)
            else:
                dense.sort(axis=1)
            stat = dense[np.arange(self.n_segments), pos]
            out.append(np.where(ok, stat, np.nan))
        return tuple(out)

    def _order_statistics_lexsort(self, col, low_k, high_k):
        seg = self.segment_of_row
        order = np.lexsort((col, seg))  # NaN last within each segment
        ranked = col[order]
        n_valid = self.count(col)
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
        lo, _ = self.order_statistics(col, low_k=(n - 1) // 2)
        hi, _ = self.order_statistics(col, low_k=n // 2)
        return 0.5 * (lo + hi)

    def rank(self, col):
        """Per-segment average rank (1-based, ties averaged) of one sorted column.

        NaN gets NaN, as :meth:`pandas.Series.rank` does.
        """
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
