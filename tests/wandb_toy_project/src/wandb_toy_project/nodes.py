"""Nodes that send epoch records and return metrics shaped like mnist_fnn's."""

import logging
import time
from typing import Any

from mnist_fnn.epoch_listeners import notify_epoch_end

logger = logging.getLogger(__name__)


def make_test_set(training: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Return ``test_size`` inputs and their labels, 0 to 2."""
    labels = [index % 3 for index in range(training["test_size"])]
    return list(range(len(labels))), labels


def train_model(
    x_test: list[int],
    y_test: list[int],
    defaults: dict[str, Any],
    configuration: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send one record per epoch and return a model that predicts every label.

    Each epoch waits ``epoch_sleep_seconds`` (default 0), and after sending its
    record logs ``Toy epoch <n> logged``, so a test can signal the run while it trains.

    Raises:
        RuntimeError: After epoch ``fail_after_epoch`` when the configuration sets it.
    """
    settings = {**defaults, **configuration}
    history = []
    for epoch in range(1, settings["epochs"] + 1):
        record = {
            "epoch": epoch,
            "cross_entropy_loss": 1.0 / epoch,
            "squared_error_loss": 0.5 / epoch,
            "validation_loss": 1.1 / epoch,
            "validation_accuracy": 1.0 - 0.5 / epoch,
            "test_accuracy": 1.0 - 0.4 / epoch,
            "epoch_seconds": 0.01,
            "evaluation_seconds": 0.001,
        }
        time.sleep(settings.get("epoch_sleep_seconds", 0))
        notify_epoch_end(record)
        logger.info("Toy epoch %d logged", epoch)
        history.append(record)
        if epoch == settings.get("fail_after_epoch"):
            raise RuntimeError(f"Training stopped after epoch {epoch}")
    return {"epochs": settings["epochs"], "x_test_size": len(x_test)}, history


def evaluate_model(model: dict[str, Any], y_test: list[int]) -> dict[str, Any]:
    """Return metrics of a classifier that gets every second sample of class 0 wrong."""
    confusion = [[0, 0, 0] for _ in range(3)]
    for index, label in enumerate(y_test):
        predicted = 1 if label == 0 and index % 2 == 0 else label
        confusion[label][predicted] += 1
    correct = sum(confusion[label][label] for label in range(3))
    return {
        "test_accuracy": correct / len(y_test),
        "test_cross_entropy_loss": 1.0 / model["epochs"],
        "test_squared_error_loss": 0.5 / model["epochs"],
        "confusion_matrix": confusion,
        "per_class": {
            "precision": [1.0, 0.5, 1.0],
            "recall": [0.5, 1.0, 1.0],
            "f1": [0.67, 0.67, 1.0],
            "support": [sum(row) for row in confusion],
        },
    }
