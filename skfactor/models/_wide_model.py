"""What the two wide (date x factor, date x asset) models share."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["WideModelMixin", "mean_r2", "nanmean_or_nan"]


def nanmean_or_nan(values):
    """The mean of the finite ``values`` (a float), NaN when there is none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else np.nan


def mean_r2(y, pred, sample_weight=None):
    """Mean over columns of each column's R² on the rows where both are finite."""
    ok = ~np.isnan(y) & ~np.isnan(pred)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    if w.shape != (len(y),):
        raise ValueError(
            f"`sample_weight` must have one weight per date, shape ({len(y)},); "
            f"got shape {w.shape}."
        )
    w = np.where(ok, w[:, None], 0.0)
    r = np.where(ok, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * r).sum(axis=0) / w.sum(axis=0)
        ssr = (w * (r - np.where(ok, pred, 0.0)) ** 2).sum(axis=0)
        tss = (w * (r - mean) ** 2).sum(axis=0)
        r2 = 1.0 - ssr / tss
    return nanmean_or_nan(r2)


class WideModelMixin:
    """Tags, term names and output containers of the time-series models.

    Both take factor returns ``X`` (date x factor) and asset returns ``y``
    (date x asset, or one series) and give date x asset outputs.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags

    def _terms(self):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        return ["const"] * int(self.fit_intercept) + list(names)

    def _wrap(self, values, dates):
        """Date x asset output in the container of the inputs."""
        if self._single:
            values = values[:, 0]
            if dates is None:
                return values
            return pd.Series(values, index=dates, name=self.assets_[0])
        if dates is None:
            return values
        # ``values`` is always a fresh array of ours: no copy (pandas 3 copies).
        return pd.DataFrame(values, index=dates, columns=self.assets_, copy=False)

    def _new_columns(self, y, wide):
        """``partial_fit``'s new returns in the order of the fitted, then new, assets.

        A DataFrame ``y`` is matched by label: a fitted asset it omits gets
        NaN (a delisting), a label not fitted before is added after the
        fitted ones in ``y``'s order (a listing). An array must hold the
        fitted assets, in order.
        """
        fitted = self.assets_
        if not isinstance(y, pd.DataFrame):
            if wide.R.shape[1] != len(fitted):
                raise ValueError(
                    f"`y` must hold the {len(fitted)} fitted assets in order (an "
                    f"array has no labels to match); got {wide.R.shape[1]} "
                    "columns. Pass a DataFrame to add or omit assets by label."
                )
            return wide.R, fitted
        if wide.assets.equals(fitted):  # the usual day: the same assets
            return wide.R, fitted
        assets = fitted.append(wide.assets[~wide.assets.isin(fitted)])
        R = np.full((len(wide.R), len(assets)), np.nan)
        R[:, assets.get_indexer(wide.assets)] = wide.R
        return R, assets
