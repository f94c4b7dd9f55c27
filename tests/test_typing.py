"""Every public signature carries type hints, and the package ships ``py.typed``."""

from __future__ import annotations

import importlib
import inspect
import typing
from pathlib import Path

import pytest

import skfactor

MODULES = [
    "skfactor",
    "skfactor.dask",
    "skfactor.datasets",
    "skfactor.descriptors",
    "skfactor.metrics",
    "skfactor.model_selection",
    "skfactor.models",
    "skfactor.panel",
    "skfactor.plotting",
    "skfactor.portfolio",
    "skfactor.preprocessing",
    "skfactor.risk",
]

# The methods of a public class whose signatures are public API.
METHODS = [
    "__init__",
    "fit",
    "partial_fit",
    "transform",
    "fit_transform",
    "inverse_transform",
    "predict",
    "score",
    "summary",
    "residuals",
    "get_feature_names_out",
]

SKIPPED = {"self", "cls"}
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _public_callables():
    seen = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                # the listed methods, inherited ones where skfactor defines
                # them, and every other public method the class defines
                own = [m for m in vars(obj) if not m.startswith("_")]
                for method in dict.fromkeys(METHODS + own):
                    func = inspect.getattr_static(obj, method, None)
                    if isinstance(func, property):
                        continue  # an attribute, not a signature
                    if isinstance(func, (staticmethod, classmethod)):
                        func = func.__func__
                    if not inspect.isfunction(func) or not func.__module__.startswith(
                        "skfactor"
                    ):
                        continue
                    seen[f"{module_name}.{name}.{method}"] = func
            elif inspect.isfunction(obj):
                # (instances such as ``ic_scorer`` are not signatures)
                seen[f"{module_name}.{name}"] = obj
    return seen


CALLABLES = _public_callables()


def test_public_callables_found():
    assert len(CALLABLES) > 50
    assert "skfactor.Winsorizer.fit" in CALLABLES
    assert "skfactor.metrics.ic_summary" in CALLABLES


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_public_signature_annotated(qualname):
    func = CALLABLES[qualname]
    signature = inspect.signature(func)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.name not in SKIPPED
        and p.kind not in VARIADIC
        and p.annotation is inspect.Parameter.empty
    ]
    assert not missing, f"{qualname}: parameters without a hint: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, (
        f"{qualname}: no return annotation"
    )


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_public_type_hints_resolve(qualname):
    hints = typing.get_type_hints(CALLABLES[qualname])
    assert "return" in hints


def test_package_ships_py_typed():
    assert (Path(skfactor.__file__).parent / "py.typed").is_file()
