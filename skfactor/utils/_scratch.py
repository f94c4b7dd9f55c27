"""Scratch arrays reused from one piece of a computation to the next.

Two ways to lend them: :class:`Scratch` by name (a sweep's few block-sized
arrays), :class:`Arena` one after the other from a few large blocks (a
kernel's many temporaries, taken back at each piece). Either way a piece
allocates nothing once the first is done: where a process keeps no freed
memory (a distributed worker), every new array over 128 KiB is mapped and
page-faulted afresh.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["HEAP", "Arena", "Scratch"]

_ALIGN = 8  # 8-byte items: every array starts on a 64-byte line
_BLOCK = 1 << 19  # items of a block (4 MiB: numpy asks for huge pages from there)


class Scratch:
    """Scratch arrays reused from one block of a sweep to the next.

    malloc maps a fresh array of a block's size (0.2-2 MiB) anew each time,
    and its pages fault in on first write: reusing them buys 1.1-1.2x on the
    winsorize + z-score kernels. ``scratch(name, shape, dtype)`` is the
    ``name``d array, of at least ``shape[0]`` rows, cut to ``shape``.
    """

    def __init__(self):
        self._arrays = {}

    def __call__(self, name, shape, dtype=np.float64):
        key = (name, np.dtype(dtype))
        have = self._arrays.get(key)
        if have is None or have.shape[0] < shape[0] or have.shape[1:] != shape[1:]:
            have = self._arrays[key] = np.empty(shape, dtype)
        return have[: shape[0]]


class Arena:
    """A bump allocator of numpy arrays for a loop over pieces of the same size.

    :meth:`empty` hands out views of a few float64 blocks of memory, one
    after the other; :meth:`reset` (at the start of each piece) takes them
    all back. A block is added when the others are full, so after the
    largest piece nothing more is allocated: the blocks are reused piece
    after piece, in the same order.

    What it buys: where a process keeps no freed memory (a Dask worker runs
    with ``MALLOC_TRIM_THRESHOLD_=65536``, which pins glibc's mmap threshold
    at 128 KiB), every temporary array over 128 KiB is mapped and
    page-faulted afresh, 4 KiB at a time; the blocks are faulted once.
    Reused arrays are also warm in the cache.
    """

    def __init__(self, block=_BLOCK):
        self._block = block  # items of a new block, at least
        self._blocks = []
        self._at = (0, 0)  # (block, item) of the next array

    def reset(self):
        """Take back every array handed out (they must no longer be used)."""
        self._at = (0, 0)

    def empty(self, shape, dtype=np.float64):
        """An uninitialised array of ``shape`` and ``dtype`` (C-contiguous)."""
        dtype = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        size = math.prod(shape)
        items = -(-size * dtype.itemsize // 8)
        items += -items % _ALIGN
        b, start = self._at
        while b < len(self._blocks) and start + items > len(self._blocks[b]):
            b, start = b + 1, 0  # the rest of a full block stays unused
        if b == len(self._blocks):  # as large as all the others: a few blocks
            held = sum(len(x) for x in self._blocks)
            self._blocks.append(np.empty(max(items, self._block, held)))
        self._at = (b, start + items)
        block = self._blocks[b][start : start + items]
        return block.view(dtype)[:size].reshape(shape)

    def zeros(self, shape, dtype=np.float64):
        """:meth:`empty`, filled with zeros."""
        out = self.empty(shape, dtype)
        out[...] = 0
        return out

    def mark(self):
        """The position to :meth:`release` to."""
        return self._at

    def release(self, mark):
        """Take back the arrays handed out since ``mark`` (:meth:`mark`)."""
        self._at = mark


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
