"""Progress bars on long loops: tqdm when asked for and installed, else nothing."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def progress(
    iterable: Iterable[T],
    *,
    verbose: bool = False,
    total: int | None = None,
    desc: str | None = None,
) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar on stderr when ``verbose``.

    Library calls pass their ``verbose`` argument (False by default: no output);
    the command line passes True. Without tqdm (the ``report`` extra) the loop
    runs the same, after one note on stderr naming the extra.
    """
    if not verbose:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        print(
            f"skfactor: {desc or 'working'}... (install tqdm for a progress bar: "
            'pip install "skfactor[report]")',
            file=sys.stderr,
        )
        return iterable
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr)


def steps(names: Iterable[str], *, verbose: bool = False, desc: str) -> Iterator[str]:
    """Named steps of one job under one bar, the bar showing the current step."""
    names = list(names)
    bar = progress(names, verbose=verbose, total=len(names), desc=desc)
    for name in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(name)
        yield name
