"""Output containers of the per-date transformers, and polars panels in and out.

scikit-learn's ``set_output`` wraps a transformer's result after the fact, from
its feature names: a polars frame made that way has no (date, asset) keys, so
the next per-date step would read the whole panel as one cross-section. The
per-date transformers therefore make their own containers:

- ``"default"`` (and no ``set_output`` call): the input's container — a panel
  in, a panel out, on the input's index; a polars frame in, a polars frame
  out (its key columns first, as given); an array in, an array out.
- ``"pandas"``: a DataFrame (arrays get a RangeIndex).
- ``"polars"``: a polars DataFrame; a panel's keys come first, as columns
  named after the index levels (``date`` and ``asset`` when unnamed), so
  that the next step, given that frame, works per date again.

Columns a step passes through (its ``groups``, ``weights`` and
``passthrough``) come back as they came in, values and dtype: the input's
own column (a polars input's own polars column).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.panel._roles import ROLES_ATTR
from skfactor.utils._sklearn import TransformerMixin, get_output_config

__all__ = [
    "ASSET_NAMES",
    "DATE_NAMES",
    "PanelTransformerMixin",
    "from_polars",
    "is_polars_frame",
    "key_columns",
    "wide_from_polars",
]

_KEY_NAMES = ("date", "asset")
# Level and column names that say what they hold (compared in lower case).
DATE_NAMES = frozenset(
    {"date", "dates", "datetime", "time", "timestamp", "period", "day", "dt"}
    | {"trade_date", "trading_date", "trade_dt", "as_of", "asof"}
)
ASSET_NAMES = frozenset(
    {"asset", "assets", "ticker", "symbol", "instrument", "security", "stock"}
    | {"sid", "permno", "gvkey", "cusip", "isin", "sedol", "entity", "code"}
)


def is_polars_frame(X):
    """Whether ``X`` is a polars DataFrame (polars need not be installed)."""
    return type(X).__module__.split(".")[0] == "polars" and hasattr(X, "columns")


def key_columns(columns):
    """The (date, asset) key columns of a long frame's column names, or None."""
    date = [c for c in columns if str(c).lower() in DATE_NAMES]
    asset = [c for c in columns if str(c).lower() in ASSET_NAMES]
    if len(date) == 1 and len(asset) == 1:
        return date[0], asset[0]
    return None


def from_polars(X, name="X"):
    """A polars frame as pandas: a long panel when it has date and asset columns.

    The key columns are recognised by name (``date``, ``asset`` and their
    usual synonyms, one of each); without a date column the frame is one
    cross-section. A date column without exactly one asset column (or several
    date columns) is an error: the frame would be read as one cross-section.
    Columns keep their dtype where pandas has it (categoricals, integers and
    booleans with missing values as pandas' nullable ones).
    """
    columns = list(X.columns)
    keys = key_columns(columns)
    if keys is None:
        dates = [c for c in columns if str(c).lower() in DATE_NAMES]
        if dates:
            assets = [c for c in columns if str(c).lower() in ASSET_NAMES]
            raise ValueError(
                f"`{name}` has date column(s) {dates} and asset column(s) {assets}; "
                "a polars long frame needs exactly one of each to be read as a "
                "(date, asset) panel, else every row would be one cross-section. "
                "Rename or drop the others (the asset column may be named "
                f"`asset` or e.g. `ticker`, `permno`), e.g. `{name}.rename(...)`."
            )
    data = {c: _pandas_values(X[c]) for c in columns}
    if keys is None:
        return pd.DataFrame(data)
    index = pd.MultiIndex.from_arrays([data.pop(k) for k in keys], names=keys)
    return pd.DataFrame(data, index=index)


def wide_from_polars(X, name="X"):
    """A polars wide frame (one row per date) as pandas, indexed by its dates.

    The date column is recognised by name (``date`` and its synonyms), as in
    :func:`from_polars`; without one the rows are matched by position, as an
    array's are. A long frame (date and asset columns) becomes a panel, which
    the time-series models refuse with the way to pivot it.
    """
    if key_columns(list(X.columns)) is not None:
        return from_polars(X, name)
    data = {c: _pandas_values(X[c]) for c in X.columns}
    dates = [c for c in X.columns if str(c).lower() in DATE_NAMES]
    if len(dates) > 1:
        raise ValueError(
            f"`{name}` has several date columns {dates}; a wide frame has one "
            "(its rows' dates). Drop the others first."
        )
    if not dates:
        return pd.DataFrame(data)
    index = pd.Index(data.pop(dates[0]), name=dates[0])
    return pd.DataFrame(data, index=index)


def _pandas_values(column):
    """A polars Series' values as a numpy or pandas array of the same kind."""
    import polars as pl

    dtype = column.dtype
    if isinstance(dtype, pl.Enum):
        return pd.Categorical(column.cast(pl.String).to_numpy(), dtype.categories)
    if isinstance(dtype, pl.Categorical):
        return pd.Categorical(column.cast(pl.String).to_numpy())
    if column.null_count() and (dtype.is_integer() or dtype == pl.Boolean):
        mask = column.is_null().to_numpy()
        if dtype == pl.Boolean:
            return pd.arrays.BooleanArray(column.fill_null(False).to_numpy(), mask)
        return pd.arrays.IntegerArray(column.fill_null(0).to_numpy(), mask)
    return column.to_numpy()


def _polars_series(name, values):
    """Pandas values (a Series or Index) as a polars Series of the same kind."""
    import polars as pl

    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        return pl.Series(name, np.asarray(values))  # exact: the same bits
    objects = np.asarray(values, dtype=object)
    objects[np.asarray(pd.isna(values))] = None
    if isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
        dtype.categories
    ):
        return pl.Series(name, objects, dtype=pl.Enum(list(dtype.categories)))
    return pl.Series(name, objects)


def _to_polars(frame, panel, keep):
    """``frame`` as polars, its keys first; the columns at ``keep`` as given."""
    import polars as pl

    source = panel.polars
    columns = []
    if isinstance(frame.index, pd.MultiIndex):
        for level, default in zip(range(2), _KEY_NAMES, strict=True):
            name = frame.index.names[level]
            if source is not None:
                columns.append(source[name])  # the input's key column
            else:
                values = frame.index.get_level_values(level)
                columns.append(
                    _polars_series(default if name is None else str(name), values)
                )
    for j, name in enumerate(frame.columns):
        if j in keep and source is not None:
            columns.append(source[name])
        elif j in keep:
            columns.append(_polars_series(str(name), panel.frame.iloc[:, j]))
        else:
            columns.append(pl.Series(str(name), frame.iloc[:, j].to_numpy()))
    return pl.DataFrame(columns)


class PanelTransformerMixin(TransformerMixin):
    """``set_output`` for the per-date transformers, keeping the panel's keys.

    Subclasses return ``self._output(panel, values, roles)`` from ``transform``
    and ``fit_transform``; scikit-learn's automatic wrapping is switched off.
    """

    def __init_subclass__(cls, **kwargs):
        kwargs["auto_wrap_output_keys"] = None
        super().__init_subclass__(**kwargs)

    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            ``"default"``: the input's container (a panel keeps its index, a
            polars frame gives a polars frame);
            ``"pandas"``: a DataFrame; ``"polars"``: a polars DataFrame whose
            first two columns are a panel's (date, asset) keys; None: unchanged.

        Returns
        -------
        self : estimator instance
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(
                '`transform` must be "default", "pandas", "polars" or None; got '
                f"{transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _output(self, panel, values, roles=None, columns=None):
        """``values`` in the configured container, with the roles recorded.

        ``columns`` names the output's columns when they are not the input's
        (a transformer that makes new columns).
        """
        container = get_output_config("transform", self)["dense"]
        if container == "default" and panel.polars is not None:
            container = "polars"  # the input's container
        if panel.index is None and container == "default":
            return values
        keep = ()
        if columns is None and panel.columns is not None:
            columns = panel.columns
            # The passthrough columns as given (dtype, all digits), not as floats.
            keep = frozenset(roles.passthrough.tolist()) if roles is not None else ()
        elif columns is None:
            columns = pd.Index(self.get_feature_names_out(), dtype=object)
        index = panel.index if panel.index is not None else pd.RangeIndex(len(values))
        # ``values`` is a fresh array of ours: no copy (pandas 3 copies ndarrays).
        frame = pd.DataFrame(values, index=index, columns=columns, copy=False)
        if container == "polars":
            return _to_polars(frame, panel, keep)
        for j in sorted(keep):
            frame.isetitem(j, panel.frame.iloc[:, j])  # same index: no alignment
        if roles is not None:
            frame.attrs[ROLES_ATTR] = roles.attrs(type(self).__name__, list(columns))
        if panel.series and container == "default":
            return frame.iloc[:, 0]
        return frame
