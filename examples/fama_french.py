"""Approach 1 on real data: the Fama-French factors and 3x3 size/value portfolios.

Run: ``pip install -e ".[examples]"`` then ``python examples/fama_french.py
[--output DIR]``. Needs: the ``examples`` extra (linearmodels for the data,
matplotlib for the three figures). The data are Ken French's monthly factors
and portfolio returns, 1949-2017, as shipped by linearmodels
(``linearmodels.datasets.french``).

Nine portfolios, the corners and centre of the 5x5 sort on size (S1 small to
S5 big) and book-to-market (V1 growth to V5 value), are regressed on the
market excess return, SMB and HML:

- the sensitivities (betas) of each portfolio and its alpha;
- the Gibbons-Ross-Shanken test that all nine alphas are zero;
- rolling 60-month betas, to see how stable the sensitivities are.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

try:
    from linearmodels.datasets import french
except ImportError:
    sys.exit(
        "examples/fama_french.py needs linearmodels for its data (Ken French's "
        'factors and portfolios): pip install -e ".[examples]"'
    )

from skfactor import RollingFactorModel, TimeSeriesFactorModel

T0 = time.perf_counter()
FACTORS = ["MktRF", "SMB", "HML"]
PORTFOLIOS = [f"S{s}V{v}" for s in (1, 3, 5) for v in (1, 3, 5)]
pd.set_option("display.width", 120)


def stage(message):
    print(f"\n[{time.perf_counter() - T0:5.1f}s] {message}", flush=True)


def load():
    """Monthly factors and portfolio excess returns, both wide (date x column)."""
    data = french.load()
    dates = pd.DatetimeIndex(data["dates"]).to_period("M").to_timestamp("M")
    data = data.set_index(dates.rename("date"))
    F = data[FACTORS]
    R = data[PORTFOLIOS].sub(data["RF"], axis=0)  # excess returns
    return F, R


def main(output):
    stage("Loading the Fama-French monthly data (linearmodels.datasets.french)")
    F, R = load()
    print(
        f"{len(F)} months, {F.index[0]:%Y-%m} to {F.index[-1]:%Y-%m}; factors "
        f"{FACTORS}; portfolios {PORTFOLIOS}"
    )
    print("Mean monthly return (%) and volatility (%):")
    stats = pd.concat([F, R], axis=1).agg(["mean", "std"]).T * 100
    print(stats.round(2).T.to_string())

    stage("Time-series regressions: R_i - RF = a_i + b_i' (MktRF, SMB, HML) + e_i")
    model = TimeSeriesFactorModel().fit(F, R)
    table = model.params_[FACTORS].copy()  # asset x term
    table.insert(0, "alpha (%/month)", 100 * model.params_["const"])
    table.insert(1, "t(alpha)", model.tvalues_["const"])
    table["R²"] = model.rsquared_
    print("Sensitivities of the nine portfolios:")
    print(table.round(3).to_string())
    print("\nThe full table of one portfolio (small value, S1V5):")
    print(model.summary().loc["S1V5"].round(4).to_string())

    stage("GRS test: are all nine alphas zero?")
    grs = model.grs_
    print(
        f"GRS F({grs.df_num}, {grs.df_denom}) = {grs.statistic:.3f}, "
        f"p-value = {grs.pvalue:.4f}"
    )
    pvalue = grs.pvalue
    verdict = "rejects" if pvalue < 0.05 else "does not reject"
    print(f"At 5%, the test {verdict} that the three factors price these portfolios.")

    stage("Rolling 60-month betas")
    rolling = RollingFactorModel(window=60, store_bse=True).fit(F, R)
    betas = rolling.params_  # (date, asset) x term
    for name in ("S1V5", "S5V1"):
        b = betas.xs(name, level="asset")[FACTORS].dropna()
        summary = b.agg(["min", "median", "max"]).T
        summary["last"] = b.iloc[-1]
        print(f"{name}: rolling betas over {len(b)} windows")
        print(summary.round(3).to_string())

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from skfactor.plotting import plot_cumulative_returns, plot_rolling_betas
    except ImportError:
        print(
            "\nFigures skipped: matplotlib is not installed "
            '(pip install -e ".[examples]" to get them).'
        )
        return
    stage(f"Figures in {output}")
    output.mkdir(parents=True, exist_ok=True)

    def save(ax, name, caption):
        path = output / name
        ax.figure.savefig(path, dpi=110, metadata={"Description": caption})
        plt.close(ax.figure)
        print(f"  wrote {path}")

    ax = plot_cumulative_returns(F, logy=True)
    ax.set_title("Fama-French factors, 1949-2017: growth of 1 (monthly compounding)")
    save(
        ax,
        "ff_cumulative_factor_returns.png",
        "Growth of 1 in each Fama-French factor, 1949-2017, log scale (equal "
        "slopes are equal rates of return): the market far ahead, SMB and HML "
        "smaller premia with long flat or losing stretches (HML after 2007).",
    )
    captions = {
        "S1V5": "Rolling 60-month betas of the small value portfolio (S1V5), "
        "shaded ± 2 standard errors: its SMB and HML betas stay well above 0 "
        "for seventy years, its market beta near 1, all moving by more than "
        "their bands: sensitivities drift.",
        "S5V1": "Rolling 60-month betas of the big growth portfolio (S5V1), "
        "shaded ± 2 standard errors: the mirror image of small value, its SMB "
        "and HML betas below 0 and its market beta near 1.",
    }
    for name, label in (("S1V5", "small value"), ("S5V1", "big growth")):
        ax = plot_rolling_betas(rolling, name)  # bands from rolling.bse_
        ax.set_title(f"Rolling 60-month betas of {name} ({label}), shaded ± 2 s.e.")
        save(ax, f"ff_rolling_betas_{name}.png", captions[name])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNG figures (default: examples/output/)",
    )
    main(parser.parse_args().output)
