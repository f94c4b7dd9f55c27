"""Cross-sectional transformers: winsorize and z-score factor values per date."""

from skfactor.preprocessing._winsorizer import Winsorizer
from skfactor.preprocessing._zscore import CrossSectionalZScore

__all__ = ["CrossSectionalZScore", "Winsorizer"]
