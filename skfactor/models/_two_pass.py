"""TwoPassFactorModel: time-series betas, then cross-sectional risk premia."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.models._date_diagnostics import inference_frames
from skfactor.models._fama_macbeth import check_summary_arguments, fama_macbeth_table
from skfactor.models._lazy import LazyResult
from skfactor.models._ols import (
    collinear,
    masked_ols,
    standardized_design,
)
from skfactor.models._summary import Summary, finite_mean
from skfactor.models._wide_model import WideModelMixin, mean_r2
from skfactor.panel._align import align_rows
from skfactor.panel._wide import check_fitted_assets, validate_wide
from skfactor.utils._numerics import coefficient_table
from skfactor.utils._sklearn import (
    BaseEstimator,
    RegressorMixin,
    _fit_context,
    check_is_fitted,
)
from skfactor.utils._typing import ArrayLike, FrameOut, MatrixLike, TargetLike
from skfactor.utils._warnings import warn

__all__ = ["TwoPassFactorModel"]


def shanken_covariance(betas, resid, mask, premia, F, fit_intercept):
    r"""Shanken's (1992) errors-in-variables covariance of the mean risk premia.

    :math:`\frac1T[(1 + c)(C'C)^{-1}C'\hat\Sigma C(C'C)^{-1} + \tilde\Sigma_F]`
    with :math:`C = [1, \hat B]` (assets with betas), :math:`c =
    \hat\lambda_f'\hat\Sigma_F^{-1}\hat\lambda_f`, :math:`\hat\Sigma =
    D E E' D` the first-pass residual covariance (``E`` the residuals, 0 off
    each asset's dates, :math:`D = \mathrm{diag}(T_i^{-1/2})` with
    :math:`T_i` the asset's dates: :math:`E'E/T` on a balanced panel, and
    positive semi-definite with holes), :math:`\hat\Sigma_F` the factor
    covariance over the dates every factor is observed (divided by their
    count) and :math:`T` the dates with estimated premia. :math:`\hat\Sigma`
    is never formed: :math:`C'\hat\Sigma C = (C'DE)(C'DE)'`, a terms x dates
    product (forming the assets x assets matrix took 4 s of a 4.2 s fit at
    3,000 assets and 2,520 dates).
    """
    ok = ~np.isnan(betas).any(axis=1)
    B, E = betas[ok], resid[ok] / np.sqrt(mask[ok].sum(axis=1))[:, None]
    C = np.column_stack([np.ones(len(B)), B]) if fit_intercept else B
    T = int(np.isfinite(premia).all(axis=1).sum())
    Fo = F[~np.isnan(F).any(axis=1)]
    p = C.shape[1]
    if T == 0 or len(C) < p or collinear(C.T @ C) or len(Fo) < 2:
        return np.full((p, p), np.nan), T
    Fc = Fo - Fo.mean(axis=0)
    sigma_f = Fc.T @ Fc / len(Fo)
    if collinear(sigma_f):
        return np.full((p, p), np.nan), T
    lam = np.nanmean(premia, axis=0)
    k = int(fit_intercept)
    c = lam[k:] @ np.linalg.solve(sigma_f, lam[k:])
    bread = np.linalg.inv(C.T @ C) @ C.T
    bordered = np.zeros((len(lam), len(lam)))
    bordered[k:, k:] = sigma_f
    root = bread @ E  # C'DE scaled by (C'C)^-1: (terms, dates)
    return ((1.0 + c) * (root @ root.T) + bordered) / T, T


def second_pass_inference(params, ssr, nobs, inverse_diagonal):
    r"""Per-date ``bse_``, ``tvalues_``, ``pvalues_`` of the second pass, as OLS.

    Each date's nonrobust standard errors, statsmodels ``OLS`` of that date's
    returns on the betas: :math:`\sqrt{\hat\sigma^2_t\,[(C_t'C_t)^{-1}]_{jj}}`
    with :math:`\hat\sigma^2_t = SSR_t / (n_t - k)`, from what ``fit`` kept:
    the residual sum of squares, the assets and the diagonal of the inverse
    Gram matrix of each date; Student's t with :math:`n_t - k` degrees of
    freedom.
    """
    df_resid = nobs - params.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        bse = np.sqrt(ssr / df_resid)[:, None] * np.sqrt(inverse_diagonal)
    frames = inference_frames(params, bse, df_resid)
    return dict(zip(("bse_", "tvalues_", "pvalues_"), frames, strict=True))


class TwoPassFactorModel(WideModelMixin, RegressorMixin, BaseEstimator):
    r"""Two-pass (Fama-MacBeth) estimation of factor risk premia.

    ``fit(X, y)`` takes the factor returns :math:`F` as ``X`` (date x factor)
    and the asset returns :math:`R` as ``y`` (date x asset, NaN for holes).

    **First pass**: each asset's betas by time-series OLS over its own dates
    (exactly :class:`TimeSeriesFactorModel`'s regressions),
    :math:`r_{i,t} = a_i + \beta_i' f_t + e_{i,t}`.
    **Second pass**: on each date, a cross-sectional OLS of that date's returns
    on the betas, over the assets with a return that date and with betas,

    .. math::

        r_{i,t} = \lambda_{0,t} + \hat\beta_i' \lambda_t + \eta_{i,t}.

    The risk premia :math:`\hat\lambda = \frac1T\sum_t \hat\lambda_t` are the
    means of the per-date estimates; on a balanced panel they equal the
    regression of the mean returns on the betas, linearmodels
    ``LinearFactorModel(risk_free=fit_intercept)``'s premia. A date with no
    more assets than terms has NaN premia (one warning names how many).

    Parameters
    ----------
    fit_intercept : bool, default=True
        Estimate the zero-beta rate :math:`\lambda_0` (term ``const``) in the
        second pass. The first pass always has an intercept.

    Attributes
    ----------
    coef_ : ndarray of shape (n_assets, n_factors)
        The first-pass betas, what :meth:`predict` multiplies the factor
        returns by.
    intercept_ : ndarray of shape (n_assets,)
        The alphas the second pass prices,
        :math:`\hat\lambda_0 + \hat\beta_i'(\hat\lambda - \bar f)` with
        :math:`\bar f` the factor means over the first-pass dates.
    betas_ : DataFrame of shape (n_assets, n_factors)
        ``coef_`` labelled: asset x factor.
    params_ : DataFrame of shape (n_dates, n_terms)
        The second pass's regressions, one row per date: the per-date premia
        :math:`\hat\lambda_t`, ``const`` first. Same object as
        ``risk_premia_``.
    risk_premia_ : DataFrame of shape (n_dates, n_terms)
        See ``params_``.
    bse_, tvalues_, pvalues_ : DataFrame of shape (n_dates, n_terms)
        Each date's second-pass regression inference, laid out as
        ``params_``: statsmodels ``OLS`` of that date's returns on the betas
        (nonrobust; Student's t with the date's assets less the terms as
        degrees of freedom). NaN on dates not estimated. Computed on first
        access from what ``fit`` keeps: per date, the residual sum of
        squares, the number of assets and the diagonal of
        :math:`(C_t'C_t)^{-1}`.
    expected_returns_ : Series of shape (n_assets,)
        :math:`\hat\lambda_0 + \hat\beta_i'\hat\lambda`, the mean of
        :meth:`predict` over the training dates.
    rsquared_, nobs_ : Series of shape (n_dates,)
        :math:`R^2` and the number of assets of each date's regression.
    assets_ : Index of shape (n_assets,)
        Asset labels: ``y``'s columns.
    n_features_in_ : int
        Number of factors.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Factor names, when ``X`` has string column names.

    See Also
    --------
    TimeSeriesFactorModel : The first pass alone, with alphas and GRS.
    CrossSectionalFactorModel : Per-date regressions on characteristics.

    Notes
    -----
    Fitted attributes follow the user guide's "Fitted attributes" contract:
    ``coef_``/``intercept_`` are what :meth:`predict` uses; ``params_`` holds
    the second pass's per-date estimates (its regressions), ``const`` first,
    ``bse_``/``tvalues_``/``pvalues_`` their per-date inference (computed on
    first access) and :meth:`residuals` their residuals; :meth:`summary`
    gives the inference on their means. No training-sized array is kept:
    ``fit`` computes the Shanken covariance of the premia (a terms x terms
    matrix) from the first-pass residuals and drops them.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor import TwoPassFactorModel
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.date_range("2000-01-31", periods=240, freq="ME")
    >>> F = pd.DataFrame(rng.normal(0.005, 0.04, (240, 2)), dates, ["MKT", "SMB"])
    >>> B = rng.uniform(0.5, 1.5, (25, 2))
    >>> R = pd.DataFrame(F.to_numpy() @ B.T + rng.normal(0, 0.02, (240, 25)), dates)
    >>> model = TwoPassFactorModel().fit(F, R)
    >>> model.risk_premia_.columns.tolist()
    ['const', 'MKT', 'SMB']
    >>> table = model.summary(cov_type="shanken")
    >>> table.columns.tolist()
    ['coef', 'std_err', 't', 'p_value']
    >>> table.header["cov_type"], table.header["n_dates"], table.header["n_assets"]
    ('shanken', 240, 25)
    >>> model.bse_.shape == model.params_.shape
    True
    """

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
    }

    def __init__(self, *, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # One asset (a 1-D y) cannot identify the premia: predictions are NaN.
        tags.regressor_tags.poor_score = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike) -> TwoPassFactorModel:
        """Estimate the betas, then the per-date risk premia.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns :math:`F`. A date with a NaN factor is left out of
            the first pass (the second pass does not use factor values).
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            Asset returns :math:`R` on the same dates; NaN marks a hole.

        Returns
        -------
        self : TwoPassFactorModel
            The fitted model.
        """
        wide = validate_wide(self, X, y, reset=True, names=("X", "y"), require_R=True)
        Xs, A, f_ok = standardized_design(wide.F, True)
        first = masked_ols(Xs, wide.R, f_ok, intercept=True)
        betas = (first.params @ A.T)[:, 1:]
        k = int(self.fit_intercept)
        has_beta = ~first.bad
        C = np.column_stack([has_beta.astype(np.float64)] * k + [np.nan_to_num(betas)])
        second = masked_ols(C, wide.R.T, has_beta, intercept=self.fit_intercept)
        p = C.shape[1]
        self._warn(first.bad, second.bad, p)

        self.assets_ = wide.assets
        self._single = wide.single
        dates = wide.dates if wide.dates is not None else pd.RangeIndex(len(wide.F))
        dates = dates.rename(dates.name or "date")
        terms = pd.Index(self._terms(), name="term")
        assets = self.assets_.rename(self.assets_.name or "asset")
        self.betas_ = pd.DataFrame(betas, index=assets, columns=terms[k:])
        self.params_ = self.risk_premia_ = pd.DataFrame(
            second.params, index=dates, columns=terms
        )
        tss = second.tss_centered if k else second.tss_uncentered
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - second.ssr / tss
        self.rsquared_ = pd.Series(r2, index=dates, name="rsquared")
        self.nobs_ = pd.Series(second.nobs, index=dates, name="nobs")
        # bse_, tvalues_, pvalues_: on first access (p + 2 numbers per date).
        self._lazy = {
            "moments": (
                second.ssr,
                second.nobs,
                np.diagonal(second.bread, axis1=1, axis2=2).copy(),
            )
        }

        lam = self.risk_premia_.mean(axis=0).to_numpy()
        lam0 = lam[0] if k else 0.0
        self.coef_ = betas
        self.expected_returns_ = pd.Series(
            lam0 + betas @ lam[k:], index=assets, name="expected_return"
        )
        self.intercept_ = lam0 + betas @ (lam[k:] - wide.F[f_ok].mean(axis=0))
        self._shanken = shanken_covariance(
            betas, first.resid, first.mask, second.params, wide.F, self.fit_intercept
        )
        return self

    def _warn(self, bad_assets, bad_dates, p):
        if bad_assets.any():
            warn(
                f"{int(bad_assets.sum())} of {len(bad_assets)} assets have too few "
                "dates with data or collinear factors on their dates; they have NaN "
                "betas and are left out of the second pass.",
                UserWarning,
            )
        if bad_dates.any():
            warn(
                f"{int(bad_dates.sum())} of {len(bad_dates)} dates have at most {p} "
                f"assets with betas and a return (the number of terms) or collinear "
                "betas among them; their risk premia are NaN.",
                UserWarning,
            )

    def _fitted(self, F):
        return F @ np.ascontiguousarray(self.coef_.T) + self.intercept_

    def predict(self, X: MatrixLike) -> FrameOut:
        r"""Returns the model prices: ``intercept_ + X @ coef_.T``, date by date.

        :math:`\hat r_{i,t} = \hat\lambda_0 + \hat\beta_i'(\hat\lambda - \bar f
        + f_t)`: the first-pass betas times the factor returns, with the alpha
        the second pass prices instead of the asset's own. Over the training
        dates its mean is ``expected_returns_``.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns.

        Returns
        -------
        R_pred : DataFrame of shape (n_dates, n_assets) or ndarray
            Indexed like ``X``, one column per asset (a Series or 1-D array when
            fitted on one series). NaN on dates with a NaN factor.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, reset=False, names=("X", "y"))
        return self._wrap(self._fitted(wide.F), wide.dates)

    def score(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> float:
        """Mean over assets of the :math:`R^2` of :meth:`predict` against ``y``.

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
            Mean :math:`R^2` over the assets that have one (NaN if none).
        """
        check_is_fitted(self)
        y = align_rows(y, X)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        return mean_r2(wide.R, self._fitted(wide.F), sample_weight)

    bse_ = LazyResult(
        "Per-date second-pass standard errors (date x term), on first access."
    )
    tvalues_ = LazyResult(
        "Per-date second-pass t statistics (date x term), on first access."
    )
    pvalues_ = LazyResult(
        "Per-date second-pass p-values (date x term), on first access."
    )

    def _inference(self, moments, name):
        """Every lazily computed attribute at once, from the kept moments."""
        return second_pass_inference(self.params_, *moments)

    def residuals(self, X: MatrixLike, y: TargetLike) -> FrameOut:
        r"""The second pass's residuals: each return less its date's priced return.

        :math:`\hat\eta_{i,t} = r_{i,t} - \hat\lambda_{0,t} -
        \hat\beta_i'\hat\lambda_t`, with the per-date premia of ``params_``
        matched to ``X``'s dates by label. On the data ``fit`` saw these are
        the cross-sectional regressions' residuals (their mean over the dates
        is each asset's Fama–MacBeth pricing error); the model does not keep
        them. ``y - predict(X)`` prices with the mean premia instead.

        Parameters
        ----------
        X : DataFrame of shape (n_dates, n_factors) or array-like
            Factor returns on ``y``'s dates: only their dates are used (an
            array's rows are the dates of ``fit`` in order, when it was fitted
            on arrays).
        y : DataFrame of shape (n_dates, n_assets), Series or array-like
            The assets' returns (those of ``fit``, in its order).

        Returns
        -------
        resid : DataFrame of shape (n_dates, n_assets) or ndarray
            On ``X``'s dates, one column per asset (a Series or 1-D array
            when fitted on one series). NaN where the return is missing, for
            assets without betas, on dates not estimated and on dates ``fit``
            did not see.
        """
        check_is_fitted(self)
        wide = validate_wide(self, X, y, reset=False, names=("X", "y"))
        check_fitted_assets(self, y, wide)
        fitted = self.params_.index
        if wide.dates is not None:
            rows = fitted.get_indexer(wide.dates)
        elif isinstance(fitted, pd.RangeIndex):
            rows = np.arange(len(wide.F))
            rows[rows >= len(fitted)] = -1
        else:
            raise ValueError(
                "`X` has no dates (an array) but the model was fitted on frames "
                "indexed by date; pass `X` as a DataFrame indexed by date so that "
                "each row's premia are known."
            )
        # Row -1 (a date fit did not see) picks the appended NaN row.
        premia = np.vstack(
            [self.params_.to_numpy(), np.full(self.params_.shape[1], np.nan)]
        )[rows]
        k = int(self.fit_intercept)
        priced = premia[:, k:] @ np.ascontiguousarray(self.coef_.T)
        if k:
            priced += premia[:, :1]
        return self._wrap(np.subtract(wide.R, priced, out=priced), wide.dates)

    def summary(
        self,
        cov_type: str = "nonrobust",
        bandwidth: float | None = None,
        kernel: str = "bartlett",
    ) -> Summary:
        r"""Inference on the mean risk premia.

        Parameters
        ----------
        cov_type : {"nonrobust", "kernel", "shanken"}, default="nonrobust"
            ``"nonrobust"`` (aliases ``"fama-macbeth"``, ``"unadjusted"``):
            the variance of the mean of the per-date premia,
            :math:`\frac{1}{T(T-1)}\sum_t e_t e_t'` (linearmodels
            ``FamaMacBeth``, unadjusted). ``"kernel"`` (aliases
            ``"newey-west"``, ``"HAC"``): the same plus the ``kernel``-weighted
            autocovariances of the date-ordered premia up to ``bandwidth``
            lags (Bartlett: weights :math:`1 - l/(L+1)`, Newey–West).
            ``"shanken"``: Shanken's (1992) correction for the estimated
            betas, OLS form, :math:`\frac1T[(1 + c)(C'C)^{-1}C'\hat\Sigma
            C(C'C)^{-1} + \tilde\Sigma_F]`, with :math:`\hat\Sigma` and
            :math:`\hat\Sigma_F` divided by :math:`T` (by
            :math:`\sqrt{T_i T_j}` for the residual covariance of assets with
            holes; see the user guide).
        bandwidth : float, optional
            Kernel bandwidth :math:`L` of ``"kernel"`` (a number >= 0 below
            the number of dates; Bartlett and Parzen use its integer part as
            the number of lags); None selects it by Newey and West's (1994)
            rule, as linearmodels does. Ignored by the other covariances (but
            checked: a negative or non-numeric ``bandwidth`` is an error).
        kernel : {"bartlett", "parzen", "qs"}, default="bartlett"
            The kernel of ``"kernel"``, as
            :meth:`CrossSectionalFactorModel.summary`.

        Returns
        -------
        Summary
            A DataFrame indexed by term (``const`` first), columns ``coef``,
            ``std_err``, ``t``, ``p_value`` (Student's t with :math:`T - 1`
            degrees of freedom); its ``header`` names the canonical
            ``cov_type``, the ``kernel`` and ``bandwidth`` used (the automatic
            choice included), ``n_dates`` (T), ``n_assets`` (the assets with
            betas, priced by the second pass) and ``mean_rsquared`` (of the
            per-date second-pass regressions).
        """
        check_is_fitted(self)
        options = ("nonrobust", "kernel", "shanken")
        cov_type = check_summary_arguments(cov_type, options, bandwidth, kernel)
        premia = self.risk_premia_.sort_index()
        if cov_type != "shanken":
            table = fama_macbeth_table(premia, cov_type, bandwidth, kernel)
        else:
            cov, T = self._shanken
            coef = premia.mean(axis=0).to_numpy()
            with np.errstate(invalid="ignore"):
                std_err = np.sqrt(np.diag(cov))
            index = pd.Index(premia.columns, name="term")
            table = Summary(
                coefficient_table(index, coef, std_err, df=T - 1),
                header={"cov_type": cov_type, "n_dates": T},
            )
        table.header = {
            "estimator": type(self).__name__,
            "kernel": None,
            "bandwidth": None,
            **table.header,
            "n_assets": int(self.betas_.notna().all(axis=1).sum()),
            "mean_rsquared": finite_mean(self.rsquared_),
        }
        return table
