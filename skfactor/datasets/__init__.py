"""Synthetic panels with a known truth."""

from skfactor.datasets._factor_panel import make_factor_panel
from skfactor.datasets._raw_panel import make_raw_panel

__all__ = ["make_factor_panel", "make_raw_panel"]
