"""Parameter checks: one error listing every invalid value, before training."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_fnn.pipelines.training.nodes import train_model
from mnist_fnn.validation import (
    ParameterError,
    check_configuration_names,
    check_data_processing,
    check_shared_settings,
    check_training_settings,
)
from tests.failures.conftest import run_kedro

DEFAULTS = {
    "epochs": 1,
    "batch_size": 64,
    "hidden_sizes": [8],
    "activation": "relu",
    "initialization": "xavier",
    "loss": "cross_entropy",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "beta1": 0.9,
    "beta2": 0.999,
    "seed": 42,
}
KEY = "configurations.Small"


def problems_of(configuration: dict, defaults: dict = DEFAULTS, **kwargs) -> list:
    return check_training_settings(
        defaults, configuration, configuration_key=KEY, **kwargs
    )


def test_aliases_are_valid():
    configuration = {"optimizer": "nag", "initialization": "Xavier"}
    assert problems_of({**configuration, "activation": "ReLU"}) == []


def test_empty_hidden_sizes_is_valid():
    assert problems_of({"hidden_sizes": []}) == []


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        (
            {"optimizer": "adamw"},
            f"{KEY}.optimizer: Unknown optimizer 'adamw'. Valid optimizers: adam,",
        ),
        (
            {"activation": "gelu"},
            f"{KEY}.activation: Unknown activation 'gelu'. Valid activations:",
        ),
        ({"loss": "hinge"}, f"{KEY}.loss: Unknown loss 'hinge'. Valid losses:"),
        (
            {"initialization": "he"},
            f"{KEY}.initialization: Unknown initialization 'he'.",
        ),
        ({"learning_rate": -0.1}, f"{KEY}.learning_rate: Invalid learning rate: -0.1"),
        ({"learning_rate": "fast"}, f"{KEY}.learning_rate: Invalid learning rate:"),
        ({"batch_size": 0}, f"{KEY}.batch_size: Invalid batch_size: 0."),
        ({"epochs": 0}, f"{KEY}.epochs: Invalid epochs: 0."),
        ({"beta1": 1.0}, f"{KEY}.beta1: Invalid beta1: 1.0. beta1 must be in [0, 1)."),
        ({"beta2": -0.5}, f"{KEY}.beta2: Invalid beta2: -0.5."),
        ({"hidden_sizes": [64, None]}, f"{KEY}.hidden_sizes: Invalid hidden_sizes[1]"),
        ({"hidden_sizes": [64, ""]}, f"{KEY}.hidden_sizes: Invalid hidden_sizes[1]"),
        ({"hidden_sizes": [64.5]}, f"{KEY}.hidden_sizes: Invalid hidden_sizes[0]"),
        ({"hidden_sizes": None}, f"{KEY}.hidden_sizes: Invalid hidden_sizes: None"),
        ({"seed": None}, f"{KEY}.seed: Invalid seed: None."),
        (
            {"learnig_rate": 0.1},
            f"{KEY}.learnig_rate: unknown setting 'learnig_rate'. Did you mean "
            "'learning_rate'?",
        ),
    ],
)
def test_invalid_setting_is_named(configuration, expected):
    problems = problems_of(configuration)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize("value", [None, 1, 2, np.int64(4)])
def test_blas_threads_valid_values(value):
    assert problems_of({"blas_threads": value}) == []
    assert problems_of({}, defaults={**DEFAULTS, "blas_threads": value}) == []


@pytest.mark.parametrize("value", [True, False, 1.0, 1.5, "2", "null", 0, -1])
@pytest.mark.parametrize("owner", ["configuration", "training"])
def test_blas_threads_invalid_value_is_named(value, owner):
    if owner == "configuration":
        problems = problems_of({"blas_threads": value})
        key = f"{KEY}.blas_threads"
    else:
        problems = problems_of({}, defaults={**DEFAULTS, "blas_threads": value})
        key = "training.blas_threads"

    assert problems == [
        f"{key}: Invalid blas_threads: {value!r}. It must be an integer >= 1, or "
        "null to keep the BLAS library's own thread count."
    ]


def test_configuration_blas_threads_wins_over_shared():
    defaults = {**DEFAULTS, "blas_threads": 0}
    assert problems_of({"blas_threads": 1}, defaults=defaults) == []
    assert check_shared_settings(defaults) == [
        "training.blas_threads: Invalid blas_threads: 0. It must be an integer >= 1, "
        "or null to keep the BLAS library's own thread count."
    ]


def test_shared_setting_is_named_under_training():
    problems = problems_of({}, defaults={**DEFAULTS, "learning_rate": -0.1})
    assert problems == [
        "training.learning_rate: Invalid learning rate: -0.1. The learning rate "
        "must be a positive finite number."
    ]


def test_missing_settings_are_listed():
    defaults = {key: value for key, value in DEFAULTS.items() if key != "seed"}
    del defaults["hidden_sizes"]
    problems = problems_of({}, defaults=defaults)
    assert any(p.startswith(f"{KEY}.hidden_sizes: missing") for p in problems)
    assert any(p.startswith(f"{KEY}.seed: missing") for p in problems)


def test_batch_size_above_training_rows():
    problems = problems_of({"batch_size": 1000}, training_rows=900)
    assert problems == [
        f"{KEY}.batch_size: 1,000 is larger than the 900 training images "
        "(x_train). Use at most 900."
    ]


def test_names_differing_in_case_clash():
    problems = check_configuration_names(["Small", "small", "bad.name"])
    assert any("differs from configuration 'Small' only in case" in p for p in problems)
    assert any("invalid configuration name 'bad.name'" in p for p in problems)


def test_data_processing_values_are_listed():
    problems = check_data_processing(
        {"num_classes": 0, "validation_fraction": 1.0, "seed": -1}
    )
    assert problems == [
        "data_processing.num_classes: Invalid num_classes: 0. Expected a positive "
        "integer.",
        "data_processing.validation_fraction: Invalid validation_fraction: 1.0. "
        "Expected a number in [0, 1).",
        "data_processing.seed: Invalid seed: -1. Expected a non-negative integer.",
    ]


def test_train_node_uses_same_checks():
    x = np.zeros((10, 4), np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(10) % 2]
    with pytest.raises(ParameterError) as raised:
        train_model(x, y, x, y, x, y, DEFAULTS, {"optimizer": "adamw", "epochs": 0})
    message = str(raised.value)
    assert message.startswith("Invalid parameters:\n")
    assert "- configuration.optimizer: Unknown optimizer 'adamw'." in message
    assert "- configuration.epochs: Invalid epochs: 0." in message


@pytest.mark.slow
def test_run_lists_every_problem_before_training(project):
    code, output = run_kedro(
        project,
        "run",
        "--params",
        "configurations.Rec_2_Deep_Nadam.optimizer=adamw,"
        "training.learning_rate=-0.1,training.batch_size=100000,"
        "data_processing.validation_fraction=1.5,training.blas_threads=true,"
        "configurations.Rec_3_Light_Adam.blas_threads=0",
    )
    assert code != 0
    assert "Invalid parameters:" in output
    assert (
        "- configurations.Rec_2_Deep_Nadam.optimizer: Unknown optimizer 'adamw'. "
        "Valid optimizers: adam," in output
    )
    assert "- training.learning_rate: Invalid learning rate: -0.1" in output
    assert "- training.batch_size: 100,000 is larger than" not in output
    assert (
        "- training.blas_threads: Invalid blas_threads: True. It must be an "
        "integer >= 1, or null to keep the BLAS library's own thread count." in output
    )
    assert (
        "- configurations.Rec_3_Light_Adam.blas_threads: Invalid blas_threads: 0. "
        "It must be an integer >= 1, or null to keep the BLAS library's own thread "
        "count." in output
    )
    assert (
        "- data_processing.validation_fraction: Invalid validation_fraction: 1.5."
        in output
    )
    assert "Running node" not in output


@pytest.mark.slow
def test_run_checks_batch_size_against_x_train(project):
    code, output = run_kedro(
        project,
        "run",
        "--pipelines",
        "training",
        "--params",
        "training.batch_size=100000,configurations.Rec_1_Balanced_Adam.epochs=0",
    )
    assert code != 0
    assert (
        "- training.batch_size: 100,000 is larger than the 54,000 training images "
        "(rows of x_train). Use at most 54,000." in output
    )
    assert "- configurations.Rec_1_Balanced_Adam.epochs: Invalid epochs: 0." in output
    assert "Running node" not in output


@pytest.mark.slow
def test_reporting_run_skips_training_checks(project):
    code, output = run_kedro(
        project,
        "run",
        "--pipelines",
        "reporting",
        "--params",
        "configurations.Rec_2_Deep_Nadam.optimizer=adamw",
    )
    # The run stops because no configuration has been trained yet, not because
    # of the training parameters it does not use.
    assert code != 0
    assert "Invalid parameters" not in output
    assert "This run reads datasets that no earlier run has saved" in output


@pytest.mark.slow
def test_duplicate_configuration_is_named(project):
    parameters = project / "conf" / "base" / "parameters_training.yml"
    duplicate_line = len(parameters.read_text().splitlines()) + 1
    with parameters.open("a") as file:
        file.write("  Rec_3_Light_Adam:\n    hidden_sizes: [32]\n")
    code, output = run_kedro(project, "run", "--pipelines", "reporting")
    assert code != 0
    assert (
        f"- {parameters}, line {duplicate_line}: found duplicate key Rec_3_Light_Adam. A key may "
        "appear only once in a mapping" in output
    )
