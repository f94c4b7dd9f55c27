"""Fitted attributes computed on first access from what ``fit`` kept."""

from __future__ import annotations

import inspect

from sklearn.exceptions import NotFittedError

__all__ = ["LazyResult", "lazy_results"]


class LazyResult:
    """A fitted attribute computed on first access from what ``fit`` kept.

    ``fit`` stores the small moments the inference needs (a few numbers per
    regression) in ``self._lazy = {"moments": ...}``; the first read of such
    an attribute calls the model's ``_inference(moments, name)``, which
    returns ``name`` (and any others it computed on the way) in a dict, cached
    in ``self._lazy``: they survive pickling, and a new ``fit`` (or
    ``partial_fit``, whose model may keep the rows already computed and
    compute the new dates' alone) forgets them.
    Before ``fit`` the attribute raises
    :class:`~sklearn.exceptions.NotFittedError` (an ``AttributeError``:
    ``hasattr`` is False) without computing anything, and, not being in the
    instance's ``__dict__``, is invisible to ``check_is_fitted``. Setting one
    (e.g. combining block fits) stores it in the cache.
    """

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        lazy = obj.__dict__.get("_lazy")
        if lazy is None or (self.name not in lazy and "moments" not in lazy):
            raise NotFittedError(
                f"`{self.name}` exists once the {type(obj).__name__} is fitted; "
                "call `fit` first."
            )
        if self.name not in lazy:
            lazy.update(obj._inference(lazy["moments"], self.name))
        return lazy[self.name]

    def __set__(self, obj, value):
        obj.__dict__.setdefault("_lazy", {})[self.name] = value

    def __delete__(self, obj):
        obj.__dict__.get("_lazy", {}).pop(self.name, None)


def lazy_results(model) -> dict:
    """Every :class:`LazyResult` attribute of a fitted ``model``, read (computed)."""
    cls = type(model)
    return {
        name: getattr(model, name)
        for name in dir(cls)
        if isinstance(inspect.getattr_static(cls, name), LazyResult)
    }
