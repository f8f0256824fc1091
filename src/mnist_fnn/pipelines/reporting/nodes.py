"""Nodes that compare the trained configurations and plot their results."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

logger = logging.getLogger(__name__)


def compare_configurations(**metrics: dict[str, Any]) -> pd.DataFrame:
    """Tabulate the test results of every configuration, one row each.

    Args:
        **metrics: Each configuration's metrics (the output of ``evaluate_model``),
            keyed by configuration name.

    Returns:
        One row per configuration with its architecture, optimizer, test accuracy
        (as a fraction), test losses and training time in seconds.
    """
    rows = []
    for name, result in metrics.items():
        parameters = result["training"]["parameters"]
        timings = result["training"]["timings"]
        epoch_seconds = timings["epoch_seconds"]
        rows.append(
            {
                "configuration": name,
                "hidden_sizes": "x".join(
                    str(size) for size in parameters["hidden_sizes"]
                )
                or "none",
                "activation": parameters["activation"],
                "optimizer": parameters["optimizer"],
                "learning_rate": parameters["learning_rate"],
                "batch_size": parameters["batch_size"],
                "epochs": parameters["epochs"],
                "test_accuracy": result["test_accuracy"],
                "test_cross_entropy_loss": result["test_cross_entropy_loss"],
                "test_squared_error_loss": result["test_squared_error_loss"],
                "training_seconds": timings["training_seconds"],
                "mean_epoch_seconds": sum(epoch_seconds) / len(epoch_seconds),
            }
        )
    table = pd.DataFrame.from_records(rows)
    for row in rows:
        logger.info(
            "%s: test accuracy %.2f %%",
            row["configuration"],
            100 * row["test_accuracy"],
        )
    return table


def plot_loss_curves(**histories: pd.DataFrame) -> go.Figure:
    """Plot training cross-entropy and squared-error loss per epoch side by side.

    Args:
        **histories: Each configuration's per-epoch history, keyed by name.

    Returns:
        A figure with one panel per loss and one line per configuration.
    """
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Cross-entropy loss", "Squared-error loss"),
    )
    for name, history in histories.items():
        for column, panel in (("cross_entropy_loss", 1), ("squared_error_loss", 2)):
            figure.add_trace(
                go.Scatter(
                    x=history["epoch"],
                    y=history[column],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=panel == 1,
                ),
                row=1,
                col=panel,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="training loss")
    figure.update_layout(title="Loss function comparison")
    return figure


def plot_confusion_matrix(metrics: dict[str, Any]) -> go.Figure:
    """Plot a configuration's test confusion matrix as an annotated heatmap.

    Args:
        metrics: The configuration's metrics, with ``confusion_matrix`` as a list
            of rows (true classes) of counts per predicted class.

    Returns:
        A heatmap with the count in every cell.
    """
    confusion = metrics["confusion_matrix"]
    classes = [str(index) for index in range(len(confusion))]
    figure = go.Figure(
        go.Heatmap(
            z=confusion,
            x=classes,
            y=classes,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Confusion matrix (test accuracy {100 * metrics['test_accuracy']:.2f} %)",
        xaxis_title="predicted class",
        yaxis_title="true class",
        yaxis_autorange="reversed",
    )
    return figure
