"""Per-date estimators on a Dask panel: each partition is a set of whole dates.

Transforms and predictions map over the partitions lazily. A fit uses the
estimator's date-block protocol (``skfactor/models/_protocol.py``): each
partition's ``fit_block`` (per-date results and pooled sums, no global check
and no warning) runs on the workers, and ``combine_blocks`` on the client
combines them, makes the global checks and warns once: the pandas ``fit`` is
the combination of one block, so both paths share one logic.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from skfactor.dask._layout import (
    ASSET,
    check_panel,
    local_panel,
    map_panel,
    map_partition_results,
)
from skfactor.dask._memory import unsized
from skfactor.portfolio import QuantilePortfolioFactor
from skfactor.utils._progress import compute
from skfactor.utils._sklearn import check_is_fitted
from skfactor.utils._typing import DaskFrame, DaskSeries

__all__ = ["fit_by_date", "predict_by_date", "transform_by_date"]


def _steps(estimator):
    if isinstance(estimator, Pipeline):
        return [s for _, s in estimator.steps if s is not None and s != "passthrough"]
    return [estimator]


def _stateless(step):
    """Whether ``step`` learns nothing across dates (a per-date transformer)."""
    return not step.__sklearn_tags__().requires_fit


def _check_transformers(steps, name="estimator"):
    """Raise unless every step is a per-date transformer or already fitted."""
    for step in steps:
        if not hasattr(step, "transform"):
            raise TypeError(
                f"`{name}` step {type(step).__name__} has no `transform`; "
                "transform_by_date takes transformers (fit a model with "
                "`fit_by_date`)."
            )
        if _stateless(step):
            continue
        try:
            check_is_fitted(step)
        except NotFittedError as exc:
            raise ValueError(
                f"`{name}` step {type(step).__name__} learns from the whole panel "
                "in `fit` (it is not a per-date transformer), so fitting it "
                "partition by partition would learn from each partition alone. "
                "Fit it first (on pandas, or on a sample), then pass the fitted "
                "step."
            ) from exc


def _columns(ddf, columns):
    if columns is None:
        return [c for c in ddf.columns if c != ASSET]
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in ddf.columns]
    if missing:
        raise ValueError(
            f"`columns` {missing} are not columns of `ddf`; it has {list(ddf.columns)}."
        )
    return columns


def _fake_panel(ddf, columns):
    """A small non-empty panel of ``ddf``'s dtypes (two dates, six assets).

    Dask's own fake rows have an NA asset and constant values, on which a
    per-date step cannot run; this one has distinct assets and random values.
    """
    meta = ddf._meta_nonempty
    n_assets = 6
    dates = pd.Index(meta.index.unique()[:2]).repeat(n_assets)
    k = len(dates)
    assets = pd.Series([f"a{i}" for i in range(n_assets)] * (k // n_assets))
    rng = np.random.default_rng(0)
    data = {ASSET: assets.astype(ddf._meta[ASSET].dtype).to_numpy()}
    for c in columns:
        dtype = ddf._meta[c].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(
            dtype
        ):
            data[c] = rng.standard_normal(k).astype(dtype)
        else:
            data[c] = np.resize(meta[c].to_numpy(), k)
    frame = pd.DataFrame(data, index=dates)
    frame = frame.astype({c: ddf._meta[c].dtype for c in columns})
    return frame.set_index(ASSET, append=True)


def _transform_meta(estimator, ddf, columns):
    """The empty output frame of :func:`transform_by_date` (its declared dtypes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = estimator.transform(_fake_panel(ddf, columns)[columns])
        if isinstance(out, pd.Series):
            out = out.to_frame()
        dtypes = out.dtypes
    except Exception:  # noqa: BLE001 - any failure: declare float64 outputs
        dtypes = pd.Series(
            {
                c: (
                    np.dtype(np.float64)
                    if pd.api.types.is_numeric_dtype(ddf._meta[c])
                    else ddf._meta[c].dtype
                )
                for c in columns
            }
        )
    meta = ddf._meta.drop(columns=columns)
    for c, dtype in dtypes.items():
        meta[c] = pd.Series([], dtype=dtype, index=meta.index)
    return meta


def _conform(out, meta):
    """``out`` with ``meta``'s columns and dtypes (declared dtypes are computed)."""
    out = out[list(meta.columns)]
    wrong = {c: t for c, t in meta.dtypes.items() if out[c].dtype != t}
    return out.astype(wrong) if wrong else out


def _transform_part(panel, estimator, columns, meta):
    if not len(panel):  # a filter can empty a partition; estimators refuse 0 rows
        return meta.copy()
    out = estimator.transform(panel[columns])
    if isinstance(out, pd.Series):
        out = out.to_frame()
    # The output's blocks joined as they are (one 2-D block from the per-date
    # steps), not copied column by column: a fit on the result then reads
    # its loadings without interleaving them (5 MiB per 315 x 2,000 x 5).
    rest = panel.drop(columns=[*columns, *out.columns], errors="ignore")
    rest = rest.reset_index(ASSET)
    result = pd.concat([rest, out.set_axis(rest.index, axis=0)], axis=1)
    return _conform(result, meta)


def transform_by_date(
    estimator: Any, ddf: DaskFrame, columns: Sequence[str] | None = None
) -> DaskFrame:
    """Apply a per-date transformer to every partition of a Dask panel, lazily.

    Nothing is computed: the result is a Dask panel on ``ddf``'s divisions,
    whose declared dtypes are those computed (``float64`` values from any
    float input, label columns kept). A partition without rows (e.g. after a
    row filter) gives no rows.

    Parameters
    ----------
    estimator : transformer or Pipeline of transformers
        Per-date steps (:class:`~skfactor.Winsorizer`,
        :class:`~skfactor.CrossSectionalZScore`,
        :class:`~skfactor.QuantilePortfolioFactor` weights,
        :class:`~skfactor.CrossSectionalNeutralizer`), or fitted steps that
        learned from the whole panel (a global ``Winsorizer``, a fitted
        :class:`~skfactor.FactorComposite`): fit those first.
    ddf : dask DataFrame
        A Dask panel (indexed by date, known divisions, an ``asset`` column).
    columns : list of str, optional
        The columns given to ``estimator`` as ``X`` (default: all but
        ``asset``).

    Returns
    -------
    dask DataFrame
        ``ddf`` with ``columns`` replaced by the transformer's output columns
        (after the other columns).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skfactor import CrossSectionalZScore, Winsorizer
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, gather, transform_by_date
    >>> data = make_factor_panel(n_dates=20, n_assets=10, random_state=0)
    >>> ddf = from_pandas(data.X.assign(ret=data.y), 3)
    >>> steps = make_pipeline(Winsorizer(), CrossSectionalZScore())
    >>> Z = transform_by_date(steps, ddf, ["value", "size", "momentum"])
    >>> expected = steps.transform(data.X)
    >>> bool((gather(Z)[expected.columns] == expected).all().all())
    True
    """
    check_panel(ddf)
    columns = _columns(ddf, columns)
    _check_transformers(_steps(estimator))
    meta = _transform_meta(estimator, ddf, columns)
    return map_panel(
        ddf, _transform_part, estimator, columns, meta, meta=meta, unsized=unsized(ddf)
    )


def _fit_part(part, number, divisions, estimator, X, y, sample_weight, check_in_task):
    """One partition's per-date fit: fitted per-date transformers and a partial."""
    panel = local_panel(part, number, divisions, unsized=check_in_task)
    if not len(panel):
        return None
    Xt = panel[X]
    fitted = []
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps[:-1]:
            if step is None or step == "passthrough":
                fitted.append((name, step))
                continue
            if _stateless(step):
                step = clone(step)
                Xt = step.fit_transform(Xt)
            else:
                Xt = step.transform(Xt)
            fitted.append((name, step))
        final = clone(estimator.steps[-1][1])
    else:
        final = clone(estimator)
    weights = {} if sample_weight is None else {"sample_weight": panel[sample_weight]}
    return fitted, final.fit_block(Xt, panel[y], **weights)


def fit_by_date(
    estimator: Any,
    ddf: DaskFrame,
    X: Sequence[str],
    y: str,
    *,
    sample_weight: str | None = None,
    verbose: bool = False,
) -> Any:
    """Fit a per-date estimator on a Dask panel, partition by partition.

    Each partition gives its dates' results (and pooled sums) on a worker,
    without warning; the client combines them, makes the checks that need
    every date (no complete row, loadings collinear on every date) and warns
    once, as the pandas ``fit``. One computation.

    Parameters
    ----------
    estimator : CrossSectionalFactorModel, QuantilePortfolioFactor or Pipeline
        A Pipeline's earlier steps are per-date transformers (or fitted).
    ddf : dask DataFrame
        A Dask panel (indexed by date, known divisions, an ``asset`` column).
    X : list of str
        The columns given as ``X`` (loadings, characteristics).
    y : str
        The returns column.
    sample_weight : str, optional
        A column of regression weights (CrossSectionalFactorModel).
    verbose : bool, default=False
        A progress bar of the finished partitions on stderr (tqdm, the
        ``report`` extra).

    Returns
    -------
    estimator
        ``estimator``, fitted as by its ``fit`` on the whole panel: its small
        attributes (dates x factors) are pandas; ``summary()``, ``predict``
        and the risk model work as after a pandas fit.

    Examples
    --------
    >>> from skfactor import CrossSectionalFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import fit_by_date, from_pandas
    >>> data = make_factor_panel(n_dates=20, n_assets=30, random_state=0)
    >>> ddf = from_pandas(data.X.assign(ret=data.y), 3)
    >>> X = ["value", "size", "momentum"]
    >>> model = fit_by_date(CrossSectionalFactorModel(), ddf, X, "ret")
    >>> expected = CrossSectionalFactorModel().fit(data.X, data.y)
    >>> bool((model.summary() - expected.summary()).abs().max().max() < 1e-10)
    True
    """
    check_panel(ddf)
    X = _columns(ddf, X)
    _columns(ddf, [y] + ([] if sample_weight is None else [sample_weight]))
    steps = _steps(estimator)
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if getattr(final, "block_axis", None) != "dates":
        raise TypeError(
            "`estimator` must be a CrossSectionalFactorModel or a "
            "QuantilePortfolioFactor (or a Pipeline ending in one); got "
            f"{type(final).__name__}. Fit time-series models with `fit_by_asset`."
        )
    if sample_weight is not None and isinstance(final, QuantilePortfolioFactor):
        raise ValueError(
            "`sample_weight` is for CrossSectionalFactorModel; QuantilePortfolioFactor "
            "value-weights with its `weights` column."
        )
    _check_transformers(steps[:-1])
    tasks = map_partition_results(
        ddf, _fit_part, estimator, X, y, sample_weight, unsized(ddf)
    )
    done = compute(*tasks, verbose=verbose, desc="partitions")
    results = [r.iloc[0] for r in done if r.iloc[0] is not None]
    if not results:
        raise ValueError("`ddf` has no rows; there is nothing to fit.")
    if isinstance(estimator, Pipeline):
        fitted = results[0][0]
        estimator.steps = [*fitted, estimator.steps[-1]]
    final.combine_blocks([block for _, block in results])
    return estimator


def _predict_part(panel, estimator, X, meta):
    if not len(panel):  # a filter can empty a partition; estimators refuse 0 rows
        return meta.copy()
    pred = estimator.predict(panel[X])
    out = pd.DataFrame(
        {"prediction": np.asarray(pred, dtype=np.float64)}, index=panel.index
    )
    return _conform(out.reset_index(ASSET), meta)


def predict_by_date(
    estimator: Any, ddf: DaskFrame, X: Sequence[str]
) -> DaskFrame | DaskSeries:
    """Predictions of a fitted estimator on every partition of a Dask panel, lazily.

    A partition without rows (e.g. after a row filter) gives no rows.

    Parameters
    ----------
    estimator : fitted estimator with ``predict``
        E.g. a CrossSectionalFactorModel (or Pipeline) from :func:`fit_by_date`.
    ddf : dask DataFrame
        A Dask panel.
    X : list of str
        The columns given as ``X``.

    Returns
    -------
    dask DataFrame
        Indexed by date on ``ddf``'s divisions, columns ``asset`` and
        ``prediction``.

    Examples
    --------
    >>> from skfactor import CrossSectionalFactorModel
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.dask import from_pandas, gather, predict_by_date
    >>> data = make_factor_panel(n_dates=20, n_assets=30, random_state=0)
    >>> model = CrossSectionalFactorModel().fit(data.X, data.y)
    >>> pred = predict_by_date(model, from_pandas(data.X, 3), list(data.X.columns))
    >>> list(pred.columns)
    ['asset', 'prediction']
    >>> bool((gather(pred)["prediction"] - model.predict(data.X)).abs().max() < 1e-12)
    True
    """
    check_panel(ddf)
    X = _columns(ddf, X)
    check_is_fitted(estimator)
    meta = ddf._meta[[ASSET]].assign(prediction=np.float64())
    return map_panel(
        ddf, _predict_part, estimator, X, meta, meta=meta, unsized=unsized(ddf)
    )
