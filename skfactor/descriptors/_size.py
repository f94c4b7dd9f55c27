"""Size: the log of the market capitalisation (USE4 and CNE5 LNCAP)."""

from __future__ import annotations

import numpy as np

from skfactor.descriptors._base import Descriptor, check_positive

__all__ = ["Size"]


class Size(Descriptor):
    r"""The log of each asset's market capitalisation, ``lncap``.

    .. math::

        \mathrm{lncap}_{i,t} = \ln \mathrm{cap}_{i,t}

    (Barra USE4 and CNE5, descriptor LNCAP). It depends on the row alone. NaN
    in ``cap`` gives NaN; a cap at or below 0 is an error.

    Parameters
    ----------
    cap : str, default="cap"
        The market capitalisation column.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfactor.descriptors import Size
    >>> index = pd.MultiIndex.from_product([["2024-01-02"], ["A", "B"]],
    ...                                    names=["date", "asset"])
    >>> X = pd.DataFrame({"cap": [1.0, 100.0]}, index=index)
    >>> Size().fit_transform(X)["lncap"].round(3).tolist()
    [0.0, 4.605]
    """

    _outputs = ("lncap",)
    _parameter_constraints: dict = {"cap": [str]}

    def __init__(self, *, cap: str = "cap") -> None:
        self.cap = cap

    def _fields(self):
        return {"cap": self.cap}

    def _describe(self, panel, fields):
        check_positive(fields["cap"], "cap", self.cap)
        return np.log(fields["cap"])[:, None]
