"""Synthetic panels with a known truth."""

from skfactor.datasets._factor_panel import make_factor_panel

__all__ = ["make_factor_panel"]
