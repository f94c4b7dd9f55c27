"""Z-scores before and after winsorizing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from skfactor.plotting._base import FIGSIZE, pyplot
from skfactor.utils._typing import ArrayLike, Axes

__all__ = ["plot_zscore_hist"]


def _finite(values, name):
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if not len(a):
        raise ValueError(f"`{name}` has no values that are not NaN; nothing to plot.")
    if not np.isfinite(a).all():
        raise ValueError(f"`{name}` contains inf; z-scores must be finite.")
    return a


def plot_zscore_hist(
    raw: pd.Series | ArrayLike,
    winsorized: pd.Series | ArrayLike,
    *,
    bins: int = 40,
    log: bool = True,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> np.ndarray:
    """Histograms of z-scores computed without and with winsorizing, side by side.

    The lecture's point: a few huge values (a book-to-price of 50 from a
    near-zero price-to-book) inflate the standard deviation, so that the
    z-scores of every ordinary asset crowd into a bin or two around 0 while
    the outliers sit far away; after winsorizing, the same assets spread over
    a few units. Each sample gets its own panel and its own ``bins`` equal
    bins over its own range, so the shape of the winsorized distribution is
    not squeezed into the few bins a shared range would leave it; read the
    widths from the x axes (and from each panel's max :math:`|z|`). With
    ``log`` the counts are on a log scale, so that single outliers stay
    visible next to bins of thousands. NaN values are left out.

    Parameters
    ----------
    raw : array-like or Series
        Z-scores of the raw characteristic, e.g. ``CrossSectionalZScore()``
        applied to one date's book-to-price.
    winsorized : array-like or Series
        Z-scores of the same characteristic after winsorizing, e.g.
        ``make_pipeline(Winsorizer(limits=0.01), CrossSectionalZScore())``.
    bins : int, default=40
        Number of equal-width bins in each panel, over that panel's range.
    log : bool, default=True
        Counts on a log scale.
    axes : sequence of two matplotlib Axes, default=None
        Axes to draw on (raw, winsorized); None draws on a new figure with two
        panels side by side.

    Returns
    -------
    axes : ndarray of two matplotlib Axes
        The raw histogram (red), then the winsorized one (blue), each titled
        with its maximum :math:`|z|`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skfactor.plotting import plot_zscore_hist
    >>> x = np.random.default_rng(0).lognormal(size=1000)
    >>> x[:3] = 500.0  # data errors
    >>> z_raw = (x - x.mean()) / x.std()
    >>> w = np.clip(x, *np.quantile(x, [0.01, 0.99]))
    >>> z_win = (w - w.mean()) / w.std()
    >>> axes = plot_zscore_hist(z_raw, z_win, bins=40)
    >>> [len(ax.patches) for ax in axes]
    [40, 40]
    """
    samples = (_finite(raw, "raw"), _finite(winsorized, "winsorized"))
    if axes is None:
        _, axes = pyplot().subplots(
            1, 2, figsize=(FIGSIZE[0] * 1.25, FIGSIZE[1]), layout="constrained"
        )
        axes[0].figure.suptitle("Z-scores before and after winsorizing")
    axes = np.asarray(axes, dtype=object).ravel()
    if len(axes) != 2:
        raise ValueError(
            f"`axes` must be two Axes (raw, winsorized); got {len(axes)}. Pass "
            "`plt.subplots(1, 2)[1]`, or None for a new figure."
        )
    for ax, values, name, color in zip(
        axes, samples, ("Raw", "Winsorized"), ("C3", "C0"), strict=True
    ):
        lo, hi = values.min(), values.max()
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        ax.hist(values, bins=np.linspace(lo, hi, bins + 1), log=log, color=color)
        ax.set_title(f"{name} (max |z| = {np.abs(values).max():.1f})")
        ax.set_xlabel("Z-score (s.d. from the cross-sectional mean)")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("Number of assets" + (" (log scale)" if log else ""))
    return axes
