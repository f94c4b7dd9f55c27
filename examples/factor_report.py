"""A factor report in one call: momentum on S&P 500 prices, as a page and figures.

Run: ``pip install -e ".[examples]"`` then ``python examples/factor_report.py
[--output DIR]``. Needs: the ``examples`` extra (skfolio for the prices,
matplotlib for the figures).

The data are skfolio's daily prices of 20 S&P 500 stocks; the last three years
are used. The factor is 120-day momentum skipping the last 5 days. One
``FactorReport`` computes its rank IC at 1, 5 and 21 days with a t that
accounts for overlapping forward returns, the mean return of each quartile
(demeaned and raw, with standard errors), the top-minus-bottom spread, the
turnover and a one-line verdict per horizon; it writes one self-contained HTML
page and its figures. The same page from the command line:
``skfactor report panel.csv --factor momentum --returns ret --quantiles 4``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

try:
    import matplotlib

    matplotlib.use("Agg")
    from skfolio.datasets import load_sp500_dataset
except ImportError as exc:
    sys.exit(
        f"examples/factor_report.py needs {exc.name} (skfolio for the S&P 500 "
        'prices, matplotlib for the figures): pip install -e ".[examples]"'
    )


from skfactor.report import FactorReport

CAPTIONS = {
    "ic": "Rank IC of 120-day momentum (skipping 5 days) on 20 S&P 500 stocks "
    "against 1-, 5- and 21-day forward returns: 21-day rolling means, and each "
    "horizon's overall mean dashed.",
    "quantile_returns": "Mean demeaned forward return of each momentum quartile, "
    "per day held, at each horizon, with two standard errors that treat the "
    "dates as independent.",
}


def main(output):
    prices = load_sp500_dataset().iloc[-3 * 252 :]
    returns = prices.pct_change().iloc[1:]
    momentum = prices.shift(5).pct_change(115, fill_method=None)
    factor = momentum.loc[returns.index].stack().rename("momentum")
    factor.index.names = ["date", "asset"]
    factor = factor.dropna()

    report = FactorReport(factor, returns, quantiles=4, horizons=(1, 5, 21))
    with pd.option_context("display.width", 120, "display.precision", 4):
        print("IC by horizon:")
        print(report.ic_summary[["mean", "t", "p_value", "df", "t_iid", "n_dates"]])
        print("\nMean demeaned return by quartile (bp over the horizon):")
        print((report.mean_return_by_quantile * 1e4).round(1))
    print()
    for line in report.verdict:
        print(line)

    output.mkdir(parents=True, exist_ok=True)
    page = output / "factor_report.html"
    report.to_html(page, title="Momentum on 20 S&P 500 stocks")
    print(f"\n  wrote {page.name}")
    for key, fig in report.figures().items():
        name = key.split("/")[1]
        if name in CAPTIONS:
            path = output / f"factor_report_{name}.png"
            fig.savefig(path, dpi=110, metadata={"Description": CAPTIONS[name]})
            print(f"  wrote {path.name}")
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the page and the PNG figures (default: examples/output/)",
    )
    main(parser.parse_args().output)
