"""Shared helpers for the side-by-side benchmarks: workloads, timing, tables."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np
import pandas as pd

# The reference workload of DESIGN.md; SKFACTOR_BENCH_SCALE shrinks it for a
# quick run (e.g. 0.1 -> 300 assets x 252 dates).
SCALE = float(os.environ.get("SKFACTOR_BENCH_SCALE", "1"))
N_ASSETS = max(int(3000 * SCALE), 50)
N_DATES = max(int(2520 * SCALE), 60)


def reference_panel(
    n_assets=N_ASSETS,
    n_dates=N_DATES,
    n_chars=10,
    missing_rows=0.0,
    nan_fraction=0.0,
    seed=0,
):
    """Long (date, asset) panel of fat-tailed characteristics and returns."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_dates, name="date")
    assets = pd.Index([f"A{i:05d}" for i in range(n_assets)], name="asset")
    index = pd.MultiIndex.from_product([dates, assets])
    values = rng.standard_t(4, size=(len(index), n_chars))
    returns = 0.02 * rng.standard_t(5, size=len(index))
    if missing_rows:
        keep = rng.random(len(index)) >= missing_rows
        index, values, returns = index[keep], values[keep], returns[keep]
    if nan_fraction:
        values[rng.random(values.shape) < nan_fraction] = np.nan
    X = pd.DataFrame(values, index=index, columns=[f"c{k}" for k in range(n_chars)])
    y = pd.Series(returns, index=index, name="return")
    return X, y


def measure(fn, *, repeat=1, memory=True):
    """Best wall time over ``repeat`` runs, and peak traced memory (MiB) of one run."""
    best = np.inf
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    peak = np.nan
    if memory:
        gc.collect()
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return best, peak


def print_table(title, rows, baseline="skfactor"):
    """Print rows of (name, seconds, peak MiB, note) with ratios to ``baseline``."""
    base = dict((r[0], r[1]) for r in rows)[baseline]
    print(f"\n## {title}\n")
    print("| implementation | time (s) | peak memory (MiB) | time / skfactor | note |")
    print("|---|---:|---:|---:|---|")
    for name, seconds, peak, note in rows:
        print(
            f"| {name} | {seconds:.3f} | {peak:.0f} | {seconds / base:.1f}x | {note} |"
        )
