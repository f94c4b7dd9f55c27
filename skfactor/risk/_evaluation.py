"""Out-of-sample evaluation of risk forecasts: bias statistics, MRAD, QLIKE."""

from __future__ import annotations

import numbers
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import get_tags

from skfactor.panel._wide import wide_values
from skfactor.risk._adjustments import one_blas_thread
from skfactor.utils._progress import progress
from skfactor.utils._typing import RandomStateLike

SMALL = 100  # columns up to which the refits run on one BLAS thread

__all__ = [
    "RiskForecastEvaluation",
    "bias_statistic",
    "evaluate_risk_forecast",
    "evaluate_volatility_forecast",
]


def _aligned(returns, forecast_volatility):
    """Both as float DataFrames on the same dates and portfolios (label-aligned)."""
    frames = []
    pairs = ((returns, "returns"), (forecast_volatility, "forecast_volatility"))
    # Two Series are one portfolio whatever their names: one column label.
    both = all(isinstance(obj, pd.Series) for obj, _ in pairs)
    label = returns.name if both and returns.name is not None else 0
    for obj, name in pairs:
        if isinstance(obj, pd.Series):
            obj = obj.to_frame(label if both or obj.name is None else obj.name)
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"`{name}` must be a DataFrame of shape (n_dates, n_portfolios) (or "
                f"a Series) indexed by date; got {type(obj).__name__}."
            )
        frames.append(pd.DataFrame(wide_values(obj, name), obj.index, obj.columns))
    r, s = frames
    if not r.columns.equals(s.columns) and set(r.columns) != set(s.columns):
        raise ValueError(
            "`returns` and `forecast_volatility` must have the same portfolios "
            f"(columns); got {list(r.columns)[:5]} and {list(s.columns)[:5]}."
        )
    s = s.reindex(index=r.index, columns=r.columns)
    if (s.to_numpy() <= 0).any():
        raise ValueError("`forecast_volatility` must be > 0 (NaN where missing).")
    return r, s


def bias_statistic(
    returns: pd.Series | pd.DataFrame, forecast_volatility: pd.Series | pd.DataFrame
) -> pd.Series | float:
    r"""The bias statistic: the standard deviation of the standardized returns.

    For each portfolio, :math:`b = \mathrm{std}(r_t / \hat\sigma_t)` (divisor
    :math:`T - 1`) over the :math:`T` dates on which both the realised return
    :math:`r_t` and its forecast volatility :math:`\hat\sigma_t` (made before
    :math:`t`) exist. A correct forecast gives :math:`b \approx 1`, within
    about :math:`1 \pm \sqrt{2/T}` 95 % of the time for normal returns;
    above 1, risk was underestimated.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_portfolios) or Series
        Realised returns by date.
    forecast_volatility : DataFrame or Series, same labels
        The volatility forecast for each of those returns, matched by date
        and portfolio label (two Series are one portfolio, whatever their
        names); NaN where there is none.

    Returns
    -------
    Series of shape (n_portfolios,) or float
        One statistic per portfolio (a float for Series inputs); NaN with
        fewer than 2 dates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import bias_statistic
    >>> r = pd.Series(np.random.default_rng(0).normal(0, 0.02, 500))
    >>> round(bias_statistic(r, pd.Series(0.02, index=r.index)), 2)
    1.01
    >>> round(bias_statistic(r, pd.Series(0.01, index=r.index)), 2)  # underestimated
    2.03
    """
    r, s = _aligned(returns, forecast_volatility)
    out = (r / s).std(ddof=1).rename("bias")
    return float(out.iloc[0]) if isinstance(returns, pd.Series) else out


@dataclass(frozen=True)
class RiskForecastEvaluation:
    r"""Realised returns against their volatility forecasts, portfolio by portfolio.

    Attributes
    ----------
    returns : DataFrame of shape (n_dates, n_portfolios)
        Realised returns.
    forecast_volatility : DataFrame of shape (n_dates, n_portfolios)
        Each return's volatility forecast, made with data before its date;
        NaN where none.
    window : int
        Dates in a rolling bias statistic (MRAD and :meth:`rolling_bias`).
    clip : float
        Standardized returns are clipped to :math:`\pm` ``clip`` in the
        robust bias statistic.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import evaluate_volatility_forecast
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0, 0.02, (240, 2)), columns=["a", "b"])
    >>> ev = evaluate_volatility_forecast(r, pd.DataFrame(0.02, r.index, r.columns))
    >>> ev.table.columns.tolist()
    ['n_dates', 'bias', 'lower', 'upper', 'within_band', 'robust_bias', 'mrad', 'qlike']
    """

    returns: pd.DataFrame
    forecast_volatility: pd.DataFrame
    window: int = 12
    clip: float = 3.0

    @property
    def standardized(self):
        r""":math:`r_t / \hat\sigma_t` (DataFrame, NaN where either is missing)."""
        return self.returns / self.forecast_volatility

    @property
    def table(self):
        r"""One row per portfolio: the bias statistic and the losses.

        Columns: ``n_dates`` (:math:`T`, dates with both), ``bias``
        (:func:`bias_statistic`), ``lower`` and ``upper``
        (:math:`1 \mp \sqrt{2/T}`, the 95 % band of a correct forecast),
        ``within_band``, ``robust_bias`` (the bias statistic of the
        standardized returns clipped to :math:`\pm` ``clip``, less moved by
        a few extreme dates), ``mrad`` (the mean rolling absolute deviation
        :math:`\mathrm{mean}_t |b_t - 1|` of the rolling bias statistics
        over ``window`` dates, USE4's measure of how far the forecast
        strays at any time) and ``qlike`` (the mean QLIKE loss
        :math:`\log \hat\sigma_t^2 + r_t^2 / \hat\sigma_t^2`, as skfolio's;
        lower is better, comparable across models on the same returns).
        """
        z = self.standardized
        n = z.notna().sum()
        bias = z.std(ddof=1)
        band = np.sqrt(2.0 / n.where(n > 0))
        rolling = self.rolling_bias()
        var = self.forecast_volatility**2
        qlike = (np.log(var) + self.returns**2 / var).where(z.notna()).mean()
        return pd.DataFrame(
            {
                "n_dates": n,
                "bias": bias,
                "lower": 1.0 - band,
                "upper": 1.0 + band,
                "within_band": (bias - 1.0).abs() <= band,
                "robust_bias": z.clip(-self.clip, self.clip).std(ddof=1),
                "mrad": (rolling - 1.0).abs().mean(),
                "qlike": qlike,
            }
        ).rename_axis("portfolio")

    @property
    def summary(self):
        """The table summarised over portfolios (Series).

        ``n_portfolios``, the mean and median ``bias``, the share of
        portfolios ``within_band``, the median ``robust_bias``, the mean
        ``mrad`` and ``qlike``.
        """
        t = self.table
        return pd.Series(
            {
                "n_portfolios": float(len(t)),
                "mean_bias": t["bias"].mean(),
                "median_bias": t["bias"].median(),
                "within_band": t["within_band"].mean(),
                "median_robust_bias": t["robust_bias"].median(),
                "mrad": t["mrad"].mean(),
                "qlike": t["qlike"].mean(),
            },
            name="summary",
        )

    def rolling_bias(self, window: int | None = None) -> pd.DataFrame:
        """Bias statistic of each portfolio over a rolling ``window`` of dates.

        Parameters
        ----------
        window : int, default=None
            Dates per window; None: the evaluation's ``window``. A window
            needs all its standardized returns.

        Returns
        -------
        DataFrame of shape (n_dates, n_portfolios)
        """
        window = self.window if window is None else _check_window(window)
        return self.standardized.rolling(window, min_periods=window).std(ddof=1)


def _check_window(window):
    if not isinstance(window, numbers.Integral) or window < 2:
        raise ValueError(f"`window` must be an integer >= 2; got {window!r}.")
    return int(window)


def evaluate_volatility_forecast(
    returns: pd.Series | pd.DataFrame,
    forecast_volatility: pd.Series | pd.DataFrame,
    *,
    window: int = 12,
    clip: float = 3.0,
) -> RiskForecastEvaluation:
    """Evaluate given volatility forecasts against the realised returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_portfolios)
        Realised returns by date.
    forecast_volatility : DataFrame, same labels
        Each return's volatility forecast, made before its date (NaN: none).
    window : int, default=12
        Dates per rolling bias statistic (12 months of monthly forecasts;
        about 252 for daily ones).
    clip : float, default=3.0
        Bound of the standardized returns in the robust bias statistic.

    Returns
    -------
    RiskForecastEvaluation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import evaluate_volatility_forecast
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0, 0.02, (240, 2)), columns=["a", "b"])
    >>> low = pd.DataFrame(0.015, r.index, r.columns)  # risk underestimated
    >>> evaluate_volatility_forecast(r, low).table["within_band"].tolist()
    [False, False]
    """
    r, s = _aligned(returns, forecast_volatility)
    if not isinstance(clip, numbers.Real) or not clip > 0:
        raise ValueError(f"`clip` must be a number > 0; got {clip!r}.")
    return RiskForecastEvaluation(r, s, _check_window(window), float(clip))


def evaluate_risk_forecast(
    returns: pd.DataFrame,
    estimator: Any,
    portfolios: pd.DataFrame | None = None,
    *,
    min_dates: int = 60,
    max_dates: int | None = None,
    step: int = 1,
    n_random: int = 0,
    random_state: RandomStateLike = 0,
    window: int = 12,
    clip: float = 3.0,
    verbose: bool = False,
) -> RiskForecastEvaluation:
    r"""Out-of-sample evaluation of a covariance estimator along the dates.

    On each forecast date :math:`t` (every ``step`` dates from the
    ``min_dates``-th), a clone of ``estimator`` is fitted on the returns up
    to :math:`t` (the last ``max_dates`` of them) and its ``covariance_``
    :math:`\hat\Sigma_t` forecasts each portfolio's volatility
    :math:`\hat\sigma_{p} = \sqrt{w_p^\top \hat\Sigma_t w_p}` for the
    returns of the next ``step`` dates, which it standardizes:
    nothing after :math:`t` enters the forecast. The returns are factor
    returns (with a factor covariance estimator) or asset returns (with an
    asset covariance estimator).

    The loop over forecast dates refits the estimator; the portfolio
    arithmetic is done once for all dates.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_columns)
        Returns by date, oldest first: factors or assets.
    estimator : scikit-learn covariance estimator
        Anything with ``fit(X)`` setting ``covariance_`` (e.g.
        :class:`FactorCovariance`, ``sklearn.covariance.LedoitWolf``,
        skfolio's estimators). Dates with a NaN are dropped before fitting
        unless the estimator's tags allow NaN.
    portfolios : DataFrame of shape (n_portfolios, n_columns), default=None
        Weights of the portfolios to evaluate, one row each, columns matched
        to ``returns``' by label. None: one portfolio per column (the factor
        portfolios, or the assets).
    min_dates : int, default=60
        Dates of history before the first forecast.
    max_dates : int, default=None
        Fit on at most the last ``max_dates`` dates; None: all of them.
    step : int, default=1
        Dates between refits; a forecast serves until the next one.
    n_random : int, default=0
        Random portfolios added (standard normal weights), named
        ``random_0``, ...
    random_state : int, default=0
        Seed of the random portfolios.
    window, clip
        As in :func:`evaluate_volatility_forecast`.
    verbose : bool, default=False
        A progress bar of the refits on stderr (tqdm, the ``report`` extra).

    Returns
    -------
    RiskForecastEvaluation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.covariance import LedoitWolf
    >>> from skfactor.risk import FactorCovariance, evaluate_risk_forecast
    >>> rng = np.random.default_rng(0)
    >>> F = pd.DataFrame(rng.normal(0, 0.01, (300, 3)), columns=["a", "b", "c"])
    >>> F.iloc[200:] *= 2  # volatility doubles
    >>> plain = evaluate_risk_forecast(F, FactorCovariance(halflife=60), n_random=20)
    >>> regime = FactorCovariance(halflife=60, regime_halflife=10)
    >>> adjusted = evaluate_risk_forecast(F, regime, n_random=20)
    >>> bool(plain.summary["mean_bias"] > adjusted.summary["mean_bias"] > 1)
    True
    >>> evaluate_risk_forecast(F, LedoitWolf(), step=20).table.shape
    (3, 8)
    """
    values = wide_values(returns, "returns")
    W, labels = _portfolios(portfolios, returns.columns, n_random, random_state)
    ends = forecast_ends(len(values), min_dates, max_dates, step)
    covs = refit_covariances(values, estimator, ends, max_dates, verbose=verbose)
    var = np.einsum("pk,ikl,pl->ip", W, covs, W)  # (forecasts, portfolios)
    return _evaluation(returns.index, values, W, labels, ends, var, window, clip)


def forecast_ends(n_dates, min_dates, max_dates, step):
    """The rows each forecast is fitted before: ``[start, end)``, every ``step``."""
    for name, value, low in (("min_dates", min_dates, 2), ("step", step, 1)):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}; got {value!r}.")
    if min_dates >= n_dates:
        raise ValueError(
            f"`min_dates` ({min_dates}) leaves no date to forecast: `returns` has "
            f"{n_dates} dates."
        )
    if max_dates is not None and (
        not isinstance(max_dates, numbers.Integral) or max_dates < min_dates
    ):
        raise ValueError(
            f"`max_dates` must be None or an integer >= `min_dates` ({min_dates}); "
            f"got {max_dates!r}."
        )
    return np.arange(min_dates, n_dates, step)


def refit_windows(ends, max_dates, verbose, what):
    """:func:`windows`, with a progress bar of the ``what`` refits when ``verbose``."""
    return progress(
        windows(ends, max_dates),
        verbose=verbose,
        total=len(ends),
        desc=f"{what} refits",
    )


def windows(ends, max_dates):
    """``(i, start, end)`` of each forecast's fitting window."""
    for i, end in enumerate(ends):
        yield i, (0 if max_dates is None else max(0, end - max_dates)), end


def refit_covariances(values, estimator, ends, max_dates, verbose=False):
    """The ``covariance_`` of a clone of ``estimator`` fitted before each end."""
    k = values.shape[1]
    est = clone(estimator)
    keep_nan = get_tags(est).input_tags.allow_nan
    covs = np.empty((len(ends), k, k))
    # small covariances on one BLAS thread: 4x faster refits at 30 columns
    with one_blas_thread() if k <= SMALL else nullcontext():
        for i, start, end in refit_windows(ends, max_dates, verbose, "covariance"):
            history = values[start:end]
            if not keep_nan:
                history = history[~np.isnan(history).any(axis=1)]
            covs[i] = np.asarray(est.fit(history).covariance_)
    return covs


def _evaluation(index, values, W, labels, ends, var, window, clip):
    """Realised portfolio returns against the forecasts ``var`` (forecasts, p)."""
    n_dates = len(values)
    owner = np.searchsorted(ends, np.arange(n_dates), side="right") - 1
    forecast = np.full((n_dates, len(W)), np.nan)
    has = owner >= 0
    forecast[has] = np.sqrt(np.maximum(var[owner[has]], 0.0))
    forecast[forecast == 0] = np.nan
    held = W != 0
    realised = np.where(np.isnan(values), 0.0, values) @ W.T
    broken = np.isnan(values).astype(np.float64) @ held.T.astype(np.float64) > 0
    realised[broken] = np.nan
    return evaluate_volatility_forecast(
        pd.DataFrame(realised, index, labels),
        pd.DataFrame(forecast, index, labels),
        window=window,
        clip=clip,
    )


def _portfolios(portfolios, names, n_random, random_state):
    """Weights (n_portfolios, n_columns) in ``names``' order, and their labels."""
    if portfolios is None:
        W, labels = np.eye(len(names)), pd.Index(names)
    else:
        if not isinstance(portfolios, pd.DataFrame):
            raise TypeError(
                "`portfolios` must be a DataFrame of weights, one row per portfolio "
                f"and one column per column of `returns`; got "
                f"{type(portfolios).__name__}."
            )
        unknown = portfolios.columns[~portfolios.columns.isin(names)]
        if len(unknown):
            raise ValueError(
                f"`portfolios` has columns that are not in `returns`: "
                f"{unknown[:5].tolist()}."
            )
        W = portfolios.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
        if not np.isfinite(W).all():
            raise ValueError("`portfolios` must hold finite weights (0 if not held).")
        labels = pd.Index(portfolios.index)
    if not isinstance(n_random, numbers.Integral) or n_random < 0:
        raise ValueError(f"`n_random` must be an integer >= 0; got {n_random!r}.")
    if n_random:
        rng = np.random.default_rng(random_state)
        W = np.vstack([W, rng.standard_normal((n_random, len(names)))])
        labels = labels.append(pd.Index([f"random_{i}" for i in range(n_random)]))
    return W, labels
