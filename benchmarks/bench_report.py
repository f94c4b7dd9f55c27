"""The factor report against alphalens' full tear sheet, on the same panel.

3,000 assets x 2,520 dates (``SKFACTOR_BENCH_SCALE`` shrinks it), one factor
with 5 % NaN, horizons 1, 5 and 21 dates, 5 quantiles. Rows:

- ``FactorReport(...)``: every table (IC, quantile returns demeaned and raw
  with standard errors, spread, autocorrelation, turnover);
- ``FactorReport(...).to_html()``: the tables and the page with its figures;
- alphalens-reloaded: ``get_clean_factor_and_forward_returns`` then
  ``create_full_tear_sheet`` (figures drawn with the Agg backend, not shown).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _harness import measure, print_table, reference_panel  # noqa: E402

from skfactor.report import FactorReport  # noqa: E402

HORIZONS = (1, 5, 21)


def alphalens_tear_sheet(factor, prices):
    from alphalens.tears import create_full_tear_sheet
    from alphalens.utils import get_clean_factor_and_forward_returns

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = get_clean_factor_and_forward_returns(
            factor, prices, periods=HORIZONS, filter_zscore=None, max_loss=1.0
        )
        create_full_tear_sheet(data)
        plt.close("all")


def main():
    X, y = reference_panel(n_chars=1)
    rng = np.random.default_rng(1)
    factor = X["c0"].mask(rng.random(len(X)) < 0.05).rename("factor")
    y = 0.01 * y  # daily returns of about 2 % / 10
    prices = (1.0 + y.unstack()).cumprod()
    print(f"panel: {len(X):,} rows, horizons {HORIZONS}")
    rows = []
    t, peak = measure(lambda: FactorReport(factor, y, horizons=HORIZONS))
    rows.append(("skfactor", t, peak, "FactorReport: every table"))
    t, peak = measure(
        lambda: FactorReport(factor, y, horizons=HORIZONS).to_html(), memory=False
    )
    rows.append(("skfactor + page", t, peak, "tables, figures, HTML page"))
    t, peak = measure(lambda: alphalens_tear_sheet(factor, prices), memory=False)
    rows.append(("alphalens-reloaded", t, peak, "clean data + create_full_tear_sheet"))
    print_table("Factor report vs alphalens' full tear sheet", rows)


if __name__ == "__main__":
    main()
