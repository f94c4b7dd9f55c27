"""Point-in-time fundamentals, fundamental descriptors, NonlinearSize, StyleExposures.

Each is checked against a slow loop written here straight from its
definition (per row, per date), on panels with holes, late listings and
shuffled rows; no look-ahead is a property test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skfactor.descriptors._fundamentals import (
    BookToPrice,
    EarningsYield,
    Growth,
    Leverage,
)
from skfactor.descriptors._nonlinear_size import NonlinearSize
from skfactor.descriptors._point_in_time import PointInTime
from skfactor.descriptors._style import CNE5_STYLES, StyleExposures
from tests.conftest import shuffled

FIELDS = ["book", "earnings", "sales_per_share"]


def make_panel(seed=0, n_dates=60, n_assets=7, freq="W-FRI", start="2019-01-04"):
    """A shuffled panel: holes, one late listing, one asset gone early."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_dates, freq=freq)
    assets = [f"A{i}" for i in range(n_assets)]
    index = pd.MultiIndex.from_product([dates, assets], names=["date", "asset"])
    keep = rng.random(len(index)) > 0.1
    date_pos = np.repeat(np.arange(n_dates), n_assets)
    asset_pos = np.tile(np.arange(n_assets), n_dates)
    keep &= ~((asset_pos == 1) & (date_pos < n_dates // 2))  # listed late
    keep &= ~((asset_pos == 2) & (date_pos > n_dates * 2 // 3))  # delisted
    index = index[keep]
    X = pd.DataFrame({"cap": rng.lognormal(3, 1, len(index))}, index=index)
    X.loc[X.sample(frac=0.05, random_state=seed).index, "cap"] = np.nan
    return shuffled(X, seed)


def make_reports(seed=0, n_assets=7, start="2014-03-31", n_quarters=28):
    """Quarterly reports: lags, restatements (some public the day the next
    quarter is), missing quarters, NaN fields."""
    rng = np.random.default_rng(seed)
    ends = pd.date_range(start, periods=n_quarters, freq="QE")
    rows = []
    for a in range(n_assets):
        mine = []
        for end in ends:
            if rng.random() < 0.08:
                continue  # a quarter missing
            public = end + pd.Timedelta(days=int(rng.integers(20, 80)))
            values = rng.normal(10, 3, len(FIELDS))
            values[rng.random(len(FIELDS)) < 0.05] = np.nan
            mine.append((f"A{a}", end, public, *values))
        for k, (_, end, public, *_) in enumerate(mine[:-1]):
            if rng.random() < 0.15:  # restated later, or with the next quarter
                later = public + pd.Timedelta(days=int(rng.integers(1, 200)))
                later = mine[k + 1][2] if rng.random() < 0.5 else later
                rows.append((f"A{a}", end, later, *rng.normal(10, 3, len(FIELDS))))
        rows += mine
    rows.append(("Z9", ends[0], ends[0] + pd.Timedelta(days=30), 1.0, 2.0, 3.0))
    table = pd.DataFrame(rows, columns=["asset", "period_end", "public_date", *FIELDS])
    return table.sample(frac=1.0, random_state=seed)  # any order


def slow_point_in_time(X, table, lag=0, max_age=None, ttm=(), history=(), years=5):
    """One row at a time, straight from the definition."""
    dates = X.index.get_level_values(0).unique().sort_values()
    month = table["period_end"].dt.year * 12 + table["period_end"].dt.month
    table = table.assign(month=month)
    names = list(FIELDS) + [f"{f}_{k}y" for f in history for k in range(1, years)]
    out = pd.DataFrame(np.nan, index=X.index, columns=names)
    by_asset = dict(list(table.groupby("asset")))

    def value(snapshot, m, field):
        """The field of period ``m`` (its TTM sum if in ``ttm``), NaN if unknown."""
        months = [m - 3 * q for q in range(4)] if field in ttm else [m]
        if not all(k in snapshot.index for k in months):
            return np.nan
        return sum(snapshot.at[k, field] for k in months)

    for t, a in X.index:
        i = dates.get_loc(t)
        if i < lag:
            continue
        cutoff = dates[i - lag]
        mine = by_asset.get(a, table.iloc[:0])
        known = mine[mine["public_date"] <= cutoff]
        if known.empty:
            continue
        # Each period as known at the cut-off: its latest publication.
        snapshot = (
            known.sort_values("public_date")
            .drop_duplicates("month", keep="last")
            .set_index("month")
        )
        latest = snapshot.index.max()
        published = snapshot.at[latest, "public_date"]
        if max_age is not None and t - published > pd.Timedelta(max_age):
            continue
        for field in FIELDS:
            out.loc[(t, a), field] = value(snapshot, latest, field)
        for field in history:
            for k in range(1, years):
                out.loc[(t, a), f"{field}_{k}y"] = value(
                    snapshot, latest - 12 * k, field
                )
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lag": 2},
        {"max_age": "120D"},
        {"ttm": ["earnings"], "history": ["sales_per_share", "earnings"]},
        {"lag": 1, "ttm": ["earnings"], "history": ["book"], "max_age": "200D"},
    ],
)
def test_point_in_time_equals_slow_loop(kwargs):
    X, table = make_panel(n_dates=30, n_assets=6, freq="3W-FRI"), make_reports()
    years = 5
    got = PointInTime(table, **kwargs).fit_transform(X)
    want = slow_point_in_time(
        X,
        table,
        kwargs.get("lag", 0),
        kwargs.get("max_age"),
        kwargs.get("ttm", ()),
        kwargs.get("history", ()),
        years,
    )
    assert got.index.equals(X.index)
    # The reports' order does not matter (nor which of two same-day reports
    # comes first in the table).
    backwards = PointInTime(table.iloc[::-1], **kwargs).fit_transform(X)
    pd.testing.assert_frame_equal(backwards, got)
    assert list(got.columns) == ["cap", *want.columns]
    assert_allclose(got["cap"], X["cap"])
    assert_allclose(got[want.columns].to_numpy(), want.to_numpy(), rtol=1e-12)
    assert want.notna().to_numpy().mean() > 0.3  # the test is not all NaN


def test_point_in_time_restatement_wins_from_its_date_on():
    index = pd.MultiIndex.from_product(
        [pd.bdate_range("2024-01-01", periods=5), ["A"]], names=["date", "asset"]
    )
    X = pd.DataFrame({"cap": 1.0}, index=index)
    table = pd.DataFrame(
        {
            "asset": ["A", "A", "A"],
            "period_end": pd.to_datetime(["2023-09-30", "2023-12-31", "2023-09-30"]),
            "public_date": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04"]),
            "book": [10.0, 20.0, 11.0],
        }
    )
    got = PointInTime(table, ttm=[], remainder="drop").fit_transform(X)
    # The restated Q3 (4 January) does not replace the newer Q4.
    assert got["book"].tolist() == [10.0, 10.0, 20.0, 20.0, 20.0]
    # A restatement public on the day the next period comes out: the next wins.
    tie = table.assign(
        public_date=pd.to_datetime(["2024-01-01", "2024-01-03"] * 1 + ["2024-01-03"])
    )
    assert PointInTime(tie).fit_transform(X)["book"].tolist()[2:] == [20.0] * 3
    lagged = PointInTime(table, lag=1).fit_transform(X)["book"]
    assert lagged.tolist()[:4] == [pytest.approx(np.nan, nan_ok=True), 10.0, 10.0, 20.0]


def test_point_in_time_max_age_is_measured_from_the_publication_date():
    index = pd.MultiIndex.from_product(
        [pd.to_datetime(["2024-03-01", "2024-03-11", "2024-03-12"]), ["A"]],
        names=["date", "asset"],
    )
    X = pd.DataFrame({"cap": 1.0}, index=index)
    table = pd.DataFrame(
        {
            "asset": ["A"],
            "period_end": pd.to_datetime(["2023-12-31"]),  # 70 days before t
            "public_date": pd.to_datetime(["2024-03-01"]),
            "book": [5.0],
        }
    )
    got = PointInTime(table, max_age="10D").fit_transform(X)["book"]
    assert got.tolist()[:2] == [5.0, 5.0]  # 10 days old: not older than 10D
    assert np.isnan(got.iloc[2])


def test_point_in_time_ttm_needs_four_quarters():
    index = pd.MultiIndex.from_product(
        [pd.to_datetime(["2024-06-01"]), ["A", "B"]], names=["date", "asset"]
    )
    X = pd.DataFrame({"cap": 1.0}, index=index)
    ends = pd.to_datetime(["2023-06-30", "2023-09-30", "2023-12-31", "2024-03-31"])
    table = pd.DataFrame(
        {
            "asset": ["A"] * 4 + ["B"] * 3,
            "period_end": [*ends, *ends[[0, 1, 3]]],  # B misses a quarter
            "public_date": [
                e + pd.Timedelta(days=30) for e in [*ends, *ends[[0, 1, 3]]]
            ],
            "earnings": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 4.0],
        }
    )
    got = PointInTime(table, ttm=["earnings"]).fit_transform(X)["earnings"]
    assert got.iloc[0] == 10.0
    assert np.isnan(got.iloc[1])


def test_point_in_time_pandas_polars_and_set_output():
    pl = pytest.importorskip("polars")
    X, table = make_panel(n_dates=20), make_reports()
    pit = PointInTime(table, remainder="drop")
    frame = pit.fit_transform(X)
    out = pit.fit_transform(pl.from_pandas(X.reset_index()))
    assert isinstance(out, pl.DataFrame)
    assert_allclose(out["book"].to_numpy(), frame["book"].to_numpy())
    assert list(pit.get_feature_names_out()) == FIELDS
    keep = PointInTime(table, history=["book"], history_years=3).fit(X)
    names = ["cap", *FIELDS, "book_1y", "book_2y"]
    assert list(keep.get_feature_names_out()) == names
    assert list(keep.transform(X).columns) == names


def test_point_in_time_does_not_mutate_inputs():
    X, table = make_panel(n_dates=20), make_reports()
    X0, table0 = X.copy(), table.copy()
    PointInTime(table, ttm=["earnings"], history=["book"]).fit_transform(X)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_frame_equal(table, table0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"available": "filed"},
            r"`available`='filed' is not a column of `fundamentals`",
        ),
        ({"period": "fpe"}, r"`period`='fpe' is not a column"),
        ({"ttm": ["ebit"]}, r"`ttm` names \['ebit'\]"),
        ({"fields": ["book"], "history": ["earnings"]}, r"not in `fields`"),
        ({"lag": -1}, r"`lag` must be an integer >= 0"),
    ],
)
def test_point_in_time_errors_name_the_parameter(kwargs, match):
    X, table = make_panel(n_dates=5), make_reports()
    with pytest.raises(ValueError, match=match):
        PointInTime(table, **kwargs).fit_transform(X)


def test_point_in_time_refuses_duplicate_reports_and_keyless_panels():
    X, table = make_panel(n_dates=5), make_reports()
    doubled = pd.concat([table, table.iloc[:1]])
    with pytest.raises(ValueError, match=r"repeated \(asset, period, publication\)"):
        PointInTime(doubled).fit_transform(X)
    with pytest.raises(ValueError, match=r"`X` must be a \(date, asset\) panel"):
        PointInTime(table).fit_transform(X.reset_index(drop=True))
    other = table.assign(asset=table["asset"].str.lower())
    with pytest.raises(ValueError, match=r"No asset of `fundamentals` is an asset"):
        PointInTime(other).fit_transform(X)
    with pytest.raises(TypeError, match=r"`fundamentals` must be a DataFrame"):
        PointInTime(table.to_numpy()).fit_transform(X)


def _changed_after(table, cut, rng):
    """``table`` with every report published after ``cut`` changed or dropped,
    and new reports published after ``cut``."""
    later = table["public_date"] > cut
    table = table.copy()
    table.loc[later, FIELDS] = rng.normal(0, 50, (int(later.sum()), len(FIELDS)))
    table = table[~(later & (rng.random(len(table)) < 0.3))]
    extra = table.drop_duplicates("asset").iloc[:5].copy()
    extra["public_date"] = cut + pd.Timedelta(days=1)
    extra["period_end"] = cut
    return pd.concat([table, extra])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(0, 39), lag=st.integers(0, 3))
def test_point_in_time_never_looks_ahead(seed, t, lag):
    X, table = make_panel(seed % 5, n_dates=40), make_reports(seed % 7)
    dates = X.index.get_level_values(0).unique().sort_values()
    cut = dates[t]
    rng = np.random.default_rng(seed)
    kwargs = {"lag": lag, "ttm": ["earnings"], "history": ["book"]}
    before = PointInTime(table, **kwargs).fit_transform(X)
    after = PointInTime(_changed_after(table, cut, rng), **kwargs).fit_transform(X)
    rows = X.index.get_level_values(0) <= cut
    pd.testing.assert_frame_equal(before[rows], after[rows])


# ------------------------------------------------------------ descriptors
def fundamental_panel(seed=0):
    """Fields of the fundamental descriptors on a shuffled panel with NaN."""
    rng = np.random.default_rng(seed)
    X = make_panel(seed, n_dates=12)
    n = len(X)
    for name in ["book", "earnings", "cash_earnings", "forecast"]:
        X[name] = rng.normal(5, 4, n)
    for name in ["preferred", "long_term_debt", "total_debt", "assets"]:
        X[name] = rng.lognormal(1, 1, n)
    for f in ["sales_per_share", "eps"]:
        X[f] = rng.lognormal(1, 0.5, n)
        for k in range(1, 5):
            X[f"{f}_{k}y"] = X[f] * rng.lognormal(0, 0.3, n)
    X["eps_2y"] -= 3  # some negative EPS
    X["assets"] -= 1.0  # some assets <= 0
    holes = rng.random(X.shape) < 0.06
    holes[:, 0] = False
    X = X.mask(holes)
    X.iloc[:3, X.columns.get_loc("cap")] = [0.0, -1.0, np.nan]
    return X


def _div(a, b):
    return a / b if b > 0 else np.nan


def slow_fundamentals(X, scale="abs_mean", missing_as_zero=("preferred",)):
    rows = []
    for _, r in X.iterrows():
        pe = r["preferred"]
        ld = r["long_term_debt"]
        pe = 0.0 if np.isnan(pe) and "preferred" in missing_as_zero else pe
        ld = 0.0 if np.isnan(ld) and "long_term_debt" in missing_as_zero else ld
        out = {
            "btop": _div(r["book"], r["cap"]),
            "etop": _div(r["earnings"], r["cap"]),
            "cetop": _div(r["cash_earnings"], r["cap"]),
            "epfwd": _div(r["forecast"], r["cap"]),
            "mlev": _div(r["cap"] + pe + ld, r["cap"]),
            "dtoa": _div(r["total_debt"], r["assets"]),
            "blev": _div(r["book"] + pe + ld, r["book"]),
        }
        for f, name in (("sales_per_share", "sgro"), ("eps", "egro")):
            y = np.array([r[f]] + [r[f"{f}_{k}y"] for k in range(1, 5)])
            t = np.array([0.0, -1, -2, -3, -4])
            slope = np.polyfit(t, y, 1)[0] if not np.isnan(y).any() else np.nan
            s = {"abs_mean": abs(y.mean()), "mean": y.mean()}.get(scale)
            s = np.abs(y).mean() if s is None else s
            out[name] = slope / s if s != 0 else np.nan
        rows.append(out)
    return pd.DataFrame(rows, index=X.index)


@pytest.mark.parametrize("scale", ["abs_mean", "mean", "mean_abs"])
def test_fundamental_descriptors_equal_slow_loop(scale):
    X = fundamental_panel()
    want = slow_fundamentals(X, scale)
    steps = [
        BookToPrice(),
        EarningsYield(forecast_earnings="forecast"),
        Leverage(),
        Growth(scale=scale),
    ]
    got = pd.concat([s.fit_transform(X) for s in steps], axis=1)
    assert got.index.equals(X.index)
    assert_allclose(got[want.columns], want, rtol=1e-10, atol=1e-12)
    assert want.notna().to_numpy().mean() > 0.6


def test_leverage_missing_as_zero_choices():
    X = fundamental_panel(1)
    both = ("preferred", "long_term_debt")
    want = slow_fundamentals(X, missing_as_zero=both)[["mlev", "dtoa", "blev"]]
    got = Leverage(missing_as_zero=both).fit_transform(X)
    assert_allclose(got, want, rtol=1e-12)
    none = Leverage(missing_as_zero=()).fit_transform(X)
    assert none["mlev"][X["preferred"].isna()].isna().all()
    without = Leverage(preferred=None).fit_transform(X.drop(columns="preferred"))
    X0 = X.assign(preferred=0.0)
    assert_allclose(without, Leverage().fit_transform(X0), rtol=1e-12)


def test_earnings_yield_epfwd_only_with_forecasts():
    X = fundamental_panel()
    assert list(EarningsYield().fit_transform(X).columns) == ["etop", "cetop"]
    step = EarningsYield(forecast_earnings="forecast", cash_earnings=None)
    assert list(step.fit(X).get_feature_names_out()) == ["etop", "epfwd"]


@pytest.mark.parametrize(
    ("step", "match"),
    [
        (BookToPrice(book="be"), r"`book`='be' is not a column of X"),
        (EarningsYield(cap="mcap"), r"`cap`='mcap' is not a column of X"),
        (Leverage(assets="at"), r"`assets`='at' is not a column of X"),
        (Growth(eps="epsx"), r"`eps`='epsx_1y' is not a column of X"),
        (Growth(years=1), r"`years` must be an integer >= 2"),
        (Leverage(missing_as_zero=["book"]), r"`missing_as_zero` may hold"),
        (NonlinearSize(cap="size"), r"`cap`='size' is not a column of X"),
    ],
)
def test_fundamental_descriptor_errors_name_the_parameter(step, match):
    X = fundamental_panel()
    X["epsx"] = 1.0
    with pytest.raises(ValueError, match=match):
        step.fit_transform(X)


@pytest.mark.parametrize(
    "step",
    [BookToPrice(), EarningsYield(), Leverage(), Growth(), NonlinearSize()],
    ids=lambda s: type(s).__name__,
)
def test_fundamental_descriptor_reads_only_its_columns(step):
    # Other columns (a text label, an inf) are neither validated nor read.
    X = fundamental_panel()
    wide = X.assign(industry="bank", junk=np.inf)
    got = step.fit_transform(wide)
    pd.testing.assert_frame_equal(got, step.fit_transform(X))
    assert set(step.feature_names_in_) == set(step._fields().values())


# --------------------------------------------------------- nonlinear size
def _wls_resid(y, Z, w):
    """Residuals of y on [1, Z] weighted by w, over the rows with everything."""
    A = np.column_stack([np.ones(len(y)), Z])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
    return y - A @ beta


def _cap_z(x, cap):
    """(x - cap-weighted mean) / equal-weighted std (ddof=0), NaN ignored."""
    ok = ~np.isnan(x)
    w = np.where(ok & (cap > 0), cap, 0.0)
    mean = (w * np.where(ok, x, 0)).sum() / w.sum() if w.sum() > 0 else np.nanmean(x)
    sd = np.nanstd(x)
    return (x - mean) / sd if sd > 0 else np.where(ok, 0.0, np.nan)


def slow_nlsize(X):
    out = pd.Series(np.nan, index=X.index)
    for _, day in X.groupby(level="date"):
        cap = day["cap"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            size = np.where(cap > 0, np.log(cap), np.nan)
        z = _cap_z(size, cap)
        ok = ~np.isnan(z)
        if ok.sum() < 3:
            continue
        r = _wls_resid(z[ok] ** 3, z[ok], np.sqrt(cap[ok]))
        out.loc[day.index[ok]] = r
    return out


def test_nonlinear_size_equals_slow_loop():
    X = make_panel(3, n_dates=15)
    X.iloc[:2, 0] = [0.0, -5.0]
    got = NonlinearSize().fit_transform(X)
    assert list(got.columns) == ["nlsize"]
    want = slow_nlsize(X)
    assert_allclose(got["nlsize"], want, rtol=1e-10, atol=1e-10)
    assert want.notna().mean() > 0.8


# ------------------------------------------------------------ style exposures
def style_panel(seed=0, n_dates=6, n_assets=40):
    rng = np.random.default_rng(seed)
    X = make_panel(seed, n_dates=n_dates, n_assets=n_assets)
    names = ["beta", "hsigma", "rstr", "lncap", "dastd", "cmra", "stom", "stoq"]
    names += ["btop", "etop", "cetop", "mlev", "dtoa", "sgro", "egro", "nlsize"]
    for name in names:
        X[name] = rng.standard_t(4, len(X))
    X = X.mask(rng.random(X.shape) < 0.05).assign(cap=X["cap"])
    X["sqrt_cap"] = np.sqrt(X["cap"])
    return X


def slow_styles(X, clip=3.0, weighting="cap"):
    present = [c for c in X.columns if c not in ("cap", "sqrt_cap")]
    styles = {
        s: {d: w for d, w in ws.items() if d in present}
        for s, ws in CNE5_STYLES.items()
    }
    styles = {s: ws for s, ws in styles.items() if ws}
    out = pd.DataFrame(np.nan, index=X.index, columns=list(styles))
    for _, day in X.groupby(level="date"):
        cap = day["cap"].to_numpy()
        mcap = np.where(cap > 0, cap, np.nan) if weighting == "cap" else 1.0 + 0 * cap
        mcap = np.ones(len(day)) if weighting == "equal" else mcap

        def z(x, mcap=mcap):
            return _cap_z(x, np.where(np.isnan(mcap), 0, mcap))

        frame = {}
        for s, ws in styles.items():
            num = np.zeros(len(day))
            den = np.zeros(len(day))
            for d, w in ws.items():
                x = z(np.clip(z(day[d].to_numpy()), -clip, clip))
                num += np.where(np.isnan(x), 0, w * x)
                den += np.where(np.isnan(x), 0, w)
            frame[s] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        raw = dict(frame)
        for s, on in (
            ("residual_volatility", ["beta", "size"]),
            ("liquidity", ["size"]),
        ):
            Z = np.column_stack([raw[o] for o in on])
            y = raw[s]
            w = np.sqrt(np.where(cap > 0, cap, np.nan))
            ok = ~np.isnan(Z).any(axis=1) & ~np.isnan(y) & ~np.isnan(w)
            r = np.full(len(day), np.nan)
            r[ok] = _wls_resid(y[ok], Z[ok], w[ok])
            frame[s] = r
        for s in styles:
            out.loc[day.index, s] = z(frame[s])
    return out


@pytest.mark.parametrize("weighting", ["cap", "equal"])
def test_style_exposures_equal_slow_loop(weighting):
    X = style_panel()
    step = StyleExposures(standardize=weighting, passthrough=["sqrt_cap"])
    got = step.fit_transform(X)
    want = slow_styles(X, weighting=weighting)
    assert list(got.columns) == [*want.columns, "sqrt_cap"]
    assert step.styles_ == list(want.columns)
    assert "earnings_yield" in want.columns and "momentum" in want.columns
    assert_allclose(got[want.columns], want, rtol=1e-10, atol=1e-10)
    assert_allclose(got["sqrt_cap"], X["sqrt_cap"])
    assert want.notna().to_numpy().mean() > 0.7
    assert list(step.get_feature_names_out()) == list(got.columns)


def test_style_exposures_leave_out_absent_styles_and_refuse_asked_ones():
    X = style_panel()[["cap", "btop", "etop"]]
    got = StyleExposures().fit_transform(X)
    assert list(got.columns) == ["earnings_yield", "book_to_price"]
    X = X.drop(columns="etop")
    asked = {"value": {"btop": 1.0}, "liquidity": {"stom": 1.0}}
    with pytest.raises(ValueError, match=r"`styles` asks for 'liquidity'"):
        StyleExposures(styles=asked).fit_transform(X)
    with pytest.raises(ValueError, match=r"columns \['foo'\] are not descriptors"):
        StyleExposures().fit_transform(X.assign(foo=1.0))
    with pytest.raises(ValueError, match=r"`orthogonalize` names styles"):
        StyleExposures(orthogonalize={"liquidity": ["size"]}).fit_transform(X)


def test_style_exposures_feed_cross_sectional_model_in_a_pipeline():
    from sklearn.pipeline import make_pipeline

    from skfactor import CrossSectionalFactorModel

    X = style_panel(n_dates=8, n_assets=60)
    rng = np.random.default_rng(5)
    industry = rng.integers(0, 3, len(X))
    dummies = [f"ind{k}" for k in range(3)]
    for k, name in enumerate(dummies):
        X[name] = (industry == k).astype(float)
    styles = StyleExposures(passthrough=["sqrt_cap", *dummies]).fit_transform(X)
    truth = rng.normal(0, 0.01, len(CNE5_STYLES) - 2)
    y = styles.iloc[:, : len(truth)].fillna(0) @ truth + rng.normal(0, 1e-4, len(X))
    model = CrossSectionalFactorModel(
        fit_intercept=False, weights="sqrt_cap", industries=dummies
    )
    pipe = make_pipeline(StyleExposures(passthrough=["sqrt_cap", *dummies]), model).fit(
        X, y
    )
    direct = CrossSectionalFactorModel(
        fit_intercept=False, weights="sqrt_cap", industries=dummies
    ).fit(styles, y)
    fitted = pipe[-1]
    pd.testing.assert_frame_equal(fitted.factor_returns_, direct.factor_returns_)
    assert set(styles.columns[: len(truth)]) <= set(fitted.factor_returns_.columns)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (BookToPrice(), fundamental_panel()),
        lambda: (Growth(), fundamental_panel()),
        lambda: (Leverage(), fundamental_panel()),
        lambda: (EarningsYield(), fundamental_panel()),
        lambda: (NonlinearSize(), make_panel(n_dates=12)),
        lambda: (StyleExposures(passthrough=["sqrt_cap"]), style_panel()),
    ],
)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(0, 4))
def test_fundamental_descriptors_never_look_ahead(make, seed, t):
    step, X = make()
    dates = X.index.get_level_values(0).unique().sort_values()
    later = X.index.get_level_values(0) > dates[t]
    rng = np.random.default_rng(seed)
    changed = X.copy()
    noise = rng.lognormal(0, 1, (int(later.sum()), X.shape[1]))
    changed.loc[later] = changed.loc[later].to_numpy() * noise
    before, after = step.fit_transform(X), step.fit_transform(changed)
    pd.testing.assert_frame_equal(before[~later], after[~later])


# ------------------------------------------------------- raw-field dataset
def test_make_raw_panel_truth_is_recovered_by_the_descriptor_chain():
    import warnings

    from skfactor import CrossSectionalFactorModel
    from skfactor.datasets import make_raw_panel
    from skfactor.panel import forward_returns

    data = make_raw_panel(n_dates=150, n_assets=300, random_state=0)
    X = data.X.drop(columns="industry")
    assert data.X.index.equals(data.exposures.index)
    reports = data.fundamentals
    assert reports.duplicated(["asset", "period_end"]).any()  # restatements
    lag = reports["public_date"] - reports["period_end"]
    assert lag.min() >= pd.Timedelta(days=20)
    flows = ["earnings", "cash_earnings", "sales_per_share", "eps"]
    P = PointInTime(
        reports, ttm=flows, history=["sales_per_share", "eps"]
    ).fit_transform(X)
    D = pd.concat(
        [
            step.fit_transform(P)
            for step in (BookToPrice(), EarningsYield(), Leverage(), Growth())
        ],
        axis=1,
    ).assign(lncap=np.log(P["cap"]), cap=P["cap"])
    S = StyleExposures().fit_transform(D)
    truth = data.exposures
    floor = {"size": 0.98, "book_to_price": 0.7, "earnings_yield": 0.6}
    floor |= {"leverage": 0.7, "growth": 0.35}
    for style, low in floor.items():
        assert S[style].corr(truth[style]) > low, style
    # The true factor returns: today's exposures earn the next date's returns.
    dummies = pd.get_dummies(data.X["industry"], dtype=float)
    Z = pd.concat([S, dummies], axis=1).assign(sqrt_cap=np.sqrt(X["cap"]))
    model = CrossSectionalFactorModel(
        fit_intercept=False, weights="sqrt_cap", industries=list(dummies.columns)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the last date has no forward return
        model.fit(Z, forward_returns(X["returns"]))
    fr = model.factor_returns_
    true = data.factor_returns.shift(-1).reindex(fr.index)
    for style in floor:
        assert fr[style].corr(true[style]) > 0.5, style


def test_make_raw_panel_is_reproducible_and_checks_reporting_lag():
    from skfactor.datasets import make_raw_panel

    a = make_raw_panel(n_dates=10, n_assets=20, random_state=3)
    b = make_raw_panel(n_dates=10, n_assets=20, random_state=3)
    pd.testing.assert_frame_equal(a.X, b.X)
    pd.testing.assert_frame_equal(a.fundamentals, b.fundamentals)
    with pytest.raises(ValueError, match=r"`reporting_lag` must be a pair"):
        make_raw_panel(n_dates=10, n_assets=20, reporting_lag=(30, 10))
