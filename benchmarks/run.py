"""Run every benchmark in this folder, one after the other, in one process each."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent

if __name__ == "__main__":
    only = sys.argv[1:]
    for script in sorted(HERE.glob("bench_*.py")):
        if only and not any(name in script.stem for name in only):
            continue
        print(f"\n# {script.stem}", flush=True)
        subprocess.run([sys.executable, str(script)], cwd=HERE, check=True)
