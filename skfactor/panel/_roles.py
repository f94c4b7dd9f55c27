"""Column roles: which columns of a panel are characteristics and which are not.

The one rule, the same on every per-date step: a column named by a role
parameter — ``groups`` (labels to work within), ``weights`` (non-negative row
weights) or ``passthrough`` (anything else that is not a characteristic) — is
not a feature. Transformers return it unchanged, models never regress on it.
Every other column is a characteristic.

Steps give their output frames the roles they applied (``DataFrame.attrs``),
so the next step can refuse a disagreement instead of silently clipping
industry codes or regressing returns on market caps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ROLES_ATTR", "Roles", "label_roles", "resolve_roles"]

# Key of DataFrame.attrs under which a step's output records the roles.
ROLES_ATTR = "skfactor_roles"


@dataclass(frozen=True)
class Roles:
    """Column positions by role, for one validated panel.

    ``features`` are the characteristics' positions, ``named`` maps each role
    parameter that was set (``"groups"``, ``"weights"``) to its position, and
    ``passthrough`` holds every non-feature position (the named ones too).
    """

    features: np.ndarray
    named: dict
    passthrough: np.ndarray

    def position(self, role):
        """Position of the column of ``role``, or None when the role is unset."""
        return self.named.get(role)

    def attrs(self, producer, columns):
        """The ``DataFrame.attrs`` entry recording these roles on ``columns``."""
        return {
            "producer": producer,
            "features": [columns[j] for j in self.features],
            "passthrough": [columns[j] for j in self.passthrough],
        }


def label_roles(estimator):
    """Column labels the estimator's ``groups`` and ``passthrough`` name.

    Such columns may hold labels rather than numbers (sector names,
    identifiers): :func:`~skfactor.panel._validation.validate_panel` codes them.
    """
    labels = _passthrough_specs(getattr(estimator, "passthrough", None))
    groups = getattr(estimator, "groups", None)
    return labels if groups is None else [groups, *labels]


def _passthrough_specs(spec):
    if spec is None:
        return []
    if isinstance(spec, str | int | np.integer):
        return [spec]
    return list(spec)


def resolve_roles(estimator, panel, X, verb, **named):
    """The :class:`Roles` of ``X``'s columns for ``estimator``.

    ``named`` maps role parameter names to their values (``groups=self.groups``);
    the estimator's ``passthrough`` parameter adds plain non-feature columns.
    A ``weights`` column must be non-negative (NaN marks a missing weight).
    ``verb`` says what the step does to a characteristic ("clip", "z-score",
    "regress returns on"), for the error message. When ``X`` is the output of
    another skfactor step, its recorded roles must agree with these.
    """
    positions = {}
    for role, spec in named.items():
        if spec is not None:
            positions[role] = panel.column_position(spec, role)
    seen = {}
    for role, j in positions.items():
        if j in seen:
            raise ValueError(
                f"`{seen[j]}` and `{role}` must name different columns; both name "
                f"{named[role]!r}."
            )
        seen[j] = role
    w = positions.get("weights")
    if w is not None and np.nanmin(panel.values[:, w], initial=0.0) < 0:
        raise ValueError(
            f"`weights` column {named['weights']!r} has negative values; weights "
            "must be >= 0 (e.g. market capitalisation)."
        )
    extra = [
        panel.column_position(spec, "passthrough")
        for spec in _passthrough_specs(getattr(estimator, "passthrough", None))
    ]
    passthrough = np.array(sorted(set(positions.values()) | set(extra)), dtype=np.intp)
    features = np.setdiff1d(np.arange(panel.values.shape[1]), passthrough)
    roles = Roles(features, positions, passthrough)
    _check_upstream(estimator, roles, X, panel, verb)
    return roles


def _check_upstream(estimator, roles, X, panel, verb):
    """Raise if the step that made ``X`` gave a column another role."""
    upstream = getattr(X, "attrs", {}).get(ROLES_ATTR)
    if not upstream or panel.columns is None:
        return
    columns = list(panel.columns)
    producer = upstream.get("producer", "the step before")
    name = type(estimator).__name__
    was_passthrough = set(upstream.get("passthrough", ()))
    was_feature = set(upstream.get("features", ()))
    wrong = [columns[j] for j in roles.features if columns[j] in was_passthrough]
    if wrong:
        raise ValueError(
            f"`X` columns {wrong} are not characteristics: {producer} passed them "
            f"through unchanged (its `groups`, `weights` or `passthrough`), but "
            f"{name} would {verb} them as characteristics. Name them here too, "
            f"e.g. `{name}(passthrough={wrong!r})`, or in the role this step has "
            "for them."
        )
    for role, j in roles.named.items():
        if columns[j] in was_feature:
            raise ValueError(
                f"`{role}` column {columns[j]!r} was transformed as a "
                f"characteristic by {producer} before it reached {name}. Name it "
                f"in that step's `passthrough` (e.g. `passthrough=[{columns[j]!r}]`)"
                " so that it arrives unchanged."
            )
