"""Test accuracy of ours float32 and PyTorch over several seeds.

The timed run gives the accuracies of the main seed. Each further seed trains a fresh
pair of networks, untimed, for the same number of epochs, with that seed's initial
weights and shuffling.
"""

import argparse
import statistics
import sys
from dataclasses import dataclass

from _trainers import Configuration, TrainingData, build_trainers


@dataclass(frozen=True)
class SeedAccuracy:
    """Test accuracies of one seed, as fractions, None for an implementation not run."""

    seed: int
    ours: float | None
    torch: float | None

    @property
    def difference(self) -> float | None:
        """Ours minus PyTorch, or None when either is missing."""
        if self.ours is None or self.torch is None:
            return None
        return self.ours - self.torch


OURS_LABEL = "ours float32"
TORCH_LABEL = "PyTorch float32"


def seed_comparison_labels(
    arguments: argparse.Namespace, torch_available: bool
) -> list[str]:
    """Return the labels of the implementations that the seeds after the main one train.

    Ours float32 trains when ``ours_float32`` is among the implementations, and
    PyTorch when ``torch_available``. The list is empty, so no extra seed trains, when
    ``arguments.accuracy_seeds`` is 1 or neither implementation runs.
    """
    if arguments.accuracy_seeds < 2:
        return []
    labels = []
    if "ours_float32" in arguments.implementations:
        labels.append(OURS_LABEL)
    if torch_available:
        labels.append(TORCH_LABEL)
    return labels


def measure_seed_accuracies(
    configuration: Configuration,
    data: TrainingData,
    arguments: argparse.Namespace,
    torch_available: bool,
    main_seed_accuracy: SeedAccuracy,
) -> list[SeedAccuracy]:
    """Train the seeds after ``arguments.seed`` and return every seed's accuracies.

    ``seed_comparison_labels`` selects the implementations. Each seed trains for
    ``arguments.epochs + 1`` epochs, the warm-up and the timed epochs of the main run.
    One progress line per seed goes to stderr.

    Returns:
        ``main_seed_accuracy`` followed by one entry per further seed, in seed order.
    """
    accuracies = [main_seed_accuracy]
    labels = seed_comparison_labels(arguments, torch_available)
    if not labels:
        return accuracies
    implementations = []
    if OURS_LABEL in labels:
        implementations.append("ours_float32")
    if TORCH_LABEL in labels:
        implementations.append("torch")

    epochs = arguments.epochs + 1
    for index in range(1, arguments.accuracy_seeds):
        seed = arguments.seed + index
        progress(
            f"{configuration.name}: seed {seed} ({index + 1} of "
            f"{arguments.accuracy_seeds}), training {' and '.join(labels)} for "
            f"{epochs} epochs untimed"
        )
        trainers = build_trainers(
            configuration,
            data,
            arguments,
            torch_available,
            seed=seed,
            implementations=implementations,
        )
        by_label = {
            trainer.label: _train_and_test(trainer, data, epochs)
            for trainer in trainers
        }
        accuracies.append(
            SeedAccuracy(seed, by_label.get(OURS_LABEL), by_label.get(TORCH_LABEL))
        )
    return accuracies


def progress(message: str) -> None:
    """Write one progress line to stderr, so that stdout stays the Markdown report."""
    print(message, file=sys.stderr, flush=True)


def _train_and_test(trainer, data: TrainingData, epochs: int) -> float:
    for _ in range(epochs):
        trainer.train_epoch()
    return trainer.test_accuracy(data)


def mean_difference(accuracies: list[SeedAccuracy]) -> float | None:
    """Return the mean of ours minus the mean of PyTorch, None unless every seed has both."""
    differences = [accuracy.difference for accuracy in accuracies]
    if None in differences:
        return None
    return statistics.mean(differences)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.2f}"


def _column_statistics(values: list[float | None]) -> tuple[float | None, ...]:
    """Return the mean and the sample standard deviation, None when a value is missing."""
    if None in values:
        return None, None
    return statistics.mean(values), statistics.stdev(values)


def print_seed_table(accuracies: list[SeedAccuracy], epochs: int) -> None:
    """Print the per-seed accuracies with the mean and sample standard deviation.

    Needs at least two seeds, because the sample standard deviation of one value is
    undefined.
    """
    print(
        f"Test accuracy over {len(accuracies)} seeds, each after {epochs} epochs "
        "(difference: ours minus PyTorch):"
    )
    print()
    print("| seed | ours f32 % | PyTorch % | difference (points) |")
    print("|---|---:|---:|---:|")
    for accuracy in accuracies:
        print(
            f"| {accuracy.seed} | {_percent(accuracy.ours)} | "
            f"{_percent(accuracy.torch)} | {_points(accuracy.difference)} |"
        )

    ours_mean, ours_deviation = _column_statistics([a.ours for a in accuracies])
    torch_mean, torch_deviation = _column_statistics([a.torch for a in accuracies])
    difference_mean, difference_deviation = _column_statistics(
        [a.difference for a in accuracies]
    )
    print(
        f"| mean | {_percent(ours_mean)} | {_percent(torch_mean)} | "
        f"{_points(difference_mean)} |"
    )
    print(
        f"| sample standard deviation | {_percent(ours_deviation)} | "
        f"{_percent(torch_deviation)} | {_percent(difference_deviation)} |"
    )
    print()
