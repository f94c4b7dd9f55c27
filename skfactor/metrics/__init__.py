"""Scoring factor predictions: the information coefficient, its decay, turnover."""

from skfactor.metrics._ic import (
    ic_scorer,
    ic_summary,
    information_coefficient,
    make_ic_scorer,
)
from skfactor.metrics._persistence import (
    ic_decay,
    quantile_labels,
    quantile_turnover,
    rank_autocorrelation,
)

__all__ = [
    "ic_decay",
    "ic_scorer",
    "ic_summary",
    "information_coefficient",
    "make_ic_scorer",
    "quantile_labels",
    "quantile_turnover",
    "rank_autocorrelation",
]
