"""The tables of a model's report: summary, factor returns, per-date diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skfactor.metrics._ic import information_coefficient
from skfactor.panel._segments import Segments
from skfactor.panel._validation import date_codes

__all__ = ["ModelSection", "fitted_model"]

_SUPPORTED = ("CrossSectionalFactorModel", "TwoPassFactorModel")


def _supported(model):
    from skfactor.models import CrossSectionalFactorModel, TwoPassFactorModel

    if not isinstance(model, (CrossSectionalFactorModel, TwoPassFactorModel)):
        raise TypeError(
            "`FactorReport.from_model` reports a CrossSectionalFactorModel or a "
            f"TwoPassFactorModel; got {type(model).__name__}. For a factor's "
            "tear sheet, call `FactorReport(factor, returns)`."
        )
    return isinstance(model, CrossSectionalFactorModel)


def fitted_model(model, X, y):
    """The fitted model to report, and whether the report fitted it.

    A fitted model is used as is; an unfitted one is cloned and fitted on
    ``X, y`` (the cross-sectional model with ``condition_number=True``).
    """
    cross_sectional = _supported(model)
    try:
        check_is_fitted(model)
    except NotFittedError:
        if X is None or y is None:
            raise ValueError(
                f"This {type(model).__name__} is not fitted and no data was "
                "given; pass `X` and `y` to fit it, e.g. "
                "`FactorReport.from_model(model, X, y)`, or fit it first."
            ) from None
        model = clone(model)
        if cross_sectional:
            model.set_params(condition_number=True)
        return model.fit(X, y), True
    if (X is None) != (y is None):
        raise ValueError(
            "Give both `X` and `y` (the data to evaluate the model on), or neither."
        )
    return model, False


def _long(frame, like):
    """A wide date x asset frame as a (date, asset) Series on ``like``'s grid."""
    frame = pd.DataFrame(frame).reindex(index=like.index, columns=like.columns)
    return frame.rename_axis(index="date", columns="asset").stack()


def _evaluation(model, X, y, cross_sectional):
    """Per date of ``X``: rows, in-sample flag, rank IC of the predictions, RMS."""
    resid = model.residuals(X, y)  # validates y against X
    pred = model.predict(X)
    if cross_sectional:
        truth = np.asarray(y, dtype=np.float64).reshape(-1)
        truth = pd.Series(truth, index=pred.index)
    else:  # wide date x asset: to (date, asset) rows
        pred = pd.DataFrame(pred)
        truth, resid, pred = _long(y, pred), _long(resid, pred), _long(pred, pred)
    ic = information_coefficient(truth, pred)
    codes, dates = date_codes(truth.index)
    seg = Segments(codes, len(dates))
    both = seg.sort((truth + pred).to_numpy(dtype=np.float64))
    r = seg.sort(resid.to_numpy(dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(seg.nansum(r * r) / seg.count(r))
    return pd.DataFrame(
        {
            "nobs": seg.count(both),
            "in_sample": dates.isin(model.params_.index),
            "ic": ic.reindex(dates).to_numpy(),
            "specific_rms": rms,
        },
        index=dates,
    )


class ModelSection:
    """Every table of the report of one fitted model (see ``from_model``)."""

    def __init__(self, model, X, y, *, cov_type, refitted):
        cross_sectional = _supported(model)
        self.model = model
        self.name = type(model).__name__
        self.refitted = refitted
        self.summary = model.summary(cov_type=cov_type)
        terms = model.params_.columns
        self.factor_returns = model.params_.loc[:, terms != "const"]
        # What the per-date coefficients are called on the page.
        self.returns_label = "factor returns" if cross_sectional else "risk premia"
        if cross_sectional:
            self.diagnostics = model.diagnostics_
        else:
            self.diagnostics = pd.concat([model.nobs_, model.rsquared_], axis=1)
        self.factor_return_summary = _factor_return_summary(self.factor_returns)
        self.evaluation = None
        if X is not None:
            self.evaluation = _evaluation(model, X, y, cross_sectional)

    @property
    def diagnostics_summary(self) -> pd.DataFrame:
        """Mean, min, median and max of each diagnostic over the dates.

        ``status`` and a column never computed (the condition number of a
        model fitted without ``condition_number=True``) are left out.
        """
        table = self.diagnostics.drop(columns="status", errors="ignore")
        table = table.astype(np.float64).dropna(axis=1, how="all")
        return pd.DataFrame(
            {
                "mean": table.mean(),
                "min": table.min(),
                "median": table.median(),
                "max": table.max(),
            }
        ).rename_axis(index="diagnostic")


def _factor_return_summary(returns):
    """Per factor: mean, volatility, worst and best date, dates estimated."""
    return pd.DataFrame(
        {
            "mean": returns.mean(),
            "std": returns.std(ddof=1),
            "min": returns.min(),
            "max": returns.max(),
            "n_dates": returns.count(),
        }
    ).rename_axis(index="term")
