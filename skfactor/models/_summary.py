"""The table every model's ``summary()`` returns: a DataFrame with a header.

:class:`Summary` is the coefficient table itself (``.loc``, ``["std_err"]``,
``.round`` work as on any DataFrame) plus a ``header`` dict that says how it
was computed. It prints with that header, as statsmodels' ``Summary`` does,
and renders as text, HTML and LaTeX.
"""

from __future__ import annotations

import html
import math
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = ["HEADER_KEYS", "Summary", "finite_mean", "term_overview"]

#: The keys every model's header has, in print order (None where a key does
#: not apply, e.g. ``kernel`` for a non-HAC covariance).
HEADER_KEYS = (
    "estimator",
    "cov_type",
    "kernel",
    "bandwidth",
    "n_dates",
    "n_assets",
    "mean_rsquared",
)

_LABELS = {
    "estimator": "Estimator",
    "cov_type": "Covariance",
    "kernel": "Kernel",
    "bandwidth": "Bandwidth",
    "n_dates": "Dates",
    "n_assets": "Assets",
    "mean_rsquared": "Mean R²",
    "grs_statistic": "GRS F",
    "grs_pvalue": "GRS p-value",
    "grs_note": "GRS",
    "window": "Window",
    "min_obs": "Min. obs.",
    "halflife": "Half-life",
}


def _format(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return f"{float(value):.4g}"
    return str(value)


class Summary(pd.DataFrame):
    """A coefficient table with the header that says how it was computed.

    A :class:`~pandas.DataFrame` (today's table, unchanged) with one more
    attribute, ``header``: a dict with the keys ``estimator``, ``cov_type``,
    ``kernel``, ``bandwidth`` (the automatic choice included), ``n_dates``,
    ``n_assets`` and ``mean_rsquared``, and any the model adds (the GRS test,
    the window). ``print`` shows the header above the table; ``as_text()``,
    ``as_latex()`` and, in a notebook, ``_repr_html_()`` render both.
    """

    _metadata = ["header"]

    def __init__(self, *args, header: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header = dict(header or {})

    @property
    def _constructor(self):
        return Summary

    def header_rows(self) -> list[tuple[str, str]]:
        """The header as (label, formatted value) pairs, in the printed order."""
        keys = [*HEADER_KEYS, *(k for k in self.header if k not in HEADER_KEYS)]
        return [
            (
                _LABELS.get(
                    k, k if k != k.lower() else k.replace("_", " ").capitalize()
                ),
                _format(self.header.get(k)),
            )
            for k in keys
        ]

    def as_text(self) -> str:
        """The header, two fields a line, above the table."""
        header = self.header_rows()
        label_width = max((len(label) for label, _ in header), default=0) + 2
        rows = [f"{label + ':':<{label_width}}{value}" for label, value in header]
        short = [row for row in rows if len(row) <= 40]
        column = max(map(len, short), default=0) + 2
        pairs = [
            short[i].ljust(column) + (short[i + 1] if i + 1 < len(short) else "")
            for i in range(0, len(short), 2)
        ] + [row for row in rows if len(row) > 40]  # long values: a line each
        table = pd.DataFrame(self).to_string()
        rule = max(len(table.partition("\n")[0]), *map(len, pairs))
        title = (
            f"{self.header.get('estimator', '')} summary".strip().center(rule).rstrip()
        )
        return "\n".join(
            [
                title,
                "=" * rule,
                *(p.rstrip() for p in pairs),
                "-" * rule,
                table,
                "=" * rule,
            ]
        )

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        """The header as a small table above the DataFrame's own HTML."""
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for label, value in self.header_rows()
        )
        return f"<table>{cells}</table>\n" + pd.DataFrame(self).to_html()

    def as_latex(self, float_format: str = "{:.4f}") -> str:
        """A ``tabular`` for the header and one for the table, no package needed."""

        def esc(text: object) -> str:
            out = str(text)
            for char in "\\&%$#_{}":
                out = out.replace(char, "\\" + char)
            return out.replace("²", "$^2$")

        def cell(value: object) -> str:
            if isinstance(value, Real) and not isinstance(value, (bool, Integral)):
                return "--" if math.isnan(value) else float_format.format(value)
            return esc(value)

        header = "\n".join(f"{esc(k)} & {esc(v)} \\\\" for k, v in self.header_rows())
        names = [esc(n if n is not None else "") for n in self.index.names]
        lines = [
            " & ".join(
                [*(esc(x) for x in (key if isinstance(key, tuple) else (key,)))]
                + [cell(v) for v in row]
            )
            + " \\\\"
            for key, row in zip(self.index, self.to_numpy(dtype=object), strict=True)
        ]
        columns = " & ".join([*names, *(esc(c) for c in self.columns)])
        align = "l" * len(names) + "r" * self.shape[1]
        return (
            "\\begin{tabular}{ll}\n\\hline\n"
            + header
            + "\n\\hline\n\\end{tabular}\n\n"
            + f"\\begin{{tabular}}{{{align}}}\n\\hline\n{columns} \\\\\n\\hline\n"
            + "\n".join(lines)
            + "\n\\hline\n\\end{tabular}\n"
        )


def finite_mean(values: np.ndarray) -> float:
    """Mean of the finite ``values`` (NaN when there are none): a header's mean R²."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def term_overview(params: pd.DataFrame, tvalues: pd.DataFrame) -> pd.DataFrame:
    """Per term, the mean and median estimate and the share of ``|t| > 2``.

    ``params`` and ``tvalues`` share their layout: one row per asset (or per
    (date, asset) window), one column per term. Rows where a term is NaN do
    not count for it.

    Returns
    -------
    DataFrame
        Indexed by term, columns ``mean``, ``median``, ``share_abs_t_above_2``
        and ``n`` (the rows that count).
    """
    t = tvalues.to_numpy(dtype=np.float64)
    present = np.isfinite(t)
    n = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            n > 0, (np.abs(np.where(present, t, 0.0)) > 2).sum(axis=0) / n, np.nan
        )
    index = pd.Index(params.columns, name="term")
    return pd.DataFrame(
        {
            "mean": params.mean(axis=0).to_numpy(),
            "median": params.median(axis=0).to_numpy(),
            "share_abs_t_above_2": share,
            "n": n,
        },
        index=index,
    )
