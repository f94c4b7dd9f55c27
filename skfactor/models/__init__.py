"""Factor models: time-series (per asset), cross-sectional (per date), rolling."""

from skfactor.models._cross_sectional import CrossSectionalFactorModel
from skfactor.models._rolling import RollingFactorModel
from skfactor.models._time_series import GRSResult, TimeSeriesFactorModel

__all__ = [
    "CrossSectionalFactorModel",
    "GRSResult",
    "RollingFactorModel",
    "TimeSeriesFactorModel",
]
