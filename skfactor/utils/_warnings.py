"""Warnings that point at the caller's line, not into skfactor or scikit-learn."""

from __future__ import annotations

import sys
import warnings

__all__ = ["warn"]

_INTERNAL = ("skfactor.", "sklearn.")


def warn(message, category=UserWarning):
    """``warnings.warn`` attributed to the first frame outside skfactor and sklearn.

    An estimator's warning is raised a few calls deep (``fit`` behind
    scikit-learn's ``_fit_context``, a ``Pipeline``, ``GridSearchCV``): a fixed
    ``stacklevel`` points into one of them. This one names the user's line.
    """
    frame, level = sys._getframe(1), 2  # level 1 is this function
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        _INTERNAL
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
