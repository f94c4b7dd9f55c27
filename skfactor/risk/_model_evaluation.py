r"""Out-of-sample evaluation of a whole factor risk model.

What this module holds: :func:`evaluate_factor_risk_forecast`, the
walk-forward test of the asset covariance :math:`B \Sigma_F B^\top + D` that
:class:`FactorRiskModel` forecasts, refitted on each window from the
exposures, factor returns and residuals, and scored on portfolios with the
statistics of ``_evaluation.py`` (which evaluates a covariance forecast of
any given return series: the bias statistic, MRAD, QLIKE).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from skfactor.panel._validation import check_finite
from skfactor.panel._wide import wide_values
from skfactor.risk._estimator import FactorCovariance
from skfactor.risk._evaluation import (
    RiskForecastEvaluation,
    _evaluation,
    _portfolios,
    forecast_ends,
    refit_covariances,
    refit_windows,
)
from skfactor.risk._specific import specific_variance
from skfactor.utils._typing import RandomStateLike

__all__ = ["evaluate_factor_risk_forecast"]


def evaluate_factor_risk_forecast(
    returns: pd.DataFrame,
    exposures: pd.DataFrame,
    factor_returns: pd.DataFrame,
    residuals: pd.DataFrame,
    factor_covariance_estimator: Any = None,
    portfolios: pd.DataFrame | None = None,
    *,
    halflife: float | None = None,
    min_obs: int = 20,
    min_dates: int = 60,
    max_dates: int | None = None,
    step: int = 1,
    n_random: int = 0,
    random_state: RandomStateLike = 0,
    window: int = 12,
    clip: float = 3.0,
    verbose: bool = False,
) -> RiskForecastEvaluation:
    r"""Out-of-sample evaluation of :math:`B \Sigma_F B^\top + D` on asset portfolios.

    As :func:`evaluate_risk_forecast`, for the assets under a factor model:
    on each forecast date, :math:`\Sigma_F` is the ``covariance_`` of
    ``factor_covariance_estimator`` fitted on the factor returns up to that
    date, :math:`D` the :func:`specific_variance` (``halflife``,
    ``min_obs``) of the residuals up to that date, and a portfolio
    :math:`w` of assets is forecast
    :math:`\sigma^2 = (B^\top w)^\top \Sigma_F (B^\top w) + \sum_i w_i^2 D_i`
    for the next ``step`` dates' realised returns :math:`w^\top r_t`.

    Fixed exposures :math:`B` (one row per asset) are held for every date:
    with a time-series model's betas, estimated on the whole sample, only the
    covariances are out of sample. Per-date exposures (a long (date, asset)
    frame, e.g. the loadings a ``CrossSectionalFactorModel`` was fitted on)
    make the exposures out of sample too: the forecast for date :math:`t`
    uses :math:`B_t`, the exposures of date :math:`t` (known at :math:`t`,
    as the cross-sectional regression pairs them with that date's return),
    with the :math:`\Sigma_F` and :math:`D` of the last refit before
    :math:`t`. A portfolio holding an asset without exposures on a date
    (no row, or NaN) has no forecast there (NaN).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Asset returns by date.
    exposures : DataFrame of shape (n_assets, n_factors) or (n_rows, n_factors)
        :math:`B`, indexed by asset (e.g. ``FactorRiskModel.exposures``), or
        per date: indexed by (date, asset) with the dates of ``returns``
        (e.g. a cross-sectional model's loadings).
    factor_returns : DataFrame of shape (n_dates, n_factors)
        Factor returns on the dates of ``returns``.
    residuals : DataFrame of shape (n_dates, n_assets)
        Specific returns on the dates of ``returns`` (e.g. a
        ``TimeSeriesFactorModel``'s ``residuals(F, R)``).
    factor_covariance_estimator : covariance estimator, default=None
        None: ``FactorCovariance(halflife=halflife)``.
    portfolios : DataFrame of shape (n_portfolios, n_assets), default=None
        Asset weights, one row per portfolio; None: each asset.
    halflife, min_obs
        Of the specific variances (and of the default factor covariance).
    min_dates, max_dates, step, n_random, random_state, window, clip
        As in :func:`evaluate_risk_forecast`.
    verbose : bool, default=False
        Progress bars of the refits on stderr (tqdm, the ``report`` extra).

    Returns
    -------
    RiskForecastEvaluation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import evaluate_factor_risk_forecast
    >>> rng = np.random.default_rng(0)
    >>> F = pd.DataFrame(rng.normal(0, 0.04, (240, 2)), columns=["MKT", "SMB"])
    >>> B = pd.DataFrame(rng.normal(1, 0.3, (8, 2)), columns=F.columns)
    >>> E = pd.DataFrame(rng.normal(0, 0.05, (240, 8)))
    >>> R = F @ B.T + E
    >>> ev = evaluate_factor_risk_forecast(R, B, F, E, n_random=20)
    >>> bool(abs(ev.summary["median_bias"] - 1) < 0.1)
    True
    """
    values = wide_values(returns, "returns")
    assets = returns.columns
    per_date = isinstance(exposures, pd.DataFrame) and isinstance(
        exposures.index, pd.MultiIndex
    )
    if not per_date:
        B = _aligned(exposures, "exposures", index=assets)
    F = _aligned(factor_returns, "factor_returns", index=returns.index)
    E = _aligned(residuals, "residuals", index=returns.index, columns=assets)
    if factor_covariance_estimator is None:
        factor_covariance_estimator = FactorCovariance(halflife=halflife)
    W, labels = _portfolios(portfolios, assets, n_random, random_state)
    ends = forecast_ends(len(values), min_dates, max_dates, step)
    covs = refit_covariances(
        F.to_numpy(dtype=np.float64),
        factor_covariance_estimator,
        ends,
        max_dates,
        verbose=verbose,
    )
    d = np.empty((len(ends), len(assets)))
    for i, start, end in refit_windows(ends, max_dates, verbose, "specific variance"):
        d[i] = specific_variance(E.iloc[start:end], halflife=halflife, min_obs=min_obs)[
            0
        ]
    if per_date:
        var = _per_date_variance(exposures, returns, F.columns, W, covs, d, ends)
        ends = np.arange(ends[0], len(values))  # one forecast per date
    else:
        X = W @ B.to_numpy()  # the portfolios' exposures
        var = np.einsum("pk,ikl,pl->ip", X, covs, X) + d @ (W * W).T
    return _evaluation(returns.index, values, W, labels, ends, var, window, clip)


def _per_date_variance(exposures, returns, factors, W, covs, d, ends, cells=2**22):
    """Each date's forecast variance of each portfolio, with that date's exposures.

    Each date from ``ends[0]`` on takes the covariances of the last refit at
    or before it. The exposures are made dense a block of
    dates at a time (at most ``cells`` values), not for the whole sample.
    """
    missing = [f for f in factors if f not in exposures.columns]
    if missing:
        raise ValueError(
            f"`exposures` has no column for the factors {missing} of "
            "`factor_returns`; give one column per factor."
        )
    if exposures.index.duplicated().any():
        raise ValueError(
            "`exposures` has duplicated (date, asset) rows; give one row of "
            "exposures per date and asset."
        )
    dates, assets = returns.index, returns.columns
    level_dates, level_assets = (exposures.index.get_level_values(i) for i in (0, 1))
    t = dates.get_indexer(level_dates)
    a = assets.get_indexer(level_assets)
    if (t < 0).all():
        raise ValueError(
            "`exposures` (per date) shares no date with `returns`; index it by "
            f"(date, asset) with the dates of `returns`, e.g. {list(dates[:2])}."
        )
    values = exposures[list(factors)].to_numpy(dtype=np.float64)
    check_finite(values, "exposures", list(factors))
    keep = (t >= ends[0]) & (a >= 0)
    order = np.argsort(t[keep], kind="stable")
    t, a, values = t[keep][order], a[keep][order], values[keep][order]
    n_dates, k = len(dates), len(factors)
    first = int(ends[0])
    owner = np.searchsorted(ends, np.arange(first, n_dates), side="right") - 1
    held = (W != 0).T.astype(np.float64)
    var = np.empty((n_dates - first, len(W)))
    step = max(1, cells // max(1, len(assets) * k))
    for lo in range(first, n_dates, step):  # blocks of dates, not dates
        hi = min(lo + step, n_dates)
        B = np.full((hi - lo, len(assets), k), np.nan)
        rows = slice(*np.searchsorted(t, [lo, hi]))
        B[t[rows] - lo, a[rows]] = values[rows]
        absent = np.isnan(B).any(axis=2)
        # The portfolios' exposures W B_t of every date as one BLAS product
        # (an einsum over t, a, k does not use BLAS: 25x slower).
        Bz = np.where(np.isnan(B), 0.0, B).transpose(1, 0, 2).reshape(len(assets), -1)
        X = (W @ Bz).reshape(len(W), hi - lo, k).transpose(1, 0, 2)
        i = owner[lo - first : hi - first]
        block = np.einsum("tpl,tpl->tp", X @ covs[i], X) + d[i] @ (W * W).T
        block[absent.astype(np.float64) @ held > 0] = np.nan
        var[lo - first : hi - first] = block
    return var


def _aligned(frame, name, index=None, columns=None):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a DataFrame; got {type(frame).__name__}.")
    out = (
        frame.reindex(index=index)
        if columns is None
        else frame.reindex(index=index, columns=columns)
    )
    if name == "exposures" and out.isna().any().any():
        raise ValueError(
            "`exposures` must give every asset of `returns` a finite exposure to "
            "every factor; some are missing or NaN."
        )
    return pd.DataFrame(wide_values(out, name), out.index, out.columns)
