"""What a RollingFactorModel keeps between ``partial_fit`` calls.

Two parts. The inputs the next windows need: the last ``window - 1`` fitted
dates of the factor and asset returns (fixed in size), with the units the
fit ran in. And the per-window history (every window's estimates, R²,
residual volatility, observation count and the moments of the standard
errors) in buffers whose capacity doubles when full, so that appending a
date writes its rows and copies nothing already there (but on the rare
doubling, and when a listing adds an asset: the (date, asset) layout then
gains a column on every date). The model's public window attributes are
views of the filled part; so is the MultiIndex's codes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

__all__ = ["RollingHistory", "RollingState"]

# The window results by date and asset (and term), grown along the dates.
_WINDOWS = ("params", "rsquared", "resid_vol", "nobs", "s2")


def _code_dtype(n_labels):
    """The integer type pandas keeps a MultiIndex level's codes in."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_labels < np.iinfo(dtype).max:
            return dtype
    return np.int64


@dataclass
class RollingHistory:
    """Every fitted window's results: rows ``:n`` of buffers of ``capacity`` dates.

    ``params`` (capacity, n_assets, n_terms), ``rsquared``, ``resid_vol``,
    ``nobs``, ``s2`` (None without weights) (capacity, n_assets) and
    ``inv_shared`` (capacity, n_terms) as :class:`RollingOLS`'s fields;
    ``inv_own`` its list, with the dates counted from the first fitted one;
    ``codes`` the (date, asset) MultiIndex's codes for ``capacity`` dates.
    """

    n: int
    params: np.ndarray
    rsquared: np.ndarray
    resid_vol: np.ndarray
    nobs: np.ndarray
    s2: np.ndarray | None
    inv_shared: np.ndarray
    inv_own: list
    codes: list | None = None

    @classmethod
    def start(cls, res):
        """The history of one fit, ``res`` (its arrays, not copies)."""
        kept = {name: getattr(res, name) for name in (*_WINDOWS, "inv_shared")}
        return cls(len(res.params), inv_own=list(res.inv_own), **kept)

    def append(self, res, n_assets):
        """Add the windows of ``res``, the dates after row ``n`` (``n_assets`` now)."""
        m = len(res.params)
        if self.params.shape[1] != n_assets:  # a listing: a column on every date
            self._reshape(max(self.n + m, len(self.params)), n_assets)
        elif self.n + m > len(self.params):  # full: double the capacity
            self._reshape(max(self.n + m, 2 * len(self.params)), n_assets)
        rows = slice(self.n, self.n + m)
        for name in (*_WINDOWS, "inv_shared"):
            if getattr(self, name) is not None:
                getattr(self, name)[rows] = getattr(res, name)
        self.inv_own.extend((self.n + t, c, v) for t, c, v in res.inv_own)
        self.n += m

    def _reshape(self, capacity, n_assets):
        """Move the filled rows to buffers of ``capacity`` dates and ``n_assets``."""
        n, old = self.n, self.params.shape[1]
        for name in _WINDOWS:
            values = getattr(self, name)
            if values is None:
                continue
            empty = 0 if name == "nobs" else np.nan  # a listing's earlier windows
            grown = np.empty((capacity, n_assets, *values.shape[2:]), values.dtype)
            grown[:n, :old] = values[:n]
            grown[:n, old:] = empty
            setattr(self, name, grown)
        inv = np.empty((capacity, self.inv_shared.shape[1]))
        inv[:n] = self.inv_shared[:n]
        self.inv_shared = inv
        self.codes = None

    def flat(self, name):
        """``name``'s filled rows, one per (date, asset): a view, no copy."""
        values = getattr(self, name)[: self.n]
        return values.reshape(-1, *values.shape[2:])

    def index(self, dates, assets):
        """The (date, asset) MultiIndex of the filled rows.

        That of ``MultiIndex.from_product([dates, assets])`` (levels sorted),
        built on codes kept for the whole capacity: they are rebuilt only
        when the buffers are, or the levels outgrow the codes' integer type.
        """
        n_rows, n_assets = self.n * len(assets), len(assets)
        date_codes, date_levels = pd.factorize(dates, sort=True)
        asset_codes, asset_levels = pd.factorize(assets, sort=True)
        d, a = _code_dtype(len(date_levels)), _code_dtype(len(asset_levels))
        n_cap = len(self.params)
        if (
            self.codes is None
            or len(self.codes[0]) != n_cap * n_assets
            or (self.codes[0].dtype, self.codes[1].dtype) != (d, a)
            or not np.array_equal(self.codes[0][:n_rows:n_assets], date_codes)
        ):  # the dates' codes, then those of the dates to come
            top = date_codes.max(initial=-1) + 1
            per_date = np.r_[date_codes, np.arange(top, top + n_cap - self.n)]
            self.codes = [
                np.repeat(per_date.astype(d), n_assets),
                np.tile(asset_codes.astype(a), n_cap),
            ]
        return pd.MultiIndex(
            levels=[date_levels, asset_levels],
            codes=[c[:n_rows] for c in self.codes],
            names=[dates.name or "date", assets.name or "asset"],
            verify_integrity=False,
        )

    def moments(self, units):
        """The moments of :func:`window_bse`, views of the filled rows."""
        r_unit, per_term = units
        return {
            "s2": None if self.s2 is None else self.s2[: self.n],
            "inv_shared": self.inv_shared[: self.n],
            "inv_own": self.inv_own,
            "r_unit": r_unit,
            "per_term": per_term,
        }

    def __getstate__(self):
        """Pickled without the unfilled capacity (nor the codes, rebuilt)."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (*_WINDOWS, "inv_shared"):
            if state[name] is not None:
                state[name] = state[name][: self.n]
        state["codes"] = None
        return state

    def __setstate__(self, state):
        """Unpickled with room for a quarter more dates.

        A daily job that loads, updates and saves the model copies its
        history on loading (as reading it does), never on updating.
        """
        self.__dict__.update(state)
        self._reshape(self.n + max(self.n // 4, 16), self.params.shape[1])


@dataclass
class RollingState:
    """``partial_fit``'s state: the settings, the inputs' tail, the units, the history.

    ``F`` and ``R`` the last ``window - 1`` fitted dates' factor and asset
    returns (all the dates while fewer); ``f_unit``, ``r_unit`` the powers of
    two the fit divided them by; ``estimated`` whether any window so far
    has an estimate.
    """

    settings: tuple
    F: np.ndarray
    R: np.ndarray
    f_unit: np.ndarray
    r_unit: np.ndarray
    history: RollingHistory
    estimated: bool
