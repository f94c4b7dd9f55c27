"""Rolling 100-day betas of 3,000 assets: skfactor vs statsmodels RollingOLS per asset.

3,000 assets x 2,520 dates x 3 factors, window 100 (``SKFACTOR_BENCH_SCALE``
shrinks assets and dates). Daily returns with the holes of real data: 20% of
the assets list late, 10% delist early, 0.1% of the cells are missing.

statsmodels has no multi-asset rolling regression, so the peer is
``RollingOLS(r_i, add_constant(F), window=100, missing="drop")`` looped over the
assets. It is timed on a subset of assets (best of two runs) and scaled linearly to
all of them (the loop is over independent assets); its peak memory is that of
the subset. skfactor's time is the best of three fits.
Two variants: ``fit(params_only=True)`` (betas only, its fastest) and the
default ``fit()`` (also R², residual variance, standard errors, ... as
skfactor computes; its standard errors: ``bse_``, on first access, timed in
the row "skfactor, bse_ read" with the fit).
skfactor's time includes validation, betas, alphas, R², residual volatility,
the observation counts and what the lazy ``bse_``/``tvalues_``/``pvalues_``
need, with pandas in. The max relative difference of the
betas to statsmodels on the subset is printed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from _harness import N_ASSETS, N_DATES, SCALE, measure, print_table
from statsmodels.regression.rolling import RollingOLS
from statsmodels.tools import add_constant

from skfactor import RollingFactorModel

WINDOW = 100
N_FACTORS = 3
SUBSET = max(int(30 * SCALE), 5)


def daily_returns(n_dates=N_DATES, n_assets=N_ASSETS, seed=0):
    """Factor and asset returns at daily scale, with listings, delistings, holes."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:05d}" for i in range(n_assets)], name="asset")
    F = rng.normal(0.0003, 0.01, (n_dates, N_FACTORS))
    betas = rng.normal([1.0, 0.0, 0.0], [0.3, 0.5, 0.5], (n_assets, N_FACTORS))
    R = 0.0001 + F @ betas.T + 0.015 * rng.standard_t(5, (n_dates, n_assets))
    late = rng.random(n_assets) < 0.2
    start = rng.integers(0, n_dates // 2, n_assets)
    R[np.arange(n_dates)[:, None] < np.where(late, start, 0)] = np.nan
    early = rng.random(n_assets) < 0.1
    stop = rng.integers(n_dates // 2, n_dates, n_assets)
    R[np.arange(n_dates)[:, None] >= np.where(early, stop, n_dates)] = np.nan
    R[rng.random(R.shape) < 0.001] = np.nan
    F = pd.DataFrame(F, dates, ["MKT", "SMB", "HML"])
    return F, pd.DataFrame(R, dates, assets)


def statsmodels_loop(F, R, params_only):
    X = add_constant(F.to_numpy())
    return [
        RollingOLS(R[a].to_numpy(), X, window=WINDOW, missing="drop")
        .fit(params_only=params_only)
        .params
        for a in R.columns
    ]


def main():
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsmodels")
    F, R = daily_returns()
    print(
        f"{R.shape[1]:,} assets x {R.shape[0]:,} dates x {F.shape[1]} factors, "
        f"window {WINDOW}; {np.isnan(R.to_numpy()).mean():.1%} of returns missing"
    )
    model = RollingFactorModel(window=WINDOW)
    t, peak = measure(lambda: model.fit(F, R), repeat=3)
    rows = [
        (
            "skfactor",
            t,
            peak,
            "RollingFactorModel.fit: betas, alphas, R², residual vol, nobs",
        )
    ]
    with_bse = RollingFactorModel(window=WINDOW)
    t, peak = measure(lambda: with_bse.fit(F, R).bse_, repeat=3)
    rows.append(("skfactor, bse_ read", t, peak, "the same and the standard errors"))
    sub = R.iloc[:, :SUBSET]
    scale = R.shape[1] / SUBSET
    for params_only, note in ((True, "fit(params_only=True)"), (False, "fit()")):
        ts, peak_s = measure(
            lambda p=params_only: statsmodels_loop(F, sub, p), repeat=2
        )
        rows.append(
            (
                f"statsmodels RollingOLS, {note}",
                ts * scale,
                peak_s,
                f"looped over assets; {SUBSET} assets timed, x{scale:.0f} linearly",
            )
        )
    model.fit(F, R)
    ref = statsmodels_loop(F, sub, True)
    params = model.params_.to_numpy().reshape(len(F), R.shape[1], -1)
    both = params[:, :SUBSET].transpose(1, 0, 2), np.stack(ref)
    size = np.nanmedian(np.abs(both[1]), axis=(0, 1))  # per term: alpha vs betas
    err = np.nanmax(np.abs(both[0] - both[1]) / (np.abs(both[1]) + size))
    print(
        f"max relative difference to statsmodels (params, {SUBSET} assets): {err:.1e}"
    )
    print_table("Rolling betas (window 100)", rows)


if __name__ == "__main__":
    main()
