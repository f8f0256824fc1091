"""Tests of the BLAS thread limit that the training node applies."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_fnn.blas_threads import (
    available_cpus,
    cap_blas_threads,
    check_blas_threads,
    describe_blas_libraries,
    limit_blas_threads,
)
from tests.conftest import blas_thread_counts

# threadpoolctl finds the BLAS library only once NumPy has loaded it.
assert np.ones(1).sum() == 1


# Every test here starts from 2 BLAS threads.
pytestmark = pytest.mark.usefixtures("two_blas_threads")


def test_check_blas_threads_returns_int():
    assert check_blas_threads(None) is None
    assert check_blas_threads(np.int64(3)) == 3
    assert type(check_blas_threads(np.int64(3))) is int


def test_describe_blas_libraries_counts():
    libraries = describe_blas_libraries()

    assert libraries
    assert {library["threads"] for library in libraries} == {2}
    assert all(library["library"] for library in libraries)


def test_limit_sets_and_restores():
    with limit_blas_threads(1):
        assert set(blas_thread_counts()) == {1}
    assert set(blas_thread_counts()) == {2}


def test_limit_none_changes_nothing():
    with limit_blas_threads(None):
        assert set(blas_thread_counts()) == {2}
    assert set(blas_thread_counts()) == {2}


def test_limit_restored_after_error():
    with pytest.raises(ZeroDivisionError), limit_blas_threads(1):
        _ = 1 / 0
    assert set(blas_thread_counts()) == {2}


def test_nested_limits_restore_in_order():
    with limit_blas_threads(1):
        with limit_blas_threads(3):
            assert set(blas_thread_counts()) == {3}
        assert set(blas_thread_counts()) == {1}
    assert set(blas_thread_counts()) == {2}


@pytest.mark.parametrize(
    ("requested", "cpus", "expected"),
    [(None, 4, None), (1, 4, 1), (4, 4, 4), (5, 4, 4), (1000, 2, 2)],
)
def test_cap_blas_threads_at_cpus(requested, cpus, expected):
    assert cap_blas_threads(requested, cpus) == expected


def test_available_cpus_positive():
    assert available_cpus() >= 1
