"""The per-date history of a cross-sectional fit, grown by appends without copies.

:class:`DateHistory` is what :class:`~skfactor.CrossSectionalFactorModel`
keeps: each date's estimates and :class:`DateMoments`, in buffers whose
capacity doubles when full (an update of one date writes one row; the rows
already there are copied only when the capacity doubles, a constant amortised
cost per date), and the fixed-size pooled Gram matrix of the collinearity
check. The fitted attributes are views of the buffers. The per-date
inference (``bse_``, ``tvalues_``, ``pvalues_``, ``diagnostics_``), once
read, is kept the same way: a read after an update computes the new dates'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.models._date_diagnostics import DateMoments, date_inference

__all__ = ["DateHistory", "GrowingRows"]


class GrowingRows:
    """An array grown along its first axis; :attr:`values` is a view of its rows.

    The first rows are copied to a buffer of exactly their size (a fit carries
    no slack); an append that does not fit doubles the capacity. Pickled, only
    the rows are stored; unpickled, they get room for a quarter more (the
    load copies them anyway, so that a job that restarts every day does not
    copy them again in its update).
    """

    __slots__ = ("_data", "_n")

    def __init__(self, rows: np.ndarray) -> None:
        self._data = np.array(rows)
        self._n = len(self._data)

    def append(self, rows: np.ndarray) -> None:
        n, k = self._n, len(rows)
        if n + k > len(self._data):
            shape = (max(2 * len(self._data), n + k), *self._data.shape[1:])
            grown = np.empty(shape, dtype=np.result_type(self._data, rows))
            grown[:n] = self._data[:n]
            self._data = grown
        self._data[n : n + k] = rows
        self._n = n + k

    @property
    def values(self) -> np.ndarray:
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n

    def __getstate__(self):
        return self.values

    def __setstate__(self, values):
        n = len(values)
        self._data = np.empty((n + max(n // 4, 16), *values.shape[1:]), values.dtype)
        self._data[:n] = values
        self._n = n


class _GrowingIndex:
    """A date index grown by appends: a buffer of its values when they are numpy.

    Extension dtypes (time zones, periods, strings) are appended as an index
    (a copy of the labels, 8 bytes or so a date); a RangeIndex (one
    cross-section) stays one.
    """

    def __init__(self, index: pd.Index) -> None:
        self.name, self.dtype = index.name, index.dtype
        self._rows = None
        self._index = index  # the index of the rows (a cache, with rows)
        if isinstance(index.dtype, np.dtype) and not isinstance(index, pd.RangeIndex):
            self._rows = GrowingRows(index.to_numpy())

    def append(self, index: pd.Index) -> None:
        if self._rows is None or index.dtype != self.dtype:
            self._index = self.index.append(index)
            self._rows = None
        else:
            self._rows.append(index.to_numpy())
            self._index = None

    @property
    def index(self) -> pd.Index:
        if self._index is None:
            # numpy values (dates, numbers) give their own index type back
            dtype = self.dtype if self.dtype == object else None
            values = self._rows.values
            self._index = pd.Index(values, dtype=dtype, name=self.name, copy=False)
        return self._index

    def __getstate__(self):
        index = None if self._rows is not None else self._index
        return {**vars(self), "_index": index}


# The DateMoments fields kept per date (the others are the fit's, one value).
_PER_DATE = DateMoments._fields[:9]


class DateHistory:
    """Each fitted date's estimates and moments, and the pooled Gram matrix.

    Parameters
    ----------
    part : DateFits
        The first block of dates.
    settings : tuple
        The parameters the per-date fits depend on; an update with others is
        refused.
    pooled : tuple or None
        ``(gram, scale)``: the pooled Gram matrix of the estimable dates so
        far, in common units, or None.
    """

    def __init__(self, part, settings, pooled):
        self.settings = settings
        self.names = part.names
        self.pooled = pooled
        self.n_rows = part.n_rows
        self.panel, self.weighted = part.panel, part.weighted
        self.dates = _GrowingIndex(part.dates)
        self.params = GrowingRows(part.params)
        mom = part.moments
        self.centered, self.may_be_absent = mom.centered, mom.may_be_absent
        self.moments_rows = {
            name: GrowingRows(getattr(mom, name))
            for name in _PER_DATE
            if getattr(mom, name) is not None
        }
        # The inference of the first dates, once read: (condition_number, rows).
        self.inferred = None

    def append(self, part, pooled):
        """Add a later block of dates (checked by the caller)."""
        self.dates.append(part.dates)
        self.params.append(part.params)
        for name, rows in self.moments_rows.items():
            rows.append(getattr(part.moments, name))
        self.pooled = pooled
        self.n_rows += part.n_rows

    def __len__(self) -> int:
        return len(self.params)

    @property
    def index(self) -> pd.Index:
        return self.dates.index

    def moments(self, start: int = 0) -> DateMoments:
        """The :class:`DateMoments` of the dates from ``start`` (views)."""
        rows = {name: kept.values[start:] for name, kept in self.moments_rows.items()}
        return DateMoments(
            *(rows.get(name) for name in _PER_DATE),
            self.centered,
            self.may_be_absent,
        )

    def inference(self, params: pd.DataFrame, condition_number: bool) -> dict:
        """``bse_``, ``tvalues_``, ``pvalues_``, ``diagnostics_`` of every date.

        Each date's are its own (:func:`date_inference`): those of the dates
        read before are kept, and only the dates added since are computed
        (all of them when ``condition_number`` changed).
        """
        done = 0
        if self.inferred is not None and self.inferred[0] == condition_number:
            done = len(next(iter(self.inferred[1].values())))
        if done < len(self):
            new = date_inference(
                self.moments(done), params.iloc[done:], condition_number
            )
            arrays = {}  # the diagnostics by column: each keeps its dtype
            for name, frame in new.items():
                if name == "diagnostics_":
                    arrays.update({(name, c): frame[c].to_numpy() for c in frame})
                else:
                    arrays[name, None] = frame.to_numpy()
            if done:
                for key, rows in self.inferred[1].items():
                    rows.append(arrays[key])
            else:
                self.inferred = (
                    condition_number,
                    {key: GrowingRows(values) for key, values in arrays.items()},
                )
        rows = {key: value.values for key, value in self.inferred[1].items()}
        out = {
            name: pd.DataFrame(
                rows[name, None], index=params.index, columns=params.columns, copy=False
            )
            for name in ("bse_", "tvalues_", "pvalues_")
        }
        table = {column: rows[name, column] for name, column in rows if column}
        out["diagnostics_"] = pd.DataFrame(table, index=params.index)
        return out

    def params_frame(self, columns: pd.Index) -> pd.DataFrame:
        """``params_``: a DataFrame on a view of the estimates (no copy)."""
        return pd.DataFrame(
            self.params.values, index=self.index, columns=columns, copy=False
        )
