"""PanelTransformer: the one base of skfactor's per-date transformers.

A per-date step (clip, z-score, neutralise, sort into portfolios) validates a
(date, asset) panel, sorts out which columns are characteristics (the column
roles: ``groups``, ``weights``, ``passthrough``), runs a kernel on each date's
rows of each characteristic and returns the input's container. The base owns
all of it but the kernel: ``fit``, ``transform``, ``fit_transform``, the
roles, the tags, ``set_output`` (through
:class:`~skfactor.panel._output.PanelTransformerMixin`),
``get_feature_names_out`` and the constraints of the shared parameters. A
subclass declares its own parameters and one of

- ``_transform_column(self, blocks, x, out)``: one characteristic ``x`` (caller's
  row order) into ``out``; ``blocks`` is what :meth:`_blocks` made once per call
  (the rows' segments, by date, by (date, group) or by asset, and the
  weights). The base loops over the characteristics, on ``n_jobs`` threads
  when the class has that parameter;
- ``_transform(self, panel, roles)``: the whole output array, for a kernel that
  needs every column at once.

A transformer whose kernel works per asset across dates (a rolling or
exponentially weighted descriptor) sets ``_segment_by = "asset"``: its
segments are the assets, each one's rows in date order. One that learns in
``fit`` overrides ``_fit`` and ``_requires_fit``; one that makes new columns
overrides ``get_feature_names_out`` and ``_output_columns``.
"""

from __future__ import annotations

import numbers
import threading
from typing import NamedTuple

import numpy as np
import pandas as pd

from skfactor.panel._output import PanelTransformerMixin
from skfactor.panel._roles import resolve_roles
from skfactor.panel._segments import Segments
from skfactor.panel._validation import InfiniteValues, check_finite, validate_panel
from skfactor.utils._parallel import for_each
from skfactor.utils._scratch import Scratch
from skfactor.utils._sklearn import (
    BaseEstimator,
    OneToOneFeatureMixin,
    _fit_context,
    check_is_fitted,
)
from skfactor.utils._typing import FrameOut, MatrixLike, TargetLike

__all__ = ["Blocks", "PanelTransformer", "group_codes", "shared_constraints"]

# The parameters every per-date transformer spells the same way, where it has them.
_SHARED_CONSTRAINTS = {
    "groups": [str, numbers.Integral, None],
    "weights": [str, numbers.Integral, None],
    "passthrough": [list, tuple, str, numbers.Integral, None],
    "n_jobs": [numbers.Integral, None],
}

# Role parameters that name one column each, in the order they are resolved.
_NAMED_ROLES = ("groups", "weights")


def shared_constraints(*names):
    """The shared parameters' constraints, for a ``_parameter_constraints``."""
    return {name: _SHARED_CONSTRAINTS[name] for name in names}


def group_codes(date_codes, groups):
    """Each row's (date, group) cell number (-1 without a group) and the cell count.

    ``date_codes`` is None for one cross-section. Cells are numbered in
    (date, group-code) order, using only the cells that have rows.
    """
    n = len(groups)
    date = np.zeros(n, dtype=np.intp) if date_codes is None else date_codes
    g, _ = pd.factorize(groups, use_na_sentinel=True)
    has_group = g >= 0
    n_groups = max(int(g.max()) + 1, 1) if n else 1
    key = np.where(has_group, date * n_groups + g, 0)
    used = np.bincount(key[has_group], minlength=1) > 0
    cells = np.cumsum(used) - 1
    return np.where(has_group, cells[key], -1), int(used.sum())


class Blocks(NamedTuple):
    """What a kernel needs besides its column, made once per call.

    ``segments`` are the rows' blocks (dates, (date, group) cells or assets);
    ``weights`` the ``weights`` column in segment order (None without one);
    ``no_group`` marks the rows without a group label, whose output is NaN
    (None without ``groups``); ``local`` holds each thread's :class:`Scratch`
    for this call (see :meth:`scratch`).
    """

    segments: Segments
    weights: np.ndarray | None = None
    no_group: np.ndarray | None = None
    local: threading.local | None = None

    def scratch(self):
        """The calling thread's :class:`Scratch`, shared by its columns.

        Under ``MALLOC_TRIM_THRESHOLD_`` (a Dask worker's setting) every
        block-sized array is mapped afresh and faulted in page by page: one
        set per thread and call, not one per column, and the sweeps' other
        reused arrays (:meth:`Segments.sweep`) fault 26 MiB instead of 212 on
        a winsorize + z-score of a 315-date partition (2,000 assets x 5).
        """
        if self.local is None:
            return Scratch()
        if not hasattr(self.local, "scratch"):
            self.local.scratch = Scratch()
        return self.local.scratch


class PanelTransformer(OneToOneFeatureMixin, PanelTransformerMixin, BaseEstimator):
    """Base of the per-date transformers (see the module docstring).

    Class attributes a subclass may set: ``_verb``, what the step does to a
    characteristic (for the column-role error messages, e.g. ``"clip"``);
    ``_segment_by``, ``"date"`` (the default) or ``"asset"``;
    ``_fitted_attributes``, what ``transform`` checks ``fit`` has set.
    """

    _verb = "transform"
    _segment_by = "date"
    # What ``transform`` needs from ``fit`` when ``_requires_fit()`` (None: any
    # fitted attribute).
    _fitted_attributes: tuple | None = None

    # ------------------------------------------------------------------ tags
    def _requires_fit(self):
        """Whether ``transform`` needs ``fit`` first (False: stateless per date)."""
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = self._requires_fit()
        return tags

    #: Whether the kernels themselves raise :func:`duplicated_rows_error` on a
    #: (date, asset) pair given twice (``fit`` included): validation then
    #: does not hash the index for it.
    _kernel_checks_duplicates = False

    def _kernel_checks_finite(self):
        """Whether ``_transform_column`` itself raises on ±inf in its column.

        Such a kernel raises :class:`InfiniteValues` where it meets ±inf
        (e.g. in the blocks of dates it reads anyway); validation then does
        not read every value once more for it (0.03-0.05 s a step on the
        reference panel), and the base checks the other columns.
        """
        return False

    # ----------------------------------------------------------------- roles
    def _named_roles(self):
        """Role parameter -> its value, for the roles this class has."""
        params = self.get_params(deep=False)
        return {name: params[name] for name in _NAMED_ROLES if name in params}

    def _roles(self, panel, X):
        return resolve_roles(self, panel, X, self._verb, **self._named_roles())

    def _blocks(self, panel, roles):
        """The :class:`Blocks` of this call: segments, weights, rows without group."""
        values = panel.values
        g, w = roles.position("groups"), roles.position("weights")
        no_group = None
        if self._segment_by == "asset":
            segments = asset_segments(panel)
        elif g is not None:
            cells, n_cells = group_codes(panel.date_codes, values[:, g])
            no_group = cells < 0
            # Rows without a group sit in a segment of their own; output NaN.
            segments = Segments(
                np.where(no_group, n_cells, cells), n_cells + bool(no_group.any())
            )
        else:
            segments = panel.segments
        weights = None if w is None else segments.sort(values[:, w])
        return Blocks(segments, weights, no_group, threading.local())

    # ---------------------------------------------------------------- kernel
    def _fit(self, panel, roles, y):
        """Learn from the validated panel (nothing: a stateless per-date step)."""

    def _fit_transform(self, panel, roles, y):
        """``_fit``, then ``_transform`` (a step doing both at once overrides it)."""
        self._fit(panel, roles, y)
        return self._transform(panel, roles)

    def _transform(self, panel, roles):
        """The output values: each characteristic through ``_transform_column``."""
        values = panel.values
        columns = None if panel.columns is None else list(panel.columns)
        if self._kernel_checks_finite():  # validation left ±inf to the kernel
            names = None if columns is None else [columns[j] for j in roles.passthrough]
            check_finite(values[:, roles.passthrough], columns=names)
        blocks = self._blocks(panel, roles)
        out = np.empty_like(values)
        out[:, roles.passthrough] = values[:, roles.passthrough]

        def column(j):
            self._transform_column(blocks, values[:, j], out[:, j])

        try:
            for_each(column, roles.features, getattr(self, "n_jobs", None))
        except InfiniteValues:
            check_finite(values, columns=columns)  # the message naming the columns
            raise
        if blocks.no_group is not None:  # no group, no peers: NaN
            out[np.ix_(blocks.no_group, roles.features)] = np.nan
        return out

    def _transform_column(self, blocks, x, out):
        """Write one characteristic's output (``x`` in the caller's row order)."""
        raise NotImplementedError

    def _output_columns(self, panel, roles):
        """The output's column names when they are not the input's (else None)."""
        return None

    def _result(self, panel, roles, values):
        columns = self._output_columns(panel, roles)
        if columns is None:
            return self._output(panel, values, roles)
        return self._output(panel, values, columns=columns)

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike | None = None) -> PanelTransformer:
        """Check ``X`` and learn what the step learns (a per-date step: nothing).

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            A (date, asset) panel, or one cross-section.
        y : Series of shape (n_rows,) or array-like, default=None
            Ignored, unless the class says what it learns from it.

        Returns
        -------
        self : estimator instance
            The fitted transformer.
        """
        unique = not self._kernel_checks_duplicates
        panel = validate_panel(self, X, reset=True, y=y, unique=unique)
        self._fit(panel, self._roles(panel, X), y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X: MatrixLike, y: TargetLike | None = None) -> FrameOut:
        """Fit to ``X`` and transform it (``X`` is validated once).

        Parameters
        ----------
        X, y
            As in :meth:`fit`.

        Returns
        -------
        X_new : DataFrame or ndarray of shape (n_rows, n_features_out)
            As :meth:`transform`.
        """
        finite = not self._kernel_checks_finite()
        unique = not self._kernel_checks_duplicates
        panel = validate_panel(self, X, reset=True, y=y, finite=finite, unique=unique)
        roles = self._roles(panel, X)
        return self._result(panel, roles, self._fit_transform(panel, roles, y))

    def transform(self, X: MatrixLike) -> FrameOut:
        """Transform ``X``, each date (or asset) from its own rows.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            A (date, asset) panel, or one cross-section.

        Returns
        -------
        X_new : DataFrame or ndarray of shape (n_rows, n_features_out)
            Same container, index (same order) as ``X``; for a step that keeps
            the columns, the same columns, the ``groups``, ``weights`` and
            ``passthrough`` columns unchanged. NaN stays NaN.
        """
        if self._requires_fit():
            check_is_fitted(self, self._fitted_attributes)
        finite = not self._kernel_checks_finite()
        unique = not self._kernel_checks_duplicates
        panel = validate_panel(self, X, reset=False, finite=finite, unique=unique)
        roles = self._roles(panel, X)
        return self._result(panel, roles, self._transform(panel, roles))


def asset_segments(panel):
    """The rows' assets as :class:`Segments`, each asset's rows in date order.

    One cross-section (no dates) is one row per asset.
    """
    index = panel.index
    n = len(panel.values)
    if not isinstance(index, pd.MultiIndex):
        return Segments(np.arange(n), n)
    assets = np.asarray(index.codes[1], dtype=np.intp)
    used = np.bincount(assets, minlength=len(index.levels[1])) > 0
    assets = (np.cumsum(used) - 1)[assets]
    return Segments(assets, int(used.sum()), within=panel.date_codes)
