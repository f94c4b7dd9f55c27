"""skfactor.dask on a 2-worker LocalCluster: equal to the pandas path.

One cluster for the module (processes, 1 thread and 1 GiB per worker, as
issue 19 specifies); each case is small so that the module stays well under a
minute on two shared cores.
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import skfactor.dask as sd  # noqa: E402
from skfactor import (  # noqa: E402
    CrossSectionalFactorModel,
    CrossSectionalNeutralizer,
    CrossSectionalZScore,
    FactorComposite,
    QuantilePortfolioFactor,
    RollingFactorModel,
    TimeSeriesFactorModel,
    Winsorizer,
)
from skfactor.datasets import make_factor_panel  # noqa: E402
from skfactor.metrics import information_coefficient  # noqa: E402
from skfactor.panel import forward_returns  # noqa: E402
from tests.conftest import fitted_state  # noqa: E402

CHARS = ["value", "size", "momentum"]
LAYOUTS = [1, 3, 7, "parquet"]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def data():
    d = make_factor_panel(
        n_dates=36, n_assets=40, missing_rows=0.1, missing_values=0.03, random_state=3
    )
    panel = d.X.assign(ret=d.y)
    panel["industry"] = np.where(
        panel.index.get_level_values("asset").str[-1].isin(list("01234")), "a", "b"
    )
    panel["cap"] = np.exp(np.random.default_rng(0).standard_normal(len(panel)))
    return d, panel


def _layout(panel, layout, tmp_path_factory):
    if layout == "parquet":
        path = tmp_path_factory.mktemp("panel")
        sd.from_pandas(panel, 4).to_parquet(path)
        return sd.read_panel(str(path))
    return sd.from_pandas(panel, layout)


@pytest.fixture(scope="module", params=LAYOUTS)
def ddf(request, data, client, tmp_path_factory):
    return _layout(data[1], request.param, tmp_path_factory)


def _same_panel(got, expected, exact=True):
    """Same rows and values: bitwise, or to 1e-13 of each column's scale.

    ``exact=False`` for steps whose per-date products go through BLAS on
    blocks that also hold other dates (a partition holds other ones), whose
    rounding may then differ by the batch and the BLAS build.
    """
    got = got.sort_index()
    expected = expected.sort_index()
    assert got.index.get_level_values(0).equals(expected.index.get_level_values(0))
    assert list(got.index.get_level_values(1)) == list(
        expected.index.get_level_values(1)
    )
    for c in expected.columns:
        want = expected[c].to_numpy()
        if exact or not pd.api.types.is_float_dtype(want.dtype):
            np.testing.assert_array_equal(got[c].to_numpy(), want)
        else:
            atol = 1e-13 * np.nanmax(np.abs(want))
            np.testing.assert_allclose(got[c].to_numpy(), want, rtol=0, atol=atol)


# ------------------------------------------------------------------ layout
def test_pandas_estimators_refuse_dask_collections(data):
    ddf = sd.from_pandas(data[1], 2)
    with pytest.raises(TypeError, match="skfactor.dask"):
        Winsorizer().fit_transform(ddf[CHARS])
    with pytest.raises(TypeError, match="skfactor.dask"):
        CrossSectionalFactorModel().fit(data[1][CHARS], ddf["ret"])
    with pytest.raises(TypeError, match="skfactor.dask"):
        TimeSeriesFactorModel().fit(data[0].factor_returns, ddf[CHARS])
    with pytest.raises(TypeError, match="skfactor.dask"):
        forward_returns(ddf["ret"])


def test_check_panel_refuses_layouts_that_can_split_a_date(data):
    frame = data[1].reset_index("asset")
    with pytest.raises(ValueError, match=r"unknown divisions.*divisions=bounds"):
        sd.check_panel(dd.from_pandas(frame, npartitions=3).clear_divisions())
    with pytest.raises(ValueError, match="no `asset` column"):
        sd.check_panel(sd.from_pandas(data[1], 2).drop(columns="asset"))


def _lying(panel):
    """Two partitions whose divisions lie: a date in both (a file cut mid-date)."""
    frame = sd.from_pandas(panel, 1).compute().sort_index(kind="stable")
    dates = frame.index.unique()
    mid = int(np.searchsorted(frame.index, dates[18])) + 5  # 5 rows of date 18
    parts = [frame.iloc[:mid], frame.iloc[mid:]]
    return dd.from_delayed(
        [dask.delayed(p) for p in parts],
        meta=frame.iloc[:0],
        divisions=(dates[0], dates[18], dates[-1]),
        verify_meta=False,
    )


def test_a_date_across_partitions_raises_in_the_task(data, client):
    ddf = _lying(data[1])
    with pytest.raises(ValueError, match="outside its divisions"):
        sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")
    with pytest.raises(ValueError, match="outside its divisions"):
        sd.gather(sd.transform_by_date(CrossSectionalZScore(), ddf, CHARS))


def test_parquet_cut_mid_date_raises(data, client, tmp_path):
    frame = data[1].reset_index("asset").sort_index(kind="stable")
    dates = frame.index.unique()
    mid = int(np.searchsorted(frame.index, dates[10])) + 3
    frame.iloc[:mid].to_parquet(tmp_path / "part.0.parquet")
    frame.iloc[mid:].to_parquet(tmp_path / "part.1.parquet")
    with pytest.raises(ValueError, match="divisions"):
        ddf = sd.read_panel(str(tmp_path))
        sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")


@pytest.mark.parametrize("order", ["files reversed", "dates interleaved"])
def test_read_panel_of_files_that_do_not_sort_says_how_to_rewrite_them(
    data, client, tmp_path, order
):
    frame = data[1].reset_index("asset").sort_index(kind="stable")
    dates = frame.index.unique()
    if order == "files reversed":
        parts = [frame[frame.index >= dates[18]], frame[frame.index < dates[18]]]
    else:
        parts = [frame.iloc[::2], frame.iloc[1::2]]
    source, fixed = tmp_path / "source", tmp_path / "fixed"
    source.mkdir()
    for i, part in enumerate(parts):
        part.to_parquet(source / f"part.{i}.parquet")
    # The message named `path.set_index('date')`, a method of a string.
    with pytest.raises(ValueError, match=r"do not sort by date.*divisions=bounds"):
        sd.read_panel(str(source))
    # The fix it gives works.
    bounds = [dates[0], dates[12], dates[24], dates[-1]]
    dd.read_parquet(str(source), index=False).set_index(
        "date", divisions=bounds
    ).to_parquet(str(fixed))
    got = sd.gather(sd.read_panel(str(fixed)))
    _same_panel(got[CHARS + ["ret"]], data[1][CHARS + ["ret"]])


def test_read_panel_without_the_asset_column_names_the_asset_parameter(
    data, client, tmp_path
):
    sd.from_pandas(data[1], 2).rename(columns={"asset": "ticker"}).to_parquet(tmp_path)
    # The message suggested `path.rename(...)`, a method of a string.
    with pytest.raises(ValueError, match=r"`asset`='asset' is not a column.*ticker"):
        sd.read_panel(str(tmp_path))
    got = sd.gather(sd.read_panel(str(tmp_path), asset="ticker"))
    _same_panel(got[CHARS], data[1][CHARS])


def test_gather_is_the_pandas_panel(ddf, data):
    got = sd.gather(ddf)
    _same_panel(got[CHARS + ["ret"]], data[1][CHARS + ["ret"]])


# ------------------------------------------------------------------ memory
_GiB = 2**30


def _worker(rest, status="running", nthreads=1, limit=_GiB):
    return {
        "memory_limit": limit,
        "nthreads": nthreads,
        "status": status,
        "metrics": {"memory": rest},
    }


def test_check_memory_refuses_workers_that_would_pause():
    from skfactor.dask._memory import check_memory

    # Over the pause fraction (80 %) at rest, or paused: nothing can run.
    for worker in (_worker(0.85 * _GiB), _worker(0.3 * _GiB, status="paused")):
        with pytest.raises(MemoryError, match=r"at rest.*`memory_limit` of 1,024"):
            check_memory({"tcp://w": worker})
    # A partition whose peak (4x its float64 size, per thread) passes 80 %.
    what = "The largest partition of `ddf` (2,500,000 rows)"
    with pytest.raises(
        MemoryError, match=r"2,500,000 rows\) holds about 200 MiB.*1,024 MiB"
    ):
        check_memory({"tcp://w": _worker(0.3 * _GiB)}, 200 * 2**20, what=what)
    with pytest.raises(MemoryError, match=r"2 thread"):
        check_memory({"w": _worker(0.3 * _GiB, nthreads=2)}, 80 * 2**20, what=what)
    # A from_pandas panel travels whole in the graph, held twice: 2 x 300 MiB
    # over the 512 MiB of room hung a 1 GiB worker (a 210 MiB one ran).
    with pytest.raises(MemoryError, match=r"whole in the task graph.*300 MiB"):
        check_memory({"w": _worker(0.3 * _GiB)}, 2**20, what=what, inline=300 * 2**20)
    check_memory({"w": _worker(0.3 * _GiB)}, 2**20, what=what, inline=200 * 2**20)
    # Room enough, or no limit: no error.
    check_memory({"tcp://w": _worker(0.3 * _GiB)}, 80 * 2**20, what=what)
    check_memory({"tcp://w": _worker(0.9 * _GiB, limit=0)}, 10 * _GiB, what=what)


def test_fit_by_date_on_workers_paused_at_rest_fails_instead_of_hanging(data, client):
    # A worker pauses over `distributed.worker.memory.pause` of its limit; at
    # rest over it (a limit below its ~0.3 GiB at rest), `fit_by_date` hung.
    # A pause fraction of 5 % of 1 GiB stands for a ~60 MiB limit here.
    ddf = sd.from_pandas(data[1], 3)
    with dask.config.set({"distributed.worker.memory.pause": 0.05}):
        cluster = distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            memory_limit="1GiB",
            dashboard_address=None,
        )
        try:
            with distributed.Client(cluster):
                with pytest.raises(MemoryError, match=r"at rest.*where it pauses"):
                    sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")
        finally:
            cluster.close()
    assert distributed.default_client() is client


def test_too_small_workers_fail_before_computing(data, client, monkeypatch):
    # A worker memory limit too small for a partition hung `fit_by_date`
    # (workers paused for good) or had its workers killed; now every entry
    # point fails at once, naming the partition's size and the limit. The
    # partitions here are small: the peak factor is raised instead.
    import skfactor.dask._by_asset
    import skfactor.dask._memory

    ddf = sd.from_pandas(data[1], 3)
    sd.check_panel(ddf)  # the 1 GiB workers have room
    assets = sorted(set(data[1].index.get_level_values("asset")))
    R = sd.wide_returns(ddf, "ret", assets=assets)  # lazy
    monkeypatch.setattr(skfactor.dask._memory, "PANEL_FACTOR", 10**7)
    message = r"largest partition of `ddf` \(\d[\d,]* rows\).*`memory_limit` 1,024"
    with dask.config.set(scheduler=_raise):
        with pytest.raises(MemoryError, match=message):
            sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")
        with pytest.raises(MemoryError, match=message):
            sd.transform_by_date(CrossSectionalZScore(), ddf, CHARS)
        with pytest.raises(MemoryError, match=message):
            sd.transform_by_date(CrossSectionalZScore(), ddf[ddf["ret"] > 0], CHARS)
    monkeypatch.setattr(skfactor.dask._by_asset, "BLOCK_FACTOR", 10**7)
    with pytest.raises(MemoryError, match=r"asset block \(36 dates x 15 assets\)"):
        sd.fit_by_asset(
            TimeSeriesFactorModel(), data[0].factor_returns, R, asset_block=15
        )


def _entry_points(ddf, model):
    """Each by-date entry point on ``ddf``, as a call."""
    return {
        "transform_by_date": lambda: sd.transform_by_date(
            CrossSectionalZScore(), ddf, CHARS
        ),
        "fit_by_date": lambda: sd.fit_by_date(
            CrossSectionalFactorModel(), ddf, CHARS, "ret"
        ),
        "predict_by_date": lambda: sd.predict_by_date(model, ddf, CHARS),
    }


def test_check_panel_memory_persisted_and_parquet_panels_fail_before_computing(
    data, client, tmp_path_factory, monkeypatch
):
    import skfactor.dask._memory

    panel = data[1]
    # A persisted panel's partitions: their bytes on the workers, from the
    # scheduler (Dask knows no row count for them); Parquet: its statistics.
    model = CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
    persisted = sd.from_pandas(panel, 3).persist()
    distributed.wait(persisted)
    parquet = _layout(panel, "parquet", tmp_path_factory)
    _entry_points(persisted, model)["fit_by_date"]()  # the 1 GiB workers have room
    monkeypatch.setattr(skfactor.dask._memory, "PANEL_FACTOR", 10**7)
    messages = {
        "persisted": r"largest partition of `ddf` \(persisted on the workers\) "
        r"holds about .* MiB.*`memory_limit` 1,024 MiB.*more `npartitions`",
        "parquet": r"largest partition of `ddf` \(\d[\d,]* rows\) holds about "
        r".* MiB.*`memory_limit` 1,024 MiB.*Parquet files cut by month",
    }
    with dask.config.set(scheduler=_raise):
        for name, ddf in (("persisted", persisted), ("parquet", parquet)):
            for call in _entry_points(ddf, model).values():
                with pytest.raises(MemoryError, match=messages[name]):
                    call()


def test_check_partition_memory_unknown_sizes_fail_in_their_task(
    data, client, monkeypatch
):
    import skfactor.dask._memory

    panel = data[1]
    # from_delayed: Dask knows no partition size before computing, so the
    # client cannot check; each task checks its own partition on its worker
    # before the per-date step, instead of pausing the worker for good. An
    # in-process cluster, so that the workers see the raised factor.
    ddf0 = sd.from_pandas(panel, 3)
    parts = ddf0.to_delayed()
    unknown = dd.from_delayed(
        [dask.delayed(lambda p: p)(p) for p in parts],
        meta=ddf0._meta,
        divisions=ddf0.divisions,
        verify_meta=False,
    )
    assert skfactor.dask._memory.partition_bytes(unknown) is None
    model = CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            memory_limit="8GiB",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster),
    ):
        expected = CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
        got = sd.fit_by_date(CrossSectionalFactorModel(), unknown, CHARS, "ret")
        np.testing.assert_allclose(got.params_, expected.params_, rtol=0, atol=1e-12)
        monkeypatch.setattr(skfactor.dask._memory, "PANEL_FACTOR", 10**9)
        message = (
            r"Partition \d of the panel \(\d[\d,]* rows, a size Dask did not know "
            r"before computing.*`memory_limit` 8,192 MiB"
        )
        entries = _entry_points(unknown, model)
        with pytest.raises(MemoryError, match=message):
            entries["fit_by_date"]()
        for entry in ("transform_by_date", "predict_by_date"):
            with pytest.raises(MemoryError, match=message):
                sd.gather(entries[entry]())
    assert distributed.default_client() is client


# --------------------------------------------------------------- transforms
# (step, columns, exact): the per-date steps give the same bits on a partition
# as on the whole panel; the neutralizer's regressions go through BLAS on
# blocks of dates, so it is compared to 1e-13 (see `_same_panel`).
TRANSFORMS = {
    "winsorize-zscore": (
        make_pipeline(Winsorizer(), CrossSectionalZScore()),
        CHARS,
        True,
    ),
    "quantile-weights": (QuantilePortfolioFactor(n_quantiles=3), CHARS, True),
    "neutralizer": (
        CrossSectionalNeutralizer(groups="industry"),
        CHARS + ["industry"],
        False,
    ),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_by_date_equals_pandas(ddf, data, name):
    estimator, columns, exact = TRANSFORMS[name]
    lazy = sd.transform_by_date(estimator, ddf, columns)
    got = sd.gather(lazy)
    assert (got.dtypes == lazy._meta.set_index("asset", append=True).dtypes).all()
    expected = estimator.transform(data[1][columns])
    _same_panel(got[list(expected.columns)], expected, exact)


def test_transform_by_date_float32_and_fitted_composite(data, client):
    panel = data[1].astype(dict.fromkeys(CHARS, np.float32))
    ddf = sd.from_pandas(panel, 3)
    lazy = sd.transform_by_date(Winsorizer(), ddf, CHARS)
    got = sd.gather(lazy)
    assert (got.dtypes == lazy._meta.set_index("asset", append=True).dtypes).all()
    _same_panel(got[CHARS], Winsorizer().transform(panel[CHARS]))

    composite = FactorComposite().fit(data[1][CHARS], data[1]["ret"])
    lazy = sd.transform_by_date(composite, sd.from_pandas(data[1], 3), CHARS)
    got = sd.gather(lazy)
    expected = composite.transform(data[1][CHARS])
    assert list(lazy._meta.dtypes) == list(got.reset_index("asset").dtypes)
    _same_panel(got[list(expected.columns)], expected)


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_transform_and_predict_by_date_after_a_filter_that_empties_partitions(
    data, client, npartitions
):
    # A row filter leaves partitions without rows (dates 8-27 of 36 dropped);
    # every partition must still give what pandas gives on the filtered panel.
    panel = data[1]
    dates = panel.index.get_level_values("date")
    number = dates.unique().get_indexer(dates)
    ddf = sd.from_pandas(panel.assign(number=number), npartitions)
    kept = ddf[(ddf["number"] < 8) | (ddf["number"] >= 28)]
    expected_panel = panel[(number < 8) | (number >= 28)]
    sizes = [len(p) for p in dask.compute(*kept.to_delayed())]
    assert (0 in sizes) == (npartitions > 1)
    for estimator, columns, exact in TRANSFORMS.values():
        got = sd.gather(sd.transform_by_date(estimator, kept, columns))
        expected = estimator.transform(expected_panel[columns])
        _same_panel(got[list(expected.columns)], expected, exact)
    model = CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
    got = sd.gather(sd.predict_by_date(model, kept, CHARS))["prediction"]
    expected = model.predict(expected_panel[CHARS])
    np.testing.assert_allclose(
        got.sort_index(), expected.sort_index(), rtol=0, atol=1e-12
    )
    assert got.sort_index().index.equals(expected.sort_index().index)


def _raise(*args, **kwargs):
    raise AssertionError("something was computed")


def test_transforms_build_lazily(data, client):
    ddf = sd.from_pandas(data[1], 3)
    with dask.config.set(scheduler=_raise):
        Z = sd.transform_by_date(
            make_pipeline(Winsorizer(), CrossSectionalZScore()), ddf, CHARS
        )
        sd.transform_by_date(QuantilePortfolioFactor(), Z, CHARS)
        sd.forward_returns(ddf, "ret", periods=2)
        sd.wide_returns(ddf, "ret", assets=sorted(set(data[1].index.levels[1])))
        model = CrossSectionalFactorModel().fit(data[1][CHARS], data[1]["ret"])
        sd.predict_by_date(model, Z, CHARS)
    with pytest.raises(AssertionError, match="computed"):
        with dask.config.set(scheduler=_raise):
            sd.gather(Z)


def test_transform_by_date_refuses_an_unfitted_global_step(data, client):
    ddf = sd.from_pandas(data[1], 2)
    with pytest.raises(ValueError, match="learns from the whole panel"):
        sd.transform_by_date(Winsorizer(cross_sectional=False), ddf, CHARS)
    with pytest.raises(ValueError, match="learns from the whole panel"):
        sd.transform_by_date(FactorComposite(), ddf, CHARS)


# --------------------------------------------------------------------- fits
def _close(got, expected, tol=1e-10):
    np.testing.assert_allclose(
        got.to_numpy(dtype=float), expected.to_numpy(dtype=float), rtol=0, atol=tol
    )
    assert got.index.equals(expected.index)


@pytest.mark.parametrize("weights", [None, "cap"])
def test_fit_by_date_cross_sectional_equals_pandas(ddf, data, weights):
    panel = data[1]
    model = sd.fit_by_date(
        CrossSectionalFactorModel(), ddf, CHARS, "ret", sample_weight=weights
    )
    sw = None if weights is None else panel[weights]
    expected = CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"], sw)
    for name in ("params_", "bse_", "tvalues_", "diagnostics_"):
        _close(getattr(model, name), getattr(expected, name))
    _close(model.summary(), expected.summary())
    _close(
        model.summary("kernel", bandwidth=3), expected.summary("kernel", bandwidth=3)
    )
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=0, atol=1e-10)
    pred = sd.gather(sd.predict_by_date(model, ddf, CHARS))["prediction"]
    np.testing.assert_allclose(
        pred.sort_index(), expected.predict(panel[CHARS]).sort_index(), atol=1e-12
    )


def test_fit_by_date_cross_sectional_then_partial_fit_equals_pandas(data, client):
    # A production job fits the history on Dask, then adds each day in memory.
    panel = data[1]
    dates = panel.index.get_level_values("date")
    history, today = dates < dates.max(), dates == dates.max()
    model = sd.fit_by_date(
        CrossSectionalFactorModel(expected_returns="ewm", halflife=10.0),
        sd.from_pandas(panel[history], 3),
        CHARS,
        "ret",
    )
    model.partial_fit(panel.loc[today, CHARS], panel.loc[today, "ret"])
    expected = CrossSectionalFactorModel(expected_returns="ewm", halflife=10.0)
    expected.fit(panel[CHARS], panel["ret"])
    for name in ("params_", "bse_", "diagnostics_"):
        _close(getattr(model, name), getattr(expected, name))
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=0, atol=1e-10)
    _close(model.summary(), expected.summary())


def test_fit_by_date_pipeline_and_quantile_equal_pandas(ddf, data):
    panel = data[1]
    pipe = make_pipeline(
        Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
    )
    fitted = sd.fit_by_date(pipe, ddf, CHARS, "ret")
    expected = make_pipeline(
        Winsorizer(), CrossSectionalZScore(), CrossSectionalFactorModel()
    ).fit(panel[CHARS], panel["ret"])
    _close(fitted[-1].params_, expected[-1].params_)
    _close(fitted[-1].summary(), expected[-1].summary())
    np.testing.assert_allclose(
        fitted.predict(panel[CHARS]), expected.predict(panel[CHARS]), atol=1e-12
    )
    q = sd.fit_by_date(QuantilePortfolioFactor(n_quantiles=3), ddf, CHARS, "ret")
    qe = QuantilePortfolioFactor(n_quantiles=3).fit(panel[CHARS], panel["ret"])
    _close(q.factor_returns_, qe.factor_returns_)
    _close(q.quantile_returns_, qe.quantile_returns_)


def test_fits_compute_once(data, client):
    calls = []

    def counting(dsk, keys, **kwargs):
        calls.append(1)
        return client.get(dsk, keys, **kwargs)

    ddf = sd.from_pandas(data[1], 3)
    Z = sd.transform_by_date(
        make_pipeline(Winsorizer(), CrossSectionalZScore()), ddf, CHARS
    )
    with dask.config.set(scheduler=counting):
        sd.fit_by_date(CrossSectionalFactorModel(), Z, CHARS, "ret")
    assert len(calls) == 1
    assets = sorted(set(data[1].index.get_level_values("asset")))
    R = sd.wide_returns(ddf, "ret", assets=assets)
    with dask.config.set(scheduler=counting):
        sd.fit_by_asset(TimeSeriesFactorModel(), data[0].factor_returns, R)
        sd.fit_by_asset(RollingFactorModel(window=12), data[0].factor_returns, R)
    # One each, and the rolling fit's small results read from its persisted
    # partitions (tests/test_dask_by_asset_speed.py: each fitted once).
    assert len(calls) == 4


def _warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_fit_by_date_warns_and_raises_as_pandas(data, client):
    panel = data[1].copy()
    dates = panel.index.get_level_values("date").unique()
    # Collinear loadings on a few dates (in different partitions): one warning.
    bad = panel.index.get_level_values("date").isin(dates[[2, 20, 33]])
    panel.loc[bad, "size"] = 2.0 * panel.loc[bad, "value"]
    ddf = sd.from_pandas(panel, 3)
    got = _warnings(
        lambda: sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")
    )
    expected = _warnings(
        lambda: CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
    )
    assert got == expected and len(got) == 1 and "3 of 36 dates" in got[0]
    # Collinear on every date: the pandas error, not a per-partition one.
    panel["size"] = 2.0 * panel["value"]
    ddf = sd.from_pandas(panel, 3)
    with pytest.raises(ValueError, match="collinear on every date") as got_err:
        sd.fit_by_date(CrossSectionalFactorModel(), ddf, CHARS, "ret")
    with pytest.raises(ValueError, match="collinear on every date") as exp_err:
        CrossSectionalFactorModel().fit(panel[CHARS], panel["ret"])
    assert str(got_err.value) == str(exp_err.value)
    # Too few assets for both legs on some dates: one warning, as pandas.
    thin = data[1][data[1].index.get_level_values("asset") < "A00003"]
    thin = pd.concat(
        [thin, data[1][data[1].index.get_level_values("date") > dates[30]]]
    )
    thin = thin[~thin.index.duplicated()]
    got = _warnings(
        lambda: sd.fit_by_date(
            QuantilePortfolioFactor(n_quantiles=5),
            sd.from_pandas(thin, 3),
            CHARS,
            "ret",
        )
    )
    expected = _warnings(
        lambda: QuantilePortfolioFactor(n_quantiles=5).fit(thin[CHARS], thin["ret"])
    )
    assert got == expected and len(got) == 1


def test_transform_by_date_warnings_reach_the_client(data, client):
    # A lazy transform computes on the workers; its warnings (here: dates too
    # thin for both legs, all in one partition) must reach the client as
    # pandas' does, not stay in a worker's log.
    panel = data[1]
    dates = panel.index.get_level_values("date").unique()
    assets = panel.index.get_level_values("asset")
    late = panel.index.get_level_values("date") > dates[8]
    thin = panel[(assets < "A00003") | late]
    qpf = QuantilePortfolioFactor(n_quantiles=5)
    expected = _warnings(lambda: qpf.fit_transform(thin[CHARS]))
    assert len(expected) == 1 and "too few assets" in expected[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sd.transform_by_date(qpf, sd.from_pandas(thin, 3), CHARS).compute()
        deadline = time.monotonic() + 10  # events reach the client asynchronously
        while not caught and time.monotonic() < deadline:
            time.sleep(0.05)
    got = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    # One warning per partition that has such dates (here one), counting the
    # partition's dates: the same 9 thin dates, "of 17" instead of "of 36".
    assert len(got) == 1
    assert re.sub(r"of \d+ dates", "", got[0]) == re.sub(
        r"of \d+ dates", "", expected[0]
    )
    assert got[0].split(" of ")[0] == expected[0].split(" of ")[0]


# -------------------------------------------------------- returns and the IC
@pytest.mark.parametrize("periods", [1, 3])
def test_forward_returns_and_ic_across_partitions(ddf, data, periods):
    panel = data[1]
    fwd = sd.forward_returns(ddf, "ret", periods=periods)
    got = sd.gather(fwd)["ret"].sort_index()
    expected = forward_returns(panel["ret"], periods).sort_index()
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    joined = sd.from_pandas(panel.assign(fwd=expected.reindex(panel.index)), 3)
    ic = sd.information_coefficient(joined, "fwd", "momentum")
    expected_ic = information_coefficient(
        expected.reindex(panel.index), panel["momentum"]
    )
    pd.testing.assert_series_equal(ic, expected_ic, check_index_type=False)


# ------------------------------------------------------------ by asset blocks
@pytest.fixture(scope="module")
def wide(data, client):
    d, panel = data
    ddf = sd.from_pandas(panel, 3)
    R = sd.wide_returns(ddf, "ret")
    return d.factor_returns, R, panel["ret"].unstack("asset")


# The time-series covariances every Dask path must reproduce (also used by
# tests/test_dask_by_asset_speed.py).
TIME_SERIES_COVARIANCES = [
    {"cov_type": "nonrobust"},
    {"cov_type": "HC0"},
    {"cov_type": "HC1"},
    {"cov_type": "HC2"},
    {"cov_type": "HC3"},
    {"cov_type": "HAC", "maxlags": 3},
]


@pytest.mark.parametrize("params", [*TIME_SERIES_COVARIANCES, {"fit_intercept": False}])
def test_fit_by_asset_time_series_equals_pandas(wide, params):
    F, R, Rp = wide
    got = sd.fit_by_asset(TimeSeriesFactorModel(**params), F, R, asset_block=15)
    expected = TimeSeriesFactorModel(**params).fit(F, Rp)
    for name in ("params_", "bse_", "tvalues_", "rsquared_", "nobs_"):
        _close(getattr(got, name), getattr(expected, name))
    assert (
        np.isnan(got.grs_.statistic)
        and got.grs_ == expected.grs_
        or False
        or (got.grs_.df_denom == expected.grs_.df_denom)
    )
    pd.testing.assert_frame_equal(got.predict(F), expected.predict(F), atol=1e-12)
    np.testing.assert_allclose(got.score(F, Rp), expected.score(F, Rp), rtol=1e-12)


def test_fit_by_asset_grs_when_defined(client):
    d = make_factor_panel(n_dates=40, n_assets=12, random_state=5)
    R = sd.wide_returns(sd.from_pandas(d.X.assign(ret=d.y), 3), "ret")
    F, Rp = d.factor_returns, d.y.unstack("asset")
    F.iloc[4, 1] = np.nan  # a date without a factor leaves every regression
    got = sd.fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=5)
    expected = TimeSeriesFactorModel().fit(F, Rp)
    assert np.isfinite(expected.grs_.statistic)  # T = 39 > N + K = 15
    np.testing.assert_allclose(
        tuple(got.grs_), tuple(expected.grs_), rtol=1e-10, atol=1e-12
    )
    assert (got.grs_.df_num, got.grs_.df_denom) == (
        expected.grs_.df_num,
        expected.grs_.df_denom,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"window": 12},
        {"window": 12, "expanding": True, "min_obs": 6},
        {"window": 20, "halflife": 8.0},
    ],
)
def test_fit_by_asset_rolling_equals_pandas(wide, params):
    F, R, Rp = wide
    got = sd.fit_by_asset(RollingFactorModel(**params), F, R, asset_block=15)
    expected = RollingFactorModel(**params).fit(F, Rp)
    assert isinstance(got.params_, dask.array.Array)
    params_ = got.params_.compute().reshape(-1, got.params_.shape[2])
    want = expected.params_.to_numpy()
    scale = np.nanmax(np.abs(want))
    np.testing.assert_allclose(params_, want, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=0, atol=1e-9 * scale)


def test_fit_by_asset_rolling_predicts_and_scores_as_pandas(wide):
    # predict read `params_.to_numpy()`: a lazy dask array has none, and the
    # documented workaround (`params_.compute()`, an ndarray) had none either.
    F, R, Rp = wide
    got = sd.fit_by_asset(RollingFactorModel(window=12), F, R, asset_block=15)
    expected = RollingFactorModel(window=12).fit(F, Rp)
    scale = np.nanmax(np.abs(expected.params_.to_numpy()))
    for X in (F, F.iloc[20:]):
        pd.testing.assert_frame_equal(
            got.predict(X), expected.predict(X), rtol=0, atol=1e-9 * scale
        )
    assert np.isfinite(expected.score(F, Rp))
    np.testing.assert_allclose(got.score(F, Rp), expected.score(F, Rp), rtol=1e-9)
    assert isinstance(got.params_, dask.array.Array)  # still lazy
    got.params_ = got.params_.persist()  # kept on the workers for repeated use
    pd.testing.assert_frame_equal(
        got.predict(F), expected.predict(F), rtol=0, atol=1e-9 * scale
    )


@pytest.mark.parametrize(
    "model", [TimeSeriesFactorModel(cov_type="HC1"), RollingFactorModel(window=12)]
)
def test_fit_by_asset_gives_the_attributes_of_a_pandas_fit(wide, model):
    # Combined through the model's own block protocol, not a hand list.
    F, R, Rp = wide
    got = sd.fit_by_asset(model, F, R, asset_block=15)
    expected = clone(model).fit(F, Rp)
    assert type(got) is type(expected)
    got, expected = fitted_state(got), fitted_state(expected)
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        value = got[name]
        if isinstance(value, dask.array.Array):  # rolling windows stay lazy
            value = value.compute().reshape(want.shape)
            _close(pd.DataFrame(value), pd.DataFrame(want.to_numpy()), 1e-9)
        elif isinstance(want, pd.DataFrame | pd.Series):
            assert value.index.equals(want.index), name
            _close(value, want)


def test_fit_by_asset_after_a_p2p_rechunk(wide):
    """Dask 2026.8: after a multi-stage P2P rechunk, ``x.blocks[0, j].to_delayed()``
    returned the wrong block and corrupted betas; fit_by_asset must not."""
    F, R, Rp = wide
    config = {"array.rechunk.method": "p2p", "array.chunk-size": "2KiB"}
    with dask.config.set(config):
        got = sd.fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=7)
        rolling = sd.fit_by_asset(RollingFactorModel(window=12), F, R, asset_block=7)
        rolling_params = rolling.params_.compute()
    expected = TimeSeriesFactorModel().fit(F, Rp)
    _close(got.params_, expected.params_)
    want = RollingFactorModel(window=12).fit(F, Rp).params_.to_numpy()
    np.testing.assert_allclose(
        rolling_params.reshape(want.shape), want, atol=1e-9 * np.nanmax(np.abs(want))
    )


def test_fit_by_asset_warns_as_pandas(data, client):
    panel = data[1]
    assets = panel.index.get_level_values("asset")
    dates = panel.index.get_level_values("date")
    thin = panel[(assets != "A00001") | (dates < dates.unique()[3])]
    R = sd.wide_returns(sd.from_pandas(thin, 3), "ret")
    F, Rp = data[0].factor_returns, thin["ret"].unstack("asset")
    got = _warnings(
        lambda: sd.fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=9)
    )
    expected = _warnings(lambda: TimeSeriesFactorModel().fit(F, Rp))
    assert got == expected and len(got) == 1 and "A00001" in got[0]
    fitted = sd.fit_by_asset(TimeSeriesFactorModel(), F, R, asset_block=9)
    with pytest.warns(UserWarning, match="The GRS test needs more dates"):
        assert fitted.grs_ == TimeSeriesFactorModel().fit(F, Rp).grs_


def test_by_date_and_by_asset_refuse_the_other_kind_of_model(data):
    ddf = sd.from_pandas(data[1], 2)
    with pytest.raises(TypeError, match="fit_by_asset"):
        sd.fit_by_date(TimeSeriesFactorModel(), ddf, CHARS, "ret")
    with pytest.raises(TypeError, match="fit_by_date"):
        sd.fit_by_asset(CrossSectionalFactorModel(), data[0].factor_returns, ddf)
