"""What a RollingFactorModel keeps between ``partial_fit`` calls.

Two parts. The inputs the next windows need: the last ``window - 1`` fitted
dates of the factor and asset returns (fixed in size), with the units the
fit ran in. And the per-window history (every window's estimates, R²,
residual volatility, observation count and the moments of the standard
errors) in :class:`~skfactor.utils._growing.GrowingArray` buffers, so that
appending a date writes its rows and copies nothing already there (but on
the rare doubling, and when a listing adds an asset: the (date, asset)
layout then gains a column on every date). The model's public window
attributes are views of the filled part; so is the MultiIndex's codes. An
update gives a new state (a model's shallow copy may hold the old one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skfactor.utils._growing import GrowingArray

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
    """Every fitted window's results, by date, in :class:`GrowingArray` buffers.

    ``rows`` the :class:`RollingOLS` arrays of ``_BUFFERS`` (no ``s2``
    without weights); ``inv_own`` its list, the dates counted from the first
    fitted one; ``codes`` the (date, asset) MultiIndex's codes for the
    buffers' capacity (a cache, not pickled).
    """

    rows: dict
    inv_own: list
    codes: list | None = None

    @classmethod
    def start(cls, res):
        """The history of one fit, ``res`` (its arrays, not copies)."""
        names = [name for name in _BUFFERS if getattr(res, name) is not None]
        return cls(
            {name: GrowingArray(getattr(res, name)) for name in names}, res.inv_own
        )

    def __len__(self) -> int:
        return len(self.rows["params"])

    def append(self, res):
        """A new history: this one and the windows of ``res``, the next dates.

        ``res`` may have more assets (listings), after the fitted ones: their
        earlier windows have no estimate (NaN, no observation).
        """
        n = len(self)
        rows = {
            name: kept.append(getattr(res, name), fill=0 if name == "nobs" else np.nan)
            for name, kept in self.rows.items()
        }
        inv_own = self.inv_own + [(n + t, c, v) for t, c, v in res.inv_own]
        return RollingHistory(rows, inv_own, self.codes)

    def flat(self, name):
        """``name``'s filled rows, one per (date, asset): a view, no copy."""
        values = self.rows[name].values
        return values.reshape(-1, *values.shape[2:])

    def index(self, dates, assets):
        """The (date, asset) MultiIndex of the filled rows.

        That of ``MultiIndex.from_product([dates, assets])`` (levels sorted),
        built on codes kept for the whole capacity: they are rebuilt only
        when the buffers are, or the levels outgrow the codes' integer type.
        """
        n, n_assets = len(self), len(assets)
        date_codes, date_levels = pd.factorize(dates, sort=True)
        asset_codes, asset_levels = pd.factorize(assets, sort=True)
        d, a = _code_dtype(len(date_levels)), _code_dtype(len(asset_levels))
        n_cap = self.rows["params"].capacity
        if (
            self.codes is None
            or len(self.codes[0]) != n_cap * n_assets
            or (self.codes[0].dtype, self.codes[1].dtype) != (d, a)
            or not np.array_equal(self.codes[0][: n * n_assets : n_assets], date_codes)
        ):  # the dates' codes, then those of the dates to come
            top = date_codes.max(initial=-1) + 1
            per_date = np.r_[date_codes, np.arange(top, top + n_cap - n)]
            self.codes = [
                np.repeat(per_date.astype(d), n_assets),
                np.tile(asset_codes.astype(a), n_cap),
            ]
        return pd.MultiIndex(
            levels=[date_levels, asset_levels],
            codes=[c[: n * n_assets] for c in self.codes],
            names=[dates.name or "date", assets.name or "asset"],
            verify_integrity=False,
        )

    def moments(self, units):
        """The moments of :func:`window_bse`, views of the filled rows."""
        r_unit, per_term = units
        s2 = self.rows.get("s2")
        return {
            "s2": None if s2 is None else s2.values,
            "inv_shared": self.rows["inv_shared"].values,
            "inv_own": self.inv_own,
            "r_unit": r_unit,
            "per_term": per_term,
        }

    def __getstate__(self):
        """Pickled without the codes (rebuilt); the buffers without their slack."""
        return {**vars(self), "codes": None}


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
