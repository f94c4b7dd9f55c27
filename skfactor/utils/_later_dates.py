"""``partial_fit``'s rule: the new dates come after the fitted ones."""

from __future__ import annotations

import pandas as pd

__all__ = ["check_later_dates", "last_date"]


def last_date(index):
    """The last label of a date index (DatetimeIndex, PeriodIndex); else None.

    Other indexes (a RangeIndex, an array's None) carry no dates to compare:
    a chunk of rows numbered from 0 again is not a date earlier than the last.
    """
    if isinstance(index, pd.DatetimeIndex | pd.PeriodIndex) and len(index):
        return index[-1]
    return None


def check_later_dates(index, last):
    """Raise unless ``index`` starts after ``last`` (when both are dates).

    Returns ``index``'s :func:`last_date` (the next update's ``last``).
    """
    new_last = last_date(index)
    if last is None or new_last is None:
        return new_last
    first = index[0]
    if not first > last:
        raise ValueError(
            "`partial_fit` adds dates after the fitted ones: the first new date "
            f"is {first}, not after the last fitted date {last}. Pass only the "
            "new dates, or call `fit` on all of them."
        )
    return new_last
