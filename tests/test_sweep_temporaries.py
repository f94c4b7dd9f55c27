"""The per-date sweeps' temporaries: few, reused, and the same numbers.

Winsorizer and CrossSectionalZScore sweep a cache-sized block of dates at a
time (``Segments.sweep``). Their block-sized scratch arrays are shared by the
columns a thread works on, an unbalanced panel's results go through a scratch
grid (no row-length copy of the per-date statistics), and numpy's ufunc
buffer is kept below two grid rows while sweeping. Under distributed's
``MALLOC_TRIM_THRESHOLD_`` every temporary above 128 KiB is mapped and
faulted in afresh, so the faults count them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mstats
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalZScore, Winsorizer
from skfactor.panel._segments import Segments, row_buffers
from tests._faults import requires_glibc, run_faulted


def _panel(n_dates=40, n_assets=700, n_chars=3, missing=0.1, nan=0.05, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:04d}" for i in range(n_assets)], name="asset")
    index = pd.MultiIndex.from_product([dates, assets])
    keep = rng.random(len(index)) >= missing
    values = rng.standard_t(3, size=(int(keep.sum()), n_chars))
    values[rng.random(values.shape) < nan] = np.nan
    return pd.DataFrame(
        values, index=index[keep], columns=[f"c{k}" for k in range(n_chars)]
    )


def _loop(X, limits):
    """Winsorize (scipy) then z-score (numpy) each date's non-NaN values."""
    out = X.copy()
    for _, rows in X.groupby(level="date"):
        for c in X.columns:
            v = rows[c].dropna()
            w = np.asarray(mstats.winsorize(v.to_numpy(), limits=limits))
            out.loc[v.index, c] = (w - w.mean()) / w.std()
    return out


@pytest.mark.parametrize("layout", ["sorted", "shuffled"])
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_winsorizer_zscore_unbalanced_blocks_equal_scipy_numpy_loop(
    layout, n_jobs, monkeypatch
):
    # Blocks of a few dates, so that the scratch arrays are reused from block
    # to block and column to column (and, with threads, never shared).
    monkeypatch.setattr("skfactor.panel._segments.CACHE_CELLS", 3 * 700)
    X = _panel()
    if layout == "shuffled":
        X = X.iloc[np.random.default_rng(1).permutation(len(X))]
    pipe = make_pipeline(
        Winsorizer(limits=0.02, n_jobs=n_jobs), CrossSectionalZScore(n_jobs=n_jobs)
    )
    result = pipe.fit_transform(X)
    assert result.index.equals(X.index)
    expected = _loop(X, 0.02)
    np.testing.assert_allclose(
        result.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12
    )


def test_segments_grid_positions_equal_segment_times_width_plus_rank():
    rng = np.random.default_rng(3)
    sizes = rng.integers(0, 9, size=50)
    sizes[[0, 7, 49]] = 0  # empty segments, first and last included
    codes = rng.permutation(np.repeat(np.arange(50), sizes))
    seg = Segments(codes, 50)
    rank = np.arange(seg.n_rows) - np.repeat(seg.starts, seg.sizes)
    expected = np.repeat(np.arange(50), seg.sizes) * seg.max_size + rank
    np.testing.assert_array_equal(seg._grid_positions(), expected)


def test_segments_sweep_restores_numpy_buffer_size_on_error():
    before = np.getbufsize()
    with pytest.raises(RuntimeError, match="stop"):
        with row_buffers(3000):
            assert np.getbufsize() < 2 * 3000
            raise RuntimeError("stop")
    assert np.getbufsize() == before
    X = _panel(n_assets=600).assign(c1=np.inf)
    with pytest.raises(ValueError, match=r"inf or -inf in column\(s\) \['c1'\]"):
        Winsorizer().fit_transform(X)
    assert np.getbufsize() == before


@pytest.mark.parametrize(
    ("limits", "bad"), [((0, 0.01), np.inf), ((0.01, 0), -np.inf), (0, np.inf)]
)
def test_winsorizer_one_sided_caps_still_find_inf(limits, bad):
    # Wide dates take the block-extremes path; with one cap asked for, the
    # other end's ±inf is not among the extremes it takes (with none, no
    # extremes are taken).
    X = _panel(n_assets=1200, missing=0.0)
    X.iloc[5, 2] = bad
    with pytest.raises(ValueError, match=r"inf or -inf in column\(s\) \['c2'\]"):
        Winsorizer(limits=limits).fit_transform(X)


@requires_glibc
def test_winsorizer_zscore_temporaries_fault_little_under_malloc_trim():
    # A Dask worker's setting (tests/_faults.py): the faults beyond two new
    # frames' are the steps' temporaries (220 MiB before they were shared
    # across columns and blocks, 38 after; the input is 25 MiB).
    pipe, floor = run_faulted(
        """
        import warnings
        import numpy as np, pandas as pd
        from sklearn.pipeline import make_pipeline
        from skfactor import CrossSectionalZScore, Winsorizer
        rng = np.random.default_rng(0)
        dates = pd.bdate_range("2020-01-01", periods=315, name="date")
        assets = pd.Index([f"A{i:05d}" for i in range(2000)], name="asset")
        index = pd.MultiIndex.from_product([dates, assets])
        keep = rng.random(len(index)) >= 0.02
        values = rng.standard_t(4, size=(int(keep.sum()), 5))
        values[rng.random(values.shape) < 0.01] = np.nan
        X = pd.DataFrame(values, index=index[keep], columns=list("abcde"))
        steps = make_pipeline(Winsorizer(), CrossSectionalZScore())
        def frame(values):
            return pd.DataFrame(values, X.index, X.columns, copy=False)
        def floor():  # two new frames of the values, as any two steps make
            return frame(frame(X.to_numpy(copy=True)).to_numpy(copy=True))
        print(faulted_mib(lambda: steps.fit_transform(X)), faulted_mib(floor))
        """
    )
    assert pipe - floor < 80, (pipe, floor)
