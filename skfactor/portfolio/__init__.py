"""Approach 1: factor returns from long-short portfolios of characteristic sorts."""

from skfactor.portfolio._fama_french import fama_french_factors
from skfactor.portfolio._quantile import QuantilePortfolioFactor

__all__ = ["QuantilePortfolioFactor", "fama_french_factors"]
