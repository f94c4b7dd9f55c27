"""skfactor.dask past one worker's memory: Dask beside the pandas path.

Writes a synthetic panel to Parquet (one file per ``--dates-per-file`` dates),
then times, on a LocalCluster of ``--workers`` processes x 1 thread with
``--memory-limit`` each:

1. winsorize -> z-score per date (``transform_by_date``), written to Parquet;
2. the cross-sectional regressions (``fit_by_date``) and the Fama-MacBeth table;
3. the time-series betas with HAC errors on the wide returns
   (``wide_returns`` -> ``fit_by_asset``), on the factor returns of step 2,

and the same steps in one pandas process (in a subprocess, for its own peak
memory). Prints wall times, each worker's peak RSS and the pandas process's,
and the largest differences between the two paths.

Standalone: ``PYTHONPATH=.. python bench_dask.py [--assets 4000 --dates 5460]``.
``SKFACTOR_BENCH_SCALE`` (as the other benchmarks) scales the dates; the
panel should be at least 4x one worker's memory limit (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SCALE = float(os.environ.get("SKFACTOR_BENCH_SCALE", "1"))


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=4000)
    p.add_argument("--dates", type=int, default=max(int(5460 * SCALE), 126))
    p.add_argument("--chars", type=int, default=20)
    p.add_argument("--dates-per-file", type=int, default=21)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="512MiB")
    p.add_argument("--asset-block", type=int, default=200)
    p.add_argument("--path", default=None, help="data folder (default: a temp dir)")
    p.add_argument("--reuse", action="store_true", help="keep the data in --path")
    p.add_argument("--pandas", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _chars(n):
    return [f"c{j:02d}" for j in range(n)]


def write_panel(path, n_assets, n_dates, n_chars, per_file, seed=0):
    """A float32 panel from a known factor model, one Parquet file per block."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2000-01-03", periods=n_dates)
    assets = np.array([f"A{i:05d}" for i in range(n_assets)])
    names = _chars(n_chars)
    f = rng.normal(0.0, 0.004, (n_dates, n_chars))
    path.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, n_dates, per_file)):
        d = dates[start : start + per_file]
        n = len(d) * n_assets
        X = rng.standard_t(4, (n, n_chars)).astype(np.float32)
        X[rng.random((n, n_chars)) < 0.002] *= 25  # outliers to winsorize
        loads = np.clip(X, -3, 3)
        day = np.repeat(np.arange(start, start + len(d)), n_assets)
        ret = np.einsum("ij,ij->i", loads, f[day]) + rng.normal(0, 0.02, n)
        frame = pd.DataFrame(X, columns=names)
        frame.insert(0, "asset", np.tile(assets, len(d)))
        frame["ret"] = ret.astype(np.float32)
        frame.index = pd.Index(np.repeat(d, n_assets), name="date")
        frame.to_parquet(path / f"part.{k:05d}.parquet")
    return dates, assets


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pandas(path, n_chars, asset_block):
    """The pandas path in this process: times, peak RSS, results to compare."""
    from sklearn.pipeline import make_pipeline

    from skfactor import (
        CrossSectionalFactorModel,
        CrossSectionalZScore,
        TimeSeriesFactorModel,
        Winsorizer,
    )

    names = _chars(n_chars)
    out = {}
    t = time.perf_counter()
    panel = pd.read_parquet(path).set_index("asset", append=True)
    Z = make_pipeline(Winsorizer(), CrossSectionalZScore()).fit_transform(panel[names])
    out["transform"] = time.perf_counter() - t
    t = time.perf_counter()
    model = CrossSectionalFactorModel().fit(Z, panel["ret"])
    table = model.summary()
    out["cross-sectional"] = time.perf_counter() - t
    t = time.perf_counter()
    R = panel["ret"].unstack("asset")
    ts = TimeSeriesFactorModel(cov_type="HAC", maxlags=5).fit(model.factor_returns_, R)
    out["time-series"] = time.perf_counter() - t
    out["peak_mib"] = _peak_mib()
    out["z_head"] = Z.iloc[:2000].to_numpy().tolist()
    out["params"] = model.params_.to_numpy().tolist()
    out["table"] = table.to_numpy().tolist()
    out["betas"] = ts.params_.to_numpy().tolist()
    out["bse"] = ts.bse_.to_numpy().tolist()
    return out


def run_dask(path, args):
    import dask
    from distributed import Client, LocalCluster
    from sklearn.pipeline import make_pipeline

    import skfactor.dask as sd
    from skfactor import (
        CrossSectionalFactorModel,
        CrossSectionalZScore,
        TimeSeriesFactorModel,
        Winsorizer,
    )

    names = _chars(args.chars)
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.memory_limit,
        dashboard_address=None,
    )
    client = Client(cluster)
    client.run(lambda: __import__("skfactor.dask"))  # import cost off the clock
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ddf = sd.read_panel(str(path))
        steps = make_pipeline(Winsorizer(), CrossSectionalZScore())
        Z = sd.transform_by_date(steps, ddf, names)
        Z.to_parquet(tmp)  # row-sized output: written out, not gathered
        out["transform"] = time.perf_counter() - t
        t = time.perf_counter()
        Zr = sd.read_panel(tmp)
        model = sd.fit_by_date(CrossSectionalFactorModel(), Zr, names, "ret")
        table = model.summary()
        out["cross-sectional"] = time.perf_counter() - t
        t = time.perf_counter()
        assets = np.sort(
            pd.read_parquet(next(path.glob("*.parquet")))["asset"].unique()
        )
        R = sd.wide_returns(ddf, "ret", assets=assets)
        ts = sd.fit_by_asset(
            TimeSeriesFactorModel(cov_type="HAC", maxlags=5),
            model.factor_returns_,
            R,
            asset_block=args.asset_block,
        )
        out["time-series"] = time.perf_counter() - t
        z_head = sd.gather(Zr.partitions[0])[names].iloc[:2000].to_numpy()
    peaks = client.run(_peak_mib)
    out["worker_peaks_mib"] = sorted(peaks.values())
    out["z_head"] = z_head
    out["params"] = model.params_.to_numpy()
    out["table"] = table.to_numpy()
    out["betas"] = ts.params_.to_numpy()
    out["bse"] = ts.bse_.to_numpy()
    client.close()
    cluster.close()
    del dask
    return out


def _maxdiff(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    assert (np.isfinite(a) == np.isfinite(b)).all()
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def main():
    args = _args()
    if args.pandas:
        print(json.dumps(run_pandas(Path(args.path), args.chars, args.asset_block)))
        return
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        print("bench_dask: skipped (install the `dask` extra)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.path or tmp) / "panel"
        t = time.perf_counter()
        if not (args.reuse and path.is_dir()):
            write_panel(path, args.assets, args.dates, args.chars, args.dates_per_file)
        rows = args.assets * args.dates
        panel_mib = (
            pd.read_parquet(next(path.glob("*.parquet"))).memory_usage(deep=True).sum()
            * (args.dates / args.dates_per_file)
            / 2**20
        )
        limit = pd.Series([args.memory_limit]).str.extract(r"(\d+)")[0].astype(float)
        limit_mib = float(limit.iloc[0]) * (1024 if "G" in args.memory_limit else 1)
        print(
            f"panel: {args.assets} assets x {args.dates} dates x {args.chars} float32 "
            f"characteristics = {rows / 1e6:.1f} M rows, {panel_mib:,.0f} MiB in "
            f"pandas ({panel_mib / limit_mib:.1f}x a worker's {args.memory_limit}); "
            f"written in {time.perf_counter() - t:.0f} s"
        )
        dk = run_dask(path, args)
        cmd = [sys.executable, __file__, "--pandas", "--path", str(path)]
        cmd += ["--chars", str(args.chars)]
        pd_out = json.loads(
            subprocess.run(cmd, capture_output=True, check=True, text=True).stdout
        )
    print(f"\n{'step':<34}{'pandas (1 process)':>20}{'Dask':>12}")
    for step, label in [
        ("transform", "winsorize + z-score (to Parquet)"),
        ("cross-sectional", "CS fit + Fama-MacBeth"),
        ("time-series", "TS betas + HAC (asset blocks)"),
    ]:
        print(f"{label:<34}{pd_out[step]:>18.1f} s{dk[step]:>10.1f} s")
    peaks = ", ".join(f"{p:.0f}" for p in dk["worker_peaks_mib"])
    print(
        f"{'peak memory (MiB)':<34}{pd_out['peak_mib']:>20,.0f}"
        f"   workers: {peaks} (limit {args.memory_limit})"
    )
    print(
        "max |Dask - pandas|: z-scores {:.1e}, per-date estimates {:.1e}, "
        "Fama-MacBeth table {:.1e}, TS betas {:.1e}, TS HAC errors {:.1e}".format(
            _maxdiff(dk["z_head"], pd_out["z_head"]),
            _maxdiff(dk["params"], pd_out["params"]),
            _maxdiff(dk["table"], pd_out["table"]),
            _maxdiff(dk["betas"], pd_out["betas"]),
            _maxdiff(dk["bse"], pd_out["bse"]),
        )
    )


if __name__ == "__main__":
    main()
