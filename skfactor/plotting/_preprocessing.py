"""Z-scores before and after winsorizing."""

from __future__ import annotations

import numpy as np

from skfactor.plotting._base import get_ax

__all__ = ["plot_zscore_hist"]


def _finite(values, name):
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if not len(a):
        raise ValueError(f"`{name}` has no values that are not NaN; nothing to plot.")
    if not np.isfinite(a).all():
        raise ValueError(f"`{name}` contains inf; z-scores must be finite.")
    return a


def plot_zscore_hist(raw, winsorized, *, bins=60, log=True, ax=None):
    """Histograms of z-scores computed without and with winsorizing.

    The lecture's point: a few huge values (a book-to-price of 50 from a
    near-zero price-to-book) inflate the standard deviation, so that the
    z-scores of every ordinary asset crowd into a bin or two around 0 while
    the outliers sit far away; after winsorizing, the same assets spread over
    a few units. Both histograms share the same bins (``bins`` equal bins
    over the range of both), so their widths compare directly; with ``log``
    the counts are on a log scale, so that single outliers stay visible next
    to bins of thousands. NaN values are left out.

    Parameters
    ----------
    raw : array-like or Series
        Z-scores of the raw characteristic, e.g. ``CrossSectionalZScore()``
        applied to one date's book-to-price.
    winsorized : array-like or Series
        Z-scores of the same characteristic after winsorizing, e.g.
        ``make_pipeline(Winsorizer(limits=0.01), CrossSectionalZScore())``.
    bins : int, default=60
        Number of equal-width bins spanning both samples.
    log : bool, default=True
        Counts on a log scale.
    ax : matplotlib Axes, default=None
        Axes to draw on; None draws on a new figure.

    Returns
    -------
    ax : matplotlib Axes
        Two histograms (``bins`` bars each): ``raw`` first, as red outlines
        drawn on top, then ``winsorized``, filled blue.

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
    >>> ax = plot_zscore_hist(z_raw, z_win, bins=40)
    >>> len(ax.patches)
    80
    """
    a = _finite(raw, "raw")
    b = _finite(winsorized, "winsorized")
    ax = get_ax(ax)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    ax.hist(
        a,
        bins=edges,
        log=log,
        fill=False,
        edgecolor="C3",
        linewidth=1.2,
        zorder=3,
        label=f"raw (max |z| = {np.abs(a).max():.1f})",
    )
    ax.hist(
        b,
        bins=edges,
        log=log,
        alpha=0.6,
        color="C0",
        label=f"winsorized (max |z| = {np.abs(b).max():.1f})",
    )
    ax.set_xlabel("Z-score (standard deviations from the cross-sectional mean)")
    ax.set_ylabel("Number of assets" + (" (log scale)" if log else ""))
    ax.set_title("Z-scores before and after winsorizing")
    ax.legend(loc="upper right", frameon=False)
    return ax
