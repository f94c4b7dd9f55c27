"""Fail before computing when the workers cannot hold one task.

A distributed worker pauses when its memory passes a fraction of its
``memory_limit`` (``distributed.worker.memory.pause``, 80 % by default) and
waits for memory to be released: a worker over it at rest, or a task larger
than the room left, hangs the computation without an error (or gets its
workers killed again and again). The workers' limits and memory at rest come
from the current client's ``scheduler_info()``; a partition's size from its
row count where Dask knows it without computing (``from_pandas``, Parquet
statistics), or from the scheduler for a persisted panel (the bytes of each
partition in the workers' memory). A partition whose size nothing knows
before computing (``from_delayed``, CSV, ...) is checked by its own task, on
its worker, before the per-date step runs (:func:`check_partition_memory`).
A ``from_pandas`` panel also travels whole in the task graph: it must fit the
workers' room together.
"""

from __future__ import annotations

import dask
import pandas as pd

__all__ = [
    "check_memory",
    "check_panel_memory",
    "check_partition_memory",
    "check_workers",
    "partition_bytes",
    "unsized",
]

#: Peak memory of a per-date step, in multiples of its partition's values
#: held as float64: the read, the (date, asset) index, the float64 copy and
#: the kernels' buffers. On a 1 GiB LocalCluster worker (0.27 GiB at rest) a
#: 110 MiB partition ran and a 219 MiB one killed the worker: 3.2x to 6.4x.
PANEL_FACTOR = 4

#: The same for an asset block of ``fit_by_asset`` (n_dates x asset_block
#: float64 values): the HAC fit of a 25 MB block overran 0.32 GiB of room.
BLOCK_FACTOR = 10

_MiB = 2**20

#: How to make a panel's partitions smaller, for the messages.
PANEL_FIX = (
    "Cut the panel into smaller partitions of whole dates (Parquet files cut "
    "by month rather than by year, more `npartitions` in "
    "`skfactor.dask.from_pandas`, or `ddf.repartition(divisions=...)` at more "
    "dates)."
)


def _client():
    """The current distributed client, or None (local schedulers: no limit)."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _row_bytes(meta):
    """Bytes per row once the columns are float64 (8 for the index)."""
    dtypes = [meta.dtype] if isinstance(meta, pd.Series) else list(meta.dtypes)
    # Numbers, booleans and datetimes as 8 bytes; labels (strings, categories)
    # as 16, a low estimate of a short string.
    kinds = [getattr(t, "kind", "O") for t in dtypes]
    return 8 + sum(8 if kind in "biufcmM" else 16 for kind in kinds)


def _persisted_bytes(leaf):
    """Bytes of the largest partition of a persisted frame, from the scheduler."""
    client = _client()
    if client is None:
        return None
    sizes = client.nbytes(keys=list(leaf.operand("keys")), summary=False)
    return int(max(sizes.values())) if sizes else None


def partition_bytes(ddf):
    """Largest partition that ``ddf``'s graph reads, ``(rows, bytes, inline)``.

    The sizes are those Dask knows without computing: the row counts of the
    frames read (``from_pandas``, Parquet statistics) under any lazy steps,
    which hold every row of a partition once, filters included, as float64
    values; the bytes in the workers' memory of a persisted frame's
    partitions (``rows`` None). ``inline`` is the size of the ``from_pandas``
    data, which travels whole in the task graph. None when no size is known
    (the tasks then check their own partitions).
    """
    try:
        leaves = [e for e in ddf.expr.walk() if not e.dependencies()]
        sizes, inline = [], 0
        for leaf in leaves:
            lengths = leaf._get_lengths() if hasattr(leaf, "_get_lengths") else None
            if lengths:
                row = _row_bytes(leaf._meta)
                rows = int(max(lengths))
                sizes.append((rows, rows * row))
                if type(leaf).__name__.startswith("FromPandas"):
                    inline += int(sum(lengths)) * row
            elif type(leaf).__name__ == "FromGraph":  # persisted
                nbytes = _persisted_bytes(leaf)
                if nbytes is not None:
                    sizes.append((None, nbytes))
    except Exception:  # noqa: BLE001 - Dask internals: no estimate, no check
        return None
    if not sizes:
        return None
    return (*max(sizes, key=lambda s: s[1]), inline)


def _room(worker):
    """``(limit, at_rest, pause_at)`` in bytes for one worker, or None."""
    limit = worker.get("memory_limit") or 0
    if limit <= 0:
        return None
    fraction = dask.config.get("distributed.worker.memory.pause", 0.8)
    if not fraction:  # pausing disabled: the nanny's kill is the limit
        fraction = dask.config.get("distributed.worker.memory.terminate", 0.95)
    return limit, worker.get("metrics", {}).get("memory", 0), limit * (fraction or 1)


def check_memory(
    workers, task_bytes=None, *, what="", factor=PANEL_FACTOR, fix="", inline=0
):
    """Raise if a worker cannot run anything, or one task of ``task_bytes``.

    Parameters
    ----------
    workers : dict
        ``scheduler_info()["workers"]``: each worker's ``memory_limit``,
        ``nthreads``, ``status`` and ``metrics["memory"]`` (at rest).
    task_bytes : int, optional
        The float64 size of one task's input (a partition, an asset block).
    what : str
        That input, described for the message ("partition 3 of `ddf` ...").
    factor : float
        The task's peak memory in multiples of ``task_bytes``.
    fix : str
        How to make the tasks smaller, for the message.
    inline : int, default=0
        Bytes of data inside the task graph (``from_pandas``): held twice
        (serialised and as a frame) by the workers together.
    """
    room = 0.0
    for address, worker in workers.items():
        limits = _room(worker)
        if limits is None:
            continue
        limit, rest, pause = limits
        room += pause - rest
        if worker.get("status") == "paused" or rest >= pause:
            raise MemoryError(
                f"Dask worker {address} uses {rest / _MiB:,.0f} MiB at rest, over "
                f"the {pause / _MiB:,.0f} MiB ({pause / limit:.0%} of its "
                f"`memory_limit` of {limit / _MiB:,.0f} MiB) where it pauses: no "
                "task can run and the computation would hang. Give the workers "
                "more memory (a worker needs about 0.3 GiB before it holds any "
                "data), e.g. `LocalCluster(memory_limit='2GiB')`, or fewer "
                "workers per machine."
            )
        if task_bytes is None:
            continue
        threads = max(int(worker.get("nthreads", 1) or 1), 1)
        need = rest + threads * factor * task_bytes
        if need > pause:
            raise MemoryError(
                f"{what} holds about {task_bytes / _MiB:,.0f} MiB as float64 "
                f"values; a task peaks at about {factor}x that, and Dask worker "
                f"{address} (`memory_limit` {limit / _MiB:,.0f} MiB, "
                f"{rest / _MiB:,.0f} MiB in use at rest, {threads} thread(s)) "
                f"pauses at {pause / _MiB:,.0f} MiB: it would need about "
                f"{need / _MiB:,.0f} MiB, so the computation would hang or its "
                f"workers be killed. {fix} Or give the workers more memory "
                "(`memory_limit`)."
            )
    if inline and room and 2 * inline > room:
        raise MemoryError(
            f"A panel made by `from_pandas` travels whole in the task graph: "
            f"about {inline / _MiB:,.0f} MiB as float64 values, held twice "
            f"(serialised and as frames), while the workers have "
            f"{room / _MiB:,.0f} MiB of room in all below their pause threshold, "
            "so the computation would hang. Write it to Parquet cut by date on "
            "this machine (`skfactor.dask.from_pandas(panel, n).to_parquet(path, "
            "compute_kwargs={'scheduler': 'threads'})`) and read it with "
            "`skfactor.dask.read_panel(path)`, or give the workers more memory "
            "(`memory_limit`)."
        )


def check_workers(task_bytes=None, **kwargs):
    """:func:`check_memory` on the current client's workers (none: no check)."""
    client = _client()
    if client is None:
        return
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except Exception:  # noqa: BLE001 - an unreachable scheduler fails later
        return
    check_memory(workers, task_bytes, **kwargs)


def check_panel_memory(ddf, name="ddf"):
    """:func:`check_workers` for the largest partition of a Dask panel."""
    size = partition_bytes(ddf)
    rows, nbytes, inline = size if size is not None else (0, None, 0)
    what = (
        f"The largest partition of `{name}` ({rows:,} rows)"
        if rows is not None
        else f"The largest partition of `{name}` (persisted on the workers)"
    )
    check_workers(nbytes, inline=inline, what=what, factor=PANEL_FACTOR, fix=PANEL_FIX)


def unsized(ddf):
    """Whether no partition size of ``ddf`` is known before computing.

    Its tasks then check their own partitions (:func:`check_partition_memory`).
    """
    return partition_bytes(ddf) is None


def check_partition_memory(part, number):
    """In a task on a distributed worker: raise if its partition cannot be processed.

    The backstop for partitions whose size Dask did not know before
    computing: ``part`` (partition ``number``, in memory) as float64 values,
    times the peak of a per-date step, against the worker's room (its
    ``memory_limit`` at the pause fraction, less its memory that is not the
    data it manages). Elsewhere (no worker, no limit) nothing is checked.
    """
    try:
        from distributed import get_worker

        worker = get_worker()
        limit = worker.memory_manager.memory_limit
        rest = worker.monitor.get_process_memory() - worker.state.nbytes
        nthreads = worker.state.nthreads
    except Exception:  # noqa: BLE001 - not on a distributed worker: no check
        return
    if not limit:
        return
    state = {"memory_limit": limit, "nthreads": nthreads, "status": "running"}
    check_memory(
        {worker.address: {**state, "metrics": {"memory": max(rest, 0)}}},
        len(part) * _row_bytes(part),
        what=(
            f"Partition {number} of the panel ({len(part):,} rows, a size Dask "
            "did not know before computing, so its task checked it)"
        ),
        factor=PANEL_FACTOR,
        fix=PANEL_FIX,
    )
