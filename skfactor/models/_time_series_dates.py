r"""Fitting a :class:`TimeSeriesFactorModel` by blocks of dates, in two passes.

Each asset's OLS is a sum over dates, so blocks of whole dates (the date
partitions of a Dask frame) fit it without any block holding an asset's
every date. :meth:`~TimeSeriesFactorModel.plan_date_blocks` validates the
factor returns of every date and returns a :class:`DateBlockPlan`, whose
steps run where the blocks are:

1. ``plan.sums(Y, lo, hi)`` on each block (rows ``lo:hi`` of the factor
   returns): the per-asset cross-products ``partial_fit`` keeps
   (:func:`chunk_sums`), in the block's own units;
2. ``plan.combine(blocks)``: moved to the assets' units (powers of two:
   exactly), added, and every asset's regression solved;
3. ``plan.meat(Y, lo, hi, combined)`` on each block, with those final
   estimates: its residuals' squares, its share of the robust meat with the
   fit's own kernel (:func:`ols_meat`: HC0-HC3 are sums over dates, and a
   HAC lag within the block too), the first and last ``L`` scores of each
   asset for the lags that cross a block boundary, and, when the GRS test
   needs them, the sums over the dates on which every asset is observed.

:meth:`~TimeSeriesFactorModel.combine_date_blocks` then pairs the scores
across the boundaries along each asset's own observed dates (an asset's last
``L`` scores before a block may lie several blocks back), adds the shares
and sets the model through ``partial_fit``'s final step: the attributes of
``fit`` on all the dates, to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from skfactor.models._ols import MaskedOLS, hac_lags, ols_meat
from skfactor.models._time_series_sums import (
    GRS_MAX_ASSETS,
    AssetSums,
    CompleteDateSums,
    SumsState,
    chunk_sums,
    solve_sums,
    sym_products,
)
from skfactor.panel._validation import check_finite
from skfactor.utils._later_dates import last_date
from skfactor.utils._numerics import KERNELS, power_of_two_units

__all__ = ["DateBlockPlan"]


def _observed(Y, f_ok, units=None):
    """A block's returns asset by asset, in ``units``, 0 where not observed.

    ``Y`` (n_dates, n_assets) is read as ``Y.T`` (a view, contiguous when
    ``Y`` is in Fortran order, as ``skfactor.dask`` hands the partitions
    on). Returns ``(y, mask)``, both (n_assets, n_dates): the asset-major
    layout the sums and the meat kernel read, made once, with two
    temporaries (the NaN-free copy, divided in place, and its mask).
    """
    Yt = np.asarray(Y, dtype=np.float64).T
    mask = np.isnan(Yt, out=np.empty(Yt.shape, dtype=bool))  # C order, always
    np.logical_not(mask, out=mask)
    mask &= f_ok
    y = np.zeros(Yt.shape)
    np.copyto(y, Yt, where=mask)
    if units is None:
        units = power_of_two_units(Y)
    y /= units[:, None]  # a power of two: exact
    return y, mask, units


def _block_sums(Y, X, f_ok):
    """Per-asset sums of a block of dates, in the block's own units."""
    check_finite(Y, "y")
    y, mask, units = _observed(Y, f_ok)
    sums = chunk_sums(X, y.T, mask.T, robust=False)
    return units, sums, mask.all(axis=0)


def _combine(parts, intercept, bandwidth, n_factors):
    """Pass 1's sums in the assets' units, added, and what pass 2 needs."""
    units = reduce(np.fmax, [u for u, _, _ in parts])
    total = None
    for u, s, _ in parts:
        f = u / units  # a power of two: the sums move exactly
        s = AssetSums(s.nobs, s.yy * f * f, s.sy * f, s.xy * f[:, None], s.gram,
                      None, None, None)  # fmt: skip
        total = s if total is None else total + s
    p = total.xy.shape[1]
    fit = solve_sums(total, p)
    complete = np.concatenate([c for _, _, c in parts])
    T, N = int(complete.sum()), len(units)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total.sy / total.nobs
    return {
        "units": units,
        "sums": total,
        "complete": complete,
        "theta": np.nan_to_num(fit.params),
        "bread": fit.bread,
        "bad": fit.bad,
        "nobs": fit.nobs,
        "mean": np.nan_to_num(mean) if intercept else np.zeros(N),
        "nlags": hac_lags(fit.nobs, bandwidth),
        "grs": intercept and (N <= GRS_MAX_ASSETS or T > N + n_factors),
    }


def _edge_scores(X, resid, mask, L):
    """Each asset's first and last ``L`` scores ``x_t u_t`` on its dates, and count.

    (n_assets, L, p) each: the first left-aligned, the last right-aligned,
    zeros where the asset has fewer than ``L`` dates.
    """
    n_assets, n = mask.shape
    count = mask.sum(axis=1)
    order = np.argsort(~mask, axis=1, kind="stable")  # its dates first, in order
    rows = np.arange(n_assets)[:, None]
    j = np.arange(L)

    def scores(at, valid):
        at = np.clip(at, 0, n - 1)
        pos = order[rows, at]
        u = np.where(valid, resid[rows, pos], 0.0)
        return X[pos] * u[..., None]

    first = scores(j[None, :] + 0 * rows, j[None, :] < count[:, None])
    at = count[:, None] - L + j
    return first, scores(at, at >= 0), count


def _block_meat(Y, X, f_ok, F, info, cov_type, kernel, factor_units):
    """Residual sums, the meat's share and the edge scores of a block of dates.

    Asset by asset (rows), as the meat kernel reads them: the residuals are
    written into a new array once, the deviations into the returns' copy.
    """
    n = len(X)
    y, mask, _ = _observed(Y, f_ok, info["units"])
    resid = info["theta"] @ np.ascontiguousarray(X.T)  # fitted values (N, n)
    np.subtract(y, resid, out=resid)
    resid *= mask
    ssr = np.einsum("ij,ij->i", resid, resid)
    y -= info["mean"][:, None]  # the deviations from each asset's mean
    y *= mask
    out = {
        "ssr": ssr,
        "tss": np.einsum("ij,ij->i", y, y),
        "meat": None,
        "edges": None,
        "grs": None,
    }
    del y
    if cov_type != "nonrobust" and n:
        fit = MaskedOLS(info["theta"], info["bread"], resid, mask, mask.sum(axis=1),
                        out["ssr"], None, None, info["bad"])  # fmt: skip
        # HC1 is HC0 scaled by each asset's n / (n - p) over all its dates.
        kind = "HC0" if cov_type == "HC1" else cov_type
        out["meat"] = ols_meat(X, fit, kind, info["nlags"], kernel)
        L = int(info["nlags"].max(initial=0))
        if cov_type == "kernel" and L:
            out["edges"] = _edge_scores(X, resid, mask, L)
    complete = mask.all(axis=0)
    if info["grs"] and complete.any():
        Y = np.asarray(Y, dtype=np.float64)
        Z = np.column_stack([F[complete] / factor_units, Y[complete] / info["units"]])
        out["grs"] = CompleteDateSums.empty(Z.mean(axis=0)).add(Z)
    return out


def _boundary_lags(edges, nlags, weight, meat):
    """Add to ``meat`` the lag terms whose two dates lie in different blocks.

    ``edges`` per block in date order (None: no date). A block's first
    scores pair with the last ``L`` scores of each asset before it, which
    are carried from block to block (from several blocks back when an
    asset has fewer than ``L`` dates in the blocks between).
    """
    tail = None
    for edge in edges:
        if edge is None:
            continue
        first, last, count = edge
        L = first.shape[1]
        if tail is None:
            tail = np.zeros_like(last)
        firsts = first.transpose(0, 2, 1)  # (n_assets, p, L): a batched matmul
        for lag in range(1, L + 1):  # pairs (k, k - lag), k < lag in this block
            g = firsts[:, :, :lag] @ tail[:, L - lag :]
            g *= weight(lag, nlags)[:, None, None]
            meat += g + g.transpose(0, 2, 1)
        # The last L scores up to this block: its own, or the carried ones
        # followed by its few.
        both = np.concatenate([tail, first], axis=1)
        at = np.minimum(count, L)[:, None] + np.arange(L)
        carried = np.take_along_axis(both, at[:, :, None], axis=1)
        tail = np.where((count >= L)[:, None, None], last, carried)
    return meat


@dataclass(frozen=True)
class DateBlockPlan:
    """What every block of dates shares: the standardized design and settings.

    Made by :meth:`TimeSeriesFactorModel.plan_date_blocks`; its methods are
    the steps of the module's two passes (``Y`` a block's returns, the rows
    ``lo:hi`` of the factor returns, every asset in the model's order).
    """

    X: np.ndarray
    A: np.ndarray
    f_ok: np.ndarray
    F: np.ndarray
    settings: tuple
    bandwidth: float | None
    kernel: str
    factor_units: np.ndarray
    dates: object

    def sums(self, Y, lo, hi):
        """Pass 1 on a block: its per-asset sums, in its own units."""
        return _block_sums(Y, self.X[lo:hi], self.f_ok[lo:hi])

    def combine(self, blocks):
        """Pass 1's sums of every block (in date order) added and solved."""
        cov_type, intercept = self.settings
        return _combine(blocks, intercept, self.bandwidth, self.F.shape[1])

    def meat(self, Y, lo, hi, combined):
        """Pass 2 on a block: its residual sums and share of the meat."""
        return _block_meat(Y, self.X[lo:hi], self.f_ok[lo:hi], self.F[lo:hi],
                           combined, self.settings[0], self.kernel,
                           self.factor_units)  # fmt: skip

    def state(self, combined, blocks):
        """The summed state and the meat and residual sums of ``blocks``."""
        cov_type, intercept = self.settings
        p = self.X.shape[1]
        n_assets = len(combined["units"])
        ssr = sum(b["ssr"] for b in blocks)
        tss = sum(b["tss"] for b in blocks)
        meat = None
        if cov_type != "nonrobust":
            meat = sum((b["meat"] for b in blocks if b["meat"] is not None),
                       np.zeros((n_assets, p, p)))  # fmt: skip
            nobs = combined["nobs"]
            if cov_type == "HC1":  # HC0's, times each asset's n / (n - p)
                with np.errstate(invalid="ignore", divide="ignore"):
                    meat *= (nobs / (nobs - p))[:, None, None]
            if cov_type == "kernel":
                weight = KERNELS[self.kernel][0]
                edges = [b["edges"] for b in blocks]
                meat = _boundary_lags(edges, combined["nlags"], weight, meat)
        grs = None
        if combined["grs"]:
            shares = [b["grs"] for b in blocks if b["grs"] is not None]
            shift = shares[0].shift if shares else np.zeros(self.F.shape[1] + n_assets)
            grs = reduce(CompleteDateSums.merge, shares, CompleteDateSums.empty(shift))
        state = SumsState(
            self.settings,
            last_date(self.dates),
            False,
            self.A,
            combined["units"],
            self.factor_units,
            combined["sums"],
            int(self.f_ok.sum()),
            sym_products(self.X, 2).sum(axis=0),
            int(combined["complete"].sum()),
            grs,
        )
        return state, meat, (ssr, tss)
