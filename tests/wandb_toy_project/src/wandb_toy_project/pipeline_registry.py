"""One namespace per configuration, with the train and evaluate nodes of mnist_fnn."""

from kedro.pipeline import Node, Pipeline

from mnist_fnn.configurations import CONFIGURATIONS_KEY, load_configuration_names

from .nodes import evaluate_model, make_test_set, train_model


def register_pipelines() -> dict[str, Pipeline]:
    """Register the toy training pipeline as ``__default__``."""
    configuration_pipeline = Pipeline(
        [
            Node(
                func=train_model,
                inputs=["x_test", "y_test", "params:training", "params:configuration"],
                outputs=["model", "training_history"],
                name="train_model",
            ),
            Node(
                func=evaluate_model,
                inputs=["model", "y_test"],
                outputs="metrics",
                name="evaluate_model",
            ),
        ]
    )
    namespaces = [
        Pipeline(
            configuration_pipeline,
            namespace=name,
            inputs={"x_test", "y_test"},
            parameters={
                "params:training": "params:training",
                "params:configuration": f"params:{CONFIGURATIONS_KEY}.{name}",
            },
        )
        for name in load_configuration_names()
    ]
    data = Pipeline(
        [Node(make_test_set, "params:training", ["x_test", "y_test"], name="data")]
    )
    return {"__default__": sum(namespaces, data)}
