"""Training pipeline: train and evaluate every configuration in its own namespace."""

from functools import partial, update_wrapper

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


def create_configuration_pipeline(name: str) -> Pipeline:
    """Create the nodes of one configuration, before namespacing.

    ``train_model`` is bound to the configuration's name, which its log lines and
    progress bar show; ``update_wrapper`` keeps the function's name for Kedro.
    """
    return Pipeline(
        [
            Node(
                func=update_wrapper(
                    partial(train_model, configuration_name=name), train_model
                ),
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
    return sum(
        (
            Pipeline(
                create_configuration_pipeline(name),
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
