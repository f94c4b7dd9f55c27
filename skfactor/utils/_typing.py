"""Type aliases for the public signatures (hints only, no run-time cost).

Polars, Dask and matplotlib are optional: they are imported for the type
checker only (``TYPE_CHECKING``) and stand for ``Any`` at run time, so that
``typing.get_type_hints`` resolves every public signature without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import dask.dataframe as dd
    import polars as pl
    from matplotlib.axes import Axes

    PolarsFrame = pl.DataFrame
    PolarsSeries = pl.Series
    DaskFrame = dd.DataFrame
    DaskSeries = dd.Series
else:
    PolarsFrame = PolarsSeries = DaskFrame = DaskSeries = Axes = Any

__all__ = [
    "ArrayLike",
    "Axes",
    "DaskFrame",
    "DaskSeries",
    "FrameOut",
    "MatrixLike",
    "RandomStateLike",
    "TargetLike",
]

# ``X``: a (date, asset) panel or a wide (date by column) frame, or an array.
MatrixLike = pd.DataFrame | PolarsFrame | ArrayLike
# ``y``: a Series on the panel's index, a wide frame, or an array.
TargetLike = pd.Series | pd.DataFrame | PolarsSeries | PolarsFrame | ArrayLike
# What ``transform`` and ``predict`` return, following ``set_output``.
FrameOut = pd.DataFrame | pd.Series | PolarsFrame | np.ndarray
RandomStateLike = int | np.random.Generator | np.random.RandomState | None
