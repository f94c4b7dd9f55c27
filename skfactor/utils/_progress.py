"""Progress bars on long work: tqdm when asked for and installed, else nothing.

Library calls take ``verbose=False`` (no output) and pass it here; the command
line passes True. tqdm is in the ``report`` extra and imported only when a bar
is wanted; without it the work runs the same after one note on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["compute", "progress"]

T = TypeVar("T")


_noted = False  # the missing-tqdm note is written once per process


def _tqdm():
    """The ``tqdm`` module, or None (after a note on stderr, the first time)."""
    global _noted
    try:
        import tqdm
    except ImportError:
        if not _noted:
            print(
                "skfactor: install tqdm for a progress bar "
                '(pip install "skfactor[report]"); working...',
                file=sys.stderr,
            )
            _noted = True
        return None
    return tqdm


def progress(
    iterable: Iterable[T],
    *,
    verbose: bool = False,
    total: int | None = None,
    desc: str | None = None,
) -> Iterable[T]:
    """``iterable``, wrapped in a tqdm bar on stderr when ``verbose``."""
    if not verbose:
        return iterable
    tqdm = _tqdm()
    if tqdm is None:
        return iterable
    return tqdm.tqdm(iterable, total=total, desc=desc, file=sys.stderr)


def _client():
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client: dask's local schedulers
        return None


def compute(*tasks: Any, verbose: bool = False, desc: str | None = None) -> tuple:
    """``dask.compute(*tasks)``, with a bar of finished tasks when ``verbose``.

    On a distributed client the tasks are submitted and counted as they
    finish; on dask's local schedulers tqdm's dask callback counts them.
    """
    import dask

    if not verbose:
        return dask.compute(*tasks)
    tqdm = _tqdm()
    if tqdm is None:
        return dask.compute(*tasks)
    client = _client()
    if client is None:
        from tqdm.dask import TqdmCallback

        with TqdmCallback(desc=desc, file=sys.stderr):
            return dask.compute(*tasks)
    from distributed import as_completed

    futures = client.compute(list(tasks))
    for _ in tqdm.tqdm(as_completed(futures), total=len(futures), desc=desc,
                       file=sys.stderr):  # fmt: skip
        pass
    return tuple(client.gather(futures))
