"""The running sums behind a factor covariance, advanced date by date.

:class:`WeightedSums` holds what :func:`factor_covariance` needs of the dates
seen so far, as exponentially weighted sums referred to the last date, for
one or two half-lives at once (the volatilities' and, when they differ, the
correlations'): for each lag from 0 (the moments) to the Newey-West lags,
the weighted cross-products of complete dates that lag apart, with the last
complete rows to pair with the next dates, and the sum of the squared
weights. Its size is fixed by the number of factors and lags, not by the
history, so that :meth:`FactorCovariance.partial_fit` advances it by the new
dates only, both half-lives in the same few array operations.
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

    For each half-life :math:`h` (the leading axis of the arrays), with
    :math:`a_t` a date's age (dates since the last one, incomplete dates
    counted), :math:`u_t = d_h^{a_t}` its unnormalised weight,
    :math:`x_t = f_t - s` the returns about a fixed ``shift`` :math:`s`
    (which keeps the moments' difference of squares exact in floating
    point) and :math:`z_t = \sqrt{u_t}\,(x_t, 1)`, the lag-:math:`l`
    products are :math:`P_l = \sum_t z_t z_{t-l}^\top` over the complete
    dates :math:`t` and the complete date :math:`l` before it. The weight of
    a lagged pair, :math:`\sqrt{u_t u_{t-l}}`, is the product of the two
    dates' square roots, so one matrix of shape
    (n_factors + 1, n_factors + 1) holds the four sums the covariance needs:
    its leading block :math:`\sum \sqrt{u_t u_{t-l}}\, x_t x_{t-l}^\top`,
    its last column and row the weighted sums of :math:`x_t` and
    :math:`x_{t-l}`, its corner the weights' sum (at lag 0:
    :math:`\sum u_t x_t x_t^\top`, :math:`\sum u_t x_t`,
    :math:`\sum u_t`).

    The covariance needs the lags' products only through their Bartlett
    sum, ``weighted[h]`` :math:`= \sum_l \kappa_{hl} P_l` (``kernel[h]``,
    lag 0 halved: :math:`W + W^\top` counts it once), and the mean through
    :math:`P_0`'s last column; the variance path of the regime adjustment
    needs each lag's diagonal, last column and last row, ``edges[h, l]``.
    Both advance by the new dates' products alone, so an update reads and
    writes a few arrays of :math:`(K + 1)^2` floats. ``w2[h]`` is
    :math:`\sum u_t^2`. The lags run to the largest of the half-lives'
    ``lags``; ``kernel[h]`` is 0 past its own.
    """

    decay: np.ndarray
    lags: tuple
    centered: bool
    shift: np.ndarray
    n_rows: int
    n_complete: int
    w2: np.ndarray
    weighted: np.ndarray
    edges: np.ndarray
    kernel: np.ndarray
    tail: np.ndarray
    tail_positions: np.ndarray

    @classmethod
    def empty(cls, n_factors, halflives, lags, centered, shift):
        """No date yet: the sums of each of ``halflives`` (with its ``lags``)."""
        k, h, most = n_factors, len(halflives), max(lags)
        kernel = bartlett(np.arange(most + 1), np.array(lags)[:, None])
        kernel[:, 0] = 0.5  # lag 0 is its own mirror
        return cls(
            np.array([halflife_decay(hl) for hl in halflives]),
            tuple(int(lag) for lag in lags),
            bool(centered),
            np.zeros(k) if centered else np.asarray(shift, dtype=np.float64),
            0,
            0,
            np.zeros(h),
            np.zeros((h, k + 1, k + 1)),
            np.zeros((h, most + 1, 3, k + 1)),
            kernel,
            np.zeros((0, k)),
            np.zeros(0, dtype=np.int64),
        )

    def add(self, F, positions, n_rows):
        """The sums with complete rows ``F`` at ``positions`` added.

        ``positions`` are the rows' places on the whole date axis, after the
        dates already added; ``n_rows`` is the axis' new length (the last
        dates may be incomplete: they age the others all the same).
        """
        d, kernel, n, t = self.decay, self.kernel, len(F), len(self.tail)
        lags = kernel.shape[1] - 1
        # (x_t, 1) of the kept and new rows, after `lags` rows of zeros: a
        # pair reaching before the first date adds nothing
        m = lags + t + n
        X = np.zeros((m, F.shape[1] + 1))
        X[lags : lags + t, :-1] = self.tail
        np.subtract(F, self.shift, out=X[m - n :, :-1])
        X[lags:, -1] = 1.0
        at = np.concatenate([self.tail_positions, positions])
        root = np.zeros((len(d), m))  # sqrt(u_t) of each half-life
        np.power(d[:, None], ((n_rows - 1) - at) / 2.0, out=root[:, lags:])
        Z = root[:, :, None] * X
        new = Z[:, m - n :]
        # the rows `lag` before each new one, lags on axis 1 (an update of
        # one date reads a few rows; fit, every row once per lag)
        earlier = Z[:, (m - n + np.arange(n)) - np.arange(lags + 1)[:, None]]
        scale = d ** (n_rows - self.n_rows)
        edges = self.edges * scale[:, None, None, None]
        # (products, sums and matmul, no einsum: each kind of array operation
        # costs a one-date update some microseconds more the first time)
        edges[:, :, 0] += (new[:, None] * earlier).sum(axis=2)  # diagonals
        edges[:, :, 1] += earlier[..., -1] @ new  # last columns
        edges[:, :, 2] += (new[:, None, None, :, -1] @ earlier)[:, :, 0]  # rows
        h, k1 = len(d), X.shape[1]  # the Bartlett sum of the earlier rows:
        paired = (kernel[:, None] @ earlier.reshape(h, lags + 1, -1)).reshape(h, n, k1)
        weighted = self.weighted * scale[:, None, None]
        for i in range(h):  # np.dot: BLAS, and 5x matmul's speed on one row
            weighted[i] += np.dot(new[i].T, paired[i])
        u = root[:, m - n :]
        u *= u
        keep = min(lags, t + n)
        return WeightedSums(  # (dataclasses.replace costs more than the sums)
            d,
            self.lags,
            self.centered,
            self.shift,
            n_rows,
            self.n_complete + n,
            self.w2 * scale * scale + (u * u).sum(axis=1),
            weighted,
            edges,
            kernel,
            X[m - keep :, :-1],
            at[len(at) - keep :],
        )

    def mean(self):
        """The weighted mean of the returns, the first half-life's weights."""
        column = self.edges[0, 0, 1]
        return self.shift + column[:-1] / column[-1]

    def covariance(self):
        r""":math:`\Sigma_F` of :func:`factor_covariance`, and the variances.

        With :math:`m` the weighted mean of :math:`x` (0 when centered) and
        :math:`V = (I, -m)`, :math:`V P_l V^\top` is the lag-:math:`l`
        cross-product about :math:`m`; the Bartlett-weighted sum of those
        and their transposes, :math:`V (W + W^\top) V^\top`, over the
        weights' sum :math:`w_0` (and the unbiased divisor
        :math:`1 - \sum u_t^2 / w_0^2` unless centered), is
        :math:`\Gamma_0 + \sum_l (1 - l/(L+1)) (\Gamma_l + \Gamma_l^\top)`.

        Returns ``(S, variances)``: the variances (the first half-life's
        diagonal, from the sums' diagonals alone) and the whole matrix of
        the last half-life, which is the correlations' when there are two
        (its scale then does not matter: it is left undivided).
        """
        weighted, column = self.weighted, self.edges[:, 0, 1]
        w0 = column[:, -1]  # P_0's last column: the sums of x and the weights
        diagonal = 2.0 * np.diagonal(weighted, axis1=1, axis2=2)  # of W + W'
        if self.centered:
            divisor, variances = w0, diagonal[0, :-1] / w0[0]
        else:
            # V (W + W') V' = its block less h m' + m h', with h as below
            m = column[:, :-1] / w0[:, None]
            border = weighted[:, :-1, -1] + weighted[:, -1, :-1]
            h = border - (0.5 * diagonal[:, -1:]) * m
            divisor = w0 - self.w2 / w0
            variances = (diagonal[0, :-1] - 2.0 * h[0] * m[0]) / divisor[0]
        last = weighted[-1, :-1, :-1]
        S = last + last.T
        if not self.centered:
            hm = h[-1, :, None] * m[-1]
            hm += hm.T
            S -= hm
        if len(weighted) == 1:
            S /= divisor[0]
        return S, variances

    def path_carry(self):
        """The first half-life's sums as :func:`advance_variance_path` carries them.

        The variance path of the same half-life and lags, run on the dates
        added, would carry these sums of the returns themselves (not about
        ``shift``), of their squares, of each lag's products and pair sums,
        the weights, and the last rows.
        """
        lags, s = self.lags[0], self.shift
        diagonal, a, b = np.moveaxis(self.edges[0, : lags + 1], 1, 0)
        k = len(s)
        w0, c = diagonal[0, -1], diagonal[1:, -1]  # weights' sums, by lag
        a, b = a[:, :-1], b[:, :-1]  # sums of x_t and of x_{t-l}
        width = 1 if lags else k
        sums = np.concatenate(
            [
                np.full(width, w0),
                a[0] + s * w0,
                diagonal[0, :-1] + (2.0 * a[0] + s * w0) * s,
                (diagonal[1:, :-1] + (a[1:] + b[1:] + s * c[:, None]) * s).ravel(),
                (a[1:] + b[1:] + 2.0 * s * c[:, None]).ravel(),
                c,
                np.full(width, self.w2[0]),
            ]
        )
        keep = len(self.tail) - min(lags, len(self.tail))
        return PathCarry(
            sums,
            np.full(k, float(self.n_complete)),
            self.tail[keep:] + s,
            self.tail_positions[keep:] - self.n_rows,
        )
