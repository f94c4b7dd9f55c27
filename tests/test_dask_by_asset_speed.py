"""``fit_by_asset`` on the date partitions of the wide returns: equal to pandas.

The default path fits a time-series model from per-partition sums (two
passes, HAC lags across partition boundaries) and a rolling model on each
partition with the ``window - 1`` dates before it, without rechunking the
frame into asset blocks. The layout below is built to break it: holes, late
listings and delistings, an asset whose last dates before a partition lie
several partitions back, an empty partition, partitions of one date, and
rows shuffled within each partition. The equalities run on the synchronous
scheduler (the same graph, fast); the cluster runs one end-to-end fit of
each model and the memory check.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import skfactor.dask as sd  # noqa: E402
from skfactor import RollingFactorModel, TimeSeriesFactorModel  # noqa: E402
from tests.conftest import fitted_state  # noqa: E402
from tests.test_dask import (  # noqa: E402
    TIME_SERIES_COVARIANCES,
    client,  # noqa: F401 - the module's 2-worker cluster
)

N_DATES, N_ASSETS, N_FACTORS = 48, 14, 2


def _panel(n_dates=N_DATES, n_assets=N_ASSETS, seed=0, holes=True):
    """Factor returns (wide) and a long returns panel with every kind of gap."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:02d}" for i in range(n_assets)], name="asset")
    F = pd.DataFrame(rng.normal(0, 0.01, (n_dates, N_FACTORS)), dates, ["mkt", "smb"])
    beta = rng.normal(1.0, 0.3, (n_assets, N_FACTORS))
    noise = rng.normal(0, 0.01, (n_dates, n_assets))
    noise[1:] += 0.5 * noise[:-1]  # autocorrelated: the HAC lags matter
    R = pd.DataFrame(F.to_numpy() @ beta.T + noise, dates, assets)
    if holes:
        R.iloc[:20, 1] = np.nan  # listed late
        R.iloc[30:, 2] = np.nan  # delisted
        R.iloc[8:27, 3] = np.nan  # a gap longer than several partitions
        R[rng.random(R.shape) < 0.08] = np.nan  # holes everywhere
        R.iloc[:, 4] = np.nan
        R.iloc[[5, 40], 4] = 0.01  # two dates: no estimate (a warning)
    return F, R


def _dask_panel(R, divisions):
    """A Dask panel on ``divisions`` (an empty partition, one-date ones), rows
    shuffled within each partition."""
    long = R.stack().rename("ret").to_frame()
    ddf = sd.from_pandas(long, 1).repartition(divisions=divisions)
    return ddf.map_partitions(lambda p: p.sample(frac=1.0, random_state=1))


def _divisions(dates):
    d = list(dates)
    # [0, 2), one date (2), an empty partition (between 3 and 4, cut at a
    # time no date has), one date (4), one date (5), then wide ones.
    empty = d[3] + pd.Timedelta(hours=12)
    return [d[0], d[2], d[3], empty, d[4], d[5], d[6], d[17], d[33], d[-1]]


@pytest.fixture
def sync():
    """The synchronous scheduler: the same graph, without the cluster's cost
    (the cluster runs the tests marked with ``client``)."""
    with dask.config.set(scheduler="sync"):
        yield


@pytest.fixture(scope="module")
def layout():
    F, R = _panel()
    ddf = _dask_panel(R, _divisions(F.index))
    assert ddf.npartitions == 9
    return F, sd.wide_returns(ddf, "ret"), R


def _same_attributes(got, expected, tol):
    got_state, want_state = fitted_state(got), fitted_state(expected)
    assert sorted(got_state) == sorted(want_state)
    # Rolling windows stay lazy: computed together (each partition fitted once).
    lazy = [k for k, v in got_state.items() if isinstance(v, dask.array.Array)]
    values = dask.compute(*[got_state[k] for k in lazy])
    got_state.update(zip(lazy, values, strict=True))
    for name, want in want_state.items():
        value = got_state[name]
        if name in lazy:
            value = value.reshape(want.shape)
        if isinstance(want, pd.DataFrame | pd.Series):
            if not isinstance(value, np.ndarray):
                assert value.index.equals(want.index), name
            want = want.to_numpy(dtype=float)
            value = np.asarray(value, dtype=float)
        if isinstance(want, np.ndarray) and want.dtype.kind == "f":
            scale = max(np.nanmax(np.abs(want), initial=0.0), 1.0)
            np.testing.assert_allclose(
                value, want, rtol=0, atol=tol * scale, err_msg=name
            )
        elif isinstance(want, np.ndarray):
            np.testing.assert_array_equal(value, want, err_msg=name)
        elif isinstance(want, pd.Index):
            assert value.equals(want), name


def _fit_both(model, F, R, Rp):
    with warnings.catch_warnings(record=True) as got_warnings:
        warnings.simplefilter("always")
        got = sd.fit_by_asset(clone(model), F, R)
    with warnings.catch_warnings(record=True) as want_warnings:
        warnings.simplefilter("always")
        expected = clone(model).fit(F, Rp)
    assert [str(w.message) for w in got_warnings] == [
        str(w.message) for w in want_warnings
    ]
    return got, expected


@pytest.mark.parametrize(
    "params",
    [
        *TIME_SERIES_COVARIANCES,
        {"cov_type": "HAC"},  # the automatic lags, by asset
        {"cov_type": "kernel", "kernel": "parzen", "bandwidth": 4},
        {"cov_type": "HAC", "maxlags": 2, "fit_intercept": False},
    ],
)
def test_fit_by_asset_time_series_by_date_equals_pandas(layout, params, sync):
    F, R, Rp = layout
    model = TimeSeriesFactorModel(**params)
    got, expected = _fit_both(model, F, R, Rp)
    _same_attributes(got, expected, 1e-10)
    pd.testing.assert_frame_equal(
        got.summary(), expected.summary(), check_exact=False, rtol=1e-8, atol=1e-12
    )
    got_header, want_header = got.summary().header, expected.summary().header
    assert list(got_header) == list(want_header)
    for key, want in want_header.items():
        if isinstance(want, float):
            np.testing.assert_allclose(got_header[key], want, rtol=1e-9, err_msg=key)
        else:
            assert got_header[key] == want, key
    pd.testing.assert_frame_equal(got.predict(F), expected.predict(F), atol=1e-12)


def test_fit_by_asset_hac_lags_cross_partitions_along_each_asset(layout, sync):
    # The lags counted along each asset's own dates: an asset back from an
    # 19-date gap pairs with its dates several partitions back. Checked
    # against statsmodels' HAC, asset by asset.
    sm = pytest.importorskip("statsmodels.api")
    F, R, Rp = layout
    got = sd.fit_by_asset(TimeSeriesFactorModel(cov_type="HAC", maxlags=3), F, R)
    for asset in ["A01", "A03", "A07"]:
        y = Rp[asset]
        ok = y.notna()
        res = sm.OLS(y[ok], sm.add_constant(F[ok])).fit(
            cov_type="HAC", cov_kwds={"maxlags": 3}
        )
        np.testing.assert_allclose(
            got.bse_.loc[asset].to_numpy(), res.bse.to_numpy(), rtol=1e-9
        )


def test_fit_by_asset_grs_by_date_equals_pandas(sync, monkeypatch):
    # Defined GRS test (T > N + K complete dates), with its sums kept for
    # partial_fit (N <= 500) and, past that many assets, summed for the test
    # only.
    from skfactor.models import _time_series, _time_series_dates

    F, Rp = _panel(n_dates=40, n_assets=6, seed=2, holes=False)
    Rp.iloc[3, 2] = np.nan
    R = sd.wide_returns(_dask_panel(Rp, _divisions(F.index)), "ret")
    expected = TimeSeriesFactorModel().fit(F, Rp)
    assert np.isfinite(expected.grs_.statistic)
    for limit in (500, 3):
        for module in (_time_series_dates, _time_series):
            monkeypatch.setattr(module, "GRS_MAX_ASSETS", limit)
        got = sd.fit_by_asset(TimeSeriesFactorModel(), F, R)
        np.testing.assert_allclose(tuple(got.grs_), tuple(expected.grs_), rtol=1e-9)
        assert got.grs_.df_denom == expected.grs_.df_denom


def test_fit_by_asset_time_series_by_date_keeps_partial_fit_state(sync):
    # A nonrobust fit on Dask keeps the sums partial_fit adds to, as pandas'
    # fit does: a daily update needs no refit of the history.
    F, Rp = _panel(n_dates=40, n_assets=6, seed=3, holes=False)
    R = sd.wide_returns(_dask_panel(Rp.iloc[:35], _divisions(F.index[:35])), "ret")
    model = sd.fit_by_asset(TimeSeriesFactorModel(), F.iloc[:35], R)
    model.partial_fit(F.iloc[35:], Rp.iloc[35:])
    expected = TimeSeriesFactorModel().fit(F, Rp)
    _same_attributes(model, expected, 1e-10)
    np.testing.assert_allclose(tuple(model.grs_), tuple(expected.grs_), rtol=1e-9)


@pytest.mark.usefixtures("client")
def test_fit_by_asset_rolling_by_date_on_a_cluster_equals_pandas(layout):
    F, R, Rp = layout
    cluster = distributed.get_client()
    held = sum(cluster.nbytes(summary=False).values())
    got = sd.fit_by_asset(RollingFactorModel(window=5), F, R)
    # The windows stay on the workers as arrays the workers size (and can
    # spill past their memory target), not as objects of unknown size.
    kept = sum(cluster.nbytes(summary=False).values()) - held
    assert kept >= got.params_.nbytes + got.rsquared_.nbytes
    expected = RollingFactorModel(window=5).fit(F, Rp)
    want = expected.params_.to_numpy()
    np.testing.assert_allclose(
        got.params_.compute().reshape(want.shape), want, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"window": 5},
        {"window": 12, "expanding": True, "min_obs": 4},
        {"window": 9, "halflife": 3.0},
    ],
)
def test_fit_by_asset_rolling_by_date_equals_pandas(layout, params, sync):
    F, R, Rp = layout
    model = RollingFactorModel(**params)
    got, expected = _fit_both(model, F, R, Rp)
    assert isinstance(got.params_, dask.array.Array)
    _same_attributes(got, expected, 1e-9)
    scale = np.nanmax(np.abs(expected.params_.to_numpy()))
    for X in (F, F.iloc[20:]):
        pd.testing.assert_frame_equal(
            got.predict(X), expected.predict(X), rtol=0, atol=1e-9 * scale
        )


def test_fit_by_asset_rolling_by_date_without_any_estimate_warns_as_pandas(sync):
    # Every window misses a date of every asset: no estimate anywhere.
    F, Rp = _panel(n_dates=12, n_assets=3, seed=4, holes=False)
    for j in range(3):
        Rp.iloc[j::3, j] = np.nan
    d = F.index
    divisions = [d[0], d[2], d[3], d[3] + pd.Timedelta(hours=12), d[4], d[-1]]
    R = sd.wide_returns(_dask_panel(Rp, divisions), "ret")
    with pytest.warns(UserWarning, match="No window has an estimate"):
        got = sd.fit_by_asset(RollingFactorModel(window=5, min_obs=5), F, R)
    assert np.isnan(got.coef_).all()


def test_fit_by_asset_by_date_does_not_rechunk(layout):
    # The asset-block path rechunked the wide frame into all dates x
    # asset_block (13x pandas in the out-of-memory benchmark); the date path
    # runs a few tasks per partition.
    F, R, _ = layout
    graphs = []

    def recording(dsk, keys, **kwargs):
        graphs.append([str(k) for k in (dsk.keys() if hasattr(dsk, "keys") else dsk)])
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=recording):
        sd.fit_by_asset(TimeSeriesFactorModel(cov_type="HAC", maxlags=3), F, R)
        sd.fit_by_asset(RollingFactorModel(window=5), F, R).params_.compute()
    names = [k for g in graphs for k in g]
    # The time-series fit; the rolling fit's partitions (persisted) and the
    # small results read from them; params_ read from them.
    assert len(graphs) == 4 and not any("rechunk" in k for k in names)
    assert max(len(g) for g in graphs) < 12 * R.npartitions


@pytest.mark.usefixtures("client")
def test_fit_by_asset_by_date_checks_the_partitions_fit_the_workers(
    layout, monkeypatch
):
    import skfactor.dask._by_asset

    F, R, _ = layout
    monkeypatch.setattr(skfactor.dask._by_asset, "BLOCK_FACTOR", 10**7)

    def _raise(*args, **kwargs):
        raise AssertionError("something was computed")

    with dask.config.set(scheduler=_raise):
        with pytest.raises(MemoryError, match=r"partition of `R` \(16 dates x 14"):
            sd.fit_by_asset(TimeSeriesFactorModel(), F, R)
        with pytest.raises(MemoryError, match=r"\(20 dates x 14 assets, with the"):
            sd.fit_by_asset(RollingFactorModel(window=5), F, R)


def test_wide_returns_refuses_a_duplicated_date_asset_pair(sync):
    F, Rp = _panel(n_dates=6, n_assets=3, holes=False)
    long = Rp.stack().rename("ret").to_frame()
    doubled = pd.concat([long, long.iloc[:1]]).sort_index()
    frame = doubled.reset_index("asset")
    ddf = dd.from_pandas(frame, npartitions=2, sort=True)
    with pytest.raises(ValueError, match=r"holds a \(date, asset\) pair twice"):
        sd.gather(sd.wide_returns(ddf, "ret"))


def test_fit_by_asset_rolling_fits_each_partition_once(layout, sync, monkeypatch):
    # The windows stay on the workers after the fit: reading params_ (twice),
    # the other windows and predicting fetch them instead of fitting again.
    import skfactor.dask._date_blocks as blocks

    F, R, Rp = layout
    fitted = []
    plain = blocks._rolling_block

    def counting(*args):
        fitted.append(len(args[1]))
        return plain(*args)

    monkeypatch.setattr(blocks, "_rolling_block", counting)
    model = sd.fit_by_asset(RollingFactorModel(window=5), F, R)
    assert len(fitted) == 8  # the layout's 9 partitions, one of them empty
    first = model.params_.compute()
    second = model.params_.compute()
    dask.compute(model.rsquared_, model.nobs_)
    model.predict(F)
    assert len(fitted) == 8
    np.testing.assert_array_equal(first, second)
    expected = RollingFactorModel(window=5).fit(F, Rp).params_.to_numpy()
    np.testing.assert_allclose(
        first.reshape(expected.shape), expected, rtol=0, atol=1e-9
    )


def test_fit_by_asset_rolling_asset_blocks_fit_each_block_once(
    layout, sync, monkeypatch
):
    import skfactor.dask._by_asset as by_asset

    F, R, Rp = layout
    fitted = []
    plain = by_asset._fit_block

    def counting(*args):
        fitted.append(1)
        return plain(*args)

    monkeypatch.setattr(by_asset, "_fit_block", counting)
    model = sd.fit_by_asset(RollingFactorModel(window=5), F, R, asset_block=5)
    assert len(fitted) == 3  # 14 assets in blocks of 5
    first = model.params_.compute()
    np.testing.assert_array_equal(model.params_.compute(), first)
    model.predict(F)
    assert len(fitted) == 3
    expected = RollingFactorModel(window=5).fit(F, Rp).params_.to_numpy()
    np.testing.assert_allclose(
        first.reshape(expected.shape), expected, rtol=0, atol=1e-9
    )


def test_fit_by_asset_validates_parameters_through_the_public_protocol():
    # skfactor.dask reaches a model through public names only (issue 24):
    # nothing underscored that a model has, its scikit-learn base's included.
    import ast
    from pathlib import Path

    private = {
        name
        for cls in (RollingFactorModel, TimeSeriesFactorModel)
        for name in dir(cls)
        if name.startswith("_") and not name.startswith("__")
    }
    assert "_validate_params" in private
    root = Path(sd.__file__).parent
    found = [
        f"{path.name}:{node.lineno} .{node.attr}"
        for path in sorted(root.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr in private
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]
    assert not found, found
    with pytest.raises(ValueError, match="window"):
        sd.fit_by_asset(RollingFactorModel(window=0), *_fit_inputs())


def _fit_inputs():
    F, Rp = _panel(n_dates=8, n_assets=3, holes=False)
    return F, sd.wide_returns(
        _dask_panel(Rp, [F.index[0], F.index[4], F.index[-1]]), "ret"
    )
