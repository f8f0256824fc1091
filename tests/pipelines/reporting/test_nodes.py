"""Tests for the reporting nodes."""

from __future__ import annotations

import pandas as pd

from mnist_fnn.pipelines.reporting.nodes import (
    compare_configurations,
    plot_confusion_matrix,
    plot_loss_curves,
)


def make_metrics(hidden_sizes: list[int], accuracy: float) -> dict:
    confusion = [[0] * 10 for _ in range(10)]
    for digit in range(10):
        confusion[digit][digit] = 90
        confusion[digit][(digit + 1) % 10] = 10
    return {
        "test_accuracy": accuracy,
        "test_cross_entropy_loss": 0.1,
        "test_squared_error_loss": 0.04,
        "confusion_matrix": confusion,
        "training": {
            "parameters": {
                "hidden_sizes": hidden_sizes,
                "activation": "relu",
                "optimizer": "adam",
                "learning_rate": 0.001,
                "batch_size": 64,
                "epochs": 2,
            },
            "timings": {"training_seconds": 3.0, "epoch_seconds": [1.0, 2.0]},
        },
    }


def make_history(losses: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": list(range(1, len(losses) + 1)),
            "cross_entropy_loss": losses,
            "squared_error_loss": [loss / 2 for loss in losses],
        }
    )


def test_compare_configurations_one_row_each():
    table = compare_configurations(
        Deep=make_metrics([128, 128], 0.975), Empty=make_metrics([], 0.92)
    )

    assert list(table["configuration"]) == ["Deep", "Empty"]
    assert list(table["hidden_sizes"]) == ["128x128", "none"]
    assert list(table["test_accuracy"]) == [0.975, 0.92]
    assert list(table["mean_epoch_seconds"]) == [1.5, 1.5]
    assert list(table["training_seconds"]) == [3.0, 3.0]


def test_plot_loss_curves_two_panels():
    histories = {"A": make_history([0.5, 0.3]), "B": make_history([0.6, 0.2, 0.1])}
    figure = plot_loss_curves(**histories)

    assert len(figure.data) == 4
    traces = {(trace.name, trace.xaxis): trace for trace in figure.data}
    assert list(traces[("A", "x")].y) == [0.5, 0.3]
    assert list(traces[("A", "x2")].y) == [0.25, 0.15]
    assert list(traces[("B", "x")].x) == [1, 2, 3]
    assert [trace.showlegend for trace in figure.data].count(True) == 2


def test_plot_confusion_matrix_counts():
    metrics = make_metrics([64], 0.9)
    figure = plot_confusion_matrix(metrics)

    (heatmap,) = figure.data
    assert [list(row) for row in heatmap.z] == metrics["confusion_matrix"]
    assert list(heatmap.x) == [str(digit) for digit in range(10)]
    assert "90.00 %" in figure.layout.title.text
