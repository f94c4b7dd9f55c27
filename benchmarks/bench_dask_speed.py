"""skfactor.dask at an in-memory size: Dask beside pandas on the same two cores.

The in-memory comparison of issue 27. A generated panel of 2,000 assets x
2,520 dates (``SKFACTOR_BENCH_SCALE`` scales the dates) with 5 fat-tailed
characteristics and a return, 2 % of the (date, asset) rows missing and 1 %
of the characteristic cells NaN, held once as a pandas panel and once as a
Dask panel of 8 partitions persisted on a ``LocalCluster(n_workers=2,
threads_per_worker=1)`` with a generous ``memory_limit`` (the point is speed,
not memory: ``bench_dask.py`` is the out-of-memory run). The panel is
persisted, and waited for, before any timing. Rows:

a. ``Winsorizer(0.01)`` -> ``CrossSectionalZScore`` per date
   (``transform_by_date``); the Dask result is persisted on the workers and
   waited for (not gathered to the client), the pandas one is in memory;
b. ``CrossSectionalFactorModel`` fit and its Fama-MacBeth ``summary()``
   (``fit_by_date``) on the z-scores of (a), persisted;
c. ``TimeSeriesFactorModel(cov_type="HAC", maxlags=5)`` betas on the factor
   returns of (b), the asset returns taken wide from the panel
   (``wide_returns`` -> ``fit_by_asset``);
d. ``RollingFactorModel(window=100)`` betas the same way: the fit computes
   every window and keeps them on the workers; ``params_`` is persisted
   and waited for (a no-op since the fit keeps them; before, it fitted
   every partition again).

Each row prints the pandas wall time (best of three), the Dask wall time
(best of three), their ratio, the largest absolute difference of the
results, and the workers' minor page faults (in MiB of 4 KiB pages: the
bytes of fresh temporaries the tasks touched, with distributed's allocator
setting below) and CPU seconds per Dask run. Run
``PYTHONPATH=.. python bench_dask_speed.py [a b c d] [--keep-heap]``
(the rows to time, default all; (b) always runs: (c) and (d) use its
factor returns), or through ``run.py dask_speed``.

``--keep-heap`` starts the workers without distributed's default
``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``):
that setting also fixes glibc's mmap threshold at 128 KiB, so every array
the per-date kernels allocate is mapped and unmapped afresh, which made a
partition's fit 2-3x slower on a worker than in the client process (see
"Scaling out", "Measured costs").
"""

from __future__ import annotations

import gc
import os
import sys
import time
import warnings

import numpy as np
from _harness import reference_panel
from sklearn.pipeline import make_pipeline

from skfactor import (
    CrossSectionalFactorModel,
    CrossSectionalZScore,
    RollingFactorModel,
    TimeSeriesFactorModel,
    Winsorizer,
)

SCALE = float(os.environ.get("SKFACTOR_BENCH_SCALE", "1"))
N_ASSETS = 2000
N_DATES = max(int(2520 * SCALE), 252)
N_CHARS = 5
N_PARTITIONS = 8
WINDOW = 100
REPEAT = 3


def make_panel():
    """The pandas panel: 5 characteristics ``c0``..``c4`` and ``ret``."""
    X, _ = reference_panel(
        N_ASSETS, N_DATES, N_CHARS, missing_rows=0.02, nan_fraction=0.01
    )
    rng = np.random.default_rng(1)
    f = rng.normal(0.0, 0.004, (N_DATES, N_CHARS))
    day = X.index.codes[0]
    loads = np.nan_to_num(np.clip(X.to_numpy(), -3, 3))
    ret = np.einsum("ij,ij->i", loads, f[day]) + rng.normal(0, 0.02, len(X))
    return X.assign(ret=ret)


def _steps():
    return make_pipeline(Winsorizer(limits=0.01), CrossSectionalZScore())


def _chars():
    return [f"c{k}" for k in range(N_CHARS)]


# ------------------------------------------------------------------ pandas
def pandas_transform(panel):
    return _steps().fit_transform(panel[_chars()])


def pandas_cross_sectional(Z, panel):
    model = CrossSectionalFactorModel().fit(Z, panel["ret"])
    return model, model.summary()


def pandas_time_series(F, panel):
    R = panel["ret"].unstack("asset")
    return TimeSeriesFactorModel(cov_type="HAC", maxlags=5).fit(F, R)


def pandas_rolling(F, panel):
    R = panel["ret"].unstack("asset")
    return RollingFactorModel(window=WINDOW).fit(F, R)


# -------------------------------------------------------------------- Dask
def dask_transform(ddf):
    from distributed import wait

    import skfactor.dask as sd

    Z = sd.transform_by_date(_steps(), ddf, _chars()).persist()
    wait(Z)
    return Z


def dask_cross_sectional(Zd):
    import skfactor.dask as sd

    model = sd.fit_by_date(CrossSectionalFactorModel(), Zd, _chars(), "ret")
    return model, model.summary()


def dask_time_series(F, ddf, assets):
    """Time-series betas with HAC on the Dask panel (current public API)."""
    import skfactor.dask as sd

    R = sd.wide_returns(ddf, "ret", assets=assets)
    return sd.fit_by_asset(TimeSeriesFactorModel(cov_type="HAC", maxlags=5), F, R)


def dask_rolling(F, ddf, assets):
    """Rolling betas on the Dask panel (current public API), persisted."""
    from distributed import wait

    import skfactor.dask as sd

    R = sd.wide_returns(ddf, "ret", assets=assets)
    model = sd.fit_by_asset(RollingFactorModel(window=WINDOW), F, R)
    model.params_ = model.params_.persist()
    wait(model.params_)
    return model


# ------------------------------------------------------------------- runner
def dask_config(key):
    import dask

    return dask.config.get(key, None)


def best(fn, repeat=REPEAT):
    """(best wall time over ``repeat`` runs, the last result)."""
    times, out = [], None
    for _ in range(repeat):
        # Drop the previous result first: a persisted Dask result still held
        # would be reused by the next run (same keys) instead of recomputed.
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _usage():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_utime + usage.ru_stime


def faulted(client, fn, repeat=REPEAT):
    """``best(fn)``, and the workers' minor page faults (MiB) and CPU per run.

    A fault maps a fresh 4 KiB page: with distributed's
    ``MALLOC_TRIM_THRESHOLD_`` every temporary array above 128 KiB is
    faulted in afresh, so this counts the bytes of temporaries the tasks
    allocate (see the module docstring). The CPU seconds (both workers)
    vary less than the wall time on a shared machine.
    """
    before = client.run(_usage)
    t, out = best(fn, repeat)
    after = client.run(_usage)
    pages = sum(after[w][0] - before[w][0] for w in after) / repeat
    cpu = sum(after[w][1] - before[w][1] for w in after) / repeat
    return t, out, (pages * 4 / 1024, cpu)


def maxdiff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.inf
    if not (np.isnan(a) == np.isnan(b)).all():
        return np.inf
    both = ~np.isnan(a)
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def rolling_params(model):
    """The rolling ``params_`` as an array (dates, assets, terms)."""
    p = model.params_
    if hasattr(p, "compute"):
        return np.asarray(p.compute())
    n_dates = p.index.get_level_values(0).nunique()
    return p.to_numpy().reshape(n_dates, -1, p.shape[1])


def main(only=("a", "b", "c", "d"), keep_heap=False):
    try:
        from distributed import Client, LocalCluster, wait
    except ImportError:
        print("bench_dask_speed: skipped (install the `dask` extra)")
        return
    import skfactor.dask as sd

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    panel = make_panel()
    assets = np.sort(panel.index.get_level_values("asset").unique())
    print(
        f"panel: {N_ASSETS:,} assets x {N_DATES:,} dates x {N_CHARS} "
        f"characteristics, {len(panel) / 1e6:.2f} M rows "
        f"({panel.memory_usage(deep=True).sum() / 2**20:,.0f} MiB in pandas); "
        f"Dask: {N_PARTITIONS} persisted partitions, 2 workers x 1 thread"
    )
    rows = []
    environ = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    if keep_heap:
        import dask

        dask.config.set({environ: None})  # unset: glibc's adaptive thresholds
    print(f"workers' MALLOC_TRIM_THRESHOLD_: {dask_config(environ)}")
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit="6GiB",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("skfactor.dask"))  # imports off the clock
        ddf = sd.from_pandas(panel, N_PARTITIONS).persist()
        wait(ddf)

        t_pd, Z = best(lambda: pandas_transform(panel), REPEAT if "a" in only else 1)
        t_dk, Zd, mib = faulted(
            client, lambda: dask_transform(ddf), REPEAT if "a" in only else 1
        )
        if "a" in only:
            got = sd.gather(Zd)[_chars()].reindex(Z.index)
            diff = maxdiff(got, Z)
            rows.append(("a. winsorize + z-score (persisted)", t_pd, t_dk, diff, mib))

        Zp = Z.assign(ret=panel["ret"])
        t_pd, (cs, table) = best(lambda: pandas_cross_sectional(Zp[_chars()], Zp))
        t_dk, (cs_d, table_d), mib = faulted(client, lambda: dask_cross_sectional(Zd))
        diff = max(
            maxdiff(cs_d.params_, cs.params_), maxdiff(table_d, table)
        )  # per-date estimates and the Fama-MacBeth table
        rows.append(("b. CS fit + Fama-MacBeth", t_pd, t_dk, diff, mib))

        F = cs.factor_returns_
        if "c" in only:
            t_pd, ts = best(lambda: pandas_time_series(F, panel))
            t_dk, ts_d, mib = faulted(client, lambda: dask_time_series(F, ddf, assets))
            diff = max(maxdiff(ts_d.params_, ts.params_), maxdiff(ts_d.bse_, ts.bse_))
            rows.append(("c. TS betas + HAC", t_pd, t_dk, diff, mib))

        if "d" in only:
            t_pd, roll = best(lambda: pandas_rolling(F, panel))
            t_dk, roll_d, mib = faulted(client, lambda: dask_rolling(F, ddf, assets))
            diff = maxdiff(rolling_params(roll_d), rolling_params(roll))
            rows.append((f"d. rolling betas (window {WINDOW})", t_pd, t_dk, diff, mib))
        del client

    print(f"\n## Dask beside pandas, in memory (best of {REPEAT})\n")
    print(
        "| step | pandas (s) | Dask (s) | Dask / pandas | max abs difference "
        "| workers' page faults (MiB per run) | workers' CPU (s per run) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, t_pd, t_dk, diff, (mib, cpu) in rows:
        ratio = t_dk / t_pd
        print(
            f"| {label} | {t_pd:.2f} | {t_dk:.2f} | {ratio:.1f}x | {diff:.1e} "
            f"| {mib:,.0f} | {cpu:.2f} |"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--keep-heap"]
    main(tuple(args) or ("a", "b", "c", "d"), keep_heap="--keep-heap" in sys.argv)
