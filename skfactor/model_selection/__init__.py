"""Cross-validation for (date, asset) panels: split by date, never within one."""

from skfactor.model_selection._combinatorial import CombinatorialPurgedSplit
from skfactor.model_selection._split import PanelTimeSeriesSplit

__all__ = ["CombinatorialPurgedSplit", "PanelTimeSeriesSplit"]
