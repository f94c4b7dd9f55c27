"""The targets of ``score``: ``y`` put on ``X``'s rows by its keys, or refused."""

from __future__ import annotations

import pandas as pd

__all__ = ["align_rows"]


def align_rows(values, X, name="y"):
    """``values`` in the order of ``X``'s rows, matched by index, or an error.

    A pandas ``values`` whose index holds exactly the keys of ``X``'s index
    (dates of a wide frame, or (date, asset) pairs of a panel), in any order,
    is put in ``X``'s order; one with other keys is refused. Arrays, and
    ``X`` without an index (arrays, polars frames, or a RangeIndex frame
    beside a panel ``values``: a panel whose keys were dropped, read as ``fit``
    reads it), are left as they are: their rows are matched by position.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    >>> align_rows(pd.Series([3.0, 1.0, 2.0], index=["c", "a", "b"]), X).tolist()
    [1.0, 2.0, 3.0]
    """
    index = getattr(X, "index", None)
    if not isinstance(values, pd.Series | pd.DataFrame) or not isinstance(
        index, pd.Index
    ):
        return values
    if values.index.equals(index) or (
        isinstance(index, pd.RangeIndex) and isinstance(values.index, pd.MultiIndex)
    ):
        return values
    if len(values) == len(index) and values.index.is_unique and index.is_unique:
        positions = values.index.get_indexer(index)
        if (positions >= 0).all():
            return values.iloc[positions]
    missing = index[~index.isin(values.index)]
    extra = values.index[~values.index.isin(index)]
    found = (
        f"{len(missing)} of the {len(index)} rows of `X` are not in `{name}`, e.g. "
        f"{missing[:2].tolist()}"
        if len(missing)
        else f"{len(extra)} of the {len(values)} rows of `{name}` are not in `X`, "
        f"e.g. {extra[:2].tolist()}"
        if len(extra)
        else "one of them repeats keys"
    )
    raise ValueError(
        f"`{name}` and `X` must hold the same keys (index labels), in any order; "
        f"{found}. Give `{name}` one value per row of `X`, e.g. "
        f"`{name}.reindex(X.index)`."
    )
