r"""The fitting protocol: fitting a model by blocks, and handing it to the risk model.

Every model that can be fitted piecewise says so with two public methods, and
nothing outside ``skfactor.models`` needs more (``skfactor.dask`` and
``skfactor.risk`` use only these and public attributes):

``block = model.fit_block(X, y, ...)``
    Fits one block and returns its state, without a global check and without
    a warning. ``model`` itself is left unfitted by an asset block.
``model.combine_blocks(blocks)``
    Combines the blocks' states into ``model``, fitted: the same type and the
    same attributes as ``model.fit`` on the whole data, with its global checks
    and its warnings, once. Returns ``model``.

A model declares which way it is cut with ``block_axis``:

- ``"dates"`` (:class:`~skfactor.CrossSectionalFactorModel`,
  :class:`~skfactor.QuantilePortfolioFactor`): a block is a set of whole
  dates (every row of a date in one block; the blocks in date order). Its
  state holds per-date results, which combine by concatenation, and pooled
  sums (e.g. the Gram matrix the collinearity check tests), which combine by
  summation. ``fit`` is ``combine_blocks([fit_block(X, y)])``, so both paths
  are one logic. Because the state of a set of dates is sufficient to extend
  it, :meth:`~skfactor.CrossSectionalFactorModel.partial_fit` is the same
  combination of the fitted state with a block of later dates (equal to a
  refit; its checks cover all the dates, its warning the new ones).
- ``"assets"`` (:class:`~skfactor.TimeSeriesFactorModel`,
  :class:`~skfactor.RollingFactorModel`): a block is some assets on every
  date (``X`` whole, ``y`` some of its columns). Its state, an
  :class:`AssetBlock`, is the block's fitted attributes, sorted by how they
  combine: per asset (concatenated), per window and asset (concatenated
  along the asset axis; they may be lazy arrays, e.g. Dask's, and are then
  kept lazy), or the same on every block. The Gibbons-Ross-Shanken test
  needs the residuals of every asset on the dates where all of them are
  observed: pass those ``complete_dates`` to ``fit_block`` (one pass over
  the blocks finds them) and the block carries its share.

A time-series fit is also a sum over dates, so
:class:`~skfactor.TimeSeriesFactorModel` can be cut by dates as well, in two
passes (its covariances need the final betas): ``plan =
model.plan_date_blocks(X)``; each block's ``plan.sums``, combined by
``plan.combine``; each block's ``plan.meat`` under those betas; then
``model.combine_date_blocks(plan, combined, blocks, assets)`` (see
``_time_series_dates.py``). ``skfactor.dask.fit_by_asset`` uses it on date
partitions, and a rolling model there is ``fit_block`` on each partition
with the ``model.date_block_lookback()`` dates before it (``window - 1``;
the call validates the parameters), joined by ``combine_blocks``.

A fitted model hands its pieces to :class:`~skfactor.risk.FactorRiskModel`
with ``model.risk_inputs(X, y, date=None)``: a :class:`RiskInputs` of the
exposures :math:`B`, the factor returns (whose covariance is
:math:`\Sigma_F`), the residuals (whose variances are :math:`D`) and the
asset returns, all wide (date x factor, date x asset, asset x factor).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from skfactor.models._lazy import lazy_results
from skfactor.models._risk_inputs import (
    RiskInputs,
    cross_sectional_risk_inputs,
    time_series_risk_inputs,
)
from skfactor.panel._wide import validate_wide
from skfactor.utils._numerics import power_of_two_units
from skfactor.utils._typing import MatrixLike, TargetLike

__all__ = [
    "AssetBlock",
    "AssetBlocksMixin",
    "CrossSectionalBlocks",
    "DateBlocksMixin",
    "RiskInputs",
    "RollingBlocks",
    "TimeSeriesBlocks",
]

# Set by ``set_features_seen``: the same on every block, never per asset.
_FEATURES = ("n_features_in_", "feature_names_in_")


# ----------------------------------------------------------------- dates
class DateBlocksMixin:
    """``fit_block``/``combine_blocks`` of a model cut into blocks of whole dates.

    The model implements them as ``_fit_partition`` (one block's per-date
    results and pooled sums) and ``_finalise`` (the combination, its checks and
    warnings); its ``fit`` is the finalise of one partition.
    """

    block_axis: ClassVar[str] = "dates"

    def fit_block(self, X: MatrixLike, y: TargetLike, sample_weight: Any = None) -> Any:
        """Fit one block of whole dates: its per-date results and pooled sums.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features)
            The block's rows of the panel (every row of each of its dates).
        y : Series of shape (n_rows,)
            Their returns.
        sample_weight : Series of shape (n_rows,), optional
            Their regression weights, where the model takes them.

        Returns
        -------
        block
            The block's state, for :meth:`combine_blocks`. No warning is
            raised and nothing global is checked: that is the combination's.
        """
        self._validate_params()
        return self._fit_partition(X, y, sample_weight)

    def combine_blocks(self, blocks: Iterable[Any]) -> Any:
        """Combine blocks of dates (in date order) into this model, fitted.

        Per-date results are concatenated and pooled sums summed; the checks
        that need every date run, and the warnings are raised, once.

        Parameters
        ----------
        blocks : iterable of block states
            From :meth:`fit_block` (None entries, e.g. of empty blocks, are
            skipped).

        Returns
        -------
        self
            Fitted as by ``fit`` on all the blocks' rows.
        """
        self._validate_params()
        return self._finalise(list(blocks))


class CrossSectionalBlocks(DateBlocksMixin):
    """The date-block protocol and risk hand-off of a cross-sectional model."""

    def risk_inputs(
        self, X: MatrixLike, y: TargetLike, *, date: Any = None
    ) -> RiskInputs:
        """What the risk model needs: exposures, factor returns, residuals, returns.

        The exposures are the loadings of the assets present on ``date``
        (plus a ``const`` column of ones with an intercept, whose per-date
        estimate is then a factor return like the others); the factor
        returns are the per-date ``params_``; the residuals are
        :meth:`residuals` of every asset, wide.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features)
            The (date, asset) panel of loadings of ``fit`` (later dates may be
            added).
        y : Series of shape (n_rows,)
            The returns on ``X``'s index.
        date : label, default=None
            The date whose loadings are the exposures; None: the last date of
            ``X``.

        Returns
        -------
        RiskInputs
            ``(exposures, factor_returns, residuals, asset_returns)``.
        """
        return cross_sectional_risk_inputs(self, X, y, date)


# ---------------------------------------------------------------- assets
@dataclass(frozen=True)
class AssetBlock:
    """One block of assets fitted on every date, as :meth:`combine_blocks` takes it.

    Attributes
    ----------
    assets : Index
        The block's assets.
    shared : dict
        Fitted attributes that are the same on every block (the features seen,
        the dates, flags).
    per_asset : dict
        Fitted attributes with the block's assets first (arrays or pandas
        objects indexed by asset): concatenated.
    windows : dict
        Fitted attributes of one value per (date, asset), as arrays of shape
        (n_dates, n_assets, ...): concatenated along the asset axis. An array
        may be lazy (anything ``np.concatenate`` dispatches, e.g. a Dask
        array); the combined attribute is then that lazy array.
    layouts : dict
        For each of ``windows``, the pandas layout it had in the fitted
        model: ``(columns, name, index names)``, with columns None for a
        Series; None for an attribute kept as an array.
    estimated : ndarray of shape (n_assets,)
        Whether each asset has an estimate (on some window).
    complete_dates : ndarray of shape (n_dates,)
        Dates on which every asset of the block and every factor is observed.
    grs : tuple or None
        The block's share of the GRS test (intercepts and residuals on the
        ``complete_dates`` given to ``fit_block``, with the factor mean and
        covariance), or None.
    grs_dates : ndarray or None
        The ``complete_dates`` the ``grs`` share was computed on.

    Examples
    --------
    >>> from skfactor import TimeSeriesFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=60, n_assets=10, random_state=0)
    >>> F, R = data.factor_returns, data.y.unstack("asset")
    >>> model = TimeSeriesFactorModel()
    >>> complete = (F.notna().all(axis=1) & R.notna().all(axis=1)).to_numpy()
    >>> blocks = [
    ...     model.fit_block(F, R.iloc[:, cut], complete_dates=complete)
    ...     for cut in (slice(0, 6), slice(6, None))
    ... ]
    >>> blocks[1].assets.tolist()
    ['A00006', 'A00007', 'A00008', 'A00009']
    >>> whole = TimeSeriesFactorModel().fit(F, R)
    >>> model.combine_blocks(blocks).grs_.df_denom == whole.grs_.df_denom
    True
    """

    assets: pd.Index
    shared: dict = field(default_factory=dict)
    per_asset: dict = field(default_factory=dict)
    windows: dict = field(default_factory=dict)
    layouts: dict = field(default_factory=dict)
    estimated: np.ndarray | None = None
    complete_dates: np.ndarray | None = None
    grs: tuple | None = None
    grs_dates: np.ndarray | None = None


def _split_fitted(fitted, skip=()):
    """The fitted attributes of ``fitted``, sorted by how they combine."""
    params = fitted.get_params(deep=False)
    assets = fitted.assets_
    n = len(assets)
    dates = fitted.__dict__.get("dates_")
    block = {"shared": {}, "per_asset": {}, "windows": {}, "layouts": {}}
    # Lazily computed results are computed here, on the block, and combine as
    # fitted attributes; the moments they come from stay with the block.
    fitted_attributes = {k: v for k, v in vars(fitted).items() if k != "_lazy"}
    fitted_attributes.update(lazy_results(fitted))
    for name, value in fitted_attributes.items():
        if name in params or name in skip or name == "assets_":
            continue
        long = isinstance(value, pd.DataFrame | pd.Series) and isinstance(
            value.index, pd.MultiIndex
        )
        if dates is not None and long and len(value) == len(dates) * n:
            frame = isinstance(value, pd.DataFrame)
            shape = (len(dates), n, value.shape[1]) if frame else (len(dates), n)
            block["windows"][name] = value.to_numpy().reshape(shape)
            block["layouts"][name] = (
                value.columns if frame else None,
                value.name if not frame else None,
                value.index.names,
            )
        elif (
            dates is not None
            and isinstance(value, np.ndarray)
            and value.shape[:2] == (len(dates), n)
        ):  # kept by date and asset as an array (e.g. per-window moments)
            block["windows"][name] = value
            block["layouts"][name] = None
        elif name in _FEATURES:
            block["shared"][name] = value
        elif isinstance(value, pd.DataFrame | pd.Series) and value.index.equals(assets):
            block["per_asset"][name] = value
        elif isinstance(value, np.ndarray) and value.ndim and len(value) == n:
            block["per_asset"][name] = value
        else:
            block["shared"][name] = value
    return block


def _same(a, b):
    if isinstance(a, pd.Index | pd.Series | pd.DataFrame):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return bool(a == b) or (a != a and b != b)  # NaN == NaN here


def _concat(values):
    if isinstance(values[0], pd.DataFrame | pd.Series):
        return pd.concat(values)
    return np.concatenate(values)


def _wrap_windows(values, layout, index):
    """A window attribute in its pandas layout (a lazy array stays as it is)."""
    if layout is None or not isinstance(values, np.ndarray):
        return values
    columns, name, _ = layout
    flat = values.reshape(len(index), *values.shape[2:])
    if columns is None:
        return pd.Series(flat, index=index, name=name)
    return pd.DataFrame(flat, index=index, columns=columns, copy=False)


class AssetBlocksMixin:
    """``fit_block``/``combine_blocks`` of a model cut into blocks of assets.

    The model's ``fit`` is unchanged: a block is a clone of the model fitted
    on the block's assets (warnings silenced), its attributes sorted by how
    they combine (:class:`AssetBlock`). The model says how it warns once
    (``_warn_combined``) and whether an asset has an estimate
    (``_block_estimated``).
    """

    block_axis: ClassVar[str] = "assets"

    def date_block_lookback(self) -> int:
        """The earlier dates a block of whole dates needs besides its own.

        Validates the parameters first (a fit by blocks of dates plans its
        blocks before fitting any). A time-series fit is a sum over dates:
        0. A rolling fit's windows reach back ``window - 1`` dates.

        Returns
        -------
        int
        """
        self._validate_params()
        return self._lookback()

    def _lookback(self):
        return 0

    def fit_block(
        self,
        X: MatrixLike,
        y: TargetLike,
        *,
        complete_dates: np.ndarray | None = None,
    ) -> AssetBlock:
        """Fit one block of assets on every date.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors)
            Every date's factor returns (the same ``X`` for every block).
        y : DataFrame of shape (n_dates, n_assets_in_block)
            The block's assets' returns.
        complete_dates : array-like of bool of shape (n_dates,), optional
            The dates on which every asset of **all** blocks and every factor
            is observed. Given, the block carries its share of the
            Gibbons-Ross-Shanken test (a :class:`TimeSeriesFactorModel`
            needs it to combine a defined test).

        Returns
        -------
        AssetBlock
            The block's state; no warning is raised (:meth:`combine_blocks`
            warns once).
        """
        self._validate_params()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = clone(self).fit(X, y)
        wide = validate_wide(fitted, X, y, reset=False, names=("X", "y"))
        complete = ~np.isnan(wide.F).any(axis=1) & ~np.isnan(wide.R).any(axis=1)
        grs = grs_dates = None
        if complete_dates is not None:
            grs_dates = np.asarray(complete_dates, dtype=bool)
            if grs_dates.shape != complete.shape or (grs_dates & ~complete).any():
                raise ValueError(
                    "`complete_dates` must mark, for each of the "
                    f"{len(complete)} dates of `X`, whether every asset of every "
                    "block and every factor is observed; it marks dates on which "
                    "this block's returns or a factor are missing."
                )
            grs = self._grs_share(wide, grs_dates)
        parts = _split_fitted(fitted, skip=self._combined_attributes)
        return AssetBlock(
            assets=fitted.assets_,
            estimated=self._block_estimated(fitted),
            complete_dates=complete,
            grs=grs,
            grs_dates=grs_dates,
            **parts,
        )

    #: Private attributes formed by ``combine_blocks`` itself (not concatenated).
    _combined_attributes: ClassVar[tuple] = ()

    def _grs_share(self, wide, rows):
        return None

    def combine_blocks(self, blocks: Iterable[AssetBlock]) -> Any:
        """Combine blocks of assets (in asset order) into this model, fitted.

        Parameters
        ----------
        blocks : iterable of AssetBlock
            From :meth:`fit_block`, on the same ``X``.

        Returns
        -------
        self
            Fitted, with the attributes of ``fit`` on all the blocks' assets
            (window attributes that were lazy arrays stay lazy), and its
            warnings, once.
        """
        self._validate_params()
        blocks = list(blocks)
        if not blocks or not all(isinstance(b, AssetBlock) for b in blocks):
            raise ValueError(
                f"{type(self).__name__} combines blocks of assets: pass the "
                "AssetBlocks that `fit_block(X, y_block)` returned (at least one)."
            )
        first = blocks[0]
        for name in first.shared:
            if not all(_same(first.shared[name], b.shared[name]) for b in blocks):
                raise ValueError(
                    f"The blocks disagree on `{name}`: fit every block with the "
                    "same model and the same `X`."
                )
        assets = first.assets.append([b.assets for b in blocks[1:]])
        if not assets.is_unique:
            dup = assets[assets.duplicated()][:3].tolist()
            raise ValueError(f"An asset is in more than one block, e.g. {dup}.")
        for name in [k for k in vars(self) if k.endswith("_") and k[0] != "_"]:
            delattr(self, name)  # an earlier fit's (e.g. a bse_ no longer stored)
        for name, value in first.shared.items():
            setattr(self, name, value)
        self.assets_ = assets
        for name in first.per_asset:
            setattr(self, name, _concat([b.per_asset[name] for b in blocks]))
        if first.windows:
            names = next((x[2] for x in first.layouts.values() if x is not None), None)
            index = pd.MultiIndex.from_product([self.dates_, assets], names=names)
            for name in first.windows:
                values = np.concatenate([b.windows[name] for b in blocks], axis=1)
                setattr(self, name, _wrap_windows(values, first.layouts[name], index))
        self._combine_extra(blocks)
        self._warn_combined(np.concatenate([b.estimated for b in blocks]))
        return self

    def _combine_extra(self, blocks):
        return None


class TimeSeriesBlocks(AssetBlocksMixin):
    """The asset-block protocol of :class:`TimeSeriesFactorModel`, GRS included."""

    _combined_attributes: ClassVar[tuple] = ("_grs",)

    def _block_estimated(self, fitted):
        return ~np.isnan(fitted.params_.to_numpy()).all(axis=1)

    def _warn_combined(self, estimated):
        self._warn_bad(~estimated, self.params_.shape[1])

    def _grs_share(self, wide, rows):
        from skfactor.models._time_series import grs_residuals

        T, (N, K) = int(rows.sum()), (wide.R.shape[1], wide.F.shape[1])
        if not self.fit_intercept or T <= K + 1 or N == 0:
            return None
        # The units of grs_test: the statistic is the same, to rounding.
        F = wide.F / power_of_two_units(wide.F)
        return grs_residuals(F, wide.R, rows, units=power_of_two_units(wide.R))

    def _combine_extra(self, blocks):
        from skfactor.models._time_series import grs_statistic, grs_undefined

        rows = np.logical_and.reduce([b.complete_dates for b in blocks])
        T, N, K = int(rows.sum()), len(self.assets_), self.n_features_in_
        if not self.fit_intercept or T - N - K <= 0:
            self._grs = grs_undefined(T, N, K, self.fit_intercept)
            return
        given = [b.grs_dates for b in blocks]
        if any(g is None or not np.array_equal(g, rows) for g in given):
            raise ValueError(
                f"The GRS test is defined here (T={T} complete dates > N + K = "
                f"{N + K}) and needs every block's residuals on the dates where "
                "every asset is observed: fit each block with "
                "`fit_block(X, y_block, complete_dates=...)`, those dates marked "
                "(every factor and every asset of all blocks observed)."
            )
        alpha = np.concatenate([b.grs[0] for b in blocks])
        E = np.hstack([b.grs[1] for b in blocks])
        _, _, mu, omega = blocks[0].grs
        self._grs = grs_statistic(alpha, E.T @ E / T, mu, omega, T)

    def risk_inputs(
        self, X: MatrixLike, y: TargetLike, *, date: Any = None
    ) -> RiskInputs:
        """What the risk model needs: exposures, factor returns, residuals, returns.

        The exposures are ``coef_``; the factor returns are ``X``; the
        residuals are :meth:`residuals` of ``(X, y)``.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors)
            The factor returns of ``fit`` (the model does not store them).
        y : DataFrame of shape (n_dates, n_assets)
            The asset returns of ``fit``.
        date : None
            Must be None: a time-series model has one beta per asset.

        Returns
        -------
        RiskInputs
            ``(exposures, factor_returns, residuals, asset_returns)``.
        """
        return time_series_risk_inputs(self, X, y, date)


class RollingBlocks(AssetBlocksMixin):
    """The asset-block protocol of :class:`RollingFactorModel`."""

    def _lookback(self):
        return int(self.window) - 1

    def _block_estimated(self, fitted):
        values = fitted.params_.to_numpy()
        values = values.reshape(len(fitted.dates_), len(fitted.assets_), -1)
        return np.isfinite(values).any(axis=(0, 2))

    def _warn_combined(self, estimated):
        if not estimated.any():
            self._warn_empty(self._min_obs(self.n_features_in_), len(self.dates_))

    def _combine_extra(self, blocks):
        # The blocks' results are set; an earlier fit's moments and
        # partial_fit state (its returns) are not this model's.
        self.__dict__.get("_lazy", {}).pop("moments", None)
