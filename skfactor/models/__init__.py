"""Factor models: time-series (per asset), cross-sectional (per date), rolling."""

from skfactor.models._time_series import TimeSeriesFactorModel

__all__ = ["TimeSeriesFactorModel"]
