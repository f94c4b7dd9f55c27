"""make_factor_panel: a synthetic (date, asset) panel from a known factor model."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sklearn.utils import Bunch, check_random_state

from skfactor.utils._sklearn import Interval, validate_params
from skfactor.utils._typing import RandomStateLike

__all__ = ["make_factor_panel"]


def _zscore_rows(a):
    mu = a.mean(axis=1, keepdims=True)
    sd = a.std(axis=1, keepdims=True)
    return (a - mu) / sd


@validate_params(
    {
        "n_dates": [Interval(Integral, 1, None, closed="left")],
        "n_assets": [Interval(Integral, 1, None, closed="left")],
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "factor_names": ["array-like", None],
        "persistence": [Interval(Real, -1, 1, closed="neither")],
        "tail_df": [Interval(Real, 0, None, closed="neither")],
        "outlier_fraction": [Interval(Real, 0, 1, closed="both")],
        "outlier_scale": [Interval(Real, 0, None, closed="left")],
        "factor_volatility": [Interval(Real, 0, None, closed="left")],
        "factor_mean": [Real],
        "market_volatility": [Interval(Real, 0, None, closed="left")],
        "specific_volatility": [Interval(Real, 0, None, closed="left")],
        "missing_rows": [Interval(Real, 0, 1, closed="left")],
        "missing_values": [Interval(Real, 0, 1, closed="left")],
        "start": "no_validation",  # anything pandas.bdate_range takes
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_factor_panel(
    n_dates: int = 252,
    n_assets: int = 500,
    n_factors: int = 3,
    *,
    factor_names: Sequence[str] | None = None,
    persistence: float = 0.98,
    tail_df: float = 4.0,
    outlier_fraction: float = 0.005,
    outlier_scale: float = 25.0,
    factor_volatility: float = 0.004,
    factor_mean: float = 0.0004,
    market_volatility: float = 0.01,
    specific_volatility: float = 0.02,
    missing_rows: float = 0.0,
    missing_values: float = 0.0,
    start: str = "2015-01-02",
    random_state: RandomStateLike = None,
) -> Bunch:
    r"""Generate a panel of characteristics and returns from a known factor model.

    For assets :math:`i` and business days :math:`t`, each raw characteristic
    :math:`c_{ikt}` follows a persistent AR(1) across dates with Student-t
    innovations (fat tails), and a fraction of cells is multiplied by
    ``outlier_scale`` (data errors, as real fundamentals have). The true
    loading is that characteristic winsorized at 1 % and z-scored on each date,
    :math:`b_{ikt} = z_t(\mathrm{winsor}_t(c_{ikt}))`, and

    .. math::

        r_{it} = m_t + \sum_k b_{ikt} f_{kt} + \varepsilon_{it},

    with market return :math:`m_t`, factor returns :math:`f_{kt}` and
    specific returns :math:`\varepsilon_{it}` independent Gaussians. The
    Approach-2 pipeline (``Winsorizer`` → ``CrossSectionalZScore`` →
    ``CrossSectionalFactorModel``) therefore recovers :math:`f` up to the
    estimation error of one cross-sectional regression per date, about
    ``specific_volatility / sqrt(n_assets)``.

    Parameters
    ----------
    n_dates, n_assets, n_factors : int
        Panel size and number of characteristics.
    factor_names : list of str, optional
        Names of the characteristics; default ``["value", "size", "momentum",
        "quality", "volatility", "f5", ...]``.
    persistence : float, default=0.98
        AR(1) coefficient of each characteristic from one date to the next.
    tail_df : float, default=4.0
        Degrees of freedom of the Student-t innovations (smaller: fatter tails).
    outlier_fraction, outlier_scale : float
        Fraction of characteristic cells scaled by ``outlier_scale``.
    factor_volatility, factor_mean : float
        Daily standard deviation and mean of each factor return.
    market_volatility, specific_volatility : float
        Daily standard deviations of the market and specific returns.
    missing_rows : float, default=0.0
        Fraction of (date, asset) rows removed (an unbalanced panel).
    missing_values : float, default=0.0
        Fraction of characteristic cells set to NaN among the rows kept.
    start : str, default="2015-01-02"
        First business day.
    random_state : int, Generator, RandomState or None
        Seed.

    Returns
    -------
    data : Bunch
        - ``X``: DataFrame (n_rows, n_factors), the raw characteristics, indexed
          by a (date, asset) MultiIndex named ``("date", "asset")``.
        - ``y``: Series (n_rows,), the returns ``r_{it}``, same index.
        - ``loadings``: DataFrame like ``X``, the true loadings ``b_{ikt}``
          (computed before any value is set missing).
        - ``factor_returns``: DataFrame (n_dates, n_factors), the true ``f_{kt}``.
        - ``market``: Series (n_dates,), the market return ``m_t``.
        - ``specific_returns``: Series like ``y``, ``epsilon_{it}``.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=10, n_assets=50, missing_rows=0.1,
    ...                          random_state=0)
    >>> data.X.index.names
    FrozenList(['date', 'asset'])
    >>> data.factor_returns.shape
    (10, 3)
    """
    defaults = ["value", "size", "momentum", "quality", "volatility"]
    if factor_names is None:
        factor_names = (defaults + [f"f{k}" for k in range(5, n_factors)])[:n_factors]
    if len(factor_names) != n_factors:
        raise ValueError(
            f"`factor_names` has {len(factor_names)} names for {n_factors} factors."
        )
    rng = check_random_state(random_state)

    # Characteristics: AR(1) across dates, fat-tailed innovations, rare outliers.
    shocks = rng.standard_t(tail_df, size=(n_dates, n_assets, n_factors))
    shocks /= np.sqrt(tail_df / (tail_df - 2.0)) if tail_df > 2 else 1.0
    innovation = np.sqrt(1.0 - persistence**2)
    shocks[0] /= innovation  # start from the stationary distribution
    raw = lfilter([innovation], [1.0, -persistence], shocks, axis=0)
    outlier = rng.random(raw.shape) < outlier_fraction
    raw = np.where(outlier, raw * outlier_scale, raw)

    # True loadings: winsorize at 1% (scipy's rule) then z-score, per date.
    lo_k = int(0.01 * n_assets)
    hi_k = n_assets - 1 - int(0.01 * n_assets)
    ordered = np.sort(raw, axis=1)
    clipped = np.clip(raw, ordered[:, lo_k : lo_k + 1], ordered[:, hi_k : hi_k + 1])
    loadings = _zscore_rows(clipped)

    factors = factor_mean + factor_volatility * rng.standard_normal(
        (n_dates, n_factors)
    )
    market = market_volatility * rng.standard_normal(n_dates)
    specific = specific_volatility * rng.standard_normal((n_dates, n_assets))
    returns = market[:, None] + np.einsum("tik,tk->ti", loadings, factors) + specific

    dates = pd.bdate_range(start, periods=n_dates, name="date")
    assets = pd.Index([f"A{i:05d}" for i in range(n_assets)], name="asset")
    index = pd.MultiIndex.from_product([dates, assets])
    keep = rng.random(n_dates * n_assets) >= missing_rows
    index = index[keep]

    X = pd.DataFrame(
        raw.reshape(-1, n_factors)[keep], index=index, columns=factor_names
    )
    if missing_values:
        X = X.mask(rng.random(X.shape) < missing_values)
    return Bunch(
        X=X,
        y=pd.Series(returns.reshape(-1)[keep], index=index, name="return"),
        loadings=pd.DataFrame(
            loadings.reshape(-1, n_factors)[keep], index=index, columns=factor_names
        ),
        factor_returns=pd.DataFrame(factors, index=dates, columns=factor_names),
        market=pd.Series(market, index=dates, name="market"),
        specific_returns=pd.Series(
            specific.reshape(-1)[keep], index=index, name="specific_return"
        ),
    )
