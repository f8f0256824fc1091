"""Kedro-Viz on a trained copy of the project: layers, namespaces, edges, previews.

One `kedro run --params training.epochs=1` trains the copy. The tests then read
the JSON API of `kedro viz run` and of the static site that
`kedro viz build --include-previews` writes, each served on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip(
    "kedro_viz",
    reason='kedro-viz is not installed; install it with pip install -e ".[viz]"',
)

from kedro.io.core import generate_timestamp  # noqa: E402

from mnist_fnn.datasets._previews import NOT_WRITTEN_MESSAGE  # noqa: E402
from tests.conftest import copy_project  # noqa: E402
from tests.viz_servers import (  # noqa: E402
    LOOPBACK,
    free_port,
    get_bytes,
    get_json,
    offline_environment,
    read_log,
    refusing_port,
    start_server,
    stop_server,
    wait_until_serving,
)

pytestmark = pytest.mark.slow

CONFIGURATIONS = ("Rec_1_Balanced_Adam", "Rec_2_Deep_Nadam", "Rec_3_Light_Adam")

# A subset of the layer order that Kedro's starters use, in that order.
LAYERS = ["raw", "intermediate", "model_input", "models", "reporting"]

RAW_DATASETS = (
    "mnist_train_images",
    "mnist_train_labels",
    "mnist_test_images",
    "mnist_test_labels",
)
MODEL_INPUTS = (
    "x_train",
    "y_train",
    "x_validation",
    "y_validation",
    "x_test",
    "y_test",
)
SHARED_REPORTS = ("model_comparison", "loss_curves_plot")
CONFIGURATION_TASKS = {"train_model", "evaluate_model", "plot_confusion_matrix"}
# Outputs of each configuration's namespace that other nodes or users read.
CONFIGURATION_REPORTS = ("training_history", "metrics", "confusion_matrix_plot")

EXPECTED_LAYERS = {
    **dict.fromkeys(RAW_DATASETS, "raw"),
    "train_features": "intermediate",
    "train_targets": "intermediate",
    **dict.fromkeys(MODEL_INPUTS, "model_input"),
    **{f"{name}.model": "models" for name in CONFIGURATIONS},
    **{
        f"{name}.{report}": "reporting"
        for name in CONFIGURATIONS
        for report in CONFIGURATION_REPORTS
    },
    **dict.fromkeys(SHARED_REPORTS, "reporting"),
}

# Preview type that Kedro-Viz reports for every dataset that has a file. The
# in-memory intermediate datasets and the parameters have no preview.
PREVIEW_TYPES = {
    **dict.fromkeys(RAW_DATASETS, "JSONPreview"),
    **dict.fromkeys(MODEL_INPUTS, "JSONPreview"),
    **{f"{name}.model": "JSONPreview" for name in CONFIGURATIONS},
    **{f"{name}.metrics": "JSONPreview" for name in CONFIGURATIONS},
    **{f"{name}.training_history": "TablePreview" for name in CONFIGURATIONS},
    **{f"{name}.confusion_matrix_plot": "PlotlyPreview" for name in CONFIGURATIONS},
    "model_comparison": "TablePreview",
    "loss_curves_plot": "PlotlyPreview",
}

# The configuration that gets a hand-written newer version of its history and
# metrics, so the previews must pick the latest version over the run's one.
NEWER_CONFIGURATION = "Rec_3_Light_Adam"
NEWER_EPOCHS = 12
NEWER_TEST_ACCURACY = 0.5

# Seconds allowed for each subprocess on a loaded 2-core machine.
RUN_TIMEOUT = 600
BUILD_TIMEOUT = 300
START_TIMEOUT = 120

# Kedro-Viz logs this warning for a dataset whose preview() raises.
PREVIEW_FAILURE = "could not be previewed"


@dataclass
class TrainedProject:
    """A project copy after `kedro run`, and the environment of its subprocesses."""

    path: Path
    environment: dict[str, str]


@dataclass
class VizServer:
    """A running `kedro viz run`: its address and captured output."""

    base_url: str
    log_path: Path


def reporting_folder(project: Path, dataset_file: str) -> Path:
    """Return the folder that contains the versions of a reporting dataset."""
    return project / "data" / "08_reporting" / dataset_file


def latest_version_file(folder: Path) -> Path:
    """Return the file inside the newest version folder of ``folder``."""
    latest = max(path for path in folder.iterdir() if path.is_dir())
    return latest / folder.name


def add_newer_version(project: Path) -> None:
    """Write a newer version of one configuration's history and metrics.

    The history has ``NEWER_EPOCHS`` rows, more than the 5 that kedro-datasets'
    CSVDataset.preview returns by default, and the metrics have ``NEWER_TEST_ACCURACY``.
    """
    version = generate_timestamp()

    history_folder = reporting_folder(
        project, f"{NEWER_CONFIGURATION}/training_history.csv"
    )
    history = pd.read_csv(latest_version_file(history_folder))
    longer_history = pd.concat([history] * NEWER_EPOCHS, ignore_index=True)
    longer_history["epoch"] = range(1, NEWER_EPOCHS + 1)
    (history_folder / version).mkdir()
    longer_history.to_csv(history_folder / version / history_folder.name, index=False)

    metrics_folder = reporting_folder(project, f"{NEWER_CONFIGURATION}/metrics.json")
    metrics = json.loads(latest_version_file(metrics_folder).read_text())
    metrics["test_accuracy"] = NEWER_TEST_ACCURACY
    (metrics_folder / version).mkdir()
    (metrics_folder / version / metrics_folder.name).write_text(json.dumps(metrics))


@pytest.fixture(scope="module")
def trained_project(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrainedProject]:
    """A project copy after a one-epoch `kedro run` and one newer version."""
    project = copy_project(tmp_path_factory.mktemp("viz") / "project")
    with refusing_port() as proxy_port:
        environment = offline_environment(proxy_port, WANDB_MODE="disabled")
        result = subprocess.run(
            [sys.executable, "-m", "kedro", "run", "--params", "training.epochs=1"],
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:]

        add_newer_version(project)
        yield TrainedProject(project, environment)


@contextmanager
def running_viz(
    project: Path, environment: dict[str, str], log_path: Path
) -> Iterator[VizServer]:
    """Run `kedro viz run` in ``project`` without autoreload or a browser."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "kedro",
        "viz",
        "run",
        "--no-browser",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = start_server(command, project, environment, log)
        try:
            base_url = f"http://{LOOPBACK}:{port}"
            wait_until_serving(f"{base_url}/api/main", process, log_path, START_TIMEOUT)
            yield VizServer(base_url, log_path)
        finally:
            stop_server(process)


@pytest.fixture(scope="module")
def viz_server(trained_project: TrainedProject) -> Iterator[VizServer]:
    """`kedro viz run` on the trained copy."""
    with running_viz(
        trained_project.path,
        trained_project.environment,
        trained_project.path / "kedro-viz-run.log",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def viz_main(viz_server: VizServer) -> dict[str, Any]:
    """The `/api/main` response: nodes, edges, layers and modular pipelines."""
    return get_json(f"{viz_server.base_url}/api/main")


@pytest.fixture(scope="module")
def node_details(viz_server: VizServer, viz_main: dict[str, Any]) -> dict[str, Any]:
    """The `/api/nodes/<id>` response of every dataset, by dataset name."""
    return {
        node["name"]: get_json(f"{viz_server.base_url}/api/nodes/{node['id']}")
        for node in viz_main["nodes"]
        if node["type"] == "data"
    }


def nodes_by_name(main: dict[str, Any], node_type: str) -> dict[str, dict[str, Any]]:
    """Index the nodes of one type (``data``, ``task``, ...) by name."""
    return {node["name"]: node for node in main["nodes"] if node["type"] == node_type}


def reachable(edges: list[dict[str, str]], start: str, skip: set[str]) -> set[str]:
    """Return the node ids reachable from ``start`` along ``edges``.

    Edges that touch an id in ``skip`` are left out.
    """
    children = defaultdict(set)
    for edge in edges:
        if edge["source"] not in skip and edge["target"] not in skip:
            children[edge["source"]].add(edge["target"])

    seen = {start}
    queue = deque([start])
    while queue:
        for child in children[queue.popleft()] - seen:
            seen.add(child)
            queue.append(child)
    return seen


def preview_failures(output: str) -> list[str]:
    """Return the lines of Kedro-Viz output that report a failed preview."""
    return [line.strip() for line in output.splitlines() if PREVIEW_FAILURE in line]


def check_preview(name: str, details: dict[str, Any]) -> None:
    """Assert that ``details`` has a non-empty preview of the expected type."""
    assert details.get("preview_type") == PREVIEW_TYPES[name], name
    preview = details.get("preview")
    assert preview, f"{name} has an empty preview"
    if details["preview_type"] == "JSONPreview":
        # The front end renders a JSONPreview with JSON.parse.
        assert isinstance(preview, str), name
        assert json.loads(preview), name
    else:
        assert isinstance(preview, dict), name
        assert preview["data"], name


def test_layers_follow_kedro_order(viz_main: dict[str, Any]):
    assert viz_main["layers"] == LAYERS

    datasets = nodes_by_name(viz_main, "data")
    assert set(datasets) == set(EXPECTED_LAYERS)
    for name, layer in EXPECTED_LAYERS.items():
        assert datasets[name]["layer"] == layer, name


def test_configuration_namespaces_collapse(viz_main: dict[str, Any]):
    modular_pipelines = viz_main["modular_pipelines"]
    root_children = {
        child["id"]
        for child in modular_pipelines["__root__"]["children"]
        if child["type"] == "modularPipeline"
    }
    assert root_children == set(CONFIGURATIONS)

    tasks_by_id = {
        node["id"]: node for node in viz_main["nodes"] if node["type"] == "task"
    }
    datasets = nodes_by_name(viz_main, "data")
    for name in CONFIGURATIONS:
        box = modular_pipelines[name]
        tasks = [
            tasks_by_id[child["id"]]
            for child in box["children"]
            if child["type"] == "task"
        ]
        assert {task["name"] for task in tasks} == CONFIGURATION_TASKS, name
        for task in tasks:
            assert task["full_name"] == f"{name}.{task['name']}"
            assert task["modular_pipelines"] == [name]

        # The model stays inside the box. The reports are outputs of the box,
        # because the comparison and the loss curves read them.
        child_ids = {child["id"] for child in box["children"]}
        assert datasets[f"{name}.model"]["id"] in child_ids, name
        for report in CONFIGURATION_REPORTS:
            assert datasets[f"{name}.{report}"]["id"] in box["outputs"], report
        for model_input in MODEL_INPUTS:
            assert datasets[model_input]["id"] in box["inputs"], model_input


def test_edges_lead_from_raw_data_to_reports(viz_main: dict[str, Any]):
    datasets = nodes_by_name(viz_main, "data")
    boxes = set(CONFIGURATIONS)
    targets = [
        *(
            f"{name}.{output}"
            for name in CONFIGURATIONS
            for output in ("model", *CONFIGURATION_REPORTS)
        ),
        *SHARED_REPORTS,
    ]

    # Expanded view: node to dataset to node, without the namespace boxes.
    for raw in RAW_DATASETS:
        downstream = reachable(viz_main["edges"], datasets[raw]["id"], skip=boxes)
        for target in targets:
            assert datasets[target]["id"] in downstream, f"{raw} -> {target}"

    # Collapsed view: each box takes the model inputs and gives its reports.
    edges = {(edge["source"], edge["target"]) for edge in viz_main["edges"]}
    for name in CONFIGURATIONS:
        for model_input in MODEL_INPUTS:
            assert (datasets[model_input]["id"], name) in edges, model_input
        for report in CONFIGURATION_REPORTS:
            assert (name, datasets[f"{name}.{report}"]["id"]) in edges, report


@pytest.mark.parametrize("name", sorted(PREVIEW_TYPES))
def test_dataset_has_preview(name: str, node_details: dict[str, Any]):
    check_preview(name, node_details[name])


def test_array_previews_describe_data(node_details: dict[str, Any]):
    for name, kind, shape in (
        ("mnist_train_images", "images", [60000, 28, 28]),
        ("mnist_train_labels", "labels", [60000]),
        ("mnist_test_images", "images", [10000, 28, 28]),
        ("mnist_test_labels", "labels", [10000]),
    ):
        summary = json.loads(node_details[name]["preview"])
        assert summary["kind"] == kind, name
        assert summary["shape"] == shape, name

    for name, rows, columns in (
        ("x_train", 54000, 784),
        ("y_train", 54000, 10),
        ("x_validation", 6000, 784),
        ("y_validation", 6000, 10),
        ("x_test", 10000, 784),
        ("y_test", 10000, 10),
    ):
        summary = json.loads(node_details[name]["preview"])
        assert summary["shape"] == [rows, columns], name
        assert summary["dtype"] == "float32", name
        assert summary["head"], name


def test_model_previews_show_architecture(node_details: dict[str, Any]):
    for name in CONFIGURATIONS:
        summary = json.loads(node_details[f"{name}.model"]["preview"])
        assert summary["architecture"]["input_size"] == 784, name
        assert summary["architecture"]["output_size"] == 10, name
        assert summary["parameter_count"] > 0, name
        assert summary["training_parameters"]["epochs"] == 1, name


def test_previews_show_latest_version(
    trained_project: TrainedProject, node_details: dict[str, Any]
):
    for name in CONFIGURATIONS:
        history = node_details[f"{name}.training_history"]["preview"]
        metrics = json.loads(node_details[f"{name}.metrics"]["preview"])
        on_disk = json.loads(
            latest_version_file(
                reporting_folder(trained_project.path, f"{name}/metrics.json")
            ).read_text()
        )
        assert metrics == on_disk, name
        assert "validation_accuracy" in history["columns"], name
        epochs = NEWER_EPOCHS if name == NEWER_CONFIGURATION else 1
        assert len(history["data"]) == epochs, f"{name}: rows of the history table"
        if name == NEWER_CONFIGURATION:
            assert metrics["test_accuracy"] == NEWER_TEST_ACCURACY


def test_comparison_and_plot_previews(node_details: dict[str, Any]):
    comparison = node_details["model_comparison"]["preview"]
    column = comparison["columns"].index("configuration")
    assert {row[column] for row in comparison["data"]} == set(CONFIGURATIONS)

    loss_curves = node_details["loss_curves_plot"]["preview"]
    assert {trace["name"] for trace in loss_curves["data"]} >= set(CONFIGURATIONS)
    for name in CONFIGURATIONS:
        plot = node_details[f"{name}.confusion_matrix_plot"]["preview"]
        assert plot["data"][0]["type"] == "heatmap", name
        assert "layout" in plot, name


def test_memory_datasets_have_no_preview(node_details: dict[str, Any]):
    for name in ("train_features", "train_targets"):
        assert node_details[name].get("preview") is None, name


def test_no_dataset_fails_to_preview(
    viz_server: VizServer, node_details: dict[str, Any]
):
    # node_details has requested every dataset, so every preview has run.
    assert len(node_details) == len(EXPECTED_LAYERS)
    output = viz_server.log_path.read_text(encoding="utf-8", errors="replace")
    failures = preview_failures(output)
    assert not failures, "\n".join(failures)


def test_run_status_lists_every_node(viz_server: VizServer, viz_main: dict[str, Any]):
    # Kedro-Viz's run hooks stay enabled, so `kedro run` records the status and
    # duration of every node for the workflow view.
    run_status = get_json(f"{viz_server.base_url}/api/run-status")
    task_ids = {node["id"] for node in viz_main["nodes"] if node["type"] == "task"}
    assert set(run_status["nodes"]) == task_ids
    for node_id, status in run_status["nodes"].items():
        assert status["status"] == "success", node_id
    assert run_status["pipeline"]["status"] == "success"


def test_static_build_serves_previews(trained_project: TrainedProject):
    project = trained_project.path
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
        cwd=project,
        env=trained_project.environment,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    # `kedro viz build` exits with 0 after a failure too, so the files decide.
    build = project / "build"
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (build / "index.html").is_file(), result.stdout[-4000:]
    assert (build / "api" / "main").is_file(), result.stdout[-4000:]
    failures = preview_failures(result.stdout + result.stderr)
    assert not failures, "\n".join(failures)

    port = free_port()
    log_path = project / "http-server.log"
    command = [
        sys.executable,
        "-m",
        "http.server",
        "--bind",
        LOOPBACK,
        str(port),
        "--directory",
        str(build),
    ]
    with log_path.open("wb") as log:
        process = start_server(command, project, trained_project.environment, log)
        try:
            base_url = f"http://{LOOPBACK}:{port}"
            wait_until_serving(f"{base_url}/", process, log_path, START_TIMEOUT)
            check_static_site(base_url)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nServer output:\n{read_log(log_path)}"
            ) from exc
        finally:
            stop_server(process)


def check_static_site(base_url: str) -> None:
    """Assert that the static site serves its page, assets, graph and previews."""
    index = get_bytes(f"{base_url}/").decode()
    assert '<div id="root">' in index
    # The project's .telemetry file denies consent, so no analytics script.
    assert "heapanalytics" not in index
    scripts = re.findall(r'src="\./(assets/[^"]+\.js)"', index)
    assert scripts, index
    for script in scripts:
        assert get_bytes(f"{base_url}/{script}")

    # The page fetches ./api/main, ./api/pipelines/<id> and ./api/nodes/<id>.
    main = get_json(f"{base_url}/api/main")
    assert main["layers"] == LAYERS
    assert set(CONFIGURATIONS) <= set(main["modular_pipelines"])
    assert get_json(f"{base_url}/api/pipelines/__default__")["layers"] == LAYERS

    datasets = nodes_by_name(main, "data")
    for name in PREVIEW_TYPES:
        check_preview(name, get_json(f"{base_url}/api/nodes/{datasets[name]['id']}"))


def test_untrained_project_previews_say_what_to_do(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    log_path = tmp_path / "kedro-viz-run.log"
    with refusing_port() as proxy_port:
        environment = offline_environment(proxy_port, WANDB_MODE="disabled")
        with running_viz(project, environment, log_path) as server:
            main = get_json(f"{server.base_url}/api/main")
            details = {
                node["name"]: get_json(f"{server.base_url}/api/nodes/{node['id']}")
                for node in main["nodes"]
                if node["type"] == "data"
            }

    failures = preview_failures(log_path.read_text(encoding="utf-8", errors="replace"))
    assert not failures, "\n".join(failures)
    assert NOT_WRITTEN_MESSAGE in details["x_train"]["preview"]
    assert NOT_WRITTEN_MESSAGE in details["Rec_1_Balanced_Adam.metrics"]["preview"]
    history_preview = details["Rec_1_Balanced_Adam.training_history"]["preview"]
    assert history_preview["data"] == [[NOT_WRITTEN_MESSAGE]]
    plot_preview = details["loss_curves_plot"]["preview"]
    assert plot_preview["layout"]["title"]["text"] == NOT_WRITTEN_MESSAGE
    assert json.loads(details["mnist_train_labels"]["preview"])["kind"] == "labels"
