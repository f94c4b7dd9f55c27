"""A Barra-style risk model from raw fields, out to its out-of-sample bias statistics.

Run: ``pip install -e ".[examples]"`` then ``python examples/barra_style.py
[--output DIR]``. Needs: the ``examples`` extra (skfolio for the S&P 500
prices, matplotlib for the figures).

The whole USE4 / CNE5 chain on a generated universe whose truth is known
(``skfactor.datasets.make_raw_panel``: 3,000 assets, 10 years of business
days, quarterly reports published late and sometimes restated):

1. raw fields -> point-in-time fundamentals (``PointInTime``: each date sees
   the reports public by then, trailing-twelve-month sums, five fiscal years
   of history);
2. -> descriptors (``Size``, ``BookToPrice``, ``EarningsYield``,
   ``Leverage``, ``Growth``, ``NonlinearSize``);
3. -> style exposures (``StyleExposures``: standardised, capped, combined,
   orthogonalised), plus industry dummies;
4. -> factor returns: one regression per date of the next date's returns,
   weighted by sqrt(cap), industries constrained to sum to zero
   (``CrossSectionalFactorModel``); their correlation with the true factor
   returns is printed;
5. -> the factor covariance (``FactorCovariance`` with USE4's daily
   half-lives, Newey-West lags and the volatility regime adjustment) and the
   specific risk, refitted every month on the data up to then, and their
   out-of-sample bias statistics with each date's own exposures
   (``evaluate_factor_risk_forecast``).

Then the price descriptors (beta, momentum, volatility, cumulative range)
on skfolio's daily prices of 20 S&P 500 stocks, as a small table. The
figures go to ``examples/output/barra_style_*.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import matplotlib

    matplotlib.use("Agg")
    from skfolio.datasets import load_sp500_dataset
except ImportError as exc:
    sys.exit(
        f"examples/barra_style.py needs {exc.name} (skfolio for the S&P 500 "
        'prices, matplotlib for the figures): pip install -e ".[examples]"'
    )

from skfactor import CrossSectionalFactorModel
from skfactor.datasets import make_raw_panel
from skfactor.descriptors import (
    Beta,
    BookToPrice,
    CumulativeRange,
    EarningsYield,
    Growth,
    Leverage,
    Momentum,
    NonlinearSize,
    PointInTime,
    Size,
    StyleExposures,
    Volatility,
)
from skfactor.panel import forward_returns
from skfactor.risk import FactorCovariance, evaluate_factor_risk_forecast

T0 = time.perf_counter()
OUTPUT = Path(__file__).resolve().parent / "output"
pd.set_option("display.width", 120)
# make_raw_panel's truth -> the style StyleExposures makes from its descriptors
STYLES = ["size", "book_to_price", "earnings_yield", "leverage", "growth"]


def stage(message):
    print(f"\n[{time.perf_counter() - T0:5.1f}s] {message}", flush=True)


def exposures_from_raw(data):
    """Raw fields -> point in time -> descriptors -> styles, plus industries."""
    market = data.X.drop(columns="industry")  # returns, cap, shares, volume
    flows = ["earnings", "cash_earnings", "sales_per_share", "eps"]
    pit = PointInTime(data.fundamentals, ttm=flows, history=["sales_per_share", "eps"])
    fields = pit.fit_transform(market)
    steps = [
        Size(),
        BookToPrice(),
        EarningsYield(),
        Leverage(),
        Growth(),
        NonlinearSize(),
    ]
    descriptors = pd.concat([s.fit_transform(fields) for s in steps], axis=1)
    descriptors["cap"] = fields["cap"]
    print(f"descriptors: {list(descriptors.columns[:-1])}")
    styles = StyleExposures().fit_transform(descriptors)
    dummies = pd.get_dummies(data.X["industry"], dtype=float)
    loadings = pd.concat([styles, dummies], axis=1)
    loadings["sqrt_cap"] = np.sqrt(market["cap"])
    return loadings, list(dummies.columns)


def factor_returns(data, loadings, industries):
    """Per-date regressions of the next date's returns on today's exposures."""
    model = CrossSectionalFactorModel(
        fit_intercept=False, weights="sqrt_cap", industries=industries
    )
    y = forward_returns(data.X["returns"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the last date has no forward return
        model.fit(loadings, y)
        resid = model.residuals(loadings, y)
    # the truth at t is earned on t by t - 1's exposures; the model's at t on t + 1
    truth = data.factor_returns.shift(-1).reindex(model.factor_returns_.index)
    return model, y, resid, truth


def risk_evaluation(model, loadings, y, resid, n_assets=300, seed=0):
    """USE4's daily factor covariance and specific risk, evaluated out of sample.

    The factor returns come from all the stocks; the forecasts are evaluated
    on portfolios of ``n_assets`` stocks listed throughout (a portfolio holding
    a stock not yet listed has no forecast): single stocks and random
    long-short portfolios. Each costs a product with every date's exposures,
    so a sample of stocks stands in for all 3,000.
    """
    dates = model.factor_returns_.dropna(how="all").index
    returns = y.unstack("asset").reindex(dates)
    listed = returns.columns[returns.notna().all().to_numpy()]
    rng = np.random.default_rng(seed)
    sample = pd.Index(np.sort(rng.choice(listed, n_assets, replace=False)))
    returns = returns[sample]
    residuals = resid.unstack("asset").reindex(index=dates, columns=sample)
    exposures = loadings[model.feature_names_in_[:-1]]  # the model's loadings
    rows = exposures.index
    exposures = exposures[
        rows.get_level_values("date").isin(dates)
        & rows.get_level_values("asset").isin(sample)
    ]
    singles = pd.DataFrame(np.eye(n_assets), index=sample, columns=sample)
    covariance = FactorCovariance(
        halflife=90, corr_halflife=480, lags=2, regime_halflife=42
    )
    return evaluate_factor_risk_forecast(
        returns,
        exposures,
        model.factor_returns_.reindex(dates),
        residuals,
        covariance,
        singles.iloc[:50],
        halflife=90,
        min_dates=504,
        max_dates=1260,
        step=21,
        n_random=50,
        window=126,
    )


def price_descriptors():
    """Beta, momentum, volatility and range of 20 S&P 500 stocks, last date."""
    prices = load_sp500_dataset()
    returns = prices.pct_change().iloc[1:]
    returns.index.name, returns.columns.name = "date", "asset"
    panel = returns.stack().rename("returns").to_frame()
    caps = prices.iloc[1:].stack()  # prices as caps: skfolio gives no shares
    panel["cap"] = caps.reindex(panel.index).to_numpy()
    steps = [Beta(), Momentum(), Volatility(), CumulativeRange()]
    out = pd.concat([s.fit_transform(panel) for s in steps], axis=1)
    last = out.index.get_level_values("date").max()
    print(
        f"{returns.shape[1]} stocks, {len(returns)} days; "
        f"descriptors on {last:%Y-%m-%d}:"
    )
    table = out.xs(last, level="date").sort_values("beta")
    print(table.to_string(float_format="{:.4f}".format))


def main(output):
    stage("A generated universe: 3,000 assets x 10 years of raw fields and reports")
    data = make_raw_panel(n_dates=2520, n_assets=3000, n_industries=10, random_state=0)
    print(
        f"{len(data.X):,} rows, {len(data.fundamentals):,} reports; true factors: "
        f"{list(data.factor_returns.columns)}"
    )

    stage("Raw fields -> PointInTime -> descriptors -> StyleExposures + industries")
    loadings, industries = exposures_from_raw(data)
    print(f"loadings: {list(loadings.columns)}")

    stage("Factor returns: CrossSectionalFactorModel, sqrt(cap) weights, industries")
    model, y, resid, truth = factor_returns(data, loadings, industries)
    recovered = model.factor_returns_
    table = pd.DataFrame(
        {
            "correlation with the truth": [recovered[s].corr(truth[s]) for s in STYLES],
            "true vol (ann. %)": [truth[s].std() * np.sqrt(252) * 100 for s in STYLES],
            "recovered vol (ann. %)": [
                recovered[s].std() * np.sqrt(252) * 100 for s in STYLES
            ],
        },
        index=STYLES,
    )
    print(table.round(3).to_string())

    stage("Risk: FactorCovariance (USE4) + specific variances, out of sample")
    evaluation = risk_evaluation(model, loadings, y, resid)
    print(pd.Series(evaluation.summary).round(3).to_string())
    print(
        "A bias statistic near 1 means the forecast volatility matched the "
        "realised one; 'within_band' is the share of portfolios inside 1 +- sqrt(2/T)."
    )

    stage("Price descriptors on skfolio's S&P 500 prices")
    price_descriptors()

    plot(recovered, truth, evaluation, output)
    stage("done")


def plot(recovered, truth, evaluation, output):
    import matplotlib.pyplot as plt

    from skfactor.plotting import plot_bias_statistics, plot_cumulative_returns

    output.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(
        len(STYLES),
        1,
        figsize=(9, 2.2 * len(STYLES)),
        sharex=True,
        layout="constrained",
    )
    for ax, style in zip(axes, STYLES, strict=True):
        both = pd.DataFrame({"recovered": recovered[style], "true": truth[style]})
        plot_cumulative_returns(both.dropna(), ax=ax)
        ax.set_title("")
        ax.set_title(f"{style}: cumulative return, recovered vs true", loc="left")
    path = output / "barra_style_factor_returns.png"
    caption = (
        "Cumulative returns of the five style factors recovered by the per-date "
        "regressions on exposures built from raw fields and point-in-time "
        "reports, against the true factor returns of the generated universe."
    )
    save(fig, path, caption)

    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    plot_bias_statistics({"USE4 factor covariance + specific risk": evaluation}, ax=ax)
    ax.set_title("Rolling bias statistic, out of sample, each date's own exposures")
    path = output / "barra_style_bias.png"
    caption = (
        "Rolling bias statistic of the risk model's forecasts for single assets "
        "and random portfolios, median and 10-90 % band across portfolios: near 1 "
        "the forecast volatility matched the realised one."
    )
    save(fig, path, caption)


def save(fig, path, caption):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, metadata={"Description": caption})
    plt.close(fig)
    print(f"Saved {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    main(parser.parse_args().output)
