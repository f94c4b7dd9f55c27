"""FactorReport: the tear sheet of one or several factors in one call."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skfactor.panel._validation import check_not_dask, check_panel_index
from skfactor.report._section import FactorSection
from skfactor.utils._progress import progress

__all__ = ["FactorReport"]

_TABLES = (
    "ic",
    "ic_summary",
    "verdict",
    "mean_return_by_quantile",
    "mean_return_by_quantile_std_err",
    "raw_return_by_quantile",
    "raw_return_by_quantile_std_err",
    "quantile_returns",
    "spread",
    "spread_summary",
    "cumulative_returns",
    "rank_autocorrelation",
    "quantile_turnover",
    "ic_by_group",
    "mean_return_by_quantile_by_group",
)

# A model's report: its section's tables (see ``FactorReport.from_model``).
_MODEL_TABLES = (
    "summary",
    "factor_returns",
    "factor_return_summary",
    "diagnostics",
    "diagnostics_summary",
    "evaluation",
)

# Tables with dates down the rows: several factors go side by side.
_BY_DATE = (
    "ic",
    "quantile_returns",
    "spread",
    "cumulative_returns",
    "quantile_turnover",
)


def _check_horizons(horizons):
    if isinstance(horizons, numbers.Integral):
        horizons = (horizons,)
    try:
        values = list(horizons)
    except TypeError:
        values = [horizons]
    if not values or any(
        isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
        for h in values
    ):
        raise ValueError(
            f"`horizons` must be a sequence of integers >= 1 (dates ahead); got "
            f"{horizons!r}."
        )
    return sorted({int(h) for h in values})


def _check_integer(name, value, low):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(f"`{name}` must be an integer >= {low}; got {value!r}.")


def _factor_columns(factor):
    check_not_dask(factor, "factor")
    if isinstance(factor, pd.Series):
        frame = factor.to_frame(factor.name if factor.name is not None else "factor")
    elif isinstance(factor, pd.DataFrame):
        frame = factor
    else:
        raise TypeError(
            "`factor` must be a pandas Series (one factor) or DataFrame (one "
            "column per factor) on a (date, asset) MultiIndex; got "
            f"{type(factor).__name__}."
        )
    if not isinstance(frame.index, pd.MultiIndex):
        raise ValueError(
            "`factor` must have a (date, asset) MultiIndex; got a single-level "
            "index. Stack a wide date x asset frame first, e.g. `wide.stack()`, "
            "or set the index, e.g. `df.set_index(['date', 'asset'])`."
        )
    check_panel_index(frame.index, "factor")
    if frame.shape[1] == 0:
        raise ValueError("`factor` has no columns; give at least one factor.")
    return frame


def _on_index(values, index, name):
    """A long Series on ``index``, or a per-asset Series mapped through its assets."""
    if values is None:
        return None
    if not isinstance(values, pd.Series):
        raise TypeError(
            f"`{name}` must be a pandas Series: on the (date, asset) index or "
            f"indexed by asset; got {type(values).__name__}."
        )
    if isinstance(values.index, pd.MultiIndex):
        return values.reindex(index)
    out = values.reindex(index.get_level_values(1))
    return pd.Series(out.to_numpy(), index=index, name=values.name)


def _date_window(frame, start, end):
    if start is None and end is None:
        return frame
    dates = frame.index.get_level_values(0)
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    if end is not None:
        keep &= dates <= pd.Timestamp(end)
    if not keep.any():
        raise ValueError(
            f"No factor date is between `start`={start!r} and `end`={end!r}; the "
            f"factor runs from {dates.min()} to {dates.max()}."
        )
    return frame[keep]


class FactorReport:
    r"""The tear sheet of a factor: IC, quantile returns, spread, turnover, verdict.

    Computes, for each factor column and each horizon :math:`h`, with the
    label ``forward_returns(returns, periods=h)`` (alphalens' forward price
    return over :math:`h` of the panel's dates):

    - the per-date rank IC and its summary, with the overlap-aware t
      (:func:`skfactor.metrics.ic_summary`) beside the i.i.d. and Newey-West
      ones, and a one-line verdict;
    - the mean forward return of each quantile, demeaned by date and raw, with
      standard errors (:func:`skfactor.metrics.mean_return_by_quantile`);
    - the top-minus-bottom spread per date, its mean and overlap-aware t, and
      cumulative returns of the quantiles rebalanced every date;
    - the rank autocorrelation and quantile turnover (one-date lag);
    - with ``groups``, the mean IC and quantile returns within each group.

    Each horizon's statistics use the rows where the factor and that
    horizon's label both exist (alphalens, given several horizons, drops the
    rows missing any of them). Quantiles are ``pd.qcut`` per date, as
    alphalens' ``quantize_factor``, and the rank rule of
    :func:`skfactor.metrics.quantile_labels` on dates where ``pd.qcut``
    fails (alphalens raises or drops those dates).

    Parameters
    ----------
    factor : Series or DataFrame of shape (n_rows,) or (n_rows, n_factors)
        Factor values on a (date, asset) MultiIndex, rows in any order; one
        report section per column of a DataFrame.
    returns : Series or DataFrame
        Per-date simple asset returns (0.01 for 1 %): a (date, asset) Series
        or a wide date x asset frame. Returns after the factor's last date are
        used for its forward returns.
    quantiles : int, default=5
        Number of quantiles, at least 2.
    horizons : sequence of int, default=(1, 5, 21)
        Forward-return horizons, in dates.
    groups : Series, default=None
        Group of each row (e.g. sector): on the factor's (date, asset) index,
        or indexed by asset (a fixed group per asset).
    weights : Series, default=None
        Non-negative weights (e.g. market caps), on the factor's index or by
        asset: the quantile returns are weighted means, demeaned by the
        weighted market. The IC is unweighted.
    start, end : date-like, default=None
        Only the factor's dates in ``[start, end]`` are reported.
    method : {"spearman", "pearson"}, default="spearman"
        Rank or linear IC.
    window : int, default=21
        Dates in the rolling means of the figures.
    verbose : bool, default=False
        A progress bar on stderr (tqdm, the ``report`` extra).

    Attributes
    ----------
    sections : dict of str to section
        One section per factor column, holding the tables below for it.
    ic : DataFrame of shape (n_dates, n_horizons)
        Per-date IC, one column per horizon.
    ic_summary : DataFrame of shape (n_horizons, 10)
        :func:`~skfactor.metrics.ic_summary` at each horizon (the IC decay):
        ``t``/``p_value`` overlap-aware, ``t_iid`` and ``t_nw`` beside them.
    verdict : Series of shape (n_horizons,)
        One sentence per horizon: distinguishable from noise at 5 %, and how
        the t was computed.
    mean_return_by_quantile, mean_return_by_quantile_std_err : DataFrame
        Of shape (n_quantiles, n_horizons): mean over dates of each quantile's
        demeaned :math:`h`-date forward return and its standard error
        (:math:`s/\sqrt{T}`, alphalens').
    raw_return_by_quantile, raw_return_by_quantile_std_err : DataFrame
        The same, not demeaned.
    quantile_returns : DataFrame of shape (n_dates, n_horizons * n_quantiles)
        The per-date demeaned quantile returns, columns (horizon, quantile).
    spread : DataFrame of shape (n_dates, n_horizons)
        Top-minus-bottom quantile return per date.
    spread_summary : DataFrame of shape (n_horizons, 10)
        Its mean and overlap-aware t, as ``ic_summary``.
    cumulative_returns : DataFrame of shape (n_dates, n_quantiles + 1)
        Compounded demeaned 1-date returns of each quantile and of the spread.
    rank_autocorrelation : Series of shape (n_dates,)
        :func:`~skfactor.metrics.rank_autocorrelation` at lag 1.
    quantile_turnover : DataFrame of shape (n_dates, n_quantiles)
        :func:`~skfactor.metrics.quantile_turnover` at lag 1, qcut quantiles.
    ic_by_group : DataFrame of shape (n_groups, n_horizons) or None
        Mean per-(date, group) IC.
    mean_return_by_quantile_by_group : DataFrame or None
        Mean demeaned return, index (group, quantile), one column per horizon.

    With several factors each table is the sections' tables concatenated
    under an outer ``factor`` level (columns for date-indexed tables, rows for
    the others); ``verdict`` is indexed (factor, horizon).

    :meth:`from_model` makes the report of a fitted cross-sectional or
    two-pass model instead: its summary, factor returns and per-date
    diagnostics, on the same page.

    Examples
    --------
    >>> from skfactor.datasets import make_factor_panel
    >>> from skfactor.report import FactorReport
    >>> data = make_factor_panel(n_dates=120, n_assets=100, random_state=0)
    >>> report = FactorReport(data.X["momentum"], data.y, horizons=(1, 5))
    >>> report.ic.shape
    (120, 2)
    >>> report.mean_return_by_quantile.shape
    (5, 2)
    """

    def __init__(
        self,
        factor: pd.Series | pd.DataFrame,
        returns: pd.Series | pd.DataFrame,
        *,
        quantiles: int = 5,
        horizons: Sequence[int] = (1, 5, 21),
        groups: pd.Series | None = None,
        weights: pd.Series | None = None,
        start: Any = None,
        end: Any = None,
        method: str = "spearman",
        window: int = 21,
        verbose: bool = False,
    ) -> None:
        frame = _date_window(_factor_columns(factor), start, end)
        self.horizons = _check_horizons(horizons)
        _check_integer("quantiles", quantiles, 2)
        _check_integer("window", window, 1)
        self.quantiles = quantiles
        self.window = window
        self.verbose = verbose
        self.model = None
        groups = _on_index(groups, frame.index, "groups")
        weights = _on_index(weights, frame.index, "weights")
        self.sections = {}
        for name in progress(
            frame.columns, verbose=verbose, total=frame.shape[1], desc="factor report"
        ):
            self.sections[str(name)] = FactorSection(
                str(name),
                frame[name],
                returns,
                quantiles=quantiles,
                horizons=self.horizons,
                groups=groups,
                weights=weights,
                method=method,
            )

    @classmethod
    def from_model(
        cls,
        model: Any,
        X: Any = None,
        y: Any = None,
        *,
        cov_type: str = "nonrobust",
        window: int = 21,
        verbose: bool = False,
    ) -> FactorReport:
        r"""The report of a cross-sectional or two-pass factor model.

        One page for a model, as for a factor: its :meth:`summary` (header and
        table), its per-date factor returns (a summary table, cumulative
        returns, rolling volatility) and its per-date diagnostics over time
        (R², and for :class:`~skfactor.CrossSectionalFactorModel` the rank,
        status and condition number of ``diagnostics_``; the two-pass model
        has the R² and the assets of each date's second-pass regression).

        A fitted model is reported as fitted (never refitted); ``X, y``, if
        given, are data to evaluate it on, in the model's own layout (a
        (date, asset) panel of loadings and returns for the cross-sectional
        model, wide factor and asset returns for the two-pass one): per date,
        the rank IC of ``model.predict(X)`` against ``y`` and the root mean
        square of ``model.residuals(X, y)`` (NaN on dates the model was not
        fitted on), with those dates marked. An unfitted model is cloned and
        the clone fitted on ``X, y`` (the cross-sectional model with
        ``condition_number=True``, so the diagnostics have it); the model
        passed is not modified. ``report.model`` is the model reported.

        Parameters
        ----------
        model : CrossSectionalFactorModel or TwoPassFactorModel
            Fitted, or unfitted with ``X`` and ``y``.
        X, y : panel or DataFrame, default=None
            What the model's ``fit`` takes.
        cov_type : str, default="nonrobust"
            Passed to ``model.summary(cov_type=...)`` (e.g. ``"kernel"`` for
            Newey–West, ``"shanken"`` for the two-pass model).
        window : int, default=21
            Dates in the rolling means of the figures.
        verbose : bool, default=False
            A progress bar on stderr while the page is made.

        Returns
        -------
        FactorReport
            With the tables ``summary`` (the model's :class:`Summary`),
            ``factor_returns`` (date x factor: ``params_`` without
            ``const``), ``factor_return_summary``, ``diagnostics`` (date x
            statistic), ``diagnostics_summary`` and ``evaluation`` (date x
            ``nobs``, ``in_sample``, ``ic``, ``specific_rms``; None without
            ``X, y``), and ``to_html``, ``show`` and ``save_figures`` as for
            a factor.

        Examples
        --------
        >>> from skfactor import CrossSectionalFactorModel
        >>> from skfactor.datasets import make_factor_panel
        >>> from skfactor.report import FactorReport
        >>> data = make_factor_panel(n_dates=60, n_assets=100, random_state=0)
        >>> model = CrossSectionalFactorModel()
        >>> report = FactorReport.from_model(model, data.X, data.y)
        >>> report.summary.index.tolist()
        ['const', 'value', 'size', 'momentum']
        >>> bool(report.diagnostics["condition_number"].notna().all())
        True
        >>> report.evaluation.columns.tolist()
        ['nobs', 'in_sample', 'ic', 'specific_rms']
        """
        from skfactor.report._model import ModelSection, fitted_model

        _check_integer("window", window, 1)
        fitted, refitted = fitted_model(model, X, y)
        section = ModelSection(fitted, X, y, cov_type=cov_type, refitted=refitted)
        report = cls.__new__(cls)
        report.horizons = report.quantiles = None
        report.window = window
        report.verbose = verbose
        report.model = fitted
        report.sections = {section.name: section}
        return report

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model") is not None
        if name not in (_MODEL_TABLES if model else _TABLES) or (
            "sections" not in self.__dict__
        ):
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            )
        tables = {k: getattr(s, name) for k, s in self.sections.items()}
        if len(tables) == 1:
            return next(iter(tables.values()))
        if any(t is None for t in tables.values()):
            return None
        if name == "rank_autocorrelation":
            return pd.DataFrame(tables).rename_axis(columns="factor")
        return pd.concat(tables, axis=1 if name in _BY_DATE else 0, names=["factor"])

    def __dir__(self):
        tables = _MODEL_TABLES if self.model is not None else _TABLES
        return sorted(set(super().__dir__()) | set(tables))

    # ------------------------------------------------------------- outputs
    def figures(self) -> dict[str, Any]:
        """The report's matplotlib figures, by ``"<factor>/<figure>"`` name.

        Needs matplotlib (the ``plot`` or ``report`` extra).
        """
        from skfactor.report._figures import section_figures

        out = {}
        for name, section in self.sections.items():
            for key, fig in section_figures(section, self.window).items():
                out[f"{name}/{key}"] = fig
        return out

    def save_figures(self, directory: str | Path, *, format: str = "png") -> list[Path]:
        """Save every figure to ``directory`` (made if missing); return the paths.

        Files are named ``<factor>_<figure>.<format>``.
        """
        from skfactor.report._figures import close

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for key, fig in self.figures().items():
            path = directory / f"{key.replace('/', '_')}.{format}"
            fig.savefig(path, dpi=110)
            close(fig)
            paths.append(path)
        return paths

    def to_html(
        self, path: str | Path | None = None, *, title: str | None = None
    ) -> str:
        """One self-contained HTML page: tables and figures (base64 PNG) inline.

        No network is needed to read it; it fits a 1,280-pixel-wide window.
        Written to ``path`` when given; the HTML text is returned either way.
        """
        from skfactor.report._html import render_page

        html = render_page(self, title=title)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def _repr_html_(self) -> str:
        from skfactor.report._html import render_body

        return render_body(self)

    def show(self) -> None:
        """Display the report in a Jupyter notebook (IPython's ``display``)."""
        try:
            from IPython.display import display
        except ImportError as exc:
            raise ImportError(
                "`FactorReport.show` displays the report in a Jupyter notebook and "
                "needs IPython; outside one, write a page with "
                "`report.to_html('report.html')`."
            ) from exc
        display(self)

    def __repr__(self) -> str:
        if self.model is not None:
            return f"FactorReport.from_model({self.model!r})"
        names = ", ".join(self.sections)
        return (
            f"FactorReport(factors=[{names}], horizons={self.horizons}, "
            f"quantiles={self.quantiles})"
        )
