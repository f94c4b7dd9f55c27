"""The examples run: the README's main job prints its tables and writes its PNGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script, *args):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_examples_lecture_walkthrough_prints_tables_and_writes_figures(tmp_path):
    pytest.importorskip("matplotlib")
    out = _run("lecture_walkthrough.py", "--output", str(tmp_path))
    # One progress line per stage, the lecture's tables, the checks on the truth.
    for text in ("Approach 1", "Approach 2", "Returns prediction", "Hedging", "done"):
        assert text in out, text
    assert "truth" in out
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) >= 5, pngs


def test_examples_fama_french_real_data(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("linearmodels")
    out = _run("fama_french.py", "--output", str(tmp_path))
    assert "GRS" in out
    assert list(tmp_path.glob("*.png"))


def test_examples_signals_real_data(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("skfolio")
    out = _run("signals.py", "--output", str(tmp_path))
    for text in ("1. neutralised", "2. mean out-of-sample", "3. IC by horizon", "done"):
        assert text in out, text
    assert len(list(tmp_path.glob("signals_*.png"))) == 3


def test_examples_risk_forecast_real_data(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("linearmodels")
    pytest.importorskip("skfolio")
    out = _run("risk_forecast.py", "--output", str(tmp_path))
    for text in ("plain", "regime-adjusted", "eigen-adjusted", "mean_bias", "done"):
        assert text in out, text
    assert (tmp_path / "risk_forecast.png").exists()
