"""Threads over columns: numpy releases the GIL inside its array loops."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["effective_n_jobs", "for_each"]


def effective_n_jobs(n_jobs):
    """Number of threads ``n_jobs`` asks for, with scikit-learn's meaning.

    ``None`` is 1; ``-1`` is every CPU this process may use, ``-2`` all but
    one, and so on.
    """
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        cpus = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
        return max(cpus + 1 + n_jobs, 1)
    return n_jobs


def for_each(fn, items, n_jobs):
    """Call ``fn(item)`` for every item, on up to ``n_jobs`` threads.

    Meant for per-column work on large arrays, where numpy spends its time in
    loops that release the GIL. The first exception raised by a call is raised
    here.
    """
    items = list(items)
    n_threads = min(effective_n_jobs(n_jobs), len(items))
    if n_threads <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(n_threads) as pool:
        for _ in pool.map(fn, items):
            pass
