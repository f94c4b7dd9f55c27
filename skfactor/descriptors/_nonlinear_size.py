"""NonlinearSize: the cube of size, orthogonal to size (USE4, CNE5)."""

from __future__ import annotations

import numpy as np

from skfactor.descriptors._base import Descriptor
from skfactor.descriptors._standardize import sqrt_cap, standardize
from skfactor.panel._regression import segment_regression

__all__ = ["NonlinearSize"]


class NonlinearSize(Descriptor):
    r"""Non-linear size: ``nlsize``, the cube of size made orthogonal to size.

    On each date, size :math:`s = \ln(\mathrm{cap})` is standardised (mean
    weighted by cap, equal-weighted standard deviation, ``ddof=0``, no
    capping): :math:`z = (s - \sum_i c_i s_i / \sum_i c_i) / \sigma_s`; its
    cube :math:`z^3` is regressed on :math:`[1, z]` by least squares weighted
    by :math:`\sqrt{c_i}`, and ``nlsize`` is the residual

    .. math::

        \mathrm{nlsize}_i = z_i^3 - a - b z_i, \qquad
        (a, b) = \arg\min \sum_i \sqrt{c_i}\,(z_i^3 - a - b z_i)^2.

    It is returned uncapped: :class:`StyleExposures` standardises and caps it
    like every descriptor (USE4's final step). NaN where the cap is missing or
    not > 0; NaN on a date with fewer than two distinct sizes.

    Parameters
    ----------
    cap : str or int, default="cap"
        Column of market caps. Other columns are ignored.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.descriptors import NonlinearSize
    >>> X = pd.DataFrame({"cap": np.exp(np.arange(1.0, 6.0))})
    >>> e = NonlinearSize().fit_transform(X)["nlsize"].to_numpy()
    >>> w = np.sqrt(X["cap"].to_numpy())  # orthogonal to [1, size], weighted
    >>> bool(abs(w @ e) < 1e-9 and abs(w @ (e * np.log(X["cap"]))) < 1e-9)
    True
    """

    _segment_by = "date"
    _panel_only = False
    _parameter_constraints: dict = {"cap": [str, int]}

    def __init__(self, *, cap: str | int = "cap") -> None:
        self.cap = cap

    _outputs = ("nlsize",)

    def _fields(self):
        return {"cap": self.cap}

    def _describe(self, panel, fields):
        seg, cap = panel.segments, fields["cap"]
        with np.errstate(invalid="ignore", divide="ignore"):
            size = np.where(cap > 0, np.log(np.where(cap > 0, cap, 1.0)), np.nan)
        z = standardize(seg, size, np.where(cap > 0, cap, np.nan))
        fit = segment_regression(seg, z[:, None], z**3, sqrt_cap(cap))
        return fit.resid[:, None]
