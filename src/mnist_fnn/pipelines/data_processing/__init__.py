"""Pipeline that turns the raw MNIST IDX arrays into model inputs."""

from mnist_fnn.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
