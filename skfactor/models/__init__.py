"""Factor models: time-series, cross-sectional, rolling and two-pass."""

from skfactor.models._cross_sectional import CrossSectionalFactorModel
from skfactor.models._rolling import RollingFactorModel
from skfactor.models._time_series import GRSResult, TimeSeriesFactorModel
from skfactor.models._two_pass import TwoPassFactorModel

__all__ = [
    "CrossSectionalFactorModel",
    "GRSResult",
    "RollingFactorModel",
    "TimeSeriesFactorModel",
    "TwoPassFactorModel",
]
