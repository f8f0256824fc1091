"""A NumPy feed-forward network trained on MNIST as a reproducible Kedro project."""

__version__ = "0.1.0"
