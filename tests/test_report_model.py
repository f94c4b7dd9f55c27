"""FactorReport.from_model: a model's summary, factor returns and diagnostics."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression

from skfactor import (
    CrossSectionalFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
)
from skfactor.datasets import make_factor_panel
from skfactor.report import FactorReport
from tests._browser import chromium, probe_page

pytest.importorskip("matplotlib")


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as a list of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _page_tables(text):
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def _body(table, labels):
    """The numeric cells of the rows of ``table`` whose first cell is a label."""
    rows = {row[0]: row[1:] for row in table if row and row[0] in labels}
    return pd.DataFrame(
        [[float(v) if v else np.nan for v in rows[k]] for k in labels],
        index=labels,
    )


def _cross_sectional():
    data = make_factor_panel(n_dates=90, n_assets=60, missing_values=0.1,
                             random_state=2)  # fmt: skip
    dates = data.X.index.get_level_values(0)
    train = dates < dates.unique()[70]
    model = CrossSectionalFactorModel(condition_number=True)
    model.fit(data.X[train], data.y[train])
    return model, data.X, data.y


def _two_pass():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2012-01-02", periods=120, name="date")
    F = pd.DataFrame(rng.normal(0.0005, 0.01, (120, 2)), dates, ["MKT", "SMB"])
    B = rng.uniform(0.5, 1.5, (25, 2))
    noise = rng.normal(0, 0.02, (120, 25))
    R = pd.DataFrame(F.to_numpy() @ B.T + noise, dates, [f"a{i}" for i in range(25)])
    R = R.mask(rng.random(R.shape) < 0.05)
    return TwoPassFactorModel().fit(F.iloc[:90], R.iloc[:90]), F, R


@pytest.fixture(scope="module", params=["cross_sectional", "two_pass"])
def fitted(request):
    model, X, y = (
        _cross_sectional() if request.param == "cross_sectional" else (_two_pass())
    )
    X0, y0 = X.copy(), y.copy()
    cov_type = "kernel" if request.param == "cross_sectional" else "shanken"
    report = FactorReport.from_model(model, X, y, cov_type=cov_type)
    pd.testing.assert_frame_equal(X, X0)  # inputs untouched
    pd.testing.assert_frame_equal(pd.DataFrame(y), pd.DataFrame(y0))
    return model, X, y, cov_type, report, report.to_html()


def test_factor_report_from_model_tables_equal_the_models_own(fitted):
    model, _, _, cov_type, report, _ = fitted
    assert report.model is model  # fitted: reported as is
    expected = model.summary(cov_type=cov_type)
    pd.testing.assert_frame_equal(pd.DataFrame(report.summary), pd.DataFrame(expected))
    assert report.summary.header == expected.header
    pd.testing.assert_frame_equal(
        report.factor_returns, model.params_.drop(columns="const")
    )
    if isinstance(model, CrossSectionalFactorModel):
        pd.testing.assert_frame_equal(report.diagnostics, model.diagnostics_)
    else:
        pd.testing.assert_series_equal(report.diagnostics["nobs"], model.nobs_)
        pd.testing.assert_series_equal(report.diagnostics["rsquared"], model.rsquared_)


def test_factor_report_from_model_page_shows_the_models_tables(fitted):
    model, _, _, cov_type, _, text = fitted
    tables = _page_tables(text)
    header, coefficients, returns, diagnostics = tables[:4]
    expected = model.summary(cov_type=cov_type)
    assert dict(header)["Estimator"] == type(model).__name__
    assert dict(header)["Covariance"] == cov_type
    assert dict(header)["Dates"] == str(expected.header["n_dates"])
    terms = list(expected.index)  # 4 significant digits, p-values 3
    shown = _body(coefficients, terms)
    np.testing.assert_allclose(shown.iloc[:, :3], expected.iloc[:, :3], rtol=1e-3)
    np.testing.assert_allclose(shown.iloc[:, 3], expected["p_value"], rtol=5e-3)
    factors = model.params_.drop(columns="const")
    by_hand = np.column_stack([factors.mean(), factors.std(ddof=1), factors.min(),
                               factors.max(), factors.count()])  # fmt: skip
    np.testing.assert_allclose(_body(returns, terms[1:]), by_hand, rtol=1e-3)
    diag = (
        model.diagnostics_.drop(columns="status")
        if isinstance(model, CrossSectionalFactorModel)
        else pd.concat([model.nobs_, model.rsquared_], axis=1)
    ).astype(float)
    by_hand = np.column_stack([diag.mean(), diag.min(), diag.median(), diag.max()])
    np.testing.assert_allclose(
        _body(diagnostics, list(diag.columns)), by_hand, rtol=1e-3
    )


def test_factor_report_from_model_evaluation_equals_a_slow_loop(fitted):
    model, X, y, _, report, _ = fitted
    if isinstance(model, CrossSectionalFactorModel):
        pred, truth = model.predict(X), y
        resid = model.residuals(X, y)
    else:  # wide: to (date, asset) rows
        pred, truth = model.predict(X).stack(), y.stack()
        resid = model.residuals(X, y).stack()
        pred, resid = pred.reindex(truth.index), resid.reindex(truth.index)
    table = report.evaluation
    dates = truth.index.get_level_values(0)
    assert list(table.index) == sorted(dates.unique())
    for date in table.index:
        row = table.loc[date]
        on = (dates == date) & truth.notna().to_numpy() & pred.notna().to_numpy()
        assert row["nobs"] == on.sum()
        assert row["in_sample"] == (date in model.params_.index)
        ic = stats.spearmanr(truth[on], pred[on]).statistic
        np.testing.assert_allclose(row["ic"], ic, rtol=1e-10, atol=1e-12)
        r = resid[dates == date].dropna().to_numpy()
        rms = np.sqrt(np.mean(r**2)) if len(r) else np.nan
        np.testing.assert_allclose(row["specific_rms"], rms, rtol=1e-10)
    assert not table["in_sample"].all() and table["in_sample"].any()
    assert table.loc[~table["in_sample"], "specific_rms"].isna().all()


def test_factor_report_from_model_page_is_self_contained(fitted, tmp_path, monkeypatch):
    model, _, _, _, report, text = fitted
    path = tmp_path / "model.html"
    path.write_text(text, encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched
    assert f"Model report: {type(model).__name__}" in text
    n = 5 if isinstance(model, CrossSectionalFactorModel) else 4
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) == n
    saved = report.save_figures(tmp_path / "figures")
    assert len(saved) == n and all(p.stat().st_size > 10_000 for p in saved)
    ipython = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(ipython, "display", shown.append)
    report.show()
    assert shown == [report]
    if chromium() is not None:  # the factor report's browser check
        probe = probe_page(path, tmp_path)
        assert probe["images"] == n and probe["broken"] == 0
        assert probe["scrollWidth"] <= probe["innerWidth"] == 1280
        assert probe["wide"] == []


def test_factor_report_from_model_fits_a_clone_of_an_unfitted_model():
    model, X, y = _cross_sectional()
    unfitted = CrossSectionalFactorModel()
    report = FactorReport.from_model(unfitted, X, y)
    assert not hasattr(unfitted, "params_")  # the model given is not fitted
    assert report.model is not unfitted and report.model.condition_number
    direct = CrossSectionalFactorModel(condition_number=True).fit(X, y)
    pd.testing.assert_frame_equal(report.factor_returns, direct.factor_returns_)
    pd.testing.assert_frame_equal(report.diagnostics, direct.diagnostics_)
    assert report.evaluation["in_sample"].all()
    _, F, R = _two_pass()
    report = FactorReport.from_model(TwoPassFactorModel(), F, R)
    direct = TwoPassFactorModel().fit(F, R)
    pd.testing.assert_frame_equal(pd.DataFrame(report.summary),
                                  pd.DataFrame(direct.summary()))  # fmt: skip


def test_factor_report_from_model_without_data_reports_the_fit_alone(tmp_path):
    _, X, y = _cross_sectional()
    model = CrossSectionalFactorModel().fit(X, y)  # no condition numbers
    report = FactorReport.from_model(model)
    assert report.evaluation is None
    assert repr(report) == "FactorReport.from_model(CrossSectionalFactorModel())"
    assert "condition_number" not in report.diagnostics_summary.index
    text = report._repr_html_()
    assert text.startswith("<style>")
    assert "On the data given" not in text
    assert "Condition numbers were not computed" in text
    report.to_html(tmp_path / "page.html", title="My model")
    assert "<h1>My model</h1>" in (tmp_path / "page.html").read_text()
    with pytest.raises(AttributeError, match="no attribute 'ic'"):
        report.ic  # noqa: B018 - a factor report's table


@pytest.mark.parametrize(
    "model, match",
    [
        (TimeSeriesFactorModel(), "CrossSectionalFactorModel or a TwoPassFactorModel"),
        (LinearRegression(), "got LinearRegression"),
    ],
)
def test_factor_report_from_model_refuses_other_models(model, match):
    with pytest.raises(TypeError, match=match):
        FactorReport.from_model(model)


def test_factor_report_from_model_refuses_an_unfitted_model_without_data():
    with pytest.raises(ValueError, match="not fitted and no data was given"):
        FactorReport.from_model(CrossSectionalFactorModel())
    model, X, y = _cross_sectional()
    with pytest.raises(ValueError, match="Give both `X` and `y`"):
        FactorReport.from_model(model, X)
    with pytest.raises(ValueError, match="`window` must be an integer >= 1"):
        FactorReport.from_model(model, window=0)
