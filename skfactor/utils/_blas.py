"""One BLAS thread for many small matrices."""

from __future__ import annotations

from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

__all__ = ["one_blas_thread"]

_THREADS = []  # the BLAS controller, found once (finding it reads /proc: 13 ms)


def one_blas_thread():
    """Limit BLAS to one thread (a context manager) for many small matrices."""
    if not _THREADS:
        _THREADS.append(ThreadpoolController())
    return _THREADS[0].limit(limits=1, user_api="blas")
