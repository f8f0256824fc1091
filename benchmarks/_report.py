"""Run the interleaved epoch-time benchmark and print its header and table."""

import argparse
import gc
import importlib.util
import statistics
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from _accuracy import (
    SeedAccuracy,
    mean_difference,
    measure_seed_accuracies,
    print_seed_table,
    progress,
    seed_comparison_labels,
)
from _inputs import (
    CONFIGURATIONS,
    TEST_IMAGES_FILE,
    TEST_LABELS_FILE,
    TRAIN_IMAGES_FILE,
    TRAIN_LABELS_FILE,
)
from _machine import (
    blas_description,
    limit_blas_threads,
    machine_description,
    peak_resident_memory_bytes,
    reset_peak_resident_memory,
    resident_memory_bytes,
)
from _trainers import (
    Configuration,
    TrainingData,
    build_trainers,
    matmul_flops_per_epoch,
)

from mnist_fnn.datasets import IDXDataset
from mnist_fnn.pipelines.data_processing.nodes import (
    flatten_and_scale,
    one_hot_encode,
    split_train_validation,
)

VALIDATION_FRACTION = 0.1
SPLIT_SEED = 42
TARGET_TORCH_RATIO = 0.5
TARGET_BOUND_RATIO = 1.4
TARGET_ACCURACY_POINTS = 0.3
MEBIBYTE = 2**20


@dataclass
class Measurement:
    """Epoch times, peak memory and test accuracy of one implementation on one configuration."""

    label: str
    epoch_seconds: list[float] = field(default_factory=list)
    traced_peak_bytes: int | None = None
    resident_peak_increase_bytes: int | None = None
    test_accuracy: float | None = None

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.epoch_seconds)


def load_data(data_directory) -> TrainingData:
    """Load MNIST and split off the stratified validation set as the pipeline does."""

    def load(name: str) -> np.ndarray:
        return IDXDataset(filepath=str(data_directory / name)).load()

    features = flatten_and_scale(load(TRAIN_IMAGES_FILE))
    targets = one_hot_encode(load(TRAIN_LABELS_FILE), 10)
    x_train, y_train, _, _ = split_train_validation(
        features,
        targets,
        {"validation_fraction": VALIDATION_FRACTION, "seed": SPLIT_SEED},
    )
    return TrainingData(
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        labels_train=np.argmax(y_train, axis=1).astype(np.int64),
        x_test=flatten_and_scale(load(TEST_IMAGES_FILE)),
        labels_test=load(TEST_LABELS_FILE).astype(np.int64),
        x_train_float64=x_train.astype(np.float64),
        y_train_float64=y_train.astype(np.float64),
    )


def warm_up(trainer, measurement: Measurement) -> None:
    """Train the untimed first epoch and record its peak memory.

    tracemalloc traces NumPy's array allocations but not PyTorch's. The RSS figure is
    the peak resident memory during the epoch minus the resident memory before it,
    which counts every allocator but misses memory that an earlier epoch freed and
    this one reused.
    """
    gc.collect()
    resident_before = resident_memory_bytes()
    peak_reset = reset_peak_resident_memory()
    tracemalloc.start()
    tracemalloc.reset_peak()
    trainer.train_epoch()
    measurement.traced_peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    resident_peak = peak_resident_memory_bytes()
    if peak_reset and resident_before is not None and resident_peak is not None:
        measurement.resident_peak_increase_bytes = resident_peak - resident_before


def measure_configuration(
    configuration: Configuration,
    data: TrainingData,
    arguments: argparse.Namespace,
    torch_available: bool,
) -> list[Measurement]:
    trainers = build_trainers(
        configuration,
        data,
        arguments,
        torch_available,
        seed=arguments.seed,
        implementations=arguments.implementations,
    )
    measurements = [Measurement(trainer.label) for trainer in trainers]

    progress(f"{configuration.name}: warm-up epoch of {len(trainers)} implementations")
    for trainer, measurement in zip(trainers, measurements, strict=True):
        warm_up(trainer, measurement)

    # One epoch of each implementation in turn. The starting implementation rotates
    # so that none always runs right after the same neighbour.
    for round_index in range(arguments.epochs):
        progress(
            f"{configuration.name}: timed round {round_index + 1} of {arguments.epochs}"
        )
        for offset in range(len(trainers)):
            index = (round_index + offset) % len(trainers)
            measurements[index].epoch_seconds.append(trainers[index].train_epoch())

    for trainer, measurement in zip(trainers, measurements, strict=True):
        measurement.test_accuracy = trainer.test_accuracy(data)
    return measurements


def print_header(arguments: argparse.Namespace, threads_set_by: str) -> bool:
    machine = machine_description()
    blas = blas_description()
    print("# Epoch time on MNIST")
    print()
    print(f"- CPU: {machine['cpu']}, {machine['logical_cpus']} logical CPUs")
    print(f"- Kernel: {machine['kernel']}, Python {machine['python']}")
    print(f"- NumPy {np.__version__}, BLAS: {blas['version']}")
    print(
        f"- BLAS kernel in use: {blas['kernel']}, BLAS threads: {blas['threads']} "
        f"(requested {arguments.threads}, set by {threads_set_by}; "
        f"queried with {blas['source']})"
    )
    print(f"- Forced BLAS environment: {machine['forced_blas_environment']}")

    torch_available = (
        "torch" in arguments.implementations
        and importlib.util.find_spec("torch") is not None
    )
    if torch_available:
        import torch  # noqa: PLC0415

        torch.set_num_threads(arguments.threads)
        print(f"- PyTorch {torch.__version__}, threads: {torch.get_num_threads()}")
    elif "torch" in arguments.implementations:
        print("- PyTorch is not installed, so its rows are skipped.")
    print(
        f"- Batch size {arguments.batch_size}, seed {arguments.seed}, one warm-up "
        f"epoch then {arguments.epochs} timed epochs per implementation, interleaved"
    )
    seed_labels = seed_comparison_labels(arguments, torch_available)
    if seed_labels:
        last_seed = arguments.seed + arguments.accuracy_seeds - 1
        print(
            f"- Test accuracy of {' and '.join(seed_labels)}: seeds {arguments.seed} "
            f"to {last_seed}, each trained for {arguments.epochs + 1} epochs, the "
            f"seeds after {arguments.seed} untimed"
        )
    print()
    return torch_available


def _megabytes(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MEBIBYTE:.1f}"


def print_table(
    configuration: Configuration, measurements: list[Measurement], rows: int
) -> None:
    by_label = {measurement.label: measurement for measurement in measurements}
    ours = by_label.get("ours float32")
    print(
        f"## {configuration.name}: hidden {list(configuration.hidden_sizes)}, ", end=""
    )
    print(f"{configuration.optimizer} lr {configuration.learning_rate}")
    print()
    print(
        "| implementation | s/epoch (median) | min-max | images/s | "
        "traced peak MiB | RSS peak +MiB | test accuracy % | ours f32 / this |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for measurement in measurements:
        seconds = measurement.median_seconds
        accuracy = (
            "-"
            if measurement.test_accuracy is None
            else f"{100 * measurement.test_accuracy:.2f}"
        )
        ratio = "-" if ours is None else f"{ours.median_seconds / seconds:.2f}"
        print(
            f"| {measurement.label} | {seconds:.3f} | "
            f"{min(measurement.epoch_seconds):.3f}-{max(measurement.epoch_seconds):.3f}"
            f" | {rows / seconds:,.0f} | {_megabytes(measurement.traced_peak_bytes)} | "
            f"{_megabytes(measurement.resident_peak_increase_bytes)} | {accuracy} | "
            f"{ratio} |"
        )
    print()


def _accuracy_target_line(
    ours: Measurement, torch: Measurement, seed_accuracies: list[SeedAccuracy]
) -> str:
    """Return the accuracy target line, judged on the difference of the seed means.

    With one seed, or when a seed lacks an accuracy, only the main seed is judged.
    """
    main_difference = 100 * abs(ours.test_accuracy - torch.test_accuracy)
    mean = mean_difference(seed_accuracies) if len(seed_accuracies) > 1 else None
    if mean is None:
        difference = main_difference
        measured = f"{difference:.2f} points"
        target = "target"
    else:
        difference = 100 * abs(mean)
        measured = (
            f"{difference:.2f} points between the means over {len(seed_accuracies)} "
            f"seeds, {main_difference:.2f} points for seed {seed_accuracies[0].seed} "
            "alone"
        )
        target = "target for the means"
    verdict = "met" if difference <= TARGET_ACCURACY_POINTS else "not met"
    return (
        f"- test accuracy difference to PyTorch: {measured} "
        f"({target} <= {TARGET_ACCURACY_POINTS}: {verdict})"
    )


def print_summary(
    configuration: Configuration,
    measurements: list[Measurement],
    rows: int,
    seed_accuracies: list[SeedAccuracy],
) -> None:
    """Print the matrix-product count, the target lines and the matmul + optimizer line."""
    by_label = {measurement.label: measurement for measurement in measurements}
    ours = by_label.get("ours float32")
    torch = by_label.get("PyTorch float32")
    floor = by_label.get("matmul + optimizer")
    bound = by_label.get("matmul bound")

    flops = matmul_flops_per_epoch(configuration.layer_sizes, rows)
    line = f"Matrix products per epoch: {flops / 1e9:.2f} GFLOP"
    if bound is not None:
        line += (
            f", {bound.median_seconds:.3f} s at the real shapes "
            f"({flops / bound.median_seconds / 1e9:.1f} GFLOP/s)"
        )
    print(line)

    if ours is not None and torch is not None:
        ratio = ours.median_seconds / torch.median_seconds
        print(
            f"- ours f32 / PyTorch time: {ratio:.2f} (target <= {TARGET_TORCH_RATIO}: "
            f"{'met' if ratio <= TARGET_TORCH_RATIO else 'not met'})"
        )
        print(_accuracy_target_line(ours, torch, seed_accuracies))
    if ours is not None and bound is not None:
        ratio = ours.median_seconds / bound.median_seconds
        print(
            f"- ours f32 / matmul bound: {ratio:.2f} (target <= {TARGET_BOUND_RATIO}: "
            f"{'met' if ratio <= TARGET_BOUND_RATIO else 'not met'})"
        )
    if floor is not None:
        line = (
            f"- matmul + optimizer step alone: {floor.median_seconds:.3f} s per epoch"
        )
        if bound is not None:
            ratio = floor.median_seconds / bound.median_seconds
            line += f", {ratio:.2f} times the matmul bound"
        print(line)
    print()


def main_seed_accuracy(measurements: list[Measurement], seed: int) -> SeedAccuracy:
    """Return the test accuracies of ours float32 and PyTorch from the timed run."""
    by_label = {measurement.label: measurement for measurement in measurements}
    ours = by_label.get("ours float32")
    torch = by_label.get("PyTorch float32")
    return SeedAccuracy(
        seed,
        None if ours is None else ours.test_accuracy,
        None if torch is None else torch.test_accuracy,
    )


def run_benchmark(arguments: argparse.Namespace) -> int:
    threads_set_by = limit_blas_threads(arguments.threads)
    torch_available = print_header(arguments, threads_set_by)

    # parse_arguments accepts only the names in CONFIGURATIONS.
    by_name = {configuration.name: configuration for configuration in CONFIGURATIONS}
    configurations = [by_name[name] for name in arguments.configurations]

    data = load_data(arguments.data_directory)
    rows = data.x_train.shape[0]
    print(f"Training rows: {rows}, test rows: {data.x_test.shape[0]}")
    print()
    for configuration in configurations:
        measurements = measure_configuration(
            configuration, data, arguments, torch_available
        )
        seed_accuracies = measure_seed_accuracies(
            configuration,
            data,
            arguments,
            torch_available,
            main_seed_accuracy(measurements, arguments.seed),
        )
        print_table(configuration, measurements, rows)
        if len(seed_accuracies) > 1:
            print_seed_table(seed_accuracies, arguments.epochs + 1)
        print_summary(configuration, measurements, rows, seed_accuracies)
    return 0
