"""PanelTimeSeriesSplit: scikit-learn's TimeSeriesSplit, counted in dates."""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral

import numpy as np
import pandas as pd

from skfactor.panel._output import DATE_NAMES, is_polars_frame, key_columns
from skfactor.panel._validation import check_panel_index, date_codes
from skfactor.utils._sklearn import BaseCrossValidator, GroupsConsumerMixin
from skfactor.utils._typing import ArrayLike, MatrixLike

__all__ = ["PanelTimeSeriesSplit"]


def _check_int(value, name, low, allow_none=False):
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        rule = f"an int >= {low}" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {rule}; got {value!r}.")


def _factorize_dates(values, name):
    """Date number of each row (0 = earliest) and the number of dates."""
    values = pd.Index(values) if not isinstance(values, pd.Index) else values
    if values.hasnans:
        raise ValueError(
            f"`{name}` has missing (NaN/NaT) dates; every row needs a date. "
            "Drop those rows first."
        )
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.intp), len(uniques)


def _polars_date_column(X):
    """The name of the date column of a polars frame, or an error.

    The rule of the rest of the library for polars long frames: the column
    named ``date`` (or a usual synonym, e.g. ``datetime``, ``trade_date``),
    the only one so named.
    """
    keys = key_columns(list(X.columns))
    if keys is not None:
        return keys[0]
    named = [c for c in X.columns if str(c).lower() in DATE_NAMES]
    if len(named) == 1:
        return named[0]
    found = f"several: {named}" if named else f"none among {list(X.columns)[:8]}"
    raise ValueError(
        "`X` is a polars DataFrame, which has no index, so the splitter takes "
        "the dates from its date column: one column named 'date' (or a "
        f"synonym such as 'datetime' or 'trade_date'); found {found}. Name "
        "the date column 'date', or pass the dates as `groups`."
    )


def _row_dates(X, groups):
    """Date number of each row of ``X`` (0 = earliest) and the number of dates.

    The dates are, in this order of precedence: ``groups``; the date column of
    a polars frame; the first level of a (date, asset) MultiIndex; a
    DatetimeIndex or PeriodIndex; else each row is its own date, in row order
    (scikit-learn's TimeSeriesSplit).
    """
    if is_polars_frame(X) and groups is None:
        column = _polars_date_column(X)
        return _factorize_dates(X[column].to_numpy(), f"X[{column!r}]")
    index = getattr(X, "index", None)
    has_panel_index = isinstance(index, pd.MultiIndex)
    if groups is not None:
        if has_panel_index:
            raise ValueError(
                "`groups` was given but `X` already has a (date, asset) "
                "MultiIndex; the splitter takes the dates from one of them. "
                "Drop `groups`, or pass `X` without the MultiIndex."
            )
        groups = np.asarray(groups)
        if groups.ndim != 1 or len(groups) != len(X):
            raise ValueError(
                "`groups` must be 1-D with one date per row of `X`; got shape "
                f"{groups.shape} for {len(X)} rows."
            )
        return _factorize_dates(groups, "groups")
    if has_panel_index:
        check_panel_index(index, "X")
        codes, dates = date_codes(index)
        return codes, len(dates)
    if isinstance(index, pd.DatetimeIndex | pd.PeriodIndex):
        return _factorize_dates(index, "X")
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    return np.arange(n_rows, dtype=np.intp), n_rows


class PanelTimeSeriesSplit(GroupsConsumerMixin, BaseCrossValidator):
    """Time-series cross-validation that splits by date, never within one.

    scikit-learn's :class:`~sklearn.model_selection.TimeSeriesSplit` counted
    in **dates** instead of rows: the sorted unique dates are split exactly as
    ``TimeSeriesSplit`` splits rows, and every row follows its date. So every
    row of a date falls on one side, the training dates all precede the test
    dates, and ``gap`` dates between them are left out of both (the embargo
    when the labels are forward returns over several dates).

    The dates of the rows are taken from, in this order:

    - ``groups``, when given (e.g. the dates of a long panel held in a numpy
      array);
    - the date column of a polars DataFrame (named ``date`` or a usual
      synonym such as ``datetime`` or ``trade_date``, as
      ``set_output(transform="polars")`` makes it), rows in any order; a
      polars frame without one is refused;
    - the first level of a (date, asset) MultiIndex: a long panel, rows in any
      order, possibly unbalanced;
    - a DatetimeIndex or PeriodIndex: a wide frame, one row per date (rows in
      any order; a repeated date keeps its rows together);
    - otherwise each row is one date, in row order (a plain array of dates).

    Parameters
    ----------
    n_splits : int, default=5
        Number of splits (folds); at least 2.
    test_size : int, default=None
        Number of dates in each test fold. By default
        ``n_dates // (n_splits + 1)``.
    gap : int, default=0
        Number of dates left out between the last training date and the first
        test date of each split.
    max_train_size : int, default=None
        Maximum number of training dates: the training window rolls instead of
        growing. By default it grows from the first date.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : The same, counted in rows.

    Notes
    -----
    With ``n_dates`` dates, split ``i`` (from 0) tests the dates
    ``[n_dates - (n_splits - i) * test_size, ... + test_size)`` and trains on
    the dates before them minus the last ``gap``, limited to the last
    ``max_train_size``. The returned positions are sorted.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skfactor.model_selection import PanelTimeSeriesSplit
    >>> dates = pd.date_range("2024-01-01", periods=6)
    >>> index = pd.MultiIndex.from_product([dates, ["A", "B"]], names=["date", "asset"])
    >>> X = pd.DataFrame({"value": np.arange(12.0)}, index=index)
    >>> cv = PanelTimeSeriesSplit(n_splits=2, test_size=2, gap=1)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1] [4 5 6 7]
    [0 1 2 3 4 5] [ 8  9 10 11]
    >>> cv
    PanelTimeSeriesSplit(gap=1, max_train_size=None, n_splits=2, test_size=2)
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        test_size: int | None = None,
        gap: int = 0,
        max_train_size: int | None = None,
    ) -> None:
        self.n_splits = n_splits
        self.test_size = test_size
        self.gap = gap
        self.max_train_size = max_train_size

    def _check_params(self):
        _check_int(self.n_splits, "n_splits", 2)
        _check_int(self.test_size, "test_size", 1, allow_none=True)
        _check_int(self.gap, "gap", 0)
        _check_int(self.max_train_size, "max_train_size", 1, allow_none=True)

    def get_n_splits(
        self, X: object = None, y: object = None, groups: object = None
    ) -> int:
        """Number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
        """
        self._check_params()
        return self.n_splits

    def _date_folds(self, n_dates):
        """``(train_start, train_end, test_start, test_end)`` dates of each split."""
        n_splits, gap = self.n_splits, self.gap
        n_folds = n_splits + 1
        if n_folds > n_dates:
            raise ValueError(
                f"`n_splits`={n_splits} needs at least n_splits + 1 = {n_folds} "
                f"dates; the data has {n_dates}. Lower `n_splits` or give more dates."
            )
        test_size = self.test_size if self.test_size is not None else n_dates // n_folds
        n_train_max = n_dates - gap - n_splits * test_size
        if n_train_max <= 0:
            raise ValueError(
                f"`n_splits`={n_splits} test folds of `test_size`={test_size} dates "
                f"plus `gap`={gap} dates take {n_splits * test_size + gap} of the "
                f"{n_dates} dates, leaving none to train the first split on. "
                "Lower `n_splits`, `test_size` or `gap`, or give more dates."
            )
        folds = []
        for test_start in range(n_dates - n_splits * test_size, n_dates, test_size):
            train_end = test_start - gap
            train_start = 0
            if self.max_train_size is not None:
                train_start = max(train_end - self.max_train_size, 0)
            folds.append((train_start, train_end, test_start, test_start + test_size))
        return folds

    def split(
        self, X: MatrixLike, y: object = None, groups: ArrayLike | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate positional indices of the training and test rows.

        Parameters
        ----------
        X : DataFrame, Series or array-like of shape (n_rows, ...)
            A long panel with a (date, asset) MultiIndex, a polars frame with
            a date column, a wide frame with a DatetimeIndex, or an array
            whose rows are dates (see ``groups``).
        y : object
            Ignored, exists for API compatibility.
        groups : array-like of shape (n_rows,), default=None
            The date of each row, for an ``X`` that does not carry its dates
            (any sortable labels). Not allowed together with a MultiIndex.

        Yields
        ------
        train : ndarray of int
            Sorted positions of the training rows of that split.
        test : ndarray of int
            Sorted positions of the test rows of that split.
        """
        self._check_params()
        codes, n_dates = _row_dates(X, groups)
        folds = self._date_folds(n_dates)
        for train_start, train_end, test_start, test_end in folds:
            train = (codes >= train_start) & (codes < train_end)
            test = (codes >= test_start) & (codes < test_end)
            yield np.flatnonzero(train), np.flatnonzero(test)
