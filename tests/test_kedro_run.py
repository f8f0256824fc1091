"""End-to-end `kedro run` on the real MNIST in a temporary copy of the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGURATIONS = ("Rec_1_Balanced_Adam", "Rec_2_Deep_Nadam", "Rec_3_Light_Adam")


def run_kedro(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``kedro`` in ``project`` with tracking disabled and return the result."""
    environment = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, "-m", "kedro", *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def versions(folder: Path) -> list[str]:
    """List the version folders of a versioned dataset, oldest first."""
    return sorted(path.name for path in folder.iterdir() if path.is_dir())


@pytest.mark.slow
def test_kedro_run_writes_versioned_outputs(project_copy: Path):
    result = run_kedro(
        project_copy, "run", "--params", "training.epochs=1,training.blas_threads=1"
    )
    assert result.returncode == 0, result.stderr[-4000:]

    data = project_copy / "data"
    for split in ("x_train", "y_train", "x_validation", "y_validation", "x_test"):
        assert (data / "05_model_input" / f"{split}.npy").is_file()
    for name in CONFIGURATIONS:
        model_versions = versions(data / "06_models" / name / "model.npz")
        assert len(model_versions) == 1
        metrics_folder = data / "08_reporting" / name / "metrics.json"
        (metrics_version,) = versions(metrics_folder)
        assert metrics_version == model_versions[0]
        metrics = json.loads(
            (metrics_folder / metrics_version / "metrics.json").read_text()
        )
        assert metrics["test_accuracy"] > 0.90
        assert metrics["training"]["parameters"]["epochs"] == 1
        assert metrics["training"]["parameters"]["blas_threads"] == 1
        blas_libraries = metrics["training"]["environment"]["blas"]
        assert blas_libraries, "threadpoolctl found no BLAS library"
        assert {library["threads"] for library in blas_libraries} == {1}
        assert (
            data / "08_reporting" / name / "training_history.csv" / metrics_version
        ).is_dir()
        assert (
            data / "08_reporting" / name / "confusion_matrix.json" / metrics_version
        ).is_dir()
    assert len(versions(data / "08_reporting" / "model_comparison.csv")) == 1
    assert len(versions(data / "08_reporting" / "loss_curves.json")) == 1


@pytest.mark.slow
def test_older_model_version_reproduces_accuracy(project_copy: Path):
    arguments = ("run", "--params", "training.epochs=1")
    first = run_kedro(project_copy, *arguments)
    assert first.returncode == 0, first.stderr[-4000:]
    second = run_kedro(
        project_copy,
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_3_Light_Adam",
        "--params",
        "training.epochs=1,training.seed=7",
    )
    assert second.returncode == 0, second.stderr[-4000:]

    model_folder = (
        project_copy / "data" / "06_models" / "Rec_3_Light_Adam" / "model.npz"
    )
    old_version, new_version = versions(model_folder)
    metrics_folder = (
        project_copy / "data" / "08_reporting" / "Rec_3_Light_Adam" / "metrics.json"
    )
    assert versions(metrics_folder) == [old_version, new_version]
    old_metrics = json.loads(
        (metrics_folder / old_version / "metrics.json").read_text()
    )
    new_metrics = json.loads(
        (metrics_folder / new_version / "metrics.json").read_text()
    )
    assert old_metrics["training"]["parameters"]["seed"] == 42
    assert new_metrics["training"]["parameters"]["seed"] == 7

    # Load the older model through the catalog, as a user would, and evaluate it.
    script = f"""
import json
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
project = Path.cwd()
bootstrap_project(project)
with KedroSession.create(project_path=project) as session:
    catalog = session.load_context().catalog
    model = catalog.load("Rec_3_Light_Adam.model", version={old_version!r})
    scores = model.evaluate(catalog.load("x_test"), catalog.load("y_test"))
print(json.dumps(scores))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["accuracy"] == old_metrics["test_accuracy"]
    assert scores["cross_entropy_loss"] == old_metrics["test_cross_entropy_loss"]

    # The README's command for re-evaluating an older model writes a new metrics
    # version with the older model's accuracy.
    evaluation = run_kedro(
        project_copy,
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_3_Light_Adam",
        "--from-nodes",
        "Rec_3_Light_Adam.evaluate_model",
        "--load-versions",
        f"Rec_3_Light_Adam.model:{old_version}",
    )
    assert evaluation.returncode == 0, evaluation.stderr[-4000:]
    assert versions(model_folder) == [old_version, new_version]
    *_, evaluated_version = versions(metrics_folder)
    assert evaluated_version not in (old_version, new_version)
    evaluated = json.loads(
        (metrics_folder / evaluated_version / "metrics.json").read_text()
    )
    assert evaluated["test_accuracy"] == old_metrics["test_accuracy"]
    assert evaluated["training"]["parameters"]["seed"] == 42


@pytest.mark.slow
def test_default_run_reaches_reference_accuracy(project_copy: Path):
    # The reference notebook reported 97.57, 97.84 and 97.56 % for these three
    # configurations after 10 epochs. Another CPU, BLAS build or BLAS thread count
    # moves a single run by up to about 0.3 points (Rec_3 reached 97.30 % with one
    # thread and 97.45 % with two), so the floor is 97.0 %.
    result = run_kedro(project_copy, "run")
    assert result.returncode == 0, result.stderr[-4000:]

    for name in CONFIGURATIONS:
        metrics_folder = project_copy / "data" / "08_reporting" / name / "metrics.json"
        (version,) = versions(metrics_folder)
        metrics = json.loads((metrics_folder / version / "metrics.json").read_text())
        assert metrics["training"]["parameters"]["epochs"] == 10, name
        assert metrics["test_accuracy"] >= 0.970, name
