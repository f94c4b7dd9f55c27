"""ColumnDescriptor: the base of the descriptors that read named columns of a panel."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from skfactor.panel._transformer import PanelTransformer

__all__ = ["ColumnDescriptor", "NamedOutputMixin", "ratio"]


def ratio(num, den):
    """``num / den`` where ``den > 0``, else NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


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


class ColumnDescriptor(NamedOutputMixin, PanelTransformer):
    """Base of the descriptors computed row by row from named columns.

    A subclass lists its column parameters in ``_inputs`` and returns
    ``{output name: values}`` from ``_compute(columns)``, where ``columns``
    maps each parameter whose value is not None to that column's values.
    """

    _verb = "read"
    _inputs: tuple = ()

    def _read(self, panel):
        return {
            name: panel.values[:, panel.column_position(spec, name)]
            for name in self._inputs
            if (spec := getattr(self, name)) is not None
        }

    def _names(self):
        n = 2  # two rows are enough to learn the output's names
        columns = {
            name: np.ones(n) for name in self._inputs if getattr(self, name) is not None
        }
        return list(self._compute(columns))

    def _transform(self, panel, roles):
        out = self._compute(self._read(panel))
        if not out:
            return np.empty((len(panel.values), 0))
        return np.column_stack(list(out.values()))

    def _output_columns(self, panel, roles):
        return self._names()

    def _names_out(self, input_features):
        return self._names()
