"""Descriptors: raw market and fundamental fields into Barra-style exposures."""

from skfactor.descriptors._fundamentals import (
    BookToPrice,
    EarningsYield,
    Growth,
    Leverage,
)
from skfactor.descriptors._nonlinear_size import NonlinearSize
from skfactor.descriptors._point_in_time import PointInTime
from skfactor.descriptors._style import StyleExposures

__all__ = [
    "BookToPrice",
    "EarningsYield",
    "Growth",
    "Leverage",
    "NonlinearSize",
    "PointInTime",
    "StyleExposures",
]
