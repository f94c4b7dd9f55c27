"""(date, asset) panels: the one validator, per-date kernels, forward returns."""

from skfactor.panel._returns import forward_returns
from skfactor.panel._segments import Segments
from skfactor.panel._validation import PanelData, check_panel_index, validate_panel
from skfactor.panel._wide import WideData, validate_wide

__all__ = [
    "PanelData",
    "Segments",
    "check_panel_index",
    "forward_returns",
    "validate_panel",
    "validate_wide",
    "WideData",
]
