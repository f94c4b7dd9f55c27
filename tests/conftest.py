from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skfactor.datasets import make_factor_panel

# linearmodels' bundled Fama-French data: factors and the 3x3 size/value sorts.
FACTORS = ["MktRF", "SMB", "HML"]
PORTFOLIOS = ["S1V1", "S1V3", "S1V5", "S3V1", "S3V3", "S3V5", "S5V1", "S5V3", "S5V5"]


def shuffled(frame, seed=0):
    """The same rows in a random order."""
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.permutation(len(frame))]


@pytest.fixture(params=["balanced", "unbalanced"])
def panel(request):
    """A shuffled characteristics panel with NaN holes (unbalanced: rows missing)."""
    data = make_factor_panel(
        n_dates=25,
        n_assets=123,
        missing_rows=0.25 if request.param == "unbalanced" else 0.0,
        missing_values=0.08,
        random_state=7,
    )
    return shuffled(data.X, seed=1)


def one_asset_date(X):
    """Append a date on which a single asset has a row."""
    extra = X.iloc[:1].copy()
    extra.index = pd.MultiIndex.from_tuples(
        [(pd.Timestamp("2030-01-01"), "A99999")], names=X.index.names
    )
    return pd.concat([X, extra])


@pytest.fixture(scope="session")
def french():
    """Monthly Fama-French factors and the 3x3 size/value portfolios' excess returns."""
    from linearmodels.datasets import french

    data = french.load()
    data.index = pd.DatetimeIndex(pd.to_datetime(data["dates"]), name="date")
    F = data[FACTORS]
    R = data[PORTFOLIOS].sub(data["RF"], axis=0)
    R.columns.name = "asset"
    return F, R


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory):
    """Every ``examples/*.py`` run once, as the docs build runs them.

    ``{stem: (return code, stderr)}`` and the folder holding one subfolder per
    script (its PNG figures and ``stdout.txt``); the docs build of
    tests/test_docs.py is handed the same folder, so each example runs once
    per test session.
    """
    pytest.importorskip("matplotlib")
    pytest.importorskip("sphinx")
    from tests.docs_ext import example_gallery

    root = Path(__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("example_runs")
    scripts = example_gallery.example_scripts(root / "examples")
    runs = example_gallery.run_examples(scripts, folder)
    return {k: v[:2] for k, v in runs.items()}, folder


def forbid(monkeypatch, module, *names):
    """Make ``module``'s functions ``names`` raise if called (e.g. during fit)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"one of {names} was called")

    for name in names:
        monkeypatch.setattr(module, name, refuse)


def fitted_state(model):
    """A fitted model's attributes by name: its ``__dict__`` with the lazily
    computed results read (and so computed) in place of their cache."""
    from skfactor.models._lazy import lazy_results

    state = {k: v for k, v in vars(model).items() if k != "_lazy"}
    return state | lazy_results(model)
