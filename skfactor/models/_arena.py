"""Scratch arrays carved from one buffer, reused piece after piece of a computation."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Arena", "HEAP"]

_ALIGN = 8  # 8-byte items: every array starts on a 64-byte line


class Arena:
    """A bump allocator of numpy arrays for a loop over pieces of the same size.

    :meth:`empty` hands out views of one float64 buffer, one after the
    other; :meth:`reset` (at the start of each piece) takes them all back.
    The buffer grows at a reset to the most the previous pieces used
    (arrays asked beyond it meanwhile are allocated apart), so from the
    second piece on a piece allocates nothing.

    What it buys: where a process keeps no freed memory (a Dask worker runs
    with ``MALLOC_TRIM_THRESHOLD_=65536``, which pins glibc's mmap threshold
    at 128 KiB), every temporary array over 128 KiB is mapped and
    page-faulted afresh, 4 KiB at a time; one buffer of a few MiB (numpy
    asks for huge pages from 4 MiB) is faulted once. Reused arrays are also
    warm in the cache.
    """

    def __init__(self):
        self._buf = np.empty(0)
        self._top = 0
        self._most = 0

    def reset(self):
        """Take back every array handed out (they must no longer be used)."""
        if self._most > len(self._buf):
            self._buf = np.empty(self._most)
        self._top = 0

    def empty(self, shape, dtype=np.float64):
        """An uninitialised array of ``shape`` and ``dtype`` (C-contiguous)."""
        dtype = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        size = math.prod(shape)
        items = -(-size * dtype.itemsize // 8)
        start, self._top = self._top, self._top + items + -items % _ALIGN
        self._most = max(self._most, self._top)
        if self._top > len(self._buf):
            return np.empty(shape, dtype)
        return self._buf[start : start + items].view(dtype)[:size].reshape(shape)

    def zeros(self, shape, dtype=np.float64):
        """:meth:`empty`, filled with zeros."""
        out = self.empty(shape, dtype)
        out[...] = 0
        return out

    def mark(self):
        """The position to :meth:`release` to."""
        return self._top

    def release(self, mark):
        """Take back the arrays handed out since ``mark`` (:meth:`mark`)."""
        self._top = mark


class _Heap:
    """:class:`Arena`'s interface on plain numpy allocations (for small arrays)."""

    @staticmethod
    def empty(shape, dtype=np.float64):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype=np.float64):
        return np.zeros(shape, dtype)

    @staticmethod
    def mark():
        return 0

    @staticmethod
    def release(mark):
        pass


HEAP = _Heap()
