"""Specific variances: own history, short histories, Bayesian shrinkage, regime."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from skfactor.panel._wide import wide_values
from skfactor.risk._adjustments import (
    PathCarry,
    RegimeCarry,
    advance_regime,
    advance_variance_path,
)
from skfactor.risk._covariance import _check_halflife
from skfactor.utils._numerics import halflife_decay

__all__ = ["SpecificSettings", "SpecificState", "specific_variance"]

N_SIZE_GROUPS = 10  # size deciles of the Bayesian shrinkage


def specific_variance(
    residuals: pd.DataFrame,
    *,
    halflife: float | None = None,
    min_obs: int = 20,
    shrinkage: float = 0.0,
    market_cap: pd.Series | None = None,
    exposures: pd.DataFrame | None = None,
    regime_halflife: float | None = None,
) -> pd.Series:
    r"""Specific (residual) variance of each asset, with the Barra USE4 refinements.

    For asset :math:`i` with :math:`n_i` observed residuals, the weighted
    variance over its own dates, with the weights of
    :func:`factor_covariance` renormalised to sum to one over those dates:

    .. math::

        \hat\sigma_i^2 = \frac{\sum_t w_{it} (e_{it} - \bar e_i)^2}
                              {1 - \sum_t w_{it}^2},

    the sample variance (divisor :math:`n_i - 1`) with equal weights, pandas
    ``ewm(halflife=h).var()`` with a half-life. Then, each step off by
    default:

    1. **Short histories**: an asset with :math:`n_i <` ``min_obs`` gets
       :math:`\lambda_i \hat\sigma_i^2 + (1 - \lambda_i)\, m_i` with
       :math:`\lambda_i = n_i /` ``min_obs`` (0 when :math:`n_i < 2`): shrunk
       in proportion to the history it lacks towards :math:`m_i`, the
       cross-sectional median of :math:`\hat\sigma^2` over the assets with
       full histories or, given ``exposures``, the **structural estimate**:
       the regression of :math:`\log \hat\sigma_j` on the exposures of the
       full-history assets :math:`j` (cap-weighted given ``market_cap``,
       with an intercept), applied to asset :math:`i`,
       :math:`m_i = (E_0\, e^{x_i^\top b})^2` with Duan's smearing factor
       :math:`E_0`, the mean of the fit's exponentiated residuals (the
       USE4 notes use 1.05).
    2. **Bayesian shrinkage** (``shrinkage`` :math:`q > 0`, USE4 uses 0.1):
       with :math:`\bar\sigma_s` the cap-weighted mean volatility of the
       asset's size decile :math:`s` (by ``market_cap``) and
       :math:`\Delta_s` the volatilities' standard deviation around it,
       :math:`\sigma_i \leftarrow v_i \bar\sigma_s + (1 - v_i) \sigma_i`
       with :math:`v_i = q|\sigma_i - \bar\sigma_s| /
       (\Delta_s + q|\sigma_i - \bar\sigma_s|)`: the further from its
       decile's mean, the more it is pulled back.
    3. **Volatility regime adjustment** (``regime_halflife``): the
       cap-weighted (or equal-weighted) cross-sectional bias
       :math:`B_t^2 = \sum_i c_i (e_{it} / \hat\sigma_{i,t-1})^2 / \sum_i c_i`
       of the residuals standardized by the previous date's forecasts
       (those with ``min_obs`` residuals behind them), averaged with
       half-life ``regime_halflife`` as in :class:`FactorCovariance`:
       the variances are multiplied by :math:`\lambda_S^2`.

    Parameters
    ----------
    residuals : DataFrame of shape (n_dates, n_assets)
        Specific returns indexed by date, NaN where the asset has none.
    halflife : float, default=None
        Half-life in dates of the exponential weights; None: equal weights.
    min_obs : int, default=20
        Observations an asset needs to keep its own variance unshrunk.
    shrinkage : float, default=0.0
        Intensity :math:`q \ge 0` of the Bayesian shrinkage; 0: none (the
        raw estimate). Needs ``market_cap``.
    market_cap : Series of shape (n_assets,), default=None
        Each asset's capitalisation (size deciles and cap weights).
    exposures : DataFrame of shape (n_assets, n_factors), default=None
        Exposures indexed by asset: short histories then shrink towards the
        structural estimate rather than the median.
    regime_halflife : float, default=None
        Half-life of the specific volatility regime adjustment; None: none.

    Returns
    -------
    variance : Series of shape (n_assets,)
        Indexed by asset.
    n_obs : Series of shape (n_assets,)
        Number of residuals each estimate used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.risk import specific_variance
    >>> rng = np.random.default_rng(0)
    >>> E = pd.DataFrame(rng.normal(0, 0.05, (60, 3)), columns=["A", "B", "C"])
    >>> E.iloc[:55, 2] = np.nan  # C has 5 months of history
    >>> var, n = specific_variance(E, min_obs=20)
    >>> n.tolist()
    [60, 60, 5]
    >>> bool(np.isclose(var["A"], E["A"].var()))
    True
    >>> cap = pd.Series([1e9, 5e9, 2e9], index=E.columns)
    >>> shrunk, _ = specific_variance(E, shrinkage=0.1, market_cap=cap)
    >>> shrunk.shape
    (3,)
    """
    settings = SpecificSettings.checked(
        halflife, min_obs, shrinkage, market_cap, regime_halflife
    )
    state = SpecificState.start(residuals, settings)
    return state.variance(exposures)


@dataclass(frozen=True)
class SpecificSettings:
    """The checked parameters of :func:`specific_variance`."""

    halflife: float | None
    min_obs: int
    shrinkage: float
    market_cap: pd.Series | None
    regime_halflife: float | None

    @classmethod
    def checked(cls, halflife, min_obs, shrinkage, market_cap, regime_halflife):
        halflife = _check_halflife(halflife)
        if not isinstance(min_obs, numbers.Integral) or isinstance(min_obs, bool):
            raise ValueError(f"`min_obs` must be an integer >= 2; got {min_obs!r}.")
        if min_obs < 2:
            raise ValueError(f"`min_obs` must be an integer >= 2; got {min_obs!r}.")
        if not isinstance(shrinkage, numbers.Real) or not shrinkage >= 0:
            raise ValueError(
                "`shrinkage` must be a number >= 0 (0: no shrinkage); got "
                f"{shrinkage!r}."
            )
        if regime_halflife is not None:
            regime_halflife = _check_halflife(regime_halflife, "regime_halflife")
        return cls(halflife, int(min_obs), shrinkage, market_cap, regime_halflife)


@dataclass(frozen=True)
class SpecificState:
    r"""Each asset's exponentially weighted residual sums, advanced date by date.

    With :math:`u_t = d^{a_t}` the weight of a date :math:`a_t` dates before
    the last: ``w0`` :math:`= \sum u_t`, ``w2`` :math:`= \sum u_t^2`,
    ``s1`` :math:`= \sum u_t e_t`, ``s2`` :math:`= \sum u_t e_t^2` over each
    asset's observed residuals, ``n_obs`` their number, and the carries of
    the regime adjustment's variance path: a few numbers per asset, whatever
    the history.
    """

    settings: SpecificSettings
    assets: pd.Index
    w0: np.ndarray
    w2: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    n_obs: np.ndarray
    path: PathCarry | None
    regime: RegimeCarry | None
    regime_multiplier: float

    @classmethod
    def start(cls, residuals, settings):
        """The sums of ``residuals`` (DataFrame of shape (n_dates, n_assets))."""
        none, count = np.zeros(0), np.zeros(0, dtype=np.int64)
        empty = cls(
            settings,
            residuals.columns[:0],
            none,
            none,
            none,
            none,
            count,
            None,
            None,
            1.0,
        )
        return empty.advance(residuals)

    def advance(self, residuals):
        """The state with the dates of ``residuals`` (later ones) added.

        Its columns are matched by label; assets new to the state are added
        after the others, with no residual before.
        """
        E = given = wide_values(residuals, "residuals")
        assets = residuals.columns
        if not (len(self.assets) == 0 or assets.equals(self.assets)):
            assets = self.assets.append(assets[~assets.isin(self.assets)])
            E = np.full((len(given), len(assets)), np.nan)
            E[:, assets.get_indexer(residuals.columns)] = given
        n_new = len(assets) - len(self.assets)
        grown = [
            np.r_[a, np.zeros(n_new)] for a in (self.w0, self.w2, self.s1, self.s2)
        ]
        decay = halflife_decay(self.settings.halflife)
        v = decay ** (len(E) - 1 - np.arange(len(E)))  # each date's weight
        observed = ~np.isnan(E)
        m = observed.astype(np.float64)
        e = np.where(observed, E, 0.0)
        scale = decay ** len(E)
        w0 = grown[0] * scale + v @ m
        w2 = grown[1] * scale * scale + (v * v) @ m
        s1 = grown[2] * scale + v @ e
        e *= e
        s2 = grown[3] * scale + v @ e
        n_obs = np.r_[self.n_obs, np.zeros(n_new, np.int64)] + observed.sum(axis=0)
        path, regime, lam = self.path, self.regime, 1.0
        if self.settings.regime_halflife is not None:
            cap = _check_cap(self.settings.market_cap, assets, needed=False)
            path, regime = _grown_carries(path, regime, n_new)
            forecast, path = advance_variance_path(
                E, self.settings.halflife, 0, False, path
            )
            lam, _, regime = advance_regime(
                E,
                forecast,
                self.settings.regime_halflife,
                cap,
                self.settings.min_obs,
                regime,
            )
        return replace(
            self,
            assets=assets,
            w0=w0,
            w2=w2,
            s1=s1,
            s2=s2,
            n_obs=n_obs,
            path=path,
            regime=regime,
            regime_multiplier=lam,
        )

    def variance(self, exposures=None):
        """:func:`specific_variance`'s ``(variance, n_obs)`` of the dates added."""
        settings, assets, n_obs = self.settings, self.assets, self.n_obs
        cap = _check_cap(settings.market_cap, assets, needed=settings.shrinkage > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.s1 / self.w0
            var = (self.s2 / self.w0 - mean * mean) / (1.0 - self.w2 / self.w0**2)
        var[n_obs < 2] = np.nan
        min_obs = settings.min_obs
        long = n_obs >= min_obs
        if not long.any():
            raise ValueError(
                f"No asset has `min_obs`={min_obs} residuals (the most is "
                f"{int(n_obs.max(initial=0))}), so there is no median to shrink "
                "short histories towards; lower `min_obs`."
            )
        if exposures is None:
            target = np.median(var[long])
        else:
            target = _structural(var, long, _exposures(exposures, assets), cap)
        lam = np.where(n_obs < 2, 0.0, np.minimum(n_obs / min_obs, 1.0))
        var = np.where(lam > 0, lam * np.nan_to_num(var), 0.0) + (1.0 - lam) * target
        if settings.shrinkage > 0:
            var = _bayesian_shrinkage(np.sqrt(var), cap, float(settings.shrinkage)) ** 2
        var = var * self.regime_multiplier**2
        return (
            pd.Series(var, index=assets, name="specific_variance"),
            pd.Series(n_obs, index=assets, name="n_obs"),
        )


def _grown_carries(path, regime, n_new):
    """The regime carries with ``n_new`` assets, without history, added."""
    if path is None or not n_new:
        return path, regime
    path = path.with_new_columns(n_new)
    regime = replace(
        regime,
        forecast=np.r_[regime.forecast, np.full(n_new, np.nan)],
        n_obs=np.r_[regime.n_obs, np.zeros(n_new, np.int64)],
    )
    return path, regime


def _check_cap(market_cap, assets, needed):
    if market_cap is None:
        if needed:
            raise ValueError(
                "`shrinkage` > 0 shrinks towards the mean volatility of each size "
                "decile: pass `market_cap`, a Series of capitalisations by asset."
            )
        return None
    if not isinstance(market_cap, pd.Series):
        raise TypeError(
            "`market_cap` must be a Series of capitalisations indexed by asset; got "
            f"{type(market_cap).__name__}."
        )
    cap = market_cap.reindex(assets).to_numpy(dtype=np.float64, na_value=np.nan)
    if not (np.isfinite(cap) & (cap > 0)).all():
        bad = assets[~(np.isfinite(cap) & (cap > 0))]
        raise ValueError(
            f"`market_cap` must be positive and finite for every asset; "
            f"{len(bad)} are not (missing, NaN or <= 0), e.g. {bad[:5].tolist()}."
        )
    return cap


def _exposures(exposures, assets):
    if not isinstance(exposures, pd.DataFrame):
        raise TypeError(
            "`exposures` must be a DataFrame of exposures indexed by asset; got "
            f"{type(exposures).__name__}."
        )
    X = exposures.reindex(assets).to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(X).any():
        missing = assets[np.isnan(X).any(axis=1)]
        raise ValueError(
            f"`exposures` has no (or NaN) exposures for {len(missing)} asset(s), "
            f"e.g. {missing[:5].tolist()}; the structural model needs every asset's."
        )
    return X


def _structural(var, long, X, cap):
    """Each asset's structural variance: log volatility regressed on exposures."""
    constant = np.ptp(X, axis=0) == 0
    design = X[:, ~constant]
    design = np.column_stack([np.ones(len(X)), design])
    y = 0.5 * np.log(var[long])
    sw = np.sqrt(np.ones(long.sum()) if cap is None else cap[long])[:, None]
    coef, *_ = np.linalg.lstsq(sw * design[long], sw[:, 0] * y, rcond=None)
    fit = design @ coef
    smear = np.mean(np.exp(y - fit[long]))  # Duan's smearing factor E_0
    return (smear * np.exp(fit)) ** 2


def _bayesian_shrinkage(vol, cap, q):
    """USE4's shrinkage of volatilities to their size decile's cap-weighted mean."""
    n = len(vol)
    ranks = np.argsort(np.argsort(cap, kind="stable"), kind="stable")
    group = ranks * min(N_SIZE_GROUPS, n) // n
    size = np.bincount(group)
    mean = np.bincount(group, cap * vol) / np.bincount(group, cap)
    gap = vol - mean[group]
    spread = np.sqrt(np.bincount(group, gap * gap) / size)[group]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = q * np.abs(gap) / (spread + q * np.abs(gap))
    v = np.nan_to_num(v)  # an asset at its decile's mean keeps its volatility
    return v * mean[group] + (1.0 - v) * vol
