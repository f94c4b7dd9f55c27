"""The shared numerics (skfactor/utils/_numerics.py) and the layers above them."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from skfactor.panel._wide import long_to_wide, validate_wide, wide_values
from skfactor.risk import factor_covariance
from skfactor.utils._numerics import (
    halflife_decay,
    halflife_weights,
    kernel_weights,
    long_run_sum,
)

PACKAGE = Path(__file__).resolve().parents[1] / "skfactor"


def _imports(folder):
    """(file, module, names) of every ``from skfactor... import`` below ``folder``."""
    out = []
    for path in sorted((PACKAGE / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "skfactor"
            ):
                out.append((path.name, node.module, [a.name for a in node.names]))
    return out


@pytest.mark.parametrize("folder", ["metrics", "panel", "preprocessing", "utils"])
def test_numerics_lower_layers_import_nothing_from_models(folder):
    found = [i for i in _imports(folder) if i[1].startswith("skfactor.models")]
    assert not found, found


def test_numerics_risk_imports_only_public_model_names():
    found = [
        i
        for i in _imports("risk")
        if i[1].startswith("skfactor.models")
        and (i[1] != "skfactor.models" or any(n.startswith("_") for n in i[2]))
    ]
    assert not found, found


def test_numerics_long_run_sum_equals_statsmodels_hac_and_a_loop():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((200, 3)).cumsum(axis=0) * 0.1
    u -= u.mean(axis=0)
    lags = 4
    got = long_run_sum(u, kernel_weights("bartlett", lags, len(u)))
    loop = u.T @ u
    for lag in range(1, lags + 1):
        g = u[lag:].T @ u[:-lag]
        loop += (1 - lag / (lags + 1)) * (g + g.T)
    np.testing.assert_allclose(got, loop, rtol=1e-12)
    hac = sm.stats.sandwich_covariance.S_hac_simple(u, nlags=lags)
    np.testing.assert_allclose(got, hac, rtol=1e-10)  # its sum, undivided
    one = long_run_sum(u[:, 0], kernel_weights("bartlett", lags, len(u)))
    np.testing.assert_allclose(one, got[0, 0], rtol=1e-12)


def test_numerics_halflife_decay_is_the_ratio_of_consecutive_weights():
    for h in (1, 2.5, 63.0):
        w = halflife_weights(np.arange(3), h)
        assert halflife_decay(h) == pytest.approx(w[1] / w[0], rel=1e-15)
        assert w[0] == 1.0
        assert halflife_weights(h, h) == pytest.approx(0.5, rel=1e-15)
    assert halflife_decay(None) == 1.0


def test_numerics_wide_check_says_the_same_to_models_and_risk():
    """The one wide-frame check: a long panel gets the same message from both."""
    index = pd.MultiIndex.from_product(
        [pd.date_range("2024-01-01", periods=3), ["A", "B"]], names=["date", "asset"]
    )
    long = pd.DataFrame({"MKT": np.arange(6.0)}, index=index)
    messages = []
    for check in (
        lambda: validate_wide(factor_covariance, long, reset=True, names=("X", "y")),
        lambda: wide_values(long, "X"),
    ):
        with pytest.raises(ValueError, match=r"\(date, asset\) MultiIndex") as info:
            check()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "`X.unstack()`" in messages[0]


def test_numerics_long_to_wide_places_each_row_and_back():
    index = pd.MultiIndex.from_tuples(
        [("2024-01-02", "B"), ("2024-01-01", "A"), ("2024-01-02", "A")],
        names=["date", "asset"],
    )
    values = np.array([3.0, 1.0, 2.0])
    wide, dates, assets, rows = long_to_wide(index, values)
    expected = pd.Series(values, index).unstack()
    np.testing.assert_array_equal(wide, expected.to_numpy())
    assert list(dates) == list(expected.index) and list(assets) == ["A", "B"]
    np.testing.assert_array_equal(wide[rows], values)
