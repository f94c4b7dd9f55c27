"""TimeSeriesFactorModel on 3,000 assets x 2,520 dates x 5 factors, 10% missing.

Missing returns come as late listings: a third of the assets list after a random
delay (30% of the dates on average), so 10% of the (date, asset) cells are NaN
and two thirds of the assets have complete histories. Peers:

- statsmodels: ``OLS(r, add_constant(F), missing="drop").fit()`` in a loop over
  assets, reading params, bse, tvalues, pvalues and rsquared (skfactor computes
  its ``bse_``, ``tvalues_``, ``pvalues_`` on first access: the row
  "skfactor, inference read" reads them). The loop is timed
  on a subset of assets (best of two runs) and scaled linearly to all of them
  (each asset's fit is independent, so its cost is linear in the number of
  assets).
- linearmodels: ``TradedFactorModel(R, F).fit()`` on the complete-data assets
  only (it needs a balanced panel); compared with skfactor on the same assets.
  Its joint GMM covariance grows with the square of the number of assets, so it
  is timed on a subset of the complete assets and that number is reported as is.

A second skfactor row scatters the 10% of missing cells at random, so that every
asset has holes (no shared solve): the worst case for the masked path.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import statsmodels.api as sm
from _harness import N_ASSETS, N_DATES, measure, print_table

from skfactor import TimeSeriesFactorModel

N_FACTORS = 5
STATSMODELS_SUBSET = 300
LINEARMODELS_SUBSET = 500


def workload(n_assets=N_ASSETS, n_dates=N_DATES, scattered=False, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_dates, name="date")
    F = pd.DataFrame(
        rng.normal(0.0003, 0.01, (n_dates, N_FACTORS)),
        index=dates,
        columns=["MKT", "SMB", "HML", "RMW", "CMA"],
    )
    betas = rng.normal(0.5, 0.5, (N_FACTORS, n_assets))
    values = F.to_numpy() @ betas + 0.02 * rng.standard_t(5, (n_dates, n_assets))
    if scattered:
        values[rng.random(values.shape) < 0.10] = np.nan
    else:
        late = rng.random(n_assets) < 1 / 3
        start = (rng.random(n_assets) * 0.6 * n_dates).astype(int) * late
        values[np.arange(n_dates)[:, None] < start] = np.nan
    R = pd.DataFrame(
        values,
        index=dates,
        columns=pd.Index([f"A{i:05d}" for i in range(n_assets)], name="asset"),
    )
    return F, R


def statsmodels_loop(F, R):
    X = sm.add_constant(F)
    out = []
    for asset in R.columns:
        res = sm.OLS(R[asset], X, missing="drop").fit()
        out.append((res.params, res.bse, res.tvalues, res.pvalues, res.rsquared))
    return out


def main():
    F, R = workload()
    missing = R.isna().to_numpy().mean()
    complete = R.columns[R.notna().all()]
    print(
        f"workload: {R.shape[1]:,} assets x {R.shape[0]:,} dates x {N_FACTORS} "
        f"factors, {missing:.1%} of returns missing, {len(complete):,} complete assets"
    )
    rows = []
    model = TimeSeriesFactorModel()
    t, peak = measure(lambda: model.fit(F, R), repeat=5)
    rows.append(("skfactor", t, peak, "nonrobust, all assets (late listings)"))

    def fit_and_read():
        fitted = TimeSeriesFactorModel().fit(F, R)
        return fitted.bse_, fitted.tvalues_, fitted.pvalues_

    t, peak = measure(fit_and_read, repeat=5)
    rows.append(
        ("skfactor, inference read", t, peak, "the same, bse_/tvalues_/pvalues_ read")
    )

    hc3 = TimeSeriesFactorModel(cov_type="HC3")
    t, peak = measure(lambda: hc3.fit(F, R), repeat=2)
    rows.append(("skfactor HC3", t, peak, "HC3 standard errors, all assets"))

    hac = TimeSeriesFactorModel(cov_type="HAC")
    t, peak = measure(lambda: hac.fit(F, R), repeat=2)
    rows.append(
        (
            "skfactor HAC",
            t,
            peak,
            "Newey-West, statsmodels' default lags per asset (8 at 2,520 dates)",
        )
    )

    Fs, Rs = workload(scattered=True)
    t, peak = measure(lambda: TimeSeriesFactorModel().fit(Fs, Rs), repeat=2)
    rows.append(
        ("skfactor, scattered NaN", t, peak, "10% NaN at random: every asset holey")
    )

    subset = R.columns[:: max(1, R.shape[1] // STATSMODELS_SUBSET)][:STATSMODELS_SUBSET]
    sm_out = statsmodels_loop(F, R[subset])
    t_sub, _ = measure(lambda: statsmodels_loop(F, R[subset]), repeat=2, memory=False)
    scaled = t_sub * R.shape[1] / len(subset)
    rows.append(
        (
            "statsmodels OLS loop",
            scaled,
            np.nan,
            f"{len(subset)} assets timed (best of 2: {t_sub:.2f} s), "
            f"scaled x{R.shape[1] / len(subset):.0f}",
        )
    )
    pos = R.columns.get_indexer(subset)
    ours = np.column_stack([model.intercept_[pos], model.coef_[pos]])
    theirs = np.array([o[0].to_numpy() for o in sm_out])
    bse = np.array([o[1].to_numpy() for o in sm_out])
    print(
        f"vs statsmodels: max |coef diff| {np.max(np.abs(ours - theirs)):.1e} "
        f"(max |coef| {np.max(np.abs(theirs)):.1f}), "
        f"max rel bse diff {np.max(np.abs(model.bse_.to_numpy()[pos] / bse - 1)):.1e}"
    )

    try:
        from linearmodels.asset_pricing import TradedFactorModel
    except ImportError:  # the `bench` extra is not installed
        print("linearmodels not installed: pip install -e '.[bench]'")
    else:
        Rc = R[complete[:LINEARMODELS_SUBSET]]
        t, peak = measure(lambda: TimeSeriesFactorModel().fit(F, Rc), repeat=3)
        lm_rows = [("skfactor", t, peak, f"{Rc.shape[1]} complete assets")]
        t0 = time.perf_counter()
        lm = TradedFactorModel(Rc, F).fit()
        t_lm = time.perf_counter() - t0
        lm_rows.append(
            (
                "linearmodels TradedFactorModel",
                t_lm,
                np.nan,
                f"same {Rc.shape[1]} complete assets (robust GMM covariance)",
            )
        )
        mine = TimeSeriesFactorModel().fit(F, Rc)
        print(
            "max |alpha diff| vs linearmodels: "
            f"{np.max(np.abs(lm.alphas.to_numpy() - mine.intercept_)):.1e}"
        )

        print_table(
            f"TimeSeriesFactorModel vs linearmodels, {Rc.shape[1]} complete assets "
            f"x {R.shape[0]:,} dates x {N_FACTORS} factors",
            lm_rows,
        )

    print_table(
        f"TimeSeriesFactorModel, {R.shape[1]:,} assets x {R.shape[0]:,} dates x "
        f"{N_FACTORS} factors, {missing:.0%} missing",
        rows,
    )


if __name__ == "__main__":
    main()
