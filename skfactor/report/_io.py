"""Read a long (date, asset) panel from a Parquet or CSV file, or say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from skfactor.panel._output import ASSET_NAMES, DATE_NAMES

__all__ = ["read_panel"]


def _find(columns, wanted, names, role, path):
    if wanted is not None:
        if wanted not in columns:
            raise ValueError(
                f"{path.name} has no {role} column {wanted!r}; its columns are "
                f"{list(columns)}. Pass the right name with --{role}-column."
            )
        return wanted
    found = [c for c in columns if str(c).lower() in names]
    if len(found) != 1:
        how = "several" if found else "no"
        raise ValueError(
            f"{path.name} has {how} {role} column(s) ({found or 'none of'} "
            f"{sorted(names)[:6]}...); its columns are {list(columns)}. A panel "
            f"file is long: one row per (date, asset), with a date and an asset "
            f"column. Name the {role} column with --{role}-column NAME."
        )
    return found[0]


def read_panel(
    path: str | Path, *, date: str | None = None, asset: str | None = None
) -> pd.DataFrame:
    """A long panel file as a DataFrame on a sorted (date, asset) MultiIndex.

    ``path`` is Parquet (``.parquet``, ``.pq``; needs pyarrow, in the
    ``report`` extra) or CSV (``.csv``, ``.csv.gz``, ``.txt``). The date and
    asset are columns (found by their usual names, or named by ``date`` and
    ``asset``) or the file's index; dates are parsed with ``pd.to_datetime``.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"No file {str(path)!r}; give the path of a panel file.")
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".parquet", ".pq")):
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                f"Reading {path.name} needs pyarrow; install it with "
                '`pip install "skfactor[report]"` (or save the panel as CSV).'
            ) from exc
    elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
        frame = pd.read_csv(path)
    else:
        raise ValueError(
            f"{path.name}: unknown file type {path.suffix!r}; give a Parquet "
            "(.parquet) or CSV (.csv) file."
        )
    if isinstance(frame.index, pd.MultiIndex) or frame.index.name is not None:
        frame = frame.reset_index()  # keys saved as the index become columns
    date = _find(frame.columns, date, DATE_NAMES, "date", path)
    asset = _find(frame.columns, asset, ASSET_NAMES, "asset", path)
    try:
        dates = pd.to_datetime(frame[date])
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{path.name}: the {date!r} column could not be read as dates ({exc}); "
            "write dates as YYYY-MM-DD."
        ) from None
    frame = frame.drop(columns=[date, asset]).set_axis(
        pd.MultiIndex.from_arrays([dates, frame[asset]], names=["date", "asset"])
    )
    duplicated = frame.index.duplicated()
    if duplicated.any():
        examples = frame.index[duplicated][:3].tolist()
        raise ValueError(
            f"{path.name} has {int(duplicated.sum())} duplicated (date, asset) "
            f"rows, e.g. {examples}; a panel has one row per asset and date. "
            "Drop or aggregate the duplicates, or check that the file is long, "
            "not several panels stacked."
        )
    return frame.sort_index()
