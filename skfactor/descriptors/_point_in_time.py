"""PointInTime: a table of reported fundamentals aligned onto a (date, asset) panel."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from skfactor.descriptors._columns import NamedOutputMixin
from skfactor.panel._output import PanelTransformerMixin, from_polars, is_polars_frame
from skfactor.panel._validation import check_not_dask, check_panel_index, date_codes
from skfactor.utils._sklearn import (
    BaseEstimator,
    StrOptions,
    _fit_context,
    get_output_config,
)
from skfactor.utils._typing import FrameOut, MatrixLike, TargetLike

__all__ = ["AsOf", "PointInTime"]

_QUARTERS = 4  # a trailing-twelve-month sum adds four quarters, 3 months apart


class AsOf:
    """The last record of a key at or before a time, for many queries.

    The records have integer keys ``rec_key`` and time ranks ``rec_rank`` (in
    ``range(n_times)``); a query ``(key, rank)`` gets the position of the last
    record with that key and a rank <= ``rank``, or -1. Among records with
    the same key and rank the last one in record order wins. The (key, rank)
    pairs are coded as one integer, the records sorted once, each query set
    answered by one ``searchsorted``.
    """

    def __init__(self, rec_key, rec_rank, n_times):
        self.n_times = np.int64(n_times)
        code = rec_key.astype(np.int64) * self.n_times + rec_rank
        self.order = np.argsort(code, kind="stable")
        self.code = code[self.order]

    def __call__(self, key, rank):
        code = key.astype(np.int64) * self.n_times + rank
        pos = np.searchsorted(self.code, code, side="right") - 1
        found = (pos >= 0) & (key >= 0)
        pos = np.where(found, pos, 0)
        found &= self.code[pos] // self.n_times == key
        return np.where(found, self.order[pos], -1)


def _instants(values, name):
    """Datetime-like values as int64 nanoseconds (NaT refused)."""
    try:
        index = pd.DatetimeIndex(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold dates; got {values[:3]!r}.") from exc
    if index.hasnans:
        raise ValueError(f"{name} has missing dates (NaT); drop those rows first.")
    return index.as_unit("ns").asi8


class PointInTime(NamedOutputMixin, PanelTransformerMixin, BaseEstimator):
    r"""Align reported fundamentals onto a (date, asset) panel, as known at each date.

    ``fundamentals`` is a long table of reports: one row per asset, fiscal
    period and publication, with columns ``asset``, the period end
    (``period``), the date the report became public (``available``) and the
    numeric fields (book value, earnings, ...). Each row :math:`(t, a)` of the
    panel gets, for every field, the value of asset :math:`a`'s **latest
    period** among the reports public on or before :math:`t_{-\text{lag}}`
    (``lag`` panel dates before :math:`t`); nothing published later is used.

    - *Restatements*: a period published twice takes its later publication
      from that publication's date on (and the earlier one before it).
    - A period is identified by the month of its end (year and month), so
      quarters are 3 months apart and fiscal years 12, whatever their month.
    - The latest period is the one with the latest end among the reports
      public by then, whatever its fields hold: a NaN in that report is NaN
      (an older period's value is not used instead).
    - ``ttm`` fields are replaced by their trailing-twelve-month sum: the
      latest period's value plus those of the three quarters before it (ends
      3, 6 and 9 months earlier), each as known at the cut-off. A quarter
      missing from the table, or NaN, makes the sum NaN (a sum of three
      quarters is not a year).
    - ``history`` fields also get ``history_years - 1`` older values: the
      column ``f"{field}_{k}y"`` holds the field (its TTM sum if it is in
      ``ttm``) of the period ending ``12 k`` months before the latest one,
      as known at the cut-off, NaN where that period is missing. With an
      annual table these are the last fiscal years (what ``Growth`` needs).
    - ``max_age``: every new column is NaN on a row whose date is more than
      ``max_age`` after the publication date of the report used for the latest
      period (measured from the **publication date**, at the row's own date).

    Vectorised: one sort of the reports and one ``searchsorted`` per lookup
    (no loop over assets or dates).

    Parameters
    ----------
    fundamentals : DataFrame
        The reports, with columns ``asset``, ``period``, ``available`` and the
        fields (columns or index levels of those names). A repeated
        (asset, period, publication date) is an error.
    available : str, default="public_date"
        Column of ``fundamentals`` holding the date a report became public.
    period : str, default="period_end"
        Column of ``fundamentals`` holding the fiscal period's end date.
    asset : str, default="asset"
        Column of ``fundamentals`` holding the asset labels of the panel.
    lag : int, default=0
        Panel dates between a row and the last publication date it may use
        (0: reports public on the row's own date are used).
    max_age : str or Timedelta, default=None
        Age after which a value is stale (NaN), from its publication date,
        e.g. ``"400D"``; None: never.
    fields : list of str, default=None
        The fields to align; None: every column of ``fundamentals`` but the
        three keys.
    ttm : list of str, default=()
        Fields (of a quarterly table) replaced by their trailing four-quarter
        sums, e.g. ``["earnings", "cash_earnings"]``.
    history : list of str, default=()
        Fields that also get their values of the ``history_years - 1``
        previous years, e.g. ``["sales_per_share", "eps"]``.
    history_years : int, default=5
        Years of ``history``, the latest included.
    remainder : {"passthrough", "drop"}, default="passthrough"
        Whether the output starts with ``X``'s own columns (unchanged) or
        holds the new columns only.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import PointInTime
    >>> dates = pd.bdate_range("2024-01-01", periods=4)
    >>> X = pd.DataFrame(
    ...     {"cap": 1.0},
    ...     index=pd.MultiIndex.from_product([dates, ["A"]], names=["date", "asset"]),
    ... )
    >>> reports = pd.DataFrame({
    ...     "asset": ["A", "A"],
    ...     "period_end": pd.to_datetime(["2023-09-30", "2023-09-30"]),
    ...     "public_date": pd.to_datetime(["2024-01-02", "2024-01-04"]),
    ...     "book": [10.0, 11.0],  # restated on 4 January
    ... })
    >>> PointInTime(reports).fit_transform(X)["book"].tolist()
    [nan, 10.0, 10.0, 11.0]
    """

    _parameter_constraints: dict = {
        "fundamentals": "no_validation",
        "available": [str],
        "period": [str],
        "asset": [str],
        "lag": [numbers.Integral],
        "max_age": [str, pd.Timedelta, None],
        "fields": [list, tuple, None],
        "ttm": [list, tuple],
        "history": [list, tuple],
        "history_years": [numbers.Integral],
        "remainder": [StrOptions({"passthrough", "drop"})],
    }

    def __init__(
        self,
        fundamentals: pd.DataFrame,
        *,
        available: str = "public_date",
        period: str = "period_end",
        asset: str = "asset",
        lag: int = 0,
        max_age: str | pd.Timedelta | None = None,
        fields: Sequence[str] | None = None,
        ttm: Sequence[str] = (),
        history: Sequence[str] = (),
        history_years: int = 5,
        remainder: str = "passthrough",
    ) -> None:
        self.fundamentals = fundamentals
        self.available = available
        self.period = period
        self.asset = asset
        self.lag = lag
        self.max_age = max_age
        self.fields = fields
        self.ttm = ttm
        self.history = history
        self.history_years = history_years
        self.remainder = remainder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = False
        return tags

    # ------------------------------------------------------------ validation
    def _check_params(self):
        self._validate_params()
        for name, low in (("lag", 0), ("history_years", 1)):
            value = getattr(self, name)
            if value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}; got {value}.")

    def _table(self):
        """The reports: keys checked, fields chosen, duplicates refused."""
        table = self.fundamentals
        if is_polars_frame(table):
            table = from_polars(table, "fundamentals")
        if not isinstance(table, pd.DataFrame):
            raise TypeError(
                "`fundamentals` must be a DataFrame of reports (columns asset, "
                f"period end, publication date, fields); got {type(table).__name__}."
            )
        keys = {"asset": self.asset, "period": self.period, "available": self.available}
        if any(name in table.index.names for name in keys.values()):
            table = table.reset_index()
        for param, column in keys.items():
            if column not in table.columns:
                raise ValueError(
                    f"`{param}`={column!r} is not a column of `fundamentals`; name "
                    f"the column that holds it with `{param}=...`. `fundamentals` "
                    f"has columns {list(table.columns)}."
                )
        key_columns = list(keys.values())
        fields = [c for c in table.columns if c not in key_columns]
        fields = fields if self.fields is None else list(self.fields)
        for param in ("fields", "ttm", "history"):
            wanted = fields if param == "fields" else list(getattr(self, param))
            missing = [f for f in wanted if f not in table.columns or f in key_columns]
            if missing:
                raise ValueError(
                    f"`{param}` names {missing}, which are not fields of "
                    f"`fundamentals` (its columns: {list(table.columns)})."
                )
        extra = [f for f in (*self.ttm, *self.history) if f not in fields]
        if extra:
            raise ValueError(
                f"`ttm`/`history` name {extra}, which are not in `fields`; add them."
            )
        dup = table.duplicated(key_columns)
        if dup.any():
            example = table.loc[dup, key_columns].iloc[0].tolist()
            raise ValueError(
                f"`fundamentals` has {int(dup.sum())} repeated (asset, period, "
                f"publication) rows, e.g. {example}"
                "; keep one report per asset, period and publication date, e.g. "
                f"`fundamentals.drop_duplicates({key_columns}, keep='last')`."
            )
        bad = [f for f in fields if not pd.api.types.is_numeric_dtype(table[f])]
        if bad:
            raise ValueError(f"`fundamentals` fields {bad} must be numeric.")
        if table[self.asset].isna().any():
            raise ValueError("`fundamentals` has reports without an asset label.")
        return table, fields

    # ------------------------------------------------------------ the kernel
    def _aligned(self, X):
        """The new columns' names and values (n_rows, n_new) on ``X``'s rows.

        The aligned values of an asset change only on its publication dates
        (the events): they are computed once per event, and each row takes
        those of its asset's last event on or before its cut-off.
        """
        self._check_params()
        table, fields = self._table()
        codes, dates = date_codes(X.index)
        row_time = _instants(dates, "The panel's dates")
        assets, asset_code = X.index.levels[1], np.asarray(X.index.codes[1])
        rec_asset = assets.get_indexer(table[self.asset])
        keep = rec_asset >= 0  # reports of assets not in the panel are not needed
        if len(table) and not keep.any():
            raise ValueError(
                "No asset of `fundamentals` is an asset of `X`: e.g. "
                f"{table[self.asset].iloc[0]!r} in `fundamentals[{self.asset!r}]`, "
                f"{assets[0]!r} in `X`'s asset level. Give both the same labels "
                f"(and dtype), e.g. `fundamentals.astype({{{self.asset!r}: str}})`."
            )
        table, rec_asset = table[keep], rec_asset[keep].astype(np.int64)
        rec_time = _instants(table[self.available], "`fundamentals[available]`")
        period = pd.DatetimeIndex(_instants(table[self.period], "The period ends"))
        month = (period.year * 12 + period.month - 1).to_numpy(np.int64)
        values = table[fields].to_numpy(dtype=np.float64)
        if not len(table):  # no report of any asset of the panel
            names = self._new_names(fields)
            return names, np.full((len(codes), len(names)), np.nan)

        # Times as ranks among the publication and panel dates (exact, small).
        times = np.unique(np.concatenate([rec_time, row_time]))
        n_times = np.int64(len(times))
        rec_rank = np.searchsorted(times, rec_time)
        events = np.unique(rec_asset * n_times + rec_rank)
        names, at_event, anchor = self._at_events(
            rec_asset, rec_rank, n_times, month, values, fields, events
        )

        # Each row's cut-off (the panel date `lag` dates before its own) and
        # its asset's last event on or before it.
        cut = codes - self.lag
        valid = cut >= 0
        date_rank = np.searchsorted(times, row_time)[np.maximum(cut, 0)]
        key = np.where(valid, asset_code * n_times + date_rank, -1)
        pos = np.searchsorted(events, key, side="right") - 1
        found = valid & (pos >= 0)
        pos = np.where(found, pos, 0)
        found &= events[pos] // n_times == asset_code
        out = np.take(at_event, pos, axis=0)
        stale = ~found
        if self.max_age is not None:
            age = row_time[codes] - rec_time[anchor[pos]]
            stale |= age > pd.Timedelta(self.max_age).as_unit("ns").value
        out[stale] = np.nan
        return names, out

    def _at_events(self, rec_asset, rec_rank, n_times, month, values, fields, events):
        """The aligned columns as known at each event (an asset's publication).

        Returns the names, the values (n_events, n_new) and the record of the
        latest period used at each event (its publication dates ``max_age``).
        """
        asset, rank = np.divmod(events, n_times)
        # The latest period public by each event: a running max of the period
        # over each asset's reports in publication order, read at the event's
        # last report in that order (so reports public the same day all count).
        first = month.min()
        span = month.max() - first + 1
        order = np.lexsort((month, rec_rank, rec_asset))
        stacked = rec_asset[order] * span + (month[order] - first)
        running = np.maximum.accumulate(stacked) - rec_asset[order] * span
        sorted_code = rec_asset[order] * n_times + rec_rank[order]
        latest = running[np.searchsorted(sorted_code, events, side="right") - 1]
        by_period = AsOf(rec_asset * span + (month - first), rec_rank, n_times)

        @functools.cache
        def known(months_back):
            """Record of each event's (asset, latest period - months_back)."""
            m = latest - months_back
            key = np.where(m >= 0, asset * span + m, -1)
            return by_period(key, rank)

        def take(pos, j):
            return np.where(pos >= 0, values[np.maximum(pos, 0), j], np.nan)

        def value(field, back):
            """The field (its TTM sum if in ``ttm``) ``back`` months before."""
            j = fields.index(field)
            if field not in self.ttm:
                return take(known(back), j)
            # NaN if a quarter is missing
            return sum(take(known(back + 3 * q), j) for q in range(_QUARTERS))

        columns = [value(field, 0) for field in fields]
        for field in self.history:
            columns += [value(field, 12 * k) for k in range(1, self.history_years)]
        out = np.column_stack(columns) if columns else np.empty((len(asset), 0))
        return self._new_names(fields), out, known(0)

    def _output_frame(self, X, source, names, out):
        new = pd.DataFrame(out, index=X.index, columns=names, copy=False)
        result = pd.concat([X, new], axis=1) if self.remainder == "passthrough" else new
        container = get_output_config("transform", self)["dense"]
        if container == "polars" or (container == "default" and source is not X):
            import polars as pl

            return pl.from_pandas(result.reset_index())
        return result

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: TargetLike | None = None) -> PointInTime:
        """Check ``X`` and ``fundamentals`` (the step learns nothing).

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)
            A (date, asset) panel; its values are not read.
        y : None
            Ignored.

        Returns
        -------
        self : estimator instance
        """
        X, _ = self._frame(X, reset=True)
        self._table()
        return self

    def transform(self, X: MatrixLike) -> FrameOut:
        """The fields as known at each row's date, on ``X``'s rows.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)
            A (date, asset) panel, rows in any order, dates datetimes.

        Returns
        -------
        X_new : DataFrame of shape (n_rows, n_columns_out)
            ``X``'s index (same order); ``X``'s columns (``remainder=
            "passthrough"``), then the fields, then the history columns.
        """
        X, source = self._frame(X, reset=False)
        names, out = self._aligned(X)
        return self._output_frame(X, source, names, out)

    def fit_transform(self, X: MatrixLike, y: TargetLike | None = None) -> FrameOut:
        """Fit, then transform ``X`` (see :meth:`transform`)."""
        return self.fit(X, y).transform(X)

    def _new_names(self, fields):
        """The columns this step adds: the fields, then the history columns."""
        new = list(fields)
        for field in self.history:
            new += [f"{field}_{k}y" for k in range(1, self.history_years)]
        return new

    def _names_out(self, input_features):
        _, fields = self._table()
        new = self._new_names(fields)
        if self.remainder == "drop":
            return new
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", [])
        return [*input_features, *new]

    def _frame(self, X, reset):
        """``X`` as a pandas panel (and the object given), feature names recorded."""
        check_not_dask(X)
        source = X
        if is_polars_frame(X):
            X = from_polars(X)
        if isinstance(X, pd.Series):
            X = X.to_frame()
        if not isinstance(X, pd.DataFrame) or not isinstance(X.index, pd.MultiIndex):
            raise ValueError(
                "`X` must be a (date, asset) panel: a DataFrame with a two-level "
                "(date, asset) MultiIndex (or a polars frame with date and asset "
                f"columns); got {type(X).__name__} without one. PointInTime needs "
                "each row's date and asset."
            )
        check_panel_index(X.index)
        if reset:
            self.n_features_in_ = X.shape[1]
            names = np.asarray(X.columns, dtype=object)
            if all(isinstance(c, str) for c in names):
                self.feature_names_in_ = names
        return X, source
