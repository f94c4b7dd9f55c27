"""QuantilePortfolioFactor: long the top group, short the bottom group, per date."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from skfactor.panel._buckets import bucket_means, fraction_thresholds, rank_buckets
from skfactor.panel._transformer import PanelTransformer, shared_constraints
from skfactor.panel._validation import validate_panel, validate_row_values
from skfactor.utils._parallel import for_each
from skfactor.utils._sklearn import Interval, set_features_seen
from skfactor.utils._typing import FrameOut, MatrixLike, TargetLike
from skfactor.utils._warnings import warn

__all__ = ["QuantileFits", "QuantilePortfolioFactor"]

# Fitted attributes that only ``fit(X, y)`` with returns sets.
_RETURN_ATTRIBUTES = ("factor_returns_", "quantile_returns_")


class QuantileFits(NamedTuple):
    """One partition of dates' portfolios, before the warning.

    ``names`` are the characteristics, ``bad`` (n_dates, n_characteristics)
    the dates too thin for both legs (None when not formed), ``frames`` the
    partition's ``(factor_returns_, quantile_returns_)`` (None without
    returns), then the feature count and names its validation found.
    """

    names: list
    bad: np.ndarray | None
    frames: tuple | None
    n_features_in: int
    feature_names_in: np.ndarray | None


def _check_breakpoints(breakpoints):
    """Increasing fractions in (0, 1) from a float or a sequence."""
    seq = [breakpoints] if isinstance(breakpoints, numbers.Real) else list(breakpoints)
    ok = len(seq) > 0 and all(
        isinstance(c, numbers.Real) and not isinstance(c, bool) and 0 < c < 1
        for c in seq
    )
    if not ok or any(b <= a for a, b in zip(seq, seq[1:], strict=False)):
        raise ValueError(
            "`breakpoints` must be strictly increasing fractions in (0, 1), e.g. "
            f"(0.3, 0.7) for Fama-French's 30/70 split; got {breakpoints!r}."
        )
    return [float(c) for c in seq]


class QuantilePortfolioFactor(PanelTransformer):
    r"""Long-short portfolios of the top and bottom groups of each characteristic.

    On each date and for each column, the assets with a value are ranked by
    their average rank :math:`r` (1-based, ties averaged, as
    :meth:`pandas.Series.rank`) among the :math:`n` assets with a value. With
    :math:`p = r / n`:

    - ``n_quantiles=q``: quantile :math:`k` holds :math:`(k-1)/q < p \le k/q`;
      the long leg is the top one, :math:`p > 1 - 1/q`, the short leg the bottom
      one, :math:`p \le 1/q`;
    - ``breakpoints=(b_1, ..., b_m)``: group :math:`k` holds
      :math:`b_{k-1} < p \le b_k`; top :math:`p > b_m`, bottom :math:`p \le b_1`
      (Fama-French: ``(0.3, 0.7)``);
    - ``top_n=k``: the lecture's fixed counts, top :math:`r > n - k` (the
      :math:`k` largest), bottom :math:`r \le k` (the :math:`k` smallest).

    Unlike :func:`pandas.qcut`, ties never fail: tied assets share a rank and a
    group. Each leg is equal-weighted, or value-weighted by the ``weights``
    column, and the portfolio is long the top minus short the bottom (or the
    reverse for a column with ``long_high`` False):

    .. math::

        w_i = \frac{v_i}{\sum_{j \in \mathrm{top}} v_j} [i \in \mathrm{top}]
            - \frac{v_i}{\sum_{j \in \mathrm{bottom}} v_j} [i \in \mathrm{bottom}],

    with :math:`v_i = 1` (equal weights) or the asset's weight. A row whose
    value (or weight) is NaN is not ranked and gets weight 0. A date on which a
    leg would be empty (a single asset, all values tied, too few assets for two
    ``top_n`` legs that do not overlap, or a leg of zero total weight) has no
    portfolio: its weights are 0, its factor return NaN, and one warning says
    how many dates this hit. Stateless: each date uses only its own rows.

    Parameters
    ----------
    n_quantiles : int, default=5
        Number of equal groups (5: quintiles, 10: deciles). Used when
        ``breakpoints`` and ``top_n`` are None; leave it at its default (or
        None) when giving one of them.
    breakpoints : float or sequence of float, default=None
        Increasing fractions of the cross-section in (0, 1) at which to cut,
        e.g. ``(0.3, 0.7)`` or ``0.5`` (a median split).
    top_n : int, default=None
        Fixed number of assets in each leg, as the lecture's ``top(1000)`` and
        ``bottom(1000)``.
    weights : str or int, default=None
        Column of ``X`` holding non-negative value weights (e.g. market cap);
        None means equal weights. Not a characteristic (the column-role rule
        of every per-date step): it is passed through unchanged and gets no
        portfolio of its own. To sort on market cap and weight by it (the size
        portfolio), give the sort a copy: ``X.assign(size=X["cap"])``.
    passthrough : list of str or int, default=None
        Other columns of ``X`` that are not characteristics: passed through
        unchanged, no portfolio. See the user guide's "Column roles".
    long_high : bool, dict or sequence of bool, default=True
        Whether each column's long leg is its top group (True) or its bottom
        group (False, e.g. small minus big for size). A dict maps column names
        (or positions) to a bool, the others being True; a sequence gives one
        bool per characteristic (column not named by a role).
    n_jobs : int, default=None
        Number of threads working on characteristics in parallel (``None``:
        1; ``-1``: all CPUs). The result does not depend on it.

    Attributes
    ----------
    factor_returns_ : DataFrame of shape (n_dates, n_characteristics)
        One per characteristic (column not named by a role). Set by
        ``fit(X, y)``: each date's long-short return,
        ``(transform(X) * y).groupby(date).sum()``. A leg member whose return
        is NaN is left out of its leg and the leg's other weights are scaled up
        to sum to 1 again (what the lecture's ``groupby(...).mean()`` of the
        leg's returns does); a leg without any return, or a date without a
        portfolio, gives NaN.
    quantile_returns_ : DataFrame of shape (n_dates, n_features * n_groups)
        Set by ``fit(X, y)``: the (equal- or value-) weighted mean return of
        every group, columns ``(feature, group)`` with groups numbered 1 (lowest
        values) to ``n_groups`` (highest; for ``top_n``, 1 is the ``k``
        smallest, 2 the rest, 3 the ``k`` largest), as in alphalens' quantile
        returns. ``factor_returns_`` is the top minus the bottom group (the
        reverse when ``long_high`` is False).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when they are all strings.

    Notes
    -----
    There is no ``groups`` parameter yet: sorting within groups (alphalens'
    ``binning_by_group``) is a different portfolio, whose legs would mix the
    groups' quantiles; sort each group's panel on its own, or neutralise the
    characteristic first (:class:`~skfactor.CrossSectionalNeutralizer`).

    See Also
    --------
    fama_french_factors : SMB and HML from the 2x3 size/value sort.
    TimeSeriesFactorModel : Regress asset returns on these factor returns.

    Examples
    --------
    >>> from skfactor import QuantilePortfolioFactor
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=20, n_assets=200, random_state=0)
    >>> qpf = QuantilePortfolioFactor(n_quantiles=5, long_high={"size": False})
    >>> W = qpf.fit_transform(data.X, data.y)
    >>> bool(W.groupby(level="date").sum().abs().max().max() < 1e-12)  # neutral
    True
    >>> f = (W * data.y.to_numpy()[:, None]).groupby(level="date").sum()
    >>> bool(((f - qpf.factor_returns_).abs() < 1e-15).all().all())
    True
    >>> qpf.quantile_returns_.columns[:2].tolist()
    [('value', 1), ('value', 2)]
    """

    _verb = "sort"
    _parameter_constraints: dict = {
        "n_quantiles": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "breakpoints": "no_validation",  # checked by _check_breakpoints
        "top_n": [Interval(numbers.Integral, 1, None, closed="left"), None],
        **shared_constraints("weights", "passthrough"),
        "long_high": "no_validation",  # checked by _directions
        **shared_constraints("n_jobs"),
    }

    def __init__(
        self,
        *,
        n_quantiles: int = 5,
        breakpoints: float | Sequence[float] | None = None,
        top_n: int | None = None,
        weights: str | int | None = None,
        passthrough: Sequence[str | int] | None = None,
        long_high: bool | dict[Any, bool] | Sequence[bool] = True,
        n_jobs: int | None = None,
    ) -> None:
        self.n_quantiles = n_quantiles
        self.breakpoints = breakpoints
        self.top_n = top_n
        self.weights = weights
        self.passthrough = passthrough
        self.long_high = long_high
        self.n_jobs = n_jobs

    # ------------------------------------------------------------- settings
    def _scheme(self):
        """``("fractions", cuts)`` or ``("top_n", k)``, and the number of groups."""
        given = {
            name: value
            for name, value in (
                ("breakpoints", self.breakpoints),
                ("top_n", self.top_n),
            )
            if value is not None
        }
        if len(given) == 2:
            raise ValueError(
                "`breakpoints` and `top_n` are mutually exclusive; got "
                f"breakpoints={self.breakpoints!r} and top_n={self.top_n!r}. Give "
                "one of them."
            )
        if given and self.n_quantiles not in (None, 5):
            (name,) = given
            raise ValueError(
                f"`n_quantiles`={self.n_quantiles!r} conflicts with "
                f"`{name}`={given[name]!r}: give only one way of forming the legs "
                "(leave `n_quantiles` at its default or set it to None)."
            )
        if "top_n" in given:
            return "top_n", int(self.top_n), 3
        if "breakpoints" in given:
            cuts = _check_breakpoints(self.breakpoints)
            return "fractions", cuts, len(cuts) + 1
        if self.n_quantiles is None:
            raise ValueError(
                "Give one of `n_quantiles`, `breakpoints` or `top_n`; all are None."
            )
        q = int(self.n_quantiles)
        cuts = [k / q for k in range(1, q - 1)] + [1 - 1 / q]
        return "fractions", cuts, q

    def _directions(self, panel, roles):
        """Per characteristic, +1 where long its top group, -1 where its bottom."""
        n_columns = len(roles.features)
        spec = self.long_high

        def sign(value, where):
            if not isinstance(value, bool | np.bool_):
                raise ValueError(
                    f"`long_high` must be a bool, a dict of bools or one bool per "
                    f"column; got {value!r}{where}."
                )
            return 1.0 if value else -1.0

        if isinstance(spec, bool | np.bool_):
            return np.full(n_columns, sign(spec, ""))
        signs = np.ones(n_columns)
        if isinstance(spec, Mapping):
            for key, value in spec.items():
                j = panel.column_position(key, "long_high")
                if j not in roles.features:
                    raise ValueError(
                        f"`long_high` names column {key!r}, which is not a "
                        "characteristic here (it is a `weights` or `passthrough` "
                        "column): it has no portfolio."
                    )
                signs[np.searchsorted(roles.features, j)] = sign(
                    value, f" for column {key!r}"
                )
            return signs
        seq = list(spec) if isinstance(spec, list | tuple | np.ndarray) else None
        if seq is None or len(seq) != n_columns:
            raise ValueError(
                f"`long_high` must be a bool, a dict {{column: bool}} or one bool per "
                f"characteristic ({n_columns}); got {spec!r}."
            )
        return np.array([sign(v, "") for v in seq])

    # ------------------------------------------------------------ the kernel
    def _portfolios(self, panel, roles, y=None, weights=True):
        """Leg weights (caller's order) and, with returns, factor/group returns.

        The weights have every column of ``X`` (passthrough columns unchanged);
        the factor and group returns one per characteristic; ``bad`` (n_dates,
        n_characteristics) marks the dates too thin for both legs (the caller
        warns, once).
        """
        kind, cuts, n_groups = self._scheme()
        directions = self._directions(panel, roles)
        values, seg = panel.values, panel.segments
        w_pos = roles.position("weights")
        vw = None if w_pos is None else seg.sort(values[:, w_pos])
        r = None if y is None else seg.sort(y)
        n_columns = len(roles.features)
        n_dates = seg.n_segments
        W = None
        if weights:
            W = np.zeros(values.shape, order="F")
            W[:, roles.passthrough] = values[:, roles.passthrough]
        bad = np.zeros((n_dates, n_columns), dtype=bool)
        factor = np.full((n_dates, n_columns), np.nan)
        groups = np.full((n_dates, n_columns, n_groups), np.nan)
        seg_row = seg.segment_of_row

        def portfolio(j):
            column = roles.features[j]
            col = seg.sort(values[:, column])
            if vw is not None:
                col = np.where(np.isnan(vw), np.nan, col)
            n = seg.count(col)
            if kind == "top_n":
                thresholds = np.vstack([np.full(n_dates, cuts), n - cuts])
            else:
                thresholds = fraction_thresholds(n, cuts)
            bucket = rank_buckets(seg, col, thresholds)
            mean, total = bucket_means(
                seg, bucket, n_groups, r, vw, segment_of_row=seg_row
            )
            bad[:, j] = (total[:, 0] <= 0) | (total[:, -1] <= 0)
            if kind == "top_n":
                bad[:, j] |= n < 2 * cuts
            if weights:
                with np.errstate(divide="ignore"):
                    scale = np.zeros((n_dates, n_groups))
                    scale[:, -1] = directions[j] / total[:, -1]
                    scale[:, 0] = -directions[j] / total[:, 0]
                scale[bad[:, j]] = 0.0
                # One flat gather: row -> its (date, group) scale; -1 -> a 0.
                scale = np.append(scale.reshape(-1), 0.0)
                at = seg_row * n_groups + bucket
                at[bucket < 0] = len(scale) - 1
                w = scale[at]
                if vw is not None:
                    w *= np.where(bucket < 0, 0.0, vw)
                W[:, column] = seg.unsort(w)
            if r is not None:
                mean[bad[:, j]] = np.nan
                groups[:, j] = mean
                factor[:, j] = directions[j] * (mean[:, -1] - mean[:, 0])

        for_each(portfolio, range(n_columns), self.n_jobs)
        return W, factor, groups, bad

    def _names(self, panel, roles):
        """The characteristics' names (positions for arrays)."""
        if panel.columns is None:
            return roles.features.tolist()
        return panel.columns[roles.features].tolist()

    @staticmethod
    def _warn_too_few(names, bad):
        hit = bad.any(axis=1)
        if not hit.any():
            return
        which = [c for c, b in zip(names, bad.any(axis=0), strict=True) if b]
        warn(
            f"{int(hit.sum())} of {len(hit)} dates have too few assets to form both "
            f"legs in column(s) {which} (a leg would be empty or the top_n legs "
            "would overlap); those dates get weight 0 and a NaN factor return."
        )

    def _return_frames(self, panel, roles, factor, groups):
        """``factor_returns_`` and ``quantile_returns_`` of one partition of dates."""
        names = pd.Index(self.get_feature_names_out()[roles.features])
        dates = panel.dates if panel.dates is not None else pd.RangeIndex(1)
        labels = pd.MultiIndex.from_product(
            [names, range(1, groups.shape[2] + 1)], names=["factor", "quantile"]
        )
        return (
            pd.DataFrame(factor, index=dates, columns=names),
            pd.DataFrame(groups.reshape(len(dates), -1), index=dates, columns=labels),
        )

    # ------------------------------------------------------------ public API
    def fit(
        self, X: MatrixLike, y: TargetLike | None = None
    ) -> QuantilePortfolioFactor:
        """Form the portfolios and, given returns, compute their returns.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Characteristics: a (date, asset) panel, or one cross-section.
        y : Series of shape (n_rows,) or array-like, default=None
            Each row's return over the holding period (e.g. from
            :func:`skfactor.panel.forward_returns`), on the same index as ``X``.
            Without it only ``X`` is checked.

        Returns
        -------
        self : QuantilePortfolioFactor
            The fitted transformer.
        """
        return super().fit(X, y)

    def _fit(self, panel, roles, y):
        self._finalise([self._partition(panel, roles, y, weights=False)[1]])

    def _fit_transform(self, panel, roles, y):
        # The weights and the returns from one pass over the characteristics.
        W, part = self._partition(panel, roles, y, weights=True)
        self._finalise([part])
        return W

    def _fit_partition(self, X, y, weights=False):
        """The per-date work on one partition of dates, without warning.

        Returns the validated panel, its roles, the weights (None unless
        ``weights``) and a :class:`QuantileFits` that :meth:`_finalise`
        combines with the other partitions' (``fit`` is the finalise of one
        partition, so the pandas and the Dask path share this logic).
        """
        panel = validate_panel(self, X, reset=True, y=y)
        roles = self._roles(panel, X)
        return (panel, roles, *self._partition(panel, roles, y, weights))

    # The date-block protocol (see skfactor/models/_protocol.py).
    block_axis = "dates"

    def fit_block(self, X: MatrixLike, y: TargetLike | None = None) -> QuantileFits:
        """Fit one block of whole dates, without warning (see ``combine_blocks``).

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features)
            The block's rows (every row of each of its dates).
        y : Series of shape (n_rows,), optional
            Their returns.

        Returns
        -------
        QuantileFits
            The block's per-date returns and flags, for :meth:`combine_blocks`.
        """
        self._validate_params()
        return self._fit_partition(X, y)[3]

    def combine_blocks(self, blocks: Iterable[QuantileFits]) -> QuantilePortfolioFactor:
        """Combine blocks of dates (in date order) into this transformer, fitted.

        Parameters
        ----------
        blocks : iterable of QuantileFits
            From :meth:`fit_block` (None entries are skipped).

        Returns
        -------
        self : QuantilePortfolioFactor
            Fitted as by ``fit`` on all the blocks' rows; warns once.
        """
        self._validate_params()
        return self._finalise(list(blocks))

    def _partition(self, panel, roles, y, weights):
        """The weights (None unless ``weights``) and the :class:`QuantileFits`."""
        W = bad = frames = None
        if y is None and not weights:
            self._scheme(), self._directions(panel, roles)  # check the settings
        elif y is None:
            W, _, _, bad = self._portfolios(panel, roles)
        else:
            y = validate_row_values(y, panel, "y")
            W, factor, groups, bad = self._portfolios(panel, roles, y, weights=weights)
            frames = self._return_frames(panel, roles, factor, groups)
        part = QuantileFits(
            self._names(panel, roles),
            bad,
            frames,
            self.n_features_in_,
            getattr(self, "feature_names_in_", None),
        )
        return W, part

    def _finalise(self, parts):
        """Combine the partitions' :class:`QuantileFits` (in date order); warn once."""
        parts = [part for part in parts if part is not None]
        first = parts[0]
        set_features_seen(self, first.n_features_in, first.feature_names_in)
        if first.frames is not None:
            self.factor_returns_, self.quantile_returns_ = (
                pd.concat([part.frames[i] for part in parts]) for i in range(2)
            )
        else:  # no returns this time: none from an earlier fit either
            for name in _RETURN_ATTRIBUTES:
                self.__dict__.pop(name, None)
        if first.bad is not None:
            bad = np.concatenate([part.bad for part in parts])
            self._warn_too_few(first.names, bad)
        return self

    def __getattr__(self, name):
        # Only for the attributes that need `y`: say so instead of a bare
        # AttributeError (called only when normal lookup fails).
        if name in _RETURN_ATTRIBUTES:
            fitted = "n_features_in_" in self.__dict__
            raise AttributeError(
                f"`{name}` needs the returns: it is set by `fit(X, y)` with `y` "
                "each row's return over the holding period (e.g. "
                "`skfactor.panel.forward_returns(returns)`), but this "
                f"{type(self).__name__} was "
                + ("fitted without `y`." if fitted else "not fitted yet.")
                + " Call `fit(X, y)`."
            )
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def transform(self, X: MatrixLike) -> FrameOut:
        """Each row's weight in its column's long-short portfolio.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Characteristics: a (date, asset) panel, or one cross-section.

        Returns
        -------
        W : DataFrame or ndarray of shape (n_rows, n_features)
            Same container, index (same order) and columns as ``X``: per date
            and column, ``+1/n_long`` in the long leg (or the value weight over
            the leg's total), ``-1/n_short`` in the short leg, 0 elsewhere and
            on NaN rows. Each leg sums to +1 or -1, each date to 0.
        """
        return super().transform(X)

    def _transform(self, panel, roles):
        W, _, _, bad = self._portfolios(panel, roles)
        self._warn_too_few(self._names(panel, roles), bad)
        return W
