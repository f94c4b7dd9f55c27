"""Information coefficient: per-date correlation of predictions with outcomes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from skfactor.panel._align import align_rows
from skfactor.panel._ranks import rank
from skfactor.panel._segments import Segments
from skfactor.panel._validation import (
    check_finite,
    check_not_dask,
    check_panel_index,
    date_codes,
)
from skfactor.utils._numerics import (
    ewc_long_run_variance,
    kernel_weights,
    long_run_sum,
)
from skfactor.utils._typing import ArrayLike
from skfactor.utils._warnings import warn

__all__ = ["ic_scorer", "ic_summary", "information_coefficient", "make_ic_scorer"]

_METHODS = ("spearman", "pearson")


def _check_method(method):
    if method not in _METHODS:
        raise ValueError(
            f"`method` must be one of {list(_METHODS)}; got {method!r}. Use "
            "'spearman' for the rank IC or 'pearson' for the linear one."
        )


def _column(y, name):
    """``y`` as a float64 1-D array and its index (None for arrays)."""
    index = None
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(
                f"`{name}` is a DataFrame with {y.shape[1]} columns; the IC "
                "compares one prediction with one outcome. Select one column, "
                f"e.g. `{name}['column']`."
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        index = y.index
        dtype = y.dtype
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            raise ValueError(
                f"`{name}` has dtype {dtype}; the IC needs numbers. Convert it "
                "first, e.g. `pd.to_numeric(...)`."
            )
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"`{name}` could not be read as numbers ({exc}); the IC needs "
                "numeric predictions and outcomes."
            ) from None
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(
                f"`{name}` must be 1-D (one value per row); got shape {values.shape}."
            )
    check_finite(values, name)
    return values, index


def _segment_corr(t, p, segments, method):
    """Per-segment correlation of two columns in segment order, NaN-pairwise.

    NaN for a segment with fewer than two complete pairs or a constant side.
    """
    both = ~(np.isnan(t) | np.isnan(p))
    t = np.where(both, t, np.nan)
    p = np.where(both, p, np.nan)
    if method == "spearman":
        t, p = rank(segments, t), rank(segments, p)
    n = segments.count(t)
    dt, t_constant = _unit_deviations(segments, t, both, n)
    dp, p_constant = _unit_deviations(segments, p, both, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = segments.sum(dt * dt) * segments.sum(dp * dp)  # each in [1/4, n]
        r = segments.sum(dt * dp) / np.sqrt(var)
    r = np.clip(r, -1.0, 1.0)
    r[(n < 2) | t_constant | p_constant] = np.nan
    return r


def _unit_deviations(segments, v, both, n):
    """Deviations from each segment's mean, scaled to at most 1; constant flags.

    Dividing by (a power of two above) the largest deviation keeps the
    squares in float range at any scale (values of 1e160 or 1e-170 give the
    same correlation). A constant
    segment (all ties) is told exactly by ``min == max``: a variance computed
    in floating point may not be 0.
    """
    lo, hi = segments.nanmin(v), segments.nanmax(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = segments.nansum(v) / n
        spread = np.fmax(hi - mean, mean - lo)
        # A power of two at least the spread: dividing by it is exact, so
        # the correlation is the unscaled one to the last bit.
        scale = np.ldexp(1.0, np.frexp(np.where(spread > 0, spread, 1.0))[1])
        dev = (v - segments.expand(mean)) / segments.expand(scale)
    return np.where(both, dev, 0.0), lo == hi


def information_coefficient(
    y_true: ArrayLike, y_pred: ArrayLike, method: str = "spearman"
) -> pd.Series | float:
    r"""Per-date correlation between predictions and realised outcomes.

    On each date, over the rows where both ``y_true`` and ``y_pred`` are not
    NaN, the Spearman rank correlation (the "rank IC", ties ranked by their
    average rank) or the Pearson correlation. Computed for all dates at once
    from per-date segment sums, not a loop over dates.

    Parameters
    ----------
    y_true : Series of shape (n_rows,) or array-like
        Realised outcomes, typically :func:`skfactor.panel.forward_returns`.
        A Series (or one-column DataFrame) with a (date, asset) MultiIndex is
        a panel; rows in any order, possibly unbalanced.
    y_pred : Series of shape (n_rows,) or array-like
        Predictions or factor values for the same rows. If both are pandas
        objects their indexes must be equal; an array takes the index of the
        other argument.
    method : {"spearman", "pearson"}, default="spearman"
        Rank or linear correlation.

    Returns
    -------
    ic : Series of shape (n_dates,) or float
        The IC of each date, indexed by the sorted dates. NaN for a date with
        fewer than two complete rows or on which either side is constant (no
        warning). Inputs without dates (arrays, or pandas objects with a
        single-level index) are one cross-section and give a float.

    See Also
    --------
    ic_summary : Mean, spread and t-statistic of the per-date IC.
    ic_scorer : The mean IC as a scikit-learn scorer.

    Notes
    -----
    With :math:`r` and :math:`f` the (ranked, for Spearman) outcomes and
    predictions of the :math:`n_t` complete rows of date :math:`t`,

    .. math::

        \mathrm{IC}_t = \frac{\sum_i (r_i - \bar r)(f_i - \bar f)}
                             {\sqrt{\sum_i (r_i - \bar r)^2 \sum_i (f_i - \bar f)^2}}.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2024-01-02", "2024-01-03"]), ["A", "B", "C"]],
    ...     names=["date", "asset"],
    ... )
    >>> y_true = pd.Series([0.01, 0.02, 0.03, 0.03, 0.02, 0.01], index=index)
    >>> y_pred = pd.Series([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], index=index)
    >>> information_coefficient(y_true, y_pred)
    date
    2024-01-02    1.0
    2024-01-03   -1.0
    Name: ic, dtype: float64
    >>> information_coefficient([1, 2, 3], [2, 4, 5])
    1.0
    """
    _check_method(method)
    check_not_dask(y_true, "y_true")
    check_not_dask(y_pred, "y_pred")
    t, t_index = _column(y_true, "y_true")
    p, p_index = _column(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(
            f"`y_true` has {len(t)} rows and `y_pred` {len(p)}; give one "
            "prediction per outcome."
        )
    if t_index is not None and p_index is not None and not t_index.equals(p_index):
        raise ValueError(
            "`y_true` and `y_pred` have different indexes; align them first, "
            "e.g. `y_pred.reindex(y_true.index)`."
        )
    index = t_index if t_index is not None else p_index
    if not isinstance(index, pd.MultiIndex):
        r = _segment_corr(t, p, Segments.single(len(t)), method)
        return float(r[0]) if len(r) else np.nan
    check_panel_index(index, "y_true" if t_index is not None else "y_pred")
    codes, dates = date_codes(index)
    segments = Segments(codes, len(dates))
    r = _segment_corr(segments.sort(t), segments.sort(p), segments, method)
    return pd.Series(r, index=dates, name="ic")


def _mean_ic(ic):
    """Mean of the per-date IC over the dates where it is defined (NaN if none)."""
    values = np.atleast_1d(np.asarray(ic, dtype=np.float64))
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else np.nan


def _panel_index(obj):
    index = getattr(obj, "index", None)
    return index if isinstance(index, pd.MultiIndex) else None


class _ICScorer:
    """Mean per-date IC of ``estimator.predict(X)`` against ``y_true``."""

    def __init__(self, method="spearman"):
        self.method = method

    def __call__(self, estimator, X, y_true):
        y_true = align_rows(y_true, X, "y_true")  # a shuffled y_true, in X's order
        y_pred = estimator.predict(X)
        if _panel_index(y_true) is None and _panel_index(y_pred) is None:
            index = _panel_index(X)
            if index is not None:
                # Arrays of outcomes and predictions: the dates are X's.
                y_true = pd.Series(_column(y_true, "y_true")[0], index=index)
        return _mean_ic(information_coefficient(y_true, y_pred, method=self.method))

    def __repr__(self):
        return f"make_ic_scorer(method={self.method!r})"


def make_ic_scorer(method: str = "spearman") -> Callable[..., float]:
    """A scorer giving the mean per-date IC of an estimator's predictions.

    Parameters
    ----------
    method : {"spearman", "pearson"}, default="spearman"
        Rank or linear correlation, as in :func:`information_coefficient`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``: the mean over dates of
        ``information_coefficient(y, estimator.predict(X))`` (dates where the
        IC is undefined are left out; NaN if it is undefined on every date).
        Greater is better. The dates come from the (date, asset) MultiIndex of
        ``y``, of the predictions, or of ``X``, in that order; with none, the
        rows are one cross-section. Pass it as ``scoring=`` to
        :class:`~sklearn.model_selection.GridSearchCV` or
        :func:`~sklearn.model_selection.cross_val_score`.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skfactor import CrossSectionalFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.metrics import make_ic_scorer
    >>> from skfactor.model_selection import PanelTimeSeriesSplit
    >>> data = make_factor_panel(n_dates=30, n_assets=100, random_state=0)
    >>> scores = cross_val_score(
    ...     CrossSectionalFactorModel(), data.loadings, data.y,
    ...     cv=PanelTimeSeriesSplit(n_splits=3), scoring=make_ic_scorer("pearson"),
    ... )
    >>> scores.shape
    (3,)
    """
    _check_method(method)
    return _ICScorer(method)


ic_scorer = _ICScorer("spearman")
ic_scorer.__doc__ = """Mean per-date rank IC, ready for ``scoring=``.

``ic_scorer(estimator, X, y)`` is ``make_ic_scorer("spearman")``: the mean over
dates of ``information_coefficient(y, estimator.predict(X))``. Greater is
better.

Examples
--------
>>> from skfactor import CrossSectionalFactorModel
>>> from skfactor.datasets import make_factor_panel
>>> from skfactor.metrics import ic_scorer, information_coefficient
>>> data = make_factor_panel(n_dates=20, n_assets=100, random_state=0)
>>> model = CrossSectionalFactorModel().fit(data.loadings, data.y)
>>> ic = information_coefficient(data.y, model.predict(data.loadings))
>>> bool(abs(ic_scorer(model, data.loadings, data.y) - ic.mean()) < 1e-12)
True
"""


def _newey_west_t(values, lags):
    r"""The t statistic of a zero mean with Newey-West errors, and its p-value.

    :math:`\hat V = \frac1n(\hat\gamma_0 + 2\sum_{l=1}^{L} (1 - \frac{l}{L+1})
    \hat\gamma_l)` with :math:`\hat\gamma_l = \frac1n\sum_t u_t u_{t-l}` the
    autocovariances of the demeaned series: statsmodels
    ``OLS(ic, ones).fit(cov_type="HAC", cov_kwds={"maxlags": L})`` with its
    default ``use_correction=False`` (no :math:`n/(n-1)` factor) and normal
    p-values.
    """
    n = len(values)
    s = long_run_sum(values - values.mean(), kernel_weights("bartlett", lags, n))
    se = np.sqrt(s) / n
    return values.mean() / se if se > 0 else np.nan


# Below this many cosines (fewer than 8 non-overlapping horizons) the t_nu
# critical value exceeds 3.18 and, as h nears the number of dates, the size
# is no longer held (7 % at h = T): ic_summary warns.
_FEW_COSINES = 4


def cosine_terms(n_dates, horizon):
    r"""Number :math:`\nu = \max(1, \lfloor T / (2h) \rfloor)` of EWC cosine terms.

    One cosine per two non-overlapping horizons: each term then averages over
    at least :math:`2h` dates, so overlap of :math:`h`-date labels barely
    correlates the terms (rejection rates under no signal of 5.5 % at 500
    dates, h = 5, and 5.9 % at 250 dates, h = 21).
    """
    return max(1, n_dates // (2 * horizon))


def _ewc_t(values, horizon):
    """The size-correct t of a zero mean of overlapping-label ICs, and its df.

    EWC with :func:`cosine_terms`; its variance is floored at the sample
    variance (overlap only adds positive autocorrelation, so the long-run
    variance is at least the variance), which keeps ``|t| <= |t_iid|``.
    """
    n = len(values)
    nu = cosine_terms(n, horizon)
    u = values - values.mean()
    omega = max(ewc_long_run_variance(u, nu), values.var(ddof=1))
    t = np.sqrt(n) * values.mean() / np.sqrt(omega) if omega > 0 else np.nan
    if nu < _FEW_COSINES:
        warn(
            f"`ic_summary`: {n} dates at horizon={horizon} hold "
            f"{n / horizon:.1f} non-overlapping horizons; the t-statistic has "
            f"{nu} degree(s) of freedom and little power (it needs at least "
            f"{2 * _FEW_COSINES * horizon} dates, 8 horizons). Use more dates "
            "or a shorter horizon.",
        )
    return t, nu


def ic_summary(
    ic: pd.Series | pd.DataFrame | ArrayLike, horizon: int = 1
) -> pd.Series | pd.DataFrame:
    r"""Mean, spread, information ratio and t-statistic of a per-date IC.

    Parameters
    ----------
    ic : Series of shape (n_dates,), DataFrame or array-like
        Per-date IC, e.g. from :func:`information_coefficient`; a DataFrame of
        shape (n_dates, n_columns) holds one IC series per column. Dates where it
        is NaN are left out.
    horizon : int, default=1
        Periods :math:`h` of the forward returns the IC was measured on
        (``forward_returns(..., periods=h)``). With :math:`h > 1` consecutive
        labels overlap by :math:`h - 1` periods, so ``t`` and ``p_value`` use
        the equal-weighted cosine (EWC) long-run variance with Student t
        critical values (see Notes).

    Returns
    -------
    summary : Series or DataFrame
        Indexed by ``mean``, ``std`` (``ddof=1``), ``ir`` (mean / std),
        ``t`` (the t-statistic of a zero mean), ``p_value`` (two-sided,
        Student t with ``df`` degrees of freedom), ``df``, ``t_iid``
        (:math:`\mathrm{IR}\sqrt{n}`, which treats the dates as independent),
        ``t_nw`` (Newey-West with :math:`h - 1` lags, statsmodels' HAC t; its
        normal p-value over-rejects), ``n_dates`` (dates with a defined IC)
        and ``positive`` (the fraction of them with IC > 0). At ``horizon=1``
        ``t`` is ``t_iid`` and ``df`` is :math:`n - 1`. One column per input
        column for a DataFrame. Statistics that need more dates than there
        are, or a nonzero std, are NaN.

    Warns
    -----
    UserWarning
        With ``horizon > 1`` and fewer than 8 horizons' worth of dates
        (:math:`\nu < 4`): the t-statistic keeps its size but has little power.

    Notes
    -----
    At ``horizon=1`` the labels do not overlap and ``t`` is the one-sample
    t-statistic, Student t with :math:`n - 1` degrees of freedom.

    ICs of overlapping multi-period forward returns are autocorrelated (an
    :math:`h`-period label shares :math:`h - 1` periods with its neighbour),
    which inflates the i.i.d. t; Newey-West with :math:`h - 1` lags and normal
    p-values corrects too little (10 % rejections at the 5 % level under no
    signal at 500 dates, h = 5; 16 % at 250 dates, h = 21). With
    ``horizon=h > 1`` the IC series is ordered by date (a Series' index is
    sorted; an array is taken in its order), its NaN dates dropped, and
    :math:`t = \sqrt{n}\,\bar x / \sqrt{\hat\omega}` with the equal-weighted
    cosine estimate of the long-run variance (Müller 2014; Lazarus, Lewis,
    Stock and Watson 2018),

    .. math::

        \Lambda_j = \sqrt{2/n} \sum_{t=1}^{n} u_t
        \cos\!\big(\pi j (t - \tfrac12)/n\big), \qquad
        \hat\omega = \max\Big(\frac1\nu \sum_{j=1}^{\nu} \Lambda_j^2,\;
        s^2\Big),

    :math:`u_t` the demeaned IC, :math:`s^2` its variance and
    :math:`\nu = \max(1, \lfloor n / (2h) \rfloor)` cosines; ``p_value`` is
    from Student t with :math:`\nu` degrees of freedom. Under no signal it
    rejects 5.5 % of the time at the 5 % level at 500 dates, h = 5, and
    5.9 % at 250 dates, h = 21. Overlap only adds positive autocorrelation,
    so the long-run variance is at least :math:`s^2`; the floor keeps
    :math:`|t| \le |t_\mathrm{iid}|` even when :math:`h` is as long as the
    sample.

    Examples
    --------
    >>> import pandas as pd
    >>> ic_summary(pd.Series([0.1, 0.0, 0.2, 0.1]))["mean"]
    np.float64(0.1)
    >>> ic_summary(pd.Series([0.1, 0.0, 0.2, 0.1, 0.05])).index.tolist()
    ['mean', 'std', 'ir', 't', 'p_value', 'df', 't_iid', 't_nw', 'n_dates', 'positive']
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise TypeError(f"`horizon` must be an integer; got {horizon!r}.")
    if horizon < 1:
        raise ValueError(
            f"`horizon` must be at least 1 (the periods of the forward returns); "
            f"got {horizon}."
        )
    if isinstance(ic, pd.DataFrame):
        return pd.DataFrame({c: ic_summary(ic[c], horizon) for c in ic.columns})
    if horizon > 1 and isinstance(ic, pd.Series):
        ic = ic.sort_index()
    values = np.asarray(ic, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    n = len(values)
    mean = values.mean() if n else np.nan
    std = np.nan
    if n > 1:
        # Equal values have std 0 exactly (a float mean may leave a residue).
        std = values.std(ddof=1) if np.ptp(values) > 0 else 0.0
    ir = mean / std if std > 0 else np.nan
    t_iid = ir * np.sqrt(n)
    t, df, t_nw = t_iid, n - 1.0 if n > 1 else np.nan, np.nan
    if np.isfinite(t_iid):
        t_nw = _newey_west_t(values, horizon - 1)
        if horizon > 1:
            t, df = _ewc_t(values, horizon)
    p_value = 2.0 * stats.t.sf(abs(t), df) if np.isfinite(t) else np.nan
    positive = float((values > 0).mean()) if n else np.nan
    out = {
        "mean": mean,
        "std": std,
        "ir": ir,
        "t": t,
        "p_value": p_value,
        "df": float(df),
        "t_iid": t_iid,
        "t_nw": t_nw,
        "n_dates": float(n),
        "positive": positive,
    }
    return pd.Series(out, name=getattr(ic, "name", None))
