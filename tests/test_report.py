"""FactorReport against alphalens-reloaded, its page in a browser, the command line."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alphalens import performance as al
from alphalens import utils as alu

from skfactor.datasets import make_factor_panel
from skfactor.metrics import (
    information_coefficient,
    mean_return_by_quantile,
    quantile_labels,
    quantile_returns,
)
from skfactor.panel import forward_returns
from skfactor.report import FactorReport
from tests._browser import chromium, probe_page
from tests.conftest import shuffled

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def tied():
    """A shuffled factor with NaN, ties, and one date where ``pd.qcut`` fails."""
    data = make_factor_panel(
        n_dates=70, n_assets=80, missing_values=0.1, factor_mean=0.002,
        random_state=5,
    )  # fmt: skip
    f = data.X["momentum"].round(1)
    dates = f.index.get_level_values(0)
    bad = dates.unique()[30]
    # 70 % of that date's values equal: repeated qcut edges
    rng = np.random.default_rng(0)
    f = f.mask((dates == bad) & (rng.random(len(f)) < 0.7), 0.0)
    return shuffled(f.rename("momentum"), 3), data.y, bad


def _alphalens(f, returns, h, **kwargs):
    """alphalens' clean factor data at one horizon, its prints silenced."""
    prices = (1.0 + returns.unstack()).cumprod()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return alu.get_clean_factor_and_forward_returns(
            f.sort_index(), prices, periods=(h,), filter_zscore=None,
            max_loss=1.0, quantiles=5, **kwargs,
        )  # fmt: skip


@pytest.mark.parametrize("h", [1, 5])
def test_factor_report_equals_alphalens(tied, h):
    f, returns, bad = tied
    report = FactorReport(f, returns, horizons=(1, h))
    fd = _alphalens(f, returns, h)
    column = fd.columns[0]
    al_dates = fd.index.get_level_values(0).unique()
    assert bad not in al_dates  # alphalens drops the date pd.qcut fails on
    # the rank rule there: the tied 70 % share one quantile, the rest are cut
    assert report.quantile_returns[h].loc[bad, [1, 5]].notna().all()
    ic = al.factor_information_coefficient(fd)[column].dropna()
    np.testing.assert_allclose(
        report.ic[h].reindex(ic.index), ic, rtol=1e-10, atol=1e-12
    )
    keep = report.ic.index.difference([bad])
    for demeaned, mean, se in [
        (True, report.mean_return_by_quantile, report.mean_return_by_quantile_std_err),
        (False, report.raw_return_by_quantile, report.raw_return_by_quantile_std_err),
    ]:
        by_date, _ = al.mean_return_by_quantile(fd, by_date=True, demeaned=demeaned)
        expected = by_date[column].unstack(0)
        ours = report.quantile_returns[h] if demeaned else None
        if ours is not None:
            np.testing.assert_allclose(
                ours.reindex(expected.index), expected, rtol=1e-10, atol=1e-14
            )
        # The summary on alphalens' dates: the same rows, the same numbers.
        fwd = forward_returns(returns, h).reindex(f.index)
        kept = f.index.get_level_values(0).isin(keep)
        per_date = quantile_returns(f[kept], fwd[kept], 5, demeaned=demeaned)
        m, s = al.mean_return_by_quantile(fd, demeaned=demeaned)
        table = mean_return_by_quantile(per_date)
        np.testing.assert_allclose(table["mean"], m[column], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(table["std_err"], s[column], rtol=1e-10, atol=1e-14)
        # ... and the report's table is that summary over all its dates.
        full = quantile_returns(f, fwd, 5, demeaned=demeaned)
        np.testing.assert_allclose(mean[h], full.mean(), rtol=1e-12)
        np.testing.assert_allclose(
            se[h], full.std() / np.sqrt(full.count()), rtol=1e-12
        )
    if h == 1:  # alphalens' turnover and autocorrelation use the 1-date rows
        auto = al.factor_rank_autocorrelation(fd, 1).dropna()
        compare = auto.index.difference([bad + pd.offsets.BDay(1)])
        np.testing.assert_allclose(
            report.rank_autocorrelation.reindex(compare), auto.reindex(compare),
            rtol=1e-10,
        )  # fmt: skip
        for q in range(1, 6):
            turnover = al.quantile_turnover(fd["factor_quantile"], q, 1).dropna()
            compare = turnover.index.difference([bad + pd.offsets.BDay(1)])
            np.testing.assert_allclose(
                report.quantile_turnover[q].reindex(compare),
                turnover.reindex(compare), rtol=1e-10, atol=1e-12,
            )  # fmt: skip


def test_factor_report_groups_equal_alphalens_by_group(tied):
    f, returns, bad = tied
    assets = f.index.get_level_values(1)
    groups = pd.Series(assets.map(lambda a: f"S{int(a[1:]) % 3}"), index=f.index)
    report = FactorReport(f, returns, horizons=(5,), groups=groups)
    fd = _alphalens(f, returns, 5, groupby=groups.sort_index())
    column = fd.columns[0]
    kept = f.index.get_level_values(0) != bad  # the dates alphalens keeps
    on_kept = FactorReport(f[kept], returns, horizons=(5,), groups=groups[kept])
    ic = al.factor_information_coefficient(fd, by_group=True)[column]
    np.testing.assert_allclose(
        on_kept.ic_by_group[5].to_numpy(),
        ic.groupby(level="group", observed=True).mean().to_numpy(),
        rtol=1e-10,
    )
    mean, _ = al.mean_return_by_quantile(fd, by_group=True, by_date=True)
    expected = mean[column].unstack([2, 0])
    fwd = forward_returns(returns, 5).reindex(f.index)
    ours = quantile_returns(f[kept], fwd[kept], 5, groups=groups[kept])
    np.testing.assert_allclose(
        ours[expected.columns].reindex(expected.index), expected,
        rtol=1e-10, atol=1e-14,
    )  # fmt: skip
    assert report.mean_return_by_quantile_by_group.index.names == [
        "group",
        "quantile",
    ]
    # A fixed group per asset, given by asset, is the same as the long Series.
    by_asset = groups.groupby(level=1).first()
    same = FactorReport(f, returns, horizons=(5,), groups=by_asset)
    pd.testing.assert_frame_equal(same.ic_by_group, report.ic_by_group)


def test_quantile_labels_qcut_equals_pandas_date_by_date(tied):
    f, _, bad = tied
    got = quantile_labels(f, 5, rule="qcut")
    by_rank = quantile_labels(f, 5)
    for date, values in f.groupby(level=0):
        values = values.dropna()
        try:
            expected = pd.qcut(values, 5, labels=False) + 1.0
        except ValueError:
            assert date == bad
            expected = by_rank.loc[values.index]
        pd.testing.assert_series_equal(
            got.loc[values.index], expected, check_names=False
        )
    assert got[f.isna()].isna().all()


def test_quantile_returns_weighted_equal_a_slow_loop(tied):
    f, returns, _ = tied
    fwd = forward_returns(returns, 1).reindex(f.index)
    rng = np.random.default_rng(1)
    w = pd.Series(rng.uniform(0.5, 2.0, len(f)), index=f.index)
    got = quantile_returns(f, fwd, 4, weights=w)
    labels = quantile_labels(f[fwd.notna()], 4, rule="qcut").reindex(f.index)
    for date in got.index[:10]:
        r, q, ww = (s.xs(date, level=0) for s in (fwd, labels, w))
        ok = r.notna() & q.notna()
        r, q, ww = r[ok], q[ok], ww[ok]
        r = r - np.average(r, weights=ww)
        for k in range(1, 5):
            m = q == k
            assert got.loc[date, k] == pytest.approx(
                np.average(r[m], weights=ww[m]), rel=1e-12, abs=1e-15
            )


def test_factor_report_verdict_tells_signal_from_noise():
    data = make_factor_panel(
        n_dates=300, n_assets=200, factor_mean=0.002, random_state=11
    )
    signal = FactorReport(data.X["momentum"], data.y, horizons=(1, 5))
    noise = pd.Series(
        np.random.default_rng(12).normal(size=len(data.y)), index=data.y.index
    )
    null = FactorReport(noise, data.y, horizons=(1, 5))
    assert (signal.ic_summary["p_value"] < 1e-4).all()
    assert (null.ic_summary["p_value"] > 0.2).all()
    assert all("distinguishable from noise" in v and "not" not in v
               for v in signal.verdict)  # fmt: skip
    assert all("not distinguishable from noise" in v for v in null.verdict)
    assert "overlapping 5-date returns" in signal.verdict[5]
    assert "one-sample t" in signal.verdict[1]


def test_factor_report_several_factors_and_inputs_untouched():
    data = make_factor_panel(n_dates=60, n_assets=50, random_state=2)
    X, y = shuffled(data.X, 1), data.y
    X_before, y_before = X.copy(), y.copy()
    report = FactorReport(X, y, horizons=(1, 5), start="2015-01-10")
    assert list(report.sections) == ["value", "size", "momentum"]
    assert report.ic.columns.names == ["factor", "horizon"]
    assert report.ic_summary.index.names == ["factor", "horizon"]
    assert report.verdict.index.names == ["factor", "horizon"]
    assert report.rank_autocorrelation.columns.tolist() == list(report.sections)
    one = FactorReport(X["size"], y, horizons=(1, 5), start="2015-01-10")
    pd.testing.assert_frame_equal(report.sections["size"].ic_summary, one.ic_summary)
    assert report.ic.index.min() >= pd.Timestamp("2015-01-10")
    pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y, y_before)
    with pytest.raises(AttributeError, match="nonsense"):
        report.nonsense  # noqa: B018


def test_factor_report_refuses_bad_input():
    data = make_factor_panel(n_dates=30, n_assets=20, random_state=0)
    f = data.X["value"]
    with pytest.raises(ValueError, match="`horizons` must be a sequence"):
        FactorReport(f, data.y, horizons=(0, 5))
    with pytest.raises(ValueError, match="MultiIndex"):
        FactorReport(f.droplevel(1), data.y)
    with pytest.raises(TypeError, match="`factor` must be a pandas Series"):
        FactorReport(f.to_numpy(), data.y)
    with pytest.raises(ValueError, match="No factor date is between"):
        FactorReport(f, data.y, start="2030-01-01")
    with pytest.raises(ValueError, match="`quantiles` must be an integer >= 2"):
        FactorReport(f, data.y, quantiles=1)
    with pytest.raises(ValueError, match="`window` must be an integer >= 1"):
        FactorReport(f, data.y, window=0)
    with pytest.raises(TypeError, match="`groups` must be a pandas Series"):
        FactorReport(f, data.y, groups=["a"] * len(f))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    data = make_factor_panel(n_dates=120, n_assets=60, factor_mean=0.002,
                             random_state=4)  # fmt: skip
    assets = data.X.index.get_level_values(1)
    groups = pd.Series(assets.str[-1:], index=data.X.index)
    report = FactorReport(data.X["momentum"], data.y, horizons=(1, 5),
                          groups=groups)  # fmt: skip
    path = tmp_path_factory.mktemp("report") / "report.html"
    report.to_html(path)
    return report, path


def test_factor_report_page_is_self_contained(page, tmp_path, monkeypatch):
    report, path = page
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', text)
    assert len(images) == 6  # six figures per factor, by group included
    assert "<table" in text and "Verdict" in text
    assert report._repr_html_().startswith("<style>")
    saved = report.save_figures(tmp_path / "figures")
    assert len(saved) == 6 and all(p.stat().st_size > 10_000 for p in saved)
    ipython = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(ipython, "display", shown.append)
    report.show()
    assert shown == [report]


@pytest.mark.skipif(chromium() is None, reason="no chromium to open the page")
def test_factor_report_page_loads_offline_at_1280px(page, tmp_path):
    _, path = page
    probe = probe_page(path, tmp_path)
    assert probe["images"] == 6 and probe["broken"] == 0
    assert probe["innerWidth"] == 1280
    assert probe["scrollWidth"] <= probe["innerWidth"]
    assert probe["wide"] == []


def test_factor_report_ic_equals_information_coefficient(tied):
    f, returns, _ = tied
    with pytest.warns(UserWarning, match="dates at horizon=21 hold"):
        report = FactorReport(f, returns, horizons=(21,))
    assert report.sections["momentum"].notes  # and on the page
    fwd = forward_returns(returns, 21).reindex(f.index)
    pd.testing.assert_series_equal(
        report.ic[21], information_coefficient(fwd, f), check_names=False
    )
    assert report.ic_summary.loc[21, "df"] == report.ic_summary.loc[21, "n_dates"] // 42


# ---------------------------------------------------------------- command line
def _panel_file(tmp_path, kind="csv", index=False, n_dates=80):
    data = make_factor_panel(n_dates=n_dates, n_assets=40, random_state=8)
    frame = data.X.assign(ret=data.y, sector=data.X.index.get_level_values(1).str[-1])
    path = tmp_path / f"panel.{kind}"
    frame = frame if index else frame.reset_index()
    if kind == "csv":
        frame.to_csv(path, index=index)
    else:
        frame.to_parquet(path, index=index)
    return path


@pytest.mark.parametrize(("kind", "index"), [("csv", False), ("parquet", True)])
def test_factor_report_command_line_writes_the_page(tmp_path, kind, index, capsys):
    # CSV with the keys as columns, Parquet with them saved as the index
    from skfactor.report._cli import main

    if kind == "parquet":
        pytest.importorskip("pyarrow")
    path = _panel_file(tmp_path, kind, index)
    out = tmp_path / "momentum.html"
    argv = ["report", str(path), "--factor", "momentum", "--returns", "ret",
            "--horizons", "1,5", "--groups", "sector", "--out", str(out),
            "--quiet"]  # fmt: skip
    if kind == "csv":
        argv += ["--figures", str(tmp_path / "figs")]
    assert main(argv) == 0
    text = out.read_text(encoding="utf-8")
    assert "Factor: momentum" in text and "By group" in text
    assert text.count("data:image/png;base64,") == 6
    if kind == "csv":
        assert len(list((tmp_path / "figs").glob("*.png"))) == 6
    assert "wrote" in capsys.readouterr().err
    # The same numbers as the Python call on the same panel.
    frame = pd.read_csv(path, parse_dates=["date"]) if kind == "csv" else None
    if frame is not None:
        frame = frame.set_index(["date", "asset"]).sort_index()
        report = FactorReport(frame["momentum"], frame["ret"], horizons=(1, 5))
        assert f"{report.ic_summary.loc[5, 'mean']:.4f}" in text


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda df: df.rename(columns={"date": "when"}), "no date column"),
        (lambda df: pd.concat([df, df.iloc[:2]]), "2 duplicated \\(date, asset\\)"),
        (lambda df: df.drop(columns="momentum"), "no factor column 'momentum'"),
        (lambda df: df.assign(date="not a date"), "could not be read as dates"),
    ],
)
def test_factor_report_command_line_names_a_wrong_layout(tmp_path, edit, match, capsys):
    from skfactor.report._cli import main

    path = _panel_file(tmp_path)
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(path), "--factor", "momentum", "--returns", "ret"])
    assert exit_.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_factor_report_python_m_skfactor_runs(tmp_path):
    path = _panel_file(tmp_path, n_dates=40)
    out = tmp_path / "page.html"
    result = subprocess.run(
        [sys.executable, "-m", "skfactor", "report", str(path), "--factor",
         "value,size", "--returns", "ret", "--horizons", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "factor report" in result.stderr  # the progress bar, on by default
    assert "Factor: size" in out.read_text(encoding="utf-8")


def test_factor_report_console_script_is_declared():
    import importlib

    import tomllib

    root = Path(__file__).resolve().parents[1]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    module, name = scripts["skfactor"].split(":")
    assert callable(getattr(importlib.import_module(module), name))


def test_factor_report_on_sp500_prices(tmp_path):
    from skfolio.datasets import load_sp500_dataset

    from skfactor.report._cli import main

    prices = load_sp500_dataset().iloc[-400:]
    returns = prices.pct_change().iloc[1:].stack()
    momentum = prices.pct_change(60).iloc[1:].stack()
    frame = pd.DataFrame({"momentum": momentum, "ret": returns}).dropna(subset=["ret"])
    frame.index.names = ["Date", "Ticker"]
    path = tmp_path / "sp500.csv"
    frame.to_csv(path)
    out = tmp_path / "sp500.html"
    argv = ["report", str(path), "--factor", "momentum", "--returns", "ret",
            "--horizons", "1,21", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert out.read_text(encoding="utf-8").count("data:image/png;base64,") == 5


def test_factor_report_without_matplotlib_names_the_extra(monkeypatch):
    data = make_factor_panel(n_dates=30, n_assets=20, random_state=0)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    report = FactorReport(data.X["value"], data.y, horizons=(1,))  # tables: pandas
    assert report.ic.shape == (30, 1)
    with pytest.raises(ImportError, match=r'pip install "skfactor\[report\]"'):
        report.to_html()


def test_quantile_labels_qcut_on_a_panel_too_ragged_for_a_grid():
    # One date of 400 assets and 60 of 3 to 12: the labels come from one sort
    # of the column (the padded grid would be mostly padding).
    rng = np.random.default_rng(3)
    sizes = [400] + list(rng.integers(3, 13, 60))
    rows = [(d, f"A{i:03d}") for d, n in enumerate(sizes) for i in range(n)]
    index = pd.MultiIndex.from_tuples(rows, names=["date", "asset"])
    f = pd.Series(rng.normal(size=len(index)).round(1), index=index)
    got = quantile_labels(shuffled(f, 1), 3, rule="qcut").reindex(f.index)
    for _, values in f.groupby(level=0):
        try:
            expected = pd.qcut(values, 3, labels=False) + 1.0
        except ValueError:
            expected = quantile_labels(values, 3)
        pd.testing.assert_series_equal(got.loc[values.index], expected,
                                       check_names=False)  # fmt: skip
