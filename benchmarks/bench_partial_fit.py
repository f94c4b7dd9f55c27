"""Daily updates: one date's ``partial_fit`` against a refit on all the dates.

A model in production is refit every day on a history one date longer. Each
row fits the model on all but the last date (not timed), then times, turn
about, the one-date update (``partial_fit`` on the last date, on a fresh copy
of the fitted model) and the refit on every date (``fit``), three runs each,
and prints the medians and their ratio:

- ``TimeSeriesFactorModel`` (``nonrobust`` and ``HC1``, started with
  ``partial_fit``, which keeps the HC sums) on the workload of
  ``bench_time_series.py``: 3,000 assets x 2,520 dates x 5 factors, a third
  of the assets listing late.
- ``FactorCovariance`` with 60 factors and USE4-like settings
  (``halflife=90``, ``corr_halflife=480``, ``lags=2``,
  ``regime_halflife=42``; the eigenfactor adjustment, which re-simulates on
  every update, left out), on 2,520 dates with a few incomplete ones.
- ``RollingFactorModel`` (window 100) on the workload of
  ``bench_rolling.py``: 3,000 assets x 2,520 dates x 3 factors with
  listings, delistings and missing cells.
- ``FactorRiskModel.update`` of the risk model of the time-series model
  (specific variances with a half-life and the regime adjustment) against
  ``FactorRiskModel.from_model`` on all the dates (its first update, which
  builds the factor covariance's state from the history, is not timed).
- ``CrossSectionalFactorModel`` on the reference panel of
  ``bench_cross_sectional.py``: 3,000 assets x 2,520 dates x 10 z-scored
  loadings, 5% of the loading cells NaN (scattered: most dates have
  incomplete rows), ``expected_returns="ewm"``.

``SKFACTOR_BENCH_SCALE`` scales the assets and dates (not the factors).
"""

from __future__ import annotations

import pickle
import statistics
import time
import warnings

import numpy as np
import pandas as pd
from _harness import N_DATES
from bench_cross_sectional import zscored_panel
from bench_rolling import WINDOW, daily_returns
from bench_time_series import workload

from skfactor import (
    CrossSectionalFactorModel,
    RollingFactorModel,
    TimeSeriesFactorModel,
)
from skfactor.risk import FactorCovariance, FactorRiskModel

N_COV_FACTORS = 60
USE4 = {"halflife": 90, "corr_halflife": 480, "lags": 2, "regime_halflife": 42}
RUNS = 3


def compare(name, fitted, method, args, refit):
    """Print the medians of ``RUNS`` one-date updates and refits, turn about.

    Each update runs on a fresh copy of ``fitted`` (the copy is not timed).
    """
    blob = pickle.dumps(fitted)
    updates, refits = [], []
    for _ in range(RUNS):
        model = pickle.loads(blob)
        t0 = time.perf_counter()
        getattr(model, method)(*args)
        updates.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        refit()
        refits.append(time.perf_counter() - t0)
    update, full = statistics.median(updates), statistics.median(refits)
    print(
        f"| {name} | {full * 1e3:.1f} | {update * 1e3:.3f} | {full / update:.0f}x |",
        flush=True,
    )


def factor_returns(n_dates=N_DATES, k=N_COV_FACTORS, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_dates, name="date")
    vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.02, n_dates)))[:, None]
    F = rng.normal(0, 1, (n_dates, k)) * vol
    F[rng.choice(n_dates - 1, 5, replace=False), 0] = np.nan
    return pd.DataFrame(F, index=dates, columns=[f"f{j:02d}" for j in range(k)])


def rolling_row():
    """The rolling betas of ``bench_rolling.py``: one date's windows vs a refit."""
    F, R = daily_returns()
    head, last = slice(0, len(F) - 1), slice(len(F) - 1, None)
    compare(
        f"RollingFactorModel(window={WINDOW})",
        RollingFactorModel(window=WINDOW).fit(F[head], R[head]),
        "partial_fit",
        (F[last], R[last]),
        lambda: RollingFactorModel(window=WINDOW).fit(F, R),
    )


def main():
    warnings.simplefilter("ignore")  # late listings' first dates warn
    F, R = workload()
    print(
        f"time series: {R.shape[1]:,} assets x {R.shape[0]:,} dates x "
        f"{F.shape[1]} factors; covariance: {N_COV_FACTORS} factors x "
        f"{len(F):,} dates; medians of {RUNS} alternating runs"
    )
    print("\n| model | refit (ms) | one-date update (ms) | refit / update |")
    print("|---|---:|---:|---:|")
    head, last = slice(0, len(F) - 1), slice(len(F) - 1, None)
    for cov_type in ("nonrobust", "HC1"):
        # fit keeps the nonrobust sums; a robust model starts with partial_fit
        model = TimeSeriesFactorModel(cov_type=cov_type).partial_fit(F[head], R[head])
        compare(
            f"TimeSeriesFactorModel({cov_type})",
            model,
            "partial_fit",
            (F[last], R[last]),
            lambda c=cov_type: TimeSeriesFactorModel(cov_type=c).fit(F, R),
        )
    G = factor_returns(len(F))
    cov = FactorCovariance(**USE4).fit(G[head])
    compare(
        "FactorCovariance(USE4-like)",
        cov,
        "partial_fit",
        (G[last],),
        lambda: FactorCovariance(**USE4).fit(G),
    )
    rolling_row()
    cross_sectional_row()
    model = TimeSeriesFactorModel().fit(F, R)
    kept = model.params_.notna().all(axis=1).to_numpy()
    model = TimeSeriesFactorModel().fit(F, R.loc[:, kept])
    Rk = R.loc[:, kept]
    options = {"halflife": 90, "specific_regime_halflife": 42}
    # the first update builds the covariance's state from the history: done
    # once, on the date before the last, and not timed
    risk = FactorRiskModel.from_model(model, F[:-2], Rk[:-2], **options)
    risk.update(F[-2:-1], Rk[-2:-1])
    compare(
        "FactorRiskModel.update",
        risk,
        "update",
        (F[last], Rk[last]),
        lambda: FactorRiskModel.from_model(model, F, Rk, **options),
    )


def cross_sectional_row():
    """One date's ``partial_fit`` of the cross-sectional model against a refit."""
    Z, y = zscored_panel(nan_fraction=0.05)
    dates = Z.index.get_level_values(0)
    last = (dates == dates.max()).nonzero()[0]
    head = np.arange(last[0])  # the panel is sorted by date
    params = {"expected_returns": "ewm", "halflife": 63.0}
    model = CrossSectionalFactorModel(**params).fit(Z.iloc[head], y.iloc[head])
    compare(
        "CrossSectionalFactorModel(ewm)",
        model,
        "partial_fit",
        (Z.iloc[last], y.iloc[last]),
        lambda: CrossSectionalFactorModel(**params).fit(Z, y),
    )


if __name__ == "__main__":
    main()
