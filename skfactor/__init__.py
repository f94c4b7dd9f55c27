"""skfactor: fundamental factor models as scikit-learn estimators."""

from skfactor.models import (
    CrossSectionalFactorModel,
    RollingFactorModel,
    TimeSeriesFactorModel,
    TwoPassFactorModel,
)
from skfactor.portfolio import QuantilePortfolioFactor
from skfactor.preprocessing import (
    CrossSectionalNeutralizer,
    CrossSectionalZScore,
    FactorComposite,
    Winsorizer,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CrossSectionalFactorModel",
    "CrossSectionalNeutralizer",
    "CrossSectionalZScore",
    "FactorComposite",
    "QuantilePortfolioFactor",
    "RollingFactorModel",
    "TimeSeriesFactorModel",
    "TwoPassFactorModel",
    "Winsorizer",
]
