"""Tests of the W&B hooks: `kedro run` of a toy project with mnist_fnn's node names.

The toy project in ``tests/wandb_toy_project`` imports mnist_fnn's settings, so these
runs use the real ``HOOKS`` and ``CONFIG_LOADER_ARGS``. Each run is a `kedro run`
subprocess with an empty home folder, so no W&B key or settings of the machine apply
and nothing is sent over the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mnist_fnn.hooks import (
    DEFAULT_PROJECT,
    INTERRUPTED_ERROR,
    INTERRUPTED_EXIT_CODE,
    WandbSettings,
    run_id_for,
)
from tests.wandb_records import OfflineRun, read_offline_runs

TOY_PROJECT = Path(__file__).parent / "wandb_toy_project"
KEDRO = Path(sys.executable).with_name("kedro")
CONFIGURATIONS = ("Rec_1_Balanced_Adam", "Rec_3_Light_Adam")
EPOCHS = 3
EPOCH_KEYS = {
    "epoch",
    "cross_entropy_loss",
    "squared_error_loss",
    "validation_loss",
    "validation_accuracy",
    "test_accuracy",
    "epoch_seconds",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    shutil.copytree(TOY_PROJECT, path)
    return path


def kedro_environment(project: Path, wandb_mode: str | None = None) -> dict[str, str]:
    """Return an environment with HOME set to an empty folder, no XDG folders, no
    W&B settings and no telemetry."""
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("WANDB_", "KEDRO_"))
        and name not in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
    }
    environment.update(
        HOME=str(home),
        NETRC=str(home / ".netrc"),
        DO_NOT_TRACK="1",
        KEDRO_DISABLE_TELEMETRY="true",
    )
    if wandb_mode is not None:
        environment["WANDB_MODE"] = wandb_mode
    return environment


def kedro_run(
    project: Path, *arguments: str, wandb_mode: str | None = None
) -> subprocess.CompletedProcess:
    """Run `kedro run` in ``project`` with no W&B credentials and no telemetry."""
    return subprocess.run(
        [str(KEDRO), "run", *arguments],
        cwd=project,
        env=kedro_environment(project, wandb_mode),
        check=False,
        capture_output=True,
        text=True,
        # Generous, because a busy 2-core machine can make a short run slow.
        timeout=600,
    )


def wandb_core_pids(parent_pid: int | None = None) -> set[int]:
    """Return the ids of the running wandb-core service processes.

    With ``parent_pid``, only the services that process started: wandb 0.31 passes
    the starting process's id to wandb-core as ``--pid <id>``.
    """
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"wandb-core" not in arguments[0]:
            continue
        if parent_pid is not None and not _has_pid_argument(arguments, parent_pid):
            continue
        pids.add(int(entry.name))
    return pids


def _has_pid_argument(arguments: list[bytes], pid: int) -> bool:
    pairs = zip(arguments, arguments[1:], strict=False)
    return (b"--pid", str(pid).encode()) in pairs


def runs_by_name(project: Path) -> dict[str, list[OfflineRun]]:
    runs: dict[str, list[OfflineRun]] = {}
    for run in read_offline_runs(project / "tracking" / "wandb"):
        runs.setdefault(run.name, []).append(run)
    return runs


def saved_metrics(project: Path, configuration: str) -> dict:
    (path,) = (project / "data" / "08_reporting" / configuration).glob(
        "metrics.json/*/metrics.json"
    )
    return json.loads(path.read_text())


def epoch_rows(run: OfflineRun) -> list[dict]:
    return [row for row in run.history if "epoch" in row]


def saved_models(project: Path, configuration: str) -> list[Path]:
    return sorted(
        (project / "data" / "06_models" / configuration).glob("model.json/*/model.json")
    )


def md5_base64(path: Path) -> str:
    """Return the file's MD5 in base64, the digest W&B records for a file entry."""
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


def check_output(result: subprocess.CompletedProcess) -> str:
    return f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"


def test_offline_run_per_configuration(project: Path):
    services_before = wandb_core_pids()

    result = kedro_run(project)

    assert result.returncode == 0, check_output(result)
    runs = runs_by_name(project)
    assert sorted(runs) == sorted(CONFIGURATIONS)
    for configuration in CONFIGURATIONS:
        (run,) = runs[configuration]
        metrics = saved_metrics(project, configuration)
        session_id = run.config["kedro"]["session_id"]
        rows = epoch_rows(run)

        assert run.exit_code == 0
        assert run.run_id == run_id_for(session_id, configuration)
        assert len(rows) == EPOCHS
        assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
        assert all(EPOCH_KEYS <= set(row) for row in rows)
        assert run.summary["test_accuracy"] == metrics["test_accuracy"]
        assert (
            run.summary["test_cross_entropy_loss"]
            == (metrics["test_cross_entropy_loss"])
        )
        assert "test_confusion_matrix_table/_type" in run.summary
        assert "loss_function_comparison_table/_type" in run.summary
        assert f"kedro-session-{session_id}" in run.tags
        assert "toy" in run.tags
        assert run.config["epochs"] == EPOCHS

        (model,) = [artifact for artifact in run.artifacts if artifact.type == "model"]
        assert model.name == f"{configuration}-model"
        (model_file,) = saved_models(project, configuration)
        (entry,) = model.manifest.contents
        assert entry.path == "model.json"
        assert entry.digest == md5_base64(model_file)
        assert entry.size == model_file.stat().st_size
        # An immutable entry refers to the saved version instead of a staging copy.
        assert Path(entry.local_path) == model_file.resolve()
        save_version = run.config["kedro"]["save_version"]
        assert json.loads(model.metadata)["kedro_save_version"] == save_version
        assert f"model-version-{save_version}" in run.tags

    # The configuration's own value wins over the shared training parameters.
    assert runs["Rec_1_Balanced_Adam"][0].config["learning_rate"] == 0.01
    assert runs["Rec_3_Light_Adam"][0].config["learning_rate"] == 0.001
    assert wandb_core_pids() - services_before == set()


def test_parallel_runner_resumes_run(project: Path):
    services_before = wandb_core_pids()

    result = kedro_run(project, "--runner", "ParallelRunner")

    assert result.returncode == 0, check_output(result)
    runs = runs_by_name(project)
    assert sorted(runs) == sorted(CONFIGURATIONS)
    for configuration in CONFIGURATIONS:
        parts = runs[configuration]
        metrics = saved_metrics(project, configuration)
        session_id = parts[0].config["kedro"]["session_id"]

        # A worker finishes the run after the train node, so the evaluate node
        # resumes it and writes a second offline folder with the same run id.
        assert len(parts) == 2
        assert {part.run_id for part in parts} == {
            run_id_for(session_id, configuration)
        }
        assert all(part.exit_code == 0 for part in parts)
        assert sum(len(epoch_rows(part)) for part in parts) == EPOCHS
        assert parts[-1].summary["test_accuracy"] == metrics["test_accuracy"]
        assert any(
            artifact.type == "model" for part in parts for artifact in part.artifacts
        )
    assert wandb_core_pids() - services_before == set()


def test_disabled_mode_writes_nothing(project: Path):
    result = kedro_run(project, wandb_mode="disabled")

    assert result.returncode == 0, check_output(result)
    assert not (project / "tracking").exists()
    assert not (project / "wandb").exists()


def test_online_without_key_fails_before_training(project: Path):
    result = kedro_run(project, wandb_mode="online")

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "WandbCredentialsError" in output
    assert "wandb login" in output
    assert "WANDB_API_KEY" in output
    assert "WANDB_MODE=offline" in output
    assert "conf/base/wandb.yml" in output
    assert "Running node" not in output
    assert not (project / "data" / "06_models").exists()


def test_failing_configuration_marked_failed(project: Path):
    result = kedro_run(
        project, "--params", "configurations.Rec_3_Light_Adam.fail_after_epoch=2"
    )

    assert result.returncode != 0
    (failed,) = runs_by_name(project)["Rec_3_Light_Adam"]
    assert failed.exit_code != 0
    assert len(epoch_rows(failed)) == 2
    assert failed.summary["error"] == "RuntimeError: Training stopped after epoch 2"


def test_model_file_not_copied_to_home(project: Path):
    home = project.parent / "home"

    result = kedro_run(project)

    assert result.returncode == 0, check_output(result)
    models = [path for name in CONFIGURATIONS for path in saved_models(project, name)]
    model_digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in models}
    copies = [
        path
        for path in home.rglob("*")
        if path.is_file()
        and hashlib.sha256(path.read_bytes()).hexdigest() in model_digests
    ]
    assert len(models) == len(CONFIGURATIONS)
    # wandb's staging folder is <data dir>/artifacts/staging, and the data dir
    # is under HOME once WANDB_DATA_DIR and XDG_DATA_HOME are unset.
    assert copies == []


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_marked_failed(project: Path, signal_number: int):
    process = subprocess.Popen(
        [
            str(KEDRO),
            "run",
            "--params",
            "training.epochs=1000,training.epoch_sleep_seconds=0.05",
        ],
        cwd=project,
        env=kedro_environment(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Kills the run if it neither logs an epoch nor exits in time.
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Toy epoch 1 logged" in line:
                break
        process.send_signal(signal_number)
        rest, _ = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
    output = "".join([*lines, rest])[-3000:]

    assert process.returncode != 0, output
    assert "Toy epoch 1000 logged" not in output
    # The first configuration's train node was interrupted, so the second never
    # started a run.
    (run,) = read_offline_runs(project / "tracking" / "wandb")
    debug_log = (run.folder / "logs" / "debug.log").read_text()
    assert run.exit_code == INTERRUPTED_EXIT_CODE, output
    assert len(epoch_rows(run)) >= 1
    assert run.summary["error"] == INTERRUPTED_ERROR
    # wandb logs this error when its service stops before the run has finished.
    assert "HandleAbandonedError" not in debug_log
    assert wandb_core_pids(process.pid) == set()


def test_settings_defaults(tmp_path: Path):
    settings = WandbSettings.from_config({}, tmp_path, environ={})

    assert settings.mode == "offline"
    assert settings.project == DEFAULT_PROJECT
    assert settings.entity is None
    assert settings.tags == ()
    assert settings.runs_folder == tmp_path.resolve() / "wandb"


def test_settings_wandb_mode_overrides(tmp_path: Path):
    settings = WandbSettings.from_config(
        {"mode": "online"}, tmp_path, environ={"WANDB_MODE": "Disabled"}
    )

    assert settings.mode == "disabled"


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        ({"mode": "dryrun"}, {}, "Invalid W&B mode 'dryrun' in wandb.yml"),
        ({}, {"WANDB_MODE": "cloud"}, "Invalid W&B mode 'cloud' in WANDB_MODE"),
        ({"tags": "nightly"}, {}, "Invalid W&B tags"),
        ({"projekt": "x"}, {}, "Unknown keys ['projekt']"),
    ],
)
def test_settings_invalid_values(tmp_path: Path, config, environ, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        WandbSettings.from_config(config, tmp_path, environ=environ)


@pytest.mark.slow
def test_mnist_project_offline_runs(tmp_path: Path):
    """Train every configuration of the real project for two epochs."""
    root = Path(__file__).parents[1]
    project = tmp_path / "project"
    shutil.copytree(
        root / "conf", project / "conf", ignore=shutil.ignore_patterns("local")
    )
    (project / "conf" / "local").mkdir()
    shutil.copytree(root / "src", project / "src")
    shutil.copytree(root / "data" / "01_raw", project / "data" / "01_raw")
    shutil.copy(root / "pyproject.toml", project)

    result = kedro_run(
        project,
        "--params",
        "training.epochs=2,configurations.Rec_3_Light_Adam.blas_threads=1",
    )

    assert result.returncode == 0, check_output(result)
    runs = read_offline_runs(project / "wandb")
    names = [run.name for run in runs]
    assert len(names) == len(set(names))
    assert names
    for run in runs:
        metrics = saved_metrics(project, run.name)
        rows = epoch_rows(run)

        assert run.exit_code == 0
        assert len(rows) == 2
        assert all(EPOCH_KEYS <= set(row) for row in rows)
        assert run.summary["test_accuracy"] == metrics["test_accuracy"]
        assert any(artifact.type == "model" for artifact in run.artifacts)
        # The W&B config is the configuration's merged parameters.
        expected_blas_threads = 1 if run.name == "Rec_3_Light_Adam" else None
        assert run.config["blas_threads"] == expected_blas_threads
