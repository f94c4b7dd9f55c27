"""The report as one self-contained HTML page: tables, base64 PNG figures."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

from skfactor.report._figures import close, section_figures
from skfactor.utils._progress import progress

__all__ = ["render_body", "render_page"]

_CSS = """
.skf-report { font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  color: #222; max-width: 1180px; margin: 0 auto; padding: 0 16px;
  line-height: 1.45; box-sizing: border-box; }
.skf-report * { box-sizing: border-box; }
.skf-report h1 { font-size: 1.6em; margin: 0.6em 0 0.2em; }
.skf-report h2 { font-size: 1.3em; border-bottom: 1px solid #ccc;
  padding-bottom: 0.2em; margin-top: 1.6em; }
.skf-report h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.skf-report .note { color: #555; font-size: 0.9em; }
.skf-report .verdicts li { margin: 0.25em 0; }
.skf-report .yes { color: #146c2e; font-weight: 600; }
.skf-report .no { color: #8a4b00; font-weight: 600; }
.skf-report .table-wrap { max-width: 100%; overflow-x: auto; }
.skf-report table { border-collapse: collapse; font-size: 0.85em;
  font-variant-numeric: tabular-nums; margin: 0.3em 0 0.8em; }
.skf-report th, .skf-report td { padding: 3px 9px; text-align: right;
  border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
.skf-report thead th { border-bottom: 2px solid #999; }
.skf-report table.header th, .skf-report table.header td { text-align: left; }
.skf-report figure { margin: 0.8em 0 1.2em; }
.skf-report img { max-width: 100%; height: auto; display: block; }
.skf-report figcaption { color: #555; font-size: 0.85em; }
"""

_SUMMARY_COLUMNS = ["mean", "std", "t", "p_value", "df", "t_iid", "t_nw",
                    "n_dates", "positive"]  # fmt: skip


# Counts as integers, p-values in 3 significant digits, the rest by table.
_FORMATS = {
    "df": "{:.0f}",
    "n_dates": "{:.0f}",
    "nobs": "{:.1f}",  # a mean of counts (the model report's evaluation)
    "p_value": "{:.3g}",
}


def _table(frame, fmt="{:.4f}"):
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    formatters = {
        c: (lambda v, f=_FORMATS[c]: f.format(v))
        for c in frame.columns
        if isinstance(c, str) and c in _FORMATS
    }
    body = frame.to_html(
        formatters=formatters or None,
        float_format=lambda v: fmt.format(v),
        na_rep="",
        border=0,
        escape=True,
    )
    return f'<div class="table-wrap">{body}</div>'


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(png, caption):
    """One embedded figure with its caption."""
    text = html.escape(caption)
    return (
        f'<figure><img alt="{text}" src="data:image/png;base64,{png}">'
        f"<figcaption>{text}</figcaption></figure>"
    )


def _verdicts(section):
    items = []
    for h, line in section.verdict.items():
        found = section.ic_summary.loc[h, "p_value"] < 0.05
        css = "yes" if found else "no"
        items.append(f'<li><span class="{css}">{"Yes" if found else "No"}</span>: '
                     f"{html.escape(line)}</li>")  # fmt: skip
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in section.notes)
    return f'<ul class="verdicts">{"".join(items)}</ul>{notes}'


def _section(section, window):
    name = html.escape(section.name)
    bp = 1e4
    quantile = pd.concat(
        {
            "demeaned": section.mean_return_by_quantile * bp,
            "± s.e.": section.mean_return_by_quantile_std_err * bp,
            "raw": section.raw_return_by_quantile * bp,
            "raw ± s.e.": section.raw_return_by_quantile_std_err * bp,
        },
        axis=1,
        names=["", "horizon"],
    )
    spread = section.spread_summary[["mean", "t", "p_value", "df", "t_iid",
                                     "n_dates"]].copy()  # fmt: skip
    spread["mean"] *= bp
    spread = spread.rename(columns={"mean": "mean (bp)"})
    turnover = pd.DataFrame(
        {
            "mean turnover": section.quantile_turnover.mean(),
        }
    ).T
    turnover["rank autocorrelation"] = section.rank_autocorrelation.mean()
    parts = [
        f"<h2>Factor: {name}</h2>",
        "<h3>Verdict</h3>",
        _verdicts(section),
        "<h3>Information coefficient by horizon</h3>",
        '<p class="note"><code>t</code> and <code>p_value</code> account for '
        "overlapping forward returns (equal-weighted cosine long-run variance, "
        "Student t with <code>df</code>); <code>t_iid</code> treats the dates as "
        "independent and <code>t_nw</code> is Newey-West with h - 1 lags.</p>",
        _table(section.ic_summary[_SUMMARY_COLUMNS]),
    ]
    figures = {k: _png(f) for k, f in section_figures(section, window).items()}
    captions = {
        "ic": "Rolling mean of the per-date rank IC at each horizon.",
        "ic_decay": "Mean IC at each horizon; error bars from the overlap-aware t.",
        "quantile_returns": "Mean demeaned forward return of each quantile, "
        "divided by the horizon; error bars treat the dates as independent.",
        "cumulative_returns": "Quantiles formed each date and held one date, in "
        "percent; the spread is the top quantile minus the bottom one.",
        "turnover": "Share of each quantile's names not in it the date before, "
        "and the factor's rank autocorrelation.",
        "ic_by_group": "Mean IC within each group.",
    }

    def figure(key):
        return _figure_html(figures[key], captions[key])

    parts += [figure("ic"), figure("ic_decay")]
    parts += [
        "<h3>Mean return by quantile (bp over the horizon)</h3>",
        '<p class="note">Demeaned: minus each date\'s cross-sectional mean '
        "(alphalens' default). Standard errors s / &radic;T over dates.</p>",
        _table(quantile, "{:.2f}"),
        figure("quantile_returns"),
        "<h3>Top minus bottom quantile</h3>",
        _table(spread),
        figure("cumulative_returns"),
        "<h3>Turnover and rank autocorrelation (1-date lag)</h3>",
        _table(turnover, "{:.3f}"),
        figure("turnover"),
    ]
    if section.ic_by_group is not None:
        parts += [
            "<h3>By group</h3>",
            _table(section.ic_by_group.rename_axis(columns="mean IC, horizon")),
            figure("ic_by_group"),
            _table(section.mean_return_by_quantile_by_group * bp, "{:.2f}"),
        ]
    return "\n".join(parts)


def _heading(report, title):
    if title:
        return html.escape(title)
    what = "Model report" if report.model is not None else "Factor report"
    return html.escape(f"{what}: {', '.join(report.sections)}")


def _intro(report):
    if report.model is not None:
        from skfactor.report._model_html import model_intro

        return model_intro(report)
    return (
        f'<p class="note">Horizons {report.horizons} dates; {report.quantiles} '
        "quantiles cut each date as <code>pd.qcut</code> (alphalens), the rank "
        "rule where it fails; each horizon uses the rows where its forward "
        "return exists.</p>"
    )


def render_body(report, title=None):
    """The report's HTML without the page around it (a notebook cell's)."""
    from skfactor.report._model_html import model_section

    render = model_section if report.model is not None else _section
    parts = progress(
        report.sections.values(),
        verbose=report.verbose,
        total=len(report.sections),
        desc="report figures",
    )
    sections = "\n".join(render(s, report.window) for s in parts)
    return (
        f"<style>{_CSS}</style>"
        f'<div class="skf-report"><h1>{_heading(report, title)}</h1>'
        f"{_intro(report)}{sections}</div>"
    )


def render_page(report, title=None):
    """A complete, self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_heading(report, title)}</title></head><body>"
        f"{render_body(report, title)}</body></html>\n"
    )
