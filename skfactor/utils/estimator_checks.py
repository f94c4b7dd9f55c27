"""Where skfactor declares the scikit-learn estimator checks it fails on purpose.

``EXPECTED_FAILED_CHECKS`` maps a class name to ``{check name: reason}`` and is
passed to ``parametrize_with_checks(expected_failed_checks=...)`` by the test
suite. Each entry is a design decision a reader can accept, stated in one line.

Beside them, skfactor's own checks (:func:`skfactor_checks` yields those that
apply to an estimator): labels preserved, dates processed independently, no
look-ahead, inputs not mutated, pandas and numpy agree, clone and pickle
round-trips.
"""

from __future__ import annotations

import inspect
import pickle
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import get_tags

from skfactor.datasets import make_factor_panel

_SUBSET = (
    "a row subset of one cross-section is a different cross-section: "
    "per-date statistics change with the rows present"
)

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "CrossSectionalNeutralizer": {"check_methods_subset_invariance": _SUBSET},
    "CrossSectionalZScore": {"check_methods_subset_invariance": _SUBSET},
    "QuantilePortfolioFactor": {"check_methods_subset_invariance": _SUBSET},
}


# skfactor checks that do not apply to a class by design: {class: {check: reason}}.
SKIPPED_SKFACTOR_CHECKS: dict[str, dict[str, str]] = {
    "TwoPassFactorModel": {
        "check_assets_independent": (
            "the second pass regresses each date's returns across all assets: "
            "every premium, priced alpha and prediction depends on every asset"
        )
    },
}
_TIME_SERIES = {
    "check_pandas_numpy_agree": (
        "a time-series descriptor needs the (date, asset) panel: an array is "
        "one cross-section, without the asset's earlier dates"
    ),
    "check_dates_independent": (
        "a value at t is made from the asset's earlier dates (check_no_look_ahead "
        "checks that no later date is used)"
    ),
}
for _name in ("Beta", "CumulativeRange", "Momentum", "ShareTurnover", "Volatility"):
    SKIPPED_SKFACTOR_CHECKS[_name] = _TIME_SERIES
SKIPPED_SKFACTOR_CHECKS["Size"] = {  # row by row, but only on a panel
    "check_pandas_numpy_agree": _TIME_SERIES["check_pandas_numpy_agree"]
}


def expected_failed_checks(estimator):
    """The declared failures of ``estimator``, for ``parametrize_with_checks``."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


# --------------------------------------------------------------------------
# skfactor's own estimator checks, run beside scikit-learn's.
#
# scikit-learn's checks see plain arrays, i.e. one cross-section. These see
# what skfactor adds: (date, asset) panels and wide date x asset frames. Each
# ``check_*(estimator)`` clones the estimator, builds a small synthetic panel
# with ``make_factor_panel`` (unbalanced, shuffled rows, NaN) and raises
# ``AssertionError`` naming what broke.

_RTOL, _ATOL = 1e-9, 1e-12  # reordered sums differ in the last digits, no more


def estimator_kind(estimator):
    """``"panel_transformer"``, ``"panel_model"`` or ``"wide_model"``, from the tags.

    A transformer takes a (date, asset) panel; a regressor whose target may be
    multi-output takes wide date x factor ``X`` and date x asset ``y`` (the
    time-series models); any other regressor takes a panel of loadings and
    returns (the cross-sectional model).
    """
    tags = get_tags(estimator)
    if tags.transformer_tags is not None:
        return "panel_transformer"
    if tags.target_tags.multi_output:
        return "wide_model"
    return "panel_model"


def skfactor_checks(estimator):
    """Yield the skfactor checks that apply to ``estimator``.

    Every estimator gets :func:`check_index_preserved`,
    :func:`check_inputs_not_mutated`, :func:`check_pandas_numpy_agree` and
    :func:`check_clone_pickle_roundtrip`. Per-date estimators (stateless
    transformers, tag ``requires_fit=False``, and panel models) also get
    :func:`check_dates_independent` and :func:`check_no_look_ahead`; wide
    (time-series) models get :func:`check_assets_independent` and
    :func:`check_no_look_ahead`; all less those ``SKIPPED_SKFACTOR_CHECKS``
    declares for the class.

    Yields
    ------
    check : callable
        ``check(estimator)``; raises ``AssertionError`` on failure.

    Examples
    --------
    >>> from skfactor import Winsorizer
    >>> from skfactor.utils.estimator_checks import skfactor_checks
    >>> for check in skfactor_checks(Winsorizer()):
    ...     check(Winsorizer())
    """
    kind = estimator_kind(estimator)
    checks = [
        check_index_preserved,
        check_inputs_not_mutated,
        check_pandas_numpy_agree,
        check_clone_pickle_roundtrip,
    ]
    if kind == "wide_model":
        checks += [check_assets_independent, check_no_look_ahead]
    elif kind == "panel_model" or not get_tags(estimator).requires_fit:
        checks += [check_dates_independent, check_no_look_ahead]
    skipped = SKIPPED_SKFACTOR_CHECKS.get(type(estimator).__name__, {})
    yield from (check for check in checks if check.__name__ not in skipped)


# ---------------------------------------------------------------- data
def _needs_raw_fields(estimator):
    """A time-series descriptor: it reads raw fields (returns, cap, ...) by name."""
    from skfactor.descriptors._base import Descriptor

    return isinstance(estimator, Descriptor) and estimator._panel_only


def _raw_panel_data(seed=0, n_dates=40, n_assets=12):
    """Shuffled raw fields (returns, cap, volume, shares), and the next returns.

    With holes, late listings and NaN returns and volumes.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:02d}" for i in range(n_assets)], name="asset")
    returns = np.maximum(0.02 * rng.standard_t(5, (n_dates, n_assets)), -0.9)
    cap = rng.lognormal(5, 1, n_assets) * np.cumprod(1 + returns, axis=0)
    shares = rng.uniform(10, 50, n_assets) * np.ones((n_dates, 1))
    volume = shares * rng.lognormal(np.log(0.01), 0.5, (n_dates, n_assets))
    alive = rng.random((n_dates, n_assets)) >= 0.1
    alive &= np.arange(n_dates)[:, None] >= rng.integers(0, n_dates // 3, n_assets)
    returns[rng.random(returns.shape) < 0.05] = np.nan
    volume[rng.random(volume.shape) < 0.05] = np.nan
    d, a = np.nonzero(alive)
    index = pd.MultiIndex.from_arrays([dates[d], assets[a]])
    fields = {"returns": returns, "cap": cap, "volume": volume, "shares": shares}
    X = pd.DataFrame({k: v[d, a] for k, v in fields.items()}, index=index)
    y = X["returns"].groupby(level="asset").shift(-1).rename("next_returns")
    order = rng.permutation(len(X))
    return X.iloc[order], y.iloc[order]


def _panel_data(seed=0, n_dates=8, n_assets=30, estimator=None):
    """Shuffled unbalanced panel X with NaN cells, and returns y with NaN.

    Raw fields (:func:`_raw_panel_data`) for a time-series descriptor.
    """
    if estimator is not None and _needs_raw_fields(estimator):
        return _raw_panel_data(seed)
    data = make_factor_panel(
        n_dates,
        n_assets,
        missing_rows=0.2,
        missing_values=0.05,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.X))
    X = data.X.iloc[order]
    y = data.y.iloc[order].mask(rng.random(len(order)) < 0.05)
    return X, y


def _wide_data(seed=0, n_dates=150, n_assets=7):
    """Factor returns F (date x factor, one NaN) and asset returns R with holes."""
    data = make_factor_panel(n_dates, n_assets, missing_rows=0.1, random_state=seed)
    F = pd.concat([data.market, data.factor_returns], axis=1)
    F.iloc[7, 1] = np.nan
    R = data.y.unstack("asset")
    return F, R


def _single_asset_date(X, y):
    """Append a date on which one asset has a row."""
    date = X.index.get_level_values(0).max() + pd.Timedelta(days=1)
    index = pd.MultiIndex.from_tuples([(date, X.index[0][1])], names=X.index.names)
    extra = pd.DataFrame(X.iloc[:1].to_numpy(), index=index, columns=X.columns)
    return pd.concat([X, extra]), pd.concat([y, pd.Series([0.01], index=index)])


# ------------------------------------------------------------- helpers
def _fit_outputs(estimator, X, y, **fit_params):
    """Fit a clone on ``(X, y)``: the fitted clone and ``{name: output}``.

    The outputs are ``transform(X)`` or ``predict(X)`` and every public fitted
    attribute holding an array or a pandas object.
    """
    est = clone(estimator).fit(X, y, **fit_params)
    method = "transform" if hasattr(est, "transform") else "predict"
    out = {method: getattr(est, method)(X)}
    for name, value in vars(est).items():
        if (
            name.endswith("_")
            and not name.startswith("_")
            and name != "feature_names_in_"
            and isinstance(value, np.ndarray | pd.Series | pd.DataFrame)
        ):
            out[name] = value
    return est, out


def _assert_close(actual, expected, what, exact=False):
    """Equal values (NaN where NaN), labels equal for pandas objects."""
    if isinstance(expected, pd.Series | pd.DataFrame):
        assert isinstance(actual, type(expected)), (
            f"{what}: expected a {type(expected).__name__}, got {type(actual)}"
        )
        assert actual.index.equals(expected.index), f"{what}: index differs"
        if isinstance(expected, pd.DataFrame):
            assert actual.columns.equals(expected.columns), f"{what}: columns differ"
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    if exact:
        assert np.array_equal(a, b, equal_nan=True), f"{what}: values differ"
    else:
        np.testing.assert_allclose(a, b, rtol=_RTOL, atol=_ATOL, err_msg=what)


def _by_date(outputs, dates):
    """The outputs with one row per date (pandas objects indexed by ``dates``)."""
    return {
        k: v
        for k, v in outputs.items()
        if isinstance(v, pd.Series | pd.DataFrame) and v.index.equals(dates)
    }


def _by_row(outputs, index):
    """The outputs with one row per input row (pandas objects on ``index``)."""
    return {
        k: v
        for k, v in outputs.items()
        if isinstance(v, pd.Series | pd.DataFrame) and v.index.equals(index)
    }


def _dates(X):
    return X.index.get_level_values(0).unique().sort_values()


def _rows_of(obj, dates):
    """Rows of a panel output (or of a per-date output) on ``dates``."""
    level = obj.index.get_level_values(0) if obj.index.nlevels == 2 else obj.index
    return obj[level.isin(dates)]


def _same(a, b):
    """Inputs unchanged: same values and labels, NaN where NaN."""
    if isinstance(a, pd.Series | pd.DataFrame):
        return a.equals(b) and a.index.equals(b.index)
    return np.array_equal(a, b, equal_nan=True)


def _inputs(estimator, seed=0):
    if estimator_kind(estimator) == "wide_model":
        return _wide_data(seed)
    return _panel_data(seed, estimator=estimator)


def _fit_accepts(estimator, name):
    return name in inspect.signature(estimator.fit).parameters


# --------------------------------------------------------------- checks
def check_index_preserved(estimator):
    """Outputs carry the input's labels: same index, same order, no row dropped.

    A transformer gives a DataFrame with ``X``'s index and columns (a Series
    for a Series); a panel model predicts a Series on ``X``'s index and keeps
    its per-row attributes there, also with a single-asset date; a wide model
    predicts a date x asset frame on ``X``'s dates and ``y``'s assets (a Series
    for a Series ``y``).
    """
    kind = estimator_kind(estimator)
    if kind == "wide_model":
        F, R = _wide_data()
        est = clone(estimator).fit(F, R)
        for rows in (slice(None), slice(-10, None)):
            pred = est.predict(F.iloc[rows])
            assert isinstance(pred, pd.DataFrame), "predict must give a DataFrame"
            assert pred.index.equals(F.index[rows]), "predict: index differs from X"
            assert pred.columns.equals(R.columns), "predict: columns are not y's"
        one = R.iloc[:, 2]
        pred = clone(estimator).fit(F, one).predict(F)
        assert isinstance(pred, pd.Series), "a Series y must predict a Series"
        assert pred.index.equals(F.index) and pred.name == one.name
        return
    X, y = _single_asset_date(*_panel_data(estimator=estimator))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the single-asset date
        est, out = _fit_outputs(estimator, X, y)
        new = X.iloc[::-3]
        method = "transform" if kind == "panel_transformer" else "predict"
        result = getattr(est, method)(new)
        series = clone(estimator).fit(X.iloc[:, 1], y)
        series_out = getattr(series, method)(X.iloc[:, 1])
    if kind == "panel_transformer":
        # One-to-one transformers keep X's columns; others (a composite
        # score) give the columns their get_feature_names_out names.
        names = list(est.get_feature_names_out())
        for name, Z, source in ((method, out[method], X), ("new rows", result, new)):
            assert isinstance(Z, pd.DataFrame), f"{name} must give a DataFrame"
            assert Z.index.equals(source.index), f"{name}: index or order changed"
            assert list(Z.columns) == names, f"{name}: columns changed"
        assert isinstance(series_out, pd.Series), "a Series must give a Series"
        assert series_out.index.equals(X.index)
        assert series_out.name == series.get_feature_names_out()[0]
        return
    for name, pred, source in ((method, out[method], X), ("new rows", result, new)):
        assert isinstance(pred, pd.Series), f"{name} must give a Series"
        assert pred.index.equals(source.index), f"{name}: index or order changed"
    assert series_out.index.equals(X.index), "a one-column Series X: index changed"
    rows = [k for k, v in out.items() if len(getattr(v, "index", ())) == len(X)]
    for name in rows:
        assert out[name].index.equals(X.index), f"{name}: index or order changed"


def check_inputs_not_mutated(estimator):
    """Fitting, transforming, predicting and scoring leave the inputs unchanged.

    Checked with pandas inputs and with numpy ones (F-ordered float64, which
    the validation does not copy, so an in-place write would reach the
    caller's array).
    """
    kind = estimator_kind(estimator)
    X, y = _inputs(estimator)
    weights = _fit_accepts(estimator, "sample_weight") and kind != "wide_model"
    w = pd.Series(np.linspace(0.5, 2.0, len(X)), index=X.index) if weights else None
    cases = [(X, y, w)]
    if not _needs_raw_fields(estimator):  # a time-series descriptor: panels only
        cases.append(
            (
                np.asfortranarray(X.to_numpy(dtype=np.float64)),
                y.to_numpy(dtype=np.float64).copy(),
                None if w is None else w.to_numpy().copy(),
            )
        )
    for Xc, yc, wc in cases:
        before = [v.copy() if v is not None else None for v in (Xc, yc, wc)]
        params = {} if wc is None else {"sample_weight": wc}
        est = clone(estimator).fit(Xc, yc, **params)
        if hasattr(est, "transform"):
            est.transform(Xc)
            clone(estimator).fit_transform(Xc, yc)
        else:
            est.predict(Xc)
            est.score(Xc, yc)
        names = ("X", "y", "sample_weight")
        for name, now, then in zip(names, (Xc, yc, wc), before, strict=True):
            if then is not None:
                assert _same(now, then), f"{name} ({type(now).__name__}) was modified"


def check_pandas_numpy_agree(estimator):
    """Pandas and numpy inputs give the same numbers.

    The same rows as a DataFrame with a plain index and as a 2-D array (both
    one cross-section) give the same outputs. A per-date estimator given one
    date's rows as an array (or as a DataFrame indexed by asset) gives that
    date's rows of the panel result, and a panel model predicts the same from
    an array as from the panel. A wide model gives the same estimates and
    predictions from arrays as from frames.
    """
    kind = estimator_kind(estimator)
    if kind == "wide_model":
        F, R = _wide_data()
        est, out = _fit_outputs(estimator, F, R)
        est_np, out_np = _fit_outputs(estimator, F.to_numpy(), R.to_numpy())
        for name, value in out.items():
            _assert_close(out_np[name], np.asarray(value, dtype=np.float64), name)
        _assert_close(est_np.predict(F.to_numpy()), out["predict"].to_numpy(), "arr")
        return
    X, y = _panel_data(estimator=estimator)
    flat = X.reset_index(drop=True)
    _, by_frame = _fit_outputs(estimator, flat, y.to_numpy())
    _, by_array = _fit_outputs(estimator, flat.to_numpy(), y.to_numpy())
    for name, value in by_frame.items():
        _assert_close(
            by_array[name],
            np.asarray(value, dtype=np.float64),
            f"{name}, array vs DataFrame",
        )
    if kind == "panel_transformer" and get_tags(estimator).requires_fit:
        return  # stateful: its statistics span the dates, nothing per date
    est, out = _fit_outputs(estimator, X, y)
    dates = _dates(X)
    per_date = _by_date(out, dates)
    per_row = _by_row(_date_local(estimator, out), X.index)
    for date in dates[[0, 3, -1]]:
        rows = X.index.get_level_values(0) == date
        Xd, yd = X[rows], y[rows]
        _, by_array = _fit_outputs(estimator, Xd.to_numpy(), yd.to_numpy())
        _, by_frame = _fit_outputs(
            estimator, Xd.droplevel(0), yd.droplevel(0).to_numpy()
        )
        for name, value in per_row.items():
            _assert_close(by_array[name], value[rows].to_numpy(), f"{name} on {date}")
            _assert_close(
                np.asarray(by_frame[name], dtype=np.float64),
                value[rows].to_numpy(),
                f"{name} on {date}, asset-indexed frame",
            )
        for name, value in per_date.items():
            _assert_close(
                np.asarray(by_array[name], dtype=np.float64).reshape(
                    value.loc[[date]].shape
                ),
                value.loc[[date]].to_numpy(),
                f"{name} of {date}",
            )
    if kind == "panel_model":  # one fitted model, pandas or numpy rows to predict
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            by_array = est.predict(X.to_numpy())
        _assert_close(by_array, out["predict"].to_numpy(), "predict of an array")


def check_clone_pickle_roundtrip(estimator):
    """Clones and pickles give identical results.

    ``clone`` keeps the parameters, drops the fitted state and, refitted,
    gives identical outputs; a pickled fitted estimator gives identical
    outputs and attributes.
    """
    kind = estimator_kind(estimator)
    X, y = _inputs(estimator)
    est, out = _fit_outputs(estimator, X, y)
    fresh = clone(est)
    assert not [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    for key, value in est.get_params(deep=False).items():
        assert _same_param(fresh.get_params(deep=False)[key], value), key
    _, again = _fit_outputs(fresh, X, y)
    method = "transform" if kind == "panel_transformer" else "predict"
    for name, value in out.items():
        _assert_close(again[name], value, f"clone: {name}", exact=True)
    restored = pickle.loads(pickle.dumps(est))
    new = X.iloc[::-2]
    _assert_close(
        getattr(restored, method)(new),
        getattr(est, method)(new),
        f"pickle: {method}",
        exact=True,
    )
    for name, value in out.items():
        if name != method:
            _assert_close(getattr(restored, name), value, f"pickle: {name}", exact=True)


def _same_param(a, b):
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a is b or a == b


def _date_local(estimator, outputs):
    """The outputs that must depend on their own date only.

    A panel model's predictions use the expectation pooled over all fitted
    dates, so they are not among them; its per-date estimates and per-row
    residuals are.
    """
    if estimator_kind(estimator) == "panel_model":
        return {k: v for k, v in outputs.items() if k != "predict"}
    return outputs


def check_dates_independent(estimator):
    """Each date is processed on its own rows only.

    Shuffling the rows permutes the per-row outputs and changes nothing else;
    changing one date's rows, or removing that date, leaves every other date's
    outputs unchanged. (A panel model's predictions, which pool the expected
    factor returns over the fitted dates, are exempt from the second part.)
    """
    X, y = _panel_data(estimator=estimator)
    _, out = _fit_outputs(estimator, X, y)
    dates = _dates(X)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(X))
    _, shuffled = _fit_outputs(estimator, X.iloc[order], y.iloc[order])
    for name, value in _by_row(out, X.index).items():
        _assert_close(shuffled[name], value.iloc[order], f"shuffled rows: {name}")
    for name, value in _by_date(out, dates).items():
        _assert_close(shuffled[name], value, f"shuffled rows: {name}")

    date = dates[2]
    keep = X.index.get_level_values(0) != date
    noise = rng.lognormal(size=X.shape), rng.normal(size=X.shape)
    X2 = X.where(np.broadcast_to(keep[:, None], X.shape), X * noise[0] + noise[1])
    y2 = y.where(keep, y * 3.0 + 0.01)
    _, changed = _fit_outputs(estimator, X2, y2)
    _, dropped = _fit_outputs(estimator, X[keep], y[keep])
    others = dates[dates != date]
    local = _date_local(estimator, out)
    moved = False
    for name, value in _by_row(local, X.index).items():
        moved |= not _same(changed[name][~keep], value[~keep])
        _assert_close(changed[name][keep], value[keep], f"{name}, other dates")
        _assert_close(dropped[name], value[keep], f"{name}, {date} removed")
    for name, value in _by_date(local, dates).items():
        moved |= not _same(changed[name].loc[[date]], value.loc[[date]])
        _assert_close(
            changed[name].loc[others], value.loc[others], f"{name}, other dates"
        )
        _assert_close(dropped[name], value.loc[others], f"{name}, {date} removed")
    assert moved, f"changing {date}'s rows changed none of its outputs"


def check_no_look_ahead(estimator):
    """Nothing computed for a date uses a later date.

    Per-date estimators: fitting on the dates up to ``t`` gives the outputs
    of those dates that the whole panel gives. Wide models: the prediction
    for date ``t`` does not move when later factor returns change; if the
    estimates are per date (``params_`` indexed by (date, asset), rolling
    windows), refitting with the returns of ``t`` onwards and the factor
    returns after ``t`` changed leaves the estimates before ``t`` and the
    predictions up to ``t`` unchanged.
    """
    kind = estimator_kind(estimator)
    rng = np.random.default_rng(2)
    if kind != "wide_model":
        X, y = _panel_data(estimator=estimator)
        _, out = _fit_outputs(estimator, X, y)
        dates = _dates(X)
        t = len(dates) // 2 - 1
        early = X.index.get_level_values(0) <= dates[t]
        _, upto = _fit_outputs(estimator, X[early], y[early])
        local = _date_local(estimator, out)
        for name, value in _by_row(local, X.index).items():
            _assert_close(upto[name], value[early], f"{name} fitted up to t")
        for name, value in _by_date(local, dates).items():
            _assert_close(
                upto[name], value.loc[dates[: t + 1]], f"{name} fitted up to t"
            )
        return
    F, R = _wide_data()
    est, out = _fit_outputs(estimator, F, R)
    pred = out["predict"]
    params = getattr(est, "params_", None)
    per_date = isinstance(params, pd.DataFrame) and params.index.nlevels == 2
    for t in (110, 130):
        F2, R2 = F.copy(), R.copy()
        F2.iloc[t + 1 :] = rng.normal(0, 0.02, F2.iloc[t + 1 :].shape)
        _assert_close(est.predict(F2).iloc[: t + 1], pred.iloc[: t + 1], "predict")
        if not per_date:
            continue
        R2.iloc[t:] = rng.normal(0, 0.05, R2.iloc[t:].shape)
        est2, out2 = _fit_outputs(estimator, F2, R2)
        _assert_close(
            out2["predict"].iloc[: t + 1], pred.iloc[: t + 1], f"predict up to {t}"
        )
        for name, value in out.items():
            if isinstance(value, np.ndarray) and value.shape[:1] == (len(F),):
                _assert_close(out2[name][:t], value[:t], f"{name} before {t}")
            elif isinstance(value, pd.Series | pd.DataFrame) and (
                value.index.nlevels == 2  # (date, asset) rows, e.g. params_
            ):
                before = value.index.get_level_values(0) < F.index[t]
                _assert_close(out2[name][before], value[before], f"{name} before {t}")


def check_assets_independent(estimator):
    """Each asset's regressions use only its own returns (wide models).

    Reordering ``y``'s assets reorders every per-asset estimate and
    prediction; removing one asset leaves the others unchanged.
    """
    F, R = _wide_data()
    est, out = _fit_outputs(estimator, F, R)
    n_assets = R.shape[1]
    order = np.random.default_rng(3).permutation(n_assets)
    for label, R2, pick in (
        ("reordered", R.iloc[:, order], order),
        ("one asset removed", R.iloc[:, 1:], np.arange(1, n_assets)),
    ):
        _, out2 = _fit_outputs(estimator, F, R2)
        for name, value in out.items():
            if isinstance(value, pd.DataFrame) and value.columns.equals(R.columns):
                _assert_close(out2[name], value.iloc[:, pick], f"{label}: {name}")
            elif isinstance(value, np.ndarray) and n_assets in value.shape:
                axis = value.shape.index(n_assets)
                _assert_close(
                    out2[name], np.take(value, pick, axis=axis), f"{label}: {name}"
                )
