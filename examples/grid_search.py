"""Choose the winsorize limits (and the number of quantiles) by time-series CV.

Run: ``python examples/grid_search.py [--output DIR]`` (a few seconds; it
writes no figure). Needs: nothing beyond skfactor's own dependencies.

The lecture's recipe for prediction: regress *future* returns on *today's*
normalised characteristics, then rank assets by predicted return. Its free
choices — how hard to winsorize, or how many quantiles to sort into when the
loadings are quantile-portfolio weights instead of z-scores — are
hyper-parameters, and the honest way to pick them is cross-validation that
respects time:

- labels: 5-day forward returns (``forward_returns(..., periods=5)``), NaN where
  the future is unknown (the last 5 dates) or where the asset misses one of
  the next 5 dates (holes in the panel); the model fits each date on its
  complete rows and the scorer skips rows without a label;
- folds: ``PanelTimeSeriesSplit(gap=5)`` splits by **date** (every row of a
  date on one side, train before test) and drops 5 dates between train and
  test, so no training label overlaps the test period;
- score: ``ic_scorer``, the mean over test dates of the rank IC.

One ``GridSearchCV`` compares both normalisations: winsorize + z-score with
four winsorize limits, and quantile long-short weights (after a 1 %
winsorize) with 3, 5 or 10 quantiles. The weights act as loadings: predicted
return = expected intercept + weights @ expected factor returns, which ranks
a characteristic's long leg above its middle above its short leg.

The search runs on the first 80 % of the dates. The hold-out starts 5 dates
after the search's last date (an embargo as long as the label horizon, so no
search label overlaps a hold-out label), and the best pipeline is scored there.
Is the winner better, or just luckier? Each candidate's daily test IC is
compared with the winner's, date by date, with a t-statistic that allows for
the overlap of the 5-day labels (equal-weighted cosine errors, Student t
p-values; see ``ic_summary``): differences with p > 0.05 are noise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel
from skfactor.metrics import ic_scorer, ic_summary, information_coefficient
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns

HORIZON = 5  # forward-return horizon in dates; also the embargo between folds
T0 = time.perf_counter()
pd.set_option("display.width", 120)


def stage(message):
    print(f"\n[{time.perf_counter() - T0:5.1f}s] {message}", flush=True)


def describe(params):
    """A short label for one candidate of the grid."""
    step = params["normalize"]
    if isinstance(step, QuantilePortfolioFactor):
        return f"quantiles  n={params['normalize__n_quantiles']}"
    return f"z-score    limits={params['winsorizer__limits']}"


def test_ic(pipe, params, cv, X, y):
    """The per-date rank IC of one candidate on every test date of ``cv``."""
    model = clone(pipe).set_params(**params)
    parts = []
    for train, test in cv.split(X):
        model.fit(X.iloc[train], y.iloc[train])
        pred = model.predict(X.iloc[test])
        parts.append(information_coefficient(y.iloc[test], pred))
    return pd.concat(parts)


def main():
    stage("500 dates x 400 assets from a known 3-factor model, 5-day labels")
    data = make_factor_panel(
        n_dates=500,
        n_assets=400,
        factor_mean=0.001,  # a premium large enough to see in two years
        missing_rows=0.05,
        missing_values=0.01,
        random_state=0,
    )
    X = data.X
    y = forward_returns(data.y, periods=HORIZON)  # one warning: NaN labels
    dates = X.index.get_level_values("date")
    unique = dates.unique().sort_values()
    k = int(0.8 * len(unique))
    # Embargo: the hold-out starts HORIZON dates after the search's last date,
    # so the last search labels (t to t+5) end before the first hold-out date.
    search_rows = dates < unique[k]
    later_rows = dates >= unique[k + HORIZON]
    missing = y.isna().to_numpy()
    at_end = (dates >= unique[-HORIZON]) & missing
    print(
        f"{len(X):,} rows; search on {int(search_rows.sum()):,} rows "
        f"({unique[0]:%Y-%m-%d} to {unique[k - 1]:%Y-%m-%d}), embargo "
        f"{HORIZON} dates, hold out {int(later_rows.sum()):,} rows "
        f"({unique[k + HORIZON]:%Y-%m-%d} to {unique[-1]:%Y-%m-%d})"
    )
    print(
        f"{missing.sum():,} labels NaN ({missing.mean():.1%}): "
        f"{at_end.sum():,} on the last {HORIZON} dates (no future yet) and "
        f"{(missing & ~at_end).sum():,} elsewhere (the asset misses one of the "
        f"next {HORIZON} dates, or its return there is NaN)"
    )

    stage("GridSearchCV over winsorize limits and n_quantiles, 5 date folds")
    pipe = Pipeline(
        [
            ("winsorizer", Winsorizer()),
            ("normalize", CrossSectionalZScore()),
            ("model", CrossSectionalFactorModel()),
        ]
    )
    grid = [
        {
            "normalize": [CrossSectionalZScore()],
            "winsorizer__limits": [0.0, 0.01, 0.025, 0.05],
        },
        {
            "normalize": [QuantilePortfolioFactor()],
            "normalize__n_quantiles": [3, 5, 10],
            "winsorizer__limits": [0.01],
        },
    ]
    cv = PanelTimeSeriesSplit(n_splits=5, gap=HORIZON)
    search = GridSearchCV(pipe, grid, cv=cv, scoring=ic_scorer)
    search.fit(X[search_rows], y[search_rows])

    results = search.cv_results_
    folds = [f"split{k}_test_score" for k in range(cv.n_splits)]
    table = pd.DataFrame(
        {f"fold {k}": results[name] for k, name in enumerate(folds)},
        index=pd.Index([describe(p) for p in results["params"]], name="candidate"),
    )
    table["mean IC"] = results["mean_test_score"]
    table["rank"] = results["rank_test_score"]
    print(table.sort_values("rank").round(4).to_string())
    print("\nbest parameters:", describe(search.best_params_))

    stage("is the winner better than the others by more than noise?")
    X_search, y_search = X[search_rows], y[search_rows]
    daily = pd.DataFrame(
        {
            describe(params): test_ic(pipe, params, cv, X_search, y_search)
            for params in results["params"]
        }
    )
    best = describe(search.best_params_)
    diff = ic_summary(daily.drop(columns=best).rsub(daily[best], axis=0), HORIZON)
    noise = pd.DataFrame(
        {
            "mean IC": daily.drop(columns=best).mean(),
            "winner - it": diff.loc["mean"],
            "s.e.": diff.loc["mean"] / diff.loc["t"],
            "t (EWC)": diff.loc["t"],
            "p": diff.loc["p_value"],
        }
    ).sort_values("winner - it")
    noise.index.name = f"vs winner ({' '.join(best.split())})"
    print(
        f"Daily test IC on the {len(daily)} test dates: the winner's mean "
        f"{daily[best].mean():.4f}; each other candidate's, and the mean "
        "difference:"
    )
    print(noise.round(4).to_string())
    close = noise.index[noise["p"] > 0.05]
    if len(close):
        names = ", ".join(" ".join(c.split()) for c in close)
        print(
            f"Within noise (p > 0.05): {names}. "
            "The data cannot tell "
            "these apart from the winner; any of them is as good a choice."
        )
    else:
        print("The winner beats every other candidate at the 5 % level.")
    print("test dates of each fold:")
    fold_dates = X_search.index.get_level_values("date")
    for k, (train, test) in enumerate(cv.split(X_search)):
        tr, te = fold_dates[train], fold_dates[test]
        print(
            f"  fold {k}: train {tr.min():%Y-%m-%d}..{tr.max():%Y-%m-%d}, "
            f"test {te.min():%Y-%m-%d}..{te.max():%Y-%m-%d}"
        )

    stage("the best pipeline on the held-out dates, after the embargo")
    X_later, y_later = X[later_rows], y[later_rows]
    pred = search.predict(X_later)  # a Series on the held-out rows' index
    ic = information_coefficient(y_later, pred)
    held = ic_summary(ic, HORIZON).round(4).astype(object)
    held["n_dates"], held["df"] = int(held["n_dates"]), int(held["df"])
    print(
        "Daily rank IC on the hold-out (t: equal-weighted cosine errors, as the "
        "labels overlap; t_iid treats dates as independent, t_nw is Newey-West):"
    )
    print(held.to_string())

    stage(f"predictions for the latest date ({unique[-1]:%Y-%m-%d}), no label yet")
    latest = pred.xs(unique[-1], level="date").sort_values(ascending=False)
    p = max(1, len(latest) // 10)  # long the top 10 %, short the bottom 10 %
    print(f"long  {p} assets: {', '.join(latest.index[:5])}, ...")
    print(f"short {p} assets: {', '.join(latest.index[-5:])}, ...")
    print(f"\ndone in {time.perf_counter() - T0:.1f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output", type=Path, help="accepted for a uniform command; no figure"
    )
    parser.parse_args()
    main()
