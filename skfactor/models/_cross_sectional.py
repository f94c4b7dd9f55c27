"""CrossSectionalFactorModel: one regression of returns on loadings per date."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from skfactor.models._date_diagnostics import (
    STATUS,
    DateFits,
    DateMoments,
)
from skfactor.models._date_history import DateHistory
from skfactor.models._fama_macbeth import check_summary_arguments, fama_macbeth_table
from skfactor.models._lazy import LazyResult
from skfactor.models._protocol import CrossSectionalBlocks
from skfactor.models._summary import Summary, finite_mean
from skfactor.panel._align import align_rows
from skfactor.panel._output import from_polars, is_polars_frame
from skfactor.panel._regression import segment_regression
from skfactor.panel._roles import resolve_roles
from skfactor.panel._validation import (
    validate_panel,
    validate_row_values,
)
from skfactor.utils._later_dates import check_later_dates, last_date
from skfactor.utils._numerics import RCOND, halflife_weights
from skfactor.utils._sklearn import (
    BaseEstimator,
    Interval,
    RegressorMixin,
    StrOptions,
    _fit_context,
    check_is_fitted,
    set_features_seen,
)
from skfactor.utils._typing import ArrayLike, FrameOut, MatrixLike, TargetLike
from skfactor.utils._warnings import warn

__all__ = ["CrossSectionalFactorModel"]

# The parameters each date's regression depends on: `partial_fit` refuses a
# change (the expectation and the diagnostics are recomputed from the history).
_PER_DATE_PARAMS = (
    "fit_intercept",
    "weights",
    "passthrough",
    "industries",
    "industry_weights",
)


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


def _check_industry_labels(X, industries):
    """Raise if an ``industries`` column of a DataFrame holds labels, not 0/1."""
    if not isinstance(X, pd.DataFrame):
        return
    for spec in industries or ():
        if not (isinstance(spec, str | Integral) and spec in X.columns):
            continue
        column = X[spec]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        example = column.dropna().iloc[0] if column.notna().any() else None
        raise ValueError(
            f"`industries` column {spec!r} holds labels ({column.dtype}, e.g. "
            f"{example!r}); `industries` takes 0/1 indicator columns, one per "
            "industry. Expand it into dummies first: `X = pd.get_dummies(X, "
            f"columns=[{spec!r}], dtype=float)`, then pass their names, "
            f"`industries=[c for c in X.columns if c.startswith('{spec}_')]`."
        )


def _take_columns(values, positions):
    """The columns ``positions`` of ``values`` (itself when that is all of them)."""
    if len(positions) == values.shape[1]:
        return values
    out = np.empty((len(values), len(positions)), order="F")
    for i, j in enumerate(positions):
        out[:, i] = values[:, j]
    return out


def _in_common_units(pooled):
    """Sum of the partitions' ``(pooled Gram, scale)`` in one set of units.

    Each partition's loadings were divided by their own powers of two (the
    largest magnitudes differ between partitions); the sum of Gram matrices
    in different units is not the Gram matrix of the panel (a collinearity
    would hide). Each is brought to the largest scale of each column, so
    nothing overflows. Returns the sum and those scales.
    """
    top = np.max([scale for _, scale in pooled], axis=0)
    gram = sum(gram * np.outer(scale / top, scale / top) for gram, scale in pooled)
    return gram, top


def _check_later(dates, fitted):
    """Raise unless the new ``dates`` sort after the ``fitted`` ones (as fit sorts)."""
    check_later_dates(dates, last_date(fitted))  # the message for real dates
    try:
        later = bool(dates[0] > fitted[-1])
    except TypeError:  # labels of other types: no order
        later = False
    if not later:
        raise ValueError(
            f"`partial_fit` adds dates that sort after the fitted ones, as `fit` "
            f"sorts them: the first new date {dates[0]!r} does not sort after the "
            f"last fitted date {fitted[-1]!r}. Pass only the new dates, or call "
            "`fit` on all of them."
        )


class CrossSectionalFactorModel(CrossSectionalBlocks, RegressorMixin, BaseEstimator):
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
    weights : str or int, default=None
        Column of ``X`` holding the regression weights (WLS), e.g. market cap
        or its square root: the column-role alternative to ``sample_weight``
        (give one of them), so that a pipeline's steps share one panel. Not a
        loading. Rows with a NaN or 0 weight are left out.
    passthrough : list of str or int, default=None
        Other columns of ``X`` that are not loadings (e.g. the industry codes
        an earlier step z-scored within): never regressed on. The same rule
        holds on every per-date step; see the user guide's "Column roles".
    industries : list of str or int, default=None
        Columns of 0/1 industry indicators (names, or positions among the
        loadings); a column of industry labels is refused, naming the fix
        (``pd.get_dummies``). With ``fit_intercept=True`` their
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
    condition_number : bool, default=False
        Also compute each date's condition number (``diagnostics_``), as
        statsmodels' ``condition_number``: one eigenvalue decomposition per
        date, which costs about as much as the rest of the diagnostics
        together. Without it the column is NaN.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Expected factor returns, what :meth:`predict` multiplies the loadings
        by (see ``expected_returns``), as ``LinearRegression.coef_``.
    intercept_ : float
        Expected intercept, what :meth:`predict` adds (0.0 without
        ``fit_intercept``).
    params_ : DataFrame of shape (n_dates, n_terms)
        Per-date estimates, indexed by date, columns the terms: ``const``
        first (the per-date intercept, when ``fit_intercept``), then the
        loadings. NaN on dates not estimated.
    factor_returns_ : DataFrame of shape (n_dates, n_features)
        Per-date factor returns: ``params_`` without ``const``.
    bse_ : DataFrame of shape (n_dates, n_terms)
        Per-date standard errors, laid out as ``params_``: those of
        statsmodels ``OLS``/``WLS`` on each date (nonrobust); under the
        industry constraint, those of the constrained estimates. NaN on dates
        not estimated (and for an industry without members that date).
    tvalues_, pvalues_ : DataFrame of shape (n_dates, n_terms)
        ``params_ / bse_`` and their two-sided p-values from Student's t with
        each date's ``df_resid``. ``bse_``, ``tvalues_``, ``pvalues_`` and
        ``diagnostics_`` are computed on first access (then kept) from what
        ``fit`` keeps per date: the weighted Gram matrix and means of the
        loadings, the weight sum, the complete rows, the units (ones, or
        powers of two), the residual sum of squares, the R², the
        status and the industry constraint row; a fit nobody inspects (in a
        grid search) pays nothing for them.
    diagnostics_ : DataFrame of shape (n_dates, 7)
        One row per date: ``nobs`` (complete rows used), ``df_resid``,
        ``rank`` (of the design with its constant, judged as the fit judges
        rank), ``condition_number`` (statsmodels'; NaN unless
        ``condition_number=True``), ``rsquared``, ``rsquared_adj`` and
        ``status``: 0 estimated, 1 too few rows (fewer complete rows than
        regressors), 2 collinear loadings (rank deficient that date);
        ``STATUS[code]`` says it in words.
    rsquared_ : Series of shape (n_dates,)
        Per-date R² (``diagnostics_["rsquared"]``), centred with an intercept
        and uncentred otherwise, as statsmodels (which also centres when the
        loadings span a constant).
    nobs_ : Series of shape (n_dates,)
        Number of complete rows used on each date (``diagnostics_["nobs"]``).
    n_features_in_ : int
        Number of loadings.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Loading names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    CrossSectionalZScore : Z-scored characteristics are the loadings.

    Notes
    -----
    The fitted attributes follow the contract of the user guide's "Fitted
    attributes" section, the same on every model: ``coef_`` and
    ``intercept_`` are what :meth:`predict` uses; ``params_`` has one row per
    regression (here per date) and one column per term, ``const`` first. The
    specific returns are not stored (a grid search would carry a
    training-sized copy in every candidate): :meth:`residuals` computes them.
    :meth:`partial_fit` adds later dates (a daily update costs one date's
    regression): the model is then that of :meth:`fit` on all the dates.

    A 2-D array, or a DataFrame with a single-level index, is one cross-section
    (one date), so that the model is an ordinary (weighted) regression there.
    Rank is judged per date on the Gram matrix of the centred, weighted
    loadings scaled to a unit diagonal: a date whose smallest eigenvalue is at
    most 1e-12 times its largest is rank deficient. :meth:`summary` gives the
    Fama–MacBeth table of the per-date estimates.

    The residual sum of squares behind ``bse_`` and the R² comes from the
    normal equations, :math:`y'y - b'A^{-1}b`, on the dates where that keeps
    its digits (the condition number of the scaled Gram matrix times
    :math:`y'y / SSR` at most 1e3, as on any realistic cross-section); on the
    others (a near-exact fit, where it cancels to nothing) it is summed from
    that date's residuals. When a date's sums of squares leave
    :math:`[2^{-100}, 2^{100}]`, every loading and the returns are fitted in
    units of a power of two near their largest magnitude (exact), so loadings
    of 1e-160 or 1e160 give the same t statistics as loadings of 1.

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
    >>> table = model.summary(cov_type="newey-west")
    >>> list(table.columns)
    ['coef', 'std_err', 't', 'p_value']
    >>> table.header["cov_type"], table.header["kernel"], table.header["n_dates"]
    ('kernel', 'bartlett', 60)
    """

    #: What the ``status`` codes of ``diagnostics_`` mean.
    STATUS = STATUS

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "weights": [str, Integral, None],
        "passthrough": [list, tuple, str, None],
        "industries": [list, tuple, None],
        "industry_weights": [StrOptions({"sample_weight", "equal"})],
        "expected_returns": [StrOptions({"mean", "ewm", "window"})],
        "halflife": [Interval(Real, 0, None, closed="neither")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "condition_number": ["boolean"],
    }

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        weights: str | int | None = None,
        passthrough: Sequence[str | int] | None = None,
        industries: Sequence[str | int] | None = None,
        industry_weights: str = "sample_weight",
        expected_returns: str = "mean",
        halflife: float = 63.0,
        window: int = 252,
        condition_number: bool = False,
    ) -> None:
        self.fit_intercept = fit_intercept
        self.weights = weights
        self.passthrough = passthrough
        self.industries = industries
        self.industry_weights = industry_weights
        self.expected_returns = expected_returns
        self.halflife = halflife
        self.window = window
        self.condition_number = condition_number

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> CrossSectionalFactorModel:
        """Estimate the factor returns of every date.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings: a (date, asset) panel (a pandas MultiIndex, or a polars
            frame with date and asset columns), or one cross-section. An array,
            or a frame with a RangeIndex, beside a panel ``y`` of as many rows
            takes ``y``'s (date, asset) index.
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
        X = self._loadings(X, y)
        return self._finalise([self._fit_partition(X, y, sample_weight)])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> CrossSectionalFactorModel:
        """Add later dates to the fitted model: the same as :meth:`fit` on all dates.

        Each date's regression uses only that date's rows, so the new dates
        are fitted alone and appended: ``params_``, ``bse_``, ``tvalues_``,
        ``pvalues_``, ``diagnostics_``, ``rsquared_``, ``nobs_``, ``coef_``
        and ``intercept_`` (whatever ``expected_returns``), :meth:`summary`
        (every ``cov_type``), :meth:`predict`, :meth:`residuals` and
        :meth:`risk_inputs` equal those of :meth:`fit` on all the dates at
        once, to rounding. The collinearity check tests the pooled Gram
        matrix of all the dates; the warning about dates that cannot be
        estimated counts the new dates. On an unfitted model it is
        :meth:`fit`.

        What grows with the history is the per-date history itself: each
        date's estimates and the moments its inference is computed from
        (the Gram matrix of the loadings, their means and a few numbers),
        kept in buffers whose capacity doubles when full, so an update
        writes its own dates and copies nothing already there (but on a
        doubling). ``params_`` is a view of them; a copy of the model (even
        ``copy.copy``) is updated apart from it. The pooled Gram matrix is
        fixed in size. ``coef_``/``intercept_`` are recomputed from
        ``params_`` (a weighted mean over the dates, microseconds), so a
        change of ``expected_returns``, ``halflife`` or ``window`` applies to
        all the dates, as a refit; ``bse_``, ``tvalues_``, ``pvalues_`` and
        ``diagnostics_``, once read, are kept the same way, and a read after
        an update computes those of the new dates (of every date when
        ``condition_number`` changed). A change of the parameters each
        date's regression depends on (``fit_intercept``, ``weights``,
        ``passthrough``, ``industries``, ``industry_weights``), or of the
        weighting (``sample_weight`` given or not), is refused.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features)
            Loadings of the new dates: a (date, asset) panel (or a polars
            frame with date and asset columns) with the columns of
            :meth:`fit`. Its dates must sort after the fitted ones; any
            assets (listings and delistings are just other rows). A model
            fitted on one cross-section (an array, or a frame indexed by
            asset) takes another as the next date, numbered on.
        y : Series of shape (n_rows,)
            Returns on the same rows.
        sample_weight : Series or array-like of shape (n_rows,), optional
            Regression weights, as in :meth:`fit`.

        Returns
        -------
        self : CrossSectionalFactorModel
        """
        history = self.__dict__.get("_history")
        if history is None:
            return self.fit(X, y, sample_weight)
        self._validate_params()  # _fit_context skips it on a fitted model
        if self._per_date_settings() != history.settings:
            changed = ", ".join(f"`{name}`" for name in _PER_DATE_PARAMS)
            raise ValueError(
                f"A parameter the per-date regressions depend on ({changed}) "
                "changed since the model was fitted: `partial_fit` adds dates to "
                "the fitted ones; call `fit` on all the dates to use the new "
                "parameters."
            )
        part = self._fit_partition(self._loadings(X, y), y, sample_weight, reset=False)
        if part.panel != history.panel:
            raise ValueError(
                "`partial_fit` adds dates of the kind fitted: the model was fitted "
                + ("on a (date, asset) panel but `X` is" if history.panel else "on")
                + " one cross-section, without dates"
                + ("." if history.panel else ", but `X` is a (date, asset) panel.")
                + " Pass the same kind, or call `fit` on all the dates."
            )
        if part.weighted != history.weighted:
            raise ValueError(
                "The model was fitted "
                + ("with" if history.weighted else "without")
                + " `sample_weight`; `partial_fit` needs the same: "
                + (
                    "pass the new rows' weights."
                    if history.weighted
                    else "drop them, or call `fit` on all the dates with weights."
                )
            )
        if not part.panel:  # one more cross-section: the next date number
            n = len(history)
            part = part._replace(dates=pd.RangeIndex(n, n + 1, name="date"))
        return self._finalise([part], history)

    def _loadings(self, X, y):
        """``X`` as a pandas panel where it is one (polars, or ``y``'s rows)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None. Pass the returns panel as `y`."
            )
        if is_polars_frame(X):
            X = from_polars(X)  # a long frame's date and asset columns: its index
        if isinstance(getattr(y, "index", None), pd.MultiIndex) and len(y) == len(X):
            # An array of loadings beside a panel of returns (e.g. from a
            # ColumnTransformer without pandas output), or a frame whose index
            # was dropped (a RangeIndex): the rows are y's rows.
            if not isinstance(X, pd.DataFrame | pd.Series):
                X = pd.DataFrame(np.asarray(X), index=y.index)
            elif isinstance(X.index, pd.RangeIndex):
                X = X.set_axis(y.index)
        return X

    def _per_date_settings(self):
        def frozen(value):
            return tuple(value) if isinstance(value, list | tuple) else value

        return tuple(frozen(getattr(self, name)) for name in _PER_DATE_PARAMS)

    def _fit_partition(self, X, y, sample_weight=None, reset=True):
        """The per-date work on one partition of dates: no global check, no warning.

        Returns a :class:`DateFits` that :meth:`_finalise` combines with the
        other partitions' (``fit`` is the finalise of one partition, so the
        pandas and the Dask path share this logic).
        """
        _check_industry_labels(X, self.industries)
        panel = validate_panel(self, X, reset=reset, needs_keys=False)
        roles = self._roles(panel, X)
        y = validate_row_values(y, panel, "y")
        weights = self._weights(sample_weight, panel, roles)
        names = self._feature_names(panel, roles)
        values = _take_columns(panel.values, roles.features)
        ind = _column_positions(self.industries or (), names, "industries")
        self._check_indicators(values, ind, names)

        p = len(names)
        constraint = may_be_absent = None
        if ind and self.fit_intercept:
            constraint = self._constraint_rows(ind, p)
        if ind:
            may_be_absent = np.isin(np.arange(p), ind)
        fit = segment_regression(
            panel.segments,
            values,
            y,
            weights,
            center=self.fit_intercept,
            constraint=constraint,
            may_be_absent=may_be_absent,
            residuals=False,  # only their sums of squares: residuals() recomputes
        )
        rows = None if constraint is None else constraint(fit.moments)
        dates = (
            panel.dates if panel.dates is not None else pd.RangeIndex(1, name="date")
        )
        estimates = [fit.intercept[:, None]] * int(self.fit_intercept) + [fit.coef]
        return DateFits(
            dates=dates,
            names=names,
            params=np.hstack(estimates),
            moments=DateMoments.from_fit(fit, rows, may_be_absent),
            pooled=self._pooled_gram(fit.moments, rows, p),
            n_rows=len(y),
            n_features_in=self.n_features_in_,
            feature_names_in=getattr(self, "feature_names_in_", None),
            panel=panel.dates is not None,
            weighted=weights is not None,
        )

    def _finalise(self, parts, history=None):
        """Combine the partitions' :class:`DateFits`: global checks, one warning.

        ``parts`` are in date order, each date in one of them; with
        ``history`` (:meth:`partial_fit`) they come after its dates, are
        checked with them and appended to them (nothing is changed when a
        check fails). ``fit`` is the finalise of one partition.
        """
        parts = [part for part in parts if part is not None]
        first = parts[0]
        statuses = [part.moments.status for part in parts]
        n_rows = sum(part.n_rows for part in parts)
        complete = any(part.moments.nobs.any() for part in parts)
        pooled = [part.pooled for part in parts if part.pooled is not None]
        if history is not None:
            n_rows += history.n_rows
            complete = complete or history.moments().nobs.any()
            pooled = [history.pooled] * (history.pooled is not None) + pooled
        if n_rows and not complete:
            raise ValueError(
                "No row is complete: every row misses `y`, a loading of `X` or its "
                "`sample_weight` (NaN, or weight 0), so there is nothing to "
                "regress. Check for all-NaN inputs."
            )
        names = first.names
        pooled = _in_common_units(pooled) if pooled else None
        if pooled is not None:
            self._check_collinear(pooled[0], names)
        dates = first.dates.append([part.dates for part in parts[1:]])
        if not dates.is_unique:
            raise ValueError(
                "A date appears in more than one partition, so its cross-section "
                f"was split, e.g. {list(dates[dates.duplicated()][:3])}; every "
                "date's rows must lie in one partition (see skfactor.dask.check_panel)."
            )
        if history is not None:
            _check_later(dates, history.index)
        status = np.concatenate(statuses)
        self._warn_dates(status, len(names) + int(self.fit_intercept), dates)
        if history is None:
            set_features_seen(self, first.n_features_in, first.feature_names_in)
            history = DateHistory(first, self._per_date_settings(), pooled)
            parts = parts[1:]
        for part in parts:
            history = history.append(part, pooled)
        self._history = history
        terms = ["const"] * int(self.fit_intercept) + names
        self.params_ = history.params_frame(pd.Index(terms, name="term"))
        # bse_, tvalues_, pvalues_, diagnostics_: on first access (a fit in a
        # grid search pays nothing for them); an update forgets them.
        self._lazy = {"moments": history}
        self.intercept_, self.coef_ = self._expectation()
        return self

    bse_ = LazyResult(
        "Per-date standard errors (date x term), computed on first access."
    )
    tvalues_ = LazyResult(
        "Per-date t statistics (date x term), computed on first access."
    )
    pvalues_ = LazyResult("Per-date two-sided p-values (date x term), on first access.")
    diagnostics_ = LazyResult(
        "Per-date fit statistics (date x column), on first access."
    )

    def _inference(self, history, name):
        """Every lazily computed attribute at once, from the kept moments."""
        return history.inference(self.params_, self.condition_number)

    @property
    def _moments(self):
        return self._history.moments()

    @property
    def rsquared_(self) -> pd.Series:
        """Per-date R² (Series): the ``rsquared`` column of ``diagnostics_``."""
        check_is_fitted(self)
        index = self.params_.index
        return pd.Series(self._moments.rsquared, index=index, name="rsquared")

    @property
    def nobs_(self) -> pd.Series:
        """Per-date complete rows (Series): the ``nobs`` column of ``diagnostics_``."""
        check_is_fitted(self)
        return pd.Series(self._moments.nobs, index=self.params_.index, name="nobs")

    @property
    def factor_returns_(self):
        """Per-date factor returns (date x loading): ``params_`` without ``const``."""
        return self.params_.iloc[:, int(self.fit_intercept) :]

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

    def _roles(self, panel, X):
        return resolve_roles(self, panel, X, "regress returns on", weights=self.weights)

    def _weights(self, sample_weight, panel, roles):
        column = roles.position("weights")
        if column is not None and sample_weight is not None:
            raise ValueError(
                f"Both `weights`={self.weights!r} and `sample_weight` were given; "
                "give the regression weights one way."
            )
        if column is not None:
            # Checked finite and non-negative with the rest of X (validate_panel,
            # resolve_roles).
            name, w = f"`weights` column {self.weights!r}", panel.values[:, column]
        elif sample_weight is None:
            return None
        elif isinstance(sample_weight, Real):
            return np.full(len(panel.values), float(sample_weight))
        else:
            name = "`sample_weight`"
            w = validate_row_values(sample_weight, panel, "sample_weight")
        if np.nanmin(w, initial=0.0) < 0:
            raise ValueError(
                f"{name} must be >= 0 (NaN marks a missing weight); "
                f"got a minimum of {np.nanmin(w):g}."
            )
        if len(w) and not (w > 0).any():
            raise ValueError(
                f"{name} is zero (or NaN) for every row, so no row takes "
                "part in any regression; give positive weights."
            )
        return w

    def _feature_names(self, panel, roles):
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_[roles.features]]
        if panel.columns is not None:
            return list(panel.columns[roles.features])
        return [f"x{j}" for j in roles.features]

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

    def _pooled_gram(self, mom, constraint, p):
        """Sum of the Gram matrices of the estimable dates, and their units.

        ``(pooled, scale)``, in the moments' units (the loadings divided by
        ``scale``); None if no date is estimable. Additive over partitions of
        dates once in common units (:func:`_in_common_units`):
        :meth:`_check_collinear` tests the sum.
        """
        if p == 0:
            return None
        gram = mom.gram[:, :p, :p]
        k = p + int(self.fit_intercept) - int(constraint is not None)
        use = mom.nobs >= k
        use &= np.isfinite(gram).all(axis=(1, 2))
        if not use.any():
            return None
        pooled = gram[use].sum(axis=0)
        if constraint is not None:  # A + s c c' is definite iff A is on null(c)
            c = constraint[use]
            scale = np.trace(gram[use], axis1=1, axis2=2) / np.maximum(
                (c * c).sum(axis=1), 1e-300
            )
            pooled = pooled + np.einsum("t,ti,tj->ij", scale, c, c)
        return pooled, mom.scale[:p]

    def _check_collinear(self, pooled, names):
        """Raise if the loadings are collinear on every estimable date."""
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
            "factor returns to a weighted sum of zero (the risk-vendor fix). A "
            "column constant across assets on every date, such as a factor "
            "*return* (the same number for every asset) passed as a loading, is "
            "not a loading: to price factor returns, estimate each asset's betas "
            "on them and regress returns on the betas with `TwoPassFactorModel`."
        )

    @staticmethod
    def _warn_dates(status, k, dates):
        few, deficient = status == 1, status == 2
        if not (few.any() or deficient.any()):
            return

        def some(mask):  # the first few such dates, to look up in diagnostics_
            shown = list(pd.Index(dates[mask][:3]).astype(str))
            return ", e.g. " + ", ".join(shown) + ("..." if mask.sum() > 3 else "")

        reasons = []
        if few.any():
            reasons.append(
                f"{int(few.sum())} with fewer complete rows than the {k} "
                f"regressors{some(few)}"
            )
        if deficient.any():
            reasons.append(
                f"{int(deficient.sum())} with collinear loadings on that date"
                f"{some(deficient)}"
            )
        warn(
            f"{int(few.sum() + deficient.sum())} of {len(status)} dates could not "
            f"be estimated ({'; '.join(reasons)}); their factor returns, intercept "
            "and R² are NaN. `diagnostics_` gives each date's status, complete "
            "rows, rank and condition number."
        )

    def _expectation(self):
        """Expected intercept (float) and factor returns (ndarray) of predict."""
        values = self.params_.to_numpy()
        if self.expected_returns == "window":
            values = values[-self.window :]
        if self.expected_returns == "ewm":
            age = np.arange(len(values))[::-1]
            w = halflife_weights(age, self.halflife)[:, None]
            w = np.where(np.isnan(values), 0.0, w)
        else:
            w = (~np.isnan(values)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(values * w, axis=0) / w.sum(axis=0)
        k = int(self.fit_intercept)
        return (float(mean[0]) if k else 0.0), mean[k:]

    # ------------------------------------------------------------- predict
    def predict(self, X: MatrixLike) -> FrameOut:
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
        panel = validate_panel(self, X, reset=False, needs_keys=False)
        features = self._roles(panel, X).features
        pred = panel.values[:, features] @ self.coef_ + self.intercept_
        if panel.index is None:
            return pred
        return pd.Series(pred, index=panel.index, name="prediction")

    def residuals(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> FrameOut:
        r"""Specific returns: each row's return less its date's fitted return.

        :math:`u_{it} = r_{it} - a_t - \sum_k b_{ikt} f_{kt}` with the
        per-date estimates of ``params_``, matched to ``X``'s dates by label.
        On the data ``fit`` saw these are the regressions' residuals; the model
        does not keep them.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings: a (date, asset) panel, or one cross-section when the
            model was fitted on one.
        y : Series of shape (n_rows,) or array-like
            Returns on the same rows.
        sample_weight : Series or array-like of shape (n_rows,), optional
            The weights of ``fit``: a row whose weight is NaN or 0 (left out
            of the regression) gets NaN.

        Returns
        -------
        resid : Series or ndarray of shape (n_rows,)
            On ``X``'s index (a Series named ``resid``) when ``X`` is a
            DataFrame. NaN on incomplete rows, on dates not estimated and on
            dates ``fit`` did not see.
        """
        check_is_fitted(self)
        panel = validate_panel(self, X, reset=False, needs_keys=False)
        roles = self._roles(panel, X)
        resid = self._residuals(panel, validate_row_values(y, panel, "y"))
        weights = self._weights(sample_weight, panel, roles)
        if weights is not None:
            resid[~(weights > 0)] = np.nan
        if panel.index is None:
            return resid
        return pd.Series(resid, index=panel.index, name="resid")

    def _residuals(self, panel, y):
        """:meth:`residuals` of a validated panel and its returns (no weights)."""
        fitted = self.params_.index
        if panel.dates is None:
            if self._history.panel:
                raise ValueError(
                    "`X` is one cross-section but the model was fitted on a (date, "
                    "asset) panel; pass a panel so that each row's date is known."
                )
            if len(fitted) != 1:
                raise ValueError(
                    f"`X` is one cross-section but the model was fitted on "
                    f"{len(fitted)} of them (by `partial_fit`), so its date is not "
                    "known; pass a (date, asset) panel to fit and to `residuals`."
                )
            rows = np.zeros(len(y), dtype=np.intp)
        else:
            rows = fitted.get_indexer(panel.dates)[panel.date_codes]
        # Row -1 (a date fit did not see) picks the appended NaN row.
        params = np.vstack(
            [self.params_.to_numpy(), np.full(self.params_.shape[1], np.nan)]
        )
        k = int(self.fit_intercept)
        resid = y - params[rows, 0] if k else y.copy()
        features = self._roles(panel, None).features
        for i, j in enumerate(features):  # a few loadings: no (rows, p) copy
            resid -= panel.values[:, j] * params[rows, k + i]
        return resid

    def score(
        self, X: MatrixLike, y: TargetLike, sample_weight: ArrayLike | None = None
    ) -> float:
        """Pooled R² of :meth:`predict` over the rows where both are present.

        On one cross-section this is scikit-learn's usual ``r2_score``. To rank
        models by how well they order assets, pass ``scoring=ic_scorer``
        (mean per-date information coefficient) to the model-selection tools.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Loadings.
        y : Series or array-like of shape (n_rows,)
            Realised returns. A Series is matched to ``X``'s rows by its
            index (any order; other keys are an error), an array by position.
        sample_weight : array-like of shape (n_rows,), optional
            Weights of the rows, matched like ``y``.

        Returns
        -------
        score : float
        """
        y = align_rows(y, X)
        sample_weight = align_rows(sample_weight, X, "sample_weight")
        pred = np.asarray(self.predict(X), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        ok = ~np.isnan(pred) & ~np.isnan(y)
        w = None if sample_weight is None else np.asarray(sample_weight)[ok]
        return r2_score(y[ok], pred[ok], sample_weight=w)

    # ------------------------------------------------------------- summary
    def summary(
        self,
        cov_type: str = "nonrobust",
        bandwidth: float | None = None,
        kernel: str = "bartlett",
    ) -> Summary:
        """The Fama–MacBeth table of the per-date estimates.

        Equal to linearmodels ``FamaMacBeth(...).fit(cov_type=cov_type,
        kernel=kernel, bandwidth=bandwidth)``: ``coef`` is the mean of the
        per-date estimates, ``std_err`` the standard error of that mean over
        the dates where every term is estimated (T of them), ``t`` and
        ``p_value`` from Student's t with T - 1 degrees of freedom.

        Parameters
        ----------
        cov_type : {"nonrobust", "kernel"}, default="nonrobust"
            ``"nonrobust"`` (aliases ``"unadjusted"``, linearmodels' name, and
            ``"fama-macbeth"``) is the plain variance of the mean;
            ``"kernel"`` (aliases ``"HAC"`` and ``"newey-west"``) a HAC
            (long-run) covariance for autocorrelated estimates, weighted by
            ``kernel``. The user guide's "Conventions" page lists every
            spelling.
        bandwidth : float, optional
            Kernel bandwidth, a number >= 0 below T (Bartlett and Parzen use
            its integer part, the number of lags they weigh); None selects it
            for the kernel by Newey and West's (1994) rule, as linearmodels
            does. Ignored by ``"nonrobust"``.
        kernel : {"bartlett", "parzen", "qs"}, default="bartlett"
            ``"bartlett"`` (Newey–West) weighs lag :math:`l` by
            :math:`1 - l/(L+1)`; ``"parzen"`` (Gallant) is smoother and also
            stops at :math:`L`; ``"qs"`` (quadratic spectral, Andrews) weighs
            every lag. Used with ``cov_type="kernel"``.

        Returns
        -------
        Summary
            A DataFrame indexed by term (``const`` first when there is an
            intercept, then the loadings), with columns ``coef``, ``std_err``,
            ``t``, ``p_value``; its ``header`` (printed above it) names the
            estimator, the canonical ``cov_type``, the ``kernel`` and the
            ``bandwidth`` used (the automatic choice included; None for
            ``"nonrobust"``), ``n_dates`` (T), ``n_assets`` (the most complete
            rows on one date: the number of assets of a balanced panel) and
            ``mean_rsquared`` (the mean of the per-date R²).
        """
        check_is_fitted(self)
        cov_type = check_summary_arguments(
            cov_type, ("nonrobust", "kernel"), bandwidth, kernel
        )
        table = fama_macbeth_table(self.params_, cov_type, bandwidth, kernel)
        nobs, rsquared = self._moments.nobs, self._moments.rsquared
        table.header = {
            "estimator": type(self).__name__,
            **table.header,
            "n_assets": int(nobs.max(initial=0)),
            "mean_rsquared": finite_mean(rsquared),
        }
        return table
