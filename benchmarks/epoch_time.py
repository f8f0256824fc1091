"""Time one training epoch of the recommended networks on the real MNIST.

Trains each recommended configuration with this project's network (float32 and
float64), a notebook-style float64 baseline and PyTorch on the CPU when torch is
installed. One epoch of each implementation runs in turn. The matrix products of an
epoch, timed alone, give a lower bound, and the same products followed by this
project's optimizer step give the floor of its design. The test accuracy of ours
float32 and PyTorch is compared over several seeds. The output is Markdown, and the
progress goes to stderr.

Usage:
    python benchmarks/epoch_time.py --epochs 4 --threads 1

For the figures in docs/benchmarks.md, unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
for this command alone (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...``):
they force an OpenBLAS kernel that a current NumPy does not need and that is slower.
"""

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from _inputs import CONFIGURATION_NAMES, MNIST_FILES
from _machine import THREAD_VARIABLES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIRECTORY = PROJECT_ROOT / "data" / "01_raw" / "mnist"
IMPLEMENTATIONS = (
    "ours_float32",
    "ours_float64",
    "notebook",
    "torch",
    "floor",
    "bound",
)
RESTORE_HINT = (
    "`git checkout -- data/01_raw/mnist` restores the files that ship with the "
    "repository."
)


def data_directory_error(folder: Path) -> str | None:
    """Return the error message for a data directory without the MNIST files, or None.

    Only the presence of the files is checked. A corrupt file fails when it loads.
    """
    expected = (
        "It must be a folder that contains the four MNIST gzip IDX files "
        f"{', '.join(MNIST_FILES)}."
    )
    if not folder.exists():
        message = f"--data-directory {folder}: folder not found. {expected}"
    elif not folder.is_dir():
        message = f"--data-directory {folder}: not a folder. {expected}"
    else:
        missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
        if not missing:
            return None
        noun = "file" if len(missing) == 1 else "files"
        message = (
            f"--data-directory {folder}: {noun} not found: {', '.join(missing)}. "
            f"{expected}"
        )
    if folder.resolve() == DEFAULT_DATA_DIRECTORY.resolve():
        message += f" {RESTORE_HINT}"
    return message


def unknown_configurations_error(names: list[str]) -> str | None:
    """Return the error message naming the unknown configuration names, or None."""
    unknown = [name for name in dict.fromkeys(names) if name not in CONFIGURATION_NAMES]
    if not unknown:
        return None
    noun = "configuration" if len(unknown) == 1 else "configurations"
    return (
        f"--configurations: unknown {noun} {', '.join(unknown)}. "
        f"Valid configurations: {', '.join(CONFIGURATION_NAMES)}."
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=4,
        help="timed epochs per implementation, after one untimed warm-up epoch "
        "(at least 3)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS and PyTorch threads"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="rows per step (at least 1)"
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="seed of the initial weights and shuffling"
    )
    parser.add_argument(
        "--configurations",
        nargs="+",
        default=list(CONFIGURATION_NAMES),
        metavar="NAME",
        help="names of the configurations to run",
    )
    parser.add_argument(
        "--implementations",
        nargs="+",
        choices=IMPLEMENTATIONS,
        default=list(IMPLEMENTATIONS),
        help="implementations to run; ratios need ours_float32. floor is the matrix "
        "products plus the optimizer step, bound the matrix products alone",
    )
    parser.add_argument(
        "--accuracy-seeds",
        type=int,
        default=5,
        metavar="N",
        help="number of seeds for the test-accuracy comparison of ours_float32 and "
        "torch: --seed and the next N-1 integers, each trained for the warm-up and "
        "timed epochs, the ones after --seed untimed (at least 1)",
    )
    parser.add_argument(
        "--torch-nadam-momentum-decay",
        type=float,
        default=1e4,
        help="momentum_decay of torch.optim.NAdam; 1e4 keeps its momentum at beta1, "
        "0 keeps it at beta1 / 2",
    )
    parser.add_argument(
        "--data-directory",
        type=Path,
        default=DEFAULT_DATA_DIRECTORY,
        help="folder with the four gzip IDX files of MNIST",
    )
    arguments = parser.parse_args(argv)
    if arguments.epochs < 3:
        parser.error(f"--epochs must be at least 3, got {arguments.epochs}.")
    if arguments.accuracy_seeds < 1:
        parser.error(
            f"--accuracy-seeds must be at least 1, got {arguments.accuracy_seeds}."
        )
    if arguments.threads < 1:
        parser.error(f"--threads must be at least 1, got {arguments.threads}.")
    if arguments.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {arguments.batch_size}.")
    if arguments.seed < 0:
        parser.error(f"--seed must be at least 0, got {arguments.seed}.")
    configurations_error = unknown_configurations_error(arguments.configurations)
    if configurations_error is not None:
        parser.error(configurations_error)
    # A name given twice runs once.
    arguments.configurations = list(dict.fromkeys(arguments.configurations))
    directory_error = data_directory_error(arguments.data_directory)
    if directory_error is not None:
        parser.error(directory_error)
    return arguments


def pin_threads_before_numpy(threads: int) -> None:
    """Re-execute this script with the BLAS thread variables set, when they are needed.

    OpenBLAS reads its thread count when NumPy loads it. threadpoolctl can change it
    later, so the re-execution happens only when threadpoolctl is missing and the
    variables differ from ``threads``.
    """
    if importlib.util.find_spec("threadpoolctl") is not None:
        return
    wanted = str(threads)
    if all(os.environ.get(name) == wanted for name in THREAD_VARIABLES):
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = wanted
    os.execv(sys.executable, [sys.executable, *sys.argv])


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    pin_threads_before_numpy(arguments.threads)

    # NumPy, and with it OpenBLAS, loads only after the thread variables are final.
    from _report import run_benchmark  # noqa: PLC0415

    return run_benchmark(arguments)


if __name__ == "__main__":
    sys.exit(main())
