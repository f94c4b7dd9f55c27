"""The tables of one factor: IC, quantile returns, spread, turnover, verdicts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from skfactor.metrics._ic import _segment_corr, ic_summary, information_coefficient
from skfactor.metrics._persistence import (
    aligned_forward_returns,
    quantile_turnover,
    rank_autocorrelation,
)
from skfactor.metrics._quantile_returns import (
    mean_return_by_quantile,
    quantile_means,
    quantile_returns,
)
from skfactor.panel._segments import Segments
from skfactor.panel._validation import date_codes
from skfactor.plotting._returns import cumulative_returns
from skfactor.utils._warnings import warn

__all__ = ["FactorSection", "verdict"]

_LEVEL = 0.05


def verdict(h: int, row: pd.Series) -> str:
    """One line saying whether the mean IC at horizon ``h`` is told from noise."""
    n = int(row["n_dates"]) if np.isfinite(row["n_dates"]) else 0
    if not np.isfinite(row["t"]):
        return f"{h}-date horizon: too few dates with an IC ({n}) to tell."
    if h == 1:
        how = f"one-sample t on {n} daily ICs, {row['df']:.0f} df"
    else:
        how = (
            f"t with the equal-weighted cosine long-run variance for "
            f"overlapping {h}-date returns, {row['df']:.0f} df; the i.i.d. t "
            f"would be {row['t_iid']:.2f}"
        )
    found = row["p_value"] < _LEVEL
    call = "distinguishable from noise" if found else "not distinguishable from noise"
    return (
        f"{h}-date horizon: mean IC {row['mean']:+.4f}, t = {row['t']:.2f}, "
        f"p = {row['p_value']:.3g}: {call} at the {_LEVEL:.0%} level "
        f"({how})."
    )


def _ic_by_group(fwd, factor, group_codes, names, method):
    """Per-(date, group) IC as a date x group frame (NaN where undefined)."""
    codes, dates = date_codes(factor.index)
    keep = group_codes >= 0
    key = codes[keep] * len(names) + group_codes[keep]
    used, compact = np.unique(key, return_inverse=True)
    seg = Segments(compact, len(used))
    t = seg.sort(fwd.to_numpy(dtype=np.float64)[keep])
    p = seg.sort(factor.to_numpy(dtype=np.float64)[keep])
    r = _segment_corr(t, p, seg, method)
    out = np.full((len(dates), len(names)), np.nan)
    out[used // len(names), used % len(names)] = r
    return pd.DataFrame(out, index=dates, columns=names)


class FactorSection:
    """Every table of the report for one factor (see :class:`FactorReport`)."""

    def __init__(self, name, factor, returns, *, quantiles, horizons, groups,
                 weights, method):  # fmt: skip
        self.name = name
        self.horizons = list(horizons)
        self.quantiles = quantiles
        fwd = {h: aligned_forward_returns(returns, h, factor.index) for h in horizons}
        self.ic = pd.DataFrame(
            {h: information_coefficient(fwd[h], factor, method) for h in horizons}
        ).rename_axis(columns="horizon")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            self.ic_summary = pd.DataFrame(
                {h: ic_summary(self.ic[h], horizon=h) for h in horizons}
            ).T.rename_axis(index="horizon")
        self.notes = sorted({str(w.message) for w in caught})
        for note in self.notes:  # said once each, and kept for the page
            warn(note)
        self.verdict = pd.Series(
            [verdict(h, self.ic_summary.loc[h]) for h in horizons],
            index=pd.Index(horizons, name="horizon"),
            name="verdict",
        )
        per_date = {}
        raw = {}
        for h in horizons:
            raw[h], market = quantile_means(
                factor, fwd[h], quantiles, weights=weights, rule="qcut", groups=None
            )
            per_date[h] = raw[h].sub(market, axis=0)
        self.quantile_returns = pd.concat(per_date, axis=1, names=["horizon"])
        demeaned = {h: mean_return_by_quantile(per_date[h]) for h in horizons}
        plain = {h: mean_return_by_quantile(raw[h]) for h in horizons}
        by = pd.Index(horizons, name="horizon")
        self.mean_return_by_quantile = _stat(demeaned, "mean", by)
        self.mean_return_by_quantile_std_err = _stat(demeaned, "std_err", by)
        self.raw_return_by_quantile = _stat(plain, "mean", by)
        self.raw_return_by_quantile_std_err = _stat(plain, "std_err", by)
        self.spread = pd.DataFrame(
            {h: raw[h][quantiles] - raw[h][1] for h in horizons}
        ).rename_axis(columns="horizon")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # noted once for the IC
            self.spread_summary = pd.DataFrame(
                {h: ic_summary(self.spread[h], horizon=h) for h in horizons}
            ).T.rename_axis(index="horizon")
        daily = per_date.get(1)
        if daily is None:  # the curves rebalance every date: 1-date returns
            fwd1 = aligned_forward_returns(returns, 1, factor.index)
            daily = quantile_returns(factor, fwd1, quantiles, weights=weights)
        table = daily.rename(columns=lambda q: f"quantile {q}")
        table["top minus bottom"] = daily[quantiles] - daily[1]
        self.daily_returns = table  # the 1-date returns behind the curves
        self.cumulative_returns = cumulative_returns(table)
        self.rank_autocorrelation = rank_autocorrelation(factor, 1)
        self.quantile_turnover = quantile_turnover(factor, quantiles, 1, rule="qcut")
        self.ic_by_group = None
        self.mean_return_by_quantile_by_group = None
        if groups is not None:
            self._by_group(factor, fwd, groups, weights, method)

    def _by_group(self, factor, fwd, groups, weights, method):
        codes, names = pd.factorize(groups, sort=True)
        names = pd.Index(names, name="group")
        codes = np.asarray(codes, dtype=np.intp)
        ic = {}
        means = {}
        for h in self.horizons:
            ic[h] = _ic_by_group(fwd[h], factor, codes, names, method).mean()
            per = quantile_returns(
                factor, fwd[h], self.quantiles, weights=weights, groups=groups
            )
            means[h] = per.mean()
        self.ic_by_group = pd.DataFrame(ic).rename_axis(columns="horizon")
        self.mean_return_by_quantile_by_group = pd.DataFrame(means).rename_axis(
            columns="horizon"
        )


def _stat(tables, column, horizons):
    out = pd.DataFrame({h: tables[h][column] for h in horizons})
    out.columns = horizons
    return out
