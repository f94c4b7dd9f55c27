"""Scoring factor predictions: the IC, its decay, quantile returns, turnover."""

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
from skfactor.metrics._quantile_returns import (
    mean_return_by_quantile,
    quantile_returns,
)

__all__ = [
    "ic_decay",
    "ic_scorer",
    "ic_summary",
    "information_coefficient",
    "make_ic_scorer",
    "mean_return_by_quantile",
    "quantile_labels",
    "quantile_returns",
    "quantile_turnover",
    "rank_autocorrelation",
]
