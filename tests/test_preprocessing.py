from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import mstats, norm
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from skfactor import CrossSectionalZScore, Winsorizer
from tests.conftest import one_asset_date, shuffled

LIMITS = [0.01, 0.05, 0.1, (0.1, 0.0), (0.0, 0.2), (0.07, 0.29), (None, 0.03), 0.49]


def _per_date_loop(X, fn):
    """The slow, obvious reference: apply ``fn`` to each date's non-NaN values."""
    out = X.copy()
    for _, rows in X.groupby(level=0):
        for col in X.columns:
            values = rows[col].dropna()
            if len(values):
                out.loc[values.index, col] = fn(values.to_numpy())
    return out


# ---------------------------------------------------------------- Winsorizer
@pytest.mark.parametrize("limits", LIMITS)
def test_winsorizer_equals_scipy_per_date(panel, limits):
    expected = _per_date_loop(
        panel, lambda v: np.asarray(mstats.winsorize(v, limits=limits))
    )
    result = Winsorizer(limits=limits).fit_transform(panel)
    assert result.index.equals(panel.index)
    assert result.columns.equals(panel.columns)
    # Exact: the caps are order statistics, not interpolated quantiles.
    np.testing.assert_array_equal(result.to_numpy(), expected.to_numpy())


def test_winsorizer_equals_scipy_with_ties():
    rng = np.random.default_rng(3)
    idx = pd.MultiIndex.from_product([range(6), range(40)], names=["date", "asset"])
    X = pd.DataFrame({"a": rng.integers(0, 4, len(idx)).astype(float)}, index=idx)
    expected = _per_date_loop(X, lambda v: np.asarray(mstats.winsorize(v, limits=0.2)))
    result = Winsorizer(limits=0.2).fit_transform(shuffled(X))
    pd.testing.assert_frame_equal(result.sort_index(), expected)


def test_winsorizer_single_asset_date_is_unchanged(panel):
    X = one_asset_date(panel)
    result = Winsorizer(limits=0.2).fit_transform(X)
    pd.testing.assert_series_equal(result.iloc[-1], X.iloc[-1])


def test_winsorizer_numpy_is_one_cross_section():
    rng = np.random.default_rng(0)
    X = rng.standard_t(2, size=(300, 3))
    result = Winsorizer(limits=0.05).fit_transform(X)
    expected = np.column_stack(
        [np.asarray(mstats.winsorize(X[:, j], limits=0.05)) for j in range(3)]
    )
    np.testing.assert_array_equal(result, expected)


def test_winsorizer_mad_clips_at_median_plus_k_mad(panel):
    def reference(v):
        med = np.median(v)
        scale = 1.482602218505602 * np.median(np.abs(v - med))
        return np.clip(v, med - 2.5 * scale, med + 2.5 * scale)

    result = Winsorizer(method="mad", n_mad=2.5).fit_transform(panel)
    expected = _per_date_loop(panel, reference)
    np.testing.assert_allclose(result.to_numpy(), expected.to_numpy(), rtol=1e-14)


def test_winsorizer_global_mode_learns_bounds_in_fit(panel):
    dates = panel.index.get_level_values(0)
    train = panel[dates < dates.unique().sort_values()[15]]
    test = panel.drop(train.index)
    w = Winsorizer(limits=0.05, cross_sectional=False).fit(train)
    for j, col in enumerate(panel.columns):
        v = train[col].dropna().to_numpy()
        capped = np.asarray(mstats.winsorize(v, limits=0.05))
        assert w.lower_[j] == capped.min() and w.upper_[j] == capped.max()
    result = w.transform(test)
    np.testing.assert_array_equal(
        result.to_numpy(), test.clip(w.lower_, w.upper_, axis=1).to_numpy()
    )


def test_winsorizer_global_mode_requires_fit(panel):
    with pytest.raises(Exception, match="not fitted"):
        Winsorizer(cross_sectional=False).transform(panel)


@pytest.mark.parametrize("limits", [0.5, -0.1, (0.1, 0.7), 1, (0.1, 0.1, 0.1), "a"])
def test_winsorizer_rejects_bad_limits(panel, limits):
    with pytest.raises(ValueError, match="`limits` must be"):
        Winsorizer(limits=limits).fit(panel)


def test_winsorizer_series_in_series_out(panel):
    # The lecture winsorizes one characteristic, a Series.
    result = Winsorizer(limits=0.05).fit_transform(panel["value"])
    expected = Winsorizer(limits=0.05).fit_transform(panel[["value"]])["value"]
    pd.testing.assert_series_equal(result, expected)
    z = CrossSectionalZScore().fit_transform(panel["value"])
    assert isinstance(z, pd.Series) and z.index.equals(panel.index)


# ------------------------------------------------------ CrossSectionalZScore
def test_zscore_equals_numpy_loop(panel):
    expected = _per_date_loop(panel, lambda v: (v - np.mean(v)) / np.std(v))
    result = CrossSectionalZScore().fit_transform(panel)
    assert result.index.equals(panel.index)
    np.testing.assert_allclose(
        result.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12
    )


def test_zscore_robust_equals_numpy_loop(panel):
    def reference(v):
        med = np.median(v)
        return (v - med) / (1.482602218505602 * np.median(np.abs(v - med)))

    result = CrossSectionalZScore(robust=True).fit_transform(panel)
    expected = _per_date_loop(panel, reference)
    np.testing.assert_allclose(
        result.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12
    )


def test_zscore_weighted_mean_equals_loop(panel):
    X = panel.assign(cap=np.exp(np.random.default_rng(0).normal(size=len(panel))))

    expected = X.copy()
    for _, rows in X.groupby(level=0):
        for col in panel.columns:
            v = rows[col].dropna()
            w = rows.loc[v.index, "cap"]
            expected.loc[v.index, col] = (v - np.average(v, weights=w)) / np.std(v)
    result = CrossSectionalZScore(weights="cap").fit_transform(X)
    pd.testing.assert_series_equal(result["cap"], X["cap"])
    np.testing.assert_allclose(result.to_numpy(), expected.to_numpy(), rtol=1e-12)
    means = (result[panel.columns].mul(X["cap"], axis=0)).groupby(level=0).sum()
    caps = X["cap"].where(result[panel.columns[0]].notna()).groupby(level=0).sum()
    np.testing.assert_allclose(means[panel.columns[0]] / caps, 0, atol=1e-12)


def test_zscore_within_groups_equals_loop(panel):
    rng = np.random.default_rng(1)
    X = panel.assign(industry=rng.integers(0, 5, len(panel)).astype(float))
    X.loc[X.index[:7], "industry"] = np.nan
    expected = X.copy()
    for _, rows in X.groupby([X.index.get_level_values(0), X["industry"]]):
        for col in panel.columns:
            v = rows[col].dropna()
            if len(v):
                sd = np.std(v)
                z = np.zeros(len(v)) if v.nunique() == 1 else (v - v.mean()) / sd
                expected.loc[v.index, col] = z
    expected.loc[X["industry"].isna(), panel.columns] = np.nan
    result = make_pipeline(CrossSectionalZScore(groups="industry")).fit_transform(X)
    pd.testing.assert_series_equal(result["industry"], X["industry"])
    np.testing.assert_allclose(
        result.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("rows", ["sorted", "shuffled"])
def test_zscore_in_blocks_of_rows_equals_the_whole_panel(panel, rows, monkeypatch):
    # The moments and the output are computed a block of rows at a time
    # (dates for a sorted panel, rows in the caller's order otherwise): with
    # blocks of one date or 7 rows the numbers are the same, to the bit.
    X = (panel.sort_index() if rows == "sorted" else panel).assign(cap=1.0)
    X["cap"] = np.abs(X["value"]).fillna(1.0)
    for weights in (None, "cap"):
        whole = CrossSectionalZScore(weights=weights).fit_transform(X)
        with monkeypatch.context() as m:
            m.setattr("skfactor.panel._stats.CACHE_CELLS", 1)
            m.setattr("skfactor.panel._segments.CACHE_CELLS", 7)
            blocks = CrossSectionalZScore(weights=weights).fit_transform(X)
        pd.testing.assert_frame_equal(blocks, whole, check_exact=True)


def test_zscore_constant_and_single_asset_dates_give_zero(panel, recwarn):
    X = one_asset_date(panel.fillna(0.0))
    first = X.index.get_level_values(0) == X.index[0][0]
    X.loc[first, :] = 0.1  # a constant cross-section whose mean is inexact
    for robust in (False, True):
        result = CrossSectionalZScore(robust=robust).fit_transform(X)
        assert (result[first] == 0).all().all()
        assert (result.iloc[-1] == 0).all()
    assert not recwarn.list


@pytest.mark.parametrize("c", [0.1, 1 / 3, -7e150, 3e-310, 123456.789])
def test_zscore_tells_constant_from_nearly_constant_dates(c):
    # A wide date of one repeated value (whose computed mean is off by
    # rounding) gives 0; a date of two neighbouring floats is not constant: it
    # is scaled (its exact z-scores are +-1; at this scale rounding of the mean
    # moves them, so only "scaled, finite" is asserted).
    n = 3000
    near = np.where(np.arange(n) % 2, c, np.nextafter(c, np.inf))
    X = pd.DataFrame(
        {"x": np.r_[np.full(n, c), near]},
        index=pd.MultiIndex.from_product([[0, 1], range(n)], names=["date", "asset"]),
    )
    for robust in (False, True):
        z = CrossSectionalZScore(robust=robust).fit_transform(X)["x"]
        assert (z.loc[0] == 0).all()
        assert np.isfinite(z.loc[1]).all()
        assert 0.5 < np.abs(z.loc[1]).max() < 3  # subnormal c too: scale-free


@pytest.mark.parametrize("robust", [False, True])
def test_zscore_dates_of_every_kind_in_one_panel_equal_each_alone(robust):
    # Ordinary dates beside dates whose squares overflow or underflow, a
    # constant date, a single value and an empty date: the dates that need
    # their minimum and maximum must not change the others, and each date's
    # z-scores equal those of the same values alone, rescaled to order 1.
    base = np.array([1.0, 2.0, 3.0, 5.0, 8.0, np.nan])
    dates = {
        "plain": base,
        "huge": base * 1e160,
        "tiny": base * 1e-170,
        "constant": np.r_[np.full(5, 1e10 / 3), np.nan],
        "single": np.r_[7.0, np.full(5, np.nan)],
        "empty": np.full(6, np.nan),
        "shifted": base + 1e6,
    }
    X = pd.DataFrame(
        {"x": np.concatenate(list(dates.values()))},
        index=pd.MultiIndex.from_product(
            [list(dates), range(6)], names=["date", "asset"]
        ),
    )
    z = CrossSectionalZScore(robust=robust).fit_transform(X)["x"]
    alone = CrossSectionalZScore(robust=robust).fit_transform(X.loc[["plain"]])["x"]
    for date in ("plain", "huge", "tiny"):
        np.testing.assert_allclose(z.loc[date], alone.loc["plain"], rtol=1e-14)
    np.testing.assert_allclose(z.loc["shifted"], alone.loc["plain"], rtol=1e-9)
    assert (z.loc["constant"].iloc[:5] == 0).all()
    assert z.loc["single"].iloc[0] == 0
    assert z.loc["empty"].isna().all()
    assert z.isna().sum() == X["x"].isna().sum()


def test_zscore_all_nan_date_stays_nan(panel):
    X = panel.copy()
    first = X.index.get_level_values(0) == X.index[0][0]
    X.loc[first, "value"] = np.nan
    result = CrossSectionalZScore().fit_transform(X)
    assert result.loc[first, "value"].isna().all()
    assert (
        result.loc[~first, "value"].notna().sum()
        == X.loc[~first, "value"].notna().sum()
    )


def test_zscore_rejects_bad_special_columns(panel):
    with pytest.raises(ValueError, match="`groups`='sector' is not a column"):
        CrossSectionalZScore(groups="sector").fit(panel)
    with pytest.raises(ValueError, match="`weights` column 'value' has negative"):
        CrossSectionalZScore(weights="value").fit(panel)
    with pytest.raises(ValueError, match="non-numeric columns \\['sector'\\]"):
        CrossSectionalZScore(groups="industry").fit(
            panel.assign(sector="tech", industry=1.0)
        )
    # A group column may hold labels (strings): it is not a characteristic.
    CrossSectionalZScore(groups="sector").fit_transform(panel.assign(sector="tech"))


# --------------------------------------------------------- shared behaviour
TRANSFORMERS = [
    Winsorizer(limits=0.05),
    Winsorizer(method="mad"),
    Winsorizer(cross_sectional=False, limits=0.05),
    CrossSectionalZScore(),
    CrossSectionalZScore(robust=True),
]
IDS = lambda t: repr(t)  # noqa: E731


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=IDS)
def test_transformers_pandas_in_pandas_out_and_numpy_agree(panel, transformer):
    result = clone(transformer).fit_transform(panel)
    assert isinstance(result, pd.DataFrame)
    assert result.index.equals(panel.index) and result.columns.equals(panel.columns)
    one_date = panel.xs(panel.index[0][0], level=0, drop_level=False)
    as_frame = clone(transformer).fit(one_date).transform(one_date)
    as_array = (
        clone(transformer).fit(one_date.to_numpy()).transform(one_date.to_numpy())
    )
    np.testing.assert_array_equal(as_frame.to_numpy(), as_array)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=IDS)
def test_transformers_set_output_clone_pickle(panel, transformer):
    fitted = clone(transformer).set_output(transform="pandas").fit(panel)
    result = fitted.transform(panel)
    assert isinstance(result, pd.DataFrame) and result.index.equals(panel.index)
    restored = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(restored.transform(panel), result)
    arr = (
        clone(transformer)
        .set_output(transform="pandas")
        .fit_transform(panel.to_numpy())
    )
    assert isinstance(arr, pd.DataFrame)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=IDS)
def test_transformers_do_not_mutate_input(panel, transformer):
    before = panel.copy(deep=True)
    clone(transformer).fit_transform(panel)
    pd.testing.assert_frame_equal(panel, before)


@pytest.mark.parametrize(
    "transformer",
    [
        *TRANSFORMERS,
        CrossSectionalZScore(groups="industry"),
        CrossSectionalZScore(weights="cap"),
    ],
    ids=IDS,
)
def test_transformers_n_jobs_gives_the_same_result(panel, transformer):
    # Columns are processed on threads with their own scratch buffers: any
    # sharing between threads would show up as a difference here.
    rng = np.random.default_rng(3)
    X = panel.assign(
        industry=rng.integers(0, 4, len(panel)).astype(float),
        cap=rng.lognormal(size=len(panel)),
        more=rng.standard_t(3, len(panel)),
    )
    serial = clone(transformer).fit_transform(X)
    threaded = clone(transformer).set_params(n_jobs=-1).fit_transform(X)
    pd.testing.assert_frame_equal(threaded, serial, check_exact=True)
    # n_jobs larger than the number of columns is fine too.
    fitted = clone(transformer).set_params(n_jobs=32).fit(X)
    pd.testing.assert_frame_equal(fitted.transform(X), serial, check_exact=True)


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_for_each_calls_every_item_and_raises_the_workers_error(n_jobs):
    from skfactor.utils._parallel import effective_n_jobs, for_each

    seen = []
    for_each(seen.append, range(7), n_jobs)
    assert sorted(seen) == list(range(7))

    def fail_on_three(i):
        if i == 3:
            raise ValueError("column 3 failed")

    with pytest.raises(ValueError, match="column 3 failed"):
        for_each(fail_on_three, range(7), n_jobs)
    assert effective_n_jobs(n_jobs) >= 1


def test_transformers_in_column_transformer(panel):
    X = panel.assign(industry=np.arange(len(panel)) % 3)
    ct = ColumnTransformer(
        [
            (
                "style",
                make_pipeline(Winsorizer(), CrossSectionalZScore()),
                ["value", "size"],
            ),
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    result = ct.fit_transform(X)
    assert list(result.columns) == ["value", "size", "momentum", "industry"]
    assert result.index.equals(X.index)
    expected = CrossSectionalZScore().fit_transform(
        Winsorizer().fit_transform(X[["value", "size"]])
    )
    pd.testing.assert_frame_equal(result[["value", "size"]], expected)


# -------------------------------------------------------------- properties
def _panel_strategy():
    values = arrays(
        np.float64,
        st.tuples(st.integers(4, 40), st.integers(1, 3)),
        # Values on a grid: distinct values stay distinct under the affine maps
        # below (subnormal spreads would not survive a shift).
        elements=st.one_of(
            st.integers(-(10**6), 10**6).map(lambda i: i / 8), st.just(np.nan)
        ),
    )
    return st.tuples(values, st.integers(1, 4), st.integers(0, 2**31 - 1))


def _to_panel(values, n_dates, seed):
    rng = np.random.default_rng(seed)
    n = len(values)
    dates = rng.integers(0, n_dates, n)
    assets = np.arange(n)
    index = pd.MultiIndex.from_arrays([dates, assets], names=["date", "asset"])
    return pd.DataFrame(
        values, index=index, columns=[f"c{j}" for j in range(values.shape[1])]
    )


PROPERTY_TRANSFORMERS = [
    Winsorizer(limits=0.1),
    Winsorizer(method="mad"),
    CrossSectionalZScore(),
]


@settings(max_examples=60, deadline=None)
@given(_panel_strategy(), st.sampled_from(PROPERTY_TRANSFORMERS))
def test_transformers_property_shuffle_nan_and_no_mutation(args, transformer):
    values, n_dates, seed = args
    X = _to_panel(values, n_dates, seed)
    before = X.copy(deep=True)
    result = clone(transformer).fit_transform(X)
    pd.testing.assert_frame_equal(X, before)
    # NaN in <=> NaN out (z-scores of a lone or constant date are 0, never NaN).
    np.testing.assert_array_equal(result.isna().to_numpy(), X.isna().to_numpy())
    perm = np.random.default_rng(seed).permutation(len(X))
    permuted = clone(transformer).fit_transform(X.iloc[perm])
    pd.testing.assert_frame_equal(permuted, result.iloc[perm])


@settings(max_examples=60, deadline=None)
@given(_panel_strategy(), st.sampled_from([0.05, 0.2, (0.0, 0.3)]))
def test_winsorizer_property_idempotent(args, limits):
    X = _to_panel(*args)
    once = Winsorizer(limits=limits).fit_transform(X)
    twice = Winsorizer(limits=limits).fit_transform(once)
    pd.testing.assert_frame_equal(once, twice)


@settings(max_examples=60, deadline=None)
@given(
    _panel_strategy(),
    st.floats(1e-3, 1e3),
    st.floats(-1e3, 1e3),
    st.booleans(),
)
def test_zscore_property_affine_invariant(args, scale, shift, robust):
    X = _to_panel(*args)
    z = CrossSectionalZScore(robust=robust).fit_transform(X)
    z_affine = CrossSectionalZScore(robust=robust).fit_transform(X * scale + shift)
    # Constant dates are 0 both ways; elsewhere equal up to rounding.
    np.testing.assert_allclose(z_affine.to_numpy(), z.to_numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "transformer", [Winsorizer(), CrossSectionalZScore()], ids=repr
)
def test_transformers_stateless_transform_without_fit_does_not_warn(panel, transformer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = clone(transformer).transform(panel)
    assert result.index.equals(panel.index)


# ------------------------------------------------------ scale-free z-scores
def _one_date(x, **columns):
    index = pd.MultiIndex.from_product([[0], range(len(x))], names=["date", "asset"])
    return pd.DataFrame({"x": x, **columns}, index=index)


@pytest.mark.parametrize("c", [1e160, 1e-170])
@pytest.mark.parametrize("robust", [False, True])
def test_zscore_of_huge_and_tiny_values_equals_unscaled(c, robust):
    # The squares of 1e160 overflow and those of 1e-170 underflow; the
    # z-scores must not notice (they were all 0 before).
    x = np.array([1.0, 2.0, 3.0, 4.0])
    expected = CrossSectionalZScore(robust=robust).fit_transform(_one_date(x))
    got = CrossSectionalZScore(robust=robust).fit_transform(_one_date(x * c))
    if not robust:
        np.testing.assert_allclose(expected["x"], (x - 2.5) / np.std(x), rtol=1e-15)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(np.float64, st.integers(1, 40), elements=st.integers(-1000, 1000)),
    c=st.floats(1e-300, 1e300),
    robust=st.booleans(),
    weighted=st.booleans(),
)
def test_zscore_and_mad_winsorizer_are_scale_free(x, c, robust, weighted):
    # z-scores of c * x equal those of x, and the MAD clipper's output scales
    # with c, for any c whose products stay in floating-point range.
    w = np.arange(1.0, len(x) + 1) * 1e6 if weighted else None
    kw = {"weights": "w"} if weighted else {}
    X, Xc = (_one_date(v, **({"w": w} if weighted else {})) for v in (x, x * c))
    zscore = CrossSectionalZScore(robust=robust, **kw)
    z, zc = zscore.fit_transform(X)["x"], zscore.fit_transform(Xc)["x"]
    np.testing.assert_allclose(zc, z, rtol=1e-9, atol=1e-9)
    if np.ptp(x) == 0:
        assert (zc == 0).all()  # all equal: 0 at every scale
    clip = Winsorizer(method="mad", n_mad=1.0)
    clipped, clipped_c = clip.fit_transform(X[["x"]]), clip.fit_transform(Xc[["x"]])
    np.testing.assert_allclose(clipped_c["x"] / c, clipped["x"], rtol=1e-9)


def _zscore_loop(X, by, weights=None):
    """Per (date, group) ``(v - mean) / np.std(v)`` (the mean weighted by
    ``weights``), on the values times the power of two that brings their
    largest magnitude to [1, 2): an exact rescaling (the z-scores are the same)
    under which numpy's own sums and squares stay in range."""
    out = X[["x"]].copy()
    for _, rows in X.groupby(by):
        v = rows["x"].dropna()
        if not len(v):
            continue
        u = np.ldexp(v.to_numpy(), 1 - np.frexp(np.abs(v).max())[1])
        w = None if weights is None else rows.loc[v.index, weights]
        z = (u - np.average(u, weights=w)) / np.std(u) if np.ptp(u) else 0 * u
        out.loc[v.index, "x"] = z
    return out


@pytest.mark.parametrize("kwargs", [{}, {"groups": "g"}, {"weights": "w"}])
def test_zscore_of_values_whose_sums_leave_float_range_equals_numpy_loop(kwargs):
    # Near 1e307 a date's sum overflows (its mean was inf, its z-scores NaN);
    # near 1e-306 the squared deviations underflow; a constant date whose sum
    # overflows is 0; ordinary dates beside them are untouched.
    rng = np.random.default_rng(7)
    n_assets, scales = 30, [1.0, 1e307, -1e307, 1e-306, 1e300, 1e-300]
    values = [rng.uniform(1.0, 5.9, n_assets) * c for c in scales]
    values.append(np.full(n_assets, 1.7e307))  # constant, sum overflows
    x = np.concatenate(values)
    x[rng.random(len(x)) < 0.1] = np.nan
    index = pd.MultiIndex.from_product(
        [range(len(values)), range(n_assets)], names=["date", "asset"]
    )
    X = pd.DataFrame({"x": x}, index=index)
    X["g"] = rng.integers(0, 2, len(X))
    X["w"] = rng.uniform(0.5, 2.0, len(X))
    X = shuffled(X, 3)
    dates = X.index.get_level_values("date")
    by = [dates, X["g"]] if "groups" in kwargs else dates
    expected = _zscore_loop(X, by, kwargs.get("weights"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = CrossSectionalZScore(**kwargs).fit_transform(X)
    np.testing.assert_allclose(got[["x"]], expected, rtol=1e-12, atol=1e-12)
    assert (got["x"][dates == len(values) - 1].dropna() == 0).all()


def test_zscore_robust_of_values_whose_sums_overflow_equals_median_mad_loop():
    # The robust z-score's order statistics fill NaN cells with each date's
    # mean, whose sum overflows near 1e307: no warning, the same numbers as
    # a per-date median / scaled-MAD loop on the exactly rescaled values.
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [rng.uniform(1.0, 5.9, 20) * c for c in (1.0, 1e307, -1e307, 1e-306)]
    )
    x[rng.random(len(x)) < 0.15] = np.nan
    X = _one_date(x).reset_index("asset")
    X.index = np.repeat(np.arange(4), 20)
    X = X.rename_axis("date").set_index("asset", append=True)
    expected = X[["x"]].copy()
    for _, rows in X.groupby(level="date"):
        v = rows["x"].dropna()
        u = np.ldexp(v.to_numpy(), 1 - np.frexp(np.abs(v).max())[1])
        mad = np.median(np.abs(u - np.median(u))) / norm.ppf(0.75)
        expected.loc[v.index, "x"] = (u - np.median(u)) / mad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = CrossSectionalZScore(robust=True).fit_transform(shuffled(X, 5))
    np.testing.assert_allclose(got.loc[X.index, ["x"]], expected, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(np.float64, st.integers(2, 40), elements=st.integers(-(10**6), 10**7)),
    e=st.integers(-300, 300),
    weighted=st.booleans(),
)
def test_zscore_property_of_c_times_x_equals_that_of_x(x, e, weighted):
    # c * x up to 1e308 (a date's sum overflows) and down to 1e-299 (the
    # squared deviations underflow): the same z-scores, to 1e-12.
    x = x * 10.0
    assume(np.ptp(x) == 0 or np.std(x) > 1e-3 * np.abs(x).max())  # well posed
    columns = {"w": np.arange(1.0, len(x) + 1)} if weighted else {}
    zscore = CrossSectionalZScore(**({"weights": "w"} if weighted else {}))
    z = zscore.fit_transform(_one_date(x, **columns))["x"]
    for c in 10.0 ** np.array([e, -300, -150, -30, 30, 150, 300]):
        zc = zscore.fit_transform(_one_date(x * c, **columns))["x"]
        np.testing.assert_allclose(zc, z, rtol=1e-12, atol=1e-12)


# ------------------------------------------------- the PanelTransformer base
def test_winsorizer_within_groups_equals_scipy_loop(panel):
    rng = np.random.default_rng(2)
    X = panel.assign(industry=rng.choice(["a", "b", "c"], len(panel)))
    X.loc[X.index[:5], "industry"] = None
    expected = X.copy()
    for _, rows in X.groupby([X.index.get_level_values(0), X["industry"]]):
        for col in panel.columns:
            v = rows[col].dropna()
            if len(v):
                expected.loc[v.index, col] = mstats.winsorize(v.to_numpy(), 0.1)
    expected.loc[X["industry"].isna(), panel.columns] = np.nan
    result = Winsorizer(limits=0.1, groups="industry").fit_transform(X)
    pd.testing.assert_series_equal(result["industry"], X["industry"])
    # Exact: order statistics of each (date, group) cell.
    np.testing.assert_array_equal(
        result[panel.columns].to_numpy(), expected[panel.columns].to_numpy()
    )


def test_winsorizer_groups_refused_with_global_caps(panel):
    X = panel.assign(industry=0.0)
    with pytest.raises(ValueError, match="`groups`='industry' needs `cross_sec"):
        Winsorizer(groups="industry", cross_sectional=False).fit(X)


@pytest.mark.parametrize(
    "transformer",
    [Winsorizer(limits=0.1), CrossSectionalZScore()],
    ids=lambda t: type(t).__name__,
)
def test_transformers_passthrough_takes_a_column_position(transformer):
    # The shared constraints: a role names a column by label, or by position
    # (documented "list of str or int"; an int alone was refused before).
    X = np.random.default_rng(0).normal(size=(30, 3))
    out = clone(transformer).set_params(passthrough=2).fit_transform(X)
    np.testing.assert_array_equal(out[:, 2], X[:, 2])
    assert not np.array_equal(out[:, 0], X[:, 0])


def test_panel_transformer_per_asset_kernel_sees_each_assets_dates_in_order(panel):
    # Issue 25's descriptors work per asset across dates: the base gives such
    # a kernel each asset's rows in date order, whatever the row order.
    from skfactor.panel._transformer import PanelTransformer, shared_constraints

    class CumulativeSum(PanelTransformer):
        _segment_by = "asset"
        _parameter_constraints = shared_constraints("passthrough")

        def __init__(self, *, passthrough=None):
            self.passthrough = passthrough

        def _transform_column(self, blocks, x, out):
            seg = blocks.segments
            col = np.nan_to_num(seg.sort(x))
            total = np.cumsum(col)
            before = np.repeat(total[seg.starts] - col[seg.starts], seg.sizes)
            seg.unsort(total - before, out=out)

    X = panel.assign(cap=1.0)
    result = CumulativeSum(passthrough=["cap"]).fit_transform(X)
    expected = X.fillna(0.0).sort_index().groupby(level=1).cumsum()
    expected["cap"] = X["cap"]
    assert result.index.equals(X.index)
    np.testing.assert_allclose(
        result.to_numpy(), expected.reindex(X.index).to_numpy(), atol=1e-10
    )  # the toy kernel's running totals minus each asset's offset: cancellation
