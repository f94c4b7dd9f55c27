"""Split a portfolio's variance into factor and specific parts, factor by factor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["RiskDecomposition", "decompose"]


@dataclass(frozen=True)
class RiskDecomposition:
    r"""Variance of a portfolio (or of active weights) under a factor risk model.

    With weights :math:`w`, exposures :math:`b = B^\top w`, factor covariance
    :math:`\Sigma_F` and specific variances :math:`D`:
    :math:`\sigma^2 = b^\top \Sigma_F b + w^\top D w`.

    Attributes
    ----------
    total_variance, factor_variance, specific_variance : float
        :math:`\sigma^2`, :math:`b^\top \Sigma_F b` and :math:`w^\top D w`.
    factors : DataFrame of shape (n_factors + 1, 5)
        One row per factor and a last row ``"specific"``, with columns

        - ``exposure``: :math:`b_k` (NaN for ``specific``);
        - ``marginal``: :math:`\partial\sigma/\partial b_k = (\Sigma_F b)_k / \sigma`,
          the marginal contribution to risk (NaN for ``specific``);
        - ``variance``: the contribution to variance
          :math:`b_k (\Sigma_F b)_k` (:math:`w^\top D w` for ``specific``),
          summing to ``total_variance``;
        - ``risk``: ``variance`` / :math:`\sigma`, summing to ``total_risk``;
        - ``fmcar``: ``variance`` / :math:`\sigma^2`, the lecture's factor's
          marginal contribution to (active) risk squared, summing to 1.
    assets : DataFrame of shape (n_assets, 4)
        Per asset: ``weight`` :math:`w_i`, ``marginal``
        :math:`(\Sigma w)_i / \sigma`, ``variance`` :math:`w_i (\Sigma w)_i`
        (summing to ``total_variance``) and ``risk`` (``variance`` /
        :math:`\sigma`), with :math:`\Sigma = B \Sigma_F B^\top + D`.
    active : bool
        Whether the weights were active weights (portfolio minus benchmark),
        in which case :math:`\sigma` is the active risk (tracking error).

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.risk import FactorRiskModel
    >>> B = pd.DataFrame([[1.0, 0.5], [0.8, -0.3]], ["A", "B"], ["MKT", "SMB"])
    >>> cov_f = pd.DataFrame([[0.002, 0.0], [0.0, 0.001]], B.columns, B.columns)
    >>> risk = FactorRiskModel(B, cov_f, pd.Series([0.004, 0.003], B.index))
    >>> dec = risk.risk_decomposition({"A": 0.5, "B": 0.5})
    >>> round(dec.factor_variance, 5), round(dec.specific_variance, 5)
    (0.00163, 0.00175)
    >>> dec.factors.index.tolist()
    ['MKT', 'SMB', 'specific']
    >>> dec.factors["fmcar"].round(3).tolist()  # shares of the variance
    [0.479, 0.003, 0.518]
    """

    total_variance: float
    factor_variance: float
    specific_variance: float
    factors: pd.DataFrame
    assets: pd.DataFrame
    active: bool = False

    @property
    def total_risk(self):
        r""":math:`\sigma`, the square root of ``total_variance``."""
        return float(np.sqrt(self.total_variance))


def decompose(B, cov_f, d, w, factor_names, asset_names, active):
    """The decomposition of weights ``w`` (never forms the asset covariance)."""
    b = B.T @ w
    sf_b = cov_f @ b
    factor_part = b * sf_b
    dw = d * w
    specific = float(w @ dw)
    factor_var = float(b @ sf_b)
    total = factor_var + specific
    sigma = np.sqrt(total)
    sigma_w = B @ sf_b + dw  # (B Σ_F Bᵀ + D) w
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.append(factor_part, specific)
        factors = pd.DataFrame(
            {
                "exposure": np.append(b, np.nan),
                "marginal": np.append(sf_b / sigma, np.nan),
                "variance": variance,
                "risk": variance / sigma,
                "fmcar": variance / total,
            },
            index=pd.Index([*factor_names, "specific"], name="factor"),
        )
        asset_var = w * sigma_w
        assets = pd.DataFrame(
            {
                "weight": w,
                "marginal": sigma_w / sigma,
                "variance": asset_var,
                "risk": asset_var / sigma,
            },
            index=asset_names,
        )
    return RiskDecomposition(total, factor_var, specific, factors, assets, active)
