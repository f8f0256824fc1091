"""Training pipeline: train and evaluate every configuration in its own namespace."""

from kedro.pipeline import Node, Pipeline

from mnist_fnn.configurations import CONFIGURATIONS_KEY, load_configuration_names

from .nodes import evaluate_model, train_model

MODEL_INPUTS = (
    "x_train",
    "y_train",
    "x_validation",
    "y_validation",
    "x_test",
    "y_test",
)


def create_configuration_pipeline() -> Pipeline:
    """Create the nodes that every configuration's namespace runs."""
    return Pipeline(
        [
            Node(
                func=train_model,
                inputs=[*MODEL_INPUTS, "params:training", "params:configuration"],
                outputs=["model", "training_history"],
                name="train_model",
            ),
            Node(
                func=evaluate_model,
                inputs=["model", "x_test", "y_test"],
                outputs="metrics",
                name="evaluate_model",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Create one namespace per entry of the ``configurations`` parameters.

    Inside namespace ``NAME`` the datasets are ``NAME.model``,
    ``NAME.training_history`` and ``NAME.metrics``; the model inputs and the shared
    ``training`` parameters are shared by every namespace.
    """
    configuration_pipeline = create_configuration_pipeline()
    return sum(
        (
            Pipeline(
                configuration_pipeline,
                namespace=name,
                inputs=set(MODEL_INPUTS),
                parameters={
                    "params:training": "params:training",
                    "params:configuration": f"params:{CONFIGURATIONS_KEY}.{name}",
                },
            )
            for name in load_configuration_names()
        ),
        Pipeline([]),
    )
