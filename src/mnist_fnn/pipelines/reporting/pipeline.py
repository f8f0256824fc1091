"""Reporting pipeline: compare configurations and plot their results."""

import warnings

from kedro.pipeline import Node, Pipeline

from mnist_fnn.configurations import load_configuration_names

from .nodes import compare_configurations, plot_confusion_matrix, plot_loss_curves


def create_pipeline(**kwargs) -> Pipeline:
    """Create the cross-configuration report and a confusion-matrix plot for each.

    The confusion-matrix node runs in each configuration's namespace, beside that
    configuration's training nodes.
    """
    names = load_configuration_names()
    confusion_plots = [
        Pipeline(
            [
                Node(
                    func=plot_confusion_matrix,
                    inputs="metrics",
                    outputs="confusion_matrix_plot",
                    name="plot_confusion_matrix",
                )
            ],
            namespace=name,
        )
        for name in names
    ]
    # The comparison nodes read every namespace's outputs by their full dotted
    # names on purpose; Kedro would warn that dotted names are reserved for
    # namespaces.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        comparison = _create_comparison_pipeline(names)
    return sum(confusion_plots, comparison)


def _create_comparison_pipeline(names: list[str]) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=compare_configurations,
                inputs={name: f"{name}.metrics" for name in names},
                outputs="model_comparison",
                name="compare_configurations",
            ),
            Node(
                func=plot_loss_curves,
                inputs={name: f"{name}.training_history" for name in names},
                outputs="loss_curves_plot",
                name="plot_loss_curves",
            ),
        ]
    )
