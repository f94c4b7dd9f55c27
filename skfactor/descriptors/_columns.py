"""ColumnDescriptor: the base of the descriptors that read named columns of a panel."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from skfactor.descriptors._base import Descriptor

__all__ = ["ColumnDescriptor", "NamedOutputMixin", "ratio"]


def ratio(num, den):
    """``num / den`` where ``den > 0``, else NaN."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    return np.divide(num, den, out=out, where=den > 0)


class NamedOutputMixin:
    """``get_feature_names_out`` for a step whose output columns it names itself.

    The class defines ``_names_out(input_features)`` (``input_features``: the
    input's columns as given, or None).
    """

    def get_feature_names_out(
        self, input_features: ArrayLike | None = None
    ) -> np.ndarray:
        """The output's column names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            The input's columns; None: those seen in ``fit`` (where the names
            depend on them).

        Returns
        -------
        ndarray of str
        """
        return np.asarray(self._names_out(input_features), dtype=object)


class ColumnDescriptor(Descriptor):
    """Base of the descriptors computed row by row from named columns.

    A subclass lists its column parameters in ``_inputs`` and returns
    ``{output name: values}`` from ``_compute(columns)``, where ``columns``
    maps each parameter whose value is not None to that column's values.
    Being a :class:`~skfactor.descriptors._base.Descriptor`, it cuts ``X``
    to those columns before validating it; being row by row, it also takes
    one cross-section.
    """

    _verb = "read"
    _segment_by = "date"
    _panel_only = False
    _inputs: tuple = ()

    def _fields(self):
        return {
            name: spec
            for name in self._inputs
            if (spec := getattr(self, name)) is not None
        }

    def _output_names(self):
        n = 2  # two rows are enough to learn the output's names
        return list(self._compute({name: np.ones(n) for name in self._fields()}))

    def _describe(self, panel, fields):
        out = self._compute(fields)
        if not out:
            return np.empty((len(panel.values), 0))
        return np.column_stack(list(out.values()))
