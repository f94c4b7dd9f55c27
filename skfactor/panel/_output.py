"""Output containers of the per-date transformers, and polars panels in and out.

scikit-learn's ``set_output`` wraps a transformer's result after the fact, from
its feature names: a polars frame made that way has no (date, asset) keys, so
the next per-date step would read the whole panel as one cross-section. The
per-date transformers therefore make their own containers:

- ``"default"`` (and no ``set_output`` call): the input's container — a panel
  in, a panel out, on the input's index; an array in, an array out.
- ``"pandas"``: a DataFrame (arrays get a RangeIndex).
- ``"polars"``: a polars DataFrame; a panel's keys come first, as columns
  named after the index levels (``date`` and ``asset`` when unnamed), so
  that the next step, given that frame, works per date again.
"""

from __future__ import annotations

from dataclasses import replace

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


def from_polars(X):
    """A polars frame as pandas: a long panel when it has date and asset columns.

    The key columns are recognised by name (``date``, ``asset`` and their
    usual synonyms, one of each); without them the frame is one cross-section.
    """
    data = {c: X[c].to_numpy() for c in X.columns}
    keys = key_columns(list(X.columns))
    if keys is None:
        return pd.DataFrame(data)
    index = pd.MultiIndex.from_arrays([data.pop(k) for k in keys], names=keys)
    return pd.DataFrame(data, index=index)


def _to_polars(frame):
    import polars as pl

    columns = {}
    if isinstance(frame.index, pd.MultiIndex):
        for level, default in zip(range(2), _KEY_NAMES, strict=True):
            name = frame.index.names[level]
            columns[default if name is None else str(name)] = (
                frame.index.get_level_values(level).to_numpy()
            )
    for name in frame.columns:
        columns[str(name)] = frame[name].to_numpy()
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
            ``"default"``: the input's container (a panel keeps its index);
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
        if panel.index is None and container == "default":
            return values
        if columns is None and panel.columns is not None:
            columns = panel.columns
        elif columns is None:
            columns = pd.Index(self.get_feature_names_out(), dtype=object)
        else:
            panel = replace(panel, labels=None)  # no input column to put back
        index = panel.index if panel.index is not None else pd.RangeIndex(len(values))
        # ``values`` is a fresh array of ours: no copy (pandas 3 copies ndarrays).
        frame = pd.DataFrame(values, index=index, columns=columns, copy=False)
        for j, original in (panel.labels or {}).items():
            frame[columns[j]] = original.to_numpy()  # labels, not their codes
        if roles is not None:
            frame.attrs[ROLES_ATTR] = roles.attrs(type(self).__name__, list(columns))
        if container == "polars":
            return _to_polars(frame)
        if panel.series and container == "default":
            return frame.iloc[:, 0]
        return frame
