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

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from skfactor.models._rolling_ols import RollingOLS

__all__ = ["RollingHistory", "RollingState"]

# The RollingOLS arrays grown along the dates.
_BUFFERS = ("params", "rsquared", "resid_vol", "nobs", "s2", "inv_shared")


def _code_dtype(n_labels):
    """The integer type pandas keeps a MultiIndex level's codes in."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_labels < np.iinfo(dtype).max:
            return dtype
    return np.int64


@dataclass
class RollingHistory:
    """Every fitted window's results: rows ``:n`` of buffers of ``capacity`` dates.

    ``res`` a :class:`RollingOLS` whose arrays are the buffers (its
    ``inv_own`` with the dates counted from the first fitted one; its units
    those of the first fit, unused: the state holds the current ones);
    ``codes`` the (date, asset) MultiIndex's codes for ``capacity`` dates.
    """

    n: int
    res: RollingOLS
    codes: list | None = None

    @classmethod
    def start(cls, res):
        """The history of one fit, ``res`` (its arrays, not copies)."""
        return cls(len(res.params), res)

    def append(self, res, n_assets):
        """Add the windows of ``res``, the dates after row ``n`` (``n_assets`` now)."""
        m, capacity = len(res.params), len(self.res.params)
        if self.res.params.shape[1] != n_assets:  # a listing: a column everywhere
            self._reshape(max(self.n + m, capacity), n_assets)
        elif self.n + m > capacity:  # full: double the capacity
            self._reshape(max(self.n + m, 2 * capacity), n_assets)
        rows = slice(self.n, self.n + m)
        for name in _BUFFERS:
            if getattr(self.res, name) is not None:
                getattr(self.res, name)[rows] = getattr(res, name)
        self.res.inv_own.extend((self.n + t, c, v) for t, c, v in res.inv_own)
        self.n += m

    def _reshape(self, capacity, n_assets):
        """Move the filled rows to buffers of ``capacity`` dates and ``n_assets``."""
        n, old = self.n, self.res.params.shape[1]
        for name in _BUFFERS:
            values = getattr(self.res, name)
            if values is None:
                continue
            if name == "inv_shared":  # by date only
                grown = np.empty((capacity, values.shape[1]))
                grown[:n] = values[:n]
            else:
                grown = np.empty((capacity, n_assets, *values.shape[2:]), values.dtype)
                grown[:n, :old] = values[:n]
                grown[:n, old:] = 0 if name == "nobs" else np.nan  # a listing's past
            setattr(self.res, name, grown)
        self.codes = None

    def flat(self, name):
        """``name``'s filled rows, one per (date, asset): a view, no copy."""
        values = getattr(self.res, name)[: self.n]
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
        n_cap = len(self.res.params)
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
        s2 = self.res.s2
        return {
            "s2": None if s2 is None else s2[: self.n],
            "inv_shared": self.res.inv_shared[: self.n],
            "inv_own": self.res.inv_own,
            "r_unit": r_unit,
            "per_term": per_term,
        }

    def __getstate__(self):
        """Pickled without the unfilled capacity (nor the codes, rebuilt)."""
        trimmed = {
            name: None
            if getattr(self.res, name) is None
            else getattr(self.res, name)[: self.n]
            for name in _BUFFERS
        }
        return {"n": self.n, "res": replace(self.res, **trimmed), "codes": None}

    def __setstate__(self, state):
        """Unpickled with room for a quarter more dates.

        A daily job that loads, updates and saves the model copies its
        history on loading (as reading it does), never on updating.
        """
        self.__dict__.update(state)
        n_assets = self.res.params.shape[1]
        self._reshape(self.n + max(self.n // 4, 16), n_assets)


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
