"""Scoring factor predictions: the information coefficient, per date."""

from skfactor.metrics._ic import (
    ic_scorer,
    ic_summary,
    information_coefficient,
    make_ic_scorer,
)

__all__ = ["ic_scorer", "ic_summary", "information_coefficient", "make_ic_scorer"]
