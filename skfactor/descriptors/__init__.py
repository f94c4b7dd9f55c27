"""Descriptors: raw market data to Barra's (USE4, CNE5) style descriptors.

Each descriptor is a transformer on a long (date, asset) panel of raw fields
(``returns``, ``cap``, ``volume``, ``shares``, ...) that returns its
descriptor columns on the input's rows. A value at date t uses data up to t
only; "t - k" counts the panel's dates. See the user guide's "Descriptors".
"""

from skfactor.descriptors._beta import Beta
from skfactor.descriptors._momentum import Momentum
from skfactor.descriptors._range import CumulativeRange
from skfactor.descriptors._size import Size
from skfactor.descriptors._turnover import ShareTurnover
from skfactor.descriptors._volatility import Volatility

__all__ = [
    "Beta",
    "CumulativeRange",
    "Momentum",
    "ShareTurnover",
    "Size",
    "Volatility",
]
