"""scikit-learn's estimator checks for every public estimator of skfactor."""

from __future__ import annotations

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skfactor
from skfactor.utils.estimator_checks import expected_failed_checks

ESTIMATORS = [
    getattr(skfactor, name)()
    for name in skfactor.__all__
    if inspect.isclass(getattr(skfactor, name))
    and issubclass(getattr(skfactor, name), BaseEstimator)
]


def test_common_every_public_estimator_is_checked():
    assert len(ESTIMATORS) >= 2


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_common_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_common_declared_failures_have_reasons(estimator):
    for check_name, reason in expected_failed_checks(estimator).items():
        assert check_name.startswith("check_")
        assert len(reason) > 20
