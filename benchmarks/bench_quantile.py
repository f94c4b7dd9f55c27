"""Quantile portfolios on the reference panel: skfactor vs the lecture's pandas.

3,000 assets x 2,520 dates x 2 characteristics (c0 playing market cap, c1
book-to-price), daily returns. Peers:

- the lecture's procedure in pandas: each day rank each characteristic
  (``groupby(level=0).rank``), take the top 1,000 and the bottom 1,000 (zipline's
  ``top``/``bottom``: one descending and one ascending rank), and average the
  returns of each leg with ``groupby(level=0).mean()``; SMB = smallest - biggest,
  HML = highest - lowest;
- the same with one rank per characteristic (``rank > count - 1000``), the
  fastest pandas version of it a user would write;
- quintiles the alphalens way: ``groupby(level=0).rank(pct=True)``, quintile
  labels, ``groupby([date, quintile]).mean()`` of the returns.

skfactor: ``QuantilePortfolioFactor(top_n=1000)`` / ``(n_quantiles=5)``,
``fit(X, y)`` (factor and quantile returns) and ``fit_transform`` (also every
row's portfolio weight).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _harness import N_ASSETS, measure, print_table, reference_panel

from skfactor import QuantilePortfolioFactor

K = N_ASSETS // 3  # the lecture's 1,000 of 3,000


def lecture_pandas(X, y, k=K):
    by_date = X.groupby(level="date")
    mean = lambda leg: y[leg].groupby(level="date").mean()  # noqa: E731
    biggest = by_date["c0"].rank(ascending=False) <= k
    smallest = by_date["c0"].rank() <= k
    highpb = by_date["c1"].rank(ascending=False) <= k
    lowpb = by_date["c1"].rank() <= k
    return pd.DataFrame(
        {"c0": mean(smallest) - mean(biggest), "c1": mean(highpb) - mean(lowpb)}
    )


def one_rank_pandas(X, y, k=K):
    by_date = X.groupby(level="date")
    rank, n = by_date.rank(), by_date.transform("count")
    mean = lambda leg: y[leg].groupby(level="date").mean()  # noqa: E731
    top, bottom = rank > n - k, rank <= k
    return pd.DataFrame(
        {
            "c0": mean(bottom["c0"]) - mean(top["c0"]),
            "c1": mean(top["c1"]) - mean(bottom["c1"]),
        }
    )


def quintiles_pandas(X, y, q=5):
    pct = X.groupby(level="date").rank(pct=True)
    dates = X.index.get_level_values("date")
    out = {}
    for col in X.columns:
        p = pct[col].to_numpy()
        label = 1 + sum((p > k / q).astype(int) for k in range(1, q - 1))
        label = label + (p > 1 - 1 / q)
        out[col] = y.groupby([dates, label]).mean().unstack()
    return pd.concat(out, axis=1)


def main():
    X, y = reference_panel(n_chars=2)
    size = X.memory_usage(deep=True).sum() / 2**20
    print(f"panel: {X.shape[0]:,} rows x {X.shape[1]} characteristics, {size:.0f} MiB")

    lecture = QuantilePortfolioFactor(top_n=K, long_high={"c0": False})
    rows = []
    t, peak = measure(lambda: lecture.fit(X, y), repeat=3)
    rows.append(("skfactor", t, peak, f"top_n={K} fit: factor (+ group) returns"))
    t, peak = measure(lambda: lecture.fit_transform(X, y), repeat=2)
    rows.append(("skfactor fit_transform", t, peak, "also every row's weight"))
    t, _ = measure(lambda: lecture_pandas(X, y), memory=False)
    rows.append(("pandas, the lecture", t, np.nan, "2 ranks/column, top/bottom, mean"))
    t, _ = measure(lambda: one_rank_pandas(X, y), memory=False)
    rows.append(("pandas, one rank", t, np.nan, "rank > count - k, rank <= k"))

    ours = lecture.fit(X, y).factor_returns_
    diff = np.abs(ours.to_numpy() - lecture_pandas(X, y).to_numpy()).max()
    print(f"max |skfactor - lecture pandas| factor return: {diff:.3g}")
    print_table(f"SMB/HML from top/bottom {K}, {X.shape[0]:,} rows x 2", rows)

    quint = QuantilePortfolioFactor(n_quantiles=5)
    rows = []
    t, peak = measure(lambda: quint.fit(X, y), repeat=3)
    rows.append(("skfactor", t, peak, "n_quantiles=5 fit: quantile + factor returns"))
    t, _ = measure(lambda: quintiles_pandas(X, y), memory=False)
    rows.append(("pandas rank(pct=True)", t, np.nan, "alphalens-style groupby mean"))
    expected = quintiles_pandas(X, y).to_numpy()
    diff = np.abs(quint.fit(X, y).quantile_returns_.to_numpy() - expected).max()
    print(f"\nmax |skfactor - pandas| quintile return: {diff:.3g}")
    print_table(f"Quintile returns, {X.shape[0]:,} rows x 2", rows)


if __name__ == "__main__":
    main()
