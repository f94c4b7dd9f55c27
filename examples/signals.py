"""From factor to signal on real prices: neutralise, combine, decay, attribute.

Run: ``pip install -e ".[examples]"`` then ``python examples/signals.py
[--output DIR]``. Needs: the ``examples`` extra (skfolio for the prices,
matplotlib for the three figures).

The data are skfolio's daily prices of 20 S&P 500 stocks; the last three years
are used. Three characteristics per stock and date: momentum (the return over
the past 120 days, skipping the last 5), volatility (the standard deviation of
the past 60 daily returns) and log price — a stand-in for size, as the data set
has no market capitalisations. We

1. neutralise momentum and volatility against log price, date by date
   (``CrossSectionalNeutralizer``);
2. combine them into one score whose weights are learned from the training
   IC, choosing the weighting by date-aware cross-validation
   (``FactorComposite`` in ``GridSearchCV`` on ``PanelTimeSeriesSplit``), on
   the first 60 % of the dates only;
3. on the remaining 40 % (after a 5-date gap, the training label's length),
   which neither the weights nor the choice of weighting have seen, measure
   how the score's IC decays with the horizon, how fast its ranks change and
   how much its quartiles trade;
4. attribute the realised returns of its long-short portfolio (top minus
   bottom quartile) on those dates to the factors of a cross-sectional model
   fitted on the same characteristics, and write the figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import matplotlib

    matplotlib.use("Agg")
    from skfolio.datasets import load_sp500_dataset
except ImportError as exc:
    sys.exit(
        f"examples/signals.py needs {exc.name} (skfolio for the S&P 500 prices, "
        'matplotlib for the figures): pip install -e ".[examples]"'
    )
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalNeutralizer,
    CrossSectionalZScore,
    FactorComposite,
    QuantilePortfolioFactor,
)
from skfactor.metrics import ic_decay, quantile_turnover, rank_autocorrelation
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns
from skfactor.risk import return_attribution

CHARACTERISTICS = ["momentum", "volatility"]


def load(n_dates=756):
    prices = load_sp500_dataset().iloc[-(n_dates + 130) :]
    returns = prices.pct_change()
    wide = {
        "momentum": prices.shift(5) / prices.shift(125) - 1.0,
        "volatility": returns.rolling(60).std(),
        "lprice": np.log(prices),
    }
    X = pd.concat({k: v.stack() for k, v in wide.items()}, axis=1)
    X.index.names = ["date", "asset"]
    X = X.dropna()
    r = returns.stack(future_stack=True).rename("return")
    r.index.names = ["date", "asset"]
    return X, r.reindex(X.index)


def main(output):
    X, r = load()
    dates = X.index.get_level_values("date").unique()
    print(f"{len(dates)} dates x {X.index.get_level_values('asset').nunique()} stocks")

    # 1. Neutralise against log price (the size stand-in).
    neutral = CrossSectionalNeutralizer(exposures=["lprice"]).fit_transform(X)
    chars = neutral[CHARACTERISTICS]
    check = (neutral["momentum"] * X["lprice"]).groupby(level="date").sum()
    print(
        f"1. neutralised; max |sum momentum x lprice| by date: {check.abs().max():.0e}"
    )

    # 2. Combine, choosing the weighting by cross-validation over the first
    # 60 % of the dates; the rest is held out for steps 3 and 4. The 5-date
    # labels of the last training dates end before the first held-out date.
    fwd = forward_returns(r, 5)
    cut = int(0.6 * len(dates))
    on = chars.index.get_level_values("date")
    train = on < dates[cut - 5]
    held_out = on >= dates[cut]
    labelled = fwd.notna() & train
    search = GridSearchCV(
        make_pipeline(CrossSectionalZScore(), FactorComposite()),
        {"factorcomposite__method": ["equal", "ic", "icir", "max_ir"]},
        cv=PanelTimeSeriesSplit(n_splits=4, gap=5),
    ).fit(chars[labelled], fwd[labelled])
    results = search.cv_results_
    scores = pd.DataFrame(
        {
            "mean IC": results["mean_test_score"],
            "s.d. over folds": results["std_test_score"],
        },
        index=pd.Index(
            [p["factorcomposite__method"] for p in results["params"]], name="weighting"
        ),
    ).sort_values("mean IC", ascending=False)
    print(
        f"2. on the first {cut - 5} dates: mean out-of-sample rank IC (5-day "
        "returns) by weighting, 4 folds:"
    )
    print(scores.round(4).to_string())
    # The winner's lead against the standard error of a 4-fold mean: a lead
    # inside it says the folds cannot tell the weightings apart.
    lead = scores["mean IC"].iloc[0] - scores["mean IC"].iloc[1]
    se = scores["s.d. over folds"].iloc[:2].max() / np.sqrt(4)
    verdict = "more than" if lead > 2 * se else "within"
    print(
        f"   {scores.index[0]} leads {scores.index[1]} by {lead:.4f}, {verdict} "
        f"2 s.e. of a fold mean ({2 * se:.4f})"
        + ("" if verdict == "more than" else ": the choice is noise")
    )
    composite = search.best_estimator_
    print("   weights:", composite[-1].weights_.round(3).to_dict())
    score = composite.transform(chars[held_out])["composite"]
    test_dates = dates[cut:]

    # 3. Decay and turnover on the held-out dates, with the weights of step 2.
    decay = ic_decay(score, r, horizons=(1, 5, 21))
    auto = rank_autocorrelation(score)
    turnover = quantile_turnover(score, n_quantiles=4)
    print(
        f"3. held out: {len(test_dates)} dates ({test_dates[0]:%Y-%m-%d} to "
        f"{test_dates[-1]:%Y-%m-%d}) the weights were not fitted on. IC by horizon "
        "(t: equal-weighted cosine errors with Student t on df degrees of "
        "freedom, as the labels of h > 1 overlap; t_iid treats dates as "
        "independent, t_nw is Newey-West with h - 1 lags):"
    )
    table = decay[["mean", "ir", "t", "p_value", "t_iid", "t_nw"]].round(3)
    table["df"] = decay["df"].astype(int)
    table["n_dates"] = decay["n_dates"].astype(int)
    print(table.to_string())
    print(
        f"   mean rank autocorrelation {auto.mean():.3f}; mean daily turnover of "
        f"the top quartile {turnover[4].mean():.1%}, bottom {turnover[1].mean():.1%}"
    )

    # 4. Attribution of the long-short quartile portfolio, held for a day.
    weights = QuantilePortfolioFactor(n_quantiles=4).fit_transform(score.to_frame())[
        "composite"
    ]
    exposures = CrossSectionalZScore().fit_transform(chars[held_out])
    fwd1 = forward_returns(r, 1)
    fwd1 = fwd1.reindex(exposures.index)
    ok = fwd1.notna()
    model = CrossSectionalFactorModel().fit(exposures[ok], fwd1[ok])
    # factor_returns_ at t explain the returns of t+1: place them at t+1.
    factor_returns = model.factor_returns_.reindex(test_dates).shift(1)
    attribution = return_attribution(
        weights, exposures, factor_returns, r.reindex(exposures.index), lag=1
    )
    total = attribution.cumulative.iloc[-1]
    print("4. held out: cumulative long-short return, split (sums of daily returns):")
    print(total.round(4).to_string())

    import matplotlib.pyplot as plt

    from skfactor.plotting import plot_attribution, plot_ic_decay, plot_turnover

    output.mkdir(parents=True, exist_ok=True)

    def save(ax, name, caption):
        path = output / name
        ax.figure.savefig(path, dpi=110, metadata={"Description": caption})
        plt.close(ax.figure)
        print(f"  wrote {path}")

    save(
        plot_ic_decay(decay),
        "signals_ic_decay.png",
        "Out of sample: mean rank IC of the composite score against 1-, 5- and "
        "21-day forward returns on the last 40 % of the dates, with weights "
        "fitted on the first 60 %, ± 2 standard errors: how long the signal "
        "keeps its information. On 20 stocks the bands are wide.",
    )
    save(
        plot_turnover(turnover, auto),
        "signals_turnover.png",
        "21-day rolling means of the daily turnover of each quartile of the "
        "score (left axis: the share of its names replaced since the day "
        "before) and of the score's rank autocorrelation (dashed, right axis), "
        "on the held-out dates: a slow signal keeps most of its ranks and "
        "trades a small part of each leg a day.",
    )
    save(
        plot_attribution(attribution),
        "signals_attribution.png",
        "The long-short quartile portfolio's cumulative return on the held-out "
        "dates split into the part explained by its factor exposures "
        "(momentum, volatility) and its specific return, summed over days.",
    )
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNG figures (default: examples/output/)",
    )
    main(parser.parse_args().output)
