"""The ``blas_threads`` training setting: its check and the thread limit it sets.

NumPy's matrix products run in the BLAS library that NumPy loads (OpenBLAS in the
NumPy wheels), which chooses its own thread count. threadpoolctl changes that count
while the process runs. The count changes the summation order inside the products,
and so the exact trained weights.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

BLAS_API = "blas"


def check_blas_threads(value: object) -> int | None:
    """Return the ``blas_threads`` setting as an int, or None when it is None.

    Raises:
        ValueError: If ``value`` is neither None nor an integer >= 1. Booleans
            and floats with an integer value are rejected too.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(
            f"Invalid blas_threads: {value!r}. It must be an integer >= 1, or null "
            "to keep the BLAS library's own thread count."
        )
    return int(value)


def available_cpus() -> int:
    """Return how many CPUs this process may run on, at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        # macOS and Windows have no sched_getaffinity.
        return max(1, os.cpu_count() or 1)


def cap_blas_threads(threads: int | None, cpus: int) -> int | None:
    """Return ``threads`` lowered to ``cpus``, or None when ``threads`` is None.

    More BLAS threads than CPUs make OpenBLAS many times slower: on a 2-CPU machine,
    3 threads took 24 s per epoch of the smallest configuration against 0.3 s with 2.
    """
    if threads is None:
        return None
    return min(threads, cpus)


def describe_blas_libraries() -> list[dict[str, Any]]:
    """Describe each BLAS library loaded in this process, with its thread count.

    Returns:
        One ``{"library", "version", "threads"}`` entry per library that
        threadpoolctl finds, such as ``openblas``. Empty before NumPy is imported
        or when NumPy uses a BLAS library that threadpoolctl does not support.
    """
    return [
        {
            "library": info.get("internal_api"),
            "version": info.get("version"),
            "threads": info.get("num_threads"),
        }
        for info in threadpool_info()
        if info.get("user_api") == BLAS_API
    ]


@contextmanager
def limit_blas_threads(threads: int | None) -> Iterator[None]:
    """Limit every loaded BLAS library to ``threads`` threads inside the block.

    None leaves the thread count as it is. threadpoolctl restores the count found
    on entry when the block exits, also when the block raises.

    OpenBLAS built with pthreads, as in the NumPy wheels, has one thread count for
    the whole process, and threadpoolctl 3.8 lets only the first Python thread that
    sets it change it. The training node therefore limits the count only from the
    main thread.
    """
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads, user_api=BLAS_API):
        yield
