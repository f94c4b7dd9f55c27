"""Winsorizer: clip each characteristic's extremes, date by date."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from functools import partial

import numpy as np

from skfactor.panel._order_stats import row_order_statistics
from skfactor.panel._segments import Segments, row_counts
from skfactor.panel._stats import center_scale, winsorize_caps
from skfactor.panel._transformer import PanelTransformer, shared_constraints
from skfactor.panel._validation import check_column_finite
from skfactor.utils._sklearn import Interval, StrOptions
from skfactor.utils._warnings import warn

__all__ = ["Winsorizer"]


def _check_limits(limits):
    """``(lower, upper)`` fractions from a float or a pair, as scipy reads them."""
    pair = (
        (limits, limits)
        if isinstance(limits, numbers.Real) or limits is None
        else tuple(limits)
    )
    if len(pair) != 2:
        raise ValueError(
            f"`limits` must be a float or a (lower, upper) pair; got {limits!r}."
        )
    out = []
    for value in pair:
        value = 0.0 if value is None else value
        if (
            not isinstance(value, numbers.Real)
            or isinstance(value, bool)
            or not 0 <= value < 0.5
        ):
            raise ValueError(f"`limits` must be in [0, 0.5); got {limits!r}.")
        out.append(float(value))
    return tuple(out)


class Winsorizer(PanelTransformer):
    r"""Clip extreme factor values, on each date across assets (or globally).

    By default each date's non-NaN values of each column are clipped exactly as
    :func:`scipy.stats.mstats.winsorize` clips them: with :math:`n` values sorted
    as :math:`x_{(0)} \le \dots \le x_{(n-1)}`,

    .. math::

        x \mapsto \min\bigl(\max(x,\, x_{(\lfloor l n \rfloor)}),\,
        x_{(n - 1 - \lfloor u n \rfloor)}\bigr),

    with :math:`(l, u)` the ``limits``. NaN is ignored when computing each
    date's caps (unlike scipy, which ranks NaN as the largest value) and is
    preserved in the output. The input is never modified.

    Parameters
    ----------
    limits : float or (float, float), default=0.01
        Fraction of values to clip at the bottom and at the top, each in
        ``[0, 0.5)``; a single float applies to both tails, ``None`` in a pair
        clips nothing on that side. Used by ``method="quantile"``.
    method : {"quantile", "mad"}, default="quantile"
        ``"quantile"`` clips at order statistics (scipy's rule above);
        ``"mad"`` clips at :math:`\mathrm{median} \pm k \cdot 1.4826\,\mathrm{MAD}`
        with :math:`k` = ``n_mad`` (where the MAD is 0 the standard deviation
        replaces :math:`1.4826\,\mathrm{MAD}`).
    n_mad : float, default=3.0
        Width :math:`k` of the ``"mad"`` band, in robust standard deviations.
    cross_sectional : bool, default=True
        If True the caps are computed on each date from that date's rows only
        (stateless: nothing is learned in ``fit``). If False the caps are
        learned in ``fit`` from all rows of each column and applied as fixed
        bounds in ``transform``. A column without any value in ``fit`` gets
        no caps (its values pass unchanged), with a warning.
    groups : str or int, default=None
        Column of ``X`` holding a group label (an industry): the caps are then
        computed within each (date, group), from that cell's values only.
        Not a characteristic: passed through unchanged; a row whose label is
        NaN gets NaN. Only with ``cross_sectional=True``.
    passthrough : list of str or int, default=None
        Columns of ``X`` that are not characteristics (group codes, weights,
        identifiers): returned unchanged, never clipped. The same rule holds on
        every per-date step; see the user guide's "Column roles".
    n_jobs : int, default=None
        Number of threads working on columns in parallel (``None``: 1;
        ``-1``: all CPUs). The result does not depend on it.

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features,)
        The learned caps (only when ``cross_sectional=False``); -inf and +inf
        for ``passthrough`` columns and for columns without data in ``fit``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when ``X`` was a DataFrame with string
        column names.

    See Also
    --------
    CrossSectionalZScore : Z-score each date's values, usually after this.

    Notes
    -----
    There is no ``weights`` parameter: the caps are order statistics of the
    values (scipy's rule) or their median and MAD, which row weights do not
    enter; clipping a value leaves its weight as it was.

    ``X`` is a panel, a DataFrame with a two-level (date, asset) MultiIndex
    whose rows may come in any order; the result has the same index, in the same
    order, and the same columns. A plain array, or a DataFrame with a
    single-level index, is treated as one cross-section (one date).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import mstats
    >>> from skfactor import Winsorizer
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=5, n_assets=200, random_state=0)
    >>> Xw = Winsorizer(limits=0.05).fit_transform(data.X)
    >>> Xw.index.equals(data.X.index)
    True
    >>> day = data.X.xs(data.X.index[0][0], level="date")["value"].to_numpy()
    >>> scipy_day = np.asarray(mstats.winsorize(day, limits=0.05))
    >>> np.array_equal(Xw.xs(data.X.index[0][0], level="date")["value"], scipy_day)
    True
    """

    _verb = "clip"
    _fitted_attributes = ("lower_", "upper_")
    _parameter_constraints: dict = {
        "limits": "no_validation",  # checked by _check_limits with its own message
        "method": [StrOptions({"quantile", "mad"})],
        "n_mad": [Interval(numbers.Real, 0, None, closed="neither")],
        "cross_sectional": ["boolean"],
        **shared_constraints("groups", "passthrough", "n_jobs"),
    }

    def __init__(
        self,
        *,
        limits: float | tuple[float, float] = 0.01,
        method: str = "quantile",
        n_mad: float = 3.0,
        cross_sectional: bool = True,
        groups: str | int | None = None,
        passthrough: Sequence[str | int] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.limits = limits
        self.method = method
        self.n_mad = n_mad
        self.cross_sectional = cross_sectional
        self.groups = groups
        self.passthrough = passthrough
        self.n_jobs = n_jobs

    def _requires_fit(self):
        return not self.cross_sectional

    def _kernel_checks_finite(self):
        return self.cross_sectional

    def _fit(self, panel, roles, y):
        limits = _check_limits(self.limits)
        if self.cross_sectional:
            return
        if self.groups is not None:
            raise ValueError(
                f"`groups`={self.groups!r} needs `cross_sectional=True`: the caps "
                "are computed within each (date, group). Global caps "
                "(`cross_sectional=False`) are learned per column over all rows; "
                "set `groups=None` for them."
            )
        n_columns = panel.values.shape[1]
        self.lower_ = np.full(n_columns, -np.inf)
        self.upper_ = np.full(n_columns, np.inf)
        whole = Segments.single(len(panel.values))
        for j in roles.features:
            (lower,), (upper,) = self._caps(whole, panel.values[:, j], limits)
            if not np.isnan(lower):
                self.lower_[j] = lower
            if not np.isnan(upper):
                self.upper_[j] = upper
        empty = [j for j in roles.features if np.isnan(panel.values[:, j]).all()]
        if empty:
            names = (
                panel.columns[empty].tolist() if panel.columns is not None else empty
            )
            warn(
                f"Winsorizer(cross_sectional=False) saw no value in column(s) {names} "
                "in `fit`, so it learned no caps for them: their values pass "
                "unchanged through `transform`."
            )

    def _caps(self, segments, col, limits):
        if self.method == "quantile":
            return winsorize_caps(segments, col, *limits)
        center, scale = center_scale(segments, col, robust=True)
        scale = np.where(np.isinf(scale), 0.0, scale)  # constant: caps at the value
        return center - self.n_mad * scale, center + self.n_mad * scale

    def _transform(self, panel, roles):
        if self.cross_sectional:
            return super()._transform(panel, roles)
        # The caps of the passthrough columns are infinite: values unchanged.
        return np.clip(panel.values, self.lower_, self.upper_)

    def _transform_column(self, blocks, x, out):
        seg = blocks.segments
        limits = _check_limits(self.limits)
        if self.method == "quantile" and seg.grid_fits:
            # Caps and clip a block of dates at a time (Segments.sweep).
            row_caps = partial(_row_caps, limits=limits)
            seg.sweep(x, row_caps, np.clip, out, scratch=blocks.scratch())
            return
        check_column_finite(x)
        caps = self._caps(seg, seg.sort(x), limits)
        seg.apply(np.clip, x, *caps, out=out)


def _row_caps(grid, grid_out, scratch, limits):
    """:func:`~skfactor.panel._stats.winsorize_caps` of each row of a padded grid.

    With ``grid_out``, the rows clipped into it too (see :meth:`Segments.sweep`).
    """
    lower, upper = limits
    n = row_counts(grid, np.isnan(grid, out=scratch("mask", grid.shape, bool)))
    low_k = (lower * n.astype(np.float64)).astype(np.intp) if lower else None
    high_k = (upper * n.astype(np.float64)).astype(np.intp) if upper else None
    # ±inf raises there, read where it costs least (_kernel_checks_finite).
    lo, hi = row_order_statistics(grid, low_k, high_k, n, scratch, check_finite=True)
    lo = np.full(len(grid), -np.inf) if lo is None else lo
    hi = np.full(len(grid), np.inf) if hi is None else hi
    if grid_out is not None:
        np.clip(grid, lo[:, None], hi[:, None], out=grid_out)
    return lo, hi
