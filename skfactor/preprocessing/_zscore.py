"""CrossSectionalZScore: standardise each characteristic across assets, date by date."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skfactor.panel._segments import row_counts
from skfactor.panel._stats import _finish, center_scale
from skfactor.panel._transformer import PanelTransformer, shared_constraints
from skfactor.panel._validation import InfiniteValues, check_column_finite

__all__ = ["CrossSectionalZScore"]


def _standardize(x, center, scale, out):
    np.subtract(x, center, out=out)
    return np.divide(out, scale, out=out)


def _grid_moments(grid, grid_out, scratch):
    """Mean, ``ddof=0`` standard deviation and count of each grid row, NaN ignored.

    With ``grid_out``, the rows' z-scores too: the deviations from the mean
    are made there and divided by the standard deviation in place (the
    squares are summed in ``scratch``'s ``"work"``, see
    :class:`~skfactor.utils._scratch.Scratch`). An overflow of the squares
    (or of the sum) gives an infinite deviation (or mean), settled by
    ``_finish``.
    """
    nan = np.isnan(grid, out=scratch("mask", grid.shape, bool))
    n = row_counts(grid, nan)
    work = scratch("work", grid.shape)
    np.copyto(work, grid)
    np.copyto(work, 0.0, where=nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = work.sum(axis=1) / n
    # A row holding +-inf sums to +-inf or NaN (as may one whose sum overflows).
    odd = ~np.isfinite(mean) & (n > 0)
    if odd.any() and np.isinf(grid[odd]).any():
        raise InfiniteValues("`X` contains inf or -inf.")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        dev = work if grid_out is None else grid_out
        np.subtract(grid, mean[:, None], out=dev)
        np.multiply(dev, dev, out=work)
        np.copyto(work, 0.0, where=nan)
        std = np.sqrt(work.sum(axis=1) / n)
        if grid_out is not None:
            np.divide(grid_out, std[:, None], out=grid_out)
    return mean, std, n


def _zscore_sweep(seg, x, out, scratch=None):
    """Mean, standard deviation and z-scores a block of dates at a time.

    The moments are :func:`~skfactor.panel._stats.center_scale`'s; the few
    dates whose scale it cannot vouch for (possibly constant, sums possibly
    out of range) are settled after the sweep and their rows done again.
    """
    xs = seg.sort(x)
    with np.errstate(divide="ignore", invalid="ignore"):  # redone below
        mean, std, n = seg.sweep(
            x, _grid_moments, _standardize, out, xs, n_args=2, scratch=scratch
        )
    work = np.empty_like(xs)  # untouched (no memory taken) unless needed
    center, scale = _finish(seg, xs, mean, n, None, work, std, True, None, mean)
    redo = np.flatnonzero(~((scale == std) & (center == mean)) & (n > 0))
    if len(redo):
        rows = np.flatnonzero(np.isin(seg.codes, redo))
        codes = seg.codes[rows]
        out[rows] = _standardize(x[rows], center[codes], scale[codes], x[rows])


class CrossSectionalZScore(PanelTransformer):
    r"""Z-score each characteristic across assets on each date.

    On each date (or within each group on each date) every column is mapped to

    .. math::

        z_i = \frac{x_i - \mu}{\sigma},

    where, over that date's non-NaN values, :math:`\mu` is the mean (weighted
    by ``weights`` when given, as risk vendors cap-weight it) and
    :math:`\sigma` the equal-weighted standard deviation with ``ddof=0`` (the
    lecture's ``np.std``); with ``robust=True``, :math:`\mu` is the median and
    :math:`\sigma = 1.4826\,\mathrm{MAD}` (the standard deviation where the MAD
    is 0). A date whose values are all equal, or that has a single value, gives
    0, with no warning. NaN is ignored when computing the statistics and
    preserved in the output. Stateless: each date uses only its own rows.
    The z-scores do not depend on the values' magnitude: a date whose sum
    would overflow (values near 1e307) or whose squared deviations would
    overflow or underflow (near 1e160 or 1e-170) is computed on its values
    divided by a power of two, an exact rescaling.

    Parameters
    ----------
    robust : bool, default=False
        Use the median and the scaled MAD instead of the mean and standard
        deviation.
    groups : str or int, default=None
        Column of ``X`` holding a group label (an industry code or name):
        z-scores are then computed within each (date, group), making the
        result industry-neutral. Not a characteristic: the column is passed
        through unchanged; a row whose label is NaN gets NaN.
    weights : str or int, default=None
        Column of ``X`` holding non-negative weights for the mean (e.g. market
        cap). Not a characteristic: passed through unchanged.
    passthrough : list of str or int, default=None
        Other columns of ``X`` that are not characteristics: returned
        unchanged. The same rule holds on every per-date step; see the user
        guide's "Column roles".
    n_jobs : int, default=None
        Number of threads working on columns in parallel (``None``: 1;
        ``-1``: all CPUs). The result does not depend on it.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when they are all strings.

    See Also
    --------
    Winsorizer : Clip outliers first, as the lecture does.

    Examples
    --------
    >>> from skfactor import CrossSectionalZScore, Winsorizer
    >>> from skfactor.datasets import make_factor_panel
    >>> from sklearn.pipeline import make_pipeline
    >>> data = make_factor_panel(n_dates=3, n_assets=100, random_state=0)
    >>> Z = make_pipeline(Winsorizer(), CrossSectionalZScore()).fit_transform(data.X)
    >>> bool(Z.groupby(level="date").mean().abs().max().max() < 1e-12)
    True
    >>> bool(Z.groupby(level="date").std(ddof=0).round(12).eq(1).all().all())
    True
    """

    _verb = "z-score"
    _parameter_constraints: dict = {
        "robust": ["boolean"],
        **shared_constraints("groups", "weights", "passthrough", "n_jobs"),
    }

    def __init__(
        self,
        *,
        robust: bool = False,
        groups: str | int | None = None,
        weights: str | int | None = None,
        passthrough: Sequence[str | int] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.robust = robust
        self.groups = groups
        self.weights = weights
        self.passthrough = passthrough
        self.n_jobs = n_jobs

    def _kernel_checks_finite(self):
        return True

    def _transform_column(self, blocks, x, out):
        seg = blocks.segments
        if not self.robust and blocks.weights is None and seg.grid_fits:
            _zscore_sweep(seg, x, out, blocks.scratch())
            return
        check_column_finite(x)
        stats = center_scale(
            seg, seg.sort(x), robust=self.robust, weights=blocks.weights, work=out
        )
        seg.apply(_standardize, x, *stats, out=out)
