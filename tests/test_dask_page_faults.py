"""Temporaries of the Dask rows' per-partition work, counted as page faults.

Each test runs the work under a distributed worker's malloc setting
(tests/_faults.py) and bounds the 4 KiB pages it faults, well below what
the code before these changes faulted (given per test) and above what it
faults now.
Also: the per-partition paths give the numbers of the plain ones.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from tests._faults import requires_glibc, run_faulted

pytest.importorskip("dask")
pytestmark = requires_glibc

# A partition of the bench_dask_speed panel's shape, fewer dates: 150 dates x
# 2,000 assets, 2 % of the rows missing, 1 % of the cells NaN.
_PANEL = """
import numpy as np, pandas as pd, warnings
warnings.filterwarnings("ignore")
rng = np.random.default_rng(0)
n_dates, n_assets, k = 150, 2000, 5
dates = pd.bdate_range("2020-01-01", periods=n_dates, name="date")
assets = pd.Index([f"A{i:04d}" for i in range(n_assets)], name="asset")
index = pd.MultiIndex.from_product([dates, assets])
index = index[rng.random(len(index)) > 0.02]
X = pd.DataFrame(rng.standard_normal((len(index), k)), index=index,
                 columns=[f"c{j}" for j in range(k)])
X = X.mask(rng.random(X.shape) < 0.01)
y = pd.Series(rng.normal(0, 0.02, len(index)), index=index, name="ret")
F = pd.DataFrame(rng.normal(0, 0.004, (n_dates, k)), index=dates, columns=X.columns)

"""


def _faulted_mib(work):
    """MiB of pages ``work()`` (its source) faults with a worker's setting."""
    (mib,) = run_faulted(
        _PANEL + textwrap.dedent(work) + "\nprint(faulted_mib(work))\n"
    )
    return mib


def test_cross_sectional_factor_model_fit_reuses_its_block_buffers():
    # Before: 55 MiB (a new padded block, index and masks for every block
    # of dates); now 7 MiB.
    mib = _faulted_mib(
        """
        from skfactor import CrossSectionalFactorModel
        def work():
            CrossSectionalFactorModel().fit(X, y)
        """
    )
    assert mib < 20, f"{mib:.1f} MiB faulted"


def test_time_series_factor_model_hac_block_meat_reuses_its_buffers():
    # Pass 2 of a date block (skfactor.dask's row c). Before: 46 MiB (a
    # buffered take per factor and chunk, new lag products); now 21 MiB.
    mib = _faulted_mib(
        """
        from skfactor import TimeSeriesFactorModel
        R = y.unstack("asset").reindex(F.index)
        Y = np.ascontiguousarray(R.to_numpy().T).T
        plan = TimeSeriesFactorModel(cov_type="HAC", maxlags=5).plan_date_blocks(F)
        combined = plan.combine([plan.sums(Y, 0, len(F))])
        def work():
            plan.meat(Y, 0, len(F), combined)
        """
    )
    assert mib < 33, f"{mib:.1f} MiB faulted"


def test_wide_returns_partition_is_scattered_without_a_multiindex():
    # Before: 58 MiB (the partition's MultiIndex, unstack, reindex, astype);
    # now 11 MiB.
    mib = _faulted_mib(
        """
        import dask
        import skfactor.dask as sd
        with dask.config.set(scheduler="sync"):
            ddf = sd.from_pandas(y.to_frame(), 1).persist()
        R = sd.wide_returns(ddf, "ret", assets=assets)
        def work():
            R.partitions[0].compute(scheduler="sync")
        """
    )
    assert mib < 25, f"{mib:.1f} MiB faulted"


# ------------------------------------------------------------------ numbers
def _messy_panel(seed=3):
    """Unbalanced, shuffled, NaN returns, assets entering and leaving."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-01", periods=12, name="date")
    assets = [f"A{i}" for i in range(9)]
    index = pd.MultiIndex.from_product([dates, assets], names=["date", "asset"])
    index = index[rng.random(len(index)) > 0.25]
    ret = pd.Series(rng.normal(size=len(index)), index=index, name="ret")
    ret[rng.random(len(ret)) < 0.1] = np.nan
    return ret.sample(frac=1.0, random_state=seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wide_returns_equals_unstack(dtype):
    import dask

    import skfactor.dask as sd

    ret = _messy_panel().astype(dtype)
    asked = ["A8", "A0", "A3", "A5", "A1", "A7", "A2", "A4"]  # A6 left out
    ddf = sd.from_pandas(ret.to_frame(), 3)
    with dask.config.set(scheduler="sync"):
        got = sd.gather(sd.wide_returns(ddf, "ret", assets=asked))
    expected = ret.unstack("asset").reindex(columns=asked).sort_index()
    expected.columns.name = "asset"
    pd.testing.assert_frame_equal(got, expected, check_freq=False)


def test_wide_returns_refuses_rows_without_a_date():
    import dask
    import dask.dataframe as dd

    import skfactor.dask as sd

    frame = _messy_panel().sort_index().to_frame().reset_index("asset")
    dates = frame.index
    frame.index = dates.where(np.arange(len(dates)) % 7 != 3)  # some NaT
    ddf = dd.from_delayed(
        [dask.delayed(frame)], meta=frame.iloc[:0], divisions=(dates[0], dates[-1])
    )
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(ValueError, match="rows without a date"),
    ):
        sd.gather(sd.wide_returns(ddf, "ret", assets=["A0", "A1"]))


def test_transform_by_date_keeps_the_output_in_one_block():
    import dask
    from sklearn.pipeline import make_pipeline

    import skfactor.dask as sd
    from skfactor import CrossSectionalZScore, Winsorizer

    rng = np.random.default_rng(5)
    ret = _messy_panel()
    X = pd.DataFrame(
        rng.standard_normal((len(ret), 3)), index=ret.index, columns=["a", "b", "c"]
    ).assign(ret=ret)
    ddf = sd.from_pandas(X, 2)
    steps = make_pipeline(Winsorizer(), CrossSectionalZScore())
    with dask.config.set(scheduler="sync"):
        part = sd.transform_by_date(steps, ddf, ["a", "b", "c"]).partitions[0]
        part = part.compute()
    loadings = part[["a", "b", "c"]]
    # The loadings a fit reads are a view of the partition (no interleaving copy).
    assert np.shares_memory(loadings.to_numpy(), part[["a"]].to_numpy())
    expected = steps.transform(X[["a", "b", "c"]].sort_index())
    got = part.set_index("asset", append=True)[["a", "b", "c"]]
    pd.testing.assert_frame_equal(got, expected.loc[got.index], check_index_type=False)
