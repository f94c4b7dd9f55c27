"""Price and volume descriptors, 3,000 assets x 2,520 dates: vs pandas and skfolio.

A long (date, asset) panel of raw fields (returns, caps, volume, shares) with
the holes of real data: 20% of the assets list late, 10% delist early, 1% of
the rows are missing and 1% of the returns and volumes are NaN
(``SKFACTOR_BENCH_SCALE`` shrinks assets and dates).

1. All the price and volume descriptors at their USE4 defaults (``Beta``,
   ``Momentum``, ``Volatility``, ``CumulativeRange``, ``ShareTurnover``)
   against pandas computing the same definitions. ``groupby("asset").rolling``
   has no weighted windows (``win_type``), so the pandas peer works on the
   wide (dates x assets) layout, one column per asset, which is pandas'
   fastest: ``rolling(win_type="exponential").mean`` for the half-life
   weighted means (it drops a missing value's weight, as the definitions
   do), ``rolling().sum`` for the sums. Its time includes the pivot from the
   long panel and back. The largest difference between the two is printed.
2. Each of ``Momentum``, ``Volatility`` and ``Beta`` with the parameters that
   reproduce skfolio's ``EWMomentum``, ``EWVolatility`` and ``EWMarketBeta``
   (a window as long as the history; ``demean=False``; skfolio's market
   given as a Series), against skfolio on the same data, each library from
   its own layout (skfactor the long panel, skfolio an ``AssetPanel``; its
   construction is not timed). On data with holes the numbers differ (skfolio
   freezes an asset's state on a NaN return and resets it on an inactive
   date; skfactor counts the panel's dates); tests/test_descriptors.py checks
   the equality on complete data.

Times are the best of three runs; peak memory is traced (tracemalloc) for one
run, output included, and set against the raw fields' frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _harness import N_ASSETS, N_DATES, measure, print_table

from skfactor.descriptors import (
    Beta,
    CumulativeRange,
    Momentum,
    ShareTurnover,
    Volatility,
)


def raw_fields(n_dates=N_DATES, n_assets=N_ASSETS, seed=0):
    """The long panel of raw fields and its (dates x assets) alive mask."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:05d}" for i in range(n_assets)], name="asset")
    market = rng.normal(0.0003, 0.01, n_dates)
    R = market[:, None] * rng.normal(1.0, 0.3, n_assets) + 0.015 * rng.standard_t(
        5, (n_dates, n_assets)
    )
    R = np.maximum(R, -0.9)
    cap = 1e9 * rng.lognormal(0, 1.5, n_assets) * np.exp(np.cumsum(np.log1p(R), 0))
    shares = rng.uniform(1e7, 1e9, n_assets) * np.ones((n_dates, 1))
    volume = shares * rng.lognormal(np.log(0.005), 0.7, (n_dates, n_assets))
    step = np.arange(n_dates)[:, None]
    alive = np.ones((n_dates, n_assets), dtype=bool)
    late = rng.random(n_assets) < 0.2
    alive &= step >= np.where(late, rng.integers(0, n_dates // 2, n_assets), 0)
    early = rng.random(n_assets) < 0.1
    alive &= step < np.where(
        early, rng.integers(n_dates // 2, n_dates, n_assets), n_dates
    )
    alive &= rng.random((n_dates, n_assets)) >= 0.01
    R[rng.random(R.shape) < 0.01] = np.nan
    volume[rng.random(R.shape) < 0.01] = np.nan
    d, a = np.nonzero(alive)
    index = pd.MultiIndex.from_arrays([dates[d], assets[a]], names=["date", "asset"])
    X = pd.DataFrame(
        {
            "returns": R[d, a],
            "cap": cap[d, a],
            "volume": volume[d, a],
            "shares": shares[d, a],
        },
        index=index,
    )
    return X


# --------------------------------------------------------------- skfactor
STEPS = [Beta(), Momentum(), Volatility(), CumulativeRange(), ShareTurnover()]


def skfactor_all(X):
    """The descriptor frames, one per step (joined, they would be copied)."""
    return [step.fit_transform(X) for step in STEPS]


# ----------------------------------------------------------------- pandas
def _weighted_mean(frame, window, halflife):
    """Half-life weighted mean of each window's present values (pandas)."""
    return frame.rolling(
        window, win_type="exponential", min_periods=-(-window // 2)
    ).mean(tau=halflife / np.log(2), center=window - 1, sym=False)


def pandas_all(X):
    """The same definitions with pandas on the wide layout."""
    full = X.unstack("asset")
    R, C = full["returns"], full["cap"]
    x = np.log1p(R)
    out = {}
    # Beta: WLS slope and residual volatility from weighted means.
    prev = C.shift(1)
    market = (prev * R).sum(axis=1) / prev.where(R.notna()).sum(axis=1)
    market = market.where(prev.where(R.notna()).sum(axis=1) > 0)
    ok = R.notna() & market.notna().to_numpy()[:, None]
    y = R.where(ok)
    m = y * 0 + market.to_numpy()[:, None]

    def wm(f):
        return _weighted_mean(f, 252, 63)

    ym, mm = wm(y), wm(m)
    cov = wm(y * m) - ym * mm
    var_m = wm(m * m) - mm * mm
    out["beta"] = cov / var_m
    out["hsigma"] = np.sqrt((wm(y * y) - ym * ym - out["beta"] * cov).clip(lower=0))
    out["rstr"] = _weighted_mean(x, 504, 126).shift(21)
    mean = _weighted_mean(R, 252, 42)
    out["dastd"] = np.sqrt((_weighted_mean(R * R, 252, 42) - mean * mean).clip(lower=0))
    x0 = x.fillna(0.0)
    z = np.stack(
        [x0.rolling(21 * T, min_periods=1).sum().to_numpy() for T in range(1, 13)]
    )
    count = x.rolling(252, min_periods=0).count()
    out["cmra"] = (x0 * 0 + (z.max(0) - z.min(0))).where(count >= 126)
    tau = full["volume"] / full["shares"]
    month = tau.rolling(21, min_periods=11).sum()
    out["stom"] = np.log(month.where(month > 0))
    for name, n, need in (("stoq", 3, 2), ("stoa", 12, 6)):
        shifted = [month.shift(21 * j) for j in range(n)]
        total = sum(s.fillna(0.0) for s in shifted)
        present = sum(s.notna().astype(float) for s in shifted)
        mean = (total / present).where(present >= need)
        out[name] = np.log(mean.where(mean > 0))
    long = pd.concat({k: v.stack(future_stack=True) for k, v in out.items()}, axis=1)
    return long.reindex(X.index)


# ---------------------------------------------------------------- skfolio
def skfolio_panel(X):
    from skfolio.containers import AssetPanel

    full = X.unstack("asset")
    R, C = full["returns"], full["cap"]
    active = (C.notna()).to_numpy()
    panel = AssetPanel(
        fields={"returns": R.to_numpy(), "market_cap": C.to_numpy()},
        observations=R.index.values,
        asset_names=R.columns.to_numpy(),
        active_mask=active,
    )
    return panel, R, C


def main():
    X = raw_fields()
    raw_mib = X.memory_usage(deep=True).sum() / 2**20
    n_dates = X.index.get_level_values("date").nunique()
    print(
        f"{X.index.get_level_values('asset').nunique():,} assets x {n_dates:,} dates, "
        f"{len(X):,} rows; raw fields frame {raw_mib:.0f} MiB"
    )
    t, peak = measure(lambda: skfactor_all(X), repeat=3)
    tp, peak_p = measure(lambda: pandas_all(X), repeat=3)
    ours = pd.concat(skfactor_all(X), axis=1)
    theirs = pandas_all(X)[list(ours.columns)]
    diff = np.nanmax(np.abs(ours.to_numpy() - theirs.to_numpy()))
    same_nan = np.array_equal(ours.isna().to_numpy(), theirs.isna().to_numpy())
    print_table(
        "All price and volume descriptors (beta, hsigma, rstr, dastd, cmra, stom, "
        "stoq, stoa), USE4 defaults",
        [
            ("skfactor", t, peak, f"peak / raw frame {peak / raw_mib:.1f}x"),
            (
                "pandas, wide rolling",
                tp,
                peak_p,
                f"max abs diff {diff:.1e}, same NaN: {same_nan}",
            ),
        ],
    )
    from skfolio.descriptor import EWMarketBeta, EWMomentum, EWVolatility
    from skfolio.utils.stats import _market_returns

    panel, R, C = skfolio_panel(X)
    market = pd.Series(_market_returns(R.to_numpy(), C.to_numpy()), index=R.index)
    cases = [
        (
            "EWMomentum (half-life 87, skip 21)",
            Momentum(window=n_dates, halflife=87, lag=21, min_periods=87),
            EWMomentum(half_life=87, skip=21),
            "rstr",
        ),
        (
            "EWVolatility (half-life 40)",
            Volatility(window=n_dates, halflife=40, min_periods=40, demean=False),
            EWVolatility(half_life=40),
            "dastd",
        ),
        (
            "EWMarketBeta (half-life 60)",
            Beta(market=market, window=n_dates, halflife=60, min_periods=60),
            EWMarketBeta(half_life=60),
            "beta",
        ),
    ]
    for title, ours_step, peer, _ in cases:
        t, peak = measure(lambda s=ours_step: s.fit_transform(X), repeat=3)
        tp, peak_p = measure(lambda p=peer: p.fit_transform(panel), repeat=3)
        print_table(
            f"{title}",
            [
                ("skfactor", t, peak, "long panel in"),
                (
                    "skfolio",
                    tp,
                    peak_p,
                    "AssetPanel in",
                ),
            ],
        )


if __name__ == "__main__":
    main()
