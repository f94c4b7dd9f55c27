"""RollingFactorModel: each asset's betas on rolling (or expanding) windows of dates."""

from __future__ import annotations

import numbers
from dataclasses import replace

import numpy as np
import pandas as pd

from skfactor.models._lazy import LazyResult
from skfactor.models._protocol import RollingBlocks
from skfactor.models._rolling_history import RollingHistory, RollingState
from skfactor.models._rolling_ols import rolling_ols, window_bse
from skfactor.models._summary import Summary, term_overview
from skfactor.models._wide_model import (
    WideModelMixin,
    mean_r2,
    nanmean_or_nan,
)
from skfactor.panel._align import align_rows
from skfactor.panel._wide import check_fitted_assets, validate_wide
from skfactor.utils._later_dates import check_later_dates, last_date
from skfactor.utils._numerics import power_of_two_units, t_p_values
from skfactor.utils._sklearn import (
    BaseEstimator,
    Interval,
    RegressorMixin,
    _fit_context,
    check_is_fitted,
)
from skfactor.utils._typing import ArrayLike, FrameOut, MatrixLike, TargetLike
from skfactor.utils._warnings import warn

__all__ = ["RollingFactorModel"]

# The window results kept as Series, views of the partial_fit history.
_WINDOW_SERIES = ("rsquared", "resid_vol", "nobs")


class RollingFactorModel(RollingBlocks, WideModelMixin, RegressorMixin, BaseEstimator):
    r"""Each asset's factor betas on the trailing window of dates, for every date.

    For each date :math:`t` and asset :math:`i`, over the dates
    :math:`s \in (t - w, t]` where the asset and every factor are observed,

    .. math::

        r_{i,s} = \alpha_{i,t} + \beta_{i,t}' f_s + \varepsilon_{i,s}.

    The rows of ``params_`` for date :math:`t` are the regressions on the
    window **ending at** :math:`t`, equal to statsmodels
    ``RollingOLS(r_i, add_constant(F), window, min_nobs=min_obs,
    expanding=expanding, missing="drop")`` asset by asset: rows before the
    first full window are NaN (with ``expanding=True`` the window grows from
    ``min_obs`` rows until it is full, then rolls), and a window in which the
    asset has fewer than ``min_obs`` observed dates is NaN. A date with a NaN
    factor is dropped from every window. Two deliberate differences: a window
    whose regressors are collinear (e.g. a factor constant on it) is NaN, where
    statsmodels returns whatever inverting a numerically singular matrix gives;
    and the optional exponential weights ``halflife``, which statsmodels lacks.

    All assets and windows are estimated at once from sliding sums of the
    per-date cross-products: a window in which the asset misses no date the
    factors have shares its date's normal equations, inverted once for every
    asset; only the windows with a hole solve their own. The sums restart
    every block of dates and the data are centred, so the results do not
    drift over thousands of dates.

    Parameters
    ----------
    window : int, default=100
        Number of dates :math:`w` in each window (rows of ``X``, whether or not
        the asset has data on them).
    min_obs : int, default=None
        Fewest observed dates a window needs for an estimate, between the number
        of regressors and ``window``. None means the number of regressors
        (factors, plus one with the intercept), statsmodels' default.
    expanding : bool, default=False
        Report the windows that are not full yet, from ``min_obs`` dates on.
    fit_intercept : bool, default=True
        Estimate :math:`\alpha_{i,t}`. Without it :math:`R^2` is uncentered, as
        in statsmodels for a model without a constant.
    halflife : float, default=None
        Exponentially weighted betas: the date of age :math:`a` within the
        window (0 for its last date, counted in rows of ``X``) weighs
        :math:`0.5^{a/h}` in a weighted least squares. Combine with a long
        ``window`` (or ``expanding=True``) for the usual EWMA betas.
    store_bse : bool, default=False
        Compute ``bse_`` during ``fit`` instead of on first access (it is
        always available now; kept so that code passing it keeps working).
        ``bse_`` is another array of the size of ``params_``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_assets, n_factors)
        Betas :math:`\beta_{i,T}` of the last window (ending at the last
        fitted date), as ``LinearRegression.coef_``: what :meth:`predict`
        uses after the fitted dates. NaN for an asset without an estimate on
        that window.
    intercept_ : ndarray of shape (n_assets,)
        Alphas :math:`\alpha_{i,T}` of the last window (0 when
        ``fit_intercept=False``).
    params_ : DataFrame of shape (n_dates * n_assets, n_terms)
        Every window's estimates, indexed by (date, asset) (the window ending
        at that date), columns the terms: ``const`` first (when
        ``fit_intercept``), then the factors. NaN where a window has no
        estimate. ``params_["MKT"].unstack()`` is one beta, date x asset.
        (A lazy dask array of shape (n_dates, n_assets, n_terms) after
        ``skfactor.dask.fit_by_asset``.)
    bse_, tvalues_, pvalues_ : DataFrame of shape (n_dates * n_assets, n_terms)
        Standard errors (statsmodels ``RollingOLS``'s ``bse``; with
        ``halflife``, those of the weighted least squares), t statistics and
        two-sided normal p-values (``RollingOLS``' default ``use_t=False``),
        laid out as ``params_``. Computed on first access, one at a time (see
        Notes).
    rsquared_ : Series of shape (n_dates * n_assets,)
        :math:`R^2` of each window's regression (weighted with ``halflife``),
        on ``params_``'s index.
    resid_vol_ : Series of shape (n_dates * n_assets,)
        Residual volatility :math:`\sqrt{SSR / (n - k)}` with :math:`n` the
        window's observations and :math:`k` the regressors; with ``halflife``,
        :math:`\sqrt{\sum w e^2 / \sum w \cdot n / (n - k)}`. NaN when
        :math:`n \le k`.
    nobs_ : Series of shape (n_dates * n_assets,)
        Observed dates in each window (also where the estimate is NaN).
    dates_ : Index of shape (n_dates,)
        ``X``'s index (``RangeIndex`` for arrays).
    assets_ : Index of shape (n_assets,)
        Asset labels: ``y``'s columns (a Series' name).
    n_features_in_ : int
        Number of factors.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Factor names, when ``X`` has string column names.

    See Also
    --------
    TimeSeriesFactorModel : One regression per asset over all dates.

    Notes
    -----
    The fitted attributes follow the contract of the user guide's "Fitted
    attributes" section, the same on every model: ``coef_`` and
    ``intercept_`` (LinearRegression's shapes) are the estimates
    :meth:`predict` uses after the fitted dates; ``params_``, ``bse_``,
    ``tvalues_`` and ``pvalues_`` have one row per regression (here per window
    and asset) and one column per term, ``const`` first.

    ``bse_``, ``tvalues_`` and ``pvalues_`` are computed on first access
    (then cached), so a fit nobody inspects (in a grid search) does not pay
    for them. ``fit`` keeps what they need: per window, the diagonal of
    :math:`(Z'WZ)^{-1}` (:math:`k` numbers; one set per date for the windows
    without a hole, which share it, and one per window with a hole) and
    the residual variance :math:`\sum w e^2 / (n - k)` (``resid_vol_``'s
    square without weights, kept apart with ``halflife``): at most
    :math:`1 + k` numbers per window. :meth:`residuals` gives
    ``y - predict(X)``; :meth:`summary` a per-term overview.

    :meth:`partial_fit` adds the windows of new dates (a daily update) and
    gives what :meth:`fit` on all the dates gives, to rounding; :meth:`fit`
    keeps what it needs, the returns of the last ``window - 1`` dates, and
    the per-window attributes grow in place (see :meth:`partial_fit`).

    :meth:`predict` never looks ahead: the prediction for date :math:`t` uses
    the betas of the window ending at the date before :math:`t`. Dates are
    matched by label when the model was fitted on a DataFrame and ``X`` is a
    DataFrame (each label takes the betas of the last fitted date strictly
    before it, so dates after the fitted range take the last betas); otherwise
    by position (row :math:`t` of ``X`` is fitted row :math:`t`, rows past the
    fitted range take the last betas).

    Each factor and asset is fitted in units of a power of two near its
    largest magnitude (exact), so returns of 1e-160 or 1e160 give the same
    t statistics as returns of 1; a window with :math:`1 - R^2 < 10^{-3}`
    (a near-exact fit, where the sums' :math:`y'y - \beta'c` cancels) sums
    its squared residuals for ``rsquared_``, ``resid_vol_`` and ``bse_``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor import RollingFactorModel
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.bdate_range("2020-01-01", periods=300)
    >>> F = pd.DataFrame(rng.normal(0, 0.01, (300, 2)), dates, ["MKT", "SMB"])
    >>> drift = np.linspace(0.5, 1.5, 300)  # A's market beta drifts up
    >>> R = pd.DataFrame({"A": drift * F["MKT"], "B": 0.8 * F["SMB"]})
    >>> R += rng.normal(0, 0.002, R.shape)
    >>> model = RollingFactorModel(window=60).fit(F, R)
    >>> model.coef_.shape  # the last window's betas: (asset, factor)
    (2, 2)
    >>> betas = model.params_["MKT"].unstack()  # date x asset
    >>> betas.loc[dates[[99, 299]], "A"].round(1).tolist()
    [0.8, 1.4]
    >>> pred = model.predict(F)  # betas of the window ending the day before
    >>> int(pred["A"].isna().sum())  # no window ends before the 60th date
    60
    >>> model.summary().header["window"], model.tvalues_.shape  # on first access
    (60, (600, 3))
    """

    _parameter_constraints: dict = {
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_obs": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "expanding": ["boolean"],
        "fit_intercept": ["boolean"],
        "halflife": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "store_bse": ["boolean"],
    }

    def __init__(
        self,
        *,
        window: int = 100,
        min_obs: int | None = None,
        expanding: bool = False,
        fit_intercept: bool = True,
        halflife: float | None = None,
        store_bse: bool = False,
    ) -> None:
        self.window = window
        self.min_obs = min_obs
        self.expanding = expanding
        self.fit_intercept = fit_intercept
        self.halflife = halflife
        self.store_bse = store_bse

    def _min_obs(self, n_factors):
        k = n_factors + int(self.fit_intercept)
        min_obs = k if self.min_obs is None else self.min_obs
        if min_obs < k:
            raise ValueError(
                f"`min_obs` must be at least the number of regressors, {k} "
                f"({n_factors} factors{' + intercept' * self.fit_intercept}); "
                f"got {min_obs}."
            )
        if self.window < min_obs:
            what = "the number of regressors" if self.min_obs is None else "`min_obs`"
            raise ValueError(
                f"`window` must be at least {what}, {min_obs}; got "
                f"{self.window}. Lengthen the window or use fewer factors."
            )
        return min_obs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike) -> RollingFactorModel:
        """Estimate every asset's betas on every window.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns :math:`F`, one row per date, sorted by date. A date
            with a NaN factor is left out of every window.
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns :math:`R` on the same dates (same index, same order).
            NaN marks a date without data for that asset.

        Returns
        -------
        self : RollingFactorModel
            The fitted model.
        """
        wide = validate_wide(
            self, X, y, reset=True, names=("X", "y"), require_R=True, sorted_dates=True
        )
        n_dates, n_factors = wide.F.shape
        min_obs = self._min_obs(n_factors)
        units = power_of_two_units(wide.F), power_of_two_units(wide.R)
        res = self._rolling_ols(wide.F, wide.R, min_obs, 0, units)
        self._single = wide.single
        self._by_label = wide.dates is not None
        keep = min(n_dates, self.window - 1)  # the dates the next windows need
        state = RollingState(
            self._settings(),
            np.array(wide.F[n_dates - keep :]),
            np.array(wide.R[n_dates - keep :]),
            *units,
            RollingHistory.start(res),
            res.estimated,
        )
        dates = wide.dates if wide.dates is not None else pd.RangeIndex(n_dates)
        self._publish(dates, wide.assets, state)
        if not state.estimated:
            self._warn_empty(min_obs, n_dates)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: MatrixLike, y: TargetLike) -> RollingFactorModel:
        """Add new dates: their windows, the same as a refit on all dates.

        Every fitted attribute (``params_``, ``coef_``, ``intercept_``,
        ``bse_``, ``tvalues_``, ``pvalues_``, ``rsquared_``, ``resid_vol_``,
        ``nobs_``, ``dates_``, ``assets_``), :meth:`summary`,
        :meth:`predict`, :meth:`residuals` and :meth:`score` equal
        :meth:`fit` on all the dates at once, to rounding. On an unfitted
        model it is :meth:`fit`.

        What the model keeps between calls (:meth:`fit` keeps it too, so a
        fitted model can be updated): the factor and asset returns of the
        last ``window - 1`` fitted dates, which the new dates' windows
        reach back to (fixed in size; with ``halflife`` and ``expanding``
        too, as the windows never span more than ``window`` dates), and the
        powers of two the fit divided each factor and asset by. An update
        costs the new dates' windows, about ``window`` dates' work for one
        date.

        What grows: the per-window history, ``params_``, ``rsquared_``,
        ``resid_vol_``, ``nobs_`` and what ``bse_`` needs (per date the
        diagonal of :math:`(Z'WZ)^{-1}` shared by the windows without a hole,
        that of each window with one, and with ``halflife`` the residual
        variance of each window), by one row per asset and date. They are
        kept in buffers whose capacity doubles when full, and the attributes
        are views of them: an update writes the new rows and copies none of
        the old ones (but on a doubling, and when an asset lists: the
        (date, asset) layout then gains a column on every date). A copy of
        the model (even ``copy.copy``) is updated apart from it.
        ``bse_``, ``tvalues_`` and ``pvalues_`` are computed again on their
        next access.

        Parameters
        ----------
        X : DataFrame of shape (n_new_dates, n_factors) or array-like
            Factor returns of the new dates, sorted, the factors of
            :meth:`fit` (by name and order). With a date index, the dates
            must come after the fitted ones; a model fitted on a DataFrame
            takes DataFrames, one fitted on arrays arrays.
        y : DataFrame of shape (n_new_dates, n_assets), Series or array-like
            The new dates' asset returns, matched to the fitted assets by
            column label when a DataFrame (as
            ``TimeSeriesFactorModel.partial_fit`` matches them): an
            omitted fitted asset has NaN returns on these dates, a new label
            lists a new asset after the fitted ones (in ``y``'s order). An
            array holds the fitted assets' columns, in order.

        Returns
        -------
        self : RollingFactorModel
        """
        if not hasattr(self, "assets_"):
            return self.fit(X, y)
        state = self.__dict__.get("_lazy", {}).get("moments", {}).get("partial_fit")
        if state is None:
            raise ValueError(
                "This model keeps nothing for `partial_fit`: it was combined "
                "from blocks of assets (e.g. by `skfactor.dask`), which keep no "
                "returns. Call `fit` on all the dates, then `partial_fit` the "
                "new ones."
            )
        if self._settings() != state.settings:
            raise ValueError(
                "`window`, `min_obs`, `expanding`, `fit_intercept` or `halflife` "
                "changed since the model was fitted: `partial_fit` extends the "
                "fitted windows; call `fit` on all the dates to use the new "
                "parameters."
            )
        wide = validate_wide(
            self, X, y, reset=False, names=("X", "y"), sorted_dates=True
        )
        if wide.R is None:
            raise ValueError(
                "`partial_fit` needs the asset returns `y` of the new dates."
            )
        dates = self._later_dates(wide.dates, len(wide.F))
        R, assets = self._new_columns(y, wide)
        n_old, n_new = state.R.shape[1], R.shape[1]
        r_unit = state.r_unit
        if n_new > n_old:  # listings: a NaN past, the units of their first dates
            r_unit = np.r_[r_unit, power_of_two_units(R[:, n_old:])]
        tail = np.full((len(state.R), n_new), np.nan)
        tail[:, :n_old] = state.R
        F, R = np.concatenate([state.F, wide.F]), np.concatenate([tail, R])
        min_obs = self._min_obs(self.n_features_in_)
        res = self._rolling_ols(F, R, min_obs, len(tail), (state.f_unit, r_unit))
        keep = min(len(dates), self.window - 1)
        state = replace(  # a new state: a shallow copy of the model holds the old
            state,
            F=np.array(F[len(F) - keep :]),
            R=np.array(R[len(R) - keep :]),
            r_unit=r_unit,
            history=state.history.append(res),
            estimated=state.estimated or res.estimated,
        )
        self._publish(dates, assets, state)
        if not state.estimated:
            self._warn_empty(min_obs, len(dates))
        return self

    def _settings(self):
        """The parameters the fitted windows depend on."""
        return (
            self.window,
            self.min_obs,
            self.expanding,
            self.fit_intercept,
            self.halflife,
        )

    def _rolling_ols(self, F, R, min_obs, first, units):
        """:func:`rolling_ols` with the model's parameters."""
        return rolling_ols(
            F,
            R,
            window=self.window,
            min_obs=min_obs,
            expanding=self.expanding,
            fit_intercept=self.fit_intercept,
            halflife=self.halflife,
            first=first,
            units=units,
        )

    def _later_dates(self, new, n_rows):
        """The fitted dates followed by ``new`` (``X``'s, None for an array)."""
        if self._by_label != (new is not None):
            kinds = ["arrays", "a DataFrame"]
            fitted, given = kinds[self._by_label], kinds[not self._by_label]
            raise ValueError(
                f"The model was fitted on {fitted} and `partial_fit` got {given}: "
                f"pass the new dates' `X` as {fitted}, as in `fit`."
            )
        if new is None:
            return pd.RangeIndex(len(self.dates_) + n_rows)
        check_later_dates(new, last_date(self.dates_))
        dates = self.dates_.append(new)
        if len(self.dates_) and len(new):
            try:
                later = bool(new[0] > self.dates_[-1])
            except TypeError as exc:
                raise ValueError(
                    "`X`'s index cannot be compared with the fitted dates "
                    f"({self.dates_.dtype}); pass new dates of the same type."
                ) from exc
            if not later:
                raise ValueError(
                    "`partial_fit` adds dates after the fitted ones: the first "
                    f"new row is labelled {new[0]}, not after the last fitted "
                    f"{self.dates_[-1]}. Pass only the new dates, or call `fit` "
                    "on all of them."
                )
        return dates

    def _publish(self, dates, assets, state):
        """Set the fitted attributes from ``state``'s history (views, no copy)."""
        self.dates_ = dates
        self.assets_ = assets
        history = state.history
        k = int(self.fit_intercept)
        last = history.rows["params"].values[-1]
        self.coef_ = last[:, k:].copy()
        self.intercept_ = last[:, 0].copy() if k else np.zeros(len(last))
        self._wrap_history(state)
        self._lazy = {"moments": self._moments(state)}
        if self.store_bse:
            _ = self.bse_  # computed now rather than on first access

    def _moments(self, state):
        """What ``bse_`` needs (views of the history), and ``state`` itself."""
        k = int(self.fit_intercept)
        per_term = state.r_unit[:, None] / np.r_[np.ones(k), state.f_unit]
        moments = state.history.moments((state.r_unit, per_term))
        return {**moments, "partial_fit": state}

    def _wrap_history(self, state):
        """Set ``params_``, ``rsquared_``, ``resid_vol_``, ``nobs_``: history views."""
        history = state.history
        index = history.index(self.dates_, self.assets_)
        terms = pd.Index(self._terms(), name="term")
        values = history.flat("params")
        self.params_ = pd.DataFrame(values, index=index, columns=terms, copy=False)
        for name in _WINDOW_SERIES:
            series = pd.Series(history.flat(name), index, name=name, copy=False)
            setattr(self, f"{name}_", series)

    def __getstate__(self):
        """Pickled without the views of the history (rebuilt on unpickling)."""
        state = dict(super().__getstate__())
        lazy = state.get("_lazy", {})
        kept = lazy.get("moments", {}).get("partial_fit")
        if kept is not None:
            for name in ("params", *_WINDOW_SERIES):
                state.pop(f"{name}_", None)
            state["_lazy"] = {**lazy, "moments": {"partial_fit": kept}}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        kept = self.__dict__.get("_lazy", {}).get("moments", {}).get("partial_fit")
        if kept is not None and "params_" not in self.__dict__:
            self._wrap_history(kept)
            self._lazy["moments"] = self._moments(kept)

    bse_ = LazyResult()
    tvalues_ = LazyResult()
    pvalues_ = LazyResult()

    def _inference(self, moments, name):
        """``name`` (``bse_``, ``tvalues_`` or ``pvalues_``) from the kept moments.

        One at a time: each is as large as ``params_``.
        """
        if name == "bse_":
            resid_vol = self.resid_vol_.to_numpy().reshape(
                self.params_.shape[0] // len(self.assets_), -1
            )
            moments = {k: v for k, v in moments.items() if k != "partial_fit"}
            bse = window_bse(resid_vol, **moments)
            values = bse.reshape(self.params_.shape)
        else:
            tvalues, pvalues = t_p_values(self.params_.to_numpy(), self.bse_.to_numpy())
            values = tvalues if name == "tvalues_" else pvalues
        frame = pd.DataFrame(
            values, index=self.params_.index, columns=self.params_.columns, copy=False
        )
        return {name: frame}

    def _warn_empty(self, min_obs, n_dates):
        """The warning of a fit without any estimate."""
        warn(
            f"No window has an estimate: with `window`={self.window} and "
            f"`min_obs`={min_obs}, none of the {n_dates} dates has enough "
            "observed dates before it (or the factors are collinear); every "
            "coefficient is NaN. Shorten the window or pass more dates.",
            UserWarning,
        )

    def _positions(self, dates, n_rows):
        """Fitted row whose betas predict each row of ``X`` (-1: none yet).

        ``dates`` is ``X``'s dates (None for an array).
        """
        last = len(self.dates_) - 1
        if self._by_label and dates is not None:
            try:
                pos = self.dates_.searchsorted(dates, side="left") - 1
            except TypeError as exc:
                raise ValueError(
                    "`X`'s index cannot be compared with the dates seen in `fit` "
                    f"({self.dates_.dtype}); pass factor returns indexed by dates "
                    "of the same type."
                ) from exc
            return np.asarray(pos, dtype=np.intp)
        return np.minimum(np.arange(n_rows) - 1, last)

    def _window_params(self, pos):
        """Windows' estimates (windows, assets, terms) and the window of each ``pos``.

        ``params_`` is a DataFrame after :meth:`fit` (read as a view), or a
        lazy (n_dates, n_assets, n_terms) array after
        ``skfactor.dask.fit_by_asset``, of which only the windows in ``pos``
        are computed.
        """
        if isinstance(self.params_, pd.DataFrame):
            shape = (len(self.dates_), len(self.assets_), -1)
            return self.params_.to_numpy().reshape(shape), pos
        windows, pos = np.unique(pos, return_inverse=True)
        return np.asarray(self.params_[windows], dtype=np.float64), pos

    def predict(self, X: MatrixLike) -> FrameOut:
        r"""Out-of-sample fitted returns: betas of the window before each date.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns. Dates are matched to the fitted dates by label when
            both are pandas, else by position (see Notes).

        Returns
        -------
        R_pred : DataFrame of shape (n_dates, n_assets) or ndarray
            :math:`\hat r_{i,t} = \alpha_{i,t-1} + \beta_{i,t-1}' f_t`, indexed
            like ``X``, one column per asset (a Series or 1-D array when the
            model was fitted on one series). NaN where no earlier window has an
            estimate or a factor is NaN.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, reset=False, names=("X", "y"))
        pos = self._positions(wide.dates, len(wide.F))
        none = pos < 0
        pos = np.where(none, 0, pos)
        k, n_assets = int(self.fit_intercept), len(self.assets_)
        params, pos = self._window_params(pos)
        pred = params[pos, :, 0] if k else np.zeros((len(pos), n_assets))
        for j in range(wide.F.shape[1]):
            pred += wide.F[:, j : j + 1] * params[pos, :, k + j]
        pred[none] = np.nan
        return self._wrap(pred, wide.dates)

    def score(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> float:
        r"""Mean over assets of the :math:`R^2` of the out-of-sample predictions.

        Each asset's :math:`R^2 = 1 - \sum (r - \hat r)^2 / \sum (r - \bar r)^2`
        with :math:`\hat r` from :meth:`predict` (betas of the window before
        each date) runs over the dates where both :math:`r` and :math:`\hat r`
        exist, so the first window's dates do not count.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns.
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns, the assets of ``fit`` in the same order. A pandas
            ``y`` is matched to ``X``'s dates by its index (any order; other
            dates are an error), an array by position.
        sample_weight : array-like of shape (n_dates,), default=None
            Weight of each date, in ``X``'s order.

        Returns
        -------
        score : float
            Mean :math:`R^2` over the assets that have one.
        """
        check_is_fitted(self)
        y = align_rows(y, X)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        pred = self.predict(X)
        pred = np.asarray(pred, dtype=np.float64).reshape(wide.R.shape)
        return mean_r2(wide.R, pred, sample_weight)

    def residuals(self, X: MatrixLike, y: TargetLike) -> FrameOut:
        """Out-of-sample residuals ``y - predict(X)`` of every asset, date by date.

        The fitted part of date :math:`t` is :meth:`predict`'s: the betas of
        the window ending the date before (no look-ahead), so these are the
        specific returns a risk model may use, not the residuals inside a
        window.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns, matched to the fitted dates as :meth:`predict` does.
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns on ``X``'s dates, the assets of ``fit`` in the same
            order.

        Returns
        -------
        resid : DataFrame of shape (n_dates, n_assets) or ndarray
            Indexed like ``X``, one column per asset (a Series or 1-D array
            when the model was fitted on one series). NaN where the return is
            missing or :meth:`predict` is NaN.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        pred = np.asarray(self.predict(X), dtype=np.float64).reshape(wide.R.shape)
        return self._wrap(wide.R - pred, wide.dates)

    def summary(self) -> Summary:
        """Per term, the estimates over every window and asset at a glance.

        Returns
        -------
        Summary
            Indexed by term (``const`` first, then the factors), with columns
            ``mean`` and ``median`` of the estimates, ``share_abs_t_above_2``
            (the share of windows with :math:`|t| > 2`) and ``n`` (the windows
            with an estimate), over every (date, asset). Its ``header`` names
            the covariance (``cov_type`` ``"nonrobust"``: each window's OLS or
            WLS standard errors), ``window``, ``min_obs``, ``n_dates``,
            ``n_assets`` and ``mean_rsquared`` (over the windows).
        """
        check_is_fitted(self)
        header = {
            "estimator": type(self).__name__,
            "cov_type": "nonrobust",
            "kernel": None,
            "bandwidth": None,
            "n_dates": len(self.dates_),
            "n_assets": len(self.assets_),
            "mean_rsquared": nanmean_or_nan(self.rsquared_),
            "window": self.window,
            "min_obs": self._min_obs(self.n_features_in_),
        }
        if self.halflife is not None:  # weighted least squares
            header["halflife"] = self.halflife
        return Summary(term_overview(self.params_, self.tvalues_), header=header)
