"""A configuration whose loss becomes NaN stops the run with its name."""

from __future__ import annotations

import pytest

from mnist_fnn.datasets import NetworkDataset
from tests.failures.conftest import run_kedro


@pytest.mark.slow
def test_divergence_names_configuration(project):
    # Rec_2_Deep_Nadam trains first, so its model is saved before Rec_3 diverges.
    # Plain SGD at learning rate 1e4 overflows within the first steps.
    code, output = run_kedro(
        project,
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_2_Deep_Nadam,Rec_3_Light_Adam",
        "--params",
        "training.epochs=1,configurations.Rec_3_Light_Adam.optimizer=sgd,"
        "configurations.Rec_3_Light_Adam.learning_rate=10000",
    )

    assert code != 0
    assert "TrainingDivergedError: Training diverged at epoch 1, step" in output
    assert "Configuration Rec_3_Light_Adam diverged at epoch 1, step" in output
    assert (
        "Configuration Rec_3_Light_Adam failed in node Rec_3_Light_Adam.train_model."
        in output
    )

    models = project / "data" / "06_models"
    (finished,) = (models / "Rec_2_Deep_Nadam" / "model.npz").glob("*/model.npz")
    assert NetworkDataset(filepath=str(finished)).load().hidden_sizes == (128,) * 5
    assert not (models / "Rec_3_Light_Adam").exists()
