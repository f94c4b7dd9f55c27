"""FactorRiskModel on 3,000 assets x 2,520 dates x 10 loadings, 5% rows missing.

A CrossSectionalFactorModel is fitted once (not timed); then, side by side:

1. Building the risk model from it (factor covariance, specific variances of
   every asset with shrinkage, exposures on the last date, returns pivoted):
   ``FactorRiskModel.from_model`` against the pandas a user would write
   (``DataFrame.cov``, ``resid.groupby(level="asset").var()``,
   ``X.xs(last_date)``, ``y.unstack()``). Sample weights; and again with a
   half-life and Newey-West lags (pandas: ``ewm(...).cov()`` on every date and
   ``groupby(...).apply(ewm var)``, the usual idiom, timed on a subset of assets
   and scaled linearly).
2. The variance of one portfolio and its factor contributions:
   ``risk_decomposition`` (never forms the 3,000 x 3,000 matrix) against
   ``w @ (B @ S @ B.T + D) @ w`` in numpy.
3. ``asset_covariance`` (PSD by construction) against ``B @ S @ B.T + diag(d)``.
"""

from __future__ import annotations

import warnings

import numpy as np
from _harness import N_ASSETS, N_DATES, measure, print_table, reference_panel

from skfactor import CrossSectionalFactorModel
from skfactor.risk import FactorRiskModel

HALFLIFE, LAGS, MIN_OBS = 126.0, 5, 60
EWM_SUBSET = 200


def pandas_risk(model, X, y, resid):
    last = X.index.get_level_values(0).max()
    B = X.xs(last, level=0)
    B.insert(0, "const", 1.0)
    F = model.params_.dropna()
    S = F.cov()
    d = resid.groupby(level="asset").var().reindex(B.index)
    R = y.unstack()[B.index]
    return B, S, d, R


def pandas_ewm_specific(resid, assets):
    sub = resid[resid.index.get_level_values(1).isin(assets)]
    return sub.groupby(level="asset").apply(
        lambda s: s.ewm(halflife=HALFLIFE).var().iloc[-1]
    )


def main():
    X, y = reference_panel(missing_rows=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CrossSectionalFactorModel().fit(X, y)
    print(f"{N_ASSETS} assets x {N_DATES} dates x {X.shape[1]} loadings")
    # The pandas peer starts from the residuals; skfactor's time includes them.
    resid = model.residuals(X, y)

    rows = [
        (
            "skfactor",
            *measure(lambda: FactorRiskModel.from_model(model, X, y, min_obs=MIN_OBS)),
            "from_model, sample covariance",
        ),
        (
            "pandas",
            *measure(lambda: pandas_risk(model, X, y, resid)),
            "cov, groupby var, xs, unstack (no shrinkage)",
        ),
    ]
    print_table("Building the risk model (equal weights)", rows)

    assets = X.index.get_level_values(1).unique()
    t_sub, _ = measure(
        lambda: pandas_ewm_specific(resid, assets[:EWM_SUBSET]), memory=False
    )
    F = model.params_.dropna()
    t_cov, _ = measure(lambda: F.ewm(halflife=HALFLIFE).cov(), memory=False)
    rows = [
        (
            "skfactor",
            *measure(
                lambda: FactorRiskModel.from_model(
                    model, X, y, halflife=HALFLIFE, lags=LAGS, min_obs=MIN_OBS
                )
            ),
            f"halflife={HALFLIFE:g}, Newey-West lags={LAGS}",
        ),
        (
            "pandas ewm",
            t_cov + t_sub * len(assets) / EWM_SUBSET,
            np.nan,
            f"ewm cov + groupby-apply ewm var ({EWM_SUBSET} assets, scaled); no NW",
        ),
    ]
    print_table("Building the risk model (exponential weights)", rows)

    risk = FactorRiskModel.from_model(model, X, y, min_obs=MIN_OBS)
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(len(risk.assets)))
    B = risk.exposures.to_numpy()
    S = risk.factor_covariance.to_numpy()
    d = risk.specific_variance.to_numpy()
    rows = [
        (
            "skfactor",
            *measure(lambda: risk.risk_decomposition(w), repeat=5),
            "factor and asset contributions",
        ),
        (
            "numpy",
            *measure(lambda: w @ (B @ S @ B.T + np.diag(d)) @ w, repeat=3),
            "total variance only, full N x N matrix",
        ),
    ]
    print_table("Variance of one portfolio", rows)

    rows = [
        (
            "skfactor",
            *measure(lambda: risk.asset_covariance, repeat=3),
            "PSD Gram form",
        ),
        ("numpy", *measure(lambda: B @ S @ B.T + np.diag(d), repeat=3), "B S B' + D"),
    ]
    print_table("Asset covariance", rows)


if __name__ == "__main__":
    main()
