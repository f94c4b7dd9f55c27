"""The running sums behind a factor covariance, advanced date by date.

:class:`WeightedSums` holds what :func:`factor_covariance` needs of the dates
seen so far, as exponentially weighted sums referred to the last date: for
each lag from 0 (the moments) to the Newey-West ``lags``, the weighted
cross-products of complete dates that lag apart, with the last ``lags``
complete rows to pair with the next dates, and the sum of the squared
weights. Its size is fixed by the number of factors and lags, not by the
history, so that :meth:`FactorCovariance.partial_fit` advances it by the new
dates only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skfactor.risk._adjustments import PathCarry
from skfactor.utils._numerics import bartlett, halflife_decay

__all__ = ["WeightedSums"]


@dataclass(frozen=True)
class WeightedSums:
    r"""Weighted sums of complete dates, as of the last date of the axis.

    With :math:`a_t` a date's age (dates since the last one, incomplete
    dates counted), :math:`u_t = d^{a_t}` its unnormalised weight,
    :math:`x_t = f_t - s` the returns about a fixed ``shift`` :math:`s`
    (which keeps the moments' difference of squares exact in floating
    point) and :math:`z_t = \sqrt{u_t}\,(x_t, 1)`, ``products[l]``
    :math:`= \sum_t z_t z_{t-l}^\top` over the complete dates :math:`t` and
    the complete date :math:`l` before it. The weight of a lagged pair,
    :math:`\sqrt{u_t u_{t-l}}`, is the product of the two dates' square
    roots, so one matrix of shape (n_factors + 1, n_factors + 1) per lag
    holds the four sums the covariance needs: its leading block
    :math:`\sum \sqrt{u_t u_{t-l}}\, x_t x_{t-l}^\top`, its last column and
    row the weighted sums of :math:`x_t` and :math:`x_{t-l}`, its corner the
    weights' sum (at lag 0: :math:`\sum u_t x_t x_t^\top`,
    :math:`\sum u_t x_t`, :math:`\sum u_t`). ``w2`` is :math:`\sum u_t^2`.
    """

    decay: float
    lags: int
    centered: bool
    shift: np.ndarray
    n_rows: int
    n_complete: int
    w2: float
    products: np.ndarray
    kernel: np.ndarray
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
            np.zeros((lags + 1, k + 1, k + 1)),
            _kernel(lags),
            np.zeros((0, k)),
            np.zeros(0, dtype=np.int64),
        )

    def add(self, F, positions, n_rows):
        """The sums with complete rows ``F`` at ``positions`` added.

        ``positions`` are the rows' places on the whole date axis, after the
        dates already added; ``n_rows`` is the axis' new length (the last
        dates may be incomplete: they age the others all the same).
        """
        d, lags, n = self.decay, self.lags, len(F)
        rows = np.concatenate([self.tail, F])
        rows[len(self.tail) :] -= self.shift
        at = np.concatenate([self.tail_positions, positions])
        # z_t of the kept and new rows, after `lags` rows of zeros: a pair
        # reaching before the first date adds nothing
        m = lags + len(rows)
        Z = np.zeros((m, F.shape[1] + 1))
        root = Z[lags:, -1]
        np.power(d, ((n_rows - 1) - at) / 2.0, out=root)
        np.multiply(root[:, None], rows, out=Z[lags:, :-1])
        new = Z[m - n :]
        scale = d ** (n_rows - self.n_rows)
        products = self.products * scale
        for lag in range(lags + 1):  # the new rows against those `lag` before
            products[lag] += new.T @ Z[m - n - lag : m - lag]
        u = root[len(root) - n :] ** 2
        keep = min(lags, len(rows))
        return WeightedSums(  # (dataclasses.replace costs more than the sums)
            d,
            lags,
            self.centered,
            self.shift,
            n_rows,
            self.n_complete + n,
            self.w2 * scale * scale + u @ u,
            products,
            self.kernel,
            rows[len(rows) - keep :],
            at[len(at) - keep :],
        )

    def mean(self):
        """The weighted mean of the returns (zeros when centered)."""
        P0 = self.products[0]
        return self.shift + P0[:-1, -1] / P0[-1, -1]

    def covariance(self):
        r""":math:`\Sigma_F` of :func:`factor_covariance` on the dates added.

        With :math:`m` the weighted mean of :math:`x` (0 when centered) and
        :math:`V = (I, -m)`, :math:`V P_l V^\top` is the lag-:math:`l`
        cross-product about :math:`m`; the Bartlett-weighted sum of those
        and their transposes, over the weights' sum :math:`w_0`, is
        :math:`\Gamma_0 + \sum_l (1 - l/(L+1)) (\Gamma_l + \Gamma_l^\top)`.
        """
        P = self.products
        W = (self.kernel @ P.reshape(len(P), -1)).reshape(P.shape[1:])
        W += W.T
        # V W V' with V = (I, -m): W's block less the rank-two correction
        S = W[:-1, :-1]
        if not self.centered:
            m = P[0, :-1, -1] / P[0, -1, -1]
            h = W[:-1, -1] - (0.5 * W[-1, -1]) * m
            hm = h[:, None] * m
            S -= hm
            S -= hm.T
        return self._scaled(S)

    def variances(self):
        """The diagonal of :meth:`covariance`, from the sums' diagonals alone."""
        P, kernel = self.products, self.kernel
        diagonal = np.diagonal(P, axis1=1, axis2=2)  # (lags + 1, k + 1)
        v = 2.0 * (kernel @ diagonal[:, :-1])
        if not self.centered:
            m = P[0, :-1, -1] / P[0, -1, -1]
            side = kernel @ (P[:, :-1, -1] + P[:, -1, :-1])
            v += (2.0 * (kernel @ diagonal[:, -1]) * m - 2.0 * side) * m
        return self._scaled(v)

    def _scaled(self, S):
        """``S`` (sums of products) over the weights, unbiased unless centered."""
        w0 = self.products[0, -1, -1]
        S /= w0
        if not self.centered:
            S /= 1.0 - self.w2 / (w0 * w0)
        return S

    def path_carry(self):
        """The sums as :func:`advance_variance_path` carries them (its diagonals).

        The variance path of the same half-life and lags, run on the dates
        added, would carry these sums of the returns themselves (not about
        ``shift``), of their squares, of each lag's products and pair sums,
        the weights, and the last rows.
        """
        P, s, lags = self.products, self.shift, self.lags
        k = P.shape[-1] - 1
        diagonal = np.diagonal(P, axis1=1, axis2=2)
        w0, c = diagonal[0, -1], diagonal[1:, -1]  # weights' sums, by lag
        a, b = P[:, :-1, -1], P[:, -1, :-1]  # sums of x_t and of x_{t-l}
        width = 1 if lags else k
        sums = np.concatenate(
            [
                np.full(width, w0),
                a[0] + s * w0,
                diagonal[0, :-1] + (2.0 * a[0] + s * w0) * s,
                (diagonal[1:, :-1] + (a[1:] + b[1:] + s * c[:, None]) * s).ravel(),
                (a[1:] + b[1:] + 2.0 * s * c[:, None]).ravel(),
                c,
                np.full(width, self.w2),
            ]
        )
        return PathCarry(
            sums,
            np.full(k, float(self.n_complete)),
            self.tail + s,
            self.tail_positions - self.n_rows,
        )


def _kernel(lags):
    """Bartlett weights of lags 0 to ``lags``, lag 0 halved (it is its own mirror)."""
    kernel = bartlett(np.arange(lags + 1), lags)
    kernel[0] = 0.5
    return kernel
