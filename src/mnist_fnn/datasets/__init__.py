"""Kedro datasets for the MNIST IDX files and NumPy model inputs."""

from mnist_fnn.datasets.idx_dataset import IDXDataset
from mnist_fnn.datasets.numpy_dataset import NumpyDataset

__all__ = ["IDXDataset", "NumpyDataset"]
