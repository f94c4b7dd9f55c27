"""The factor covariance estimator: :class:`FactorCovariance` (Barra USE4).

What this module holds: the one estimator class of :mod:`skfactor.risk` —
fitted on factor returns, it sets ``covariance_`` as scikit-learn's
covariance estimators do, and scores held-out dates by their Gaussian
log-likelihood (so its half-lives can be grid-searched by date). Its steps
(exponential weights, Newey-West lags, eigenfactor and volatility regime
adjustments) are the functions of ``_covariance.py`` and ``_adjustments.py``;
:meth:`FactorRiskModel.from_model` takes it as ``factor_covariance_estimator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import linalg
from sklearn.covariance import log_likelihood

from skfactor.risk._adjustments import (
    RegimeCarry,
    advance_regime,
    advance_variance_path,
    eigen_adjustment,
)
from skfactor.risk._covariance import (
    CovarianceSpec,
    complete_rows,
    nearest_psd,
    time_weights,
)
from skfactor.risk._weighted_sums import WeightedSums
from skfactor.utils._growing import GrowingArray
from skfactor.utils._later_dates import check_later_dates, last_date
from skfactor.utils._sklearn import (
    BaseEstimator,
    Interval,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from skfactor.utils._typing import MatrixLike, RandomStateLike, TargetLike

__all__ = ["FactorCovariance"]


class FactorCovariance(BaseEstimator):
    r"""Factor covariance with the Barra USE4 adjustments, as a covariance estimator.

    Fitted on factor returns (dates in rows, oldest first), it sets
    ``covariance_`` like scikit-learn's covariance estimators, so that it
    plugs in wherever they do: the ``factor_covariance_estimator`` of
    :meth:`FactorRiskModel.from_model`, :func:`evaluate_risk_forecast`.
    In order:

    1. **Volatilities and correlations** (:func:`factor_covariance`):
       exponentially weighted with half-lives ``halflife`` (volatilities)
       and ``corr_halflife`` (correlations), each with its own Newey-West
       lags ``bandwidth`` and ``corr_bandwidth``.
    2. **Eigenfactor risk adjustment** (Menchero, Orr and Wang, 2011), when
       ``eigen_scale`` is set: with :math:`\Sigma_0 = U_0 D_0 U_0^\top`,
       ``n_simulations`` histories of the same dates are drawn from
       :math:`N(0, \Sigma_0)` and re-estimated as in step 1; the simulated
       volatility bias of the :math:`k`-th eigenfactor,
       :math:`v_k = \sqrt{\frac1M \sum_m \tilde D_{m,k} / D_{m,k}}` (its
       variance under :math:`\Sigma_0` over its estimated variance), scaled
       as :math:`\gamma_k = a (v_k - 1) + 1` by the coefficient :math:`a`
       (``eigen_scale``; USE4 uses 1.2, the paper 1.4), rescales the
       eigenvalues: :math:`U_0 \,\mathrm{diag}(\gamma^2) D_0\, U_0^\top`.
       The smallest eigenfactors, whose risk the sample underestimates, are
       scaled up. Seeded by ``random_state``: the same data and seed give
       the same covariance.
    3. **Volatility regime adjustment** (USE4), when ``regime_halflife`` is
       set: on each past date :math:`t`, the factor returns standardized by
       the previous date's volatility forecasts (step 1 fitted on the dates
       up to :math:`t - 1`) give the cross-sectional bias statistic
       :math:`B_t^2 = \frac1K \sum_k (f_{kt} / \sigma_{k,t-1})^2`; then
       :math:`\lambda^2 = \mathrm{EWMA}_{h_R}(B_t^2)` and
       :math:`\Sigma_F = \lambda^2 \Sigma`. Forecasts made from fewer than
       ``max(2, int(halflife))`` dates are not used.

    With ``eigen_scale=None`` and ``regime_halflife=None`` the result is
    :func:`factor_covariance` exactly.

    :meth:`partial_fit` advances a fitted estimator by new dates, as
    :meth:`fit` on all of them gives it, keeping sums whose size does not
    grow with the history (a daily update costs one date's work).

    Its :meth:`score` is the mean Gaussian log-likelihood of held-out dates,
    as scikit-learn's ``EmpiricalCovariance.score``, so that its half-lives
    can be chosen by date-aware cross-validation (``GridSearchCV`` with
    :class:`~skfactor.model_selection.PanelTimeSeriesSplit`).

    Parameters
    ----------
    halflife : float, default=None
        Half-life in dates of the volatilities' weights; None: equal weights.
    bandwidth : int, default=None
        Newey-West lags of the volatilities; None: 0, no adjustment.
    corr_halflife : float, default=None
        Half-life of the correlations' weights; None: ``halflife``.
    corr_bandwidth : int, default=None
        Newey-West lags of the correlations; None: ``bandwidth``.
    assume_centered : bool, default=False
        Take the factors' mean as zero (the Barra convention for daily
        returns) instead of estimating it.
    regime_halflife : float, default=None
        Half-life in dates of the volatility regime adjustment; None: none.
    eigen_scale : float, default=None
        Scale coefficient :math:`a` of the eigenfactor risk adjustment;
        None (or 0): none.
    n_simulations : int, default=1000
        Simulated histories of the eigenfactor adjustment.
    random_state : int, RandomState instance or None, default=0
        Seed of the simulations; the default makes the covariance
        reproducible from run to run.
    lags, corr_lags : int, default=None
        Aliases of ``bandwidth`` and ``corr_bandwidth`` (USE4's word; give
        one spelling, or equal values).

    Attributes
    ----------
    covariance_ : ndarray of shape (n_factors, n_factors)
        :math:`\Sigma_F`, symmetric positive semi-definite.
    location_ : ndarray of shape (n_factors,)
        The weighted mean (the volatilities' weights; zeros with
        ``assume_centered=True``).
    regime_multiplier_ : float
        :math:`\lambda` (1.0 without the regime adjustment).
    regime_statistic_ : ndarray of shape (n_dates,)
        :math:`B_t^2` by date (NaN where none); None without the adjustment.
    eigen_bias_ : ndarray of shape (n_factors,)
        The simulated volatility bias :math:`v_k` of each eigenfactor, in
        ascending order of eigenvalue; None without the adjustment.
    n_features_in_ : int
        Number of factors.
    feature_names_in_ : ndarray of shape (n_factors,)
        The factor names, when ``X`` had string column names.

    Notes
    -----
    The regime adjustment equals skfolio's ``RegimeAdjustedEWCovariance``
    with ``regime_target=DIAGONAL``, ``regime_method=RMS``,
    ``regime_multiplier_clip=None``, ``assume_centered=True``,
    ``min_observations=int(halflife)`` and ``regime_min_observations=1``
    on complete data, with ``assume_centered=True``, ``bandwidth=None`` and the same
    half-lives here. The definitions part where: skfolio's Newey-West term
    weighs each lagged product by the later date's weight (here
    :math:`\sqrt{w_t w_{t-l}}`, which keeps the estimate positive
    semi-definite); skfolio's ``assume_centered=False`` subtracts a lagged
    EWMA mean (here the weighted mean, with the unbiased divisor); skfolio
    clips :math:`\lambda` to (0.7, 1.6) by default (here no clip); a date on
    which a factor is missing freezes skfolio's estimate and still ages the
    older dates here.

    Examples
    --------
    >>> import numpy as np
    >>> from skfactor.risk import FactorCovariance, factor_covariance
    >>> rng = np.random.default_rng(0)
    >>> regime = np.r_[np.ones(400), 2 * np.ones(100)][:, None]  # vol doubles
    >>> F = rng.normal(0, 0.01, (500, 4)) * regime
    >>> est = FactorCovariance(halflife=90, regime_halflife=20).fit(F)
    >>> round(est.regime_multiplier_, 2)  # the forecast lags: scaled up
    1.34
    >>> est = FactorCovariance(halflife=90, eigen_scale=1.2, n_simulations=200).fit(F)
    >>> bool(est.eigen_bias_[0] > 1.0)  # the smallest eigenfactor is underestimated
    True

    The half-life whose forecasts give the held-out dates the highest
    log-likelihood, on factors whose volatility wanders:

    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.1, 500)))[:, None]
    >>> G = rng.normal(0, 1, (500, 4)) * vol
    >>> search = GridSearchCV(FactorCovariance(), {"halflife": [20, 90, None]},
    ...                       cv=TimeSeriesSplit(n_splits=4)).fit(G)
    >>> search.best_params_
    {'halflife': 20}
    """

    _parameter_constraints = {
        "halflife": [Interval(Real, 0, None, closed="neither"), None],
        "bandwidth": [Interval(Integral, 0, None, closed="left"), None],
        "corr_halflife": [Interval(Real, 0, None, closed="neither"), None],
        "corr_bandwidth": [Interval(Integral, 0, None, closed="left"), None],
        "lags": [Interval(Integral, 0, None, closed="left"), None],
        "corr_lags": [Interval(Integral, 0, None, closed="left"), None],
        "assume_centered": ["boolean"],
        "regime_halflife": [Interval(Real, 0, None, closed="neither"), None],
        "eigen_scale": [Interval(Real, 0, None, closed="left"), None],
        "n_simulations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        halflife: float | None = None,
        bandwidth: int | None = None,
        corr_halflife: float | None = None,
        corr_bandwidth: int | None = None,
        assume_centered: bool = False,
        regime_halflife: float | None = None,
        eigen_scale: float | None = None,
        n_simulations: int = 1000,
        random_state: RandomStateLike = 0,
        lags: int | None = None,
        corr_lags: int | None = None,
    ) -> None:
        self.halflife = halflife
        self.bandwidth = bandwidth
        self.corr_halflife = corr_halflife
        self.corr_bandwidth = corr_bandwidth
        self.lags = lags
        self.corr_lags = corr_lags
        self.assume_centered = assume_centered
        self.regime_halflife = regime_halflife
        self.eigen_scale = eigen_scale
        self.n_simulations = n_simulations
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike | None = None) -> FactorCovariance:
        """Estimate the factor covariance from factor returns.

        Parameters
        ----------
        X : array-like of shape (n_dates, n_factors)
            Factor returns, one row per date, oldest first. A date with a
            missing factor (NaN) is left out, but still ages the older dates.
        y : None
            Ignored.

        Returns
        -------
        self : FactorCovariance
        """
        values = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        return self._advance(values, _LastDate.of(getattr(X, "index", None)), None)

    # Not wrapped in _fit_context: scikit-learn's skips the parameters' check
    # of a fitted estimator's partial_fit, so on an update it would only cost
    # its contexts (a tenth of a one-date update); unfitted, it calls fit.
    def partial_fit(
        self, X: MatrixLike, y: TargetLike | None = None
    ) -> FactorCovariance:
        """Advance the fitted covariance by new dates, after the fitted ones.

        The result equals :meth:`fit` on all the dates at once (to rounding):
        ``covariance_``, ``location_``, ``regime_multiplier_``,
        ``regime_statistic_`` and, with the same ``random_state``,
        ``eigen_bias_``. On an unfitted estimator it is :meth:`fit`.

        What it keeps between calls does not grow with the history: the
        exponentially weighted sums of the returns, their squares and
        cross-products, and of the products of dates up to ``bandwidth``
        apart (their Bartlett-weighted sum, and each lag's diagonal, last
        row and column, with those last rows), for the volatilities and,
        when they differ, the correlations, stacked in one array each; the
        regime statistic's EWMA and the last forecast (the regime's variance
        path is the diagonal of the volatilities' sums, and starts from
        them). Two things grow, by one entry per date:
        ``regime_statistic_``, a per-date output, which the new dates'
        values extend without copying the earlier ones (a view of a buffer
        whose capacity doubles); and, with ``eigen_scale``, the positions of
        the complete dates, because the eigenfactor adjustment re-simulates
        histories of all the dates on every update (an update costs that
        simulation, as a refit does).

        A one-date update costs one date's work, in a few dozen small array
        operations: both half-lives' sums advance together, the parameters
        (unchanged since the fit) are not checked again, the dates of a
        DatetimeIndex are compared as integers, a frame of floats with the
        fitted columns is checked without scikit-learn's per-column
        inspection (anything else goes through ``validate_data``), the
        result is checked positive definite by a Cholesky factorisation (the
        eigenvalue repair only when it fails), and the regime's forecast of
        the date is the sums' diagonal. See the user guide's "In
        production: daily updates" for its time against a refit.

        Parameters
        ----------
        X : array-like of shape (n_new_dates, n_factors)
            Factor returns of the new dates, oldest first, with the factors
            (and column names) of :meth:`fit`. When the fitted ``X`` and
            this one are DataFrames indexed by date, the new dates must come
            after the fitted ones. A date with a missing factor (NaN) is
            left out, but still ages the older dates.
        y : None
            Ignored.

        Returns
        -------
        self : FactorCovariance
        """
        state = getattr(self, "_running", None)
        if state is None or not hasattr(state, "sums"):
            if hasattr(self, "covariance_"):  # pickled by an older skfactor
                raise ValueError(
                    "This FactorCovariance keeps no sums to add dates to (it "
                    "was fitted by an older skfactor); call `fit` on all the "
                    "dates."
                )
            return self.fit(X)
        values = _new_rows(self, X, state.columns)
        last_label = _LastDate.after(getattr(X, "index", None), state.last_label)
        return self._advance(values, last_label, state)

    def _advance(self, values, last_label, state):
        """Fit (``state`` None) or advance ``state`` by the rows ``values``."""
        reset = state is None
        n_old = 0 if reset else state.n_rows
        complete = ~np.isnan(values).any(axis=1)
        F = values[complete]
        positions = n_old + np.flatnonzero(complete)
        n_complete = len(F) + (0 if reset else state.sums.n_complete)
        if n_complete < 2:
            complete_rows(values, "X")  # raises: fewer than 2 complete dates
        params = (
            self.halflife,
            self.bandwidth,
            self.lags,
            self.corr_halflife,
            self.corr_bandwidth,
            self.corr_lags,
            self.assume_centered,
            self.regime_halflife,
            self.eigen_scale,
        )
        if reset or params != state.params:
            settings = self._settings(n_complete)
            if not reset and settings != state.settings:
                raise ValueError(
                    "The parameters changed since the covariance was fitted (the "
                    "half-lives, lags, `assume_centered`, `regime_halflife` or "
                    "`eigen_scale`): `partial_fit` advances the fitted sums; call "
                    "`fit` on all the dates to use the new parameters."
                )
        else:  # as fitted: checked then, on fewer dates (the lags' bound)
            settings = state.settings
        spec = settings[0]
        n_rows = n_old + len(values)
        if reset:
            sums = spec.start(F, positions, n_rows)
        else:
            sums = state.sums.add(F, positions, n_rows)
        # the volatilities' squares on the last date (and the regime's forecast)
        S, variances = spec.covariance(sums)
        if reset:  # fit: the direct estimate (its rounding, as factor_covariance's)
            S = spec.estimate(F, positions)
            location = time_weights(positions, spec.halflife) @ F
        else:
            location = sums.mean()
        self.location_ = np.zeros(F.shape[1]) if spec.centered else location
        self.eigen_bias_, kept = None, None
        if self.eigen_scale:
            kept = positions if reset else np.r_[state.positions, positions]
            rng = np.random.default_rng(_seed(self.random_state))
            S, self.eigen_bias_ = eigen_adjustment(
                S,
                n_complete,
                lambda sims: spec.estimate(sims, kept),
                float(self.eigen_scale),
                self.n_simulations,
                rng,
            )
        regime = history = None
        if self.regime_halflife is None:
            self.regime_multiplier_, self.regime_statistic_ = 1.0, None
        else:
            lam, regime, history = self._regime(
                values, complete, spec, state, variances
            )
            S = S * lam**2
        self.covariance_ = nearest_psd(S)
        if reset:
            names = getattr(self, "feature_names_in_", None)
            columns = None if names is None else pd.Index(names)
        else:
            columns = state.columns
        self._running = _State(
            params, settings, n_rows, sums, regime, history, kept, last_label, columns
        )
        return self

    def _settings(self, n_complete):
        """The checked half-lives and lags, the regime's and the eigen scale."""
        spec = CovarianceSpec.checked(
            self.halflife,
            {"bandwidth": self.bandwidth, "lags": self.lags},
            self.corr_halflife,
            {"corr_bandwidth": self.corr_bandwidth, "corr_lags": self.corr_lags},
            self.assume_centered,
            n_complete,
        )
        return spec, self.regime_halflife, self.eigen_scale

    def _regime(self, values, complete, spec, state, variances):
        """Advance the volatility regime adjustment: its multiplier and carry.

        Each date's volatility forecast (the variance path) is, on the last
        date, ``variances``, the diagonal of the advanced sums; on the dates
        before it, the variance path run on from ``state``'s sums (nothing
        to run on a one-date update). ``fit`` and ``partial_fit`` have at
        least two complete dates, so every forecast of the last date is one.
        """
        full = np.where(complete[:, None], values, np.nan)  # incomplete dates out
        path = last = variances[None]
        if len(full) > 1:
            start = None if state is None else state.sums.path_carry()
            head, _ = advance_variance_path(
                full[:-1], spec.halflife, spec.lags, spec.centered, start
            )
            path = np.concatenate([head, last])
        warmup = max(2, int(spec.halflife or 0))
        lam, b2, regime_carry = advance_regime(
            full, path, self.regime_halflife, None, warmup, state and state.regime
        )
        history = GrowingArray(b2) if state is None else state.history.append(b2)
        self.regime_multiplier_, self.regime_statistic_ = lam, history.values
        return lam, regime_carry, history

    def get_precision(self) -> np.ndarray:
        """The precision matrix: the (pseudo-)inverse of ``covariance_``.

        Returns
        -------
        ndarray of shape (n_factors, n_factors)
            ``scipy.linalg.pinvh(covariance_)``, as scikit-learn's covariance
            estimators without a stored precision compute it.
        """
        check_is_fitted(self, "covariance_")
        return linalg.pinvh(self.covariance_, check_finite=False)

    def score(self, X_test: ArrayLike, y: None = None) -> float:
        r"""Mean Gaussian log-likelihood of held-out factor returns.

        As scikit-learn's ``EmpiricalCovariance.score``: with
        :math:`S = \frac1n \sum_t (f_t - \mu)(f_t - \mu)^\top` the test
        dates' covariance about the *fitted* ``location_`` :math:`\mu`
        and :math:`K` factors,

        .. math::

            \ell = -\tfrac12 \big(K \log 2\pi + \log\det \Sigma_F
                    + \mathrm{tr}(S \Sigma_F^{-1})\big),

        the mean over the test dates of the log-density of
        :math:`N(\mu, \Sigma_F)`; higher is better, so it serves as the
        score of a date-aware grid search over the half-lives. A singular
        ``covariance_`` scores ``-inf``.

        Parameters
        ----------
        X_test : array-like of shape (n_dates, n_factors)
            Factor returns of the held-out dates, with the factors of
            ``fit``. A date with a missing factor (NaN) is dropped; the
            score is the mean over the complete dates.
        y : None
            Ignored.

        Returns
        -------
        float
            The mean log-likelihood per complete date.
        """
        check_is_fitted(self, "covariance_")
        values = validate_data(
            self, X_test, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        D = values[~np.isnan(values).any(axis=1)] - self.location_
        if len(D) == 0:
            raise ValueError(
                "`X_test` has no date on which every factor is observed, so "
                f"there is nothing to score; got {len(values)} date(s), each "
                "with a NaN factor. Pass dates with complete factor returns."
            )
        return float(log_likelihood(D.T @ D / len(D), self.get_precision()))

    def mahalanobis(self, X: ArrayLike) -> np.ndarray:
        r"""Squared Mahalanobis distances of factor returns to the fitted model.

        :math:`(f_t - \mu)^\top \Sigma_F^{+} (f_t - \mu)` for each date,
        with the fitted ``location_`` and :meth:`get_precision`, as
        scikit-learn's ``EmpiricalCovariance.mahalanobis``.

        Parameters
        ----------
        X : array-like of shape (n_dates, n_factors)
            Factor returns. A date with a missing factor gets NaN.

        Returns
        -------
        ndarray of shape (n_dates,)
        """
        check_is_fitted(self, "covariance_")
        values = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        D = values - self.location_
        return np.einsum("ij,jk,ik->i", D, self.get_precision(), D)


def _new_rows(estimator, X, columns):
    """``validate_data(estimator, X, reset=False)`` of :meth:`partial_fit`, as floats.

    The usual update, a frame of floats whose columns equal the fitted ones
    (``columns``, an Index of ``feature_names_in_``), or a float array when
    the fit had no feature names, with no infinity, is what validate_data
    would pass unchanged: it is taken as it is, for a fiftieth of
    validate_data's time on one date. Anything else goes through
    validate_data, which converts it or raises its error.
    """
    if isinstance(X, pd.DataFrame) and columns is not None:
        values = X.to_numpy()  # float64 only if every column is a number
        known = X.columns.equals(columns)
    elif isinstance(X, np.ndarray) and columns is None:
        values, known = X, X.ndim == 2 and X.shape[1] == estimator.n_features_in_
    else:
        values, known = None, False
    if known and len(values) and values.dtype == np.float64:
        if not np.isinf(values).any():
            return values
    return validate_data(
        estimator, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
    )


class _LastDate(NamedTuple):
    """The last fitted date of a DatetimeIndex, as its dtype and integer.

    :func:`check_later_dates` compares boxed labels (``Timestamp``): boxing
    a date costs a one-date update a tenth of its time, a sixth with cold
    caches, so a DatetimeIndex's dates are compared as its integers (``asi8``,
    UTC with a time zone) when its dtype is the fitted one's. Anything else,
    and an update that is refused, goes through ``check_later_dates`` (its
    rules, its error).
    """

    dtype: object
    value: int

    @classmethod
    def of(cls, index):
        """``index``'s last date: a _LastDate, or :func:`last_date`'s label."""
        if type(index) is pd.DatetimeIndex and len(index):
            return cls(index.dtype, index.asi8[-1])
        return last_date(index)

    @classmethod
    def after(cls, index, last):
        """:func:`check_later_dates` of ``index`` after ``last``: its last date."""
        if isinstance(last, cls):
            if type(index) is pd.DatetimeIndex and index.dtype == last.dtype:
                values = index.asi8
                if len(values) and values[0] > last.value:
                    return cls(last.dtype, values[-1])
            last = last.label()
        return cls.of(index) if check_later_dates(index, last) is not None else None

    def label(self):
        """The date as a ``Timestamp`` (in its time zone)."""
        unit = getattr(self.dtype, "unit", None) or np.datetime_data(self.dtype)[0]
        date = pd.Timestamp(np.datetime64(int(self.value), unit))
        tz = getattr(self.dtype, "tz", None)
        return date if tz is None else date.tz_localize("UTC").tz_convert(tz)


def _seed(random_state):
    """A numpy Generator seed from scikit-learn's ``random_state`` forms."""
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(np.iinfo(np.int32).max)
    return random_state


@dataclass(frozen=True)
class _State:
    """What :meth:`FactorCovariance.partial_fit` advances (see its docstring)."""

    params: tuple  # the parameters as given; `settings` as checked
    settings: tuple
    n_rows: int
    sums: WeightedSums  # the volatilities' (and the correlations') sums
    regime: RegimeCarry | None
    history: GrowingArray | None  # regime_statistic_'s buffer
    positions: np.ndarray | None
    last_label: object  # a _LastDate, or check_later_dates' label
    columns: pd.Index | None
