"""Hedge a portfolio's market and size exposure with the Fama-French factors.

Run: ``python examples/hedging.py`` (needs matplotlib, the ``plot`` extra, and
linearmodels for the bundled data).

The lecture closes with "Hedging out Exposure": once a portfolio's factor
exposures are known, short the factors' return streams to neutralise them — a
portfolio of value V with exposure beta to a factor shorts beta * V of it.
Here the portfolio is a small-cap value tilt over Ken French's 3x3 size/value
portfolios (monthly excess returns, 1949-2017, bundled with linearmodels). We

1. regress each portfolio on MktRF, SMB and HML (``TimeSeriesFactorModel``);
2. build the risk model Sigma = B Sigma_F B' + D (``FactorRiskModel``) and split
   the portfolio's variance factor by factor;
3. hedge its MktRF and SMB exposures, print the exposures and the risk before
   and after, and plot hedged against unhedged cumulative returns to
   ``examples/output/hedging.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from linearmodels.datasets import french

from skfactor import TimeSeriesFactorModel
from skfactor.risk import FactorRiskModel

OUTPUT = Path(__file__).resolve().parent / "output"
FACTORS = ["MktRF", "SMB", "HML"]
PORTFOLIOS = ["S1V1", "S1V3", "S1V5", "S3V1", "S3V3", "S3V5", "S5V1", "S5V3", "S5V5"]
# Small-cap value tilt: S<size quintile>V<value quintile>, 1 = small / growth.
WEIGHTS = pd.Series({"S1V5": 0.4, "S1V3": 0.2, "S3V5": 0.25, "S5V5": 0.15})


def load():
    data = french.load()
    data.index = pd.DatetimeIndex(pd.to_datetime(data["dates"]), name="date")
    F = data[FACTORS]
    R = data[PORTFOLIOS].sub(data["RF"], axis=0)  # excess returns
    R.columns.name = "asset"
    return F, R


def annualised_vol(monthly_variance):
    return np.sqrt(12 * monthly_variance)


def main():
    F, R = load()
    print(f"{len(F)} months, {F.index[0]:%Y-%m} to {F.index[-1]:%Y-%m}\n")

    model = TimeSeriesFactorModel().fit(F, R)
    risk = FactorRiskModel.from_model(model, F, R)
    print("Portfolio weights:", WEIGHTS.to_dict(), "\n")

    dec = risk.risk_decomposition(WEIGHTS)
    print(
        f"Risk before hedging: {annualised_vol(dec.total_variance):.1%} a year "
        f"(factor {dec.factor_variance / dec.total_variance:.0%} of the variance)"
    )
    print(dec.factors.round(4).to_string(), "\n")

    hedge = risk.hedge(WEIGHTS, targets=["MktRF", "SMB"])
    print("Exposures (betas) before and after hedging MktRF and SMB:")
    print(hedge.exposures.round(4).to_string(), "\n")
    print(
        "Positions per $1 of portfolio: "
        + ", ".join(f"{k} {v:+.3f}" for k, v in hedge.positions.items()),
        "\n",
    )

    # After the hedge the portfolio keeps its assets (same specific risk) and
    # its exposures become b + h: sigma^2 = (b+h)' Sigma_F (b+h) + w' D w.
    b_after = hedge.exposures["after"]
    factor_after = b_after @ risk.factor_covariance @ b_after
    total_after = factor_after + dec.specific_variance
    print(
        f"Risk after hedging: {annualised_vol(total_after):.1%} a year "
        f"(factor {factor_after / total_after:.0%} of the variance, all HML)\n"
    )

    returns = hedge.returns
    refit = TimeSeriesFactorModel().fit(F, returns["hedged"])
    print(
        "Betas of the hedged return series, re-estimated: "
        + ", ".join(
            f"{k} {v:.2g}" for k, v in zip(FACTORS, refit.coef_[0], strict=True)
        )
    )
    realised = returns.std() * np.sqrt(12)
    print(
        f"Realised volatility: unhedged {realised['portfolio']:.1%}, "
        f"hedged {realised['hedged']:.1%} a year"
    )

    plot(returns, OUTPUT / "hedging.png")


def plot(returns, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    growth = (1.0 + returns[["portfolio", "hedged"]]).cumprod()
    vol = returns.std() * np.sqrt(12)
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    ax.plot(
        growth.index,
        growth["portfolio"],
        label=f"Unhedged small-cap value tilt ({vol['portfolio']:.1%} vol a year)",
    )
    ax.plot(
        growth.index,
        growth["hedged"],
        label=f"Hedged: MktRF and SMB betas 0 ({vol['hedged']:.1%} vol a year)",
    )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
    ax.set_ylabel("Growth of $1, monthly excess returns compounded (log scale)")
    ax.set_xlabel("Date")
    ax.set_title(
        "Hedging out market and size exposure (Fama-French 3x3 portfolios, "
        f"{growth.index[0]:%b %Y} to {growth.index[-1]:%b %Y})"
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"Saved {path}")


if __name__ == "__main__":
    main()
