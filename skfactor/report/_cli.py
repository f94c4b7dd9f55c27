"""The ``skfactor`` command line: ``skfactor report panel.parquet --factor ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

__all__ = ["main"]


def _horizons(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"horizons must be positive integers separated by commas, e.g. "
            f"1,5,21; got {text!r}"
        )
    return values


def _parser():
    parser = argparse.ArgumentParser(
        prog="skfactor", description="skfactor: fundamental factor models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="a factor report (HTML page) from a long (date, asset) panel file",
        description="Write a self-contained HTML factor report: IC by horizon "
        "with an overlap-aware t, quantile returns, spread, turnover.",
    )
    report.add_argument("panel", help="Parquet or CSV file, one row per date and asset")
    report.add_argument(
        "--factor", required=True, help="factor column(s), comma-separated"
    )
    report.add_argument(
        "--returns",
        required=True,
        help="column of per-date simple asset returns (0.01 = 1%%)",
    )
    report.add_argument(
        "--horizons",
        type=_horizons,
        default=[1, 5, 21],
        help="forward-return horizons in dates (default 1,5,21)",
    )
    report.add_argument("--quantiles", type=int, default=5)
    report.add_argument("--groups", help="column of group labels (e.g. sector)")
    report.add_argument("--weights", help="column of weights (e.g. market cap)")
    report.add_argument("--start", help="first factor date reported")
    report.add_argument("--end", help="last factor date reported")
    report.add_argument("--date-column", help="name of the date column")
    report.add_argument("--asset-column", help="name of the asset column")
    report.add_argument("--out", help="HTML file to write (default: <panel>.html)")
    report.add_argument("--figures", help="also save the figures (PNG) here")
    report.add_argument("--title", help="the page's title")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _column(frame, name, what, path):
    if name not in frame.columns:
        raise ValueError(
            f"{path} has no {what} column {name!r}; its columns are "
            f"{list(frame.columns)}. Pass one of them with --{what}."
        )
    return frame[name]


def _report(args):
    from pathlib import Path

    from skfactor.report._io import read_panel
    from skfactor.report._report import FactorReport

    path = Path(args.panel)
    frame = read_panel(path, date=args.date_column, asset=args.asset_column)
    names = [n.strip() for n in args.factor.split(",") if n.strip()]
    factor = pd.concat(
        {n: _column(frame, n, "factor", path.name) for n in names}, axis=1
    )
    returns = _column(frame, args.returns, "returns", path.name)
    groups = _column(frame, args.groups, "groups", path.name) if args.groups else None
    weights = (
        _column(frame, args.weights, "weights", path.name) if args.weights else None
    )
    report = FactorReport(
        factor, returns, quantiles=args.quantiles, horizons=args.horizons,
        groups=groups, weights=weights, start=args.start, end=args.end,
        verbose=not args.quiet,
    )  # fmt: skip
    out = Path(args.out) if args.out else path.with_suffix(".html")
    report.to_html(out, title=args.title)
    if args.figures:
        report.save_figures(args.figures)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skfactor`` command line on ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0, or 2 with a message on stderr for an input
    error (a wrong file layout, a missing column).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _report(args)
    except (ValueError, TypeError, ImportError) as exc:
        parser.exit(2, f"skfactor {args.command}: error: {exc}\n")
    return 2  # pragma: no cover - parser.exit raises


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
