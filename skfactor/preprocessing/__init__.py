"""Cross-sectional transformers: winsorize, z-score, neutralise and combine factors."""

from skfactor.preprocessing._composite import FactorComposite
from skfactor.preprocessing._neutralizer import CrossSectionalNeutralizer
from skfactor.preprocessing._winsorizer import Winsorizer
from skfactor.preprocessing._zscore import CrossSectionalZScore

__all__ = [
    "CrossSectionalNeutralizer",
    "CrossSectionalZScore",
    "FactorComposite",
    "Winsorizer",
]
