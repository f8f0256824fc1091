"""Kedro datasets for the MNIST IDX files, NumPy model inputs and trained networks."""

from mnist_fnn.datasets.idx_dataset import IDXDataset
from mnist_fnn.datasets.network_dataset import NetworkDataset
from mnist_fnn.datasets.numpy_dataset import NumpyDataset

__all__ = ["IDXDataset", "NetworkDataset", "NumpyDataset"]
