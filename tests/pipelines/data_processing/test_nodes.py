"""Tests for the data processing nodes on the real MNIST files and on bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from mnist_fnn.datasets import IDXDataset
from mnist_fnn.pipelines.data_processing.nodes import (
    flatten_and_scale,
    one_hot_encode,
    split_train_validation,
)

MNIST_DIR = Path(__file__).resolve().parents[3] / "data/01_raw/mnist"
SPLIT_PARAMETERS = {"num_classes": 10, "validation_fraction": 0.1, "seed": 42}


def load_idx(name: str) -> np.ndarray:
    return IDXDataset(filepath=str(MNIST_DIR / name)).load()


@pytest.fixture(scope="module")
def train_images() -> np.ndarray:
    return load_idx("train-images-idx3-ubyte.gz")


@pytest.fixture(scope="module")
def train_labels() -> np.ndarray:
    return load_idx("train-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def train_targets(train_labels) -> np.ndarray:
    return one_hot_encode(train_labels, 10)


@pytest.fixture(scope="module")
def row_numbers(train_labels) -> np.ndarray:
    """Features equal to the row number, so a split shows which rows went where."""
    return np.arange(train_labels.size)


def test_flatten_and_scale_training_images(train_images):
    features = flatten_and_scale(train_images)

    assert features.shape == (60000, 784)
    assert features.dtype == np.float32
    assert features.min() == 0.0
    assert features.max() == 1.0
    assert round(float(features.mean(dtype=np.float64)), 4) == 0.1307


def test_flatten_and_scale_test_images():
    features = flatten_and_scale(load_idx("t10k-images-idx3-ubyte.gz"))

    assert features.shape == (10000, 784)
    assert round(float(features.mean(dtype=np.float64)), 4) == 0.1325


def test_flatten_and_scale_keeps_pixel_order(train_images):
    features = flatten_and_scale(train_images[:2])

    np.testing.assert_allclose(
        features[1].reshape(28, 28), train_images[1] / 255, rtol=1e-6
    )


def test_flatten_and_scale_rejects_flat_images():
    with pytest.raises(ValueError, match=r"3-D array .* got shape \(5, 784\)"):
        flatten_and_scale(np.zeros((5, 784), dtype=np.uint8))


def test_flatten_and_scale_rejects_float_pixels():
    with pytest.raises(ValueError, match="dtype uint8 .* got dtype float32"):
        flatten_and_scale(np.zeros((5, 28, 28), dtype=np.float32))


def test_flatten_and_scale_rejects_lists():
    with pytest.raises(TypeError, match="images must be a NumPy array, got list"):
        flatten_and_scale([[[0]]])


def test_one_hot_encode_training_labels(train_labels, train_targets):
    assert train_targets.shape == (60000, 10)
    assert train_targets.dtype == np.float32
    assert np.all(train_targets.sum(axis=1) == 1.0)
    np.testing.assert_array_equal(train_targets.argmax(axis=1), train_labels)


def test_one_hot_encode_names_bad_labels():
    labels = np.array([3, 10, -1, 10, 4])

    with pytest.raises(ValueError) as excinfo:
        one_hot_encode(labels, 10)

    message = str(excinfo.value)
    assert "labels must be in 0..9" in message
    assert "3 of 5 labels are outside that range" in message
    assert "with values -1, 10." in message


def test_one_hot_encode_shortens_long_value_lists():
    labels = np.arange(10, 40)

    with pytest.raises(ValueError, match=r"values 10, 11, .*, 19 and 20 more\."):
        one_hot_encode(labels, 10)


def test_one_hot_encode_rejects_uint8_above_range():
    with pytest.raises(ValueError, match="with values 255"):
        one_hot_encode(np.array([0, 255], dtype=np.uint8), 10)


@pytest.mark.parametrize("num_classes", [0, -3, 2.5, True])
def test_one_hot_encode_rejects_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="Invalid num_classes"):
        one_hot_encode(np.array([0, 1]), num_classes)


def test_one_hot_encode_rejects_float_labels():
    with pytest.raises(ValueError, match="1-D integer array, got shape \\(2,\\)"):
        one_hot_encode(np.array([0.0, 1.0]), 10)


def test_one_hot_encode_rejects_two_dimensional_labels():
    with pytest.raises(ValueError, match="1-D integer array, got shape \\(2, 1\\)"):
        one_hot_encode(np.array([[0], [1]]), 10)


def test_split_sizes_on_real_data(train_images, train_targets):
    features = flatten_and_scale(train_images)

    x_train, y_train, x_validation, y_validation = split_train_validation(
        features, train_targets, SPLIT_PARAMETERS
    )

    assert x_train.shape == (54000, 784)
    assert y_train.shape == (54000, 10)
    assert x_validation.shape == (6000, 784)
    assert y_validation.shape == (6000, 10)


def test_split_keeps_class_proportions(row_numbers, train_labels, train_targets):
    _, y_train, _, y_validation = split_train_validation(
        row_numbers, train_targets, SPLIT_PARAMETERS
    )

    class_counts = np.bincount(train_labels, minlength=10)
    validation_counts = y_validation.sum(axis=0)
    training_counts = y_train.sum(axis=0)
    assert np.all(np.abs(validation_counts - 0.1 * class_counts) < 1)
    np.testing.assert_array_equal(training_counts + validation_counts, class_counts)


def test_split_partitions_rows(row_numbers, train_targets):
    x_train, y_train, x_validation, y_validation = split_train_validation(
        row_numbers, train_targets, SPLIT_PARAMETERS
    )

    all_rows = np.concatenate([x_train, x_validation])
    np.testing.assert_array_equal(np.sort(all_rows), row_numbers)
    np.testing.assert_array_equal(y_train, train_targets[x_train])
    np.testing.assert_array_equal(y_validation, train_targets[x_validation])


def test_split_shuffles_classes_together(row_numbers, train_targets):
    _, y_train, _, _ = split_train_validation(
        row_numbers, train_targets, SPLIT_PARAMETERS
    )

    # Rows grouped by class would give only 9 class changes in 54,000 rows.
    class_changes = np.count_nonzero(np.diff(y_train.argmax(axis=1)))
    assert class_changes > 40000


def test_split_is_deterministic_for_a_seed(row_numbers, train_targets):
    first = split_train_validation(row_numbers, train_targets, SPLIT_PARAMETERS)
    second = split_train_validation(row_numbers, train_targets, SPLIT_PARAMETERS)

    for first_array, second_array in zip(first, second, strict=True):
        np.testing.assert_array_equal(first_array, second_array)


def test_split_differs_for_another_seed(row_numbers, train_targets):
    first = split_train_validation(row_numbers, train_targets, SPLIT_PARAMETERS)
    other = split_train_validation(
        row_numbers, train_targets, {**SPLIT_PARAMETERS, "seed": 7}
    )

    assert not np.array_equal(first[2], other[2])
    assert not np.array_equal(first[0], other[0])


def test_split_zero_fraction_empty_validation(row_numbers, train_targets):
    x_train, y_train, x_validation, y_validation = split_train_validation(
        row_numbers, train_targets, {"validation_fraction": 0, "seed": 1}
    )

    assert x_train.shape == (60000,)
    assert y_train.shape == (60000, 10)
    assert x_validation.shape == (0,)
    assert y_validation.shape == (0, 10)


def test_split_defaults_to_a_tenth(row_numbers, train_targets):
    _, _, x_validation, _ = split_train_validation(
        row_numbers, train_targets, {"seed": 1}
    )

    assert x_validation.shape == (6000,)


def test_split_largest_remainder_rounding():
    # Classes of 5, 3 and 2 rows with a fraction of 0.5 have exact shares 2.5, 1.5
    # and 1. The one row left after the floors goes to the lower of the two classes
    # with a remainder of 0.5, so the counts are 3, 1 and 1.
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    targets = one_hot_encode(labels, 3)

    _, _, _, y_validation = split_train_validation(
        labels, targets, {"validation_fraction": 0.5, "seed": 0}
    )

    assert y_validation.sum(axis=0).tolist() == [3, 1, 1]


def test_split_logs_sizes(row_numbers, train_targets, caplog):
    with caplog.at_level(logging.INFO):
        split_train_validation(row_numbers, train_targets, SPLIT_PARAMETERS)

    assert (
        "Split 60000 samples into 54000 training and 6000 validation samples"
        in caplog.text
    )


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5, "0.1", None, True])
def test_split_rejects_bad_fraction(fraction):
    targets = one_hot_encode(np.array([0, 1, 0, 1]), 2)

    with pytest.raises(ValueError) as excinfo:
        split_train_validation(
            np.zeros(4), targets, {"validation_fraction": fraction, "seed": 0}
        )

    assert f"Invalid validation_fraction: {fraction!r}" in str(excinfo.value)
    assert "Expected a number in [0, 1)" in str(excinfo.value)


def test_split_requires_seed():
    targets = one_hot_encode(np.array([0, 1]), 2)

    with pytest.raises(ValueError, match="Missing seed in the split parameters"):
        split_train_validation(np.zeros(2), targets, {"validation_fraction": 0.5})


@pytest.mark.parametrize("seed", [-1, 1.5, "42"])
def test_split_rejects_bad_seed(seed):
    targets = one_hot_encode(np.array([0, 1]), 2)

    with pytest.raises(ValueError, match=f"Invalid seed: {seed!r}"):
        split_train_validation(np.zeros(2), targets, {"seed": seed})


def test_split_rejects_mismatched_rows():
    targets = one_hot_encode(np.array([0, 1, 1]), 2)

    with pytest.raises(ValueError) as excinfo:
        split_train_validation(np.zeros((4, 784)), targets, {"seed": 0})

    assert "features and targets must have the same number of rows" in str(
        excinfo.value
    )
    assert "got 4 feature rows and 3 target rows" in str(excinfo.value)


def test_split_rejects_label_vector_as_targets():
    with pytest.raises(ValueError, match=r"2-D one-hot array .* got shape \(4,\)"):
        split_train_validation(np.zeros(4), np.array([0, 1, 0, 1]), {"seed": 0})
