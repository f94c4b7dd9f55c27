"""verbose=True: a tqdm bar on stderr; False: nothing; no tqdm: one note."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

from skfactor import CrossSectionalFactorModel, TimeSeriesFactorModel
from skfactor.datasets import make_factor_panel
from skfactor.risk import evaluate_factor_risk_forecast, evaluate_risk_forecast

pytest.importorskip("tqdm")


@pytest.fixture
def no_tqdm(monkeypatch):
    """``import tqdm`` fails, and the note has not been written yet."""
    from skfactor.utils import _progress

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(_progress, "_noted", False)


@pytest.fixture(scope="module")
def data():
    return make_factor_panel(n_dates=80, n_assets=30, random_state=0)


def _risk(data, verbose):
    F = data.factor_returns
    ev = evaluate_risk_forecast(F, LedoitWolf(), min_dates=40, step=5, verbose=verbose)
    return ev.table


def test_evaluate_risk_forecast_verbose_writes_a_bar_to_stderr(data, capsys):
    quiet = _risk(data, False)
    assert capsys.readouterr().err == ""
    loud = _risk(data, True)
    err = capsys.readouterr().err
    assert "covariance refits" in err and "8/8" in err
    pd.testing.assert_frame_equal(quiet, loud)


def test_evaluate_risk_forecast_without_tqdm_notes_once(data, capsys, no_tqdm):
    expected = _risk(data, False)
    got = _risk(data, True)
    err = capsys.readouterr().err
    assert err.count("install tqdm for a progress bar") == 1
    assert "skfactor[report]" in err and "%|" not in err
    pd.testing.assert_frame_equal(got, expected)


def test_evaluate_factor_risk_forecast_verbose_writes_both_bars(data, capsys):
    R = data.y.unstack("asset")
    model = TimeSeriesFactorModel().fit(data.factor_returns, R)

    def run(verbose):
        return evaluate_factor_risk_forecast(
            R,
            pd.DataFrame(model.coef_, index=R.columns),
            data.factor_returns,
            model.residuals(data.factor_returns, R),
            min_dates=40,
            step=5,
            verbose=verbose,
        ).table

    quiet = run(False)
    assert capsys.readouterr().err == ""
    loud = run(True)
    err = capsys.readouterr().err
    assert "covariance refits" in err and "specific variance refits" in err
    pd.testing.assert_frame_equal(quiet, loud)


def test_factor_report_verbose_writes_a_bar_and_nothing_by_default(data, capsys):
    from skfactor.report import FactorReport

    quiet = FactorReport(data.X, data.y, horizons=(1, 5))
    assert capsys.readouterr().err == ""
    loud = FactorReport(data.X, data.y, horizons=(1, 5), verbose=True)
    assert "factor report" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet.ic_summary, loud.ic_summary)


def test_factor_report_without_tqdm_notes_once(data, capsys, no_tqdm):
    from skfactor.report import FactorReport

    expected = FactorReport(data.X, data.y, horizons=(1,))
    got = FactorReport(data.X, data.y, horizons=(1,), verbose=True)
    got.to_html()  # a second loop: no second note
    assert capsys.readouterr().err.count("install tqdm") == 1
    expected = expected.mean_return_by_quantile
    pd.testing.assert_frame_equal(got.mean_return_by_quantile, expected)


@pytest.fixture(scope="module")
def dask_panel(data):
    pytest.importorskip("dask.dataframe")
    from skfactor.dask import from_pandas, wide_returns

    ddf = from_pandas(data.X.assign(ret=data.y), 3)
    return ddf, wide_returns(from_pandas(data.y.to_frame("ret"), 3), "ret")


def test_fit_by_date_verbose_writes_a_bar_to_stderr(data, dask_panel, capsys):
    from skfactor.dask import fit_by_date

    ddf, _ = dask_panel
    X = ["value", "size", "momentum"]
    quiet = fit_by_date(CrossSectionalFactorModel(), ddf, X, "ret")
    assert capsys.readouterr().err == ""
    loud = fit_by_date(CrossSectionalFactorModel(), ddf, X, "ret", verbose=True)
    assert "partitions" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet.summary(), loud.summary())


def test_fit_by_asset_verbose_on_a_client(data, dask_panel, capsys):
    from distributed import Client

    from skfactor.dask import fit_by_asset

    _, R = dask_panel
    F = data.factor_returns
    quiet = fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=10)
    assert capsys.readouterr().err == ""
    with Client(processes=False, n_workers=1, threads_per_worker=1,
                dashboard_address=None):  # fmt: skip
        loud = fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=10,
                            verbose=True)  # fmt: skip
    assert "asset blocks" in capsys.readouterr().err
    np.testing.assert_allclose(loud.coef_, quiet.coef_, rtol=1e-12)


def test_fit_by_asset_without_tqdm_notes_once(data, dask_panel, capsys, no_tqdm):
    from skfactor.dask import fit_by_asset

    _, R = dask_panel
    F = data.factor_returns
    bare = fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=10, verbose=True)
    assert capsys.readouterr().err.count("install tqdm") == 1
    quiet = fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=10)
    np.testing.assert_allclose(bare.coef_, quiet.coef_, rtol=1e-12)
