"""Fixtures of the failure tests: project copies with model inputs ready, and a
`kedro run` helper that returns the whole console output on one line."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import copy_project

MODEL_INPUTS = "data/05_model_input"

# Wide enough that Rich does not wrap the messages the tests look for.
CONSOLE_COLUMNS = "400"


def kedro_environment() -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "disabled", "COLUMNS": CONSOLE_COLUMNS}


def run_kedro(project: Path, *arguments: str, timeout: float = 300):
    """Run ``kedro`` in ``project`` and return the exit code and the output.

    The output joins standard output and standard error, with every run of
    whitespace collapsed to one space so that line breaks do not split a message.
    """
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *arguments],
        cwd=project,
        env=kedro_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, " ".join(result.stdout.split())


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file."""
    magic = bytes([0, 0, 0x08, array.ndim])
    header = magic + b"".join(size.to_bytes(4, "big") for size in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def drop_checksums(project: Path) -> None:
    """Remove the sha256 checks from the copy's catalog, so edited raw files load."""
    catalog = project / "conf" / "base" / "catalog.yml"
    catalog.write_text(re.sub(r"\n  sha256: [0-9a-f]+", "", catalog.read_text()))


@pytest.fixture(scope="session")
def processed_project(tmp_path_factory) -> Path:
    """A project copy on which the data_processing pipeline has run once."""
    project = copy_project(tmp_path_factory.mktemp("processed") / "project")
    code, output = run_kedro(project, "run", "--pipelines", "data_processing")
    assert code == 0, output[-3000:]
    return project


@pytest.fixture
def project(processed_project: Path, tmp_path: Path) -> Path:
    """A fresh project copy whose model inputs are links to processed ones.

    Links are safe because the datasets save by renaming a new file into place,
    never by writing into an existing one.
    """
    copy = copy_project(tmp_path / "project")
    for source in (processed_project / MODEL_INPUTS).iterdir():
        os.link(source, copy / MODEL_INPUTS / source.name)
    return copy
