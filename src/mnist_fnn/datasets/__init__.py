"""Kedro datasets for the MNIST IDX files, NumPy model inputs, trained networks and
reports, all saved locally through a temporary file that is renamed into place."""

from mnist_fnn.datasets._atomic import CSVDataset, JSONDataset, PlotlyJSONDataset
from mnist_fnn.datasets.idx_dataset import IDXDataset
from mnist_fnn.datasets.network_dataset import NetworkDataset
from mnist_fnn.datasets.numpy_dataset import NumpyDataset

__all__ = [
    "CSVDataset",
    "IDXDataset",
    "JSONDataset",
    "NetworkDataset",
    "NumpyDataset",
    "PlotlyJSONDataset",
]

# Kedro-Viz and error messages show a dataset's type by its module, so the classes
# report the public package that the catalog names, not their private modules.
for _dataset_class in (
    CSVDataset,
    IDXDataset,
    JSONDataset,
    NetworkDataset,
    NumpyDataset,
    PlotlyJSONDataset,
):
    _dataset_class.__module__ = __name__
