"""CrossSectionalFactorModel: one regression of returns on loadings per date."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from skfactor.models._fama_macbeth import fama_macbeth_table
from skfactor.panel import validate_panel
from skfactor.panel._regression import RCOND, segment_regression
from skfactor.panel._validation import validate_row_values
from skfactor.utils._sklearn import (
    BaseEstimator,
    Interval,
    RegressorMixin,
    StrOptions,
    _fit_context,
    check_is_fitted,
)

__all__ = ["CrossSectionalFactorModel"]


def _column_positions(spec, names, name):
    positions = []
    for item in spec:
        if item in names:
            positions.append(names.index(item))
        elif isinstance(item, Integral) and 0 <= item < len(names):
            positions.append(int(item))
        else:
            raise ValueError(
                f"`{name}` entry {item!r} is not a column of X; X has columns {names}."
            )
    return sorted(set(positions))


class CrossSectionalFactorModel(RegressorMixin, BaseEstimator):
    r"""Regress each date's returns on that date's loadings (Approach 2, Barra style).

    For every date :math:`t`, over that date's complete rows (the return, every
    loading and the weight present, the weight > 0),

    .. math::

        r_{it} = a_t + \sum_k b_{ikt} f_{kt} + u_{it},

    by ordinary least squares, or weighted least squares with ``sample_weight``
    (e.g. the square root of market capitalisation, as risk vendors do). The
    :math:`f_{kt}` are the factor returns, :math:`u_{it}` the specific returns.
    All dates are solved at once from per-date cross-products (no loop over
    dates); the results equal one statsmodels ``OLS``/``WLS`` per date.

    A date with fewer complete rows than regressors, or whose loadings are
    collinear on that date, gets NaN, with one warning counting such dates.
    Loadings collinear on **every** date (e.g. 0/1 industry indicators summing
    to one, with an intercept; or a loading constant across assets each date)
    are a specification error, raised naming the columns, unless they are
    listed in ``industries``: their factor returns are then constrained to a
    weighted sum of zero each date, the risk-vendor convention that keeps the
    intercept as the market return.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Estimate an intercept per date (the R² is then centred).
    industries : list of str or int, default=None
        Columns of 0/1 industry indicators. With ``fit_intercept=True`` their
        factor returns :math:`g_{jt}` satisfy :math:`\sum_j c_{jt} g_{jt} = 0`;
        an industry without members on a date gets NaN there and is left out
        of that date's constraint.
    industry_weights : {"sample_weight", "equal"}, default="sample_weight"
        The :math:`c_{jt}`: the industry's total ``sample_weight`` on the date
        (its number of assets without weights; its capitalisation when the
        weights are caps), or 1 for every industry.
    expected_returns : {"mean", "ewm", "window"}, default="mean"
        How :meth:`predict` forms the expected intercept and factor returns from
        the per-date estimates (dates with NaN skipped): their mean, an
        exponentially weighted mean with ``halflife`` (in dates, ending at the
        last fitted date, pandas ``ewm(halflife=...).mean()``), or the mean of
        the last ``window`` dates.
    halflife : float, default=63.0
        Half-life, in dates, for ``expected_returns="ewm"``.
    window : int, default=252
        Trailing number of dates for ``expected_returns="window"``.

    Attributes
    ----------
    factor_returns_ : DataFrame of shape (n_dates, n_features)
        Per-date factor returns, indexed by date, one column per loading.
    intercept_ : Series of shape (n_dates,)
        Per-date intercept (0 without ``fit_intercept``; NaN on dates not
        estimated).
    rsquared_ : Series of shape (n_dates,)
        Per-date R², centred with an intercept and uncentred otherwise, as
        statsmodels (which also centres when the loadings span a constant).
    nobs_ : Series of shape (n_dates,)
        Number of complete rows used on each date.
    resid_ : Series or ndarray of shape (n_rows,)
        Specific returns :math:`u_{it}` on the input's rows (same index and
        order), NaN on rows not used (incomplete, or weight 0) and on dates
        not estimated.
    expected_factor_returns_ : Series of shape (n_features,)
        The expectation :meth:`predict` uses.
    expected_intercept_ : float
        The expected intercept :meth:`predict` adds.
    n_features_in_ : int
        Number of loadings.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Loading names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    CrossSectionalZScore : Z-scored characteristics are the loadings.

    Notes
    -----
    A 2-D array, or a DataFrame with a single-level index, is one cross-section
    (one date), so that the model is an ordinary (weighted) regression there.
    Rank is judged per date on the Gram matrix of the centred, weighted
    loadings scaled to a unit diagonal: a date whose smallest eigenvalue is at
    most 1e-12 times its largest is rank deficient. :meth:`summary` gives the
    Fama–MacBeth table of the per-date estimates.

    Examples
    --------
    >>> from skfactor import CrossSectionalFactorModel, CrossSectionalZScore, Winsorizer
    >>> from skfactor.datasets import make_factor_panel
    >>> from sklearn.pipeline import make_pipeline
    >>> data = make_factor_panel(n_dates=60, n_assets=300, random_state=0)
    >>> Z = make_pipeline(Winsorizer(), CrossSectionalZScore()).fit_transform(data.X)
    >>> model = CrossSectionalFactorModel().fit(Z, data.y)
    >>> model.factor_returns_.shape
    (60, 3)
    >>> err = model.factor_returns_ - data.factor_returns
    >>> bool(err.abs().max().max() < 0.005)
    True
    >>> list(model.summary().columns)
    ['coef', 'std_err', 't', 'p_value']
    """

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "industries": [list, tuple, None],
        "industry_weights": [StrOptions({"sample_weight", "equal"})],
        "expected_returns": [StrOptions({"mean", "ewm", "window"})],
        "halflife": [Interval(Real, 0, None, closed="neither")],
        "window": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        industries=None,
        industry_weights="sample_weight",
        expected_returns="mean",
        halflife=63.0,
        window=252,
    ):
        self.fit_intercept = fit_intercept
        self.industries = industries
        self.industry_weights = industry_weights
        self.expected_returns = expected_returns
        self.halflife = halflife
        self.window = window

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Estimate the factor returns of every date.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings: a (date, asset) panel, or one cross-section. An array
            beside a panel ``y`` takes ``y``'s (date, asset) index.
        y : Series of shape (n_rows,) or array-like
            Returns on the same rows (a Series must have ``X``'s index).
        sample_weight : Series or array-like of shape (n_rows,), optional
            Non-negative regression weights (WLS); a row whose weight is NaN or
            0 is left out.

        Returns
        -------
        self : CrossSectionalFactorModel
            The fitted model.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None. Pass the returns panel as `y`."
            )
        if (
            not isinstance(X, pd.DataFrame | pd.Series)
            and isinstance(getattr(y, "index", None), pd.MultiIndex)
            and len(y) == len(X)
        ):
            # An array of loadings beside a panel of returns (e.g. from a
            # ColumnTransformer without pandas output): the rows are y's rows.
            X = pd.DataFrame(np.asarray(X), index=y.index)
        panel = validate_panel(self, X, reset=True)
        y = validate_row_values(y, panel, "y")
        weights = self._weights(sample_weight, panel)
        names = self._feature_names(panel)
        ind = _column_positions(self.industries or (), names, "industries")
        self._check_indicators(panel.values, ind, names)

        p = len(names)
        constraint = may_be_absent = None
        if ind and self.fit_intercept:
            constraint = self._constraint_rows(ind, p)
        if ind:
            may_be_absent = np.isin(np.arange(p), ind)
        fit = segment_regression(
            panel.segments,
            panel.values,
            y,
            weights,
            center=self.fit_intercept,
            constraint=constraint,
            may_be_absent=may_be_absent,
        )
        mom = fit.moments
        if len(y) and not mom.nobs.any():
            raise ValueError(
                "No row is complete: every row misses `y`, a loading of `X` or its "
                "`sample_weight` (NaN, or weight 0), so there is nothing to "
                "regress. Check for all-NaN inputs."
            )
        self._check_collinear(
            mom, None if constraint is None else constraint(mom), names
        )
        self._warn_dates(fit.status, p + int(self.fit_intercept))

        dates = (
            panel.dates if panel.dates is not None else pd.RangeIndex(1, name="date")
        )
        self.factor_returns_ = pd.DataFrame(
            fit.coef, index=dates, columns=pd.Index(names, dtype=object)
        )
        self.intercept_ = pd.Series(fit.intercept, index=dates, name="const")
        self.rsquared_ = pd.Series(fit.rsquared, index=dates, name="rsquared")
        self.nobs_ = pd.Series(mom.nobs, index=dates, name="nobs")
        resid = fit.resid
        self.resid_ = (
            resid
            if panel.index is None
            else pd.Series(resid, index=panel.index, name="resid")
        )
        self.expected_intercept_, self.expected_factor_returns_ = self._expectation()
        return self

    def _constraint_rows(self, ind, p):
        """Per date, the industry weights c of the constraint c @ f = 0."""

        def rows(mom):
            c = np.zeros((len(mom.nobs), p))
            if self.industry_weights == "equal":
                c[:, ind] = 1.0
            else:  # the industry's total weight: sum_i w_i D_ij = wsum * mean_j
                c[:, ind] = np.nan_to_num(mom.mean[:, ind] * mom.weight_sum[:, None])
            return c

        return rows

    def _weights(self, sample_weight, panel):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, Real):
            return np.full(len(panel.values), float(sample_weight))
        w = validate_row_values(sample_weight, panel, "sample_weight")
        if np.nanmin(w, initial=0.0) < 0:
            raise ValueError(
                "`sample_weight` must be >= 0 (NaN marks a missing weight); "
                f"got a minimum of {np.nanmin(w):g}."
            )
        if len(w) and not (w > 0).any():
            raise ValueError(
                "`sample_weight` is zero (or NaN) for every row, so no row takes "
                "part in any regression; give positive weights."
            )
        return w

    def _feature_names(self, panel):
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        if panel.columns is not None:
            return list(panel.columns)
        return [f"x{j}" for j in range(panel.values.shape[1])]

    @staticmethod
    def _check_indicators(values, ind, names):
        for j in ind:
            col = values[:, j]
            bad = ~np.isnan(col) & (col != 0) & (col != 1)
            if bad.any():
                raise ValueError(
                    f"`industries` column {names[j]!r} must hold 0/1 indicators "
                    f"(or NaN); got e.g. {col[bad][0]!r}."
                )

    def _check_collinear(self, mom, constraint, names):
        """Raise if the loadings are collinear on every estimable date."""
        p = len(names)
        if p == 0:
            return
        gram = mom.gram[:, :p, :p]
        k = p + int(self.fit_intercept) - int(constraint is not None)
        use = mom.nobs >= k
        use &= np.isfinite(gram).all(axis=(1, 2))
        if not use.any():
            return
        pooled = gram[use].sum(axis=0)
        if constraint is not None:  # A + s c c' is definite iff A is on null(c)
            c = constraint[use]
            scale = np.trace(gram[use], axis1=1, axis2=2) / np.maximum(
                (c * c).sum(axis=1), 1e-300
            )
            pooled = pooled + np.einsum("t,ti,tj->ij", scale, c, c)
        d = np.sqrt(np.diag(pooled))
        if (d > 0).all():
            eig, vec = np.linalg.eigh(pooled / np.outer(d, d))
            if eig[0] > RCOND * eig[-1]:
                return
            v = np.abs(vec[:, 0])
            cols = [names[j] for j in np.flatnonzero(v > 1e-3 * v.max())]
        else:
            cols = [names[j] for j in np.flatnonzero(d == 0)]
        where = (
            "after removing each date's mean (a loading constant across assets "
            "on every date is collinear with the intercept)"
            if self.fit_intercept
            else "on every date"
        )
        raise ValueError(
            f"`X` columns {cols} are collinear on every date, {where}, so no date "
            "identifies their factor returns. Drop one of them; for 0/1 industry "
            "indicators, pass them as `industries=[...]` to constrain their "
            "factor returns to a weighted sum of zero (the risk-vendor fix)."
        )

    @staticmethod
    def _warn_dates(status, k):
        few, deficient = int((status == 1).sum()), int((status == 2).sum())
        if few + deficient:
            warnings.warn(
                f"{few + deficient} of {len(status)} dates could not be estimated "
                f"({few} with fewer complete rows than the {k} regressors, "
                f"{deficient} with collinear loadings on that date); their factor "
                "returns, intercept and R² are NaN.",
                UserWarning,
                stacklevel=3,
            )

    def _expectation(self):
        est = pd.concat([self.intercept_, self.factor_returns_], axis=1)
        if self.expected_returns == "window":
            est = est.iloc[-self.window :]
        if self.expected_returns == "ewm":
            values = est.to_numpy()
            age = np.arange(len(values))[::-1]
            w = np.where(np.isnan(values), 0.0, 0.5 ** (age / self.halflife)[:, None])
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(values * w, axis=0) / w.sum(axis=0)
            mean = pd.Series(mean, index=est.columns)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = est.mean(axis=0)
        return float(mean.iloc[0]), mean.iloc[1:].rename("expected_factor_return")

    # ------------------------------------------------------------- predict
    def predict(self, X):
        """Expected returns: expected intercept + loadings · expected factor returns.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings (e.g. today's, to predict forward returns).

        Returns
        -------
        y_pred : Series or ndarray of shape (n_rows,)
            On ``X``'s index when ``X`` is a DataFrame; NaN where a loading is
            NaN.
        """
        check_is_fitted(self)
        panel = validate_panel(self, X, reset=False)
        beta = self.expected_factor_returns_.to_numpy()
        pred = panel.values @ beta + self.expected_intercept_
        if panel.index is None:
            return pred
        return pd.Series(pred, index=panel.index, name="prediction")

    def score(self, X, y, sample_weight=None):
        """Pooled R² of :meth:`predict` over the rows where both are present.

        On one cross-section this is scikit-learn's usual ``r2_score``. To rank
        models by how well they order assets, pass ``scoring=ic_scorer``
        (mean per-date information coefficient) to the model-selection tools.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings.
        y : Series or array-like of shape (n_rows,)
            Realised returns.
        sample_weight : array-like of shape (n_rows,), optional
            Weights of the rows.

        Returns
        -------
        score : float
        """
        pred = np.asarray(self.predict(X), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        ok = ~np.isnan(pred) & ~np.isnan(y)
        w = None if sample_weight is None else np.asarray(sample_weight)[ok]
        return r2_score(y[ok], pred[ok], sample_weight=w)

    # ------------------------------------------------------------- summary
    def summary(self, cov_type="unadjusted", bandwidth=None):
        """The Fama–MacBeth table of the per-date estimates.

        Equal to linearmodels ``FamaMacBeth(...).fit(cov_type=cov_type)``:
        ``coef`` is the mean of the per-date estimates, ``std_err`` the standard
        error of that mean over the dates where every term is estimated (T of
        them), ``t`` and ``p_value`` from Student's t with T - 1 degrees of
        freedom.

        Parameters
        ----------
        cov_type : {"unadjusted", "kernel"}, default="unadjusted"
            ``"kernel"`` is Newey–West (Bartlett kernel) for autocorrelated
            estimates.
        bandwidth : int, optional
            Bartlett bandwidth; None selects it as linearmodels does
            (Newey and West, 1994).

        Returns
        -------
        DataFrame
            Indexed by term (``const`` first when there is an intercept, then
            the loadings), with columns ``coef``, ``std_err``, ``t``, ``p_value``.
        """
        check_is_fitted(self)
        if cov_type not in ("unadjusted", "kernel"):
            raise ValueError(
                f'`cov_type` must be "unadjusted" or "kernel"; got {cov_type!r}.'
            )
        est = self.factor_returns_
        if self.fit_intercept:
            est = pd.concat([self.intercept_, est], axis=1)
        return fama_macbeth_table(est, cov_type, bandwidth)
