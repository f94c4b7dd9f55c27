"""Point-in-time alignment of quarterly reports onto the reference panel.

``make_raw_panel`` at the reference size (3,000 assets x 2,520 dates, about
7.2M rows after late listings; 15 years of quarterly reports, some restated,
some missing). The peer is the pandas way to the same values: the reports in
publication order, the running maximum of the period end per asset keeping
the reports of the latest period (new periods and restatements of it), then
``merge_asof`` by asset on the publication date. Its values are checked equal
to ``PointInTime``'s. ``PointInTime`` with trailing-twelve-month sums and
five years of history has no pandas peer here (each lookup would be another
``merge_asof`` by asset and period).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _harness import N_ASSETS, N_DATES, measure, print_table

from skfactor.datasets import make_raw_panel
from skfactor.descriptors import PointInTime

FIELDS = ["book", "earnings", "total_debt"]


def pandas_peer(X, reports):
    reports = reports.sort_values(["asset", "public_date", "period_end"])
    latest = reports.groupby("asset")["period_end"].cummax()
    reports = reports[reports["period_end"] == latest]
    rows = X.index.to_frame(index=False)
    rows["row"] = np.arange(len(rows))
    merged = pd.merge_asof(
        rows.sort_values("date"),
        reports[["asset", "public_date", *FIELDS]].sort_values(
            "public_date", kind="stable"
        ),  # stable: of two reports public the same day, the later period last
        left_on="date",
        right_on="public_date",
        by="asset",
    )
    return merged.sort_values("row")[FIELDS].to_numpy()


def main():
    data = make_raw_panel(n_dates=N_DATES, n_assets=N_ASSETS, random_state=0)
    X = data.X[["cap"]]
    reports = data.fundamentals[["asset", "period_end", "public_date", *FIELDS]]
    reports = reports.astype({"public_date": X.index.levels[0].dtype})
    print(f"panel: {len(X):,} rows, {len(reports):,} reports")
    plain = PointInTime(reports, remainder="drop")
    ours = plain.fit_transform(X).to_numpy()
    peer = pandas_peer(X, reports)
    np.testing.assert_allclose(ours, peer, rtol=0, atol=0)
    full = PointInTime(
        reports, ttm=["earnings"], history=["earnings"], remainder="drop"
    )
    rows = [
        ("skfactor", *measure(lambda: plain.fit_transform(X)), "PointInTime"),
        ("pandas merge_asof", *measure(lambda: pandas_peer(X, reports)), "same values"),
        (
            "skfactor TTM + history",
            *measure(lambda: full.fit_transform(X)),
            "ttm=['earnings'], history 5 years: 5 columns more",
        ),
    ]
    print_table("Point-in-time fundamentals", rows)


if __name__ == "__main__":
    main()
