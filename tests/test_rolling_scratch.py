"""The rolling kernel's scratch arrays: allocated once a fit, reused chunk by chunk."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skfactor.models._rolling_ols import rolling_ols, window_bse
from skfactor.utils._scratch import Arena
from tests._faults import requires_glibc, run_faulted

FIELDS = ("params", "rsquared", "resid_vol", "nobs", "inv_shared")


def holey_panel(n_dates=260, n_assets=37, n_factors=5, missing=0.08, seed=0):
    """Factor and asset returns with scattered holes, late listings, delistings."""
    rng = np.random.default_rng(seed)
    F = rng.normal(0.0, 0.01, (n_dates, n_factors))
    B = rng.normal(1.0, 0.5, (n_assets, n_factors))
    R = 0.001 + F @ B.T + rng.normal(0.0, 0.02, (n_dates, n_assets))
    R[rng.random(R.shape) < missing] = np.nan
    R[: n_dates // 2, :5] = np.nan  # late listings
    R[n_dates // 3 :, 5:8] = np.nan  # delistings
    F[[30, 31, 120], 2] = np.nan  # dates without every factor
    return F, R


def test_arena_hands_out_disjoint_arrays_and_takes_them_back():
    ws = Arena(block=64)
    a = ws.empty((3, 5))
    b = ws.empty(7, np.int32)
    c = ws.zeros((40,), bool)  # does not fit the first block: a second one
    mark = ws.mark()
    d = ws.empty((100,))  # larger than any block: a block of its own
    a[...], b[...], d[...] = 1.0, 2, 3.0
    assert not c.any() and (a == 1.0).all() and (b == 2).all()
    for x, y in [(a, b), (a, c), (b, c), (a, d), (c, d)]:
        assert not np.shares_memory(x, y)
    assert a.flags.c_contiguous and a.shape == (3, 5) and b.dtype == np.int32
    ws.release(mark)
    assert np.shares_memory(ws.empty(100), d)  # released, then handed out again
    ws.reset()
    assert np.shares_memory(ws.empty((3, 5)), a)  # the next piece reuses the blocks


@pytest.mark.parametrize("width", [7, 3, 1])
@pytest.mark.parametrize("halflife", [None, 20.0])
def test_rolling_ols_scratch_reused_across_chunks_and_blocks_changes_nothing(
    halflife, width
):
    """Chunks of ``width`` assets (the last narrower) over blocks of 40
    dates: the scratch arrays of one chunk serve the next, whatever their
    shapes, and every number is that of one chunk per block. With 37
    assets, chunks of 3 (or 1) would leave the last asset alone, which
    rounded by an ulp: it joins the chunk before it."""
    F, R = holey_panel()
    assert R.shape[1] % 3 == 1
    kw = dict(window=40, min_obs=8, halflife=halflife, block_cells=1)
    one = rolling_ols(F, R, chunk_cells=1 << 40, **kw)
    seven = rolling_ols(F, R, chunk_cells=width * (40 + 40), **kw)
    for name in FIELDS:
        assert_array_equal(getattr(seven, name), getattr(one, name))
    moments = ("resid_vol", "s2", "inv_shared", "inv_own", "r_unit", "per_term")
    bse = [window_bse(*(getattr(r, m) for m in moments)) for r in (one, seven)]
    assert_array_equal(*bse)


def test_rolling_ols_windows_with_holes_equal_a_loop():
    """The windows that miss dates (their sums less those of their holes)
    against one least-squares fit per (date, asset) on its observed dates."""
    F, R = holey_panel()
    window, k = 40, F.shape[1] + 1
    res = rolling_ols(F, R, window=window, min_obs=k + 2, chunk_cells=300)
    own = np.zeros(res.nobs.shape, bool)
    for dates, cols, _ in res.inv_own:
        own[dates, cols] = True
    assert own.sum() > 1000  # most windows here have holes of their own
    checked = 0
    for t, i in zip(*np.nonzero(own), strict=True):
        if (t * 7 + i) % 11:  # a sample of the cells
            continue
        rows = np.arange(t - window + 1, t + 1)
        ok = ~np.isnan(R[rows, i]) & ~np.isnan(F[rows]).any(axis=1)
        X = np.column_stack([np.ones(ok.sum()), F[rows[ok]]])
        coef, *_ = np.linalg.lstsq(X, R[rows[ok], i], rcond=None)
        e = R[rows[ok], i] - X @ coef
        assert res.nobs[t, i] == ok.sum()
        assert_allclose(res.params[t, i], coef, rtol=1e-10, atol=1e-12)
        vol = np.sqrt(e @ e / (ok.sum() - k))
        assert_allclose(res.resid_vol[t, i], vol, rtol=1e-9)
        checked += 1
    assert checked > 100


@requires_glibc
def test_rolling_ols_scratch_is_faulted_once_per_fit_under_dask_malloc():
    """A Dask worker's malloc maps and page-faults every temporary array over
    128 KiB afresh (tests/_faults.py): the fit's temporaries come from blocks
    faulted once per fit, 4.6x its results' memory in 4 KiB pages (it
    faulted 28x that, one temporary after the other)."""
    (ratio,) = run_faulted(
        """
        import numpy as np
        from skfactor.models._rolling_ols import rolling_ols
        rng = np.random.default_rng(0)
        F = rng.normal(0, 0.01, (300, 5))
        R = F @ rng.normal(1, 0.5, (5, 1000)) + rng.normal(0, 0.02, (300, 1000))
        R[rng.random(R.shape) < 0.02] = np.nan  # most windows have holes
        fit = lambda: rolling_ols(F, R, window=100, min_obs=6)
        res = fit()
        kept = [res.params, res.rsquared, res.resid_vol, res.nobs]
        results = sum(a.nbytes for a in kept) + sum(v.nbytes for *_, v in res.inv_own)
        print(faulted_mib(fit) * 2**20 / results)
        """
    )
    assert ratio < 8.0, ratio
