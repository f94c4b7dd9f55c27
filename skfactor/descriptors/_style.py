"""StyleExposures: descriptors combined into CNE5's ten style factors."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from skfactor.descriptors._columns import NamedOutputMixin
from skfactor.descriptors._standardize import (
    mean_weights,
    sqrt_cap,
    standardize,
)
from skfactor.panel._regression import segment_regression
from skfactor.panel._roles import _passthrough_specs
from skfactor.panel._transformer import PanelTransformer, shared_constraints
from skfactor.utils._sklearn import StrOptions, check_is_fitted

__all__ = ["CNE5_ORTHOGONALIZE", "CNE5_STYLES", "StyleExposures"]

# CNE5's styles and the weights of their descriptors (the forecast terms of
# growth, egrlf and egrsf, and epfwd count only where given).
CNE5_STYLES = {
    "beta": {"beta": 1.0},
    "momentum": {"rstr": 1.0},
    "size": {"lncap": 1.0},
    "earnings_yield": {"epfwd": 0.68, "cetop": 0.21, "etop": 0.11},
    "residual_volatility": {"dastd": 0.74, "cmra": 0.16, "hsigma": 0.10},
    "growth": {"egrlf": 0.18, "egrsf": 0.11, "egro": 0.24, "sgro": 0.47},
    "book_to_price": {"btop": 1.0},
    "leverage": {"mlev": 0.38, "dtoa": 0.35, "blev": 0.27},
    "liquidity": {"stom": 0.35, "stoq": 0.35, "stoa": 0.30},
    "nonlinear_size": {"nlsize": 1.0},
}

# Each style made orthogonal to others by a per-date regression weighted by
# the square root of cap (CNE5).
CNE5_ORTHOGONALIZE = {
    "residual_volatility": ("beta", "size"),
    "liquidity": ("size",),
}


class StyleExposures(NamedOutputMixin, PanelTransformer):
    r"""Style factor exposures from descriptor columns, as CNE5 builds them.

    On each date, with :math:`Z(x) = (x - \sum_i c_i x_i / \sum_i c_i) /
    \sigma_x` (mean weighted by the market cap :math:`c`, standard deviation
    equal-weighted about the plain mean, ``ddof=0``; ``standardize="equal"``
    weights the mean equally):

    1. each descriptor column :math:`d` is standardised, capped at
       :math:`\pm` ``clip`` and standardised again:
       :math:`\tilde d = Z(\min(\max(Z(d), -3), 3))`;
    2. each style is the weighted mean of its descriptors, re-weighted over
       those present for the asset on that date,
       :math:`s = \sum_{d\,\text{present}} w_d \tilde d /
       \sum_{d\,\text{present}} w_d` (NaN where none is present);
    3. residual volatility is replaced by its residual on
       :math:`[1, \text{beta}, \text{size}]`, liquidity by its residual on
       :math:`[1, \text{size}]`, each a least-squares regression per date
       weighted by :math:`\sqrt{c}` (``orthogonalize``; regressors that are
       not among the styles are left out);
    4. every style is standardised once more (no capping).

    The descriptor columns are recognised by their names (``beta``,
    ``hsigma``, ``rstr``, ``lncap``, ``dastd``, ``cmra``, ``stom``, ``stoq``,
    ``stoa``, ``nlsize``, ``btop``, ``etop``, ``cetop``, ``epfwd``, ``mlev``,
    ``dtoa``, ``blev``, ``sgro``, ``egro``, ``egrlf``, ``egrsf``: what the
    descriptor classes output). With the default ``styles`` a style none of
    whose descriptors is in ``X`` is left out; a style given explicitly must
    have one. Any other column of ``X`` is an error unless it is ``cap`` or
    named in ``passthrough``. Rows without a cap (or with one <= 0) count in
    the standard deviations but carry no weight in the means and
    regressions; their orthogonalised styles are NaN (as are those of rows
    missing a regressor). The output feeds :class:`~skfactor.CrossSectionalFactorModel`
    (regression weights :math:`\sqrt c` and industry dummies passed through).

    Parameters
    ----------
    cap : str or int, default="cap"
        Column of market caps. Not returned (name it in ``passthrough`` to
        keep it).
    styles : dict, default=None
        ``{style: {descriptor: weight}}``; None: :data:`CNE5_STYLES`, the
        styles present.
    orthogonalize : dict, default=None
        ``{style: [styles to regress it on]}``; None: CNE5's (residual
        volatility on beta and size, liquidity on size); ``{}``: none.
    standardize : {"cap", "equal"}, default="cap"
        Weighting of the mean in every standardisation.
    clip : float, default=3.0
        Bound of the descriptors' capping (``None``: no capping).
    passthrough : list of str or int, default=None
        Columns returned unchanged after the styles (regression weights,
        industry dummies).

    Attributes
    ----------
    styles_ : list of str
        The styles made from the columns seen in ``fit``, in output order.
    n_features_in_, feature_names_in_
        As every transformer.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfactor.descriptors import StyleExposures
    >>> rng = np.random.default_rng(0)
    >>> index = pd.MultiIndex.from_product([range(3), range(50)],
    ...                                    names=["date", "asset"])
    >>> X = pd.DataFrame({"cap": rng.lognormal(size=150), "btop": rng.normal(size=150),
    ...                   "etop": rng.normal(size=150)}, index=index)
    >>> S = StyleExposures().fit_transform(X)
    >>> list(S.columns)
    ['earnings_yield', 'book_to_price']
    >>> w = X["cap"] / X["cap"].groupby(level="date").transform("sum")
    >>> bool(S.mul(w, axis=0).groupby(level="date").sum().abs().max().max() < 1e-12)
    True
    """

    _verb = "combine"
    _parameter_constraints: dict = {
        "cap": [str, numbers.Integral],
        "styles": [dict, None],
        "orthogonalize": [dict, None],
        "standardize": [StrOptions({"cap", "equal"})],
        "clip": [numbers.Real, None],
        **shared_constraints("passthrough"),
    }

    def __init__(
        self,
        *,
        cap: str | int = "cap",
        styles: Mapping[str, Mapping[str, float]] | None = None,
        orthogonalize: Mapping[str, Sequence[str]] | None = None,
        standardize: str = "cap",
        clip: float | None = 3.0,
        passthrough: Sequence[str | int] | None = None,
    ) -> None:
        self.cap = cap
        self.styles = styles
        self.orthogonalize = orthogonalize
        self.standardize = standardize
        self.clip = clip
        self.passthrough = passthrough

    def _requires_fit(self):
        return False

    def _named_roles(self):
        return {"cap": self.cap}

    def _plan(self, names):
        """``[(style, {descriptor: weight})]`` for the descriptor columns ``names``."""
        explicit = self.styles is not None
        styles = CNE5_STYLES if not explicit else self.styles
        known = {d for weights in styles.values() for d in weights}
        unknown = [c for c in names if c not in known]
        if unknown:
            raise ValueError(
                f"`X` columns {unknown} are not descriptors of any style "
                f"(known: {sorted(known)}); drop them, name them in `passthrough`, "
                "or add them to a style in `styles`."
            )
        plan = []
        for style, weights in styles.items():
            present = {d: float(w) for d, w in weights.items() if d in names}
            if present:
                plan.append((style, present))
            elif explicit:
                raise ValueError(
                    f"`styles` asks for {style!r}, but none of its descriptors "
                    f"{list(weights)} is a column of `X`."
                )
        return plan

    def _pairs(self, plan):
        """``[(style, [regressors present])]`` of the orthogonalisations to do."""
        made = [style for style, _ in plan]
        explicit = self.orthogonalize is not None
        spec = CNE5_ORTHOGONALIZE if not explicit else self.orthogonalize
        pairs = []
        for style, on in spec.items():
            missing = [s for s in (style, *on) if s not in made]
            if explicit and missing:
                raise ValueError(
                    f"`orthogonalize` names styles {missing} that are not made from "
                    f"`X` (made: {made})."
                )
            regressors = [s for s in on if s in made]
            if style in made and regressors:
                pairs.append((style, regressors))
        return pairs

    def _transform(self, panel, roles):
        names = self._feature_names(panel, roles)
        plan = self._plan(names)
        seg, values = panel.segments, panel.values
        cap = values[:, roles.position("cap")]
        cap_weight = np.where(cap > 0, cap, np.nan)
        mean_weight = None
        if self.standardize == "cap":
            mean_weight = mean_weights(seg, cap_weight)  # once for every column

        def z(x):
            return standardize(seg, x, mean_weight)

        column = dict(zip(names, roles.features, strict=True))
        out = np.empty((len(values), len(plan)))
        for k, (_, weights) in enumerate(plan):
            total = np.zeros(len(values))
            norm = np.zeros(len(values))
            for d, w in weights.items():
                x = z(values[:, column[d]])
                if self.clip is not None:
                    x = z(np.clip(x, -self.clip, self.clip))
                present = ~np.isnan(x)
                total += np.where(present, w * x, 0.0)
                norm += np.where(present, w, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, k] = np.where(
                    norm > 0, total / np.where(norm > 0, norm, 1), np.nan
                )
        position = {style: k for k, (style, _) in enumerate(plan)}
        raw = out.copy()  # regress on the styles before any is orthogonalised
        weight = sqrt_cap(cap)
        for style, on in self._pairs(plan):
            X = raw[:, [position[s] for s in on]]
            out[:, position[style]] = segment_regression(
                seg, X, raw[:, position[style]], weight
            ).resid
        for k in range(len(plan)):
            out[:, k] = z(out[:, k])
        kept = values[:, roles.passthrough[roles.passthrough != roles.position("cap")]]
        return np.column_stack([out, kept])

    def _fit(self, panel, roles, y):
        self.styles_ = self._styles(panel, roles)

    def _styles(self, panel, roles):
        return [style for style, _ in self._plan(self._feature_names(panel, roles))]

    @staticmethod
    def _feature_names(panel, roles):
        if panel.columns is None:
            raise ValueError(
                "`X` must have named columns (a DataFrame): StyleExposures finds "
                "the descriptors by their names."
            )
        return [str(panel.columns[j]) for j in roles.features]

    def _kept(self, columns, roles):
        cap = roles.position("cap")
        return [columns[j] for j in roles.passthrough if j != cap]

    def _output_columns(self, panel, roles):
        return self._styles(panel, roles) + self._kept(list(panel.columns), roles)

    def _names_out(self, input_features):
        if input_features is None:
            check_is_fitted(self, "feature_names_in_")
            input_features = self.feature_names_in_
        input_features = [str(c) for c in input_features]
        skip = {self.cap, *_passthrough_specs(self.passthrough)}
        descriptors = [c for c in input_features if c not in skip]
        styles = [s for s, _ in self._plan(descriptors)]
        return styles + [c for c in input_features if c in skip and c != self.cap]
