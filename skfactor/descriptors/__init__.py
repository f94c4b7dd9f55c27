"""Descriptors: raw market and fundamental fields to Barra's style exposures.

Each descriptor is a transformer on a long (date, asset) panel of raw fields
that returns its descriptor columns on the input's rows, reading only the
columns its parameters name. A value at date t uses data up to t only; "t - k"
counts the panel's dates.

- Price and volume (USE4, CNE5): :class:`Size`, :class:`Beta`,
  :class:`Momentum`, :class:`Volatility`, :class:`CumulativeRange`,
  :class:`ShareTurnover`.
- Fundamentals: :class:`PointInTime` aligns reported fields on the panel as
  they were known at each date (TTM sums, fiscal-year history);
  :class:`BookToPrice`, :class:`EarningsYield`, :class:`Leverage`,
  :class:`Growth` compute row by row from them; :class:`NonlinearSize` per
  date from the caps.
- :class:`StyleExposures` combines descriptor columns into CNE5's style
  factors, ready for :class:`~skfactor.models.CrossSectionalFactorModel`.

See the user guide's "Descriptors" and ``examples/barra_style.py``.
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
