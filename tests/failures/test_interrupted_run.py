"""A run stopped by SIGINT or SIGTERM leaves complete files and a working project."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_fnn.fnn import load_network
from tests.failures.conftest import kedro_environment, run_kedro

ONE_CONFIGURATION = ("--namespaces", "Rec_3_Light_Adam")


def output_files(project: Path) -> dict[Path, str]:
    """Map every file under data/ except the raw data to its SHA-256."""
    data = project / "data"
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in data.rglob("*")
        if path.is_file() and "01_raw" not in path.parts
    }


def assert_complete(path: Path) -> None:
    if path.suffix == ".npz":
        with path.open("rb") as file:
            load_network(file)
    elif path.suffix == ".npy":
        np.load(path, allow_pickle=False)
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".csv":
        pd.read_csv(path)
    else:
        raise AssertionError(f"unexpected file {path}")


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_partial_file(project, signal_number):
    code, output = run_kedro(
        project, "run", *ONE_CONFIGURATION, "--params", "training.epochs=1"
    )
    assert code == 0, output[-3000:]
    before = output_files(project)

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            *ONE_CONFIGURATION,
            "--params",
            "training.epochs=50",
        ],
        cwd=project,
        env=kedro_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "epoch 1/50:" in line:
            break
    process.send_signal(signal_number)
    rest, _ = process.communicate(timeout=60)
    output = " ".join("".join([*lines, rest]).split())

    assert process.returncode != 0, output[-3000:]
    assert "epoch 1/50:" in output
    assert "epoch 50/50:" not in output
    assert list((project / "data").rglob("*.tmp")) == []
    after = output_files(project)
    for path, digest in before.items():
        assert after.get(path) == digest, f"{path} changed or disappeared"
    for path in after:
        assert_complete(path)

    code, output = run_kedro(
        project, "run", *ONE_CONFIGURATION, "--params", "training.epochs=1"
    )
    assert code == 0, output[-3000:]
