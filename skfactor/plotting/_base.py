"""Shared plumbing: import matplotlib on demand, new axes, date axes."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIGSIZE = (8.0, 4.5)


def pyplot():
    """``matplotlib.pyplot``, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised without matplotlib
        raise ImportError(
            "skfactor.plotting needs matplotlib, which is not installed; install "
            'it with `pip install "skfactor[plot]"` (or `pip install matplotlib`).'
        ) from exc
    return plt


def get_ax(ax):
    """``ax``, or the Axes of a new figure when it is None."""
    if ax is None:
        _, ax = pyplot().subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def x_values(index):
    """Plot coordinates of an index: datetimes as numpy datetime64, else as is."""
    if isinstance(index, pd.DatetimeIndex):
        return index.tz_localize(None).to_numpy() if index.tz else index.to_numpy()
    return np.asarray(index)


def format_dates(ax, index):
    """Concise date ticks when ``index`` holds dates; the x label otherwise."""
    if isinstance(index, pd.DatetimeIndex):
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.set_xlabel(index.name or "date")


def as_frame(data, name):
    """A Series or DataFrame as a DataFrame (a Series becomes one column)."""
    if isinstance(data, pd.Series):
        return data.to_frame(data.name if data.name is not None else name)
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError(
        f"`{name}` must be a pandas Series or DataFrame indexed by date; got "
        f"{type(data).__name__}."
    )
