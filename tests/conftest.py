"""Fixtures shared by the project's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = PROJECT_ROOT / "data" / "01_raw" / "mnist"

# What a temporary copy of the project needs to run `kedro run`.
_PROJECT_FILES = ("pyproject.toml", ".telemetry")
_PROJECT_DIRS = ("conf", "src", "data/01_raw")


def copy_project(destination: Path) -> Path:
    """Copy the project's code, configuration and raw data to ``destination``.

    Local configuration, outputs and caches stay behind, so the copy behaves like
    a fresh clone.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for name in _PROJECT_FILES:
        shutil.copy2(PROJECT_ROOT / name, destination / name)
    for name in _PROJECT_DIRS:
        shutil.copytree(
            PROJECT_ROOT / name,
            destination / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "credentials*"),
        )
    for layer in (
        "02_intermediate",
        "03_primary",
        "05_model_input",
        "06_models",
        "08_reporting",
    ):
        (destination / "data" / layer).mkdir(parents=True, exist_ok=True)
    return destination


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A temporary copy of the project, as a fresh clone has it."""
    return copy_project(tmp_path / "project")


def blas_thread_counts() -> list[int]:
    """Return the thread count of each BLAS library that threadpoolctl finds."""
    return [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]


@pytest.fixture
def two_blas_threads():
    """Set the BLAS libraries to 2 threads, a count that differs from a limit of 1.

    The tests then see a change even on a machine whose default count is 1.
    """
    if not blas_thread_counts():
        pytest.skip("threadpoolctl finds no BLAS library in this process")
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_thread_counts() == [2] * len(blas_thread_counts())
        yield
