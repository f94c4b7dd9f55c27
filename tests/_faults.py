"""Page faults of a piece of work under a distributed worker's malloc setting.

A distributed worker runs with the nanny's ``MALLOC_TRIM_THRESHOLD_=65536``,
which pins glibc's mmap threshold at 128 KiB: every temporary array above it
is mapped and faulted in afresh, so the bytes a task allocates cost time on
a worker (issue 27). The count is deterministic with 4 KiB pages, so the work
runs in a subprocess with that setting, numpy's huge pages off (whether the
kernel grants one depends on its free memory) and one BLAS thread.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

requires_glibc = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
    reason="counts glibc's page faults",
)

_COUNT = '''
import resource, statistics

def faulted_mib(work):
    """MiB of pages ``work()`` faults: the median of three calls after one."""
    work()
    got = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        work()
        got.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(got) * resource.getpagesize() / 2**20
'''


def run_faulted(code):
    """The numbers ``code`` prints, run with a worker's malloc setting.

    ``code`` (dedented) runs after the definition of ``faulted_mib(work)``.
    """
    env = {
        **os.environ,
        "MALLOC_TRIM_THRESHOLD_": "65536",
        "NUMPY_MADVISE_HUGEPAGE": "0",
        "OMP_NUM_THREADS": "1",
    }
    script = _COUNT + textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return [float(v) for v in out.stdout.split()]
