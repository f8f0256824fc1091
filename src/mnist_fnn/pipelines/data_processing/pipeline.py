"""Data flow from the raw MNIST arrays to the model inputs."""

from kedro.pipeline import Node, Pipeline

from mnist_fnn.pipelines.data_processing.nodes import (
    flatten_and_scale,
    one_hot_encode,
    split_train_validation,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the data processing pipeline.

    Returns:
        A pipeline from ``mnist_*`` IDX datasets to ``x_train``, ``y_train``,
        ``x_validation``, ``y_validation``, ``x_test`` and ``y_test``.
    """
    return Pipeline(
        [
            Node(
                func=flatten_and_scale,
                inputs="mnist_train_images",
                outputs="train_features",
                name="flatten_and_scale_train_images",
            ),
            Node(
                func=one_hot_encode,
                inputs=["mnist_train_labels", "params:data_processing.num_classes"],
                outputs="train_targets",
                name="one_hot_encode_train_labels",
            ),
            Node(
                func=split_train_validation,
                inputs=["train_features", "train_targets", "params:data_processing"],
                outputs=["x_train", "y_train", "x_validation", "y_validation"],
                name="split_train_validation",
            ),
            Node(
                func=flatten_and_scale,
                inputs="mnist_test_images",
                outputs="x_test",
                name="flatten_and_scale_test_images",
            ),
            Node(
                func=one_hot_encode,
                inputs=["mnist_test_labels", "params:data_processing.num_classes"],
                outputs="y_test",
                name="one_hot_encode_test_labels",
            ),
        ]
    )
