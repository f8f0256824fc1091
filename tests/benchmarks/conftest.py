"""Fixtures for the benchmark tests, and benchmarks/ on ``sys.path``.

The benchmark modules import each other by plain name (``from _trainers import
...``), as they do when ``benchmarks/epoch_time.py`` runs as a script, so their
folder has to be on ``sys.path`` before a test imports them.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_DIR = PROJECT_ROOT / "benchmarks"
MNIST_DIR = PROJECT_ROOT / "data" / "01_raw" / "mnist"

if str(BENCHMARKS_DIR) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS_DIR))

from _trainers import TrainingData  # noqa: E402

from mnist_fnn.datasets import IDXDataset  # noqa: E402
from mnist_fnn.pipelines.data_processing.nodes import (  # noqa: E402
    flatten_and_scale,
    one_hot_encode,
)

TRAINING_ROWS = 640
TEST_ROWS = 200


def _load(name: str, rows: int) -> np.ndarray:
    return IDXDataset(filepath=str(MNIST_DIR / name)).load()[:rows]


@pytest.fixture(scope="session")
def small_training_data() -> TrainingData:
    """The first 640 MNIST training and 200 test images, in the benchmark's dtypes."""
    x_train = flatten_and_scale(_load("train-images-idx3-ubyte.gz", TRAINING_ROWS))
    labels_train = _load("train-labels-idx1-ubyte.gz", TRAINING_ROWS).astype(np.int64)
    y_train = one_hot_encode(labels_train, 10)
    return TrainingData(
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        labels_train=labels_train,
        x_test=flatten_and_scale(_load("t10k-images-idx3-ubyte.gz", TEST_ROWS)),
        labels_test=_load("t10k-labels-idx1-ubyte.gz", TEST_ROWS).astype(np.int64),
        x_train_float64=x_train.astype(np.float64),
        y_train_float64=y_train.astype(np.float64),
    )
