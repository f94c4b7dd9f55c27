"""TimeSeriesFactorModel: each asset's returns regressed on the factor returns."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from skfactor.models._lazy import LazyResult
from skfactor.models._ols import (
    collinear,
    hac_lags,
    masked_ols,
    ols_meat,
    sandwich,
    standardized_design,
    summary_frame,
)
from skfactor.models._protocol import TimeSeriesBlocks
from skfactor.models._summary import Summary, term_overview
from skfactor.models._time_series_dates import DateBlockPlan
from skfactor.models._time_series_sums import (
    GRS_MAX_ASSETS,
    SUMMED_COV_TYPES,
    RowsState,
    advance_state,
    hc0_meat,
    solve_sums,
    start_state,
)
from skfactor.models._wide_model import (
    WideModelMixin,
    mean_r2,
    nanmean_or_nan,
)
from skfactor.panel._align import align_rows
from skfactor.panel._wide import WideData, check_fitted_assets, validate_wide
from skfactor.utils._cov_types import canonical_cov_type, resolve_bandwidth
from skfactor.utils._later_dates import check_later_dates, last_date
from skfactor.utils._numerics import power_of_two_units, t_p_values
from skfactor.utils._sklearn import (
    BaseEstimator,
    Interval,
    RegressorMixin,
    StrOptions,
    _fit_context,
    check_is_fitted,
)
from skfactor.utils._typing import ArrayLike, FrameOut, MatrixLike, TargetLike
from skfactor.utils._warnings import warn

__all__ = ["GRSResult", "TimeSeriesFactorModel"]

# The covariances of the per-asset regressions (aliases in utils/_cov_types).
_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "kernel")


@dataclass(frozen=True)
class GRSResult:
    r"""The Gibbons-Ross-Shanken test of a :class:`TimeSeriesFactorModel`.

    Unpacks as ``statistic, pvalue = model.grs_``.

    Attributes
    ----------
    statistic : float
        The :math:`F` statistic (NaN when undefined).
    pvalue : float
        Its upper-tail probability under :math:`F(N, T-N-K)`.
    df_num, df_denom : int
        The degrees of freedom :math:`N` (assets) and :math:`T-N-K`, with
        :math:`T` the dates on which every asset and factor are observed.
    why : str
        Why the test is undefined (NaN), or ``""``. A model's ``grs_`` warns
        with it when read, not at every fit: a time-series regression of
        thousands of stocks on a few years of dates (:math:`T \le N + K`) is
        ordinary, and its betas need no GRS test.

    Examples
    --------
    >>> from skfactor.models import GRSResult
    >>> grs = GRSResult(statistic=2.1, pvalue=0.03, df_num=9, df_denom=807)
    >>> statistic, pvalue = grs
    >>> grs.df_num, grs.df_denom
    (9, 807)
    """

    statistic: float
    pvalue: float
    df_num: int
    df_denom: int
    why: str = ""

    def __iter__(self):
        return iter((self.statistic, self.pvalue))


def grs_test(F, R, rows, fit_intercept=True):
    r"""Gibbons-Ross-Shanken test over the fully observed dates, a :class:`GRSResult`.

    With :math:`T` dates on which every asset and factor is observed, :math:`N`
    assets and :math:`K` factors, :math:`\hat\alpha` the OLS intercepts on those
    dates, :math:`\hat\Sigma` the residual and :math:`\hat\Omega` the factor
    covariances (divided by :math:`T`) and :math:`\hat\mu` the factor means:
    :math:`\frac{T-N-K}{N}\,\hat\alpha'\hat\Sigma^{-1}\hat\alpha /
    (1 + \hat\mu'\hat\Omega^{-1}\hat\mu) \sim F(N, T-N-K)`. NaN when
    :math:`T \le N + K` or without an intercept. ``rows`` (bool, n_dates)
    marks those :math:`T` dates.
    """
    T, (N, K) = int(rows.sum()), (R.shape[1], F.shape[1])
    if not fit_intercept or T - N - K <= 0:
        return grs_undefined(T, N, K, fit_intercept)
    # The statistic does not depend on the units of any column: each is
    # divided by a power of two near its largest magnitude (exact), so factors
    # or returns of 1e-160 or 1e160 neither underflow nor overflow.
    alpha, E, mu, omega = grs_residuals(
        F / power_of_two_units(F), R, rows, units=power_of_two_units(R)
    )
    return grs_statistic(alpha, E.T @ E / T, mu, omega, T)


def grs_undefined(T, N, K, intercept=True):
    r"""A NaN :class:`GRSResult` saying why: no intercept, or :math:`T \le N + K`."""
    why = (
        "The GRS test is of the alphas: `fit_intercept=False` has none."
        if not intercept
        else (
            f"The GRS test needs more dates on which every asset and factor is "
            f"observed than assets plus factors (T > N + K); got T={T} such dates "
            f"for N={N} assets and K={K} factors, so `grs_` is NaN (the "
            "regressions are unaffected). Test fewer assets (e.g. portfolios) or "
            "give more dates."
        )
    )
    return GRSResult(np.nan, np.nan, N, T - N - K, why)


def grs_residuals(F, R, rows, units=None):
    """The GRS test's intercepts, residuals (on ``rows``), factor mean and covariance.

    Column by column in ``R``: a block of assets gives its own columns. With
    ``units``, those of ``R / units`` (divided in the copy of ``rows``).
    """
    T = int(rows.sum())
    # Rb, the rows' copy (a boolean index copies), is centred and made the
    # residuals in place: a block of 6,300 dates x 200 assets held 40 MiB
    # of temporaries here, at the peak of bench_dask.py's asset blocks.
    Fb, Rb = F[rows], np.compress(rows, R, axis=0).astype(np.float64, copy=False)
    if units is not None:
        Rb /= units
    mu, mean = Fb.mean(axis=0), Rb.mean(axis=0)
    Fc = Fb - mu
    Rb -= mean
    omega = Fc.T @ Fc / T
    beta = np.linalg.solve(omega * T, Fc.T @ Rb)  # (K, N)
    alpha = mean - mu @ beta
    Rb -= Fc @ beta
    return alpha, Rb, mu, omega


def state_grs(state, N, K, fit_intercept):
    """The GRS test of ``partial_fit``'s state (see its docstring)."""
    T = state.complete
    if not fit_intercept or T - N - K <= 0:
        return grs_undefined(T, N, K, fit_intercept)
    if state.grs is None:
        why = (
            f"`partial_fit` keeps the GRS test's sums for at most {GRS_MAX_ASSETS} "
            f"assets (they grow with the square of their number); got N={N}, so "
            "`grs_` is NaN after an update. Call `fit` on all the dates for it."
        )
        return GRSResult(np.nan, np.nan, N, T - N - K, why)
    return grs_statistic(*state.grs.moments(K), T)


def _check_design(gram, n_dates):
    """Raise if the design's Gram matrix over ``n_dates`` dates is collinear."""
    if n_dates > len(gram) and collinear(gram):
        raise ValueError(
            "The columns of `X` (with the intercept, if `fit_intercept`) are "
            "collinear on the dates where every factor is observed; drop the "
            "redundant factors (e.g. a constant or duplicated column)."
        )


def grs_statistic(alpha, sigma, mu, omega, T):
    """The GRS :class:`GRSResult` from its pieces (``sigma`` divided by ``T``)."""
    N, K = len(alpha), len(mu)
    quad = alpha @ np.linalg.solve(sigma, alpha)
    stat = (T - N - K) / N * quad / (1.0 + mu @ np.linalg.solve(omega, mu))
    return GRSResult(float(stat), float(stats.f.sf(stat, N, T - N - K)), N, T - N - K)


class TimeSeriesFactorModel(
    TimeSeriesBlocks, WideModelMixin, RegressorMixin, BaseEstimator
):
    r"""One OLS per asset of its returns on the factor returns (Fama-French style).

    ``fit(X, y)`` takes the factor returns :math:`F` as ``X`` (date x factor) and
    the asset returns :math:`R` as ``y`` (date x asset, or one Series).

    For each asset :math:`i`, over the dates where the asset and every factor
    are observed,

    .. math::

        r_{i,t} = \alpha_i + \beta_i' f_t + \varepsilon_{i,t}.

    All assets are estimated at once: the assets observed on every date share
    one solve; each asset with holes (late listing, gaps) gets its own normal
    equations from masked per-date products, solved in one batched call. The
    results equal statsmodels ``OLS(r_i, add_constant(F), missing="drop")``
    asset by asset, standard errors included. An asset with no more dates than
    regressors, or whose factors are collinear on its dates, gets NaN results
    (one warning names how many); factors collinear over all dates are an error.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Estimate :math:`\alpha_i`. Without it :math:`R^2` is uncentered, as in
        statsmodels for a model without a constant.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "kernel"}, default="nonrobust"
        Covariance of the estimates, as statsmodels defines it: classical;
        White's heteroskedasticity-robust ``HC0``-``HC3``; or a HAC
        covariance with ``kernel`` weights up to ``bandwidth`` lags, counted
        along the asset's own observed dates (statsmodels' ``"HAC"``).
        The aliases of the user guide's "Conventions" page are accepted:
        ``"unadjusted"`` (and ``"fama-macbeth"``) for ``"nonrobust"``,
        ``"HAC"`` and ``"newey-west"`` (the Bartlett kernel) for ``"kernel"``.
    kernel : {"bartlett", "parzen"}, default="bartlett"
        Weights of the lags of ``cov_type="kernel"``: Bartlett (Newey-West,
        :math:`1 - l/(L+1)`, statsmodels' ``HAC``) or Parzen. The quadratic
        spectral kernel (``"qs"``), which weighs every lag, is refused.
    bandwidth : float, default=None
        :math:`L`, the lags of ``cov_type="kernel"`` (its integer part); None
        uses statsmodels' ``floor(4 (n/100)^(2/9))`` with :math:`n` the
        asset's observations. Ignored by the other covariances.
    maxlags : int, default=None
        statsmodels' name of ``bandwidth`` (an alias: give one, or both
        equal).
    use_correction : bool, default=False
        Multiply the HAC covariance by :math:`n/(n-k)` (statsmodels'
        ``use_correction``; its default for ``fit(cov_type="HAC")`` is False).
    use_t : bool, default=None
        p-values from Student's t with the asset's residual degrees of freedom
        (True) or from the normal distribution (False). None follows
        statsmodels: t for ``nonrobust``, normal for the robust covariances.

    Attributes
    ----------
    coef_ : ndarray of shape (n_assets, n_factors)
        Factor betas :math:`\beta_i`, as ``LinearRegression.coef_``.
    intercept_ : ndarray of shape (n_assets,)
        Alphas :math:`\alpha_i` (0 when ``fit_intercept=False``).
    params_ : DataFrame of shape (n_assets, n_terms)
        The estimates, indexed by asset, columns the terms: ``const`` first
        (when ``fit_intercept``), then the factors.
    bse_, tvalues_, pvalues_ : DataFrame of shape (n_assets, n_terms)
        Standard errors, t statistics and two-sided p-values, laid out as
        ``params_``. Computed on first access (see Notes).
    cov_params_ : ndarray of shape (n_assets, n_terms, n_terms)
        Covariance of each asset's estimates, terms in ``params_``'s order (a
        stack of matrices: kept as an array). Computed on first access.
    rsquared_, rsquared_adj_ : Series of shape (n_assets,)
        :math:`R^2` and adjusted :math:`R^2` of each asset's regression.
    nobs_ : Series of shape (n_assets,)
        Dates used by each asset's regression.
    grs_ : GRSResult
        Gibbons-Ross-Shanken test that every alpha is zero (``statistic``,
        ``pvalue``, ``df_num``, ``df_denom``; unpacks as ``statistic,
        pvalue``), in its :math:`F(N, T-N-K)` form

        .. math::

            \frac{T-N-K}{N}\,
            \frac{\hat\alpha'\hat\Sigma^{-1}\hat\alpha}
                 {1 + \hat\mu'\hat\Omega^{-1}\hat\mu},

        with :math:`\hat\Sigma`, :math:`\hat\Omega` the residual and factor
        covariances divided by :math:`T`, over the :math:`T` dates on which
        every asset has data. NaN without an intercept, and NaN with a
        warning when :math:`T \le N + K` (``df_denom`` is then
        :math:`T - N - K \le 0`).
    assets_ : Index of shape (n_assets,)
        Asset labels: ``y``'s columns (a Series' name).
    n_features_in_ : int
        Number of factors.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Factor names, when ``X`` has string column names.

    See Also
    --------
    RollingFactorModel : The same regressions on rolling windows.

    Notes
    -----
    The fitted attributes follow the contract of the user guide's "Fitted
    attributes" section, the same on every model: ``coef_`` and
    ``intercept_`` are what :meth:`predict` uses; ``params_``, ``bse_``,
    ``tvalues_``, ``pvalues_`` have one row per regression (here per asset)
    and one column per term, ``const`` first. The residuals are not stored (a
    grid search would carry a training-sized copy in every candidate):
    :meth:`residuals` computes them from ``(X, y)``.

    ``bse_``, ``tvalues_``, ``pvalues_`` and ``cov_params_`` are computed on
    first access (then cached), so a fit nobody inspects (in a grid search)
    does not pay for them. ``fit`` keeps, per asset, :math:`(X'X)^{-1}` of
    the standardized factors, the residual sum of squares (summed from the
    residuals) and the observation count, a few numbers per asset. The robust
    covariances' meat :math:`X'\Omega X` (HC or kernel) needs the residuals,
    so ``fit`` computes it (one small matrix per asset) and keeps it.

    :meth:`partial_fit` adds new dates (and newly listed assets) to the
    fitted regressions, as :meth:`fit` on all the dates gives them; its
    docstring says what each covariance keeps between calls.

    Each asset's returns are fitted in units of a power of two near their
    largest magnitude and the factors standardized (exact or scale-free), so
    factors or returns of 1e-160 or 1e160 give the same t statistics and GRS
    test as those of 1.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor import TimeSeriesFactorModel
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.date_range("2020-01-31", periods=120, freq="ME")
    >>> F = pd.DataFrame(rng.normal(0, 0.04, (120, 2)), dates, ["MKT", "SMB"])
    >>> R = pd.DataFrame({"A": 0.001 + F @ [1.0, 0.5], "B": F @ [0.8, -0.2]})
    >>> R += rng.normal(0, 0.01, R.shape)
    >>> R.iloc[:30, 1] = np.nan  # B lists 30 months late
    >>> model = TimeSeriesFactorModel().fit(F, R)
    >>> model.coef_.round(1)
    array([[ 1. ,  0.5],
           [ 0.8, -0.2]])
    >>> model.nobs_.tolist()
    [120, 90]
    >>> model.params_.loc["B"].round(1).to_dict()  # asset x term, const first
    {'const': 0.0, 'MKT': 0.8, 'SMB': -0.2}
    >>> model.summary().loc["B"].index.tolist()
    ['const', 'MKT', 'SMB']
    >>> model.summary().header["cov_type"], model.summary(compact=True).index.tolist()
    ('nonrobust', ['const', 'MKT', 'SMB'])
    """

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        # Any spelling: `fit` names the canonical ones and their aliases.
        "cov_type": [str],
        "kernel": [StrOptions({"bartlett", "parzen", "qs"})],
        "bandwidth": [Interval(numbers.Real, 0, None, closed="left"), None],
        "maxlags": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "use_correction": ["boolean"],
        "use_t": ["boolean", None],
    }

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        cov_type: str = "nonrobust",
        kernel: str = "bartlett",
        bandwidth: float | None = None,
        maxlags: int | None = None,
        use_correction: bool = False,
        use_t: bool | None = None,
    ) -> None:
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.maxlags = maxlags
        self.use_correction = use_correction
        self.use_t = use_t

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike) -> TimeSeriesFactorModel:
        """Regress each asset's returns on the factor returns.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns :math:`F`, one row per date. A date with a NaN factor
            is left out of every regression.
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns :math:`R` on the same dates (same index, same order).
            NaN marks a date without data for that asset.

        Returns
        -------
        self : TimeSeriesFactorModel
            The fitted model.
        """
        wide = validate_wide(self, X, y, reset=True, names=("X", "y"), require_R=True)
        return self._fit_wide(wide, keep_rows=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: MatrixLike, y: TargetLike) -> TimeSeriesFactorModel:
        r"""Add new dates to the fitted regressions: the same as a refit on all dates.

        Every fitted attribute (``params_``, ``coef_``, ``intercept_``,
        ``bse_``, ``tvalues_``, ``pvalues_``, ``cov_params_``, ``rsquared_``,
        ``rsquared_adj_``, ``nobs_``, ``grs_``, :meth:`summary`) equals
        :meth:`fit` on all the dates at once, to rounding. On an unfitted
        model it is :meth:`fit`.

        What the model keeps between calls, by ``cov_type``:

        - ``"nonrobust"``: per asset the sums over its dates of the
          regressors' products, of the regressors times the return, of the
          return and its square (in the design standardized on the first
          fit's dates): a few numbers per asset, whatever the history. The
          fit goes through them anyway, so :meth:`fit` keeps them too, and a
          fitted model can be updated.
        - ``"HC0"``, ``"HC1"``: also, since the meat uses the final
          residuals, the sums of :math:`y^2 x x^\top`,
          :math:`y\,x^{\otimes 3}` and :math:`x^{\otimes 4}` (their
          distinct entries: 203 numbers per asset with 5 factors and an
          intercept). Fixed in size, but they cost more than the fit:
          only a model started with ``partial_fit`` (on an unfitted model,
          the first call) sums them, and ``fit`` does not.
        - ``"HC2"``, ``"HC3"`` and ``"kernel"`` (HAC): the factor and
          asset returns of every date fitted, which **grow with the
          history**: HC2/HC3 weigh each date by its leverage under the
          final estimates, and the HAC meat pairs each date with its lags
          along each asset's own observed dates under the final residuals;
          their exact update needs the rows, and an update costs a refit.
          Only a model started with ``partial_fit`` keeps them.
        - The GRS test: the sums of the factor and asset returns, and of
          their products, over the dates on which every asset is observed
          (a square of the number of assets), for at most 500 assets; with
          more, ``grs_`` after an update is NaN with a note saying so
          (unless it is undefined anyway, :math:`T \le N + K`, as
          :meth:`fit` would say).

        Parameters
        ----------
        X : DataFrame of shape (n_new_dates, n_factors) or array-like
            Factor returns of the new dates, the factors of :meth:`fit` (by
            name and order). With a date index, the dates must come after
            the fitted ones.
        y : DataFrame of shape (n_new_dates, n_assets), Series or array-like
            Asset returns on the new dates. A DataFrame is matched to the
            fitted assets by label: a fitted asset it omits has no return on
            these dates (a delisting); a label not fitted before is a new
            asset (a listing), added after the fitted ones in ``y``'s order,
            so that ``fit`` on all the dates with the columns in that order
            gives the same model. An array must have the fitted assets'
            columns, in order.

        Returns
        -------
        self : TimeSeriesFactorModel
        """
        state = self.__dict__.get("_lazy", {}).get("moments", {}).get("partial_fit")
        if not hasattr(self, "assets_"):  # unfitted: fit, keeping the rows if needed
            wide = validate_wide(
                self, X, y, reset=True, names=("X", "y"), require_R=True
            )
            return self._fit_wide(wide, keep_rows=True)
        if state is None:
            raise ValueError(
                "This model keeps nothing for `partial_fit`: with `cov_type`="
                f"{self.cov_type!r} it adds dates to sums (HC0, HC1) or rows "
                "(HC2, HC3, HAC) that cost `fit` time or memory, so `fit` keeps "
                "none; a model combined from blocks of assets keeps none "
                "either. Start the model with `partial_fit` on the first dates "
                "instead."
            )
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        if wide.R is None:
            raise ValueError(
                "`partial_fit` needs the asset returns `y` of the new dates."
            )
        cov_type, _ = self._covariance()
        if (cov_type, self.fit_intercept) != state.settings:
            raise ValueError(
                "`cov_type` or `fit_intercept` changed since the model was fitted: "
                "`partial_fit` adds dates to the fitted sums; call `fit` on all "
                "the dates to use the new parameters."
            )
        check_later_dates(wide.dates, state.last_date)
        R, assets = self._new_columns(y, wide)
        if isinstance(state, RowsState):
            dates = None
            if state.dates is not None and wide.dates is not None:
                dates = state.dates.append(wide.dates)
            old = np.full((len(state.R), len(assets)), np.nan)
            old[:, : state.R.shape[1]] = state.R
            both = WideData(
                np.concatenate([state.F, wide.F]),
                np.concatenate([old, R]),
                dates,
                assets,
                state.single,
            )
            return self._fit_wide(both, keep_rows=True)
        return self._advance(state, wide, R, assets)

    def _fit_wide(self, wide, keep_rows):
        """``fit`` on validated inputs; keeps what ``partial_fit`` needs.

        ``keep_rows``: keep the data itself (``partial_fit`` of the covariances
        that need the rows); otherwise they get no state and the sums
        covariances get their sums.
        """
        cov_type, bandwidth = self._covariance()
        Xs, A, f_ok = standardized_design(wide.F, self.fit_intercept)
        p = Xs.shape[1]
        _check_design(Xs[f_ok].T @ Xs[f_ok], int(f_ok.sum()))
        # Each asset's returns in units of a power of two near their largest
        # magnitude (exact): returns of 1e-160 or 1e160 keep their statistics.
        units = power_of_two_units(wide.R)
        robust = cov_type != "nonrobust"
        fit = masked_ols(
            Xs, wide.R, f_ok, self.fit_intercept, units=units, keep_resid=robust
        )
        nlags = hac_lags(fit.nobs, bandwidth) if cov_type == "kernel" else None
        # The robust meat needs the residuals: computed now, kept small.
        meat = ols_meat(Xs, fit, cov_type, nlags, self.kernel) if robust else None
        self._store(wide, fit, A, units)
        self._lazy = {
            "moments": {
                "bread": fit.bread,
                "ssr": fit.ssr,
                "meat": meat,
                "A": A,
                "units": units,
                "cov_type": cov_type,
                "n_dates": int(f_ok.sum()),
            }
        }
        self._warn_bad(fit.bad, p)
        self._grs = grs_test(wide.F, wide.R, fit.mask.all(axis=0), self.fit_intercept)
        settings = (cov_type, self.fit_intercept)
        # What partial_fit needs: the nonrobust sums cost nothing (the fit
        # went through them); the others only when the model starts with it.
        if cov_type == "nonrobust" or (keep_rows and cov_type in SUMMED_COV_TYPES):
            state = start_state(wide, Xs, A, fit, units, settings)
        elif keep_rows:  # a copy: the caller's frames may change afterwards
            F, R = np.array(wide.F), np.array(wide.R)
            state = RowsState(
                settings, last_date(wide.dates), F, R, wide.dates, wide.single
            )
        else:
            state = None
        # partial_fit's state, kept with the moments: a new fit (or a model
        # combined from blocks of assets) starts without it.
        self._lazy["moments"]["partial_fit"] = state
        return self

    def _advance(self, state, wide, R, assets):
        """Add the new dates' sums to ``state`` and set the fitted attributes."""
        state = advance_state(state, wide, R, assets, self.fit_intercept)
        _check_design(state.design_gram(), state.n_dates)
        return self._fit_state(state, assets)

    def plan_date_blocks(self, X: MatrixLike) -> DateBlockPlan:
        """Start a fit by blocks of whole dates (e.g. ``skfactor.dask``'s partitions).

        Validates the parameters and the factor returns of **every** date (as
        :meth:`fit`) and returns the plan whose steps each block runs where
        it lies: ``plan.sums(Y, lo, hi)`` (pass 1), ``plan.combine(sums)``,
        ``plan.meat(Y, lo, hi, combined)`` (pass 2), with ``Y`` a block's
        returns (rows ``lo:hi`` of ``X``, every asset); then
        :meth:`combine_date_blocks`. See the "Fitting protocol" notes in
        ``skfactor/models/_time_series_dates.py``.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors)
            The factor returns of every date to be fitted.

        Returns
        -------
        DateBlockPlan
        """
        self._validate_params()
        wide = validate_wide(self, X, reset=True, names=("X", "y"))
        cov_type, bandwidth = self._covariance()
        Xs, A, f_ok = standardized_design(wide.F, self.fit_intercept)
        _check_design(Xs[f_ok].T @ Xs[f_ok], int(f_ok.sum()))
        return DateBlockPlan(
            Xs,
            A,
            f_ok,
            wide.F,
            (cov_type, self.fit_intercept),
            bandwidth,
            self.kernel,
            power_of_two_units(wide.F),
            wide.dates,
        )

    def combine_date_blocks(
        self, plan: DateBlockPlan, combined: dict, blocks: list, assets: ArrayLike
    ) -> TimeSeriesFactorModel:
        """Finish a fit by blocks of dates: the model, as :meth:`fit` on all of them.

        Parameters
        ----------
        plan : DateBlockPlan
            From :meth:`plan_date_blocks`.
        combined : dict
            ``plan.combine`` of every block's ``plan.sums``.
        blocks : list of dict
            ``plan.meat`` of every block, in date order.
        assets : Index
            The assets (the blocks' columns).

        Returns
        -------
        self
            Fitted, with the attributes (and warnings) of :meth:`fit` on all
            the dates, to rounding. A ``nonrobust`` model keeps the sums
            :meth:`partial_fit` adds to, as after :meth:`fit`.
        """
        state, meat, resid = plan.state(combined, blocks)
        return self._fit_state(state, pd.Index(assets), meat=meat, resid=resid)

    def _fit_state(self, state, assets, meat=None, resid=None):
        """Set the fitted attributes from summed ``state`` (a :class:`SumsState`).

        ``partial_fit``'s update, and :meth:`combine_date_blocks`, which
        passes the robust
        ``meat`` it summed with the final residuals (else that of the
        state's sums, HC0/HC1) and ``resid``, the residual and centred total
        sums of squares summed from the residuals (else their one-pass
        forms). The state is kept for ``partial_fit`` when its sums can be
        extended (``nonrobust``, or the HC0/HC1 sums).
        """
        p = state.A.shape[0]
        fit = solve_sums(state.sums, p)
        if resid is not None:
            fit.ssr[~fit.bad], fit.tss_centered[~fit.bad] = (r[~fit.bad] for r in resid)
        cov_type = state.settings[0]
        robust = cov_type != "nonrobust"
        if robust and meat is None:
            meat = hc0_meat(state.sums, fit, p, cov_type)
        self._store(
            WideData(None, None, None, assets, state.single), fit, state.A, state.units
        )
        self._lazy = {
            "moments": {
                "bread": fit.bread,
                "ssr": fit.ssr,
                "meat": meat,
                "A": state.A,
                "units": state.units,
                "cov_type": cov_type,
                "n_dates": state.n_dates,
            }
        }
        self._warn_bad(fit.bad, p)
        self._grs = state_grs(
            state, len(assets), self.n_features_in_, self.fit_intercept
        )
        if state.grs is not None and len(assets) > GRS_MAX_ASSETS:
            state = replace(state, grs=None)  # summed for this test only
        extendable = cov_type == "nonrobust" or state.sums.q2 is not None
        self._lazy["moments"]["partial_fit"] = state if extendable else None
        return self

    def _covariance(self):
        """The canonical ``cov_type`` and the lag count given (None: automatic)."""
        cov_type = canonical_cov_type(self.cov_type, _COV_TYPES)
        bandwidth = resolve_bandwidth(self.bandwidth, maxlags=self.maxlags)
        if self.kernel == "qs":
            raise ValueError(
                "`kernel`='qs' (quadratic spectral) weighs every lag, thousands "
                "per asset here; use 'bartlett' (Newey-West) or 'parzen', which "
                "stop at `bandwidth` lags."
            )
        if self.cov_type == "newey-west" and self.kernel != "bartlett":
            raise ValueError(
                "`cov_type`='newey-west' is the Bartlett kernel; got "
                f"`kernel`={self.kernel!r}. Use `cov_type`='kernel' with it."
            )
        return cov_type, bandwidth

    @property
    def grs_(self) -> GRSResult:
        """The GRS test (see the class docstring); warns when it is undefined."""
        grs = self.__dict__.get("_grs")
        if grs is None:
            raise AttributeError("`grs_` exists once the model is fitted.")
        if grs.why:
            warn(grs.why)
        return grs

    def _warn_bad(self, bad, p):
        """One warning counting the assets without estimates (``bad``)."""
        if bad.any():
            warn(
                f"{int(bad.sum())} of {len(bad)} assets have at most {p} "
                f"dates with data (the number of regressors) or collinear factors "
                f"on their dates, e.g. {list(self.assets_[bad][:3])}; their "
                "coefficients and statistics are NaN.",
                UserWarning,
            )

    def _store(self, wide, fit, A, units):
        """Estimates and fit statistics in the data's units.

        ``fit`` is of each asset's returns divided by ``units`` and of the
        standardized design ``X A⁻¹``: the coefficients are ``A θ̃``.
        """
        params = fit.params @ A.T * units[:, None]
        k = int(self.fit_intercept)
        self.assets_ = wide.assets
        self._single = wide.single
        self.coef_ = params[:, k:]
        self.intercept_ = params[:, 0] if k else np.zeros(len(params))
        index = self.assets_.rename(self.assets_.name or "asset")
        terms = pd.Index(self._terms(), name="term")
        self.params_ = pd.DataFrame(params, index=index, columns=terms)
        tss = fit.tss_centered if k else fit.tss_uncentered
        df_resid = fit.nobs - params.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - fit.ssr / tss
            r2_adj = 1.0 - (fit.nobs - k) / df_resid * (1.0 - r2)
        self.rsquared_ = pd.Series(r2, index=index, name="rsquared")
        self.rsquared_adj_ = pd.Series(r2_adj, index=index, name="rsquared_adj")
        self.nobs_ = pd.Series(fit.nobs, index=index, name="nobs")

    bse_ = LazyResult()
    tvalues_ = LazyResult()
    pvalues_ = LazyResult()
    cov_params_ = LazyResult()

    def _inference(self, moments, name=None):
        """``cov_params_``, ``bse_``, ``tvalues_``, ``pvalues_`` from the kept moments.

        The covariances are of the standardized design and of each asset's
        returns divided by ``units``; each standard error is ``sqrt(a' cov
        a)`` for its row ``a`` of ``A``, taken with ``a`` divided by its
        largest entry, so it stays finite when the covariance in the data's
        units (``A cov A'``) does not (factors of 1e-160: variances of 1e320).
        """
        A, units = moments["A"], moments["units"]
        nobs = self.nobs_.to_numpy()
        cov = sandwich(
            moments["bread"],
            moments["ssr"],
            nobs,
            moments["meat"],
            correction=moments["cov_type"] == "kernel" and self.use_correction,
        )
        with np.errstate(over="ignore", invalid="ignore"):
            cov_params = A @ cov @ A.T * (units**2)[:, None, None]
        top = np.abs(A).max(axis=1)
        unit = A / top[:, None]
        with np.errstate(invalid="ignore"):
            bse = np.sqrt(np.einsum("ij,njk,ik->ni", unit, cov, unit))
        bse *= top * units[:, None]
        params = self.params_.to_numpy()
        nonrobust = moments["cov_type"] == "nonrobust"
        use_t = nonrobust if self.use_t is None else self.use_t
        df_resid = nobs - params.shape[1]
        tvalues, pvalues = t_p_values(params, bse, df_resid[:, None] if use_t else None)
        index, terms = self.params_.index, self.params_.columns
        return {
            "bse_": pd.DataFrame(bse, index=index, columns=terms),
            "tvalues_": pd.DataFrame(tvalues, index=index, columns=terms),
            "pvalues_": pd.DataFrame(pvalues, index=index, columns=terms),
            "cov_params_": cov_params,
        }

    def _fitted(self, F):
        """``intercept_ + F @ coef_.T``, a new (n_dates, n_assets) array."""
        return F @ np.ascontiguousarray(self.coef_.T) + self.intercept_

    def predict(self, X: MatrixLike) -> FrameOut:
        """Fitted returns: ``intercept_ + X @ coef_.T``, date by date.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns.

        Returns
        -------
        R_pred : DataFrame of shape (n_dates, n_assets) or ndarray
            Indexed like ``X``, one column per asset (a Series or 1-D array when
            the model was fitted on one series). NaN on dates with a NaN factor.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, reset=False, names=("X", "y"))
        return self._wrap(self._fitted(wide.F), wide.dates)

    def residuals(self, X: MatrixLike, y: TargetLike) -> FrameOut:
        """Residuals ``y - predict(X)`` of every asset, date by date.

        On the data ``fit`` saw these are the regressions' residuals; the model
        does not keep them (a grid search would carry a training-sized copy in
        every candidate).

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns.
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns, the assets of ``fit`` in the same order.

        Returns
        -------
        resid : DataFrame of shape (n_dates, n_assets) or ndarray
            Indexed like ``X``, one column per asset (a Series or 1-D array
            when the model was fitted on one series). NaN where the return or a
            factor is missing, and for assets without estimates.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        pred = self._fitted(wide.F)
        return self._wrap(np.subtract(wide.R, pred, out=pred), wide.dates)

    def score(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> float:
        r"""Mean over assets of each asset's :math:`R^2` on ``(X, y)``.

        Each asset's :math:`R^2 = 1 - \sum (r - \hat r)^2 / \sum (r - \bar r)^2`
        runs over the dates where its return and every factor are observed;
        without NaN this is ``sklearn.metrics.r2_score(y, predict(X),
        multioutput="uniform_average")``.

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
            Mean :math:`R^2` over the assets that have an :math:`R^2`.
        """
        check_is_fitted(self)
        y = align_rows(y, X)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        return mean_r2(wide.R, self._fitted(wide.F), sample_weight)

    def summary(self, compact: bool = False) -> Summary:
        """Coefficient table of every asset, as statsmodels and linearmodels print it.

        Parameters
        ----------
        compact : bool, default=False
            Instead of one row per (asset, term), one row per term: the
            cross-asset mean and median estimate and the share of assets with
            :math:`|t| > 2` (thousands of assets read at a glance).

        Returns
        -------
        Summary
            A DataFrame indexed by (asset, term), terms ``const`` first then
            the factors, with columns ``coef``, ``std_err``, ``t``,
            ``p_value``; with ``compact``, indexed by term with columns
            ``mean``, ``median``, ``share_abs_t_above_2``, ``n``. Its
            ``header`` names the covariance (``cov_type`` canonical,
            ``kernel``, ``bandwidth``: the lags used, the same for every
            asset when given; with the automatic rule, whose lags grow with
            each asset's dates, the value when all assets share one, else
            the range ``"lo-hi by asset"``), ``n_dates`` (dates with every
            factor observed), ``n_assets``, ``mean_rsquared`` and the GRS test
            (``grs_statistic``, ``grs_pvalue``; ``grs_note`` says why when it
            is undefined, without the warning ``grs_`` gives).
        """
        check_is_fitted(self)
        if compact:
            table = term_overview(self.params_, self.tvalues_)
        else:
            table = summary_frame(
                self.assets_,
                self._terms(),
                self.params_.to_numpy(),
                self.bse_.to_numpy(),
                self.tvalues_.to_numpy(),
                self.pvalues_.to_numpy(),
            )
        return Summary(table, header=self._header())

    def _header(self):
        cov_type, bandwidth = self._covariance()
        if cov_type == "kernel":
            nlags = hac_lags(self.nobs_.to_numpy(), bandwidth)
            used = nlags[~np.isnan(self.params_.to_numpy()).all(axis=1)]
            lo, hi = (int(used.min()), int(used.max())) if len(used) else (0, 0)
            bandwidth = lo if lo == hi else f"{lo}-{hi} by asset"
        else:  # lags mean nothing to the other covariances
            bandwidth = None
        grs = self._grs
        header = {
            "estimator": type(self).__name__,
            "cov_type": cov_type,
            "kernel": self.kernel if cov_type == "kernel" else None,
            "bandwidth": bandwidth,
            "n_dates": self._lazy.get("moments", {}).get("n_dates"),
            "n_assets": len(self.assets_),
            "mean_rsquared": nanmean_or_nan(self.rsquared_),
            "grs_statistic": grs.statistic,
            "grs_pvalue": grs.pvalue,
        }
        if grs.why:
            n_dates = grs.df_denom + grs.df_num + self.n_features_in_
            header["grs_note"] = (
                "undefined: no intercept"
                if not self.fit_intercept
                else f"undefined: T={n_dates} complete dates <= N+K"
            )
        return header
