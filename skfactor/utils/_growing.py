"""An append-only array that grows without copying what is there.

The per-date histories that ``partial_fit`` extends (a cross-sectional or
rolling model's estimates by date, a covariance's regime statistic) append
one date's rows to it: the rows already there are copied only when the
capacity doubles, a constant amortised cost per date.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GrowingArray"]


class GrowingArray:
    """Rows appended along the first axis; :attr:`values` is a view of them.

    The first rows are held as given (no slack; never written to). An append
    writes into the spare capacity, and copies the rows there only when it
    is full (it doubles: a constant amortised cost per row), when the new
    rows are wider (a listing: ``fill`` in the earlier rows' new columns) or
    of a wider type, or when another holder of the buffer wrote past these
    rows: it returns a new holder and leaves this one as it was (a model's
    shallow copy may hold it). Pickled without the slack; unpickled with
    room for a quarter more (a daily job that loads, updates and saves
    copies on the load only).
    """

    __slots__ = ("_data", "_end", "_n")

    def __init__(self, rows: np.ndarray) -> None:
        self._data = np.asarray(rows)
        self._n = len(self._data)
        self._end = [self._n]  # how far any holder wrote the buffer

    def append(self, rows: np.ndarray, fill: float = np.nan) -> GrowingArray:
        """These rows followed by ``rows`` (a new holder)."""
        data, n, k = self._data, self._n, len(rows)
        out = GrowingArray.__new__(GrowingArray)
        out._data, out._n, out._end = data, n + k, self._end
        dtype, full = np.result_type(data, rows), n + k > len(data)
        wider = rows.shape[1:] != data.shape[1:]
        if full or wider or dtype != data.dtype or self._end[0] != n:
            capacity = max(2 * len(data) if full else len(data), n + k)
            out._data = np.empty((capacity, *rows.shape[1:]), dtype)
            if wider:
                out._data[:n] = fill
            out._data[(slice(n), *map(slice, data.shape[1:]))] = data[:n]
            out._end = [n]
        out._data[n : n + k] = rows
        out._end[0] = n + k
        return out

    @property
    def values(self) -> np.ndarray:
        return self._data[: self._n]

    @property
    def capacity(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return self._n

    def __getstate__(self):
        return self.values

    def __setstate__(self, values):
        n = len(values)
        self._data = np.empty((n + max(n // 4, 16), *values.shape[1:]), values.dtype)
        self._data[:n] = values
        self._n, self._end = n, [n]
