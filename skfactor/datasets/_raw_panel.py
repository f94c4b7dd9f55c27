"""make_raw_panel: raw market and fundamental fields from a known style-factor model."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from skfactor.utils._sklearn import Interval, validate_params
from skfactor.utils._typing import RandomStateLike

__all__ = ["make_raw_panel"]

STYLES = ["size", "book_to_price", "earnings_yield", "leverage", "growth"]
_LATENT = STYLES[1:]  # the styles the reported fields reveal
_QUARTER_MONTHS = 3


def _cap_zscore(values, cap, listed):
    """Listed assets' ``values``: cap-weighted mean 0, std 1 (ddof=0); others NaN.

    Rows are dates, columns assets.
    """
    values = np.where(listed, values, np.nan)
    w = np.where(listed, cap, 0.0)
    mean = np.nansum(values * w, axis=-1, keepdims=True) / w.sum()
    return (values - mean) / np.nanstd(values, axis=-1, keepdims=True)


def _schedule(rng, quarter_ends, n_assets, lag_days, restated, missing):
    """Who reports which quarter when: asset, quarter, period end, publication.

    A fraction ``missing`` of quarters is never reported; a fraction
    ``restated`` of the reports is published again 5 to 120 days later
    (``restatement`` True).
    """
    n_q = len(quarter_ends)
    q, a = np.meshgrid(np.arange(n_q), np.arange(n_assets), indexing="ij")
    lag = rng.randint(lag_days[0], lag_days[1] + 1, size=q.shape)
    ends = quarter_ends.to_numpy()
    table = pd.DataFrame(
        {
            "asset": a.ravel(),
            "quarter": q.ravel(),
            "period_end": ends[q].ravel(),
            "public_date": (ends[q] + lag.astype("timedelta64[D]")).ravel(),
            "restatement": False,
        }
    )
    table = table[rng.random(len(table)) >= missing]
    again = table[rng.random(len(table)) < restated].copy()
    again["public_date"] += pd.to_timedelta(rng.randint(5, 120, len(again)), "D")
    again["restatement"] = True
    table = pd.concat([table, again], ignore_index=True)
    return table.sort_values(["asset", "public_date", "period_end"], kind="stable")


def _fields(rng, latent, scale, shares):
    """Each quarter's reported fields (n_quarters, n_assets) from the latent values.

    ``scale`` is each asset's market cap at the quarter's end: book value,
    earnings and debt are proportional to it, so the ratios to the cap
    (btop, etop, mlev) reveal the latent values.
    """
    n_q, n_assets, _ = latent.shape
    u_value, u_ey, u_lev, u_growth = np.moveaxis(latent, -1, 0)
    noise = 0.05 * rng.standard_normal((6, n_q, n_assets))
    book = scale * np.exp(-0.6 + 0.4 * u_value + noise[0])
    earnings = scale * (0.02 + 0.01 * u_ey + noise[1] * 0.1) / 4
    cash = earnings * 1.3 + scale * 0.002 * noise[2]
    rate = 0.06 + 0.05 * u_growth  # each quarter's growth rate of sales
    sales_ps = np.exp(2.0 + np.cumsum(rate / 4, axis=0) + noise[3]) / 4
    long_debt = scale * np.exp(-1.0 + 0.5 * u_lev + noise[4])
    total_debt = long_debt * (1.25 + np.abs(noise[5]))
    preferred = np.where(rng.random((n_q, n_assets)) < 0.85, np.nan, 0.02 * scale)
    return {
        "book": book,
        "earnings": earnings,
        "cash_earnings": cash,
        "sales_per_share": sales_ps,
        "eps": earnings / shares,
        "long_term_debt": long_debt,
        "total_debt": total_debt,
        "preferred": preferred,
        "assets": book + total_debt + np.nan_to_num(preferred),
    }


_COUNT = [Interval(Integral, 1, None, closed="left")]
_SCALE = [Interval(Real, 0, None, closed="left")]
_FRACTION = [Interval(Real, 0, 1, closed="left")]


@validate_params(
    {
        **dict.fromkeys(("n_dates", "n_assets", "n_industries"), _COUNT),
        "history_years": [Interval(Integral, 0, None, closed="left")],
        "persistence": [Interval(Real, -1, 1, closed="neither")],
        **dict.fromkeys(
            ("factor_volatility", "industry_volatility", "specific_volatility"),
            _SCALE,
        ),
        "reporting_lag": [tuple],
        **dict.fromkeys(("restated", "missing_quarters", "late_listings"), _FRACTION),
        "start": "no_validation",  # what pandas.bdate_range takes
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_raw_panel(
    n_dates: int = 504,
    n_assets: int = 300,
    n_industries: int = 5,
    *,
    history_years: int = 5,
    persistence: float = 0.9,
    factor_volatility: float = 0.004,
    industry_volatility: float = 0.008,
    specific_volatility: float = 0.02,
    reporting_lag: tuple = (20, 80),
    restated: float = 0.05,
    missing_quarters: float = 0.02,
    late_listings: float = 0.1,
    start: str = "2015-01-02",
    random_state: RandomStateLike = None,
) -> Bunch:
    r"""Raw market and fundamental fields generated from a known style-factor model.

    Each asset has an industry and four latent characteristics (value,
    earnings yield, leverage, growth) that follow an AR(1) across fiscal
    quarters (``persistence``). Each quarter's report, published 20 to 80
    days after the quarter's end (``reporting_lag``), reveals them through
    noisy fields: book value, earnings and cash earnings (quarterly flows),
    sales and earnings per share, long-term and total debt, preferred equity
    (mostly absent) and total assets. A fraction of reports is restated
    later (``restated``, values moved by about 5 %) and some quarters are
    never reported (``missing_quarters``). Reports start ``history_years``
    before the first date, so five-year growth is known from the start.

    The true exposures on date :math:`t` are size, the log market cap, and
    the latent characteristics of each asset's latest published quarter,
    each standardised on :math:`t` (cap-weighted mean 0, equal-weighted
    standard deviation 1). Returns follow

    .. math::

        r_{i,t+1} = g_{\mathrm{ind}(i),t+1} + \sum_k x_{ik,t} f_{k,t+1}
        + \varepsilon_{i,t+1},

    exposures at :math:`t` earning the next date's factor returns (the
    library's convention: today's loadings explain forward returns), and the
    market caps compound the returns (shares outstanding fixed), so size
    moves with them.

    Parameters
    ----------
    n_dates, n_assets, n_industries : int
        Business days, assets and industries.
    history_years : int, default=5
        Years of reports before the first date.
    persistence : float, default=0.9
        AR(1) coefficient of the latent characteristics from quarter to quarter.
    factor_volatility, industry_volatility, specific_volatility : float
        Daily standard deviations of the style factor returns, the industry
        factor returns and the specific returns.
    reporting_lag : (int, int), default=(20, 80)
        Range of days between a quarter's end and its publication.
    restated : float, default=0.05
        Fraction of reports published a second time, 5 to 120 days later.
    missing_quarters : float, default=0.02
        Fraction of quarters never reported.
    late_listings : float, default=0.1
        Fraction of assets listed after the first date (no rows before).
    start : str, default="2015-01-02"
        First business day.
    random_state : int, Generator, RandomState or None
        Seed.

    Returns
    -------
    data : Bunch
        - ``X``: DataFrame indexed by (date, asset) with columns ``returns``
          (from the previous date), ``cap``, ``shares``, ``volume`` and
          ``industry`` (labels ``"I0"``, ...).
        - ``fundamentals``: DataFrame of reports, columns ``asset``,
          ``period_end``, ``public_date`` and the fields (see
          :class:`~skfactor.descriptors.PointInTime`).
        - ``exposures``: DataFrame on ``X``'s index, the true style
          exposures ``size``, ``book_to_price``, ``earnings_yield``,
          ``leverage``, ``growth`` on each date.
        - ``factor_returns``: DataFrame (n_dates, styles then industries),
          the factor returns earned on each date by the previous date's
          exposures.
        - ``specific_returns``: Series on ``X``'s index.

    Examples
    --------
    >>> from skfactor.datasets import make_raw_panel
    >>> data = make_raw_panel(n_dates=20, n_assets=30, random_state=0)
    >>> list(data.X.columns)
    ['returns', 'cap', 'shares', 'volume', 'industry']
    >>> list(data.exposures.columns)
    ['size', 'book_to_price', 'earnings_yield', 'leverage', 'growth']
    """
    if len(reporting_lag) != 2 or not 0 <= reporting_lag[0] <= reporting_lag[1]:
        raise ValueError(
            "`reporting_lag` must be a pair (low, high) of days with 0 <= low <= "
            f"high; got {reporting_lag!r}."
        )
    rng = check_random_state(random_state)
    dates = pd.bdate_range(start, periods=n_dates, name="date")
    first_q = dates[0] - pd.DateOffset(years=history_years, months=_QUARTER_MONTHS)
    quarter_ends = pd.date_range(first_q, dates[-1], freq="QE")
    n_q, k = len(quarter_ends), len(_LATENT)

    innovation = np.sqrt(1.0 - persistence**2)
    shocks = rng.standard_normal((n_q, n_assets, k))
    latent = np.empty_like(shocks)
    latent[0] = shocks[0]
    for q in range(1, n_q):  # quarters, not dates: a few dozen steps
        latent[q] = persistence * latent[q - 1] + innovation * shocks[q]

    shares = np.exp(rng.normal(4.0, 1.0, n_assets))
    price0 = np.exp(rng.normal(3.0, 0.8, n_assets))
    industry = rng.randint(0, n_industries, n_assets)
    base_cap = shares * price0
    table = _schedule(
        rng, quarter_ends, n_assets, reporting_lag, restated, missing_quarters
    )

    # Each date's latent exposures: those of the latest quarter first
    # published on or before it (restatements move the fields, not the truth).
    first_pub = table.drop_duplicates(["asset", "period_end"], keep="first")
    pub = first_pub["public_date"].to_numpy()
    q_of = first_pub["quarter"].to_numpy()
    latest = np.full((n_dates, n_assets), -1)
    day = np.searchsorted(dates.to_numpy(), pub, side="left")
    inside = day < n_dates
    owner = first_pub["asset"].to_numpy()
    np.maximum.at(latest, (day[inside], owner[inside]), q_of[inside])
    before = pub < dates[0].to_datetime64()
    start_q = np.full(n_assets, 0)
    np.maximum.at(start_q, owner[before], q_of[before])
    latest[0] = np.maximum(latest[0], start_q)
    latest = np.maximum.accumulate(latest, axis=0)
    state = latent[latest, np.arange(n_assets)[None, :]]  # (n_dates, n_assets, k)

    styles = factor_volatility * rng.standard_normal((n_dates, len(STYLES)))
    industries = industry_volatility * rng.standard_normal((n_dates, n_industries))
    specific = specific_volatility * rng.standard_normal((n_dates, n_assets))
    cap = np.empty((n_dates, n_assets))
    exposures = np.empty((n_dates, n_assets, len(STYLES)))
    returns = np.full((n_dates, n_assets), np.nan)
    cap[0] = base_cap
    listed = np.where(
        rng.random(n_assets) < late_listings, rng.randint(1, n_dates, n_assets), 0
    )
    for t in range(n_dates):  # caps compound the returns: one step per date
        if t:
            r = industries[t, industry] + specific[t]
            r += np.nan_to_num(exposures[t - 1]) @ styles[t]
            returns[t] = r
            cap[t] = cap[t - 1] * (1.0 + r)
        on = t >= listed
        exposures[t, :, 0] = _cap_zscore(np.log(cap[t]), cap[t], on)
        exposures[t, :, 1:] = _cap_zscore(state[t].T, cap[t], on).T

    # The reports' fields scale with the cap at the quarter's end (the first
    # date's for the quarters before it).
    day_of_end = np.searchsorted(dates.to_numpy(), quarter_ends.to_numpy(), "right")
    fields = _fields(rng, latent, cap[np.maximum(day_of_end - 1, 0)], shares)
    rows = (table["quarter"].to_numpy(), table["asset"].to_numpy())
    again = table["restatement"].to_numpy()
    for name, values in fields.items():
        column = values[rows]
        column[again] *= 1.0 + 0.05 * rng.standard_normal(int(again.sum()))
        table[name] = column
    table = table.drop(columns=["quarter", "restatement"])

    turnover = np.exp(rng.normal(-5.0, 0.5, n_assets) + rng.normal(0, 0.3, cap.shape))
    keep = (np.arange(n_dates)[:, None] >= listed[None, :]).ravel()
    assets = pd.Index([f"A{i:04d}" for i in range(n_assets)], name="asset")
    index = pd.MultiIndex.from_product([dates, assets])[keep]
    X = pd.DataFrame(
        {
            "returns": returns.ravel()[keep],
            "cap": cap.ravel()[keep],
            "shares": np.broadcast_to(shares, cap.shape).ravel()[keep],
            "volume": (turnover * shares).ravel()[keep],
            "industry": np.array([f"I{j}" for j in range(n_industries)])[
                np.broadcast_to(industry, cap.shape).ravel()[keep]
            ],
        },
        index=index,
    )
    table["asset"] = assets[table["asset"].to_numpy()]
    return Bunch(
        X=X,
        fundamentals=table.reset_index(drop=True),
        exposures=pd.DataFrame(
            exposures.reshape(-1, len(STYLES))[keep], index=index, columns=STYLES
        ),
        factor_returns=pd.DataFrame(
            np.column_stack([styles, industries]),
            index=dates,
            columns=STYLES + [f"I{j}" for j in range(n_industries)],
        ),
        specific_returns=pd.Series(
            specific.ravel()[keep], index=index, name="specific_return"
        ),
    )
