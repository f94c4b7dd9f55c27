"""scikit-learn's estimator checks for every public estimator of skfactor."""

from __future__ import annotations

import importlib
import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import (
    estimator_checks_generator,
    parametrize_with_checks,
)

import skfactor
from skfactor.utils.estimator_checks import (
    EXPECTED_FAILED_CHECKS,
    expected_failed_checks,
)

ESTIMATORS = [
    getattr(skfactor, name)()
    for name in skfactor.__all__
    if inspect.isclass(getattr(skfactor, name))
    and issubclass(getattr(skfactor, name), BaseEstimator)
]


def _estimator_classes(module):
    return {
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseEstimator)
        and obj.__module__.startswith("skfactor.")
    }


def test_common_every_public_estimator_is_checked():
    # Every estimator class a subpackage exports is exported from skfactor too,
    # and so checked here.
    exported = set()
    for name in ("models", "portfolio", "preprocessing"):
        exported |= _estimator_classes(importlib.import_module(f"skfactor.{name}"))
    assert exported == {type(est) for est in ESTIMATORS}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_common_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_common_declared_failures_name_real_checks(estimator):
    # A declared failure must name a check scikit-learn runs on this estimator
    # (a renamed or removed check would otherwise be silently dropped); that it
    # really fails is enforced by xfail_strict.
    names = {
        getattr(check, "func", check).__name__
        for _, check in estimator_checks_generator(estimator, legacy=True)
    }
    declared = expected_failed_checks(estimator)
    assert set(declared) <= names
    for reason in declared.values():
        assert ":" in reason or len(reason.split()) >= 6  # a sentence, not a tag


def test_common_declared_failures_name_public_estimators():
    public = {type(est).__name__ for est in ESTIMATORS}
    assert set(EXPECTED_FAILED_CHECKS) <= public
