"""The per-date history of a cross-sectional fit, grown by appends without copies.

:class:`DateHistory` is what :class:`~skfactor.CrossSectionalFactorModel`
keeps: each date's estimates and :class:`DateMoments`, in
:class:`GrowingArray` buffers (an update of one date writes one row; the rows
already there are copied only when the capacity doubles, a constant amortised
cost per date), and the fixed-size pooled Gram matrix of the collinearity
check. The fitted attributes are views of the buffers. The per-date
inference (``bse_``, ``tvalues_``, ``pvalues_``, ``diagnostics_``), once
read, is kept the same way: a read after an update computes the new dates'.
An update gives a new history (a model's shallow copy may hold the old one).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from skfactor.models._date_diagnostics import DateMoments, date_inference
from skfactor.utils._growing import GrowingArray

__all__ = ["DateHistory"]


class _GrowingIndex:
    """A date index grown by appends: a buffer of its values when they are numpy.

    Extension dtypes (time zones, periods, strings) are appended as an index
    (a copy of the labels, 8 bytes or so a date); a RangeIndex (one
    cross-section) stays one. :meth:`append` returns a new one.
    """

    def __init__(self, index: pd.Index) -> None:
        self.name, self.dtype = index.name, index.dtype
        numpy = isinstance(index.dtype, np.dtype) and not isinstance(
            index, pd.RangeIndex
        )
        self.rows = GrowingArray(index.to_numpy()) if numpy else index

    def append(self, index: pd.Index) -> _GrowingIndex:
        new = copy.copy(self)
        if isinstance(self.rows, GrowingArray) and index.dtype == self.dtype:
            new.rows = self.rows.append(index.to_numpy())
        else:
            new.rows = self.index.append(index)
        return new

    @property
    def index(self) -> pd.Index:
        if isinstance(self.rows, pd.Index):
            return self.rows
        # numpy values (dates, numbers) give their own index type back
        dtype = self.dtype if self.dtype == object else None
        return pd.Index(self.rows.values, dtype=dtype, name=self.name, copy=False)


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
        self.params = GrowingArray(part.params)
        mom = part.moments
        self.centered, self.may_be_absent = mom.centered, mom.may_be_absent
        self.moments_rows = {
            name: GrowingArray(getattr(mom, name))
            for name in _PER_DATE
            if getattr(mom, name) is not None
        }
        # The inference of the first dates, once read: (condition_number, rows).
        self.inferred = None

    def append(self, part, pooled):
        """A new history: this one and later dates (checked by the caller)."""
        new = copy.copy(self)
        new.dates = self.dates.append(part.dates)
        new.params = self.params.append(part.params)
        new.moments_rows = {
            name: rows.append(getattr(part.moments, name))
            for name, rows in self.moments_rows.items()
        }
        new.pooled = pooled
        new.n_rows += part.n_rows
        return new

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
                kept = self.inferred[1]
                rows = {key: kept[key].append(values) for key, values in arrays.items()}
            else:
                rows = {key: GrowingArray(values) for key, values in arrays.items()}
            self.inferred = (condition_number, rows)
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
