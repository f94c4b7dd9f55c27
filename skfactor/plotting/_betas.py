"""Rolling betas with standard-error bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skfactor.plotting._base import format_dates, get_ax, x_values

__all__ = ["plot_rolling_betas", "rolling_standard_errors"]


def _asset_position(model, asset):
    assets = model.assets_
    if asset is None:
        if len(assets) != 1:
            raise ValueError(
                f"`asset` is required: the model has {len(assets)} assets; pass one "
                f"of them, e.g. asset={assets[0]!r}."
            )
        return 0
    try:
        pos = assets.get_loc(asset)
    except KeyError:
        raise ValueError(
            f"`asset` {asset!r} is not one of the model's assets (`model.assets_`), "
            f"e.g. {list(assets[:3])!r}."
        ) from None
    if not isinstance(pos, int | np.integer):
        raise ValueError(f"`asset` {asset!r} appears more than once in the model.")
    return int(pos)


def rolling_standard_errors(model, X, y, asset=None):
    r"""Classical OLS standard errors of one asset's rolling estimates.

    For the window ending at :math:`t`, with :math:`Z` the regressors (a
    constant when the model has an intercept, then the factors) on the
    window's dates where the asset and every factor are observed, and
    :math:`s` the model's ``resid_vol_``, the standard errors are
    :math:`s \sqrt{\mathrm{diag}((Z'Z)^{-1})}`, as statsmodels
    ``RollingOLS(...).fit().bse``.

    Parameters
    ----------
    model : RollingFactorModel
        Fitted, without ``halflife``.
    X : DataFrame of shape (n_dates, n_factors) or array-like
        The factor returns it was fitted on.
    y : DataFrame of shape (n_dates, n_assets), Series or array-like
        The asset returns it was fitted on (or the asset's column alone).
    asset : label, default=None
        The asset; may be None when the model has one.

    Returns
    -------
    se : DataFrame of shape (n_dates, n_terms)
        Indexed by the model's dates, columns its terms (``const`` first when
        it has an intercept). NaN where the estimate is NaN.
    """
    if getattr(model, "halflife", None) is not None:
        raise ValueError(
            "Standard-error bands are for unweighted windows; the model has "
            f"`halflife`={model.halflife}. Pass `band=None`."
        )
    pos = _asset_position(model, asset)
    F = np.asarray(X, dtype=np.float64)
    if F.ndim == 1:
        F = F[:, None]
    n_dates, n_factors = model.coef_.shape[0], model.coef_.shape[2]
    if F.shape != (n_dates, n_factors):
        raise ValueError(
            f"`X` must be the factor returns the model was fitted on, shape "
            f"({n_dates}, {n_factors}); got shape {F.shape}."
        )
    label = model.assets_[pos]
    if isinstance(y, pd.DataFrame):
        if label in y.columns:
            r = y[label]
        elif y.shape[1] == 1:
            r = y.iloc[:, 0]
        else:
            raise ValueError(
                f"`y` has no column {label!r}; pass the returns the model was "
                "fitted on."
            )
    elif isinstance(y, pd.Series):
        r = y
    else:
        r = np.asarray(y, dtype=np.float64)
        r = r[:, pos] if r.ndim == 2 and r.shape[1] > 1 else r.reshape(len(r), -1)[:, 0]
    r = np.asarray(r, dtype=np.float64)
    if r.shape != (n_dates,):
        raise ValueError(
            f"`y` must be the returns the model was fitted on, {n_dates} dates; got "
            f"{r.shape[0]}."
        )
    ok = ~np.isnan(r) & ~np.isnan(F).any(axis=1)
    Z = np.where(ok[:, None], F, 0.0)
    if model.fit_intercept:
        Z = np.column_stack([ok.astype(np.float64), Z])
    # Window sums of Z'Z as differences of cumulative sums (exact for counts;
    # factor returns are small, so the differences lose nothing visible).
    cum = np.cumsum(Z[:, :, None] * Z[:, None, :], axis=0)
    S = cum.copy()
    w = model.window
    S[w:] -= cum[:-w]
    estimated = ~np.isnan(model.coef_[:, pos, :]).any(axis=1)
    p = Z.shape[1]
    S[~estimated] = np.eye(p)
    diag = np.diagonal(np.linalg.inv(S), axis1=1, axis2=2)
    se = model.resid_vol_[:, pos, None] * np.sqrt(diag)
    se[~estimated] = np.nan
    terms = (["const"] if model.fit_intercept else []) + _factor_names(model)
    return pd.DataFrame(se, index=model.dates_, columns=terms)


def _factor_names(model):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return [f"x{j}" for j in range(model.n_features_in_)]
    return [str(n) for n in names]


def _betas_frame(model, asset):
    pos = _asset_position(model, asset)
    betas = pd.DataFrame(
        model.coef_[:, pos, :], index=model.dates_, columns=_factor_names(model)
    )
    if model.fit_intercept:
        betas.insert(0, "const", model.intercept_[:, pos])
    return betas, model.assets_[pos]


def plot_rolling_betas(
    model_or_betas,
    asset=None,
    *,
    X=None,
    y=None,
    se=None,
    band=2.0,
    terms=None,
    ax=None,
):
    r"""Plot rolling betas over time, with :math:`\pm` ``band`` standard-error bands.

    With a fitted :class:`~skfactor.RollingFactorModel`, the lines are the
    betas of ``asset`` on the window ending at each date. The bands are
    :math:`\hat\beta_t \pm` ``band`` :math:`\cdot \mathrm{se}(\hat\beta_t)`,
    the classical OLS standard errors of each window (as statsmodels
    ``RollingOLS``'s ``bse``; see :func:`rolling_standard_errors`), computed
    when the data the model was fitted on are passed as ``X`` and ``y``.
    Overlapping windows share most of their dates, so neighbouring estimates
    are not independent: a band says how far one window's estimate may be
    from that window's true beta, not whether the betas drift.

    A DataFrame of betas (date × term) is plotted as given, with bands from
    ``se`` (same shape) if passed. Without standard errors no band is drawn.

    Parameters
    ----------
    model_or_betas : RollingFactorModel or DataFrame of shape (n_dates, n_terms)
        A fitted rolling model, or betas indexed by date, one column per term.
    asset : label, default=None
        The asset to plot (a column of the ``y`` the model was fitted on); may
        be None when the model has one asset. Ignored for a DataFrame.
    X, y : DataFrame, default=None
        The factor returns and asset returns the model was fitted on, for the
        standard errors.
    se : DataFrame of shape (n_dates, n_terms), default=None
        Standard errors of a DataFrame of betas, same index and columns.
    band : float or None, default=2.0
        Half-width of the bands in standard errors; None draws no bands.
    terms : list of str, default=None
        Terms to plot; None plots every factor (not the intercept, whose scale
        differs: pass ``terms=["const"]`` to see it).
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes
        One line per term, labelled by its name, and a shaded band for each
        when standard errors are known.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from skfactor import RollingFactorModel
    >>> from skfactor.plotting import plot_rolling_betas
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.bdate_range("2011-01-03", periods=250)
    >>> F = pd.DataFrame(rng.normal(0, 0.01, (250, 2)), dates, ["MKT", "SMB"])
    >>> R = pd.DataFrame({"A": F @ [1.0, -0.3] + rng.normal(0, 0.005, 250)})
    >>> model = RollingFactorModel(window=100).fit(F, R)
    >>> ax = plot_rolling_betas(model, "A", X=F, y=R)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['MKT', 'SMB']
    >>> len(ax.collections)  # one band per beta
    2
    """
    if isinstance(model_or_betas, pd.DataFrame):
        betas, name = model_or_betas, None
        if se is not None and not (
            isinstance(se, pd.DataFrame)
            and se.index.equals(betas.index)
            and se.columns.equals(betas.columns)
        ):
            raise ValueError(
                "`se` must be a DataFrame with the same index and columns as the betas."
            )
        default = [c for c in betas.columns if c not in ("const", "Intercept")]
    elif hasattr(model_or_betas, "coef_") and hasattr(model_or_betas, "resid_vol_"):
        model = model_or_betas
        betas, name = _betas_frame(model, asset)
        if se is not None:
            raise ValueError(
                "`se` is for a DataFrame of betas; for a model pass `X` and `y` "
                "(the data it was fitted on) instead."
            )
        if band is not None and X is not None and y is not None:
            se = rolling_standard_errors(model, X, y, asset)
        default = _factor_names(model)
    else:
        raise TypeError(
            "`model_or_betas` must be a fitted RollingFactorModel or a DataFrame "
            f"of betas indexed by date; got {type(model_or_betas).__name__}."
        )
    terms = default if terms is None else list(terms)
    missing = [t for t in terms if t not in betas.columns]
    if missing:
        raise ValueError(
            f"`terms` {missing!r} are not among the betas' terms "
            f"{list(betas.columns)!r}."
        )
    ax = get_ax(ax)
    x = x_values(betas.index)
    for j, term in enumerate(terms):
        color = f"C{j % 10}"
        beta = betas[term].to_numpy(dtype=np.float64)
        ax.plot(x, beta, color=color, linewidth=1.5, label=str(term))
        if band is not None and se is not None:
            half = band * se[term].to_numpy(dtype=np.float64)
            ax.fill_between(x, beta - half, beta + half, color=color, alpha=0.18)
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
    window = getattr(model_or_betas, "window", None)
    title = "Rolling betas"
    if name is not None:
        title += f" of {name}"
    if window is not None:
        title += f" ({window}-period window)"
    if band is not None and se is not None:
        title += f", shaded ± {band:g} s.e."
    ax.set_title(title)
    ax.set_ylabel("Beta (return per unit of factor return)")
    format_dates(ax, betas.index)
    ax.legend(loc="best", ncols=len(terms), framealpha=0.85)
    ax.grid(True, alpha=0.3)
    return ax
