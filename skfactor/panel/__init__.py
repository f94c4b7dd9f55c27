"""(date, asset) panels: forward returns and the panel index check.

The per-date kernels and validators behind every estimator live in this
package's private modules; they are not public API.
"""

from skfactor.panel._returns import forward_returns
from skfactor.panel._validation import check_panel_index

__all__ = [
    "check_panel_index",
    "forward_returns",
]
