"""FactorRiskModel: exposures, factor covariance and specific variances, put to use."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import get_tags

from skfactor.models import CrossSectionalFactorModel, TimeSeriesFactorModel
from skfactor.panel._wide import long_to_wide, wide_values
from skfactor.risk._covariance import factor_covariance, nearest_psd
from skfactor.risk._decomposition import RiskDecomposition, decompose
from skfactor.risk._estimator import FactorCovariance
from skfactor.risk._hedge import HedgeResult, check_targets, hedge_positions
from skfactor.risk._specific import SpecificSettings, SpecificState
from skfactor.utils._cov_types import resolve_bandwidth
from skfactor.utils._growing import GrowingArray
from skfactor.utils._later_dates import check_later_dates, last_date
from skfactor.utils._typing import ArrayLike

__all__ = ["FactorRiskModel"]


def _labelled(values, name, index=None, columns=None):
    """A float DataFrame from a DataFrame or a 2-D array-like."""
    if isinstance(values, pd.DataFrame):
        frame = values
    else:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"`{name}` must be 2-D; got shape {arr.shape}.")
        frame = pd.DataFrame(arr, index=index, columns=columns)
    values = wide_values(frame, name)
    if np.isnan(values).any():
        raise ValueError(f"`{name}` contains NaN; every entry must be a number.")
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


@dataclass
class _Updates:
    """What :meth:`FactorRiskModel.update` advances: the model and the states."""

    model: Any
    specific: SpecificState
    structural: bool
    halflife: float | None
    bandwidth: int | None
    history: _History
    covariance: FactorCovariance | None = None
    # Cross-sectional model: the exposures are of the last date (the
    # exposures' assets change by date; the history keeps every asset's
    # returns).
    latest: bool = True


class _History:
    """The return histories, in buffers that the new dates are appended to.

    ``factor_returns`` and ``asset_returns`` are frames on views of them,
    so an update copies none of the dates already there (but when a buffer
    is full and doubles, or, from a cross-sectional model, an asset is new
    and widens the rows). ``every`` holds the returns of every asset seen
    (the model's assets, for a time-series model), by ``columns``; its
    dates are its own (matched to the factor returns' by label). The date
    labels are appended as indexes (a copy of 8 bytes or so a date).
    """

    def __init__(self, factor_returns, every):
        self.factor_dates = factor_returns.index
        self.factors = GrowingArray(factor_returns.to_numpy())
        self.dates = every.index
        self.every = GrowingArray(every.to_numpy())
        self.columns = every.columns

    def append(self, factor_returns, every):
        """A new history: this one and the new dates (``every`` by asset)."""
        new = copy.copy(self)
        new.factor_dates = self.factor_dates.append(factor_returns.index)
        new.factors = self.factors.append(factor_returns.to_numpy())
        if not every.columns.equals(self.columns):  # assets came or went
            # (difference hashes; isin looks at each of pandas' arrow strings)
            listed = every.columns.difference(self.columns, sort=False)
            new.columns = self.columns.append(listed)
            every = every.reindex(columns=new.columns)
        new.dates = self.dates.append(every.index)
        new.every = self.every.append(every.to_numpy())
        return new

    def frames(self, factors, assets):
        """``factor_returns`` and the ``asset_returns`` of ``assets``."""
        F = pd.DataFrame(self.factors.values, self.factor_dates, factors, copy=False)
        R = pd.DataFrame(self.every.values, self.dates, self.columns, copy=False)
        return F, R if assets.equals(self.columns) else R.reindex(columns=assets)


def _wide_returns(y):
    """Every asset's returns, wide (date x asset), from a (date, asset) Series."""
    if isinstance(y, pd.DataFrame):
        y = y.iloc[:, 0]
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    wide, dates, assets, _ = long_to_wide(y.index, values)
    return pd.DataFrame(wide, index=dates, columns=assets)


def fit_covariance_estimator(estimator, F):
    """Σ_F as the ``covariance_`` of a clone of ``estimator`` fitted on ``F``."""
    if not hasattr(estimator, "fit"):
        raise TypeError(
            "`factor_covariance_estimator` must be a scikit-learn covariance "
            "estimator (with `fit(X)` setting `covariance_`), e.g. "
            f"sklearn.covariance.LedoitWolf(); got {type(estimator).__name__}."
        )
    est = clone(estimator)
    data = F if get_tags(est).input_tags.allow_nan else F.dropna()
    est.fit(data)
    cov = getattr(est, "covariance_", None)
    if cov is None:
        raise TypeError(
            f"`factor_covariance_estimator` ({type(est).__name__}) set no "
            "`covariance_` when fitted; pass a covariance estimator."
        )
    cov = pd.DataFrame(np.asarray(cov, dtype=np.float64), F.columns, F.columns)
    return cov, est


def portfolio_argument(portfolio, weights):
    """The portfolio's asset weights and the name they were given by.

    ``portfolio`` is the name; ``weights`` is its older spelling, still
    accepted (in skfactor ``weights`` otherwise names a column of per-row
    weights, see the user guide's "Column roles").
    """
    if weights is None:
        if portfolio is None:
            raise TypeError(
                "`portfolio` is required: the portfolio's asset weights, a Series "
                "indexed by asset or one weight per asset."
            )
        return portfolio, "portfolio"
    if portfolio is not None:
        raise TypeError(
            "Give the portfolio once: `portfolio`, or its older spelling "
            "`weights`, not both."
        )
    return weights, "weights"


def align_weights(weights, assets, name="portfolio"):
    """Weights as a float array in ``assets``' order.

    A Series (or dict) is matched by label: its labels must be assets of the
    model, and the model's assets it does not name get weight 0. An array
    must have one weight per asset, in the model's order.
    """
    if isinstance(weights, Mapping):
        weights = pd.Series(weights, dtype=np.float64)
    if isinstance(weights, pd.DataFrame):
        if weights.shape[1] != 1:
            raise ValueError(
                f"`{name}` must be one weight per asset (a Series); got a DataFrame "
                f"with {weights.shape[1]} columns."
            )
        weights = weights.iloc[:, 0]
    if isinstance(weights, pd.Series):
        if not weights.index.is_unique:
            dup = weights.index[weights.index.duplicated()][:3].tolist()
            raise ValueError(f"`{name}` has duplicated assets, e.g. {dup}.")
        unknown = weights.index[~weights.index.isin(assets)]
        if len(unknown):
            raise ValueError(
                f"`{name}` has {len(unknown)} asset(s) that are not in the risk "
                f"model, e.g. {unknown[:5].tolist()}; the model's assets are "
                f"`risk.assets` ({len(assets)} of them, e.g. {assets[:3].tolist()})."
            )
        values = weights.reindex(assets, fill_value=0.0).to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    else:
        try:
            values = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{name}` must be a Series indexed by asset or an array of numbers; "
                f"got {type(weights).__name__}."
            ) from exc
        if values.shape != (len(assets),):
            raise ValueError(
                f"`{name}` must have one weight per asset of the risk model "
                f"({len(assets)}); got shape {values.shape}. Pass a Series indexed "
                "by asset to give only some assets."
            )
    if not np.isfinite(values).all():
        raise ValueError(
            f"`{name}` contains NaN or inf; give every held asset a finite weight "
            "(0 for assets not held)."
        )
    return values


class FactorRiskModel:
    r"""Risk and hedging under a factor model :math:`\Sigma = B \Sigma_F B^\top + D`.

    Holds the exposures :math:`B` (asset x factor), the factor covariance
    :math:`\Sigma_F` and the specific variances :math:`D`, and uses them to
    split a portfolio's variance (:meth:`risk_decomposition`) and to hedge its
    factor exposures (:meth:`hedge`). Build it from a fitted model with
    :meth:`from_model`, or directly from your own (e.g. a vendor's) pieces.

    It is not an estimator: like scikit-learn's displays built
    ``from_estimator``, it is a view of a model that is already fitted.
    :meth:`update` advances one built by :meth:`from_model` by new dates
    (a cross-sectional model with it).

    Parameters
    ----------
    exposures : DataFrame of shape (n_assets, n_factors)
        :math:`B`, indexed by asset, one column per factor.
    factor_covariance : DataFrame of shape (n_factors, n_factors)
        :math:`\Sigma_F`, labelled by the factors (any order); symmetric
        positive semi-definite.
    specific_variance : Series of shape (n_assets,)
        The diagonal of :math:`D`, indexed by asset (any order); >= 0.
    factor_returns : DataFrame of shape (n_dates, n_factors), default=None
        The factors' return streams, for the hedged return series.
    asset_returns : DataFrame of shape (n_dates, n_assets), default=None
        The assets' returns, for the portfolio's return series. Its dates are
        matched to ``factor_returns``' by label.
    n_obs : Series of shape (n_assets,), default=None
        The number of residuals behind each specific variance (informative).

    Attributes
    ----------
    exposures, factor_covariance, specific_variance : DataFrame, DataFrame, Series
        The inputs, labelled and in the order of ``assets`` and ``factors``.
    factor_returns, asset_returns : DataFrame or None
        The return histories (asset returns limited to ``assets``).
    n_obs : Series or None
        Residuals behind each specific variance (``from_model`` sets it).
    factor_covariance_estimator : estimator or None
        The fitted covariance estimator behind ``factor_covariance``, when
        ``from_model`` was given one.
    assets : Index
        The assets, as ``exposures``' index.
    factors : Index
        The factors, as ``exposures``' columns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import FactorRiskModel
    >>> B = pd.DataFrame([[1.0, 0.5], [0.8, -0.3], [1.2, 0.0]],
    ...                  index=["A", "B", "C"], columns=["MKT", "SMB"])
    >>> cov_f = pd.DataFrame([[0.002, 0.0], [0.0, 0.001]], B.columns, B.columns)
    >>> d = pd.Series([0.004, 0.003, 0.005], index=B.index)
    >>> risk = FactorRiskModel(B, cov_f, d)
    >>> dec = risk.risk_decomposition(pd.Series({"A": 0.5, "B": 0.5}))
    >>> bool(np.isclose(dec.factors["variance"].sum(), dec.total_variance))
    True
    >>> dec.factors["fmcar"].round(3).tolist()
    [0.479, 0.003, 0.518]
    >>> risk.hedge({"A": 0.5, "B": 0.5}, targets=["MKT"]).exposures
         before  target  after
    MKT     0.9     0.0    0.0
    SMB     0.1     NaN    0.1
    """

    def __init__(
        self,
        exposures: pd.DataFrame,
        factor_covariance: pd.DataFrame,
        specific_variance: pd.Series,
        *,
        factor_returns: pd.DataFrame | None = None,
        asset_returns: pd.DataFrame | None = None,
        n_obs: pd.Series | None = None,
    ) -> None:
        B = _labelled(exposures, "exposures")
        if not B.index.is_unique or not B.columns.is_unique:
            raise ValueError("`exposures` must have unique asset and factor labels.")
        self.exposures = B
        self.assets, self.factors = B.index, B.columns
        self.factor_covariance = self._check_covariance(factor_covariance)
        self.specific_variance = self._check_specific(specific_variance)
        self.factor_returns = self._check_returns(
            factor_returns, "factor_returns", self.factors
        )
        self.asset_returns = self._check_returns(
            asset_returns, "asset_returns", self.assets
        )
        self.n_obs = None if n_obs is None else pd.Series(n_obs).reindex(self.assets)
        self.factor_covariance_estimator = None

    def __getstate__(self):
        state = self.__dict__.copy()
        if "_updates" in state:  # the histories: views of its buffers, pickled once
            state["factor_returns"] = state["asset_returns"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        history = getattr(state.get("_updates"), "history", None)
        if history is not None:
            self.factor_returns, self.asset_returns = history.frames(
                self.factors, self.assets
            )

    def __repr__(self):
        returns = (
            "" if self.asset_returns is None else f", n_dates={len(self.asset_returns)}"
        )
        return (
            f"{type(self).__name__}(n_assets={len(self.assets)}, "
            f"factors={list(self.factors)}{returns})"
        )

    # -------------------------------------------------------------- inputs
    def _check_covariance(self, cov):
        k = len(self.factors)
        cov = _labelled(cov, "factor_covariance", self.factors, self.factors)
        if cov.shape != (k, k) or set(cov.index) != set(self.factors):
            raise ValueError(
                f"`factor_covariance` must be ({k}, {k}) and labelled by the "
                f"factors of `exposures` {list(self.factors)}; got shape "
                f"{cov.shape} with labels {list(cov.index)}."
            )
        if set(cov.columns) != set(self.factors):
            raise ValueError(
                "`factor_covariance` must have the factors of `exposures` as both "
                f"index and columns; got columns {list(cov.columns)}."
            )
        S = cov.loc[self.factors, self.factors].to_numpy()
        scale = max(np.abs(S).max(initial=0.0), np.finfo(float).tiny)
        if np.abs(S - S.T).max(initial=0.0) > 1e-10 * scale:
            raise ValueError("`factor_covariance` must be symmetric.")
        eig = np.linalg.eigvalsh((S + S.T) / 2) if k else np.zeros(1)
        if eig[0] < -1e-10 * scale:
            raise ValueError(
                "`factor_covariance` must be positive semi-definite; its smallest "
                f"eigenvalue is {eig[0]:.3g}."
            )
        return pd.DataFrame(nearest_psd(S), index=self.factors, columns=self.factors)

    def _check_specific(self, d):
        if not isinstance(d, pd.Series):
            arr = np.asarray(d, dtype=np.float64)
            if arr.shape != (len(self.assets),):
                raise ValueError(
                    "`specific_variance` must have one value per asset "
                    f"({len(self.assets)}); got shape {arr.shape}."
                )
            d = pd.Series(arr, index=self.assets)
        # (isin looks at each label of pandas' arrow strings: 40 ms at 3,000)
        same = d.index.equals(self.assets)
        missing = self.assets[:0] if same else self.assets[~self.assets.isin(d.index)]
        if len(missing):
            raise ValueError(
                f"`specific_variance` has no value for {len(missing)} asset(s) of "
                f"`exposures`, e.g. {missing[:5].tolist()}."
            )
        if not same:
            d = d.reindex(self.assets)
        values = d.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(
                "`specific_variance` must be finite and >= 0 for every asset."
            )
        return pd.Series(values, index=self.assets, name="specific_variance")

    @staticmethod
    def _check_returns(frame, name, labels):
        if frame is None:
            return None
        values = wide_values(frame, name)
        same = frame.columns.equals(labels)
        missing = labels[:0] if same else labels[~labels.isin(frame.columns)]
        if len(missing):
            raise ValueError(
                f"`{name}` has no column for {len(missing)} of the risk model's "
                f"labels, e.g. {missing[:5].tolist()}."
            )
        out = pd.DataFrame(values, index=frame.index, columns=frame.columns)
        return out if same else out.loc[:, labels]

    # ------------------------------------------------------------ building
    @classmethod
    def from_model(
        cls,
        model: TimeSeriesFactorModel | CrossSectionalFactorModel,
        X: pd.DataFrame,
        y: pd.DataFrame | pd.Series | None = None,
        *,
        halflife: float | None = None,
        bandwidth: int | None = None,
        min_obs: int = 20,
        date: Any = None,
        factor_covariance_estimator: Any = None,
        shrinkage: float = 0.0,
        market_cap: pd.Series | None = None,
        structural: bool = False,
        specific_regime_halflife: float | None = None,
        lags: int | None = None,
    ) -> FactorRiskModel:
        r"""The risk model of a fitted time-series or cross-sectional factor model.

        - :class:`~skfactor.TimeSeriesFactorModel` fitted on ``(F, R)``: pass
          the factor returns ``X`` and the asset returns ``y`` (its ``F`` and
          ``R``; the model stores neither). Exposures are ``coef_``; specific
          variances come from ``residuals(X, y)``.
        - :class:`~skfactor.CrossSectionalFactorModel` fitted on loadings and
          returns panels: pass the loadings panel ``X`` and the returns ``y``
          on its index. Exposures are the loadings of the assets present on
          ``date`` (default: the last date of ``X``), plus a ``const`` column
          of ones when the model has an intercept, whose per-date estimate is
          then a factor return like the others (the market); factor returns
          are the per-date ``params_``; specific variances come from each
          asset's history of ``residuals(X, y)``.

        The factor covariance is :func:`factor_covariance` with ``halflife``
        and ``lags``, or the ``covariance_`` of ``factor_covariance_estimator``
        fitted on the factor returns (e.g. :class:`FactorCovariance` for the
        Barra USE4 adjustments, ``sklearn.covariance.LedoitWolf()``); the
        specific variances are :func:`specific_variance` with ``halflife``,
        ``min_obs``, ``shrinkage``, ``market_cap``, the exposures when
        ``structural`` and ``specific_regime_halflife`` (short histories
        shrunk to the cross-sectional median or the structural estimate; for
        a cross-sectional model, over every asset with residuals, so an asset
        new on ``date`` gets it).

        Parameters
        ----------
        model : TimeSeriesFactorModel or CrossSectionalFactorModel
            A fitted model.
        X : DataFrame
            Factor returns (time-series model) or loadings (cross-sectional
            model), as passed to ``fit``.
        y : DataFrame or Series
            Asset returns, as passed to ``fit``: the residuals (specific
            variances) and the return series of :meth:`hedge`. Required; None
            is an error naming it.
        halflife : float, default=None
            Half-life in dates of the exponential weights; None: equal weights.
        bandwidth : int, default=None
            Newey-West lags of the factor covariance; None: 0. ``lags=`` is
            its alias (the lag count's names are in the user guide's
            "Conventions").
        min_obs : int, default=20
            Residuals an asset needs to keep its own specific variance.
        date : label, default=None
            Cross-sectional model only: the date whose loadings are the
            exposures; None takes the last date of ``X``.
        factor_covariance_estimator : scikit-learn covariance estimator, default=None
            Fitted (a clone) on the factor returns, oldest first; its
            ``covariance_`` is :math:`\Sigma_F`. Dates with a missing factor
            are dropped first unless its tags allow NaN. ``halflife`` then
            applies to the specific variances only, and ``bandwidth`` must be
            None or 0 (give the estimator its own). The fitted clone is kept as
            ``factor_covariance_estimator``.
        shrinkage : float, default=0.0
            Bayesian shrinkage intensity of the specific volatilities towards
            their size decile's mean (USE4 uses 0.1); needs ``market_cap``.
        market_cap : Series, default=None
            Capitalisation by asset: size deciles and cap weights.
        structural : bool, default=False
            Shrink short histories towards the structural estimate (the
            regression of log specific volatility on the exposures) instead
            of the median.
        specific_regime_halflife : float, default=None
            Half-life of the specific volatility regime adjustment; None: none.
        lags : int, default=None
            Alias of ``bandwidth``.

        Returns
        -------
        FactorRiskModel
        """
        if not callable(getattr(model, "risk_inputs", None)):
            raise TypeError(
                "`model` must be a fitted TimeSeriesFactorModel or "
                f"CrossSectionalFactorModel; got {type(model).__name__}."
            )
        B, F, E, R = model.risk_inputs(X, y, date=date)
        estimator = None
        bandwidth = resolve_bandwidth(bandwidth, lags=lags)
        if factor_covariance_estimator is None:
            cov = factor_covariance(F, halflife=halflife, bandwidth=bandwidth)
        else:
            if bandwidth:
                name = "bandwidth" if lags is None else "lags"
                raise ValueError(
                    f"`{name}` applies to the built-in factor covariance; with a "
                    "`factor_covariance_estimator`, set its own Newey-West lags "
                    f"(e.g. FactorCovariance({name}={bandwidth!r})) and leave "
                    f"`{name}` unset or 0."
                )
            cov, estimator = fit_covariance_estimator(factor_covariance_estimator, F)
        settings = SpecificSettings.checked(
            halflife, min_obs, shrinkage, market_cap, specific_regime_halflife
        )
        specific = SpecificState.start(E, settings)
        d, n_obs = specific.variance(B if structural else None)
        risk = cls(B, cov, d, factor_returns=F, asset_returns=R, n_obs=n_obs)
        risk.factor_covariance_estimator = estimator
        every = risk.asset_returns
        if isinstance(model, CrossSectionalFactorModel):
            wide = _wide_returns(y)  # and the assets not among the exposures'
            others = wide.columns.difference(R.columns, sort=False)
            every = pd.concat([every, wide.loc[:, others]], axis=1)
        history = _History(risk.factor_returns, every)
        risk.factor_returns, risk.asset_returns = history.frames(risk.factors, B.index)
        risk._updates = _Updates(
            model, specific, structural, halflife, bandwidth, history
        )
        if isinstance(model, CrossSectionalFactorModel):
            risk._updates.latest = date is None or date == R.index[-1]
        return risk

    def update(
        self,
        X_new: pd.DataFrame,
        y_new: pd.DataFrame | pd.Series,
        sample_weight: pd.Series | None = None,
    ) -> FactorRiskModel:
        r"""Advance the risk model by new dates, as :meth:`from_model` on all of them.

        The factor covariance and the specific variances (their exponentially
        weighted sums, the volatility regime adjustments) advance by the new
        dates' factor returns and residuals, and the return histories are
        extended. The result equals :meth:`from_model` with the same
        arguments on all the dates, to rounding:

        - built from a :class:`~skfactor.TimeSeriesFactorModel`: with the
          same model, whose betas are the exposures and stay as they are (a
          refit model changes every past residual: build the risk model
          again);
        - built from a :class:`~skfactor.CrossSectionalFactorModel`: with the
          model refit on all the dates. ``update`` advances the model itself
          (the object given to :meth:`from_model`) by
          :meth:`~skfactor.CrossSectionalFactorModel.partial_fit` on the new
          dates; their regressions give the new factor returns and
          residuals (the past ones do not change), and the exposures become
          the loadings of the last new date (so a risk model built with an
          earlier ``date`` is refused). A model refit or updated by
          anything else since is refused too.

        What it keeps does not grow with the history, beyond the return
        histories ``factor_returns`` and ``asset_returns`` it holds anyway
        (for a cross-sectional model, also those of the assets seen that are
        not among the exposures', which may come back), which the new dates
        are appended to without copying the dates already there (frames on
        views of buffers whose capacity doubles; from a cross-sectional
        model, ``asset_returns`` picks the exposures' assets from every
        asset's buffer, a copy of those columns): per asset a few
        sums of its residuals (and the regime path's carries), and the
        factor covariance's state (see :meth:`FactorCovariance.partial_fit`;
        the built-in covariance is that of ``FactorCovariance(halflife=...,
        bandwidth=...)``, whose state the first update builds from
        ``factor_returns``). A
        ``factor_covariance_estimator`` must have ``partial_fit``
        (:class:`FactorCovariance` has).

        Parameters
        ----------
        X_new : DataFrame
            The new dates, after those of the model: factor returns (time
            series, n_new_dates x n_factors) or the (date, asset) panel of
            loadings (cross-sectional).
        y_new : DataFrame or Series
            Their asset returns: the model's assets in order (time series),
            or a Series on ``X_new``'s index (cross-sectional).
        sample_weight : Series, optional
            Cross-sectional model fitted with ``sample_weight``: the new
            rows' weights, for its ``partial_fit``.

        Returns
        -------
        self : FactorRiskModel
        """
        updates = self.__dict__.get("_updates")
        if updates is None:
            raise ValueError(
                "This risk model was built from its pieces, not by `from_model`: "
                "there is no model to give the new dates' residuals. Build it "
                "with `FactorRiskModel.from_model(...)` to update it."
            )
        if not hasattr(updates, "history"):
            raise ValueError(
                "This risk model keeps no return histories to add dates to (it "
                "was built by an older skfactor); build it again with "
                "`FactorRiskModel.from_model` on all the dates."
            )
        estimator = self.factor_covariance_estimator
        advances = callable(getattr(estimator, "partial_fit", None))
        if estimator is not None and not advances:
            raise ValueError(
                f"The `factor_covariance_estimator` ({type(estimator).__name__}) "
                "has no `partial_fit`, so its covariance cannot advance by new "
                "dates: use FactorCovariance, or build the risk model again."
            )
        if isinstance(updates.model, TimeSeriesFactorModel):
            if sample_weight is not None:
                raise ValueError(
                    "`sample_weight` applies to a risk model of a "
                    "CrossSectionalFactorModel (the weights of its regressions); "
                    "this one is of a TimeSeriesFactorModel: leave it None."
                )
            B, F, E, R = self._time_series_inputs(updates.model, X_new, y_new)
        else:
            B, F, E, R = self._cross_sectional_inputs(
                updates, X_new, y_new, sample_weight
            )
        if estimator is None:
            estimator = updates.covariance
            if estimator is None:
                estimator = FactorCovariance(
                    halflife=updates.halflife, bandwidth=updates.bandwidth
                ).fit(self.factor_returns)
            updates.covariance = estimator
        estimator.partial_fit(F)
        cov = pd.DataFrame(estimator.covariance_, F.columns, F.columns)
        updates.specific = updates.specific.advance(E)
        d, n_obs = updates.specific.variance(B if updates.structural else None)
        new = type(self)(B, cov, d, n_obs=n_obs)
        # the histories were checked when they came: only the new dates are
        F = self._check_returns(F, "X_new", self.factors)
        if isinstance(updates.model, TimeSeriesFactorModel):
            R = self._check_returns(R, "y_new", self.assets)
        updates.history = updates.history.append(F, R)
        new.factor_returns, new.asset_returns = updates.history.frames(
            new.factors, new.assets
        )
        new.factor_covariance_estimator = self.factor_covariance_estimator
        self.__dict__.update(vars(new))
        return self

    def _time_series_inputs(self, model, X_new, y_new):
        """The new dates' risk inputs of a time-series model (betas unchanged)."""
        B, F, E, R = model.risk_inputs(X_new, y_new)
        if not B.equals(self.exposures):
            raise ValueError(
                "The model's betas changed since the risk model was built (a "
                "refit changes every past residual): build the risk model again "
                "with `FactorRiskModel.from_model` on all the dates."
            )
        check_later_dates(F.index, last_date(self.factor_returns.index))
        return B, F, E, R

    def _cross_sectional_inputs(self, updates, X_new, y_new, sample_weight):
        """The new dates' risk inputs of a cross-sectional model, advanced by them.

        The asset returns are those of every asset on the new dates.
        """
        model = updates.model
        if not updates.latest:
            raise ValueError(
                "This risk model's exposures are the loadings of a `date` before "
                "the last one; `update` takes those of the last new date, which "
                "`from_model` on all the dates would not. Build it with "
                "`date=None` to update it."
            )
        fitted, known = model.params_, self.factor_returns
        if not (
            fitted.index.equals(known.index)
            and np.array_equal(fitted.to_numpy(), known.to_numpy(), equal_nan=True)
        ):
            raise ValueError(
                "The model was refit or updated since the risk model was built, "
                "so its factor returns are not the risk model's: `update` "
                "advances both together. Build the risk model again with "
                "`FactorRiskModel.from_model` on all the dates."
            )
        model.risk_inputs(X_new, y_new)  # the new dates' inputs, before advancing
        model.partial_fit(X_new, y_new, sample_weight)
        B, F, E, _ = model.risk_inputs(X_new, y_new)
        return B, F.iloc[len(known) :], E, _wide_returns(y_new)

    # ---------------------------------------------------------------- uses
    @property
    def asset_covariance(self):
        r""":math:`B \Sigma_F B^\top + D`, symmetric positive semi-definite.

        Formed as :math:`G G^\top + D` with :math:`G = B L` and
        :math:`\Sigma_F = L L^\top` from its eigen-decomposition, so that it
        is a Gram matrix plus a non-negative diagonal even with more assets
        than dates. DataFrame of shape (n_assets, n_assets).
        """
        eig, vec = np.linalg.eigh(self.factor_covariance.to_numpy())
        G = self.exposures.to_numpy() @ (vec * np.sqrt(np.maximum(eig, 0.0)))
        cov = G @ np.ascontiguousarray(G.T)  # gemm: OpenBLAS' syrk is slow for thin G
        cov = (cov + cov.T) / 2.0
        cov[np.diag_indices_from(cov)] += self.specific_variance.to_numpy()
        return pd.DataFrame(cov, index=self.assets, columns=self.assets)

    def exposures_of(
        self,
        portfolio: pd.Series | ArrayLike | None = None,
        *,
        weights: pd.Series | ArrayLike | None = None,
    ) -> pd.Series:
        r"""A portfolio's factor exposures :math:`b = B^\top w` (Series by factor).

        Parameters
        ----------
        portfolio : Series or array-like of shape (n_assets,)
            The portfolio's asset weights, as in :meth:`risk_decomposition`.
        weights : Series or array-like, default=None
            Older spelling of ``portfolio``, still accepted.

        Returns
        -------
        Series of shape (n_factors,)
            The portfolio's exposure to each factor.
        """
        w = self._portfolio(portfolio, weights)
        return pd.Series(self.exposures.to_numpy().T @ w, self.factors, name="exposure")

    def risk_decomposition(
        self,
        portfolio: pd.Series | ArrayLike | None = None,
        benchmark: pd.Series | ArrayLike | None = None,
        *,
        weights: pd.Series | ArrayLike | None = None,
    ) -> RiskDecomposition:
        r"""Total, factor and specific variance, and each factor's contribution.

        Parameters
        ----------
        portfolio : Series or array-like of shape (n_assets,)
            The portfolio's asset weights: a Series indexed by asset (assets
            it omits get 0) or one weight per asset in the model's order.
        benchmark : Series or array-like, default=None
            Benchmark weights, given like ``portfolio``. The decomposition is
            then of the active weights ``portfolio - benchmark``: its
            :math:`\sigma` is the active risk (tracking error) and the
            ``fmcar`` column is the lecture's FMCAR.
        weights : Series or array-like, default=None
            Older spelling of ``portfolio``, still accepted.

        Returns
        -------
        RiskDecomposition
        """
        w = self._portfolio(portfolio, weights)
        if benchmark is not None:
            w = w - align_weights(benchmark, self.assets, "benchmark")
        return decompose(
            self.exposures.to_numpy(),
            self.factor_covariance.to_numpy(),
            self.specific_variance.to_numpy(),
            w,
            self.factors,
            self.assets,
            benchmark is not None,
        )

    def hedge(
        self,
        portfolio: pd.Series | ArrayLike | None = None,
        targets: Sequence[str] | Mapping[str, float] | None = None,
        factor_weights: pd.DataFrame | None = None,
        *,
        weights: pd.Series | ArrayLike | None = None,
    ) -> HedgeResult:
        r"""Positions in the factors that bring the portfolio's exposures to targets.

        A portfolio with exposures :math:`b = B^\top w` holds
        :math:`h_k = t_k - b_k` of each hedged factor's return stream, per unit
        of portfolio value (the lecture: a portfolio of value :math:`V` with
        exposure :math:`\beta` shorts :math:`\beta V` of the factor). Its hedged
        return is :math:`\sum_i w_i r_{it} + \sum_k h_k f_{kt}`.

        With ``factor_weights``, the asset weights :math:`W` of the factor
        portfolios (e.g. ``QuantilePortfolioFactor().transform(X_today)``,
        one date's cross-section), the hedge is also given in asset weights:
        :math:`w + W a`, with the amounts :math:`a` solving
        :math:`(B^\top W a)_S = t_S - b_S` on the hedged factors :math:`S`,
        so the model's exposures of the hedged weights are exactly on target
        (a rebalanced factor portfolio's exposures are not exactly a unit
        vector, hence the solve).

        Parameters
        ----------
        portfolio : Series or array-like of shape (n_assets,)
            The portfolio's asset weights, as in :meth:`risk_decomposition`.
        targets : None, list of str or mapping, default=None
            None: every exposure to 0. A list of factor names: those to 0, the
            others left alone. A mapping ``{factor: target}``: those to their
            targets, the others left alone.
        factor_weights : DataFrame of shape (n_assets, n_factors), default=None
            Asset weights of the factor portfolios, indexed by asset, with a
            column for every hedged factor. Assets it omits weigh 0.
        weights : Series or array-like, default=None
            Older spelling of ``portfolio``, still accepted.

        Returns
        -------
        HedgeResult
        """
        w = self._portfolio(portfolio, weights)
        mask, t = check_targets(targets, self.factors)
        B = self.exposures.to_numpy()
        W = (
            None
            if factor_weights is None
            else self._factor_weights(factor_weights, mask)
        )
        b, h, amounts, moved = hedge_positions(B, w, mask, t, W)
        exposures = pd.DataFrame(
            {"before": b, "target": np.where(mask, t, np.nan), "after": b + h},
            index=self.factors,
        )
        positions = pd.Series(h, index=self.factors, name="position")
        weights_out = amounts_out = None
        if W is not None:
            exposures["after_assets"] = b + moved
            hedge_w = W @ amounts
            weights_out = pd.DataFrame(
                {"portfolio": w, "hedge": hedge_w, "hedged": w + hedge_w},
                index=self.assets,
            )
            amounts_out = pd.Series(
                amounts, index=self.factors[mask], name="portfolio_amount"
            )
        return HedgeResult(
            positions, exposures, self._hedged_returns(w, h), weights_out, amounts_out
        )

    def _portfolio(self, portfolio, weights):
        """The portfolio's weights in the model's asset order."""
        values, name = portfolio_argument(portfolio, weights)
        return align_weights(values, self.assets, name)

    def _factor_weights(self, factor_weights, mask):
        if not isinstance(factor_weights, pd.DataFrame) or isinstance(
            factor_weights.index, pd.MultiIndex
        ):
            raise ValueError(
                "`factor_weights` must be a DataFrame indexed by asset (one date's "
                "cross-section) with a column per hedged factor; for a (date, "
                "asset) panel of weights select one date first, e.g. "
                "`W.xs(date, level=0)`."
            )
        hedged = self.factors[mask]
        missing = hedged[~hedged.isin(factor_weights.columns)]
        if len(missing):
            raise ValueError(
                f"`factor_weights` has no column for the hedged factor(s) "
                f"{missing.tolist()}; its columns are {list(factor_weights.columns)}."
            )
        return np.column_stack(
            [
                align_weights(factor_weights[name], self.assets, "factor_weights")
                for name in hedged
            ]
        ).reshape(len(self.assets), len(hedged))

    def _hedged_returns(self, w, h):
        if self.asset_returns is None or self.factor_returns is None:
            return None
        R = self.asset_returns
        held = w != 0
        portfolio = R.to_numpy()[:, held] @ w[held]
        F = self.factor_returns.reindex(R.index).to_numpy()
        on = h != 0
        hedge = F[:, on] @ h[on]
        return pd.DataFrame(
            {"portfolio": portfolio, "hedge": hedge, "hedged": portfolio + hedge},
            index=R.index,
        )
