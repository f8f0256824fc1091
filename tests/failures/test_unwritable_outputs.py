"""An output folder that cannot be written stops the run before any node."""

from __future__ import annotations

import os

import pytest

from tests.failures.conftest import run_kedro


@pytest.mark.slow
def test_file_in_place_of_folder(project):
    models = project / "data" / "06_models"
    models.rmdir()
    models.write_text("not a folder")

    code, output = run_kedro(
        project, "run", "--pipelines", "training", "--namespaces", "Rec_3_Light_Adam"
    )

    assert code != 0
    assert (
        f"- {models} is a file where a folder is expected, so these datasets cannot "
        "be saved under it: Rec_3_Light_Adam.model. Move or delete the file." in output
    )
    assert "Running node" not in output


@pytest.mark.slow
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes to folders without write permission",
)
def test_read_only_folder(project):
    reporting = project / "data" / "08_reporting"
    reporting.chmod(0o555)
    try:
        code, output = run_kedro(
            project,
            "run",
            "--pipelines",
            "training",
            "--namespaces",
            "Rec_3_Light_Adam",
        )
    finally:
        reporting.chmod(0o755)

    assert code != 0
    assert f"- {reporting} is not writable by this user" in output
    assert "Running node" not in output
