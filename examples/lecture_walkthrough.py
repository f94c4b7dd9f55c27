"""The lecture on fundamental factor models, run end to end with skfactor.

Run: ``pip install -e ".[plot]"`` then ``python examples/lecture_walkthrough.py
[--output DIR]`` (about 10 seconds). Needs: the ``plot`` extra (matplotlib) for
its seven figures, PNG files written to ``examples/output/`` by default;
without it the script prints its tables and says the figures were skipped.

The lecture (Quantopian, "Fundamental Factor Models") fetches a year of
market cap, book-to-price and daily returns for about 4,000 US stocks, then:

- Approach 1, portfolio construction: SMB = smallest 1,000 minus biggest
  1,000 by market cap, HML = highest 1,000 minus lowest 1,000 by
  book-to-price; a portfolio's sensitivities to the market, SMB and HML by a
  time-series regression, over the year and on rolling 100-day windows.
- Approach 2, factor value normalisation: winsorize each characteristic at
  1 % and z-score it across assets each day; a cross-sectional regression of
  the day's returns on the z-scores gives that day's factor returns.
- Then (the sections our copy of the lecture cuts off): predict returns from
  today's z-scores, score the predictions out of sample, hedge the portfolio
  with betas known at the time (rolling, estimated on past days only) and
  measure what the hedge left, out of sample.

Without the lecture's data, this script generates a lecture-like panel from a
known model (``make_lecture_panel`` below), so that every estimate can be
checked against the truth it should recover; the check is printed after each
stage. Everything between the data and the check uses skfactor's public API.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats.mstats import winsorize
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    Winsorizer,
)
from skfactor.metrics import ic_scorer, ic_summary, information_coefficient
from skfactor.model_selection import PanelTimeSeriesSplit
from skfactor.panel import forward_returns
from skfactor.risk import FactorRiskModel

T0 = time.perf_counter()
PREMIA = {"size": -0.0004, "value": 0.0006}  # daily means of the true factors
pd.set_option("display.width", 100)


def stage(message):
    print(f"\n[{time.perf_counter() - T0:5.1f}s] {message}", flush=True)


def show(frame, digits=4, caption=None):
    """Print a table under its caption (a model's summary with its header)."""
    if caption:
        print(textwrap.fill(caption, width=88))
    table = frame.round(digits)
    print(table.as_text() if hasattr(table, "as_text") else table.to_string())


def say(text):
    """Print a sentence, wrapped."""
    print(textwrap.fill(text, width=88))


def show_ic(table, caption):
    """An ``ic_summary`` table (one column per model): counts as integers."""
    text = table.round(4).astype(object)
    for count in ("n_dates", "df"):
        text.loc[count] = table.loc[count].astype(int)
    show(text, caption=caption)


# --------------------------------------------------------------------- data
def _zscore_winsorized(values):
    """The lecture's normalisation of one day's values (scipy, numpy)."""
    w = np.asarray(winsorize(values, limits=0.01))
    return (w - w.mean()) / w.std()


def make_lecture_panel(n_assets=4000, year=2011, random_state=0):
    """A year of daily market caps, book-to-price and returns from a known model.

    Per asset: a log market cap drawn from N(20, 2) (median about $500M, a
    right-skewed cap distribution from $1M to $500B, as the lecture's table
    shows), a book value fixed over the year (so book-to-price moves with the
    price), a few book values off by a factor of 40 (the data errors that make
    the lecture winsorize), a market beta and a specific volatility, larger
    for small caps. Some assets list or delist during the year (an unbalanced
    panel). Each business day,

        r_it = beta_i m_t + b^size_it f^size_t + b^value_it f^value_t + e_it,

    with b the winsorized (1 %) and z-scored log market cap and book-to-price
    as of the previous close, over that day's listed assets; caps then move
    with the returns. The factor premia (``PREMIA``) are larger than in real
    markets so that one year shows them.
    """
    rng = np.random.default_rng(random_state)
    dates = pd.bdate_range(f"{year}-01-03", f"{year}-12-30", name="date")
    T, N = len(dates), n_assets
    log_cap = rng.normal(20.0, 2.0, N)
    z0 = (log_cap - log_cap.mean()) / log_cap.std()
    book = np.exp(log_cap - 0.5 - 0.15 * z0 + rng.normal(0.0, 0.6, N))
    book[rng.random(N) < 0.004] *= 40.0  # data errors
    beta = rng.normal(1.0, 0.3, N)
    vol = 0.015 * np.exp(-0.2 * z0)
    # 4% list during the year and 4% delist, each listed for 60 days at least.
    first = np.where(rng.random(N) < 0.04, rng.integers(1, T - 60, N), 0)
    end = np.where(rng.random(N) < 0.04, rng.integers(first + 60, T), T)
    listed = (np.arange(T)[:, None] >= first) & (np.arange(T)[:, None] < end)
    market = rng.normal(0.0003, 0.012, T)
    factors = rng.normal(list(PREMIA.values()), 0.002, (T, 2))
    cap = np.full((T, N), np.nan)
    bp = np.full((T, N), np.nan)
    loadings = np.full((T, N, 2), np.nan)
    returns = np.full((T, N), np.nan)
    for t in range(T):  # characteristics follow the returns: a loop over days
        on = listed[t]
        cap[t, on] = np.exp(log_cap[on])
        bp[t, on] = book[on] / cap[t, on]
        loadings[t, on, 0] = _zscore_winsorized(log_cap[on])
        loadings[t, on, 1] = _zscore_winsorized(bp[t, on])
        r = beta * market[t] + loadings[t] @ factors[t]
        r += vol * rng.standard_normal(N)
        returns[t, on] = r[on]
        log_cap[on] += np.log1p(r[on])
    index = pd.MultiIndex.from_product(
        [dates, [f"S{i:04d}" for i in range(N)]], names=["date", "asset"]
    )
    keep = listed.ravel()
    X = pd.DataFrame(
        {"market_cap": cap.ravel()[keep], "book_to_price": bp.ravel()[keep]},
        index=index[keep],
    )
    return {
        "X": X,
        "returns": pd.Series(returns.ravel()[keep], index=X.index, name="return"),
        "market": pd.Series(market, index=dates, name="MKT"),
        # the truth, kept apart: never shown to an estimator
        "beta": beta,
        "loadings": loadings,
        "factor_returns": pd.DataFrame(factors, index=dates, columns=list(PREMIA)),
        "listed": listed,
        "assets": index.levels[1],
    }


def implied_sensitivities(data, small, big, high, low):
    """True (T, N, 3) sensitivities of each asset to (MKT, SMB, HML), per day.

    An asset's exposures e_t = (beta, b^size_t, b^value_t) to the true factors
    (m, f^size, f^value) reach the portfolio factors through the legs: SMB_t
    and HML_t have exposures s_t' E_t and h_t' E_t (mean over the leg's
    assets), so the asset's return is e_t G_t^-1 (M, SMB, HML)' with
    G_t = [(1, 0, 0); s_t' E_t; h_t' E_t], up to the legs' specific returns.
    """
    E = np.concatenate(
        [
            np.broadcast_to(data["beta"], data["listed"].shape)[..., None],
            data["loadings"],
        ],
        axis=2,
    )
    E = np.where(data["listed"][..., None], E, np.nan)
    G = np.zeros((len(E), 3, 3))
    G[:, 0, 0] = 1.0
    for row, (long_leg, short_leg) in ((1, (small, big)), (2, (high, low))):
        G[:, row] = np.nanmean(np.where(long_leg[..., None], E, np.nan), axis=1)
        G[:, row] -= np.nanmean(np.where(short_leg[..., None], E, np.nan), axis=1)
    return np.einsum("tnk,tkj->tnj", E, np.linalg.inv(G))


def legs(data, column, n=1000):
    """Leg membership (T, N) of the lecture's top/bottom ``n`` on one column."""
    values = np.full(data["listed"].shape, np.nan)
    X = data["X"][column]
    d = X.index.codes[0]
    a = X.index.codes[1]
    values[d, a] = X.to_numpy()
    rank = pd.DataFrame(values).rank(axis=1).to_numpy()
    count = (~np.isnan(values)).sum(axis=1, keepdims=True)
    return rank > count - n, rank <= n


# ----------------------------------------------------------------- figures
def figure_writer(output):
    """A function saving a figure to ``output``, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    output.mkdir(parents=True, exist_ok=True)

    def save(ax, name, caption):
        """Save the figure, its caption (what to see) in the PNG's metadata."""
        path = output / name
        ax.figure.savefig(path, dpi=110, metadata={"Description": caption})
        plt.close(ax.figure)
        print(f"  wrote {path}")

    return save


def main(output):
    save = figure_writer(output)
    if save is None:
        print(
            'Figures skipped: matplotlib is not installed (pip install -e ".[plot]" '
            "to get them)."
        )
    else:
        from skfactor import plotting

    stage("Generating a lecture-like panel: ~4,000 stocks, business days of 2011")
    data = make_lecture_panel()
    X, returns, M = data["X"], data["returns"], data["market"]
    n_dates = X.index.get_level_values("date").nunique()
    n_assets = X.index.get_level_values("asset").nunique()
    print(
        f"{len(X):,} (date, asset) rows: {n_dates} dates, {n_assets:,} assets "
        "(some list or delist during the year)."
    )
    show(X.head(4), 6, "The first rows (market cap in $):")
    q = [0, 0.01, 0.25, 0.5, 0.75, 0.99, 1]
    spread = X.quantile(q).T.set_axis(
        ["min", "1%", "25%", "50%", "75%", "99%", "max"], axis=1
    )
    spread.loc["market_cap"] /= 1e6
    spread = spread.rename(index={"market_cap": "market_cap ($M)"})
    spread["skew"] = X.skew().to_numpy()
    spread.index.name = "quantile over all rows"
    show(spread, 2, "Across all rows (the data errors are book-to-price's maximum):")

    # ======================================================= Approach 1
    stage("Approach 1: SMB and HML from the top/bottom 1,000 stocks (top_n=1000)")
    sorts = QuantilePortfolioFactor(top_n=1000, long_high={"market_cap": False})
    weights_1 = sorts.fit_transform(X, returns)
    # The output keeps the input's column names: the weights sorted on
    # market_cap are SMB's (small minus big), those on book_to_price HML's.
    weights_1 = weights_1.set_axis(["SMB weight", "HML weight"], axis=1)
    show(
        X.join(weights_1).head(4),
        6,
        "Each row's weight in SMB and HML (the lecture's biggest/smallest and "
        "highpb/lowpb flags, as ±1/1000):",
    )
    F = pd.concat([M, sorts.factor_returns_.set_axis(["SMB", "HML"], axis=1)], axis=1)
    F.columns.name = "factor"
    show(F.head(), 6, "Daily factor returns (first days):")
    big, small = legs(data, "market_cap")
    high, low = legs(data, "book_to_price")
    truth = implied_sensitivities(data, small, big, high, low)

    stage("Sensitivities of a 5-stock large-cap growth portfolio (the lecture's tech)")
    first_day = X.xs(X.index[0][0], level="date")
    always = data["listed"].all(axis=0)
    growth = first_day[always[data["assets"].get_indexer(first_day.index)]]
    growth = growth[growth["book_to_price"] < growth["book_to_price"].quantile(0.25)]
    tickers = growth.nlargest(5, "market_cap").index
    R_wide = returns.unstack("asset")
    R = R_wide[tickers].mean(axis=1).rename("portfolio")
    ts = TimeSeriesFactorModel().fit(F, R)
    table = ts.summary().loc["portfolio"]
    true_betas = truth[:, data["assets"].get_indexer(tickers)].mean(axis=1)
    table["truth"] = [0.0, *true_betas.mean(axis=0)]
    table["error / s.e."] = (table["coef"] - table["truth"]) / table["std_err"]
    show(
        table,
        caption="Historical sensitivities of portfolio returns to factors "
        "(in sample: the whole year):",
    )
    print(f"R² = {ts.rsquared_.iloc[0]:.3f}")

    stage("Every stock at once: 4,000 time-series regressions")
    ts_all = TimeSeriesFactorModel().fit(F, R_wide)
    listed_days = data["listed"].sum(axis=0)
    true_all = (
        np.nansum(np.where(data["listed"][..., None], truth, 0.0), axis=0)
        / listed_days[:, None]
    )
    true_all = true_all[data["assets"].get_indexer(ts_all.assets_)]
    z = (ts_all.coef_ - true_all) / ts_all.bse_[["MKT", "SMB", "HML"]].to_numpy()
    check = pd.DataFrame(
        {
            "corr(estimate, truth)": [
                np.corrcoef(ts_all.coef_[:, k], true_all[:, k])[0, 1] for k in range(3)
            ],
            "RMSE": np.sqrt(((ts_all.coef_ - true_all) ** 2).mean(axis=0)),
            "within ± 2 s.e.": (np.abs(z) < 2).mean(axis=0),
        },
        index=pd.Index(["MKT", "SMB", "HML"], name="factor"),
    )
    show(
        check,
        3,
        "Each stock's estimated betas against the truth (its exposures to the "
        "true factors mapped through the SMB and HML legs):",
    )

    stage("Rolling sensitivities (100-day windows)")
    rolling = RollingFactorModel(window=100, store_bse=True).fit(F, R)
    rolling_truth = pd.DataFrame(true_betas, index=F.index, columns=F.columns)
    rolling_truth = rolling_truth.rolling(100).mean()
    last_se = rolling.bse_.xs("portfolio", level="asset").iloc[-1][F.columns]
    last = pd.DataFrame(
        {
            "beta": rolling.coef_[0],
            "s.e.": last_se.to_numpy(),
            "truth": rolling_truth.iloc[-1].to_numpy(),
        },
        index=F.columns,
    )
    last["error / s.e."] = (last["beta"] - last["truth"]) / last["s.e."]
    show(
        last,
        caption=f"The last window ({F.index[-100]:%Y-%m-%d} to "
        f"{F.index[-1]:%Y-%m-%d}):",
    )
    betas_t = rolling.params_.xs("portfolio", level="asset")[F.columns]
    se_t = rolling.bse_.xs("portfolio", level="asset")[F.columns]
    inside = ((betas_t - rolling_truth).abs() <= 2 * se_t)[rolling_truth.notna()]
    inside = inside.loc[rolling_truth.dropna().index].mean()
    say(
        "Windows whose ± 2 s.e. band holds the truth: "
        + ", ".join(f"{k} {v:.0%}" for k, v in inside.items())
        + ". A 100-day window estimates the 5 stocks' HML beta loosely (s.e. "
        f"{last.loc['HML', 's.e.']:.2f}); the last one is "
        f"{abs(last.loc['HML', 'error / s.e.']):.1f} s.e. from the truth, and "
        "overlapping windows share their errors, so a run of windows can stray "
        "together (the figure shows the whole path)."
    )
    if save:
        ax = plotting.plot_cumulative_returns(F)
        ax.set_title("Approach 1: cumulative returns of the market, SMB and HML")
        save(
            ax,
            "approach1_cumulative_factor_returns.png",
            "Approach 1: the market, SMB (smallest minus biggest 1,000 by market "
            "cap) and HML (highest minus lowest 1,000 by book-to-price), "
            "compounded over the year. Both spreads rise: small stocks beat big "
            "ones and high book-to-price beats low, as the generated size and "
            "value premia say.",
        )
        ax = plotting.plot_rolling_betas(rolling, "portfolio")
        for j, name in enumerate(F.columns):
            ax.plot(
                rolling_truth.index,
                rolling_truth[name],
                color=f"C{j}",
                linestyle="--",
                linewidth=1,
                label=f"{name} (truth)",
            )
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        ax.set_title("Rolling 100-day betas of the portfolio (± 2 s.e.), truth dashed")
        save(
            ax,
            "approach1_rolling_betas.png",
            "Rolling 100-day sensitivities of the 5-stock large-cap growth "
            "portfolio (solid, shaded ± 2 standard errors) and the true ones "
            "(dashed). MKT and SMB are tight around the truth; HML, with a wide "
            "band, wanders off it in the last windows: one 100-day window pins a "
            "small portfolio's value exposure down only loosely.",
        )

    # ======================================================= Approach 2
    stage("Approach 2: winsorize (1%) and z-score each day; the lecture's day")
    day = X.index[0][0]
    btp = X["book_to_price"]
    z_raw = CrossSectionalZScore().fit_transform(btp)
    normalize = make_pipeline(Winsorizer(limits=0.01), CrossSectionalZScore())
    z_win = normalize.fit_transform(btp)
    w = Winsorizer(limits=0.01).fit_transform(btp)
    print(
        f"Book-to-price on {day:%Y-%m-%d}: before winsorization min "
        f"{btp[day].min():.3f}, max {btp[day].max():.3f}; after, min "
        f"{w[day].min():.3f}, max {w[day].max():.3f}"
    )
    print(
        f"Book-to-price z-scores on {day:%Y-%m-%d}: "
        f"raw within [{z_raw[day].min():.1f}, {z_raw[day].max():.1f}], "
        f"winsorized within [{z_win[day].min():.1f}, {z_win[day].max():.1f}]"
    )
    if save:
        axes = plotting.plot_zscore_hist(z_raw[day], z_win[day])
        axes[0].figure.suptitle(
            f"Book-to-price z-scores of {len(z_raw[day]):,} stocks on "
            f"{day:%Y-%m-%d}, before and after winsorizing at 1%"
        )
        save(
            axes[0],
            "approach2_zscore_hist.png",
            "Book-to-price z-scores on the lecture's day, each panel with its own "
            "bins. Left, raw: the data errors inflate the standard deviation, so "
            "nearly every stock sits in the first bins and a few errors lie tens "
            "of deviations away. Right, after winsorizing at 1 %: the same stocks "
            "spread over a few units, a right-skewed but usable loading.",
        )

    stage("Cross-sectional regressions, one per day")
    # Size as log market cap: caps are lognormal, and a z-score of raw caps
    # mostly measures the few largest companies.
    chars = pd.DataFrame(
        {"log_market_cap": np.log(X["market_cap"]), "book_to_price": btp}
    )
    Z = normalize.fit_transform(chars)
    cs = CrossSectionalFactorModel().fit(Z, returns)
    true_f = data["factor_returns"].set_axis(list(chars.columns), axis=1)
    alone = CrossSectionalFactorModel().fit(Z[["book_to_price"]], returns)
    one_day = pd.DataFrame(
        {
            "book_to_price alone": alone.factor_returns_.loc[day],
            "both": cs.factor_returns_.loc[day],
            "truth": true_f.loc[day],
        }
    )
    one_day.index.name = "factor"
    show(
        one_day,
        6,
        f"Factor returns on {day:%Y-%m-%d} (the lecture's F1, then F1 and F2):",
    )
    err = cs.factor_returns_ - true_f
    daily = pd.DataFrame(
        {
            "corr(estimate, truth)": cs.factor_returns_.corrwith(true_f),
            "RMSE": np.sqrt((err**2).mean()),
            "sd of truth": true_f.std(),
        }
    )
    daily.index.name = "factor"
    show(daily, 5, f"The {n_dates} daily factor returns against the truth:")
    print(f"corr(intercept, market) = {cs.params_['const'].corr(M):.4f}")

    stage("Fama-MacBeth summary (mean of the daily factor returns)")
    fm = cs.summary()
    fm["realised truth"] = [np.nan, *true_f.mean()]
    fm["premium"] = [np.nan, *PREMIA.values()]
    show(
        fm,
        5,
        "Mean daily factor return, its s.e. over the days, the truth's realised "
        "mean and the premium it was drawn around:",
    )
    if save:
        ax = plotting.plot_cumulative_returns(cs.factor_returns_)
        ax.set_prop_cycle(None)
        for name in true_f.columns:
            cum = (1 + true_f[name]).cumprod().sub(1).mul(100)
            ax.plot(
                cum.index, cum, linestyle="--", linewidth=1, label=f"{name} (truth)"
            )
        ax.legend(frameon=False)
        ax.set_title("Approach 2: cumulative factor returns, estimated and true")
        save(
            ax,
            "approach2_cumulative_factor_returns.png",
            "Approach 2: the daily cross-sectional regression coefficients on "
            "the size and value z-scores, compounded (solid), over the true "
            "factor returns (dashed): the two nearly coincide, the regressions "
            "recovering the factors day by day; the small gap that opens over "
            "the year is their estimation error adding up.",
        )

    # ======================================================= prediction
    stage("Returns prediction: tomorrow's returns on today's z-scores, out of sample")
    y_next = forward_returns(returns, periods=1)
    known = y_next.notna().to_numpy()  # the last day has no tomorrow yet
    chars_p, y_p = chars[known], y_next[known]
    model = make_pipeline(
        Winsorizer(limits=0.01), CrossSectionalZScore(), CrossSectionalFactorModel()
    )
    cv = PanelTimeSeriesSplit(n_splits=5)
    res = cross_validate(
        model,
        chars_p,
        y_p,
        cv=cv,
        scoring=ic_scorer,
        return_estimator=True,
        return_indices=True,
    )
    ic_parts, pred_parts = [], []
    for est, test in zip(res["estimator"], res["indices"]["test"], strict=True):
        pred = est.predict(chars_p.iloc[test])
        pred_parts.append(pred)
        ic_parts.append(information_coefficient(y_p.iloc[test], pred))
    ic = pd.concat(ic_parts)
    pred = pd.concat(pred_parts)
    # The best any model of these loadings can do: true loadings x true premia.
    L = data["loadings"] @ np.array(list(PREMIA.values()))
    codes = chars_p.index.codes
    oracle = pd.Series(L[codes[0], codes[1]], index=chars_p.index).loc[pred.index]
    ic_oracle = information_coefficient(y_p.loc[pred.index], oracle)
    folds = pd.DataFrame(
        {
            "test from": [
                chars_p.index[t[0]][0].date() for t in res["indices"]["test"]
            ],
            "mean IC": res["test_score"],
        },
        index=pd.RangeIndex(1, len(res["test_score"]) + 1, name="fold"),
    )
    show(folds, caption="Mean rank IC of each test fold (trained on the days before):")
    summary = pd.DataFrame(
        {
            "model (out of sample)": ic_summary(ic),
            "true loadings x premia": ic_summary(ic_oracle),
        }
    )
    summary.index.name = "daily rank IC"
    show_ic(summary, "The daily rank IC over all test days, and the best possible:")
    deciles = QuantilePortfolioFactor(n_quantiles=10).fit(
        pred.to_frame("predicted"), y_p.loc[pred.index]
    )
    spread = deciles.factor_returns_["predicted"]
    print(
        f"Long top 10% / short bottom 10% of predicted returns: "
        f"{1e4 * spread.mean():.1f} bp a day, annualised Sharpe "
        f"{np.sqrt(252) * spread.mean() / spread.std():.2f}\n(the generated premia "
        "are far larger than real ones, so that one year shows them)"
    )
    if save:
        ax = plotting.plot_ic(ic, window=21)
        ax.set_title("Out-of-sample rank IC of the predicted next-day returns")
        save(
            ax,
            "prediction_ic.png",
            "Each test day's rank correlation between the predicted and the "
            "realised next-day returns, with its 21-day mean: noisy day to day "
            "(a single day's IC is often negative), positive on average.",
        )
        ax = plotting.plot_quantile_returns(deciles.quantile_returns_)
        ax.set_title(
            "Out of sample: next-day return by decile of the predicted return "
            "(± 2 s.e.)"
        )
        ax.set_xlabel("Decile of predicted next-day return (1 = lowest)")
        ax.set_ylabel("Mean next-day return (bp)")
        save(
            ax,
            "prediction_quantile_returns.png",
            "Stocks sorted each test day into deciles of the model's predicted "
            "return; the bars are the deciles' mean realised next-day return. "
            "They rise from the first decile to the last: the predictions rank "
            "stocks out of sample.",
        )

    # ======================================================= hedging
    stage("Hedging the portfolio's market, SMB and HML exposures")
    risk = FactorRiskModel.from_model(ts_all, F, R_wide)
    weights = pd.Series(1 / len(tickers), index=tickers)
    hedge = risk.hedge(weights)
    exposures = hedge.exposures.copy()
    exposures["truth before"] = true_betas.mean(axis=0)
    exposures["truth after"] = exposures["truth before"] + hedge.positions
    show(
        exposures,
        caption="In sample: the year's betas, hedged with positions computed "
        "from the same year (so 'after' is 0 by construction):",
    )
    dec = risk.risk_decomposition(weights)
    print(
        f"Risk model (in sample): portfolio daily vol {100 * dec.total_risk:.2f}%, "
        f"{100 * dec.factor_variance / dec.total_variance:.0f}% of the variance "
        "from the factors"
    )
    # A real hedge on day t can only use betas known at the close of t-1: the
    # rolling betas of the 100 days before t (no look-ahead).
    past = rolling.params_.xs("portfolio", level="asset")[F.columns].shift(1)
    oos = past.notna().all(axis=1)
    in_sample = hedge.returns["hedged"]
    say(
        f"In sample, hedged with the year's betas over the same year: daily vol "
        f"{100 * in_sample.std():.3f}%, corr with MKT {in_sample.corr(M):.3f} (zero "
        "by construction, not a result: those betas were not known during the year)"
    )
    returns_oos = pd.DataFrame(
        {
            "unhedged": R[oos],
            "hedged out of sample": R[oos] - (past[oos] * F[oos]).sum(axis=1),
        }
    )
    days = f"{returns_oos.index[0]:%Y-%m-%d} to {returns_oos.index[-1]:%Y-%m-%d}"
    realised = TimeSeriesFactorModel().fit(F[oos], returns_oos)
    after = pd.DataFrame(
        {
            "unhedged": realised.params_.loc["unhedged", F.columns],
            "hedged out of sample": realised.params_.loc[
                "hedged out of sample", F.columns
            ],
            "s.e.": realised.bse_.loc["hedged out of sample", F.columns],
            # the true exposure left: the truth minus the betas hedged, per day
            "truth after": (true_betas[oos.to_numpy()] - past[oos]).mean(),
        }
    )
    after.index.name = "factor"
    show(
        after,
        caption=f"Out of sample ({oos.sum()} days, {days}): betas of the realised "
        "returns, hedged each day with the betas of the 100 days before:",
    )
    risk_oos = pd.DataFrame(
        {
            "daily vol (%)": 100 * returns_oos.std(),
            "corr with MKT": returns_oos.corrwith(M[oos]),
        }
    )
    risk_oos.index.name = "returns"
    show(
        risk_oos,
        3,
        f"Out of sample ({days}): realised daily volatility and correlation "
        "with the market:",
    )
    if save:
        ax = plotting.plot_cumulative_returns(returns_oos)
        ax.set_title(
            "Out of sample: the portfolio unhedged, and hedged with past 100-day betas"
        )
        save(
            ax,
            "hedged_portfolio.png",
            f"The portfolio's cumulative return from {days}, unhedged and hedged "
            "each day with the MKT, SMB and HML betas estimated on the 100 days "
            "before it (no look-ahead). The hedged line keeps the portfolio's "
            "specific return and loses most of the market's swings, not all: "
            "the betas it uses are estimates from the past.",
        )

    stage("done" + (f"; figures in {output}" if save else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNG figures (default: examples/output/)",
    )
    main(parser.parse_args().output)
