"""Nodes that train one network configuration and evaluate it on the test set."""

from __future__ import annotations

import hashlib
import logging
import platform
import sys
import threading
import time
from contextlib import nullcontext
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mnist_fnn.blas_threads import (
    available_cpus,
    cap_blas_threads,
    describe_blas_libraries,
    limit_blas_threads,
)
from mnist_fnn.epoch_listeners import notify_epoch_end
from mnist_fnn.fnn import FeedForwardNetwork, train
from mnist_fnn.validation import check_training_settings, raise_for_problems

logger = logging.getLogger(__name__)

# Keys of the merged configuration that the network's constructor takes; the rest
# go to the training loop.
_NETWORK_KEYS = ("hidden_sizes", "activation", "leaky_relu_slope", "initialization")
_TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "beta1",
    "beta2",
    "epsilon",
    "weight_decay",
    "loss",
)
_RECORDED_PACKAGES = ("mnist_fnn", "numpy", "pandas", "kedro", "kedro-datasets")


def resolve_configuration(
    defaults: dict[str, Any], configuration: dict[str, Any]
) -> dict[str, Any]:
    """Merge one configuration's settings over the shared training defaults.

    Args:
        defaults: The ``training`` parameters shared by every configuration.
        configuration: One entry of ``configurations``; its keys win.

    Returns:
        A new dictionary with every training setting of the configuration.
    """
    return {**defaults, **configuration}


def train_model(  # noqa: PLR0917
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_validation: np.ndarray,
    y_validation: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    defaults: dict[str, Any],
    configuration: dict[str, Any],
    *,
    configuration_name: str = "network",
) -> tuple[FeedForwardNetwork, pd.DataFrame]:
    """Train one network configuration with mini-batch gradient descent.

    The network's ``training_config`` records what reproduces the run: the merged
    parameters (seed included), the SHA-256 and shape of every input array, package
    versions, the BLAS libraries with their thread counts during training, and
    timings. It is saved with the model.

    The ``blas_threads`` setting, when not None, limits the BLAS threads while
    ``mnist_fnn.fnn.train`` runs, and the previous count is restored afterwards.

    Args:
        x_train: Training features, shape (n, 784), float32 in [0, 1].
        y_train: One-hot training targets, shape (n, 10).
        x_validation: Validation features, evaluated after every epoch.
        y_validation: One-hot validation targets.
        x_test: Test features, whose accuracy is recorded after every epoch.
        y_test: One-hot test targets.
        defaults: The shared ``training`` parameters.
        configuration: This configuration's overrides of ``defaults``.
        configuration_name: Name that the per-epoch log lines start with.

    Returns:
        The trained network and its per-epoch history, one row per epoch.

    Raises:
        ValueError: If the arrays disagree in shape, such as test images of
            another size than the training images.
        mnist_fnn.validation.ParameterError: If a setting is missing or invalid,
            listing every such setting.
    """
    check_model_inputs(
        {
            "x_train": x_train,
            "y_train": y_train,
            "x_validation": x_validation,
            "y_validation": y_validation,
            "x_test": x_test,
            "y_test": y_test,
        }
    )
    raise_for_problems(
        check_training_settings(defaults, configuration, training_rows=len(x_train))
    )
    settings = resolve_configuration(defaults, configuration)
    rng = np.random.default_rng(settings["seed"])
    network = FeedForwardNetwork(
        input_size=x_train.shape[1],
        output_size=y_train.shape[1],
        dtype=settings.get("dtype", "float32"),
        rng=rng,
        **{key: settings[key] for key in _NETWORK_KEYS if key in settings},
    )
    validation_data = (x_validation, y_validation) if len(x_validation) else None

    blas_threads = _effective_blas_threads(configuration_name, settings)
    skipped = settings.get("blas_threads") if blas_threads is None else None
    with limit_blas_threads(blas_threads):
        blas_libraries = describe_blas_libraries()
        _log_blas_threads(configuration_name, blas_threads, blas_libraries, skipped)
        started = time.perf_counter()
        with _batch_progress(configuration_name, settings["epochs"]) as batch_callbacks:
            history = train(
                network,
                x_train,
                y_train,
                rng=rng,
                validation_data=validation_data,
                test_data=(x_test, y_test),
                epoch_callbacks=(
                    partial(_log_epoch, configuration_name, settings["epochs"]),
                    _chance_level_warning(y_train.shape[1], settings["learning_rate"]),
                    notify_epoch_end,
                ),
                batch_callbacks=batch_callbacks,
                **{key: settings[key] for key in _TRAINING_KEYS if key in settings},
            )
        training_seconds = time.perf_counter() - started

    network.training_config = {
        **network.training_config,
        "parameters": settings,
        "data": {
            name: _describe_array(array)
            for name, array in (
                ("x_train", x_train),
                ("y_train", y_train),
                ("x_validation", x_validation),
                ("y_validation", y_validation),
                ("x_test", x_test),
                ("y_test", y_test),
            )
        },
        "environment": {**_describe_environment(), "blas": blas_libraries},
        "timings": {
            "training_seconds": training_seconds,
            "epoch_seconds": [record["epoch_seconds"] for record in history],
        },
    }
    return network, pd.DataFrame.from_records(history)


def evaluate_model(
    model: FeedForwardNetwork, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, Any]:
    """Evaluate a trained network on the test set.

    Args:
        model: The trained network.
        x_test: Test features.
        y_test: One-hot test targets.

    Returns:
        Test accuracy and losses, the confusion matrix (rows are true classes,
        columns predicted classes), per-class precision, recall and F1, and the
        model's ``training_config``.
    """
    if x_test.ndim != 2 or x_test.shape[1] != model.input_size:
        raise ValueError(
            f"x_test has shape {x_test.shape}, but the model takes rows of "
            f"{model.input_size} features (input_size). Evaluate a model trained on "
            "images of the same size, or run the data_processing and training "
            "pipelines again."
        )
    if y_test.ndim != 2 or y_test.shape[1] != model.output_size:
        raise ValueError(
            f"y_test has shape {y_test.shape}, but the model has "
            f"{model.output_size} output classes. Use one-hot test targets with "
            f"{model.output_size} columns."
        )
    scores = model.evaluate(x_test, y_test)
    predicted = model.predict(x_test)
    true = np.argmax(y_test, axis=1)
    num_classes = y_test.shape[1]
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (true, predicted), 1)

    true_positives = np.diag(confusion).astype(np.float64)
    predicted_counts = confusion.sum(axis=0)
    true_counts = confusion.sum(axis=1)
    precision = np.divide(
        true_positives,
        predicted_counts,
        out=np.zeros(num_classes),
        where=predicted_counts > 0,
    )
    recall = np.divide(
        true_positives, true_counts, out=np.zeros(num_classes), where=true_counts > 0
    )
    f1_denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall,
        f1_denominator,
        out=np.zeros(num_classes),
        where=f1_denominator > 0,
    )

    logger.info(
        "Test accuracy %.4f, cross-entropy %.4f, squared error %.4f",
        scores["accuracy"],
        scores["cross_entropy_loss"],
        scores["squared_error_loss"],
    )
    return {
        "test_accuracy": scores["accuracy"],
        "test_cross_entropy_loss": scores["cross_entropy_loss"],
        "test_squared_error_loss": scores["squared_error_loss"],
        "confusion_matrix": confusion.tolist(),
        "per_class": {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "f1": f1.tolist(),
            "support": true_counts.tolist(),
        },
        "architecture": model.architecture(),
        "training": model.training_config,
    }


def check_model_inputs(arrays: dict[str, np.ndarray]) -> None:
    """Check that the model inputs fit together, before any training starts.

    Args:
        arrays: ``x_<split>`` feature and ``y_<split>`` one-hot target arrays by
            dataset name, with ``x_train`` and ``y_train`` among them.

    Raises:
        ValueError: If an array is not 2-D, a feature array has another width than
            ``x_train``, a target array has another number of columns than
            ``y_train``, or a split has different numbers of feature and target
            rows. The message names every such array with its shape.
    """
    problems = [
        f"{name} must be a 2-D array, got shape {array.shape}"
        for name, array in arrays.items()
        if array.ndim != 2
    ]
    if problems:
        raise ValueError(_model_input_message(problems))

    for prefix, reference_name, unit in (
        ("x_", "x_train", "features"),
        ("y_", "y_train", "classes"),
    ):
        width = arrays[reference_name].shape[1]
        problems.extend(
            f"{name} has shape {array.shape}, so {array.shape[1]:,} {unit} per "
            f"row, but {reference_name} has shape "
            f"{arrays[reference_name].shape}, so {width:,}"
            for name, array in arrays.items()
            if name.startswith(prefix) and array.shape[1] != width
        )

    for name, features in arrays.items():
        targets_name = "y_" + name.removeprefix("x_")
        if not name.startswith("x_") or targets_name not in arrays:
            continue
        targets = arrays[targets_name]
        if features.shape[0] != targets.shape[0]:
            problems.append(
                f"{name} has {features.shape[0]:,} rows but {targets_name} has "
                f"{targets.shape[0]:,}"
            )
    if problems:
        raise ValueError(_model_input_message(problems))


def _model_input_message(problems: list[str]) -> str:
    listed = "\n".join(f"- {problem}" for problem in problems)
    return (
        f"The model inputs do not fit together:\n{listed}\nAll images must have the "
        "size of the training images, and every label file as many labels as "
        "its image file has images. Fix the raw files under data/01_raw/mnist, "
        "then run the data_processing pipeline again."
    )


def _effective_blas_threads(
    configuration_name: str, settings: dict[str, Any]
) -> int | None:
    """Return the BLAS thread limit to apply, or None to leave the count as it is.

    The ``blas_threads`` setting is lowered to the CPUs this process may use. It is
    not applied outside the main thread. Under the thread runner, configurations
    that train at the same time share one OpenBLAS thread count, and threadpoolctl
    lets only one Python thread set it. One configuration's limit would then change
    the count under another and be restored at the wrong time.
    """
    requested = settings.get("blas_threads")
    if requested is None:
        return None
    if threading.current_thread() is not threading.main_thread():
        logger.warning(
            "%s: blas_threads %d is not applied, because this configuration trains "
            "outside the main thread (the thread runner), where all configurations "
            "share one BLAS thread count. Use the sequential runner, or set "
            "OPENBLAS_NUM_THREADS before the run.",
            configuration_name,
            requested,
        )
        return None
    cpus = available_cpus()
    capped = cap_blas_threads(requested, cpus)
    if capped != requested:
        logger.warning(
            "%s: blas_threads %d is more than the %d CPUs this process may use, so "
            "it trains with %d BLAS threads. More threads than CPUs make OpenBLAS "
            "many times slower.",
            configuration_name,
            requested,
            cpus,
            capped,
        )
    return capped


def _log_blas_threads(
    configuration_name: str,
    blas_threads: int | None,
    blas_libraries: list[dict[str, Any]],
    skipped: int | None = None,
) -> None:
    """Log the BLAS thread count that a configuration trains with.

    ``skipped`` is a ``blas_threads`` setting that was not applied, shown as such.
    """
    setting = "null, the library's own count" if blas_threads is None else blas_threads
    if skipped is not None:
        setting = f"{skipped}, not applied"
    if not blas_libraries:
        if blas_threads is None:
            logger.info(
                "%s trains with an unknown BLAS thread count (blas_threads: %s): "
                "threadpoolctl finds no BLAS library in this process",
                configuration_name,
                setting,
            )
        else:
            logger.warning(
                "%s: blas_threads %d has no effect, because threadpoolctl finds no "
                "BLAS library in this process. Set the thread count with the BLAS "
                "library's environment variable, such as OPENBLAS_NUM_THREADS, "
                "before Python starts.",
                configuration_name,
                blas_threads,
            )
        return

    counts = ", ".join(
        f"{library['library']} {library['threads']}" for library in blas_libraries
    )
    logger.info(
        "%s trains with BLAS threads: %s (blas_threads: %s)",
        configuration_name,
        counts,
        setting,
    )
    if blas_threads is not None and any(
        library["threads"] != blas_threads for library in blas_libraries
    ):
        logger.warning(
            "%s: blas_threads %d is not applied, and the BLAS threads are %s. "
            "The BLAS library keeps another count, for example because it was "
            "built for fewer threads. Use at most the library's maximum.",
            configuration_name,
            blas_threads,
            counts,
        )


def _log_epoch(configuration_name: str, epochs: int, record: dict[str, Any]) -> None:
    test_accuracy = record.get("test_accuracy")
    logger.info(
        "%s epoch %d/%d: cross-entropy %.4f, squared error %.4f, validation loss "
        "%s, validation accuracy %s, test accuracy %s, %.2f s",
        configuration_name,
        record["epoch"],
        epochs,
        record["cross_entropy_loss"],
        record["squared_error_loss"],
        _format_optional(record.get("validation_loss")),
        _format_optional(record.get("validation_accuracy")),
        _format_optional(test_accuracy),
        record["epoch_seconds"],
    )


# Accuracy at most this multiple of 1 / classes counts as chance level.
CHANCE_LEVEL_FACTOR = 1.5


def _chance_level_warning(num_classes: int, learning_rate: float):
    """Return an epoch callback that warns once when accuracy stays at chance level.

    A learning rate far too high can kill every ReLU unit without making the loss
    infinite, so training goes on without an error while predicting one class.
    """
    threshold = CHANCE_LEVEL_FACTOR / num_classes
    warned = False

    def warn(record: dict[str, Any]) -> None:
        nonlocal warned
        accuracy = record.get("validation_accuracy")
        if accuracy is None:
            accuracy = record.get("test_accuracy")
        if warned or accuracy is None or accuracy > threshold:
            return
        warned = True
        logger.warning(
            "Accuracy %.4f after epoch %d is at chance level for %d classes: the "
            "network is not learning. Try a lower learning rate than %s.",
            accuracy,
            record["epoch"],
            num_classes,
            learning_rate,
        )

    return warn


def _format_optional(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _batch_progress(configuration_name: str, epochs: int):
    """Return a context that yields batch callbacks drawing a progress bar.

    The bar is drawn only when standard error is a terminal, so logs written to a
    file or a CI console get the per-epoch lines alone.
    """
    if not sys.stderr.isatty():
        return nullcontext(())
    return _ProgressBar(configuration_name, epochs)


class _ProgressBar:
    def __init__(self, description: str, epochs: int, console: Console | None = None):
        self._description = description
        self._epochs = epochs
        self._progress = Progress(
            TextColumn(
                "{task.description} epoch {task.fields[epoch]}/{task.fields[epochs]}"
            ),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        self._task = None

    def __enter__(self):
        self._progress.start()
        return (self._advance,)

    def __exit__(self, *exc_info):
        self._progress.stop()

    def _advance(self, epoch: int, step: int, steps_per_epoch: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(
                self._description,
                total=steps_per_epoch,
                epoch=epoch,
                epochs=self._epochs,
            )
        if step == 1:
            # reset() replaces every field, so both are passed again.
            self._progress.reset(
                self._task, total=steps_per_epoch, epoch=epoch, epochs=self._epochs
            )
        self._progress.update(self._task, completed=step)


def _describe_array(array: np.ndarray) -> dict[str, Any]:
    contiguous = np.ascontiguousarray(array)
    return {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sha256": hashlib.sha256(contiguous.data).hexdigest(),
    }


def _describe_environment() -> dict[str, Any]:
    packages = {}
    for name in _RECORDED_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
    }
