r"""The sums over dates behind a :class:`TimeSeriesFactorModel`, for ``partial_fit``.

Each asset's OLS on the factor returns, and its ``HC0``/``HC1`` covariance,
depend on the data only through per-asset sums over its dates: the Gram
matrix :math:`\sum x_t x_t^\top`, :math:`\sum x_t y_t`, :math:`\sum y_t^2`
and, for the robust meat :math:`\sum u_t^2 x_t x_t^\top` with the *final*
residuals :math:`u_t = y_t - x_t^\top\beta`, the sums of
:math:`y_t^2 x_t x_t^\top`, :math:`y_t\, x_t \otimes x_t \otimes x_t` and
:math:`x_t \otimes x_t \otimes x_t \otimes x_t`. They are kept in the design
standardized once (on the first fit's dates) and each asset's returns in
units of a power of two (exact), with each symmetric tensor reduced to its
distinct entries. :class:`AssetSums` holds them, :func:`chunk_sums` sums a
block of dates and :func:`solve_sums` gives the regressions they imply.

The GRS test needs the covariance of every asset's returns over the dates on
which all of them are observed: :class:`CompleteDateSums` keeps the sums of
``[F, R]`` on those dates (a square of the number of assets), for at most
:data:`GRS_MAX_ASSETS` assets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np

from skfactor.models._ols import MaskedOLS, collinear
from skfactor.utils._later_dates import last_date
from skfactor.utils._numerics import power_of_two_units

__all__ = [
    "GRS_MAX_ASSETS",
    "SUMMED_COV_TYPES",
    "AssetSums",
    "CompleteDateSums",
    "RowsState",
    "SumsState",
    "advance_state",
    "chunk_sums",
    "hc0_meat",
    "solve_sums",
    "start_state",
    "sym_products",
]

# The GRS sums are an (N + K)^2 matrix, and their first fit costs N^2 T:
# kept for at most this many assets (a test of portfolios, not of stocks).
GRS_MAX_ASSETS = 500


@lru_cache
def _sym_index(p, order):
    """The distinct index tuples of a symmetric ``order``-tensor and the full map."""
    combos = np.array(list(combinations_with_replacement(range(p), order)))
    position = {tuple(c): i for i, c in enumerate(combos.tolist())}
    full = np.empty((p,) * order, dtype=np.intp)
    for idx in np.ndindex(*full.shape):
        full[idx] = position[tuple(sorted(idx))]
    return combos.reshape(-1, order), full


def sym_products(X, order):
    """Each row's distinct products of ``order`` regressors: (n_rows, n_distinct)."""
    combos, _ = _sym_index(X.shape[1], order)
    out = X[:, combos[:, 0]].copy()
    for j in range(1, order):
        out *= X[:, combos[:, j]]
    return out


def _full(reduced, p, order):
    """The symmetric tensors of ``reduced`` (..., n_distinct): (..., p, ..., p)."""
    return reduced[..., _sym_index(p, order)[1]]


@dataclass(frozen=True)
class AssetSums:
    """Per-asset sums over the asset's dates (assets in rows); see the module."""

    nobs: np.ndarray
    yy: np.ndarray
    sy: np.ndarray
    xy: np.ndarray
    gram: np.ndarray
    q2: np.ndarray | None
    q3: np.ndarray | None
    q4: np.ndarray | None

    def __add__(self, other):
        return AssetSums(
            *(
                None if a is None else a + b
                for a, b in zip(self._fields(), other._fields(), strict=True)
            )
        )

    def _fields(self):
        return (
            self.nobs,
            self.yy,
            self.sy,
            self.xy,
            self.gram,
            self.q2,
            self.q3,
            self.q4,
        )

    def with_assets(self, n_new):
        """The sums with ``n_new`` assets (no dates yet) appended."""
        return AssetSums(
            *(
                None
                if a is None
                else np.concatenate([a, np.zeros((n_new, *a.shape[1:]))])
                for a in self._fields()
            )
        )


def chunk_sums(X, Y, mask, robust):
    """:class:`AssetSums` of the dates of a block.

    ``X`` (n_dates, p) is the standardized design (0 on dates without every
    factor), ``Y`` (n_dates, n_assets) the returns in their units with 0 off
    ``mask``, the dates each asset is observed with every factor.
    """
    m = mask.T.astype(np.float64)  # (n_assets, n_dates)
    Yt = np.ascontiguousarray(Y.T)
    Z2 = sym_products(X, 2)
    q2 = q3 = q4 = None
    if robust:
        q2 = (Yt * Yt) @ Z2
        q3 = Yt @ sym_products(X, 3)
        q4 = m @ sym_products(X, 4)
    return AssetSums(
        m.sum(axis=1),
        np.einsum("ij,ij->i", Yt, Yt),
        Yt.sum(axis=1),
        Yt @ X,
        m @ Z2,
        q2,
        q3,
        q4,
    )


def solve_sums(sums, p):
    r"""The regressions of :class:`AssetSums` as a :class:`MaskedOLS` (no residuals).

    The residual sum of squares is :math:`y'y - \hat\theta' X'y`, its
    one-pass form (the fit sums the residuals themselves); the same to
    rounding when the fit explains less than nearly all of the variance.
    """
    n_assets = len(sums.nobs)
    gram = _full(sums.gram, p, 2)
    bad = sums.nobs <= p
    bad |= collinear(np.where(bad[:, None, None], np.eye(p), gram))
    gram[bad] = np.eye(p)
    bread = np.linalg.inv(gram)
    params = (bread @ sums.xy[:, :, None])[:, :, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ssr = sums.yy - np.einsum("ij,ij->i", params, sums.xy)
        tss_centered = sums.yy - sums.sy * sums.sy / sums.nobs
    fit = MaskedOLS(
        params,
        bread,
        None,
        np.zeros((n_assets, 0), dtype=bool),
        sums.nobs.astype(np.int64),
        ssr,
        tss_centered,
        sums.yy.copy(),
        bad,
    )
    for a in (fit.params, fit.bread, fit.ssr, fit.tss_centered, fit.tss_uncentered):
        a[bad] = np.nan
    return fit


def hc0_meat(sums, fit, p, cov_type):
    r"""``X' diag(u^2) X`` with the final residuals (HC0), or HC1's, from the sums.

    :math:`\sum u_t^2 x x^\top = Q_2 - 2 Q_3 \beta + \beta' Q_4 \beta` with
    :math:`Q_2 = \sum y^2 x x^\top`, :math:`Q_3 = \sum y\, x \otimes x \otimes
    x`, :math:`Q_4 = \sum x^{\otimes 4}`.
    """
    beta = np.nan_to_num(fit.params)
    q3 = np.einsum("nabc,nc->nab", _full(sums.q3, p, 3), beta)
    q4 = np.einsum("nabcd,nc,nd->nab", _full(sums.q4, p, 4), beta, beta)
    meat = _full(sums.q2, p, 2) - 2.0 * q3 + q4
    if cov_type == "HC1":
        with np.errstate(invalid="ignore", divide="ignore"):
            meat *= (fit.nobs / (fit.nobs - p))[:, None, None]
    return meat


@dataclass(frozen=True)
class CompleteDateSums:
    r"""Sums of ``Z = [F, R]`` over the dates on which every asset is observed.

    ``shift`` (fixed at the first fit) keeps the one-pass moments exact;
    ``total`` :math:`= \sum (z - s)`, ``cross`` :math:`= \sum (z - s)(z -
    s)^\top`, ``n`` the dates.
    """

    shift: np.ndarray
    n: int
    total: np.ndarray
    cross: np.ndarray

    @classmethod
    def empty(cls, shift):
        k = len(shift)
        return cls(shift, 0, np.zeros(k), np.zeros((k, k)))

    def add(self, Z):
        D = Z - self.shift
        return replace(
            self,
            n=self.n + len(Z),
            total=self.total + D.sum(axis=0),
            cross=self.cross + D.T @ D,
        )

    def merge(self, other):
        r"""The sums of both sets of dates, about this one's ``shift``.

        Each set may have its own shift (e.g. blocks of dates summed apart):
        ``other``'s sums are moved to this one's, as
        :math:`\sum (z - s) = \sum (z - s_o) + n_o d` and the cross-products
        gain :math:`t_o d^\top + d\, t_o^\top + n_o d d^\top`, with
        :math:`d = s_o - s`.
        """
        d = other.shift - self.shift
        td = np.outer(other.total, d)
        cross = other.cross + td + td.T + other.n * np.outer(d, d)
        return replace(
            self,
            n=self.n + other.n,
            total=self.total + other.total + other.n * d,
            cross=self.cross + cross,
        )

    def moments(self, n_factors):
        """The GRS test's pieces: intercepts, residual and factor covariances, mean."""
        T, k = self.n, n_factors
        mean = self.total / T
        cov = self.cross - T * np.outer(mean, mean)  # centred cross-products
        mean = mean + self.shift
        ff, fr, rr = cov[:k, :k], cov[:k, k:], cov[k:, k:]
        beta = np.linalg.solve(ff, fr)
        alpha = mean[k:] - mean[:k] @ beta
        return alpha, (rr - fr.T @ beta) / T, mean[:k], ff / T


# The covariances whose partial_fit keeps sums; the others keep the rows.
SUMMED_COV_TYPES = ("nonrobust", "HC0", "HC1")


@dataclass(frozen=True)
class RowsState:
    """``partial_fit``'s state of HC2, HC3 and HAC: the rows themselves."""

    settings: tuple
    last_date: object
    F: np.ndarray
    R: np.ndarray
    dates: object
    single: bool


@dataclass(frozen=True)
class SumsState:
    """``partial_fit``'s state of the summed covariances (fixed in size).

    ``A`` maps the standardized design back (fixed at the first fit),
    ``units`` each asset's power of two, ``design`` the distinct entries of
    the design's Gram over the ``n_dates`` dates with every factor,
    ``complete`` the dates on which every asset is observed and ``grs``
    their sums (None beyond :data:`GRS_MAX_ASSETS` assets or without an
    intercept), ``factor_units`` the factors' powers of two for it.
    """

    settings: tuple
    last_date: object
    single: bool
    A: np.ndarray
    units: np.ndarray
    factor_units: np.ndarray
    sums: AssetSums
    n_dates: int
    design: np.ndarray
    complete: int
    grs: CompleteDateSums | None

    def design_gram(self):
        """The Gram matrix of the design over the dates with every factor."""
        return _full(self.design, self.A.shape[0], 2)


def _grs_rows(F, R, factor_units, units, complete):
    """``[F, R]`` in their units on the dates where every asset is observed."""
    return np.column_stack([F[complete] / factor_units, R[complete] / units])


def start_state(wide, X, A, fit, units, settings):
    """The state of a fit: ``X`` its standardized design, ``fit`` its OLS.

    The ``nonrobust`` sums are those the fit went through (``fit.sums``): no
    extra work. The robust ones are summed here, over every date.
    """
    cov_type, intercept = settings
    m = fit.mask.T
    if cov_type == "nonrobust":
        p = X.shape[1]
        combos, _ = _sym_index(p, 2)
        s = fit.sums
        gram = s["gram"][:, combos[:, 0], combos[:, 1]]
        sums = AssetSums(
            fit.nobs.astype(np.float64),
            s["yy"],
            s["ysum"],
            s["xty"],
            gram,
            None,
            None,
            None,
        )
    else:
        with np.errstate(invalid="ignore"):
            Y = np.where(m, wide.R / units, 0.0)
        sums = chunk_sums(X, Y, m, robust=True)
    complete = m.all(axis=1)
    factor_units = power_of_two_units(wide.F)
    grs = None
    if intercept and wide.R.shape[1] <= GRS_MAX_ASSETS:
        Z = _grs_rows(wide.F, wide.R, factor_units, units, complete)
        shift = Z.mean(axis=0) if len(Z) else np.zeros(Z.shape[1])
        grs = CompleteDateSums.empty(shift).add(Z)
    return SumsState(
        settings,
        last_date(wide.dates),
        wide.single,
        A,
        units,
        factor_units,
        sums,
        int((~np.isnan(wide.F).any(axis=1)).sum()),
        sym_products(X, 2).sum(axis=0),
        int(complete.sum()),
        grs,
    )


def advance_state(state, wide, R, assets, intercept):
    """The state with the new dates (factor returns ``wide.F``, returns ``R``) added.

    ``R`` has a column per asset of ``assets``: the fitted ones, then the
    new ones.
    """
    n_new = len(assets) - len(state.units)
    units = np.r_[state.units, power_of_two_units(R[:, len(state.units) :])]
    sums = state.sums.with_assets(n_new) if n_new else state.sums
    f_ok = ~np.isnan(wide.F).any(axis=1)
    design = np.column_stack([np.ones(len(f_ok)), wide.F]) if intercept else wide.F
    X = np.where(f_ok[:, None], np.nan_to_num(design) @ state.A, 0.0)
    m = ~np.isnan(R) & f_ok[:, None]
    with np.errstate(invalid="ignore"):
        Y = np.where(m, R / units, 0.0)
    sums = sums + chunk_sums(X, Y, m, state.settings[0] != "nonrobust")
    complete = m.all(axis=1)
    grs, n_complete = state.grs, state.complete
    if n_new:  # a new asset has no return on the fitted dates: none is complete
        grs, n_complete = None, 0
        if intercept and len(assets) <= GRS_MAX_ASSETS:
            Z = _grs_rows(wide.F, R, state.factor_units, units, complete)
            shift = Z.mean(axis=0) if len(Z) else np.zeros(Z.shape[1])
            grs = CompleteDateSums.empty(shift)
    if grs is not None:
        grs = grs.add(_grs_rows(wide.F, R, state.factor_units, units, complete))
    return replace(
        state,
        last_date=last_date(wide.dates) or state.last_date,
        units=units,
        sums=sums,
        n_dates=state.n_dates + int(f_ok.sum()),
        design=state.design + sym_products(X, 2).sum(axis=0),
        complete=n_complete + int(complete.sum()),
        grs=grs,
    )
