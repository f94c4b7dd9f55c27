"""The examples run: each prints its tables and writes its captioned PNGs.

Every script is run once per session (the ``example_runs`` fixture, which the
docs build of test_docs.py reuses), as ``python examples/NAME.py --output DIR``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs_ext import example_gallery

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = [p.stem for p in example_gallery.example_scripts(EXAMPLES)]


def _output(example_runs, stem):
    runs, folder = example_runs
    code, stderr = runs[stem]
    assert code == 0, stderr[-3000:]
    out = (folder / stem / "stdout.txt").read_text(encoding="utf-8")
    pngs = sorted((folder / stem).glob("*.png"))
    return out, pngs


@pytest.mark.parametrize("stem", SCRIPTS)
def test_examples_run_and_caption_every_figure(example_runs, stem):
    out, pngs = _output(example_runs, stem)
    assert out.strip()
    for png in pngs:
        caption = example_gallery.figure_caption(png)
        assert len(caption.split()) >= 8, f"{png.name}: caption {caption!r}"


@pytest.mark.parametrize("stem", SCRIPTS)
def test_examples_say_which_extra_they_need(stem):
    """At the top: a ``Needs:`` line and the ``--output`` option of the docs."""
    text = (EXAMPLES / f"{stem}.py").read_text(encoding="utf-8")
    doc = text.split('"""')[1]
    assert "Needs:" in doc, f"{stem}.py: its docstring says no 'Needs:'"
    assert "--output" in text, f"{stem}.py takes no --output (the docs build uses it)"


BLOCK = """
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
sys.argv = [{script!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.parametrize(
    "stem, module",
    [
        ("fama_french", "linearmodels"),
        ("hedging", "linearmodels"),
        ("signals", "skfolio"),
        ("risk_forecast", "linearmodels"),
    ],
)
def test_examples_missing_extra_is_a_friendly_error(stem, module):
    script = str(EXAMPLES / f"{stem}.py")
    done = subprocess.run(
        [sys.executable, "-c", BLOCK.format(module=module, script=script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert module in done.stderr
    assert 'pip install -e ".[examples]"' in done.stderr


def test_examples_lecture_walkthrough_labels_its_output(example_runs):
    out, pngs = _output(example_runs, "lecture_walkthrough")
    for text in ("Approach 1", "Approach 2", "Returns prediction", "Hedging", "done"):
        assert text in out, text
    assert len(pngs) == 7, [p.name for p in pngs]
    assert re.search(r"before winsorization min [\d.]+, max [\d.]+", out)
    assert "SMB weight" in out and "HML weight" in out
    assert "_weight" not in out
    assert re.search(r"n_dates\s+215\s+215\n", out)  # counts print as integers
    assert "fold" in out and "\n0 " not in out  # a named fold index from 1
    # the rolling betas' last window: beta, its s.e. and the truth, one comment
    assert re.search(r"HML\s+-?[\d.]+\s+[\d.]+\s+-?[\d.]+\s+-?[\d.]+", out)
    prose = " ".join(out.split())  # sentences are wrapped at 88 columns
    assert "s.e. from the truth" in prose
    # hedging: in sample labelled as such, out of sample with past betas
    assert "zero by construction" in prose
    hedged = re.search(r"hedged out of sample\s+([\d.]+)\s+(-?[\d.]+)\n", out)
    vol, corr = float(hedged.group(1)), float(hedged.group(2))
    assert vol < 0.5 and abs(corr) < 0.2  # a real hedge, measured out of sample
    assert "corr with MKT -0.000 " not in out.split("Out of sample")[-1]


def test_examples_grid_search_embargo_nan_count_and_noise(example_runs):
    out, _ = _output(example_runs, "grid_search")
    m = re.search(
        r"\((\S+) to (\S+)\), embargo 5 dates, hold out [\d,]+ rows \((\S+)", out
    )
    assert m, out[:500]
    import pandas as pd

    gap = len(pd.bdate_range(m.group(2), m.group(3))) - 2  # dates strictly between
    assert gap >= 5
    nan = re.search(r"([\d,]+) labels NaN \(([\d.]+)%\): ([\d,]+) on the last 5", out)
    total, at_end = (int(nan.group(k).replace(",", "")) for k in (1, 3))
    assert float(nan.group(2)) > 20 and at_end < total / 10  # holes, not the end
    assert "t (EWC)" in out
    assert "Within noise" in out or "at the 5 % level" in out


def test_examples_hedging_out_of_sample(example_runs):
    out, pngs = _output(example_runs, "hedging")
    assert "IN SAMPLE" in out and "OUT OF SAMPLE" in out
    assert "by construction" in out
    betas = re.search(r"MktRF\s+([\d.]+)\s+(-?[\d.]+)\s+([\d.]+)", out)
    unhedged, hedged, se = (float(betas.group(k)) for k in (1, 2, 3))
    assert unhedged > 0.9 and abs(hedged) < 0.05 and se > 0
    assert "-4.7e-16" not in out
    assert [p.name for p in pngs] == ["hedging.png"]


def test_examples_risk_forecast_real_data(example_runs):
    out, pngs = _output(example_runs, "risk_forecast")
    for text in ("plain", "regime-adjusted", "eigen-adjusted", "mean_bias", "done"):
        assert text in out, text
    assert [p.name for p in pngs] == ["risk_forecast.png"]


def test_examples_signals_real_data(example_runs):
    out, pngs = _output(example_runs, "signals")
    for text in ("1. neutralised", "mean out-of-sample", "IC by horizon", "done"):
        assert text in out, text
    # The IC decay, turnover and attribution are measured on dates after the
    # ones the composite's weights (and the weighting) were chosen on.
    train = re.search(r"2\. on the first (\d+) dates", out)
    held = re.search(r"3\. held out: (\d+) dates \((\S+) to", out)
    assert train and held, out[:1500]
    assert int(held.group(1)) > 200 and "4. held out" in out
    # The chosen weighting is judged against the folds' noise.
    assert re.search(r"leads \w+ by [\d.]+, (within|more than) 2 s\.e\.", out)
    assert len([p for p in pngs if p.name.startswith("signals_")]) == 3
