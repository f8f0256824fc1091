"""Tests for the data processing pipeline's structure and a full run on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from mnist_fnn.datasets import IDXDataset, NumpyDataset
from mnist_fnn.pipelines.data_processing import create_pipeline

MNIST_DIR = Path(__file__).resolve().parents[3] / "data/01_raw/mnist"
RAW_FILES = {
    "mnist_train_images": ("train-images-idx3-ubyte.gz", "images"),
    "mnist_train_labels": ("train-labels-idx1-ubyte.gz", "labels"),
    "mnist_test_images": ("t10k-images-idx3-ubyte.gz", "images"),
    "mnist_test_labels": ("t10k-labels-idx1-ubyte.gz", "labels"),
}
MODEL_INPUTS = (
    "x_train",
    "y_train",
    "x_validation",
    "y_validation",
    "x_test",
    "y_test",
)
PARAMETERS = {"num_classes": 10, "validation_fraction": 0.1, "seed": 42}


def test_pipeline_inputs_and_outputs():
    pipeline = create_pipeline()

    assert pipeline.inputs() == {
        *RAW_FILES,
        "params:data_processing",
        "params:data_processing.num_classes",
    }
    assert pipeline.outputs() == set(MODEL_INPUTS)
    assert pipeline.all_outputs() == {*MODEL_INPUTS, "train_features", "train_targets"}


def test_pipeline_run_writes_model_inputs(tmp_path):
    catalog = DataCatalog(
        {
            name: IDXDataset(filepath=str(MNIST_DIR / file_name), expected_kind=kind)
            for name, (file_name, kind) in RAW_FILES.items()
        }
    )
    for name in MODEL_INPUTS:
        catalog[name] = NumpyDataset(filepath=str(tmp_path / f"{name}.npy"))
    catalog["params:data_processing"] = PARAMETERS
    catalog["params:data_processing.num_classes"] = PARAMETERS["num_classes"]

    SequentialRunner().run(create_pipeline(), catalog)

    expected_shapes = {
        "x_train": (54000, 784),
        "y_train": (54000, 10),
        "x_validation": (6000, 784),
        "y_validation": (6000, 10),
        "x_test": (10000, 784),
        "y_test": (10000, 10),
    }
    for name, shape in expected_shapes.items():
        array = np.load(tmp_path / f"{name}.npy", allow_pickle=False)
        assert array.shape == shape, name
        assert array.dtype == np.float32, name
