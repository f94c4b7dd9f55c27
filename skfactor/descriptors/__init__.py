"""Descriptors: raw market and fundamental fields to Barra's (USE4, CNE5) style exposures.

Each descriptor is a transformer on a long (date, asset) panel of raw fields
(``returns``, ``cap``, ``volume``, ``shares``, fundamentals aligned by
:class:`PointInTime`, ...) that returns its descriptor columns on the input's
rows. A value at date t uses data up to t only; "t - k" counts the panel's
dates. :class:`StyleExposures` combines them into style factors. See the user
guide's "Descriptors".
"""

from skfactor.descriptors._beta import Beta
from skfactor.descriptors._fundamentals import (
    BookToPrice,
    EarningsYield,
    Growth,
    Leverage,
)
from skfactor.descriptors._momentum import Momentum
from skfactor.descriptors._nonlinear_size import NonlinearSize
from skfactor.descriptors._point_in_time import PointInTime
from skfactor.descriptors._range import CumulativeRange
from skfactor.descriptors._size import Size
from skfactor.descriptors._style import StyleExposures
from skfactor.descriptors._turnover import ShareTurnover
from skfactor.descriptors._volatility import Volatility

__all__ = [
    "Beta",
    "BookToPrice",
    "CumulativeRange",
    "EarningsYield",
    "Growth",
    "Leverage",
    "Momentum",
    "NonlinearSize",
    "PointInTime",
    "ShareTurnover",
    "Size",
    "StyleExposures",
    "Volatility",
]
