"""`--params` overrides that could silently change nothing, and missing inputs."""

from __future__ import annotations

import pytest

from mnist_fnn.validation import check_shared_settings
from tests.conftest import copy_project
from tests.failures.conftest import run_kedro


def test_shared_settings_checked_on_their_own():
    problems = check_shared_settings({"optimizer": "adamw", "epochs": 2})

    assert len(problems) == 1
    assert problems[0].startswith(
        "training.optimizer: Unknown optimizer 'adamw'. Valid optimizers: adam,"
    )


def test_shared_settings_unknown_key():
    (problem,) = check_shared_settings({"epoch": 2})

    assert problem == (
        "training.epoch: unknown setting 'epoch'. Did you mean 'epochs'?"
    )


@pytest.mark.slow
def test_unknown_configuration_in_params(project):
    code, output = run_kedro(
        project, "run", "--params", "configurations.Rec_9.optimizer=adam"
    )

    assert code != 0
    assert (
        "- configurations.Rec_9 (from --params): no such configuration, and "
        "--params cannot add one" in output
    )
    assert (
        "override one of: Rec_1_Balanced_Adam, Rec_2_Deep_Nadam, Rec_3_Light_Adam"
        in output
    )
    assert "Running node" not in output


@pytest.mark.slow
def test_invalid_shared_value_reported_when_overridden(project):
    # Rec_2_Deep_Nadam sets its own optimizer, but the shared value is still
    # checked, so a typo there does not pass unnoticed.
    code, output = run_kedro(
        project,
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_2_Deep_Nadam",
        "--params",
        "training.optimizer=adamw",
    )

    assert code != 0
    assert "- training.optimizer: Unknown optimizer 'adamw'." in output
    assert "Running node" not in output


@pytest.mark.slow
def test_shadowed_training_override_warns(project):
    code, output = run_kedro(
        project,
        "run",
        "--pipelines",
        "training",
        "--namespaces",
        "Rec_2_Deep_Nadam",
        "--params",
        "training.optimizer=sgd,training.epochs=1",
    )

    assert code == 0, output[-3000:]
    assert (
        "--params training.optimizer=sgd does not apply to Rec_2_Deep_Nadam "
        "('nadam'), which set their own optimizer. Override those with --params "
        "configurations.<name>.optimizer=sgd." in output
    )
    assert "--params training.epochs" not in output
    assert "Rec_2_Deep_Nadam epoch 1/1:" in output


@pytest.mark.slow
def test_reporting_before_training_names_missing_inputs(tmp_path):
    project = copy_project(tmp_path / "project")

    code, output = run_kedro(project, "run", "--pipelines", "reporting")

    assert code != 0
    assert "This run reads datasets that no earlier run has saved:" in output
    assert (
        "- Rec_1_Balanced_Adam.metrics (written by `kedro run --pipelines training`)"
        in output
    )
    assert (
        "- Rec_3_Light_Adam.training_history (written by `kedro run --pipelines "
        "training`)" in output
    )
    assert "Run the pipelines that write them first" in output
    assert "Running node" not in output


@pytest.mark.slow
def test_training_first_names_data_processing(tmp_path):
    project = copy_project(tmp_path / "project")

    code, output = run_kedro(project, "run", "--pipelines", "training")

    assert code != 0
    assert "This run reads datasets that no earlier run has saved:" in output
    assert "(written by `kedro run --pipelines data_processing`)" in output
    assert "--pipelines training`)" not in output


@pytest.mark.slow
def test_missing_raw_file_points_to_git(tmp_path):
    project = copy_project(tmp_path / "project")
    (project / "data" / "01_raw" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()

    code, output = run_kedro(project, "run", "--pipelines", "data_processing")

    assert code != 0
    assert "This run reads datasets that no earlier run has saved:" in output
    assert "(no pipeline writes it: a raw file that ships with the project" in output
    assert "`git checkout -- data/01_raw`" in output


@pytest.mark.slow
def test_missing_input_message_survives_broken_pipeline(tmp_path):
    project = copy_project(tmp_path / "project")
    # Without configurations the training and reporting pipelines fail to build,
    # but this run selects only data_processing.
    (project / "conf" / "local" / "parameters_empty.yml").write_text(
        "configurations: {}\n"
    )
    (project / "data" / "01_raw" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()

    code, output = run_kedro(project, "run", "--pipelines", "data_processing")

    assert code != 0
    assert "This run reads datasets that no earlier run has saved:" in output
    assert "Raw files that ship with the project are restored by" in output
    assert "No training configurations found" not in output
