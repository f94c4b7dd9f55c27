"""FactorComposite: one score from several characteristics, weighted by their IC."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from skfactor.metrics._ic import information_coefficient
from skfactor.panel._align import align_rows
from skfactor.panel._transformer import PanelTransformer, shared_constraints
from skfactor.utils._sklearn import StrOptions, check_is_fitted
from skfactor.utils._typing import ArrayLike, MatrixLike, TargetLike

__all__ = ["FactorComposite"]

_NAME = "composite"


def _ic_table(panel, values, y, method):
    """Per-date IC of each column of ``values`` against ``y`` (dates x columns)."""
    index = panel.index if isinstance(panel.index, pd.MultiIndex) else None
    target = pd.Series(y, index=index) if index is not None else y
    columns = {}
    for k in range(values.shape[1]):
        pred = values[:, k] if index is None else pd.Series(values[:, k], index=index)
        ic = information_coefficient(target, pred, method=method)
        columns[k] = np.atleast_1d(np.asarray(ic, dtype=np.float64))
    return np.column_stack(list(columns.values())) if columns else np.empty((1, 0))


def composite_weights(ic, method):
    r"""Weights of the characteristics from their per-date IC (dates x columns).

    ``"equal"``: the sign of the mean IC; ``"ic"``: the mean IC; ``"icir"``:
    mean / std (``ddof=1``); ``"max_ir"``: :math:`\Sigma^{-1}\bar{IC}` with
    :math:`\Sigma` the covariance of the IC over the dates where all are
    defined. Undefined weights are 0; the result is scaled to
    :math:`\sum_k |w_k| = 1` (all zero when nothing is defined).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.sum(~np.isnan(ic), axis=0)
        mean = np.where(n > 0, np.nansum(ic, axis=0) / np.maximum(n, 1), np.nan)
        if method == "equal":
            w = np.sign(mean)
        elif method == "ic":
            w = mean
        elif method == "icir":
            w = mean / np.nanstd(ic, axis=0, ddof=1)
        else:  # max_ir
            full = ic[~np.isnan(ic).any(axis=1)]
            w = np.full(ic.shape[1], np.nan)
            if len(full) > ic.shape[1]:
                cov = np.atleast_2d(np.cov(full, rowvar=False, ddof=1))
                if np.linalg.matrix_rank(cov) == ic.shape[1]:
                    w = np.linalg.solve(cov, full.mean(axis=0))
    w = np.where(np.isfinite(w), w, 0.0)
    total = np.abs(w).sum()
    return w / total if total > 0 else w


class FactorComposite(PanelTransformer):
    r"""Combine characteristics into one score, weighted by their training IC.

    ``fit(X, y)`` computes each characteristic's per-date information
    coefficient against the forward returns ``y`` (see
    :func:`skfactor.metrics.information_coefficient`) on the training rows
    only, and learns one weight per characteristic:

    - ``"equal"``: :math:`w_k = \operatorname{sign}(\overline{IC}_k)`;
    - ``"ic"``: :math:`w_k = \overline{IC}_k`;
    - ``"icir"``: :math:`w_k = \overline{IC}_k / \operatorname{sd}(IC_k)`;
    - ``"max_ir"``: :math:`w = \Sigma_{IC}^{-1}\,\overline{IC}` (the weights of
      the highest IR of the combined IC), :math:`\Sigma_{IC}` the covariance
      (``ddof=1``) of the ICs over the dates where all are defined.

    A characteristic with a negative IC therefore enters with a negative
    weight. Weights that cannot be estimated (too few dates, a constant IC,
    a singular :math:`\Sigma_{IC}`) are 0; the weights are scaled to
    :math:`\sum_k |w_k| = 1`. The score of a row is the weighted mean over its
    present characteristics,

    .. math::

        s_i = \frac{\sum_{k \in P_i} w_k x_{ik}}{\sum_{k \in P_i} |w_k|},

    with :math:`P_i` the characteristics not NaN in row :math:`i`; NaN when
    no characteristic with a nonzero weight is present. Characteristics are
    expected on comparable scales (z-score them first).

    Unlike the per-date steps it has no ``groups``, ``weights`` or ``n_jobs``:
    its weights are learned from every date's IC (a per-date IC within
    groups or weighted by caps would be a different signal, which
    :func:`~skfactor.metrics.information_coefficient` computes), and its
    transform is one elementwise pass, with nothing to share between threads.

    Parameters
    ----------
    method : {"equal", "ic", "icir", "max_ir"}, default="ic"
        How the weights are learned.
    ic_method : {"spearman", "pearson"}, default="spearman"
        Rank or linear IC.
    passthrough : list of str or int, default=None
        Columns of ``X`` that are not characteristics (identifiers, weights):
        ignored. See the user guide's "Column roles".

    Attributes
    ----------
    weights_ : Series of shape (n_characteristics,)
        The weight of each characteristic, labelled by column.
    ic_mean_ : Series of shape (n_characteristics,)
        Mean training IC of each characteristic.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> from skfactor import FactorComposite
    >>> from skfactor.datasets import make_factor_panel
    >>> data = make_factor_panel(n_dates=30, n_assets=100, random_state=0)
    >>> composite = FactorComposite(method="icir").fit(data.X, data.y)
    >>> composite.weights_.index.tolist()
    ['value', 'size', 'momentum']
    >>> composite.transform(data.X).columns.tolist()
    ['composite']
    """

    _verb = "combine"
    _parameter_constraints: dict = {
        "method": [StrOptions({"equal", "ic", "icir", "max_ir"})],
        "ic_method": [StrOptions({"spearman", "pearson"})],
        **shared_constraints("passthrough"),
    }

    def __init__(
        self,
        *,
        method: str = "ic",
        ic_method: str = "spearman",
        passthrough: Sequence[str | int] | None = None,
    ) -> None:
        self.method = method
        self.ic_method = ic_method
        self.passthrough = passthrough

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _requires_fit(self):
        return True

    def fit(self, X: MatrixLike, y: TargetLike) -> FactorComposite:
        """Learn the weights from the training rows' IC.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Characteristics: a (date, asset) panel, or one cross-section.
        y : Series of shape (n_rows,) or array-like
            Forward returns of the same rows (NaN allowed).

        Returns
        -------
        self : FactorComposite
            The fitted transformer.
        """
        return super().fit(X, y)

    def _fit(self, panel, roles, y):
        """Learn the weights from the training rows' IC against ``y``."""
        if y is None:
            raise ValueError(
                "FactorComposite requires y to be passed, but the target y is None: "
                "it learns its weights from the IC of each characteristic against "
                "forward returns; call `fit(X, forward_returns(returns))`."
            )
        target = _target(y, panel)
        values = panel.values[:, roles.features]
        ic = _ic_table(panel, values, target, self.ic_method)
        names = _names(panel, roles.features)
        with np.errstate(invalid="ignore"):
            n = np.sum(~np.isnan(ic), axis=0)
            mean = np.where(n > 0, np.nansum(ic, axis=0) / np.maximum(n, 1), np.nan)
        self.ic_mean_ = pd.Series(mean, index=names, name="ic_mean")
        self.weights_ = pd.Series(
            composite_weights(ic, self.method), index=names, name="weight"
        )

    def _transform(self, panel, roles):
        """The composite score of each row, as one column.

        Each row's score depends on that row alone, to the bit: it is the
        same whatever other rows (or Dask partition) share the call.
        """
        values = panel.values[:, roles.features]
        # Column by column, elementwise, in a fixed order (not a matrix
        # product, whose rounding depends on the BLAS and on the other rows of
        # the call): a row gets the same bits in any batch, e.g. a partition.
        num = np.zeros(len(values))
        den = np.zeros(len(values))
        for x, w in zip(values.T, self.weights_.to_numpy(), strict=True):
            present = ~np.isnan(x)
            num += np.where(present, x * w, 0.0)
            den += np.where(present, abs(w), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(den > 0, num / den, np.nan)
        return score[:, None]

    def _output_columns(self, panel, roles):
        return pd.Index([_NAME])

    def score(self, X: MatrixLike, y: TargetLike) -> float:
        """Mean per-date rank IC of the composite against ``y``.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features) or array-like
            Characteristics.
        y : Series of shape (n_rows,) or array-like
            Forward returns of the same rows: a Series is matched to ``X``'s
            rows by its index (any order; other keys are an error), an array
            by position.

        Returns
        -------
        score : float
            Mean over dates of the Spearman IC (dates where it is undefined
            left out; NaN if undefined everywhere). Greater is better, so
            :class:`~sklearn.model_selection.GridSearchCV` can select ``method``.
        """
        y = align_rows(y, X)
        s = np.asarray(self.transform(X), dtype=np.float64).reshape(-1)
        index = getattr(X, "index", None)
        if isinstance(index, pd.MultiIndex):
            ic = information_coefficient(
                pd.Series(_target(y, None), index=index), pd.Series(s, index=index)
            )
        else:
            ic = information_coefficient(_target(y, None), s)
        values = np.atleast_1d(np.asarray(ic, dtype=np.float64))
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else np.nan

    def get_feature_names_out(
        self, input_features: ArrayLike | None = None
    ) -> np.ndarray:
        """``["composite"]``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored.

        Returns
        -------
        names : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray([_NAME], dtype=object)


def _names(panel, features):
    if panel.columns is not None:
        return pd.Index([panel.columns[j] for j in features])
    return pd.Index([f"x{j}" for j in features])


def _target(y, panel):
    """``y`` as a float array in ``X``'s rows (a panel Series must match X)."""
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        if (
            panel is not None
            and panel.index is not None
            and not y.index.equals(panel.index)
        ):
            raise ValueError(
                "`y` and `X` have different indexes; align them first, e.g. "
                "`y.reindex(X.index)`."
            )
        return y.to_numpy(dtype=np.float64, na_value=np.nan)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"`y` must be 1-D (one return per row); got shape {y.shape}.")
    return y
