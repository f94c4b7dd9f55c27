"""Hedge a portfolio's factor exposures with factor return streams or portfolios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["HedgeResult", "check_targets", "hedge_positions"]


@dataclass(frozen=True)
class HedgeResult:
    r"""Positions that move a portfolio's factor exposures to their targets.

    A portfolio of value :math:`V` with exposure :math:`b_k` to factor
    :math:`k` and target :math:`t_k` holds :math:`(t_k - b_k) V` of that
    factor's return stream (to neutralise, it shorts :math:`b_k V`).

    Attributes
    ----------
    positions : Series of shape (n_factors,)
        :math:`h_k = t_k - b_k` per unit of portfolio value for the hedged
        factors, 0 for the others.
    portfolio_exposures : DataFrame of shape (n_factors, 3 or 4)
        The portfolio's factor exposures (:math:`B^\top w`, not the assets'
        :math:`B`): columns ``before`` (:math:`b`), ``target`` (NaN for a factor left
        alone), ``after`` (:math:`b + h`); with factor portfolios also
        ``after_assets``, the model's exposures of the hedged asset weights.
    returns : DataFrame of shape (n_dates, 3) or None
        Columns ``portfolio`` (:math:`\sum_i w_i r_{it}`), ``hedge``
        (:math:`\sum_k h_k f_{kt}`) and ``hedged`` (their sum), indexed by date;
        None when the risk model has no asset returns. A date on which a held
        asset's return, or a hedged factor's return, is missing is NaN.
    asset_weights : DataFrame of shape (n_assets, 3) or None
        With factor portfolios: columns ``portfolio`` (:math:`w`), ``hedge``
        (:math:`W a`) and ``hedged`` (:math:`w + W a`) in asset weights.
    portfolio_amounts : Series or None
        With factor portfolios: :math:`a`, the amount of each hedged factor's
        portfolio held, solving :math:`(B^\top W a)_S = t_S - b_S` on the set
        :math:`S` of hedged factors.
    exposures, weights : DataFrame
        The older names of ``portfolio_exposures`` and ``asset_weights``,
        still readable.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.risk import FactorRiskModel
    >>> B = pd.DataFrame([[1.0, 0.5], [0.8, -0.3]], ["A", "B"], ["MKT", "SMB"])
    >>> cov_f = pd.DataFrame([[0.002, 0.0], [0.0, 0.001]], B.columns, B.columns)
    >>> risk = FactorRiskModel(B, cov_f, pd.Series([0.004, 0.003], B.index))
    >>> result = risk.hedge({"A": 0.5, "B": 0.5}, targets={"MKT": 0.0})
    >>> result.positions.tolist()  # short 0.9 of the market per unit of value
    [-0.9, 0.0]
    >>> result.portfolio_exposures["after"].tolist()
    [0.0, 0.1]
    """

    positions: pd.Series
    portfolio_exposures: pd.DataFrame
    returns: pd.DataFrame | None = None
    asset_weights: pd.DataFrame | None = None
    portfolio_amounts: pd.Series | None = None

    @property
    def exposures(self) -> pd.DataFrame:
        """``portfolio_exposures``, by its older name."""
        return self.portfolio_exposures

    @property
    def weights(self) -> pd.DataFrame | None:
        """``asset_weights``, by its older name."""
        return self.asset_weights


def check_targets(targets, factors):
    """Boolean mask of the hedged factors and their target exposures."""
    factors = list(factors)
    mask = np.zeros(len(factors), dtype=bool)
    values = np.zeros(len(factors))
    if targets is None:
        return ~mask, values
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(targets, Mapping | pd.Series):
        items = list(targets.items())
    elif isinstance(targets, list | tuple | pd.Index | np.ndarray):
        items = [(name, 0.0) for name in targets]
    else:
        raise TypeError(
            "`targets` must be None (every exposure to 0), a list of factor names "
            "(those exposures to 0) or a mapping {factor: target exposure}; got "
            f"{type(targets).__name__}."
        )
    for name, value in items:
        if name not in factors:
            raise ValueError(
                f"`targets` names {name!r}, which is not a factor of the risk "
                f"model; its factors are {factors}."
            )
        j = factors.index(name)
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = np.nan
        if not np.isfinite(value):
            raise ValueError(
                f"`targets` for {name!r} must be a finite number; got {value!r}."
            )
        mask[j], values[j] = True, value
    return mask, values


def hedge_positions(B, w, mask, targets, W=None):
    """Factor-stream positions and, given factor portfolios ``W``, their amounts.

    ``W`` (n_assets, n_hedged) holds the asset weights of the hedged factors'
    portfolios, in the order of ``mask``'s True entries.
    """
    b = B.T @ w
    h = np.where(mask, targets - b, 0.0)
    if W is None:
        return b, h, None, None
    M = B.T @ W  # exposures of each factor portfolio
    square = M[mask]
    cond = np.linalg.cond(square) if square.size else 1.0
    if not np.isfinite(cond) or cond > 1e12:
        raise ValueError(
            "The factor portfolios in `factor_weights` cannot move the hedged "
            "exposures independently: their exposures to the hedged factors form "
            f"a singular matrix (condition number {cond:.3g}). Check that each "
            "hedged factor's column holds that factor's portfolio."
        )
    amounts = np.linalg.solve(square, (targets - b)[mask])
    return b, h, amounts, M @ amounts
