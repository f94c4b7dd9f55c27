"""Fitted attributes computed on first access from what ``fit`` kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skfactor.utils._sklearn import check_is_fitted

__all__ = ["Lazy", "lazy_property"]


class Lazy:
    """Results of ``compute(*args)``, computed on the first :meth:`get`, then kept.

    ``fit`` stores one (``compute`` a module-level function, so that the model
    pickles, with the results when they were computed); a property reads
    ``get(name)``. A new ``fit`` stores a new one: nothing stale survives.
    """

    def __init__(self, compute: Callable[..., dict], *args: Any) -> None:
        self.compute = compute
        self.args = args
        self.results: dict | None = None

    def get(self, name: str) -> Any:
        """The result ``name`` (computing them all the first time)."""
        if self.results is None:
            self.results = self.compute(*self.args)
        return self.results[name]


def lazy_property(name: str, doc: str) -> property:
    """A fitted attribute read from the model's ``_inference`` (a :class:`Lazy`).

    Before ``fit`` it raises ``NotFittedError`` (an ``AttributeError``:
    ``hasattr`` is False) without computing anything.
    """

    def get(model: Any) -> Any:
        check_is_fitted(model)
        return model._inference.get(name)

    return property(get, doc=doc)
