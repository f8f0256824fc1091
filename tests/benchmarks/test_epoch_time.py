"""The benchmark script: options, the multi-seed accuracy report and a smoke run."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import epoch_time
import pytest
from _accuracy import (
    SeedAccuracy,
    measure_seed_accuracies,
    print_seed_table,
    seed_comparison_labels,
)
from _inputs import MNIST_FILES
from _report import Measurement, print_header, print_summary
from _trainers import Configuration, ProjectTrainer, TorchTrainer, initial_parameters
from epoch_time import parse_arguments

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "benchmarks" / "epoch_time.py"
TORCH_INSTALLED = importlib.util.find_spec("torch") is not None
REC_3 = Configuration("Rec_3_Light_Adam", (64, 64), "adam", 0.001)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--accuracy-seeds", "0"], "--accuracy-seeds must be at least 1, got 0."),
        (["--accuracy-seeds", "-2"], "--accuracy-seeds must be at least 1, got -2."),
        (["--epochs", "2"], "--epochs must be at least 3, got 2."),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0."),
        (["--batch-size", "-64"], "--batch-size must be at least 1, got -64."),
        (["--seed", "-1"], "--seed must be at least 0, got -1."),
        (
            ["--configurations", "Rec_9"],
            "--configurations: unknown configuration Rec_9. Valid configurations: "
            "Rec_1_Balanced_Adam, Rec_2_Deep_Nadam, Rec_3_Light_Adam.",
        ),
        (
            ["--configurations", "Rec_9", "Rec_3_Light_Adam", "rec_1", "Rec_9"],
            "--configurations: unknown configurations Rec_9, rec_1. Valid "
            "configurations: Rec_1_Balanced_Adam, Rec_2_Deep_Nadam, "
            "Rec_3_Light_Adam.",
        ),
    ],
)
def test_invalid_option_message(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


EXPECTED_MNIST_FILES = (
    "It must be a folder that contains the four MNIST gzip IDX files "
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz."
)


def _data_directory_message(capsys, folder: Path) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(["--data-directory", str(folder)])

    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_data_directory_not_found(capsys, tmp_path):
    folder = tmp_path / "missing"

    message = _data_directory_message(capsys, folder)

    assert (
        f"--data-directory {folder}: folder not found. {EXPECTED_MNIST_FILES}"
        in message
    )
    assert "git checkout" not in message


def test_data_directory_is_a_file(capsys, tmp_path):
    folder = tmp_path / "mnist.gz"
    folder.write_bytes(b"")

    message = _data_directory_message(capsys, folder)

    assert f"--data-directory {folder}: not a folder. {EXPECTED_MNIST_FILES}" in message


def test_data_directory_missing_files(capsys, tmp_path):
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        (tmp_path / name).write_bytes(b"")

    message = _data_directory_message(capsys, tmp_path)

    assert (
        f"--data-directory {tmp_path}: files not found: train-labels-idx1-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz. {EXPECTED_MNIST_FILES}" in message
    )
    assert "git checkout" not in message


def test_data_directory_missing_one_file(capsys, tmp_path):
    for name in MNIST_FILES[:3]:
        (tmp_path / name).write_bytes(b"")

    message = _data_directory_message(capsys, tmp_path)

    assert (
        f"--data-directory {tmp_path}: file not found: t10k-labels-idx1-ubyte.gz. "
        f"{EXPECTED_MNIST_FILES}" in message
    )


def test_default_data_directory_restore_hint(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(epoch_time, "DEFAULT_DATA_DIRECTORY", tmp_path)

    with pytest.raises(SystemExit) as exit_info:
        parse_arguments([])

    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith(
            f"{EXPECTED_MNIST_FILES} `git checkout -- data/01_raw/mnist` restores the "
            "files that ship with the repository."
        )
    )


def test_data_directory_with_files_accepted(tmp_path):
    # Empty files pass, because only their presence is checked before NumPy loads.
    for name in MNIST_FILES:
        (tmp_path / name).write_bytes(b"")

    arguments = parse_arguments(["--data-directory", str(tmp_path)])

    assert arguments.data_directory == tmp_path


def test_option_defaults():
    arguments = parse_arguments([])

    assert arguments.accuracy_seeds == 5
    assert "floor" in arguments.implementations
    assert "bound" in arguments.implementations
    assert arguments.configurations == [
        "Rec_1_Balanced_Adam",
        "Rec_2_Deep_Nadam",
        "Rec_3_Light_Adam",
    ]


def test_configurations_help_shows_default_once(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(["--help"])

    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "--configurations NAME [NAME ...] names of the configurations to run "
        "(default: ['Rec_1_Balanced_Adam', 'Rec_2_Deep_Nadam', 'Rec_3_Light_Adam'])"
        " --implementations" in help_text
    )
    assert "(default: None)" not in help_text


def test_parse_arguments_leaves_numpy_unloaded():
    # The script sets the BLAS thread variables after parse_arguments and before
    # NumPy loads OpenBLAS, so checking the options must not import NumPy.
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
        "from epoch_time import parse_arguments\n"
        "parse_arguments(['--configurations', 'Rec_3_Light_Adam'])\n"
        "print('numpy' in sys.modules)\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "False\n"


def _measurement(label: str, seconds: float, accuracy: float | None) -> Measurement:
    return Measurement(label, epoch_seconds=[seconds] * 3, test_accuracy=accuracy)


SUMMARY_MEASUREMENTS = [
    _measurement("ours float32", 0.28, 0.9713),
    _measurement("PyTorch float32", 0.77, 0.9710),
    _measurement("matmul + optimizer", 0.20, None),
    _measurement("matmul bound", 0.10, None),
]


def test_summary_one_seed_judges_main_seed(capsys):
    print_summary(
        REC_3, SUMMARY_MEASUREMENTS, 54_000, [SeedAccuracy(42, 0.9713, 0.9710)]
    )
    lines = capsys.readouterr().out.splitlines()

    assert (
        "- test accuracy difference to PyTorch: 0.03 points (target <= 0.3: met)"
        in lines
    )
    assert "- ours f32 / matmul bound: 2.80 (target <= 1.4: not met)" in lines
    assert (
        "- matmul + optimizer step alone: 0.200 s per epoch, 2.00 times the matmul "
        "bound" in lines
    )


def test_summary_several_seeds_judges_means(capsys):
    accuracies = [
        SeedAccuracy(42, 0.9713, 0.9710),
        SeedAccuracy(43, 0.9650, 0.9713),
        SeedAccuracy(44, 0.9600, 0.9700),
    ]
    print_summary(REC_3, SUMMARY_MEASUREMENTS, 54_000, accuracies)
    lines = capsys.readouterr().out.splitlines()

    # Means: ours 289.63 / 3 = 96.543 %, PyTorch 291.23 / 3 = 97.077 %, so the means
    # differ by 0.533 points.
    assert (
        "- test accuracy difference to PyTorch: 0.53 points between the means over "
        "3 seeds, 0.03 points for seed 42 alone (target for the means <= 0.3: "
        "not met)" in lines
    )


def test_summary_floor_without_bound(capsys):
    measurements = [_measurement("matmul + optimizer", 0.20, None)]
    print_summary(REC_3, measurements, 54_000, [SeedAccuracy(42, None, None)])
    lines = capsys.readouterr().out.splitlines()

    assert "- matmul + optimizer step alone: 0.200 s per epoch" in lines


def test_seed_table_statistics(capsys):
    accuracies = [
        SeedAccuracy(42, 0.9700, 0.9690),
        SeedAccuracy(43, 0.9720, 0.9730),
        SeedAccuracy(44, 0.9680, 0.9710),
    ]
    print_seed_table(accuracies, epochs=5)
    lines = capsys.readouterr().out.splitlines()

    assert lines[0] == (
        "Test accuracy over 3 seeds, each after 5 epochs (difference: ours minus "
        "PyTorch):"
    )
    assert "| 42 | 97.00 | 96.90 | +0.10 |" in lines
    assert "| 43 | 97.20 | 97.30 | -0.10 |" in lines
    assert "| 44 | 96.80 | 97.10 | -0.30 |" in lines
    # Each column has deviations of 0.2, 0.2 and 0 points from its mean, in some
    # order, so its sample standard deviation is sqrt(0.08 / 2) = 0.20. The means
    # are 97.00 (ours), 97.10 (PyTorch) and -0.10 (differences).
    assert "| mean | 97.00 | 97.10 | -0.10 |" in lines
    assert "| sample standard deviation | 0.20 | 0.20 | 0.20 |" in lines


def test_seed_table_without_torch(capsys):
    accuracies = [SeedAccuracy(42, 0.9700, None), SeedAccuracy(43, 0.9720, None)]
    print_seed_table(accuracies, epochs=4)
    lines = capsys.readouterr().out.splitlines()

    assert "| 42 | 97.00 | - | - |" in lines
    assert "| mean | 97.10 | - | - |" in lines
    assert "| sample standard deviation | 0.14 | - | - |" in lines


def _seed_arguments(implementations: list[str]):
    return parse_arguments(
        [
            "--epochs",
            "3",
            "--accuracy-seeds",
            "3",
            "--seed",
            "42",
            "--implementations",
            *implementations,
        ]
    )


def test_extra_seeds_train_ours(small_training_data, capsys):
    configuration = Configuration("small", (16,), "adam", 0.001)
    arguments = _seed_arguments(["ours_float32", "bound"])
    main = SeedAccuracy(42, 0.5, None)

    accuracies = measure_seed_accuracies(
        configuration, small_training_data, arguments, False, main
    )

    assert [accuracy.seed for accuracy in accuracies] == [42, 43, 44]
    assert accuracies[0] is main
    assert [accuracy.torch for accuracy in accuracies] == [None, None, None]
    # Seed 43 is trained for the warm-up and the 3 timed epochs, from seed 43's
    # initial weights and with seed 43's shuffling.
    expected = ProjectTrainer(
        configuration,
        small_training_data,
        initial_parameters(configuration, 43),
        dtype="float32",
        batch_size=64,
        seed=43,
    )
    for _ in range(4):
        expected.train_epoch()
    assert accuracies[1].ours == expected.test_accuracy(small_training_data)
    assert accuracies[2].ours is not None

    progress = capsys.readouterr().err.splitlines()
    assert progress == [
        "small: seed 43 (2 of 3), training ours float32 for 4 epochs untimed",
        "small: seed 44 (3 of 3), training ours float32 for 4 epochs untimed",
    ]


@pytest.mark.skipif(not TORCH_INSTALLED, reason="PyTorch is not installed")
def test_extra_seeds_train_torch(small_training_data, capsys):
    configuration = Configuration("small", (16,), "nadam", 0.001)
    arguments = _seed_arguments(["ours_float32", "torch"])
    main = SeedAccuracy(42, 0.5, 0.5)

    accuracies = measure_seed_accuracies(
        configuration, small_training_data, arguments, True, main
    )

    expected = TorchTrainer(
        configuration,
        small_training_data,
        initial_parameters(configuration, 44),
        batch_size=64,
        seed=44,
        threads=1,
        nadam_momentum_decay=1e4,
    )
    for _ in range(4):
        expected.train_epoch()
    assert accuracies[2].torch == expected.test_accuracy(small_training_data)
    assert accuracies[1].ours is not None
    assert "training ours float32 and PyTorch float32" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("implementations", "accuracy_seeds", "torch_available", "labels"),
    [
        (["ours_float32", "torch"], 3, True, ["ours float32", "PyTorch float32"]),
        (["ours_float32", "torch"], 3, False, ["ours float32"]),
        (["torch", "bound"], 3, True, ["PyTorch float32"]),
        (["ours_float64", "bound"], 3, False, []),
        (["ours_float32", "torch"], 1, True, []),
    ],
)
def test_seed_comparison_labels(
    implementations, accuracy_seeds, torch_available, labels
):
    arguments = parse_arguments(
        [
            "--accuracy-seeds",
            str(accuracy_seeds),
            "--implementations",
            *implementations,
        ]
    )

    assert seed_comparison_labels(arguments, torch_available) == labels


def _header_lines(capsys, implementations: list[str]) -> list[str]:
    arguments = parse_arguments(["--implementations", *implementations])
    print_header(arguments, "threadpoolctl")
    return capsys.readouterr().out.splitlines()


def test_header_without_seed_comparison(capsys):
    lines = _header_lines(capsys, ["ours_float64", "bound"])

    assert not [line for line in lines if line.startswith("- Test accuracy")]


def test_header_seed_line_names_trained(capsys):
    lines = _header_lines(capsys, ["ours_float32", "bound"])

    assert (
        "- Test accuracy of ours float32: seeds 42 to 46, each trained for 5 epochs, "
        "the seeds after 42 untimed" in lines
    )


def test_extra_seeds_without_ours_or_torch(small_training_data, capsys):
    arguments = _seed_arguments(["ours_float64", "bound"])
    main = SeedAccuracy(42, None, None)

    # print_header sets torch_available only when torch is among the implementations.
    accuracies = measure_seed_accuracies(
        REC_3, small_training_data, arguments, False, main
    )

    assert accuracies == [main]
    assert capsys.readouterr().err == ""


def test_one_accuracy_seed_trains_nothing(small_training_data, capsys):
    arguments = parse_arguments(["--accuracy-seeds", "1"])
    main = SeedAccuracy(42, 0.5, 0.5)

    accuracies = measure_seed_accuracies(
        REC_3, small_training_data, arguments, TORCH_INSTALLED, main
    )

    assert accuracies == [main]
    assert capsys.readouterr().err == ""


def _table_row_pattern(label: str) -> str:
    # Eight cells: label, median, min-max, images/s, two memory figures, accuracy
    # and ratio. The figures vary from run to run, so only their shape is checked.
    return rf"^\| {re.escape(label)} \|( [^|]+ \|){{7}}$"


@pytest.mark.slow
def test_script_smoke_run():
    # torch is requested either way: without PyTorch the script skips its rows with
    # a message, which the last assertion checks.
    implementations = ["ours_float32", "torch", "floor", "bound"]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }

    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--epochs",
            "3",
            "--threads",
            "1",
            "--configurations",
            "Rec_3_Light_Adam",
            "--implementations",
            *implementations,
            "--accuracy-seeds",
            "2",
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "## Rec_3_Light_Adam: hidden [64, 64], adam lr 0.001" in output
    for label in ("ours float32", "matmul + optimizer", "matmul bound"):
        assert re.search(_table_row_pattern(label), output, re.MULTILINE), label
    assert re.search(r"^\| 42 \| \d+\.\d\d \| ", output, re.MULTILINE)
    assert re.search(r"^\| 43 \| \d+\.\d\d \| ", output, re.MULTILINE)
    assert re.search(r"^\| mean \| \d+\.\d\d \| ", output, re.MULTILINE)
    assert re.search(
        r"^\| sample standard deviation \| \d+\.\d\d \| ", output, re.MULTILINE
    )
    assert re.search(
        r"^- ours f32 / matmul bound: \d+\.\d\d \(target <= 1\.4: (met|not met)\)$",
        output,
        re.MULTILINE,
    )
    assert re.search(
        r"^- matmul \+ optimizer step alone: \d+\.\d{3} s per epoch, \d+\.\d\d "
        r"times the matmul bound$",
        output,
        re.MULTILINE,
    )
    assert (
        "Rec_3_Light_Adam: seed 43 (2 of 2), training ours float32" in completed.stderr
    )
    assert "Rec_3_Light_Adam: warm-up epoch of " in completed.stderr
    assert "Rec_3_Light_Adam: timed round 3 of 3" in completed.stderr
    assert "timed round" not in output

    if TORCH_INSTALLED:
        assert re.search(_table_row_pattern("PyTorch float32"), output, re.MULTILINE)
        assert re.search(
            r"^- ours f32 / PyTorch time: \d+\.\d\d \(target <= 0\.5: (met|not met)\)$",
            output,
            re.MULTILINE,
        )
        assert re.search(
            r"^- test accuracy difference to PyTorch: \d+\.\d\d points between the "
            r"means over 2 seeds, \d+\.\d\d points for seed 42 alone \(target for "
            r"the means <= 0\.3: (met|not met)\)$",
            output,
            re.MULTILINE,
        )
    else:
        assert "- PyTorch is not installed, so its rows are skipped." in output


def test_repeated_configuration_runs_once():
    arguments = parse_arguments(
        [
            "--configurations",
            "Rec_3_Light_Adam",
            "Rec_1_Balanced_Adam",
            "Rec_3_Light_Adam",
        ]
    )

    assert arguments.configurations == ["Rec_3_Light_Adam", "Rec_1_Balanced_Adam"]
