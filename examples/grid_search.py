"""Choose the winsorize limits (and the number of quantiles) by time-series CV.

Run: ``python examples/grid_search.py`` (a few seconds).

The lecture's recipe for prediction: regress *future* returns on *today's*
normalised characteristics, then rank assets by predicted return. Its free
choices — how hard to winsorize, or how many quantiles to sort into when the
loadings are quantile-portfolio weights instead of z-scores — are
hyper-parameters, and the honest way to pick them is cross-validation that
respects time:

- labels: 5-day forward returns (``forward_returns(..., periods=5)``), NaN where
  the future is unknown; the model fits each date on its complete rows and the
  scorer skips rows without a label;
- folds: ``PanelTimeSeriesSplit(gap=5)`` splits by **date** (every row of a
  date on one side, train before test) and drops 5 dates between train and
  test, so no training label overlaps the test period;
- score: ``ic_scorer``, the mean over test dates of the rank IC.

One ``GridSearchCV`` compares both normalisations: winsorize + z-score with
four winsorize limits, and quantile long-short weights (after a 1 %
winsorize) with 3, 5 or 10 quantiles. The weights act as loadings: predicted
return = expected intercept + weights @ expected factor returns, which ranks
a characteristic's long leg above its middle above its short leg. The search
runs on the first 80 % of the dates; the best pipeline is then scored on the
last 20 %, which the search never saw, and predicts the latest dates.
"""

from __future__ import annotations

import time

import pandas as pd
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
    y = forward_returns(data.y, periods=HORIZON)  # NaN on the last 5 dates
    dates = X.index.get_level_values("date")
    unique = dates.unique().sort_values()
    cut = unique[int(0.8 * len(unique))]
    search_rows, later_rows = dates < cut, dates >= cut
    print(
        f"{len(X):,} rows; search on {int(search_rows.sum()):,} rows before "
        f"{cut:%Y-%m-%d}, hold out {int(later_rows.sum()):,}; "
        f"{int(y.isna().sum()):,} labels unknown (NaN)"
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
    print("test dates of each fold:")
    X_search = X[search_rows]
    fold_dates = X_search.index.get_level_values("date")
    for k, (train, test) in enumerate(cv.split(X_search)):
        tr, te = fold_dates[train], fold_dates[test]
        print(
            f"  fold {k}: train {tr.min():%Y-%m-%d}..{tr.max():%Y-%m-%d}, "
            f"test {te.min():%Y-%m-%d}..{te.max():%Y-%m-%d}"
        )

    stage("the best pipeline on the held-out 20 % of the dates")
    X_later, y_later = X[later_rows], y[later_rows]
    pred = search.predict(X_later)  # a Series on the held-out rows' index
    ic = information_coefficient(y_later, pred)
    print(ic_summary(ic).round(4).to_string())

    stage(f"predictions for the latest date ({unique[-1]:%Y-%m-%d}), no label yet")
    latest = pred.xs(unique[-1], level="date").sort_values(ascending=False)
    p = max(1, len(latest) // 10)  # long the top 10 %, short the bottom 10 %
    print(f"long  {p} assets: {', '.join(latest.index[:5])}, ...")
    print(f"short {p} assets: {', '.join(latest.index[-5:])}, ...")
    print(f"\ndone in {time.perf_counter() - T0:.1f}s")


if __name__ == "__main__":
    main()
