"""Kedro hooks that stop a run early and clearly when it cannot succeed.

``SafetyHooks`` checks, before the first node runs:

- the parameter files parse, without duplicate keys;
- the parameters of every configuration the run trains, and the data_processing
  parameters when that pipeline runs, listing every invalid value in one error;
- every local output dataset's folder can be created and written.

While the run goes on, it compares the image and label counts of each raw MNIST
pair as they load. It adds the configuration name and the failed node's input
datasets to a node's error. It also turns SIGTERM into ``SystemExit``, so the
datasets' cleanup code runs and no partial file is left behind.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import signal
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from kedro.framework.hooks import hook_impl
from omegaconf import OmegaConf

import mnist_fnn.pipelines
from mnist_fnn.configurations import load_configuration_names
from mnist_fnn.fnn import TrainingDivergedError
from mnist_fnn.pipelines.data_processing.nodes import DEFAULT_VALIDATION_FRACTION
from mnist_fnn.pipelines.training.nodes import train_model
from mnist_fnn.validation import (
    CONFIGURATIONS_KEY,
    DATA_PROCESSING_KEY,
    TRAINING_KEY,
    ParameterError,
    check_configuration_names,
    check_data_processing,
    check_shared_settings,
    check_training_settings,
    raise_for_problems,
    training_rows_after_split,
)

logger = logging.getLogger(__name__)

TRAIN_NODE = "train_model"
TRAINING_FEATURES = "x_train"
RAW_TRAINING_LABELS = "mnist_train_labels"

# Image and label datasets whose lengths must match, as (images, labels).
RAW_PAIRS = (
    ("mnist_train_images", "mnist_train_labels"),
    ("mnist_test_images", "mnist_test_labels"),
)

RESTORE_HINT = "`git checkout -- data/01_raw/mnist` restores the files that ship"


class UnwritableOutputError(RuntimeError):
    """An output dataset of the run cannot be saved where the catalog puts it."""


class MissingInputError(RuntimeError):
    """A dataset the run reads has not been saved by an earlier run."""


class RawDataMismatchError(ValueError):
    """An image file and its label file have different numbers of entries."""


class SafetyHooks:
    """Check parameters, output folders and raw data before a run trains."""

    def __init__(self) -> None:
        self._raw_counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._previous_sigterm_handler: Any = None
        self._handler_installed = False

    @hook_impl
    def after_context_created(self, context) -> None:
        """Report a duplicate key in a parameter file with the file and line.

        Raises:
            ParameterError: If a parameter file has a duplicate key. OmegaConf
                rejects those without naming the file.
        """
        try:
            context.config_loader["parameters"]
        except yaml.constructor.ConstructorError as exc:
            raise ParameterError(
                _describe_duplicate_keys(context.config_loader, exc)
            ) from exc

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        """Validate parameters, inputs and output folders, then take over SIGTERM.

        Raises:
            ParameterError: Listing every invalid parameter of the run.
            MissingInputError: Listing every input that no earlier run saved.
            UnwritableOutputError: Listing every output that cannot be saved.
        """
        with self._lock:
            self._raw_counts.clear()
        runtime_params = run_params.get("runtime_params") or {}
        raise_for_problems(
            [
                *find_override_problems(runtime_params),
                *find_parameter_problems(pipeline, catalog),
            ]
        )
        warn_about_shadowed_overrides(runtime_params, pipeline, catalog)
        check_inputs_exist(pipeline, catalog)
        check_outputs_writable(pipeline, catalog)
        self._install_sigterm_handler()

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """Compare the lengths of a raw image file and its label file.

        Raises:
            RawDataMismatchError: If both of a pair have loaded and their counts
                differ. The message names both datasets and counts.
        """
        pair = next((pair for pair in RAW_PAIRS if dataset_name in pair), None)
        if pair is None or not hasattr(data, "__len__"):
            return

        with self._lock:
            self._raw_counts[dataset_name] = len(data)
            counts = [self._raw_counts.get(name) for name in pair]
        if None in counts or counts[0] == counts[1]:
            return

        (images, labels), (image_count, label_count) = pair, counts
        raise RawDataMismatchError(
            f"{images} has {image_count:,} images but {labels} has "
            f"{label_count:,} labels, and every image needs exactly one label. Use "
            f"an image file and a label file from the same release; {RESTORE_HINT} "
            "with the project."
        )

    @hook_impl
    def on_node_error(self, error: Exception, node) -> None:
        """Add the configuration and the node's input datasets to the error."""
        datasets = [name for name in node.inputs if not name.startswith("params:")]
        namespace = node.namespace
        if namespace and node.name == f"{namespace}.{TRAIN_NODE}":
            error.add_note(
                f"Configuration {namespace} failed in node {node.name}. Nodes that "
                "completed earlier in this run have saved their outputs. After the "
                f"fix, rerun it alone with `kedro run --namespaces {namespace}`."
            )
            if isinstance(error, TrainingDivergedError):
                logger.error(
                    "Configuration %s diverged at epoch %d, step %d (loss %s), so "
                    "the run stops",
                    namespace,
                    error.epoch,
                    error.step,
                    error.loss_value,
                )
        elif datasets:
            error.add_note(
                f"Node {node.name} failed on dataset(s) {', '.join(datasets)}."
            )

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore_sigterm_handler()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore_sigterm_handler()

    def _install_sigterm_handler(self) -> None:
        # Python installs signal handlers only from the main thread, so a run
        # started in another thread keeps the default SIGTERM behaviour.
        if threading.current_thread() is not threading.main_thread():
            return
        if self._handler_installed:
            return
        self._previous_sigterm_handler = signal.signal(
            signal.SIGTERM, self._handle_sigterm
        )
        self._handler_installed = True

    def _restore_sigterm_handler(self) -> None:
        if not self._handler_installed:
            return
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm_handler)
        self._handler_installed = False

    def _handle_sigterm(self, signum: int, frame: Any) -> None:
        # A second SIGTERM gets the previous handler, which by default ends the
        # process at once.
        self._restore_sigterm_handler()
        logger.warning(
            "Received SIGTERM: stopping the run. Files being saved are discarded, "
            "and saved versions are kept."
        )
        raise SystemExit(128 + signum)


def is_train_node(node) -> bool:
    """Tell whether ``node`` runs this project's ``train_model``.

    The training pipeline binds each configuration's name with
    ``functools.partial``, so the partial is unwrapped. Nodes of another project
    that shares these hooks may have the same name, so the function decides.
    """
    func = node.func
    return getattr(func, "func", func) is train_model


def find_parameter_problems(pipeline, catalog) -> list[str]:
    """List the invalid parameters of the nodes that ``pipeline`` runs.

    The training settings are checked only for the configurations whose
    ``train_model`` node is in the pipeline, and the data_processing parameters
    only when a node reads them.
    """
    problems = []
    node_inputs = {name for node in pipeline.nodes for name in node.inputs}
    data_processing = None
    if any(
        name == f"params:{DATA_PROCESSING_KEY}"
        or name.startswith(f"params:{DATA_PROCESSING_KEY}.")
        for name in node_inputs
    ):
        data_processing = _load_parameter(catalog, DATA_PROCESSING_KEY)
        problems.extend(check_data_processing(data_processing))

    # Only nodes of this project's train function take these settings; a node
    # of another project that shares these hooks may have the same name.
    train_nodes = [
        node for node in pipeline.nodes if node.namespace and is_train_node(node)
    ]
    if not train_nodes:
        return problems

    names = [node.namespace for node in train_nodes]
    problems.extend(check_configuration_names(names))
    training_rows, rows_source = _count_training_rows(
        pipeline, catalog, data_processing
    )
    defaults = _load_parameter(catalog, TRAINING_KEY)
    for name in names:
        key = f"{CONFIGURATIONS_KEY}.{name}"
        problems.extend(
            check_training_settings(
                {} if defaults is None else defaults,
                _load_parameter(catalog, key),
                configuration_key=key,
                training_rows=training_rows,
                training_rows_source=rows_source,
            )
        )
    if defaults is None:
        problems.insert(0, f"{TRAINING_KEY}: missing. Restore parameters_training.yml.")
    else:
        # A shared value that every configuration overrides is still checked, so a
        # typo in it is reported instead of ignored.
        problems.extend(check_shared_settings(defaults))
    # Configurations that inherit an invalid shared value each report it.
    return list(dict.fromkeys(problems))


def find_override_problems(runtime_params: dict[str, Any]) -> list[str]:
    """List ``--params`` entries under ``configurations`` that name no configuration.

    The pipelines are built from the configuration names in the parameter files
    before ``--params`` is read, so ``--params`` cannot add a configuration.
    """
    overrides = runtime_params.get(CONFIGURATIONS_KEY)
    if not isinstance(overrides, dict):
        return []
    known = load_configuration_names()
    return [
        f"{CONFIGURATIONS_KEY}.{name} (from --params): no such configuration, and "
        f"--params cannot add one because the pipelines are built from the "
        f"parameter files. Add {name} under {CONFIGURATIONS_KEY} in "
        f"conf/base/parameters_training.yml, or override one of: "
        f"{', '.join(known)}."
        for name in overrides
        if name not in known
    ]


def warn_about_shadowed_overrides(
    runtime_params: dict[str, Any], pipeline, catalog
) -> None:
    """Warn when a ``--params training.X`` value does not reach a configuration.

    A configuration that sets ``X`` itself keeps its own value, so the shared
    override changes nothing there.
    """
    overrides = runtime_params.get(TRAINING_KEY)
    if not isinstance(overrides, dict):
        return
    names = [
        node.namespace
        for node in pipeline.nodes
        if node.namespace and is_train_node(node)
    ]
    for setting, value in overrides.items():
        shadowing = []
        for name in names:
            configuration = _load_parameter(catalog, f"{CONFIGURATIONS_KEY}.{name}")
            if isinstance(configuration, dict) and setting in configuration:
                shadowing.append(f"{name} ({configuration[setting]!r})")
        if shadowing:
            logger.warning(
                "--params %s.%s=%s does not apply to %s, which set their own %s. "
                "Override those with --params %s.<name>.%s=%s.",
                TRAINING_KEY,
                setting,
                value,
                ", ".join(shadowing),
                setting,
                CONFIGURATIONS_KEY,
                setting,
                value,
            )


def check_inputs_exist(pipeline, catalog) -> None:
    """Raise if a dataset the pipeline reads but does not produce was never saved.

    Raises:
        MissingInputError: Naming every such dataset, so that a user who runs
            ``--pipelines reporting`` first learns to run training before it.
    """
    missing = []
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters":
            continue
        dataset = catalog.get(name)
        if dataset is None or type(dataset).__name__ == "MemoryDataset":
            continue
        if not dataset.exists():
            missing.append(name)
    if missing:
        producers = _producing_pipelines()
        advice = (
            "Run the pipelines that write them first, or `kedro run` for everything."
        )
        if producers:
            lines = [
                f"- {name} (written by `kedro run --pipelines {producers[name]}`)"
                if name in producers
                else f"- {name} (no pipeline writes it: a raw file that ships with "
                "the project, restored by `git checkout -- data/01_raw`)"
                for name in missing
            ]
        else:
            lines = [f"- {name}" for name in missing]
            advice += (
                " Raw files that ship with the project are restored by "
                "`git checkout -- data/01_raw`."
            )
        raise MissingInputError(
            "This run reads datasets that no earlier run has saved:\n"
            + "\n".join(lines)
            + "\n"
            + advice
        )


def _producing_pipelines() -> dict[str, str]:
    """Map each dataset that a registered pipeline writes to that pipeline's name.

    Each ``mnist_fnn.pipelines.<name>.pipeline`` module is imported and its
    ``create_pipeline`` called here, because ``kedro run --pipelines NAME`` makes
    Kedro's registry load only the pipelines that the run selects. The map is
    empty when a pipeline fails to build, for example without configurations.
    """
    producers = {}
    try:
        for module in pkgutil.iter_modules(mnist_fnn.pipelines.__path__):
            if not module.ispkg:
                continue
            pipeline_module = importlib.import_module(
                f"mnist_fnn.pipelines.{module.name}.pipeline"
            )
            for dataset in pipeline_module.create_pipeline().all_outputs():
                producers.setdefault(dataset, module.name)
    except Exception:
        # The map only refines the missing-input message, so a pipeline that fails
        # to build here must not replace that message with its own error.
        logger.debug("Could not map datasets to pipelines", exc_info=True)
        return {}
    return producers


def _load_parameter(catalog, key: str) -> Any:
    name = f"params:{key}"
    if name not in catalog:
        return None
    return catalog.get(name).load()


def _count_training_rows(
    pipeline, catalog, data_processing: Any
) -> tuple[int | None, str]:
    """Return the number of training images and where it comes from.

    Reads the header of the saved ``x_train`` when this run does not produce it.
    Otherwise it counts the raw training labels and subtracts the validation split
    that the data_processing parameters ask for. Returns None when neither is
    available, and the nodes then report the problem.
    """
    if TRAINING_FEATURES not in pipeline.all_outputs():
        path = _local_path(catalog.get(TRAINING_FEATURES))
        if path is not None and path.is_file():
            # mmap_mode reads only the header until the data is accessed.
            rows = np.load(path, mmap_mode="r", allow_pickle=False).shape[0]
            return rows, f"rows of {TRAINING_FEATURES}"
        return None, ""

    if not isinstance(data_processing, dict) or RAW_TRAINING_LABELS not in catalog:
        return None, ""
    try:
        labels = catalog.get(RAW_TRAINING_LABELS).load()
    except Exception:
        # The load node reports a broken raw file with its own message.
        return None, ""
    fraction = data_processing.get("validation_fraction", DEFAULT_VALIDATION_FRACTION)
    rows = training_rows_after_split(len(labels), fraction)
    source = (
        f"{len(labels):,} images in {RAW_TRAINING_LABELS} minus the validation "
        f"split of {DATA_PROCESSING_KEY}.validation_fraction {fraction}"
    )
    return rows, source


def _local_path(dataset: Any) -> Path | None:
    """Return a dataset's local file path, or None if it has none.

    Reads the ``_filepath`` and ``_protocol`` attributes that the project's and
    kedro-datasets' file datasets set.
    """
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or getattr(dataset, "_protocol", "file") != "file":
        return None
    return Path(str(filepath))


def check_outputs_writable(pipeline, catalog) -> None:
    """Check that every local output of ``pipeline`` can be saved.

    A versioned dataset saves to ``<filepath>/<version>/<file name>``, so its
    ``filepath`` is a folder to create. An unversioned one saves into the folder
    of its ``filepath``. The nearest existing ancestor of that folder must be a
    folder this process can write to.

    NOTE: ``os.access`` reports the permission bits and read-only mounts. ACLs
    on network file systems can still reject a write that it allows.

    Raises:
        UnwritableOutputError: Listing each blocking path with the datasets it
            stops.
    """
    blocked: dict[tuple[Path, str], list[str]] = defaultdict(list)
    for name in sorted(pipeline.all_outputs()):
        path = _local_path(catalog.get(name))
        if path is None:
            continue
        folder = path if getattr(catalog.get(name), "_version", None) else path.parent

        existing = folder.absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            blocked[(existing, "file")].append(name)
        elif not os.access(existing, os.W_OK | os.X_OK):
            blocked[(existing, "read-only")].append(name)

    if not blocked:
        return

    lines = []
    for (path, reason), names in blocked.items():
        listed = ", ".join(names)
        if reason == "file":
            lines.append(
                f"{path} is a file where a folder is expected, so these datasets "
                f"cannot be saved under it: {listed}. Move or delete the file."
            )
        else:
            lines.append(
                f"{path} is not writable by this user, so these datasets cannot be "
                f"saved: {listed}. Make the folder writable, for example with "
                f"`chmod u+w {path}`."
            )
    listed_lines = "\n".join(f"- {line}" for line in lines)
    raise UnwritableOutputError(
        f"Cannot save the outputs of this run, so no node was started:\n"
        f"{listed_lines}\nOr point the datasets' filepath in conf/base/catalog.yml "
        "at a writable folder."
    )


def _describe_duplicate_keys(config_loader, error: Exception) -> list[str]:
    """Find the parameter files with duplicate keys, one line per file.

    Falls back to OmegaConf's own message when no single file reproduces it.
    """
    conf_source = Path(str(config_loader.conf_source))
    environments = [config_loader.base_env, config_loader.env or "local"]
    problems = []
    for environment in dict.fromkeys(environments):
        folder = conf_source / str(environment)
        for path in sorted(folder.glob("**/parameters*.y*ml")):
            try:
                OmegaConf.load(path)
            except yaml.constructor.ConstructorError as exc:
                line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
                problems.append(
                    f"{path}, line {line}: {exc.problem}. A key may appear only once "
                    "in a mapping, so two configurations cannot share a name. Rename "
                    "or delete one of them."
                )
    return problems or [f"parameters: {error}"]
