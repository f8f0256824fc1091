"""Fixtures for the network tests: a small slice of the MNIST copy in the repository."""

import gzip
from pathlib import Path

import numpy as np
import pytest

MNIST_DIR = Path(__file__).parents[2] / "data" / "01_raw" / "mnist"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes.

    The header is a big-endian int32 magic number (2051 for images, 2049 for labels),
    then one big-endian int32 per dimension, then the uint8 values in row-major order.
    """
    data = gzip.decompress(path.read_bytes())
    magic = int.from_bytes(data[:4], "big")
    assert magic == expected_magic, (
        f"{path} has magic {magic}, expected {expected_magic}"
    )
    ndim = data[3]
    dims = [
        int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim)
    ]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the first ``count`` images scaled to [0, 1] and their one-hot labels."""
    images = read_idx(MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC)
    labels = read_idx(MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)
    x = images[:count].reshape(count, -1).astype(np.float32) / np.float32(255)
    y = np.eye(10, dtype=np.float32)[labels[:count]]
    return x, y


@pytest.fixture(scope="session")
def mnist_train() -> tuple[np.ndarray, np.ndarray]:
    """The first 5,000 MNIST training images (float32, 784 columns) and one-hot labels."""
    return load_split("train", 5000)


@pytest.fixture(scope="session")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The first 2,000 MNIST test images (float32, 784 columns) and one-hot labels."""
    return load_split("t10k", 2000)
