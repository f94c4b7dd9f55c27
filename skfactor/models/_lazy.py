"""Fitted attributes computed on first access from what ``fit`` kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Lazy"]


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
