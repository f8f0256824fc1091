"""Raw MNIST files that load but do not fit together, through `kedro run`."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_fnn.pipelines.training.nodes import check_model_inputs
from tests.conftest import copy_project
from tests.failures.conftest import drop_checksums, read_idx, run_kedro, write_idx

RAW = "data/01_raw/mnist"


@pytest.fixture
def raw_project(tmp_path):
    project = copy_project(tmp_path / "project")
    drop_checksums(project)
    return project


@pytest.mark.slow
def test_label_count_differs_from_images(raw_project):
    labels_path = raw_project / RAW / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels_path, read_idx(labels_path)[:-1])

    code, output = run_kedro(raw_project, "run", "--pipelines", "data_processing")

    assert code != 0
    assert (
        "mnist_test_images has 10,000 images but mnist_test_labels has 9,999 "
        "labels, and every image needs exactly one label." in output
    )


@pytest.mark.slow
def test_label_outside_classes_is_named(raw_project):
    labels_path = raw_project / RAW / "train-labels-idx1-ubyte.gz"
    labels = read_idx(labels_path).copy()
    labels[5] = 12
    write_idx(labels_path, labels)

    code, output = run_kedro(raw_project, "run", "--pipelines", "data_processing")

    assert code != 0
    assert (
        "labels must be in 0..9, but 1 of 60,000 labels are outside that range, "
        "with values 12." in output
    )
    assert (
        "Node one_hot_encode_train_labels failed on dataset(s) mnist_train_labels."
        in output
    )


@pytest.mark.slow
def test_test_images_of_another_size(raw_project):
    rng = np.random.default_rng(0)
    write_idx(
        raw_project / RAW / "t10k-images-idx3-ubyte.gz",
        rng.integers(0, 256, size=(100, 32, 32)),
    )
    write_idx(
        raw_project / RAW / "t10k-labels-idx1-ubyte.gz",
        rng.integers(0, 10, size=100),
    )

    code, output = run_kedro(
        raw_project, "run", "--to-nodes", "Rec_3_Light_Adam.train_model"
    )

    assert code != 0
    assert (
        "- x_test has shape (100, 1024), so 1,024 features per row, but x_train "
        "has shape (54000, 784), so 784" in output
    )
    assert "epoch 1/" not in output


def test_model_inputs_name_every_mismatch():
    arrays = {
        "x_train": np.zeros((6, 4)),
        "y_train": np.zeros((6, 3)),
        "x_test": np.zeros((2, 5)),
        "y_test": np.zeros((3, 2)),
    }
    with pytest.raises(ValueError, match="do not fit together") as raised:
        check_model_inputs(arrays)
    message = str(raised.value)
    assert (
        "- x_test has shape (2, 5), so 5 features per row, but x_train has shape "
        "(6, 4), so 4" in message
    )
    assert (
        "- y_test has shape (3, 2), so 2 classes per row, but y_train has shape "
        "(6, 3), so 3" in message
    )
    assert "- x_test has 2 rows but y_test has 3" in message
