"""The one panel validator: every estimator's input goes through here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_array
from sklearn.utils.validation import column_or_1d

from skfactor.panel._output import (
    ASSET_NAMES,
    DATE_NAMES,
    from_polars,
    is_polars_frame,
    key_columns,
)
from skfactor.panel._roles import label_roles
from skfactor.panel._segments import Segments
from skfactor.utils._sklearn import validate_data

__all__ = [
    "PanelData",
    "InfiniteValues",
    "check_column_finite",
    "check_finite",
    "check_not_dask",
    "check_numeric_columns",
    "check_panel_index",
    "duplicated_rows_error",
    "date_codes",
    "validate_panel",
    "validate_row_values",
]


def check_not_dask(X, name="X"):
    """Raise if ``X`` is a Dask collection, pointing to :mod:`skfactor.dask`.

    Converting one would compute it whole on this machine and treat the panel
    as one in-memory frame (a Dask frame has no (date, asset) MultiIndex, so a
    per-date step would see one cross-section).
    """
    if callable(getattr(X, "__dask_graph__", None)):
        raise TypeError(
            f"`{name}` is a Dask collection ({type(X).__name__}); the estimators "
            "take pandas (or polars, numpy) inputs in memory. For a panel past one "
            "machine use `skfactor.dask` (`transform_by_date`, `fit_by_date`, "
            "`fit_by_asset`), which runs the estimator partition by partition, or "
            f"gather a small one first with `skfactor.dask.gather({name})`."
        )


def check_panel_index(index: pd.Index, name: str = "X", *, unique: bool = True) -> None:
    """Raise unless ``index`` is a valid (date, asset) panel index.

    A :class:`pandas.MultiIndex` must have exactly two levels (date first, then
    asset), no missing labels and no duplicated (date, asset) pair (that
    check, a hash of every row, is left to the caller with ``unique=False``:
    a kernel that puts each row on its (date, asset) cell finds a pair given
    twice as it goes and raises :func:`duplicated_rows_error`). The date
    level must be known: by the level names (``date``, ``asset`` and their
    synonyms) or, unnamed, by the dates being datetimes (or periods); unnamed
    levels of strings or integers (``read_csv``'s) could be either order.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.panel import check_panel_index
    >>> index = pd.MultiIndex.from_tuples(
    ...     [("2024-01-02", "A"), ("2024-01-02", "A")], names=["date", "asset"]
    ... )
    >>> check_panel_index(index, "X")
    Traceback (most recent call last):
    ...
    ValueError: `X` has duplicated (date, asset) rows, e.g. [('2024-01-02', 'A')]; ...
    """
    if index.nlevels != 2:
        raise ValueError(
            f"`{name}` has a MultiIndex with {index.nlevels} levels; a panel needs "
            "exactly two, (date, asset), date first. Drop or reset the extra "
            "levels, e.g. `X.droplevel(...)` or `X.reset_index(level=...)`."
        )
    _check_level_order(index, name)
    for level, codes in zip(("date", "asset"), index.codes, strict=True):
        if len(codes) and codes.min() < 0:
            raise ValueError(
                f"`{name}` has missing (NaN) labels in its {level} level; every row "
                "needs a date and an asset. Drop those rows first."
            )
    if unique and not index.is_unique:
        raise duplicated_rows_error(index, name)


def duplicated_rows_error(index: pd.MultiIndex, name: str = "X") -> ValueError:
    """The error for a (date, asset) pair given twice, with examples from ``index``."""
    dup = index[index.duplicated()][:3].tolist()
    return ValueError(
        f"`{name}` has duplicated (date, asset) rows, e.g. {dup}; each asset "
        "may appear once per date. Aggregate or drop the duplicates first, e.g. "
        "`X[~X.index.duplicated()]`."
    )


def _is_datelike(level):
    return isinstance(level, pd.DatetimeIndex | pd.PeriodIndex)


def _check_level_order(index, name):
    """Raise unless a two-level index is known to be (date, asset), date first.

    The level names decide when they are known (linearmodels' (entity, time)
    layout names them). Else the level types do: a datetime (or period) level
    is the date level. Unnamed levels that both hold strings or integers (what
    ``read_csv`` gives) could be either order, and reading (asset, date) as
    (date, asset) would compute every per-date statistic per asset: refused.
    """
    first, second = (str(n).lower() if n is not None else None for n in index.names)
    if first in DATE_NAMES or second in ASSET_NAMES:
        return
    first_dates, second_dates = (_is_datelike(level) for level in index.levels)
    if first in ASSET_NAMES or second in DATE_NAMES:
        why = f"its levels are named {list(index.names)}"
    elif second_dates and not first_dates:
        why = "its second level holds dates and its first does not"
    elif first_dates and not second_dates:
        return
    else:
        held = "both hold dates" if first_dates else "neither holds datetimes"
        raise ValueError(
            f"`{name}` has a two-level index whose date level cannot be told: its "
            f"levels are named {list(index.names)} and {held}, so it may be "
            "(date, asset) or (asset, date). Name the levels ('date', 'asset'), "
            f"e.g. `{name}.rename_axis(['date', 'asset'])` if the dates come "
            "first, or make the dates datetimes (`pd.to_datetime`; integers "
            "like 20240102 need `format='%Y%m%d'`)."
        )
    raise ValueError(
        f"`{name}` looks indexed (asset, date): {why}. skfactor panels are "
        "(date, asset), date first, so every per-date statistic would be "
        f"computed per asset. Swap the levels first: `{name}.swaplevel()`."
    )


def check_keyless_frame(X, name="X"):
    """Raise if a single-level DataFrame is evidently a panel without its keys.

    A per-date step reads a frame without a (date, asset) MultiIndex as one
    cross-section. A frame indexed by dates alone, or holding the keys as
    columns (SQL output, a ``reset_index()``), is not one: say how to index it.
    """
    if _is_datelike(X.index):
        kind = (
            "a wide frame (one row per date)"
            if X.index.is_unique
            else "a long frame whose assets are a column"
        )
        raise ValueError(
            f"`{name}` is indexed by dates alone ({kind}); a per-date step needs "
            "a long panel with a (date, asset) MultiIndex, and would read this "
            "as one cross-section. Index it first, e.g. "
            f"`{name}.set_index('asset', append=True)` for a long frame or "
            f"`{name}.stack()` for a wide one."
        )
    keys = key_columns(list(X.columns))
    if keys is not None:
        raise ValueError(
            f"`{name}` holds its panel keys as columns {list(keys)}; a per-date step "
            "needs them as a (date, asset) MultiIndex, and would read this as "
            f"one cross-section. Index it first: `{name}.set_index({list(keys)})`."
        )


def _check_keys_kept(estimator, index, reset, name, y):
    """Refuse an array or a RangeIndex frame where a panel's keys were lost.

    A frame with a single-level index (say, one date's rows indexed by asset)
    is one cross-section on purpose; an array or a frame with a RangeIndex
    (``X.reset_index(drop=True)``) beside a panel ``y``, or given to a step
    fitted on a panel, is what is left of a panel whose index was dropped (by
    a ColumnTransformer without pandas output, or by the user). Beside a panel
    ``y`` any frame without the (date, asset) MultiIndex is refused.
    """
    step = type(estimator).__name__
    if index is None:
        what = "an array"
        fix = fix_y = (
            "If the step before dropped the index (e.g. a ColumnTransformer), "
            'give it `set_output(transform="pandas")`.'
        )
    else:
        kind = type(index).__name__
        what = f"a DataFrame without the (date, asset) MultiIndex (a {kind})"
        fix = (
            "Keep its index (`reset_index(drop=True)` drops it), or put the "
            f"panel's index back on its rows: `{name}.index = <(date, asset) index>`."
        )
        fix_y = (
            "Keep its index (`reset_index(drop=True)` drops it); if its rows are "
            f"`y`'s rows in order, put them back: `{name}.index = y.index`."
        )
    if reset:
        if not isinstance(index, pd.MultiIndex) and isinstance(
            getattr(y, "index", None), pd.MultiIndex
        ):
            raise ValueError(
                f"`{name}` is {what} but `y` is a (date, asset) panel: {step} "
                f"would read every row of `{name}` as one cross-section. Pass "
                f"`{name}` as a DataFrame on `y`'s index. {fix_y}"
            )
        estimator._fitted_on_panel = isinstance(index, pd.MultiIndex)
    elif (index is None or isinstance(index, pd.RangeIndex)) and getattr(
        estimator, "_fitted_on_panel", False
    ):
        raise ValueError(
            f"{step} was fitted on a (date, asset) panel, but `{name}` is {what}, "
            "whose rows would be read as one cross-section. Pass a DataFrame: the "
            "panel with its (date, asset) MultiIndex, or one date's rows indexed "
            f"by asset. {fix}"
        )


def date_codes(index):
    """Integer date number of each row and the sorted unique dates.

    Uses the MultiIndex's own codes (no re-hashing of the labels).
    """
    level = index.levels[0]
    raw = index.codes[0]
    codes = np.asarray(raw, dtype=np.intp)
    if _each_code_in_turn(raw, len(level)):
        used = True  # no need to count the rows of each date
    else:
        used = np.bincount(codes, minlength=len(level)) > 0
    if np.all(used) and level.is_monotonic_increasing:
        # The usual case: the codes are already the date numbers. (Indexing
        # the level, as below, gives the same plain index, without a freq.)
        return codes, level[np.arange(len(level))]
    order = np.argsort(level, kind="stable")
    order = order[used[order]]
    remap = np.full(len(level), -1, dtype=np.intp)
    remap[order] = np.arange(len(order))
    return remap[codes], level[order]


def _each_code_in_turn(codes, n_levels):
    """Whether sorted ``codes`` use each of ``range(n_levels)``: rows by date.

    Checked on the MultiIndex's own narrow integers (a quarter of the bytes
    of a bincount's intp copy).
    """
    if len(codes) == 0 or codes[0] != 0 or codes[-1] != n_levels - 1:
        return False
    step = np.diff(codes)
    return bool(step.min(initial=0) >= 0 and step.max(initial=0) <= 1)


def _numeric(dtype):
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def check_numeric_columns(X, name="X", exclude=(), hint=None):
    """Raise naming the non-numeric columns of a DataFrame (``exclude`` aside)."""
    # Judge each distinct dtype once (a wide frame has thousands of columns).
    dtypes = X.dtypes
    if all(_numeric(dt) for dt in dtypes.unique()):
        return
    bad = [c for c, dt in dtypes.items() if c not in exclude and not _numeric(dt)]
    if bad:
        raise ValueError(
            f"`{name}` has non-numeric columns {bad}; factor values must be numbers. "
            + (
                hint
                or "Drop them or convert them (e.g. one-hot encode a category) first."
            )
        )


def _code_label_columns(X, labels, name):
    """``X`` with its label columns as float codes where floats would not do.

    Columns named by ``groups`` or ``passthrough`` may hold labels (sector
    names, identifiers): the computation sees their codes (NaN where missing)
    unless they are floats already. Integer identifiers are coded too: above
    2**53 distinct ones would share a float64. The output gets the original
    columns back (see :class:`PanelData` ``frame``).
    """
    labels = [c for c in labels if isinstance(c, str | int) and c in X.columns]
    check_numeric_columns(
        X,
        name,
        exclude=labels,
        hint="Characteristics must be numbers; name a label column (industry, "
        "sector, identifier) in the step's `groups` or `passthrough`.",
    )
    coded = [c for c in labels if X[c].dtype.kind != "f"]
    if not coded:
        return X
    X = X.copy(deep=False)  # copy-on-write: the caller's frame is untouched
    for c in coded:
        code, _ = pd.factorize(X[c], use_na_sentinel=True)
        X[c] = np.where(code < 0, np.nan, code.astype(np.float64))
    return X


def check_finite(values, name="X", columns=None):
    """Raise if ``values`` holds +inf or -inf (NaN is allowed: it means missing).

    ``columns``, the column labels (an Index or a list), are looked up only
    to name the columns in the error.
    """
    values = np.asarray(values)
    if values.dtype.kind != "f" or not _has_inf(values):
        return
    if values.ndim == 2:
        cols = np.flatnonzero(np.isinf(values).any(axis=0))
        where = [columns[i] for i in cols] if columns is not None else cols.tolist()
        where = f" in column(s) {where}"
    else:
        where = ""
    raise ValueError(
        f"`{name}` contains inf or -inf{where}; replace infinite values with "
        "NaN (e.g. `X.replace([np.inf, -np.inf], np.nan)`) so they count as "
        "missing."
    )


class InfiniteValues(ValueError):
    """A kernel met +inf or -inf in a column it was computing on.

    Raised by the per-date kernels that check for ±inf on the blocks they
    read anyway (instead of :func:`check_finite` reading the whole panel once
    more); the caller answers it with :func:`check_finite`'s message, which
    names the columns.
    """


def check_column_finite(x):
    """Raise :class:`InfiniteValues` if the float array ``x`` holds ±inf."""
    if _has_inf(x):
        raise InfiniteValues("`X` contains inf or -inf.")


def _any_chunk(values, test, chunk=2**18):
    """Whether ``test(part, out)`` holds for any cache-sized chunk of ``values``.

    ``test`` gets a chunk and a boolean scratch array of its size: one boolean
    array the size of ``values`` would cost more to allocate than the check
    itself, and the reading stops at the first chunk that answers.
    """
    flat = values.ravel(order="K")  # a view of a contiguous array
    buf = np.empty(min(chunk, flat.size), dtype=bool)
    for start in range(0, flat.size, chunk):
        part = flat[start : start + chunk]
        if test(part, buf[: len(part)]):
            return True
    return False


def _has_inf(values):
    """Whether the float array ``values`` holds +inf or -inf."""
    return _any_chunk(values, lambda part, out: np.isinf(part, out=out).any())


def has_value(values):
    """Whether the float array ``values`` holds a non-NaN value."""
    return _any_chunk(values, lambda part, out: not np.isnan(part, out=out).all())


def validate_row_values(values, panel, name):
    """``values`` (returns, weights) as a 1-D float array on ``panel``'s rows.

    A Series (or one-column DataFrame) must have the panel's index, in the same
    order; an array must have one value per row. NaN is kept; ±inf is an error.
    """
    check_not_dask(values, name)
    if is_polars_frame(values):
        values = from_polars(values, name)  # keys as columns: the index
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(
                f"`{name}` must be one column; got a DataFrame with "
                f"{values.shape[1]} columns. Pass a Series, e.g. `{name}['return']`."
            )
        values = values.iloc[:, 0]
    if (
        isinstance(values, pd.Series)
        and isinstance(values.index, pd.MultiIndex)
        and not isinstance(panel.index, pd.MultiIndex)
    ):
        raise ValueError(
            f"`{name}` is a (date, asset) panel but `X` has no (date, asset) "
            f"MultiIndex, so the rows of `X` cannot be matched to `{name}`'s. Pass "
            f"`X` on `{name}`'s index (e.g. `X.index = {name}.index` when its rows "
            "are in the same order)."
        )
    if (
        isinstance(values, pd.Series)
        and panel.index is not None
        and not values.index.equals(panel.index)
    ):
        raise ValueError(
            f"`X` and `{name}` have different indexes: `{name}` and `X` must have "
            "the same index (same rows, same order). Align it first, e.g. "
            f"`{name} = {name}.reindex(X.index)`."
        )
    arr = check_array(
        values,
        ensure_2d=False,
        dtype=np.float64,
        ensure_all_finite=False,
        input_name=name,
    )
    if arr.ndim == 2 and arr.shape[1] == 1:  # a column vector: sklearn warns
        arr = column_or_1d(arr, warn=True)
    if arr.ndim != 1 or len(arr) != len(panel.values):
        raise ValueError(
            f"`{name}` has {len(arr)} rows but `X` has {len(panel.values)}; give one "
            f"value per row of `X` (one return per row of `X` for returns), got "
            f"shape {arr.shape}."
        )
    check_finite(arr, name)
    return arr


@dataclass(frozen=True)
class PanelData:
    """A validated panel: float values, date segments, index and columns.

    Made by :func:`validate_panel` (see its example): ``values`` (float64,
    F-ordered, the caller's row order), ``segments`` (the rows' dates as
    :class:`Segments`), ``dates`` (the sorted unique dates; None for one
    cross-section), ``index`` and ``columns`` (None for arrays), ``date_codes``
    (each row's position in ``dates``), ``series`` (whether the input was a
    Series), ``frame`` (the input as a pandas DataFrame, whose columns the
    output's passthrough columns are, unconverted) and ``polars`` (the input
    polars frame, or None).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skfactor.panel._validation import validate_panel
    >>> panel = validate_panel(BaseEstimator(), np.ones((3, 2)), reset=True)
    >>> panel.dates is None, panel.segments.n_segments  # one cross-section
    (True, 1)
    """

    values: np.ndarray
    segments: Segments
    dates: pd.Index | None
    index: pd.Index | None
    columns: pd.Index | None
    date_codes: np.ndarray | None = None
    series: bool = False
    frame: pd.DataFrame | None = None
    polars: object = None

    def column_position(self, spec, name):
        """Position of the column named (or, for arrays, numbered) ``spec``.

        ``name`` is the parameter that gave ``spec``, for the error message.
        """
        if self.columns is not None and spec in self.columns:
            return self.columns.get_loc(spec)
        n = self.values.shape[1]
        if isinstance(spec, int | np.integer) and 0 <= spec < n:
            return int(spec)
        have = list(self.columns) if self.columns is not None else f"0..{n - 1}"
        raise ValueError(
            f"`{name}`={spec!r} is not a column of X; give a column name "
            f"(or a position for arrays). X has columns {have}."
        )


def validate_panel(
    estimator,
    X,
    *,
    reset,
    name="X",
    needs_keys=True,
    y=None,
    finite=True,
    unique=True,
):
    """Validate ``X`` for a per-date estimator and find its date segments.

    ``X`` may be a DataFrame with a two-level (date, asset) MultiIndex (a
    panel), a polars DataFrame (a panel when it has date and asset columns),
    a DataFrame with a single-level index, or a 2-D array (both one
    cross-section). A Series is taken as a one-column DataFrame (and
    ``series`` records it). Sets ``n_features_in_`` /
    ``feature_names_in_`` when ``reset``. NaN is kept (a missing value);
    ±inf is an error naming the columns (unless ``finite=False``: a caller
    whose kernels look for ±inf as they read the values, see
    :class:`InfiniteValues`). A (date, asset) pair given twice is an error
    too (unless ``unique=False``: a caller whose kernel puts every row on its
    (date, asset) cell and raises :func:`duplicated_rows_error` there, which
    spares the hash of the index).

    A frame that is evidently a panel without its keys (indexed by dates
    alone, or holding them as columns) is an error. With ``needs_keys`` (the
    per-date steps), an estimator fitted on a panel refuses an array or a
    RangeIndex frame later, and anything but a panel beside a panel ``y`` is
    refused in ``fit``: either would silently be read as one cross-section.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> from skfactor.panel._validation import validate_panel
    >>> index = pd.MultiIndex.from_product(
    ...     [["d2", "d1"], ["A", "B"]], names=["date", "asset"]
    ... )
    >>> X = pd.DataFrame({"value": [4.0, 3.0, 2.0, 1.0]}, index=index)
    >>> panel = validate_panel(BaseEstimator(), X, reset=True)
    >>> panel.dates.tolist(), panel.date_codes.tolist()
    (['d1', 'd2'], [1, 1, 0, 0])
    >>> panel.values[:, 0].tolist()  # X's row order
    [4.0, 3.0, 2.0, 1.0]
    """
    check_not_dask(X, name)
    source = None
    if is_polars_frame(X):
        source, X = X, from_polars(X, name)
    index = columns = dates = codes = frame = None
    series = isinstance(X, pd.Series)
    if series:
        X = X.to_frame(name=X.name if X.name is not None else 0)
    if isinstance(X, pd.DataFrame):
        frame, index, columns = X, X.index, X.columns
        if isinstance(index, pd.MultiIndex):
            check_panel_index(index, name, unique=unique)
        else:
            check_keyless_frame(X, name)
        X = _code_label_columns(X, label_roles(estimator), name)
    if needs_keys:
        _check_keys_kept(estimator, index, reset, name, y)
    kwargs = dict(dtype=np.float64, ensure_all_finite=False, order="F")
    if reset or hasattr(estimator, "n_features_in_"):
        values = validate_data(estimator, X, reset=reset, **kwargs)
    else:
        # A stateless transformer used without fit: nothing to compare the
        # columns against (validate_data would warn that it was "fitted
        # without feature names").
        values = check_array(X, input_name=name, estimator=estimator, **kwargs)
    if finite:
        check_finite(values, name, columns)
    if isinstance(index, pd.MultiIndex):
        codes, dates = date_codes(index)
        segments = Segments(codes, len(dates))
    else:
        segments = Segments.single(len(values))
    return PanelData(
        values, segments, dates, index, columns, codes, series, frame, source
    )
