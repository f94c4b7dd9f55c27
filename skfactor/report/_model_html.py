"""A model's section of the report page: summary, factor returns, diagnostics."""

from __future__ import annotations

import html

import numpy as np

from skfactor.report._figures import model_figures
from skfactor.report._html import _figure_html, _png, _table

__all__ = ["model_intro", "model_section"]

_CAPTIONS = {
    "factor_returns": "The per-date coefficients without the intercept "
    "(params_), compounded, in percent.",
    "factor_volatility": "Rolling standard deviation of each factor's per-date "
    "coefficient, in percent.",
    "rsquared": "Rolling mean of each date's regression R².",
    "conditioning": "Rolling median of each date's condition number (the "
    "model's diagnostics_); ticks mark dates whose loadings lost rank.",
    "evaluation": "Rolling mean of the per-date rank IC of model.predict(X) "
    "against y; shaded dates are outside the dates the model was fitted on.",
}


def model_intro(report):
    """The note under the page's title: how the model and the data were used."""
    section = next(iter(report.sections.values()))
    how = (
        "The report fitted a clone of the unfitted model on <code>X, y</code>."
        if section.refitted
        else "The model was fitted before the report; it is not refitted."
    )
    if section.evaluation is not None:
        how += (
            " <code>X, y</code> are evaluated: the rank IC of "
            "<code>predict(X)</code> against <code>y</code> per date, and the "
            "root mean square of <code>residuals(X, y)</code> on the fitted dates."
        )
    return f'<p class="note">{how}</p>'


def _header(summary):
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in summary.header_rows()
    )
    return f'<div class="table-wrap"><table class="header">{rows}</table></div>'


def _rank_note(diagnostics):
    if "status" not in diagnostics:
        return (
            '<p class="note">Each date\'s second-pass regression: its assets '
            "(<code>nobs_</code>) and R² (<code>rsquared_</code>). Its regressors "
            "are the first-pass betas, the same on every date.</p>"
        )
    status = diagnostics["status"].to_numpy()
    bad = int((status != 0).sum())
    text = (
        f"{bad} of {len(status)} dates not estimated (too few rows or collinear "
        "loadings; the diagnostics' <code>status</code> says which)."
        if bad
        else f"All {len(status)} dates estimated at full rank."
    )
    if not np.isfinite(diagnostics["condition_number"].to_numpy()).any():
        text += (
            " Condition numbers were not computed: fit with "
            "<code>condition_number=True</code>, or give the report an unfitted "
            "model and <code>X, y</code>."
        )
    return f'<p class="note">{text}</p>'


def evaluation_overview(table):
    """Means of the evaluation over the fitted dates and over the others."""
    where = np.where(table["in_sample"], "fitted dates", "other dates")
    columns = ["nobs", "ic", "specific_rms"]
    overview = table[columns].groupby(where).mean().rename_axis(index="dates")
    overview.insert(0, "n_dates", table.groupby(where).size())
    return overview


def model_section(section, window):
    """The HTML of one model's section."""
    figures = {k: _png(f) for k, f in model_figures(section, window).items()}

    def figure(key):
        return _figure_html(figures[key], _CAPTIONS[key]) if key in figures else ""

    parts = [
        f"<h2>Model: {html.escape(section.name)}</h2>",
        "<h3>Summary</h3>",
        _header(section.summary),
        _table(section.summary, "{:.4g}"),
        f"<h3>{section.returns_label.capitalize()} by date</h3>",
        '<p class="note">Per-date estimates: mean, standard deviation, worst '
        "and best date, and the number of dates estimated.</p>",
        _table(section.factor_return_summary, "{:.4g}"),
        figure("factor_returns"),
        figure("factor_volatility"),
        "<h3>Per-date diagnostics</h3>",
        _rank_note(section.diagnostics),
        _table(section.diagnostics_summary, "{:.4g}"),
        figure("rsquared"),
        figure("conditioning"),
    ]
    if section.evaluation is not None:
        table = section.evaluation
        overview = evaluation_overview(table)
        parts += [
            "<h3>On the data given</h3>",
            '<p class="note">Means over dates of the rows per date, the rank '
            "IC of the predictions and the residuals' root mean square.</p>",
            _table(overview, "{:.4f}"),
            figure("evaluation"),
        ]
    return "\n".join(p for p in parts if p)
