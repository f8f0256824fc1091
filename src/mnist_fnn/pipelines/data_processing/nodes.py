"""Nodes that turn raw MNIST arrays into model inputs: features, one-hot targets and
a stratified validation split."""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PIXEL_MAX = 255
DEFAULT_VALIDATION_FRACTION = 0.1

# Out-of-range label values listed in an error message, so a file of garbage does
# not produce a message of thousands of numbers.
MAX_LISTED_VALUES = 10


def flatten_and_scale(images: np.ndarray) -> np.ndarray:
    """Flatten images into feature rows and scale pixels from 0-255 to [0, 1].

    Args:
        images: ``uint8`` array of shape ``(n, rows, columns)``.

    Returns:
        ``float32`` array of shape ``(n, rows * columns)``, each pixel divided by 255.

    Raises:
        TypeError: If ``images`` is not a NumPy array.
        ValueError: If ``images`` is not 3-D or not ``uint8``.
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a NumPy array, got {type(images).__name__}.")
    if images.ndim != 3:
        raise ValueError(
            f"images must be a 3-D array of shape (n, rows, columns), got shape "
            f"{images.shape}."
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"images must have dtype uint8 with pixel values 0-255, got dtype "
            f"{images.dtype}."
        )

    count, rows, columns = images.shape
    features = images.reshape(count, rows * columns).astype(np.float32)
    np.divide(features, PIXEL_MAX, out=features)

    logger.info(
        "Flattened %d images of %dx%d pixels into %d features scaled to [0, 1]",
        count,
        rows,
        columns,
        rows * columns,
    )
    return features


def one_hot_encode(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Encode class labels as one-hot rows.

    Args:
        labels: 1-D integer array of class labels in ``0 .. num_classes - 1``.
        num_classes: Number of classes, the width of each one-hot row.

    Returns:
        ``float32`` array of shape ``(n, num_classes)`` with a single 1 per row.

    Raises:
        TypeError: If ``labels`` is not a NumPy array.
        ValueError: If ``num_classes`` is not a positive integer, ``labels`` is not
            a 1-D integer array, or a label is outside ``0 .. num_classes - 1``.
    """
    num_classes = check_num_classes(num_classes)
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels must be a NumPy array, got {type(labels).__name__}.")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D integer array, got shape {labels.shape} and dtype "
            f"{labels.dtype}."
        )

    out_of_range = labels[(labels < 0) | (labels >= num_classes)]
    if out_of_range.size:
        bad_values = np.unique(out_of_range)
        listed = ", ".join(str(value) for value in bad_values[:MAX_LISTED_VALUES])
        if bad_values.size > MAX_LISTED_VALUES:
            listed += f" and {bad_values.size - MAX_LISTED_VALUES} more"
        raise ValueError(
            f"labels must be in 0..{num_classes - 1}, but {out_of_range.size:,} of "
            f"{labels.size:,} labels are outside that range, with values {listed}."
        )

    targets = np.zeros((labels.size, num_classes), dtype=np.float32)
    targets[np.arange(labels.size), labels] = 1.0

    logger.info("One-hot encoded %d labels into %d classes", labels.size, num_classes)
    return targets


def split_train_validation(
    features: np.ndarray, targets: np.ndarray, parameters: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split samples into training and validation sets, stratified by class.

    The validation set has ``round(validation_fraction * n)`` rows. They are shared
    among the classes by largest remainder, so each class contributes its exact
    proportional count rounded up or down. The class of a row is the argmax of its
    one-hot target. Rows are drawn and then shuffled with a NumPy ``Generator``
    seeded from ``seed``, so a seed always gives the same split.

    Args:
        features: Array of shape ``(n, ...)``.
        targets: One-hot array of shape ``(n, num_classes)``.
        parameters: ``validation_fraction`` in [0, 1), default 0.1, where 0 gives
            an empty validation set, and ``seed``, a non-negative integer.

    Returns:
        ``x_train``, ``y_train``, ``x_validation`` and ``y_validation``.

    Raises:
        ValueError: If a parameter is missing or invalid, ``targets`` is not 2-D,
            or ``features`` and ``targets`` have different numbers of rows.
    """
    validation_fraction, seed = _read_split_parameters(parameters)
    if targets.ndim != 2:
        raise ValueError(
            f"targets must be a 2-D one-hot array of shape (n, num_classes), got "
            f"shape {targets.shape}."
        )
    if features.shape[0] != targets.shape[0]:
        raise ValueError(
            f"features and targets must have the same number of rows, got "
            f"{features.shape[0]:,} feature rows and {targets.shape[0]:,} target "
            f"rows."
        )

    rng = np.random.default_rng(seed)
    classes = targets.argmax(axis=1)
    class_values, class_counts = np.unique(classes, return_counts=True)
    validation_counts = _allocate_validation_counts(class_counts, validation_fraction)

    training_parts = []
    validation_parts = []
    for value, validation_count in zip(class_values, validation_counts, strict=True):
        class_rows = rng.permutation(np.flatnonzero(classes == value))
        validation_parts.append(class_rows[:validation_count])
        training_parts.append(class_rows[validation_count:])

    # Shuffling removes the class-by-class order of the concatenated parts.
    training_rows = rng.permutation(_concatenate_rows(training_parts))
    validation_rows = rng.permutation(_concatenate_rows(validation_parts))

    logger.info(
        "Split %d samples into %d training and %d validation samples, stratified "
        "over %d classes (validation_fraction=%s, seed=%d)",
        targets.shape[0],
        training_rows.size,
        validation_rows.size,
        class_values.size,
        validation_fraction,
        seed,
    )
    return (
        features[training_rows],
        targets[training_rows],
        features[validation_rows],
        targets[validation_rows],
    )


def _read_split_parameters(parameters: dict[str, Any]) -> tuple[float, int]:
    validation_fraction = check_validation_fraction(
        parameters.get("validation_fraction", DEFAULT_VALIDATION_FRACTION)
    )
    if "seed" not in parameters:
        raise ValueError(
            "Missing seed in the split parameters. Set seed to a non-negative "
            "integer so the split is reproducible."
        )
    return validation_fraction, check_split_seed(parameters["seed"])


def check_num_classes(num_classes: object) -> int:
    """Return ``num_classes`` as an int.

    Raises:
        ValueError: If it is not a positive integer.
    """
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, Integral)
        or num_classes < 1
    ):
        raise ValueError(
            f"Invalid num_classes: {num_classes!r}. Expected a positive integer."
        )
    return int(num_classes)


def check_validation_fraction(validation_fraction: object) -> float:
    """Return the share of images held out for validation as a float.

    Raises:
        ValueError: If it is not a number in [0, 1).
    """
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, Real)
        or not 0 <= validation_fraction < 1
    ):
        raise ValueError(
            f"Invalid validation_fraction: {validation_fraction!r}. Expected a "
            f"number in [0, 1)."
        )
    return float(validation_fraction)


def check_split_seed(seed: object) -> int:
    """Return the seed of the validation split as an int.

    Raises:
        ValueError: If it is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"Invalid seed: {seed!r}. Expected a non-negative integer.")
    return int(seed)


def count_validation_rows(rows: int, validation_fraction: float) -> int:
    """Return how many of ``rows`` samples ``split_train_validation`` holds out."""
    return round(validation_fraction * rows)


def _allocate_validation_counts(
    class_counts: np.ndarray, validation_fraction: float
) -> np.ndarray:
    """Share ``round(validation_fraction * n)`` validation rows among the classes.

    Each class gets the floor of its exact share, and the rows still missing go one
    each to the classes with the largest fractional remainders, lowest class first
    on ties.
    """
    exact_counts = validation_fraction * class_counts
    counts = np.floor(exact_counts).astype(np.int64)
    missing = count_validation_rows(int(class_counts.sum()), validation_fraction) - int(
        counts.sum()
    )
    by_remainder = np.argsort(-(exact_counts - counts), kind="stable")
    counts[by_remainder[:missing]] += 1
    return counts


def _concatenate_rows(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(parts)
