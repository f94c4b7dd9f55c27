"""CrossSectionalZScore: standardise each characteristic across assets, date by date."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from skfactor.panel._output import PanelTransformerMixin
from skfactor.panel._roles import resolve_roles
from skfactor.panel._segments import Segments
from skfactor.panel._stats import center_scale
from skfactor.panel._validation import validate_panel
from skfactor.utils._parallel import for_each
from skfactor.utils._sklearn import (
    BaseEstimator,
    OneToOneFeatureMixin,
    _fit_context,
)
from skfactor.utils._typing import FrameOut, MatrixLike, TargetLike

__all__ = ["CrossSectionalZScore"]


def _group_segments(panel, groups):
    """Segments keyed by (date, group); rows without a group get code -1."""
    date = (
        panel.date_codes
        if panel.date_codes is not None
        else np.zeros(len(groups), dtype=np.intp)
    )
    g, _ = pd.factorize(groups, use_na_sentinel=True)
    has_group = g >= 0
    n_groups = max(int(g.max()) + 1, 1) if len(g) else 1
    key = np.where(has_group, date * n_groups + g, 0)
    used = np.bincount(key[has_group], minlength=1) > 0
    remap = np.cumsum(used) - 1
    codes = remap[key]
    # Rows without a group sit in a segment of their own; their output is NaN.
    n_segments = int(used.sum())
    codes = np.where(has_group, codes, n_segments)
    return Segments(codes, n_segments + (not has_group.all())), has_group


def _standardize(x, center, scale, out):
    np.subtract(x, center, out=out)
    return np.divide(out, scale, out=out)


class CrossSectionalZScore(OneToOneFeatureMixin, PanelTransformerMixin, BaseEstimator):
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

    _parameter_constraints: dict = {
        "robust": ["boolean"],
        "groups": [str, int, None],
        "weights": [str, int, None],
        "passthrough": [list, tuple, str, None],
        "n_jobs": [numbers.Integral, None],
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike | None = None) -> CrossSectionalZScore:
        """Check ``X``; nothing is learned.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Factor values: a (date, asset) panel, or one cross-section.
        y : None
            Ignored.

        Returns
        -------
        self : CrossSectionalZScore
            The transformer.
        """
        panel = validate_panel(self, X, reset=True, y=y)
        self._roles(panel, X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X: MatrixLike, y: TargetLike | None = None) -> FrameOut:
        """Z-score ``X`` date by date (``X`` is validated once).

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Factor values: a (date, asset) panel, or one cross-section.
        y : None
            Ignored.

        Returns
        -------
        Z : DataFrame or ndarray of shape (n_rows, n_features)
            As :meth:`transform`.
        """
        panel = validate_panel(self, X, reset=True, y=y)
        return self._transform(panel, self._roles(panel, X))

    def _roles(self, panel, X):
        return resolve_roles(
            self, panel, X, "z-score", groups=self.groups, weights=self.weights
        )

    def transform(self, X: MatrixLike) -> FrameOut:
        """Z-score ``X`` date by date.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Factor values: a (date, asset) panel, or one cross-section.

        Returns
        -------
        Z : DataFrame or ndarray of shape (n_rows, n_features)
            Same container, index (same order) and columns as ``X``; the
            ``groups``, ``weights`` and ``passthrough`` columns unchanged.
        """
        panel = validate_panel(self, X, reset=False)
        return self._transform(panel, self._roles(panel, X))

    def _transform(self, panel, roles):
        g, w = roles.position("groups"), roles.position("weights")
        values = panel.values
        seg = panel.segments
        has_group = None
        if g is not None:
            seg, has_group = _group_segments(panel, values[:, g])
        weights = None if w is None else seg.sort(values[:, w])
        out = np.empty_like(values)
        out[:, roles.passthrough] = values[:, roles.passthrough]
        robust = self.robust

        def zscore_column(j):
            col = seg.sort(values[:, j])
            stats = center_scale(
                seg, col, robust=robust, weights=weights, work=out[:, j]
            )
            seg.apply(_standardize, values[:, j], *stats, out=out[:, j])

        for_each(zscore_column, roles.features, self.n_jobs)
        if has_group is not None:  # no group, no peers: NaN
            out[np.ix_(~has_group, roles.features)] = np.nan
        return self._output(panel, out, roles)
