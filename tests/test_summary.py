"""The Summary table (header, text, HTML, LaTeX) and the covariance vocabulary."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

from skfactor.models._summary import HEADER_KEYS, Summary, finite_mean, term_overview
from skfactor.utils._cov_types import (
    COV_TYPE_ALIASES,
    canonical_cov_type,
    resolve_bandwidth,
)

HEADER = {
    "estimator": "CrossSectionalFactorModel",
    "cov_type": "kernel",
    "kernel": "bartlett",
    "bandwidth": 4,
    "n_dates": 120,
    "n_assets": 50,
    "mean_rsquared": 0.123456,
    "grs_pvalue": 0.5,
}


@pytest.fixture
def table():
    frame = pd.DataFrame(
        {
            "coef": [0.01, -0.2],
            "std_err": [0.005, 0.1],
            "t": [2.0, -2.0],
            "p_value": [0.05, 0.05],
        },
        index=pd.Index(["const", "value_z"], name="term"),
    )
    return Summary(frame, header=HEADER)


def test_summary_is_todays_dataframe(table):
    assert isinstance(table, pd.DataFrame)
    assert table.loc["const", "coef"] == 0.01
    pd.testing.assert_series_equal(
        table["std_err"], pd.Series([0.005, 0.1], index=table.index, name="std_err")
    )
    assert list(table.columns) == ["coef", "std_err", "t", "p_value"]


@pytest.mark.parametrize(
    "derive",
    [
        lambda s: s.round(3),
        lambda s: s.loc[["value_z"]],
        lambda s: s.copy(),
        lambda s: pickle.loads(pickle.dumps(s)),
    ],
    ids=["round", "loc", "copy", "pickle"],
)
def test_summary_header_survives_pandas_operations(table, derive):
    derived = derive(table)
    assert isinstance(derived, Summary)
    assert derived.header == HEADER


def test_summary_text_shows_header_then_table(table):
    text = table.as_text()
    assert repr(table) == text == str(table)
    lines = text.splitlines()
    assert lines[0].strip() == "CrossSectionalFactorModel summary"
    for label, value in [
        ("Covariance:", "kernel"),
        ("Kernel:", "bartlett"),
        ("Bandwidth:", "4"),
        ("Dates:", "120"),
        ("Assets:", "50"),
        ("Mean R²:", "0.1235"),
        ("GRS p-value:", "0.5"),
    ]:
        assert any(label in line and value in line for line in lines), label
    assert text.index("Covariance:") < text.index("value_z")  # header first
    # A key that does not apply prints as "-".
    plain = Summary(table, header={**HEADER, "kernel": None, "bandwidth": None})
    assert re.search(r"Bandwidth: +-$", plain.as_text(), re.MULTILINE)


def test_summary_html_and_latex(table):
    html = table._repr_html_()
    assert html.index("Covariance") < html.index("<table border")
    assert "<td style='text-align:left'>bartlett</td>" in html and "value_z" in html
    latex = table.as_latex()
    assert "Mean R$^2$ & 0.1235 \\\\" in latex
    assert "value\\_z & -0.2000 & 0.1000 & -2.0000 & 0.0500 \\\\" in latex
    assert latex.count("\\begin{tabular}") == 2
    with_nan = Summary(table.assign(t=[np.nan, 1.0]), header=HEADER)
    assert "const & 0.0100 & 0.0050 & -- &" in with_nan.as_latex()


def test_summary_header_keys_and_helpers():
    assert HEADER_KEYS[0] == "estimator" and HEADER_KEYS[-1] == "mean_rsquared"
    assert finite_mean(np.array([0.1, np.nan, 0.3])) == pytest.approx(0.2)
    assert np.isnan(finite_mean(np.array([np.nan])))
    params = pd.DataFrame({"a": [1.0, 3.0, np.nan], "b": [0.0, 1.0, 2.0]})
    tvalues = pd.DataFrame({"a": [3.0, 1.0, np.nan], "b": [-5.0, 0.5, 2.5]})
    overview = term_overview(params, tvalues)
    assert overview.loc["a"].tolist() == [2.0, 2.0, 0.5, 2]
    assert overview.loc["b", "share_abs_t_above_2"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(("alias", "canonical"), sorted(COV_TYPE_ALIASES.items()))
def test_cov_type_aliases_resolve_to_their_canonical_name(alias, canonical):
    accepted = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "kernel", "shanken")
    assert canonical_cov_type(alias, accepted) == canonical
    assert canonical_cov_type(canonical, accepted) == canonical
    assert COV_TYPE_ALIASES == {
        "unadjusted": "nonrobust",
        "fama-macbeth": "nonrobust",
        "HAC": "kernel",
        "newey-west": "kernel",
    }


@pytest.mark.parametrize("bad", ["hac", "robust", None, 3, "shanken"])
def test_cov_type_unknown_lists_canonical_names_and_aliases(bad):
    with pytest.raises(
        ValueError,
        match=r'^`cov_type` must be one of "nonrobust" \(or "unadjusted", '
        r'"fama-macbeth"\), "HC0", "kernel" \(or "HAC", "newey-west"\); got ',
    ):
        canonical_cov_type(bad, ("nonrobust", "HC0", "kernel"))


def test_bandwidth_aliases_resolve_to_one_lag_count():
    assert resolve_bandwidth(None) is None
    assert resolve_bandwidth(None, maxlags=5) == 5
    assert resolve_bandwidth(4, lags=4) == 4
    assert resolve_bandwidth(3, maxlags=None) == 3
    with pytest.raises(
        ValueError, match=r"`bandwidth`=3 and `maxlags`=5 name the same lag count"
    ):
        resolve_bandwidth(3, maxlags=5)
