"""Rolling betas with standard-error bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from skfactor.models import RollingFactorModel
from skfactor.plotting._base import format_dates, get_ax, x_values
from skfactor.utils._typing import Axes

__all__ = ["plot_rolling_betas"]


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


def _model_frames(model, asset):
    """One asset's betas (date x term) and their standard errors (or None)."""
    pos = _asset_position(model, asset)
    label = model.assets_[pos]
    n_dates, n_assets = len(model.dates_), len(model.assets_)
    frames = []
    for attr in ("params_", "bse_"):
        table = getattr(model, attr, None)
        if table is None:
            frames.append(None)
            continue
        values = table.to_numpy().reshape(n_dates, n_assets, -1)[:, pos]
        frames.append(pd.DataFrame(values, index=model.dates_, columns=table.columns))
    return frames[0], frames[1], label


def plot_rolling_betas(
    model_or_betas: RollingFactorModel | pd.DataFrame,
    asset: Any = None,
    *,
    se: pd.DataFrame | None = None,
    band: float | None = 2.0,
    terms: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Plot rolling betas over time, with :math:`\pm` ``band`` standard-error bands.

    With a fitted :class:`~skfactor.RollingFactorModel`, the lines are the
    betas of ``asset`` on the window ending at each date (its ``params_``).
    The bands are :math:`\hat\beta_t \pm` ``band``
    :math:`\cdot \mathrm{se}(\hat\beta_t)` with the model's ``bse_``, the
    classical standard errors of each window (statsmodels ``RollingOLS``'s
    ``bse``), which the model computes on first access.
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
    >>> ax = plot_rolling_betas(model, "A")
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
    elif hasattr(model_or_betas, "params_") and hasattr(model_or_betas, "dates_"):
        model = model_or_betas
        if se is not None:
            raise ValueError(
                "`se` is for a DataFrame of betas; a model's bands are its `bse_` "
                "(`band=None` draws none)."
            )
        betas, se, name = _model_frames(model, asset)
        default = [c for c in betas.columns if c != "const"]
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
