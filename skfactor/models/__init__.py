"""Factor models: time-series, cross-sectional, rolling and two-pass."""

from skfactor.models._cross_sectional import CrossSectionalFactorModel
from skfactor.models._protocol import AssetBlock
from skfactor.models._risk_inputs import RiskInputs
from skfactor.models._rolling import RollingFactorModel
from skfactor.models._time_series import GRSResult, TimeSeriesFactorModel
from skfactor.models._two_pass import TwoPassFactorModel

__all__ = [
    "AssetBlock",
    "CrossSectionalFactorModel",
    "GRSResult",
    "RiskInputs",
    "RollingFactorModel",
    "TimeSeriesFactorModel",
    "TwoPassFactorModel",
]
