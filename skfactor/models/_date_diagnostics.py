r"""Per-date regression diagnostics from the moments, as statsmodels ``OLS``/``WLS``.

Everything comes from each date's weighted cross-products (the
:class:`~skfactor.panel._regression.Moments` that ``segment_regression``
returns) and the fitted coefficients: batched matrix algebra over dates, no
loop over them and no second pass over the panel.

With the centred Gram matrix :math:`A` of the loadings, the weighted means
:math:`\bar x` and the total weight :math:`W` of a date (an intercept), the
residual sum of squares :math:`SSR = \sum_i w_i e_i^2` that the fit kept
(from the normal equations where they keep its digits, else summed from the
residuals: see ``segment_lstsq``), the scale :math:`\sigma^2 = SSR / (n - k)` and

.. math::

    \operatorname{Var}(\hat\beta) = \sigma^2 A^{-1}, \quad
    \operatorname{Var}(\hat a) = \sigma^2 (1/W + \bar x' A^{-1} \bar x), \quad
    \operatorname{Cov}(\hat a, \hat\beta) = -\sigma^2 A^{-1} \bar x,

the blocks of :math:`\sigma^2 (X'WX)^{-1}` for the design with its constant.
Under the industry constraint :math:`c'\beta = 0`, :math:`A^{-1}` is the
top-left block of the inverse of the bordered matrix
:math:`\begin{pmatrix} A & c \\ c' & 0 \end{pmatrix}` (the covariance of the
constrained estimates) and :math:`k` counts one parameter less.

All of it is computed in the moments' units (the data's, or each column of
the loadings and the returns divided by a power of two when cross-products of
loadings of 1e-160 or 1e160 would leave the range) and the standard errors
brought back to the data's.

``fit`` keeps only the :class:`DateMoments` (a few dozen numbers per date);
:class:`CrossSectionalFactorModel` computes ``bse_``, ``tvalues_``,
``pvalues_`` and ``diagnostics_`` from them on first access
(:func:`date_inference`), so a fit nobody inspects pays nothing for them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from skfactor.utils._numerics import RCOND, t_p_values

__all__ = [
    "STATUS",
    "DateFits",
    "DateMoments",
    "date_diagnostics",
    "date_inference",
    "inference_frames",
]

# What segment_lstsq's status codes (the diagnostics' ``status``) mean. The
# table keeps the codes: every fitted attribute is numeric (the estimator
# checks compare them as numbers).
STATUS = ("ok", "too few rows", "collinear loadings")


class DateMoments(NamedTuple):
    """What ``fit`` keeps per date for the inference computed on first access.

    Per date: the centred (or not) weighted Gram matrix of the loadings
    ``gram`` (n_dates, p, p), their weighted means ``mean`` (n_dates, p), the
    total weight, the complete rows, the ``units`` the loadings and the
    returns were divided by (n_dates, p + 1: ones, or powers of two; partitions
    of a Dask fit may differ), the weighted residual sum of squares ``ssr``
    (in those units, with its digits: see ``segment_lstsq``), the R², the
    status and the industry
    constraint row (n_dates, p; None without one). ``centered`` and
    ``may_be_absent`` are the fit's.
    """

    gram: np.ndarray
    mean: np.ndarray
    weight_sum: np.ndarray
    nobs: np.ndarray
    units: np.ndarray
    ssr: np.ndarray
    rsquared: np.ndarray
    status: np.ndarray
    constraint: np.ndarray | None
    centered: bool
    may_be_absent: np.ndarray | None

    @classmethod
    def from_fit(cls, fit, constraint=None, may_be_absent=None):
        """The moments of a ``segment_regression`` result, trimmed to the loadings."""
        mom = fit.moments
        p = mom.gram.shape[1] - 1
        n = len(mom.nobs)
        units = np.ones(p + 1) if mom.scale is None else mom.scale
        return cls(
            gram=np.ascontiguousarray(mom.gram[:, :p, :p]),
            mean=np.ascontiguousarray(mom.mean[:, :p]),
            weight_sum=mom.weight_sum,
            nobs=mom.nobs,
            units=np.broadcast_to(units, (n, p + 1)).copy(),
            ssr=fit.ssr,
            rsquared=fit.rsquared,
            status=fit.status,
            constraint=constraint,
            centered=mom.centered,
            may_be_absent=may_be_absent,
        )


class DateFits(NamedTuple):
    """One partition of dates' per-date regressions, before the global checks.

    ``params`` is the (n_dates, n_terms) array of estimates, ``moments`` the
    :class:`DateMoments` kept for the inference, ``pooled`` the summed Gram
    matrix of the estimable dates and the column scales it is in (None
    without any) for the collinearity check, ``n_rows`` the partition's rows;
    the feature counts and names are those its validation found; ``panel``
    whether its rows were a (date, asset) panel (else one cross-section),
    ``weighted`` whether it was fitted with weights.
    """

    dates: pd.Index
    names: list
    params: np.ndarray
    moments: DateMoments
    pooled: tuple[np.ndarray, np.ndarray] | None
    n_rows: int
    n_features_in: int
    feature_names_in: np.ndarray | None
    panel: bool = True
    weighted: bool = False


def _scaled_inverse(A, absent, constraint, ok):
    """(Constrained) inverse of each estimated date's Gram matrix, NaN elsewhere."""
    n, p, _ = A.shape
    d = np.sqrt(np.diagonal(A, axis1=1, axis2=2))
    d = np.where(absent | (d == 0), 1.0, d)
    S = A / (d[:, :, None] * d[:, None, :])
    if absent.any():  # an industry without members that date: a unit block
        S[absent] = 0.0
        S.transpose(0, 2, 1)[absent] = 0.0
        S[np.nonzero(absent) + (np.nonzero(absent)[1],)] = 1.0
    if constraint is not None:
        c = np.where(absent, 0.0, constraint) / d
        norm = np.sqrt((c * c).sum(axis=1))
        c /= np.where(norm > 0, norm, 1.0)[:, None]
        K = np.zeros((n, p + 1, p + 1))
        K[:, :p, :p] = S
        K[:, :p, p] = K[:, p, :p] = c
        K[:, p, p] = norm == 0  # no industry present: no constraint that date
        S = K
    inv = np.full((n, p, p), np.nan)
    if ok.any():
        # Estimated dates passed the fit's rank check (of N'AN under the
        # constraint, which makes the bordered matrix invertible).
        inv[ok] = np.linalg.inv(S[ok])[:, :p, :p]
    return inv / (d[:, :, None] * d[:, None, :])


def _rank(A, k, nobs, known):
    """Rank of each date's design with its constant, judged as the model judges.

    Dates with a ``known`` full rank (estimated without constraint or absent
    column: the fit's rank check passed) skip the eigenvalues.
    """
    n, p, _ = A.shape
    rank = np.full(n, p, dtype=np.intp)
    todo = ~known
    if p and todo.any():
        d = np.sqrt(np.diagonal(A[todo], axis1=1, axis2=2))
        d = np.where(d > 0, d, 1.0)
        S = A[todo] / (d[:, :, None] * d[:, None, :])
        finite = np.isfinite(S).all(axis=(1, 2))
        r = np.zeros(len(S), dtype=np.intp)
        if finite.any():
            eig = np.linalg.eigvalsh(S[finite])
            r[finite] = (eig > RCOND * eig[:, -1:]).sum(axis=1)
        rank[todo] = r
    return np.where(nobs > 0, rank + k, 0)


def _condition_number(A, mean, wsum, centered, scale):
    """The condition number of X'WX as statsmodels: sqrt(max / min eigenvalue).

    Of the data's design (it depends on the columns' scales, ``scale`` of
    shape (n_dates, p)): the scaled moments are brought back first (not
    finite, NaN, where that overflows).
    """
    n, p, _ = A.shape
    with np.errstate(over="ignore", invalid="ignore"):
        A = A * (scale[:, :, None] * scale[:, None, :])
        if centered:  # X'WX of [1, X] from the centred moments
            m = mean * scale
            H = np.empty((n, p + 1, p + 1))
            H[:, 0, 0] = wsum
            H[:, 0, 1:] = H[:, 1:, 0] = wsum[:, None] * m
            H[:, 1:, 1:] = A + wsum[:, None, None] * m[:, :, None] * m[:, None, :]
        else:
            H = A
    cond = np.full(n, np.nan)
    finite = np.isfinite(H).all(axis=(1, 2)) & (wsum > 0)
    if H.shape[1] and finite.any():
        eig = np.linalg.eigvalsh(H[finite])
        with np.errstate(divide="ignore", invalid="ignore"):
            cond[finite] = np.where(
                eig[:, 0] > 0, np.sqrt(eig[:, -1] / eig[:, 0]), np.inf
            )
    return cond


def date_diagnostics(moments, *, condition_number=True):
    """Per-date standard errors and fit statistics of ``segment_regression``.

    Parameters
    ----------
    moments : DateMoments
        The per-date moments, residual sums of squares, R² and status (0
        estimated, 1 too few complete rows, 2 collinear loadings that date)
        of the fit, scaled (see ``DateMoments.units``).
    condition_number : bool, default=True
        Compute the condition numbers (one eigenvalue decomposition per date,
        the most expensive part); NaN otherwise.

    Returns
    -------
    bse : ndarray of shape (n_dates, k + p)
        Standard errors in the data's units, the constant's first when the
        moments are centred.
    table : dict of ndarray
        ``nobs``, ``df_resid``, ``rank``, ``condition_number``, ``rsquared``,
        ``rsquared_adj``, ``status`` (the code; :data:`STATUS` says it).
    """
    A, mean, wsum, nobs, units, ssr, rsquared, status, constraint = moments[:9]
    centered, may_be_absent = moments.centered, moments.may_be_absent
    p = A.shape[1]
    k = int(centered)
    absent = np.zeros((len(nobs), p), dtype=bool)
    if may_be_absent is not None:
        diag = np.diagonal(A, axis1=1, axis2=2)
        absent = (diag == 0) & np.asarray(may_be_absent)
    ok = status == 0
    inv = _scaled_inverse(A, absent, constraint, ok)
    n_con = 0
    if constraint is not None:  # an active constraint frees one parameter less
        n_con = np.any(np.where(absent, 0.0, constraint) != 0, axis=1)
    full = ok & ~absent.any(axis=1) & (constraint is None)
    rank = _rank(A, k, nobs, full)
    free = p + k - absent.sum(axis=1) - n_con
    df_resid = nobs - np.where(ok, free, rank)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, np.maximum(ssr, 0.0) / df_resid, np.nan)
        var = scale[:, None] * np.diagonal(inv, axis1=1, axis2=2)
        var[absent] = np.nan
        m = np.where(absent, 0.0, np.nan_to_num(mean))
        if centered:
            quad = np.einsum("tj,tjk,tk->t", m, inv, m)
            var = np.hstack([(scale * (1.0 / wsum + quad))[:, None], var])
            k_const = np.ones(len(nobs))
        else:  # statsmodels' implicit constant: 1 in the span of the loadings
            sx = m * wsum[:, None]
            left = wsum - np.einsum("tj,tjk,tk->t", sx, inv, sx)
            k_const = (np.abs(left) <= 1e-8 * wsum).astype(np.float64)
        # Back to the data's units: the constant's in y's, a slope's in y / x.
        per_term = np.hstack([np.ones((len(nobs), k)), units[:, :p]])
        bse = np.sqrt(var) * (units[:, p:] / per_term)
        rsquared_adj = 1.0 - (nobs - k_const) / df_resid * (1.0 - rsquared)
    rsquared_adj = np.where(ok & (df_resid > 0), rsquared_adj, np.nan)
    table = {
        "nobs": nobs,
        "df_resid": df_resid,
        "rank": rank,
        "condition_number": (
            _condition_number(A, mean, wsum, centered, units[:, :p])
            if condition_number
            else np.full(len(nobs), np.nan)
        ),
        "rsquared": rsquared,
        "rsquared_adj": rsquared_adj,
        "status": status,
    }
    return bse, table


def date_inference(moments, params, condition_number=True):
    """``bse_``, ``tvalues_``, ``pvalues_`` and ``diagnostics_`` from the moments.

    Parameters
    ----------
    moments : DateMoments
        What ``fit`` kept.
    params : DataFrame of shape (n_dates, n_terms)
        The per-date estimates (``params_``).
    condition_number : bool, default=True
        As :func:`date_diagnostics`.

    Returns
    -------
    dict
        DataFrames keyed by attribute name, laid out as ``params`` (the
        diagnostics: one row per date).
    """
    bse, table = date_diagnostics(moments, condition_number=condition_number)
    frames = inference_frames(params, bse, table["df_resid"])
    return {
        "bse_": frames[0],
        "tvalues_": frames[1],
        "pvalues_": frames[2],
        "diagnostics_": pd.DataFrame(table, index=params.index),
    }


def inference_frames(params, bse, df_resid):
    """``bse_``, ``tvalues_``, ``pvalues_`` DataFrames laid out as ``params_``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tvalues, pvalues = t_p_values(
            params.to_numpy(), bse, np.asarray(df_resid, dtype=np.float64)[:, None]
        )
    return tuple(
        pd.DataFrame(v, index=params.index, columns=params.columns)
        for v in (bse, tvalues, pvalues)
    )
