"""The running sums behind a factor covariance, advanced date by date.

:class:`WeightedSums` holds what :func:`factor_covariance` needs of the dates
seen so far, as exponentially weighted sums referred to the last date: the
weight total and its squares, the first and second moments, and for each
Newey-West lag the weighted cross-products of complete dates ``lag`` apart,
with the last ``lags`` complete rows to pair with the next dates. Its size
is fixed by the number of factors and lags, not by the history, so that
:meth:`FactorCovariance.partial_fit` advances it by the new dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from skfactor.utils._numerics import bartlett, halflife_decay

__all__ = ["WeightedSums"]


@dataclass(frozen=True)
class WeightedSums:
    r"""Weighted sums of complete dates, as of the last date of the axis.

    With :math:`a_t` a date's age (dates since the last one, incomplete
    dates counted), :math:`u_t = d^{a_t}` its unnormalised weight and
    :math:`x_t = f_t - s` the returns about a fixed ``shift`` :math:`s`
    (which keeps the moments' difference of squares exact in floating
    point): ``w0`` :math:`= \sum u_t`, ``w2`` :math:`= \sum u_t^2`,
    ``m1`` :math:`= \sum u_t x_t`, ``m2`` :math:`= \sum u_t x_t x_t^\top`
    and, for lag :math:`l` over pairs of complete dates with weight
    :math:`c_t = \sqrt{u_t u_{t-l}}`, ``g`` :math:`= \sum c_t x_t
    x_{t-l}^\top`, ``a`` :math:`= \sum c_t x_t`, ``b`` :math:`= \sum c_t
    x_{t-l}`, ``c`` :math:`= \sum c_t`.
    """

    decay: float
    lags: int
    centered: bool
    shift: np.ndarray
    n_rows: int
    n_complete: int
    w0: float
    w2: float
    m1: np.ndarray
    m2: np.ndarray
    g: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    tail: np.ndarray
    tail_positions: np.ndarray

    @classmethod
    def empty(cls, n_factors, halflife, lags, centered, shift):
        """No date yet: the sums of ``halflife`` and ``lags`` about ``shift``."""
        k = n_factors
        return cls(
            halflife_decay(halflife),
            int(lags),
            bool(centered),
            np.zeros(k) if centered else np.asarray(shift, dtype=np.float64),
            0,
            0,
            0.0,
            0.0,
            np.zeros(k),
            np.zeros((k, k)),
            np.zeros((lags, k, k)),
            np.zeros((lags, k)),
            np.zeros((lags, k)),
            np.zeros(lags),
            np.zeros((0, k)),
            np.zeros(0, dtype=np.int64),
        )

    def add(self, F, positions, n_rows):
        """The sums with complete rows ``F`` at ``positions`` added.

        ``positions`` are the rows' places on the whole date axis, after the
        dates already added; ``n_rows`` is the axis' new length (the last
        dates may be incomplete: they age the others all the same).
        """
        d = self.decay
        scale = d ** (n_rows - self.n_rows)
        age = (n_rows - 1) - positions
        u = d**age
        X = F - self.shift
        Y = np.sqrt(u)[:, None] * X  # Y.T @ Y: numpy's syrk, exactly symmetric
        rows = np.concatenate([self.tail, X])
        at = np.concatenate([self.tail_positions, positions])
        g, a, b, c = self.g * scale, self.a * scale, self.b * scale, self.c * scale
        start = len(self.tail)
        for lag in range(1, self.lags + 1):
            j = max(start, lag)
            later, earlier = rows[j:], rows[j - lag : len(rows) - lag]
            cl = d ** ((2 * (n_rows - 1) - at[j:] - at[j - lag : len(at) - lag]) / 2.0)
            g[lag - 1] += (later.T * cl) @ earlier
            a[lag - 1] += cl @ later
            b[lag - 1] += cl @ earlier
            c[lag - 1] += cl.sum()
        keep = min(self.lags, len(rows))
        return replace(
            self,
            n_rows=n_rows,
            n_complete=self.n_complete + len(F),
            w0=self.w0 * scale + u.sum(),
            w2=self.w2 * scale * scale + u @ u,
            m1=self.m1 * scale + u @ X,
            m2=self.m2 * scale + Y.T @ Y,
            g=g,
            a=a,
            b=b,
            c=c,
            tail=rows[len(rows) - keep :],
            tail_positions=at[len(at) - keep :],
        )

    def mean(self):
        """The weighted mean of the returns (zeros when centered)."""
        return self.shift + self.m1 / self.w0

    def covariance(self):
        r""":math:`\Sigma_F` of :func:`factor_covariance` on the dates added."""
        m = np.zeros_like(self.m1) if self.centered else self.m1 / self.w0
        S = self.m2 / self.w0 - np.outer(m, m)
        for lag in range(1, self.lags + 1):
            i = lag - 1
            G = self.g[i] - np.outer(self.a[i], m) - np.outer(m, self.b[i])
            G = (G + self.c[i] * np.outer(m, m)) / self.w0
            S += bartlett(lag, self.lags) * (G + G.T)
        if not self.centered:
            S /= 1.0 - self.w2 / (self.w0 * self.w0)
        return S
