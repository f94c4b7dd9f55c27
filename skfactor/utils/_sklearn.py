"""The one place where skfactor imports scikit-learn's semi-private helpers.

A scikit-learn upgrade that moves one of these touches this file only.
"""

from __future__ import annotations

from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.model_selection import BaseCrossValidator
from sklearn.model_selection._split import GroupsConsumerMixin
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils._set_output import _get_output_config as get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "BaseCrossValidator",
    "BaseEstimator",
    "GroupsConsumerMixin",
    "Interval",
    "OneToOneFeatureMixin",
    "RegressorMixin",
    "StrOptions",
    "TransformerMixin",
    "_fit_context",
    "check_is_fitted",
    "get_output_config",
    "set_features_seen",
    "validate_data",
    "validate_params",
]


def set_features_seen(estimator, n_features, names):
    """Record the features of a fit as ``validate_data(reset=True)`` does.

    For fits combined from parts (partitions, asset blocks): sets
    ``n_features_in_``, and ``feature_names_in_`` when ``names`` is not None,
    else removes a stale one from an earlier fit.
    """
    estimator.n_features_in_ = n_features
    if names is not None:
        estimator.feature_names_in_ = names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
