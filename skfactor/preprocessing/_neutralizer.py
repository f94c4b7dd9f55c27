"""CrossSectionalNeutralizer: residuals on groups and exposures, date by date."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from skfactor.panel._regression import segment_regression
from skfactor.panel._transformer import (
    PanelTransformer,
    group_codes,
    shared_constraints,
)
from skfactor.utils._parallel import for_each

__all__ = ["CrossSectionalNeutralizer"]


def _demean(values, cell, n_cells, w):
    """``values`` minus their ``w``-weighted mean within each cell (rows w > 0)."""
    total = np.bincount(cell, weights=w, minlength=n_cells)
    out = np.empty_like(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(values.shape[1]):
            s = np.bincount(cell, weights=w * values[:, j], minlength=n_cells)
            out[:, j] = values[:, j] - (s / total)[cell]
    return out


class CrossSectionalNeutralizer(PanelTransformer):
    r"""Replace each characteristic by its residual on groups and exposures, per date.

    On each date, every characteristic :math:`y` is regressed by weighted
    least squares on group dummies (``groups``) and/or numeric exposures
    (``exposures``, e.g. log market cap, beta), with a constant when there
    are no groups (the dummies span it), and replaced by the residual

    .. math::

        e = y - Z\hat\beta, \qquad
        \hat\beta = \arg\min_\beta \sum_i w_i (y_i - z_i^\top\beta)^2,

    so that :math:`Z^\top W e = 0` on every date: the result has no weighted
    exposure to any group or exposure. With groups alone this is demeaning
    within each (date, group); with neither it is demeaning per date. The
    groups are not expanded into dummies: by Frisch–Waugh–Lovell, the
    characteristic and the exposures are demeaned within each (date, group)
    first and then regressed on each other, date by date, in one batched
    solve.

    Each characteristic uses the rows where it, every exposure, the group and
    the weight are present (weight > 0); other rows get NaN, as do the rows
    of a date whose demeaned exposures are rank deficient (e.g. an exposure
    constant within groups) or too few to estimate them. Stateless: each date
    uses only its own rows.

    Parameters
    ----------
    groups : str or int, default=None
        Column of ``X`` holding a group label (industry, country): its dummies
        are regressors. Not a characteristic: passed through unchanged.
    exposures : list of str or int, default=None
        Columns of ``X`` holding numeric exposures to neutralise against. Not
        characteristics: passed through unchanged.
    weights : str or int, default=None
        Column of ``X`` holding non-negative regression weights (WLS, e.g.
        the square root of market cap). Not a characteristic: passed through
        unchanged.
    passthrough : list of str or int, default=None
        Other columns of ``X`` that are not characteristics: returned
        unchanged (see the user guide's "Column roles").
    n_jobs : int, default=None
        Number of threads working on characteristics in parallel (``None``:
        1; ``-1``: all CPUs). The result does not depend on it.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when they are all strings.

    See Also
    --------
    CrossSectionalZScore : Z-score within groups (neutral in mean only).

    Examples
    --------
    >>> import numpy as np
    >>> from skfactor import CrossSectionalNeutralizer
    >>> from skfactor.datasets import make_factor_panel
    >>> X = make_factor_panel(n_dates=3, n_assets=50, random_state=0).X
    >>> X["size"] = np.random.default_rng(0).normal(size=len(X))
    >>> Z = CrossSectionalNeutralizer(exposures=["size"]).fit_transform(X)
    >>> e = Z.drop(columns="size")
    >>> bool(e.mul(X["size"], axis=0).groupby(level="date").sum().abs().max().max()
    ...      < 1e-10)
    True
    """

    _verb = "neutralise"
    _parameter_constraints: dict = {
        **shared_constraints("groups", "weights", "passthrough", "n_jobs"),
        "exposures": [list, tuple, str, numbers.Integral, None],
    }

    def __init__(
        self,
        *,
        groups: str | int | None = None,
        exposures: Sequence[str | int] | None = None,
        weights: str | int | None = None,
        passthrough: Sequence[str | int] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.groups = groups
        self.exposures = exposures
        self.weights = weights
        self.passthrough = passthrough
        self.n_jobs = n_jobs

    def _exposure_specs(self):
        spec = self.exposures
        if spec is None:
            return []
        return [spec] if isinstance(spec, str | int | np.integer) else list(spec)

    def _named_roles(self):
        named = super()._named_roles()
        for k, spec in enumerate(self._exposure_specs()):
            named[f"exposures[{k}]"] = spec
        return named

    def _transform(self, panel, roles):
        n_exposures = len(self._exposure_specs())
        exposures = np.array(
            [roles.position(f"exposures[{k}]") for k in range(n_exposures)],
            dtype=np.intp,
        )
        values = panel.values
        g, w = roles.position("groups"), roles.position("weights")
        weights = None if w is None else values[:, w]
        Z = values[:, exposures]
        # Rows usable for every characteristic: group, weight > 0, exposures.
        common = ~np.isnan(Z).any(axis=1)
        if weights is not None:
            common &= weights > 0
        # Groups (or no exposures at all) are removed by demeaning within
        # (date, group) cells; exposures alone by the regression's own centring.
        demean = g is not None or not len(exposures)
        if demean:
            if g is None:
                cell, n_cells = panel.segments.codes, panel.segments.n_segments
            else:
                cell, n_cells = group_codes(panel.date_codes, values[:, g])
            common &= cell >= 0
        out = np.empty_like(values)
        out[:, roles.passthrough] = values[:, roles.passthrough]
        seg = panel.segments

        def neutralise(j):
            ok = common & ~np.isnan(values[:, j])
            y = np.where(ok, values[:, j], np.nan)
            X = Z
            if demean:
                wk = np.where(ok, 1.0 if weights is None else weights, 0.0)
                yz = np.column_stack(
                    [np.where(ok, y, 0.0), np.where(ok[:, None], Z, 0.0)]
                )
                d = _demean(yz, np.where(ok, cell, 0), max(n_cells, 1), wk)
                y, X = np.where(ok, d[:, 0], np.nan), d[:, 1:]
            if len(exposures):
                # Frisch-Waugh-Lovell: regress the demeaned y on the demeaned Z.
                y = segment_regression(seg, X, y, weights, center=not demean).resid
            out[:, j] = np.where(ok, y, np.nan)

        for_each(neutralise, roles.features, self.n_jobs)
        return out
