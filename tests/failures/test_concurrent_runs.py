"""Runs started at the same time save under different versions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mnist_fnn.datasets import NetworkDataset
from mnist_fnn.run_versions import CLAIM_LIFETIME, claim_save_version, parse_version
from tests.failures.conftest import kedro_environment

VERSION = "2026-12-04T20.22.06.123Z"


def test_taken_version_moves_to_next_millisecond(tmp_path):
    assert claim_save_version(tmp_path, VERSION) == VERSION
    assert claim_save_version(tmp_path, VERSION) == "2026-12-04T20.22.06.124Z"
    assert claim_save_version(tmp_path, VERSION) == "2026-12-04T20.22.06.125Z"


def test_old_claims_are_deleted(tmp_path):
    old = "2026-12-04T18.00.00.000Z"
    (tmp_path / old).mkdir()
    assert parse_version(VERSION) - parse_version(old) > CLAIM_LIFETIME

    claim_save_version(tmp_path, VERSION)

    assert sorted(path.name for path in tmp_path.iterdir()) == [VERSION]


@pytest.mark.slow
def test_two_runs_keep_both_versions(project):
    command = [
        sys.executable,
        "-m",
        "kedro",
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_3_Light_Adam",
        "--params",
        "training.epochs=1",
    ]
    processes = [
        subprocess.Popen(
            command,
            cwd=project,
            env=kedro_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]

    model_folder = project / "data" / "06_models" / "Rec_3_Light_Adam" / "model.npz"
    models = sorted(model_folder.glob("*/model.npz"))
    assert len(models) == 2
    for path in models:
        assert NetworkDataset(filepath=str(path)).load().hidden_sizes == (64, 64)
    metrics = project / "data" / "08_reporting" / "Rec_3_Light_Adam" / "metrics.json"
    assert len(list(metrics.glob("*/metrics.json"))) == 2
